// Package session keeps browser sessions on the server. The cookie holds
// only an opaque random id (signed and encrypted by gorilla/sessions); the
// FTP credentials stay in this process's memory and never reach the browser.
package session

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
)

// CookieName is the session cookie's name.
const CookieName = "ftpbridge"

// Session is one browser's state.
type Session struct {
	// Owner names the session's FTP connections in the pool. Unlike the
	// cookie id it does not change on renewal, so connections survive it.
	Owner string

	mu        sync.Mutex
	passwords map[string]string // site key ("ftp/alice@host:2121") -> password
	encodings map[string]string // site key -> the name encoding chosen, if not UTF-8
	lastSeen  time.Time
}

// Password returns the password stored for a site.
func (s *Session) Password(site string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.passwords[site]
	return p, ok
}

// SetPassword stores the password the person gave for a site.
func (s *Session) SetPassword(site, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.passwords[site] = password
}

// Encoding returns the name encoding chosen for a site ("" for UTF-8).
func (s *Session) Encoding(site string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.encodings[site]
}

// SetEncoding keeps the name encoding chosen for a site.
func (s *Session) SetEncoding(site, encoding string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if encoding == "" {
		delete(s.encodings, site)
		return
	}
	if s.encodings == nil {
		s.encodings = make(map[string]string)
	}
	s.encodings[site] = encoding
}

// Forget drops one site's login, or all of them when site is "".
// It returns the sites dropped.
func (s *Session) Forget(site string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var gone []string
	for k := range s.passwords {
		if site == "" || k == site {
			gone = append(gone, k)
			delete(s.passwords, k)
			delete(s.encodings, k)
		}
	}
	return gone
}

// Sites lists the sites this session is connected to, sorted.
func (s *Session) Sites() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.passwords))
	for k := range s.passwords {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Store holds every live session.
type Store struct {
	TTL      time.Duration      // a session unused this long ends
	OnExpire func(owner string) // closes the session's FTP connections
	// Secure reports whether the request reached us over TLS (directly or
	// through a trusted proxy), to set the cookie's Secure flag.
	Secure func(r *http.Request) bool

	cookies *sessions.CookieStore
	mu      sync.Mutex
	byID    map[string]*Session
}

// NewStore makes a store with fresh cookie keys: sessions live in memory,
// so a restart ends them anyway.
func NewStore(ttl time.Duration) *Store {
	return &Store{
		TTL:     ttl,
		Secure:  func(r *http.Request) bool { return r.TLS != nil },
		cookies: sessions.NewCookieStore(securecookie.GenerateRandomKey(32), securecookie.GenerateRandomKey(32)),
		byID:    make(map[string]*Session),
	}
}

func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand never fails on Linux
	return base64.RawURLEncoding.EncodeToString(b)
}

func (st *Store) cookieID(r *http.Request) string {
	// A bad or foreign cookie simply means "no session".
	cs, _ := st.cookies.Get(r, CookieName)
	id, _ := cs.Values["id"].(string)
	return id
}

// Get returns the request's session, or nil.
func (st *Store) Get(r *http.Request) *Session {
	id := st.cookieID(r)
	if id == "" {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.byID[id]
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Since(s.lastSeen) > st.TTL {
		return nil
	}
	s.lastSeen = time.Now()
	return s
}

// Renew gives the session a new id (a new one if there was none) and sets
// the cookie, so an id planted before login is worthless after it.
func (st *Store) Renew(w http.ResponseWriter, r *http.Request) (*Session, error) {
	old := st.cookieID(r)
	id := newID()
	st.mu.Lock()
	s := st.byID[old]
	if s != nil {
		delete(st.byID, old)
	} else {
		s = &Session{Owner: newID(), passwords: make(map[string]string)}
	}
	s.lastSeen = time.Now()
	st.byID[id] = s
	st.mu.Unlock()
	return s, st.writeCookie(w, r, id, st.TTL)
}

// Ensure returns the request's session, starting one if there is none, so
// that a person browsing an anonymous site also has transfers to watch.
func (st *Store) Ensure(w http.ResponseWriter, r *http.Request) (*Session, error) {
	if s := st.Get(r); s != nil {
		return s, nil
	}
	return st.Renew(w, r)
}

// Destroy ends the request's session and clears its cookie.
func (st *Store) Destroy(w http.ResponseWriter, r *http.Request) error {
	id := st.cookieID(r)
	st.mu.Lock()
	s := st.byID[id]
	delete(st.byID, id)
	st.mu.Unlock()
	if s != nil && st.OnExpire != nil {
		st.OnExpire(s.Owner)
	}
	return st.writeCookie(w, r, "", -1)
}

func (st *Store) writeCookie(w http.ResponseWriter, r *http.Request, id string, maxAge time.Duration) error {
	cs, _ := st.cookies.New(r, CookieName)
	cs.Values["id"] = id
	cs.Options = &sessions.Options{
		Path:     "/",
		MaxAge:   int(maxAge / time.Second),
		HttpOnly: true,
		Secure:   st.Secure(r),
		SameSite: http.SameSiteLaxMode,
	}
	if maxAge < 0 {
		cs.Options.MaxAge = -1
	}
	return cs.Save(r, w)
}

// Expire ends sessions unused for longer than TTL; run it periodically.
func (st *Store) Expire() {
	var owners []string
	st.mu.Lock()
	for id, s := range st.byID {
		s.mu.Lock()
		old := time.Since(s.lastSeen) > st.TTL
		s.mu.Unlock()
		if old {
			delete(st.byID, id)
			owners = append(owners, s.Owner)
		}
	}
	st.mu.Unlock()
	if st.OnExpire != nil {
		for _, o := range owners {
			st.OnExpire(o)
		}
	}
}
