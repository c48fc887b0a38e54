package handlers

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ftpbridge/ftpbridge/ftppool"
)

// failures counts tries per key (a share and a client address) in a fixed
// window: after max tries that were not given back, the key is refused
// until the window ends. Entries of ended windows are dropped as new ones
// come, so memory stays bounded by the tries of one window.
type failures struct {
	max    int
	window time.Duration
	mu     sync.Mutex
	byKey  map[string]*failureCount
}

type failureCount struct {
	n     int
	since time.Time
}

func newFailures(max int, window time.Duration) *failures {
	return &failures{max: max, window: window, byKey: make(map[string]*failureCount)}
}

// take counts one try of key, or says how long key must still wait when
// its tries are used up. A try is taken before the guess is checked, so
// that guesses sent all at once are limited too; giveBack returns it.
func (f *failures) take(key string) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	if len(f.byKey) > 10000 {
		for k, fc := range f.byKey {
			if now.Sub(fc.since) >= f.window {
				delete(f.byKey, k)
			}
		}
	}
	fc := f.byKey[key]
	if fc == nil || now.Sub(fc.since) >= f.window {
		fc = &failureCount{since: now}
		f.byKey[key] = fc
	}
	if fc.n >= f.max {
		return fc.since.Add(f.window).Sub(now)
	}
	fc.n++
	return 0
}

// count is the tries key has taken and not given back in its window.
func (f *failures) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fc := f.byKey[key]; fc != nil && time.Since(fc.since) < f.window {
		return fc.n
	}
	return 0
}

// giveBack returns a try that turned out right.
func (f *failures) giveBack(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fc := f.byKey[key]; fc != nil && fc.n > 0 {
		fc.n--
	}
}

// clientKey is what a client is counted by: its IPv4 address, or its IPv6
// /64, since one host commonly has a whole /64 to pick addresses from.
func clientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	switch {
	case err != nil:
		return ip
	case a.Unmap().Is4():
		return a.Unmap().String()
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}

// clientIP is the address a request came from: the peer, or, when the
// peer is one of -trusted-proxies, the last address it added to
// X-Forwarded-For. Nothing else a client can set is believed.
func (d *Deps) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if d.fromTrustedProxy(r) {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			hops := strings.Split(xff[len(xff)-1], ",")
			if last := strings.TrimSpace(hops[len(hops)-1]); last != "" {
				return last
			}
		}
	}
	return host
}

// LoginGate limits FTP logins through the bridge (ftppool.LoginGate), so
// that the bridge cannot be used to guess passwords. Each client address
// has ten tries a minute, and five for each user of each server; past
// them it is refused. A try is taken before the login and given back
// unless the server refused it, so tries sent all at once are limited
// too. Anonymous logins have no password to guess and are not limited.
//
// Many clients together guessing one user are slowed, not refused: past
// five failures for a server's user, from anyone, each try for that user
// waits for a slot, spaced by a delay that doubles with each failure up to
// loginMaxDelay. A client with failures of its own for that user is
// refused rather than made to wait longer than that; one without (the
// user, typing the right password) waits at most loginMaxDelay and is
// never refused, so no one can lock a user out.
//
// The server is the IP address and port the pool dialled (see ftppool's
// dial), so every spelling of one address shares one count.
type LoginGate struct {
	perClient, perTarget *failures
	perUser              *slowdown
	// OnRefused, if set, hears of every login the server refused.
	OnRefused func()
}

// Login limits: see LoginGate.
const (
	loginFreeFailures = 5 // failures of a user before tries wait
	loginFirstDelay   = 500 * time.Millisecond
	loginMaxDelay     = 10 * time.Second // under -io-timeout's default, which the login must finish in
	loginFailureTTL   = 15 * time.Minute // a user's failures are forgotten this long after the last
)

// NewLoginGate makes the bridge's login limits.
func NewLoginGate() *LoginGate {
	return &LoginGate{
		perClient: newFailures(10, time.Minute),
		perTarget: newFailures(5, time.Minute),
		perUser:   newSlowdown(loginFreeFailures, loginFirstDelay, loginMaxDelay, loginFailureTTL),
	}
}

// clientIPKey carries the request's client address to the gate through the
// pool, which knows nothing of HTTP.
type clientIPKey struct{}

// keys names the client, the server's user (ep.Host is the dialled IP),
// and the two together.
func (g *LoginGate) keys(ctx context.Context, ep ftppool.Endpoint, user string) (client, login, target string) {
	ip, _ := ctx.Value(clientIPKey{}).(string)
	client, login = clientKey(ip), ep.Addr()+" "+user
	return client, login, client + " " + login
}

// Take implements ftppool.LoginGate.
func (g *LoginGate) Take(ctx context.Context, ep ftppool.Endpoint, user string) error {
	if isAnonymous(user) {
		return nil
	}
	client, login, target := g.keys(ctx, ep, user)
	if wait := g.perClient.take(client); wait > 0 {
		return &ftppool.LoginLimitError{Wait: wait}
	}
	giveBack := func() {
		g.perClient.giveBack(client)
		g.perTarget.giveBack(target)
	}
	if wait := g.perTarget.take(target); wait > 0 {
		g.perClient.giveBack(client)
		return &ftppool.LoginLimitError{Wait: wait}
	}
	// The try just taken is not a failure: more than it is.
	own := g.perTarget.count(target) > 1
	wait, ok := g.perUser.slot(login, own)
	if !ok {
		giveBack()
		return &ftppool.LoginLimitError{Wait: wait}
	}
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			giveBack()
			return ctx.Err()
		}
	}
	return nil
}

// Done implements ftppool.LoginGate.
func (g *LoginGate) Done(ctx context.Context, ep ftppool.Endpoint, user string, giveBack bool) {
	if !giveBack && g.OnRefused != nil {
		g.OnRefused()
	}
	if isAnonymous(user) {
		return
	}
	client, login, target := g.keys(ctx, ep, user)
	if !giveBack {
		g.perUser.failed(login)
		return
	}
	g.perClient.giveBack(client)
	g.perTarget.giveBack(target)
}

// slowdown spaces the tries of a key once it has failed often: see
// LoginGate. Keys whose last failure is older than ttl are forgotten as
// new ones come, so memory stays bounded by the failures of one ttl.
type slowdown struct {
	free         int
	first, max   time.Duration
	ttl          time.Duration
	mu           sync.Mutex
	byKey        map[string]*slowState
	pruneAtCount int
}

type slowState struct {
	fails    int
	lastFail time.Time
	next     time.Time // the earliest start of the next try
}

func newSlowdown(free int, first, max, ttl time.Duration) *slowdown {
	return &slowdown{free: free, first: first, max: max, ttl: ttl, byKey: make(map[string]*slowState), pruneAtCount: 10000}
}

// slot says how long a try of key must wait. ok is false when the wait
// would be over max and the client has failures of its own (own): it is
// refused, and wait says when the queue is short again.
func (s *slowdown) slot(key string, own bool) (wait time.Duration, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	st := s.byKey[key]
	if st == nil || now.Sub(st.lastFail) >= s.ttl {
		return 0, true
	}
	if st.fails < s.free {
		return 0, true
	}
	delay := s.max
	if shift := st.fails - s.free; shift < 16 {
		delay = min(s.first<<shift, s.max)
	}
	start := now
	if st.next.After(now) {
		start = st.next
	}
	if start.Sub(now) > s.max {
		if own {
			return start.Sub(now) - s.max, false
		}
		start = now.Add(s.max)
	}
	if next := start.Add(delay); next.After(st.next) {
		st.next = next
	}
	return start.Sub(now), true
}

// failed counts a failure of key.
func (s *slowdown) failed(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if len(s.byKey) >= s.pruneAtCount {
		for k, st := range s.byKey {
			if now.Sub(st.lastFail) >= s.ttl {
				delete(s.byKey, k)
			}
		}
	}
	st := s.byKey[key]
	if st == nil || now.Sub(st.lastFail) >= s.ttl {
		st = &slowState{}
		s.byKey[key] = st
	}
	st.fails++
	st.lastFail = now
}

func isAnonymous(user string) bool {
	return strings.EqualFold(user, "anonymous") || strings.EqualFold(user, "ftp")
}

// withClientIP puts the client's address in the request's context, for
// the login gate.
func (d *Deps) withClientIP(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		c.SetRequest(r.WithContext(context.WithValue(r.Context(), clientIPKey{}, d.clientIP(r))))
		return next(c)
	}
}

// walkSlots limits the walks (count, recursive delete, zip) each client
// runs at once. One walk is bounded by the walk budget; the slots bound how
// many budgets one client can spend, since a hostile FTP server can make
// every walk cost its whole budget. Entries go when their last walk ends,
// so memory stays bounded by the walks running.
type walkSlots struct {
	max      int // 0: no limit
	mu       sync.Mutex
	byClient map[string]int
}

func newWalkSlots(max int) *walkSlots {
	return &walkSlots{max: max, byClient: make(map[string]int)}
}

// take counts a walk of client, or says no when client runs max already.
// release ends it.
func (s *walkSlots) take(client string) (release func(), ok bool) {
	if s == nil { // Deps built without New, as unit tests do
		return func() {}, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.max > 0 && s.byClient[client] >= s.max {
		return nil, false
	}
	s.byClient[client]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.byClient[client]--; s.byClient[client] <= 0 {
				delete(s.byClient, client)
			}
		})
	}, true
}

// walkRetry is the Retry-After of a refused walk: walks take seconds to
// minutes, so sooner would only be refused again.
const walkRetry = 10 * time.Second

// startWalk takes one of the client's walk slots for a request that walks a
// folder tree; 429 when they are all in use.
func (d *Deps) startWalk(c echo.Context) (release func(), err error) {
	release, ok := d.walks.take(clientKey(d.clientIP(c.Request())))
	if !ok {
		return nil, &httpError{Status: http.StatusTooManyRequests, retryAfter: walkRetry,
			Msg: fmt.Sprintf("You have %d requests going through folder trees (counts, zips, deletes of folders) running already, the most the bridge runs at once for one client. Try again when one has finished.", d.walks.max)}
	}
	return release, nil
}
