package ftppool

import (
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// metaFresh is how long a file's remembered time may stand in for MDTM,
// unless Config.MetaFresh says otherwise.
// Only the time is remembered: the size always comes from the transfer's
// own 150 reply, so a response never pairs an old size with new bytes. A
// file rewritten to the same size by someone other than the bridge within
// this window is sent with its previous Last-Modified and ETag, which a
// later conditional request (always asked afresh) corrects.
const metaFresh = 2 * time.Second

// metaCache remembers files' sizes and times per server and user, from the
// lookups of whole-file downloads, so that the next download of the same
// file within a moment (metaFresh) asks the server nothing but EPSV and RETR: the
// same as a client that serves metadata from a directory cache, without
// ever serving a stale size. The bridge's own writes to a server drop all
// it knows of that server.
type metaCache struct {
	ttl     time.Duration
	mu      sync.Mutex
	servers map[string]*serverMeta // by host:port
}

type serverMeta struct {
	// announces: the server's 150 reply to RETR was seen to name the
	// file's size ("(1024 bytes)", as vsftpd and proftpd say).
	announces bool
	gen       uint64 // counts the bridge's writes, so a lookup that raced one is not kept
	files     map[metaKey]metaEntry
}

type metaKey struct{ user, path string }

type metaEntry struct {
	size int64
	mod  time.Time
	at   time.Time
}

func (m *metaCache) server(addr string) *serverMeta {
	if m.servers == nil {
		m.servers = map[string]*serverMeta{}
	}
	s := m.servers[addr]
	if s == nil {
		s = &serverMeta{files: map[metaKey]metaEntry{}}
		m.servers[addr] = s
	}
	return s
}

// fresh returns what is known of path, if the server announces sizes and
// the entry is younger than the cache's ttl.
func (m *metaCache) fresh(k poolKey, path string) (metaEntry, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.server(k.ep.Addr())
	e, ok := s.files[metaKey{k.user, path}]
	if !ok || !s.announces || time.Since(e.at) >= m.ttl {
		return metaEntry{}, false
	}
	return e, true
}

// generation is the server's count of writes, to pass to remember.
func (m *metaCache) generation(k poolKey) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.server(k.ep.Addr()).gen
}

// remember keeps a lookup of path whose RETR announced the same size,
// unless the bridge wrote to the server since gen; it also learns that the
// server announces sizes.
func (m *metaCache) remember(k poolKey, path string, gen uint64, size int64, mod time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.server(k.ep.Addr())
	s.announces = true
	if s.gen != gen || mod.IsZero() {
		return
	}
	now := time.Now()
	for key, e := range s.files {
		// Entries are short-lived: sweeping on the way in keeps the map
		// to the files of the last few seconds.
		if now.Sub(e.at) >= m.ttl {
			delete(s.files, key)
		}
	}
	s.files[metaKey{k.user, path}] = metaEntry{size: size, mod: mod, at: now}
}

// forgetFile drops what is known of one file: it changed.
func (m *metaCache) forgetFile(k poolKey, path string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.server(k.ep.Addr()).files, metaKey{k.user, path})
}

// forget drops what is known of the server's files: the bridge wrote to it.
func (m *metaCache) forget(k poolKey) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.server(k.ep.Addr())
	s.gen++
	clear(s.files)
}

// sizeSaid matches the end of a 150 reply that names the transfer's size:
// "150 Opening BINARY mode data connection for /a/b.txt (1024 bytes)."
var sizeSaid = regexp.MustCompile(`^(.*) \((\d+) bytes\)\.?$`)

// announcedSize is the size the server's reply to "RETR arg" gave, or -1.
// The text before the size must end with arg, as the servers that say it
// write it: a name that itself ends in "(5 bytes)" then cannot pass for the
// size on a server that names the file without one.
func announcedSize(replies []byte, arg string) int64 {
	for line := range strings.SplitSeq(string(replies), "\n") {
		line = strings.TrimRight(line, "\r ")
		if !strings.HasPrefix(line, "150 ") && !strings.HasPrefix(line, "125 ") {
			continue
		}
		m := sizeSaid.FindStringSubmatch(line[4:])
		if m == nil || !strings.HasSuffix(m[1], arg) {
			continue
		}
		if n, err := strconv.ParseInt(m[2], 10, 64); err == nil {
			return n
		}
	}
	return -1
}
