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
	modes     map[string]string // site key -> the transfer mode chosen, if not automatic
	lastSeen  time.Time
	sockets   int           // transfer sockets open
	ended     chan struct{} // closed when the store lets go of the session
}

func newSession() *Session {
	return &Session{Owner: newID(), passwords: make(map[string]string), ended: make(chan struct{})}
}

// Ended is closed when the session ends (expired, evicted or logged out),
// so that its open sockets can close too.
func (s *Session) Ended() <-chan struct{} { return s.ended }

// OpenSocket counts a transfer socket of the session, or refuses it when
// max are open already (max <= 0: no limit). Call the release it returns
// when the socket closes.
func (s *Session) OpenSocket(max int) (release func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if max > 0 && s.sockets >= max {
		return nil, false
	}
	s.sockets++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.sockets--
			s.mu.Unlock()
		})
	}, true
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

// Mode returns the transfer mode chosen for a site ("" for automatic).
func (s *Session) Mode(site string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.modes[site]
}

// SetMode keeps the transfer mode chosen for a site; "" and "auto" are
// automatic.
func (s *Session) SetMode(site, mode string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if mode == "" || mode == "auto" {
		delete(s.modes, site)
		return
	}
	if s.modes == nil {
		s.modes = make(map[string]string)
	}
	s.modes[site] = mode
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
			delete(s.modes, k)
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
	TTL time.Duration // a session with logins, unused this long, ends
	// BareTTL is the same for a session without logins, which costs a
	// stranger nothing to make and so must not linger.
	BareTTL time.Duration
	// Max bounds the sessions kept (0: no bound). A new one past it
	// pushes out the least recently used session without logins, or, if
	// every one has logins, the least recently used of all.
	Max      int
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
		BareTTL: min(ttl, DefaultBareTTL),
		Secure:  func(r *http.Request) bool { return r.TLS != nil },
		cookies: sessions.NewCookieStore(securecookie.GenerateRandomKey(32), securecookie.GenerateRandomKey(32)),
		byID:    make(map[string]*Session),
	}
}

// DefaultBareTTL is how long a session without logins lives unused.
const DefaultBareTTL = 30 * time.Minute

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
	now := time.Now()
	if st.staleLocked(s, now) {
		return nil
	}
	s.lastSeen = now
	return s
}

// staleLocked reports a session unused for longer than its kind may be;
// s.mu is held.
func (st *Store) staleLocked(s *Session, now time.Time) bool {
	ttl := st.TTL
	if len(s.passwords) == 0 {
		ttl = min(ttl, st.BareTTL)
	}
	return now.Sub(s.lastSeen) > ttl
}

// Touch marks the session used, as a request with its cookie would: an
// open transfer socket keeps its page's session alive.
func (st *Store) Touch(s *Session) {
	s.mu.Lock()
	s.lastSeen = time.Now()
	s.mu.Unlock()
}

// Len is the number of sessions kept, stale ones included until Expire.
func (st *Store) Len() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.byID)
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
		s.mu.Lock()
		s.lastSeen = time.Now()
		s.mu.Unlock()
		st.byID[id] = s
		st.mu.Unlock()
	} else {
		st.mu.Unlock()
		s = newSession()
		st.add(id, s)
	}
	return s, st.writeCookie(w, r, id, st.TTL)
}

// Ensure returns the request's session, starting one if there is none.
// Only for what needs a session to go on with (a login, a state change, a
// transfer socket): a stranger's plain GET must leave nothing behind.
func (st *Store) Ensure(w http.ResponseWriter, r *http.Request) (*Session, error) {
	if s := st.Get(r); s != nil {
		return s, nil
	}
	return st.Renew(w, r)
}

// Begin starts a session whose cookie goes in h but which is kept only
// once keep is called: a WebSocket handshake writes its own response from
// h, and a handshake that fails must leave no session behind.
func (st *Store) Begin(r *http.Request, h http.Header) (s *Session, keep func(), err error) {
	id := newID()
	s = newSession()
	if err := st.writeCookie(headerWriter(h), r, id, st.TTL); err != nil {
		return nil, nil, err
	}
	return s, func() { st.add(id, s) }, nil
}

// headerWriter is a ResponseWriter that only takes headers, for cookies
// bound for a response written by someone else.
type headerWriter http.Header

func (h headerWriter) Header() http.Header         { return http.Header(h) }
func (h headerWriter) Write(b []byte) (int, error) { return len(b), nil }
func (h headerWriter) WriteHeader(int)             {}

// add keeps a new session, pushing out others past Max.
func (st *Store) add(id string, s *Session) {
	now := time.Now()
	s.mu.Lock()
	s.lastSeen = now
	s.mu.Unlock()
	var gone []*Session
	st.mu.Lock()
	if st.Max > 0 && len(st.byID) >= st.Max {
		gone = st.expireLocked(now)
		for len(st.byID) >= st.Max {
			victim := st.victimLocked()
			gone = append(gone, st.byID[victim])
			delete(st.byID, victim)
		}
	}
	st.byID[id] = s
	st.mu.Unlock()
	st.ended(gone)
}

// victimLocked picks the session to push out: the least recently used
// without logins, else the least recently used of all. A scan, which at
// the tens of thousands of sessions Max allows costs far less than the
// request that asked for a new session; st.mu is held.
func (st *Store) victimLocked() string {
	var victim string
	var vBare bool
	var vSeen time.Time
	for id, s := range st.byID {
		s.mu.Lock()
		bare, seen := len(s.passwords) == 0, s.lastSeen
		s.mu.Unlock()
		if victim == "" || bare && !vBare || bare == vBare && seen.Before(vSeen) {
			victim, vBare, vSeen = id, bare, seen
		}
	}
	return victim
}

// ended tells of sessions let go: their sockets close, their FTP
// connections too.
func (st *Store) ended(gone []*Session) {
	for _, s := range gone {
		close(s.ended)
		if st.OnExpire != nil {
			st.OnExpire(s.Owner)
		}
	}
}

// Destroy ends the request's session and clears its cookie.
func (st *Store) Destroy(w http.ResponseWriter, r *http.Request) error {
	id := st.cookieID(r)
	st.mu.Lock()
	s := st.byID[id]
	delete(st.byID, id)
	st.mu.Unlock()
	if s != nil {
		st.ended([]*Session{s})
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

// Expire ends sessions unused for longer than their TTL; run it
// periodically.
func (st *Store) Expire() {
	st.mu.Lock()
	gone := st.expireLocked(time.Now())
	st.mu.Unlock()
	st.ended(gone)
}

// expireLocked drops stale sessions and returns them; st.mu is held.
func (st *Store) expireLocked(now time.Time) []*Session {
	var gone []*Session
	for id, s := range st.byID {
		s.mu.Lock()
		old := st.staleLocked(s, now)
		s.mu.Unlock()
		if old {
			delete(st.byID, id)
			gone = append(gone, s)
		}
	}
	return gone
}
