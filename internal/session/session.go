// Package session keeps browser sessions on the server. The cookie holds
// only an opaque random id (signed and encrypted by gorilla/sessions); the
// session's record, with the FTP passwords sealed, lives in a Records
// store (in memory unless another is given) and never reaches the browser.
package session

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/sessions"

	"github.com/ftpbridge/ftpbridge/internal/seal"
)

// CookieName is the session cookie's name.
const CookieName = "ftpbridge"

// DefaultBareTTL is how long a session without logins lives unused.
const DefaultBareTTL = 30 * time.Minute

// Options configure a Store.
type Options struct {
	// Limits: BareTTL 0 is min(TTL, DefaultBareTTL).
	Limits
	Records Records // nil: in this process's memory
	// Secure reports whether the request reached us over TLS (directly or
	// through a trusted proxy), to set the cookie's Secure flag; nil
	// believes only a direct TLS connection.
	Secure func(r *http.Request) bool
	// OnExpire runs for every session that ends here (expired, pushed
	// out or logged out), to close its FTP connections.
	OnExpire func(owner string)
	Logger   *slog.Logger // nil: slog.Default()
}

// Store is the sessions: the cookie that names one, its record in a
// Records store, and what this process holds for it (open sockets).
type Store struct {
	limits   Limits
	records  Records
	sealer   *seal.Sealer
	secure   func(r *http.Request) bool
	onExpire func(owner string)
	logger   *slog.Logger
	cookies  *sessions.CookieStore
	now      func() time.Time // time.Now, but for tests

	down atomic.Bool // the records store failed last time: logged once per outage

	mu   sync.Mutex
	live map[string]*live // by owner, while a socket is open or awaits the end
}

// live is what this process holds for a session: it cannot be shared
// with another bridge, so it stays out of the record.
type live struct {
	sockets int           // transfer sockets open
	ended   chan struct{} // closed when the session ends
}

// NewStore makes a store whose records' passwords sealer seals. The
// cookie's keys are derived from the sealer's key, so that every bridge
// reading the same key file reads every other's cookies.
func NewStore(sealer *seal.Sealer, o Options) *Store {
	if o.BareTTL == 0 {
		o.BareTTL = min(o.TTL, DefaultBareTTL)
	}
	if o.Records == nil {
		o.Records = NewMemory()
	}
	if o.Secure == nil {
		o.Secure = func(r *http.Request) bool { return r.TLS != nil }
	}
	if o.OnExpire == nil {
		o.OnExpire = func(string) {}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Store{
		limits:   o.Limits,
		records:  o.Records,
		sealer:   sealer,
		secure:   o.Secure,
		onExpire: o.OnExpire,
		logger:   o.Logger,
		cookies:  sessions.NewCookieStore(sealer.Derive("ftpbridge session cookie mac"), sealer.Derive("ftpbridge session cookie aes")),
		now:      time.Now,
		live:     make(map[string]*live),
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

// record returns the live record the request's cookie names, or nil.
func (st *Store) record(r *http.Request) (*Record, error) {
	id := st.cookieID(r)
	if id == "" {
		return nil, nil
	}
	rec, err := st.records.Get(r.Context(), id)
	if err != nil {
		return nil, fmt.Errorf("read the session: %w: %w", ErrUnavailable, err)
	}
	if rec == nil || st.limits.Stale(rec, st.now()) {
		return nil, nil
	}
	return rec, nil
}

// ErrUnavailable is a session store that does not answer (-database
// down): the request's session, if it has one, cannot be known.
var ErrUnavailable = errors.New("the session store does not answer")

// Lookup returns the request's session, nil if it has none, or an error
// wrapping ErrUnavailable when the store fails.
func (st *Store) Lookup(r *http.Request) (*Session, error) {
	rec, err := st.record(r)
	if err == nil && rec != nil && st.now().Sub(rec.LastSeen) >= st.touchEvery() {
		if err = st.records.Touch(r.Context(), rec.Owner, st.now()); err != nil {
			err = fmt.Errorf("mark the session used: %w: %w", ErrUnavailable, err)
		}
	}
	if err != nil {
		if !st.down.Swap(true) {
			st.logger.Error("session store does not answer: requests that need a session get 503 until it does", "err", err)
		}
		return nil, err
	}
	if st.down.Swap(false) {
		st.logger.Info("session store answers again")
	}
	if rec == nil {
		return nil, nil
	}
	return st.session(rec), nil
}

// Get is Lookup for what can go on without a session: a store that fails
// reads as no session (logged once per outage).
func (st *Store) Get(r *http.Request) *Session {
	s, _ := st.Lookup(r)
	return s
}

// touchEvery is how stale a record's LastSeen may grow before a request
// renews it. Marking it on every request would be a database write per
// request (-database) for a precision no TTL needs: a session may end this
// much before its TTL after its last use, a thirtieth of the bare TTL's
// 30 minutes.
func (st *Store) touchEvery() time.Duration {
	return min(time.Minute, st.limits.BareTTL/10)
}

func (st *Store) session(rec *Record) *Session {
	return &Session{Owner: rec.Owner, sites: rec.Sites, st: st}
}

// Touch marks the session used, as a request with its cookie would: an
// open transfer socket keeps its page's session alive. A failure is only
// logged: the socket goes on, and the session lives on until its TTL.
func (st *Store) Touch(s *Session) {
	if err := st.records.Touch(context.Background(), s.Owner, st.now()); err != nil {
		st.logger.Error("session store: touch", "err", err)
	}
}

// Len is the number of sessions kept, stale ones included until Expire;
// 0 if the store fails (logged).
func (st *Store) Len() int {
	n, err := st.records.Len(context.Background())
	if err != nil {
		st.logger.Error("session store: count", "err", err)
	}
	return n
}

// Renew gives the session a new id (a new one if there was none) and sets
// the cookie, so an id planted before login is worthless after it.
func (st *Store) Renew(w http.ResponseWriter, r *http.Request) (*Session, error) {
	rec, err := st.record(r)
	if err != nil {
		return nil, err
	}
	id := newID()
	if rec != nil {
		if err := st.records.Renew(r.Context(), rec.Owner, id, st.now()); err != nil {
			return nil, fmt.Errorf("renew the session: %w: %w", ErrUnavailable, err)
		}
	} else {
		rec = st.newRecord(id)
		if err := st.add(r.Context(), rec); err != nil {
			return nil, err
		}
	}
	return st.session(rec), st.writeCookie(w, r, id, st.limits.TTL)
}

func (st *Store) newRecord(id string) *Record {
	now := st.now()
	return &Record{ID: id, Owner: newID(), Created: now, LastSeen: now}
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

// Begin starts a session whose cookie goes in h, for a WebSocket
// handshake, which writes its own response from h. The session is kept at
// once, before the response goes out, so that the client's next request
// finds it; a handshake that fails must leave no session behind, so call
// drop then.
func (st *Store) Begin(r *http.Request, h http.Header) (s *Session, drop func(), err error) {
	rec := st.newRecord(newID())
	if err := st.writeCookie(headerWriter(h), r, rec.ID, st.limits.TTL); err != nil {
		return nil, nil, err
	}
	ctx := context.WithoutCancel(r.Context())
	if err := st.add(ctx, rec); err != nil {
		return nil, nil, fmt.Errorf("keep the session: %w", err)
	}
	drop = func() {
		if _, err := st.records.Delete(ctx, rec.Owner); err != nil {
			st.logger.Error("session store", "err", err)
		}
	}
	return st.session(rec), drop, nil
}

// headerWriter is a ResponseWriter that only takes headers, for cookies
// bound for a response written by someone else.
type headerWriter http.Header

func (h headerWriter) Header() http.Header         { return http.Header(h) }
func (h headerWriter) Write(b []byte) (int, error) { return len(b), nil }
func (h headerWriter) WriteHeader(int)             {}

// add keeps a new session, pushing out others past Max.
func (st *Store) add(ctx context.Context, rec *Record) error {
	rec.LastSeen = st.now()
	dropped, err := st.records.Add(ctx, rec, st.limits)
	st.ended(dropped)
	if err != nil {
		return fmt.Errorf("keep a new session: %w: %w", ErrUnavailable, err)
	}
	return nil
}

// ended tells of sessions let go: their sockets close, their FTP
// connections too.
func (st *Store) ended(owners []string) {
	for _, owner := range owners {
		st.closeSockets(owner)
		st.onExpire(owner)
	}
}

// EndedElsewhere closes this process's sockets of a session that another
// bridge ended (its record is gone from the shared store already). It does
// not run OnExpire, which told the others.
func (st *Store) EndedElsewhere(owner string) { st.closeSockets(owner) }

// closeSockets tells this process's sockets of a session that it ended.
func (st *Store) closeSockets(owner string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if l := st.live[owner]; l != nil {
		close(l.ended)
		delete(st.live, owner)
	}
}

// Destroy ends the request's session and clears its cookie.
func (st *Store) Destroy(w http.ResponseWriter, r *http.Request) error {
	// A stale record goes too: Expire would drop it anyway.
	if id := st.cookieID(r); id != "" {
		rec, err := st.records.Get(r.Context(), id)
		if err != nil {
			return fmt.Errorf("read the session: %w: %w", ErrUnavailable, err)
		}
		if rec != nil {
			gone, err := st.records.Delete(r.Context(), rec.Owner)
			if err != nil {
				return fmt.Errorf("end the session: %w", err)
			}
			if gone {
				st.ended([]string{rec.Owner})
			}
		}
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
		Secure:   st.secure(r),
		SameSite: http.SameSiteLaxMode,
	}
	if maxAge < 0 {
		cs.Options.MaxAge = -1
	}
	return cs.Save(r, w)
}

// Expire ends sessions unused for longer than their TTL; run it
// periodically.
func (st *Store) Expire(ctx context.Context) error {
	gone, err := st.records.Expire(ctx, st.now(), st.limits)
	st.ended(gone)
	if err != nil {
		return fmt.Errorf("expire sessions: %w", err)
	}
	return nil
}

// Session is one browser's session as a request found it: its logins as
// they were then, and what it changes goes to the store at once. It is
// that request's: only OpenSocket, Ended and Store.Touch may be used from
// other goroutines.
type Session struct {
	// Owner names the session's FTP connections in the pool. Unlike the
	// cookie id it does not change on renewal, so connections survive it.
	Owner string

	sites map[string]Site // this request's copy
	st    *Store
	live  *live // once OpenSocket or Ended asked; st.mu guards it
}

// Login is what a person chose for a site when logging in.
type Login struct {
	Password string
	Encoding string // the name encoding, "" for UTF-8
	Mode     string // the transfer mode, "" or "auto" for automatic
}

// sealContext binds a sealed password to its session and site: copied
// into another session's record, or to another site, it does not open.
// Share contexts start with a share id, never "session".
func sealContext(owner, site string) string {
	return "session\x00" + owner + "\x00" + site
}

// Password returns the password stored for a site. One that does not open
// (sealed for another session or site) counts as none, so the person is
// asked to log in again.
func (s *Session) Password(site string) (string, bool) {
	l, ok := s.sites[site]
	if !ok {
		return "", false
	}
	p, err := s.st.sealer.Open(sealContext(s.Owner, site), l.Password)
	if err != nil {
		s.st.logger.Warn("session password does not open", "site", site, "err", err)
		return "", false
	}
	return p, true
}

// SetLogin keeps the login the person gave for a site, with its password
// sealed.
func (s *Session) SetLogin(ctx context.Context, site string, l Login) error {
	if l.Mode == "auto" {
		l.Mode = ""
	}
	v := Site{Password: s.st.sealer.Seal(sealContext(s.Owner, site), l.Password), Encoding: l.Encoding, Mode: l.Mode}
	if err := s.st.records.SetSite(ctx, s.Owner, site, v); err != nil {
		return fmt.Errorf("keep the login in the session: %w", err)
	}
	if s.sites == nil {
		s.sites = make(map[string]Site)
	}
	s.sites[site] = v
	return nil
}

// Encoding returns the name encoding chosen for a site ("" for UTF-8).
func (s *Session) Encoding(site string) string { return s.sites[site].Encoding }

// Mode returns the transfer mode chosen for a site ("" for automatic).
func (s *Session) Mode(site string) string { return s.sites[site].Mode }

// Forget drops one site's login, or all of them when site is "".
// It returns the sites dropped.
func (s *Session) Forget(ctx context.Context, site string) ([]string, error) {
	gone, err := s.st.records.Forget(ctx, s.Owner, site)
	if err != nil {
		return nil, fmt.Errorf("forget a login of the session: %w", err)
	}
	forgetSites(s.sites, site)
	return gone, nil
}

// Sites lists the sites this session is connected to, sorted.
func (s *Session) Sites() []string {
	out := make([]string, 0, len(s.sites))
	for k := range s.sites {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// liveLocked is what this process holds for the session, made on first
// use; st.mu is held.
func (s *Session) liveLocked() *live {
	if s.live == nil {
		s.live = s.st.live[s.Owner]
		if s.live == nil {
			s.live = &live{ended: make(chan struct{})}
			s.st.live[s.Owner] = s.live
		}
	}
	return s.live
}

// Ended is closed when the session ends (expired, evicted or logged out)
// here, so that its open sockets can close too; it is for the holder of
// an OpenSocket.
func (s *Session) Ended() <-chan struct{} {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	return s.liveLocked().ended
}

// OpenSocket counts a transfer socket of the session, or refuses it when
// max are open already (max <= 0: no limit). Call the release it returns
// when the socket closes.
func (s *Session) OpenSocket(max int) (release func(), ok bool) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	l := s.liveLocked()
	if max > 0 && l.sockets >= max {
		return nil, false
	}
	l.sockets++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.st.mu.Lock()
			defer s.st.mu.Unlock()
			l.sockets--
			// Only sockets wait for the end: with the last one
			// gone, nothing here needs to hear of it.
			if l.sockets == 0 && s.st.live[s.Owner] == l {
				delete(s.st.live, s.Owner)
			}
		})
	}, true
}
