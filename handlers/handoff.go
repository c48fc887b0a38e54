package handlers

import (
	"crypto/rand"
	"sync"
	"time"

	"github.com/ftpbridge/ftpbridge/access"
	"github.com/ftpbridge/ftpbridge/ftppool"
)

// handoff keeps the listing a big folder's page was made from for a few
// seconds, for the page's script to take once, by an unguessable token, as
// the folder's JSON (?listing=token), instead of listing the folder again:
// for 100,000 entries a listing takes more than a second. The script gets
// exactly the entries the page was made from. A token is good for the
// site, login and folder it was made for only.
type handoff struct {
	mu    sync.Mutex
	items map[string]handoffItem
	seq   uint64 // puts so far: the smallest seq is the oldest
}

type handoffItem struct {
	key     string
	folder  ftppool.Folder
	expires time.Time
	seq     uint64
}

const (
	handoffTTL = 30 * time.Second
	handoffMax = 4 // listings kept at once: each can be big
)

// handoffKey names what a token is good for.
func handoffKey(t *access.Target) string {
	key := t.Site.Scheme + "://" + t.Site.String() + "\x00" + t.Login.User + "\x00" + t.Path
	if t.Share != nil {
		key = "share " + t.Share.ID + "\x00" + key
	}
	return key
}

// put keeps folder for key and returns its token.
func (h *handoff) put(key string, folder ftppool.Folder) string {
	token := rand.Text()
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.items == nil {
		h.items = make(map[string]handoffItem)
	}
	oldest := ""
	for tok, it := range h.items {
		if now.After(it.expires) {
			delete(h.items, tok)
		} else if oldest == "" || it.seq < h.items[oldest].seq {
			oldest = tok
		}
	}
	if len(h.items) >= handoffMax {
		delete(h.items, oldest)
	}
	h.seq++
	h.items[token] = handoffItem{key: key, folder: folder, expires: now.Add(handoffTTL), seq: h.seq}
	return token
}

// take gives the listing kept under token for key, once.
func (h *handoff) take(token, key string) (ftppool.Folder, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	it, ok := h.items[token]
	if !ok || it.key != key || time.Now().After(it.expires) {
		return ftppool.Folder{}, false
	}
	delete(h.items, token)
	return it.folder, true
}
