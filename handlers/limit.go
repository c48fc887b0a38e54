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
// that the bridge cannot be used to guess passwords: each client address
// has ten tries a minute, and each user of each server five, whatever the
// address. A try is taken before the login and given back unless the
// server refused it, so tries sent all at once are limited too. Anonymous
// logins have no password to guess and are not limited.
type LoginGate struct {
	perClient, perUser *failures
	// OnRefused, if set, hears of every login the server refused.
	OnRefused func()
}

// NewLoginGate makes the bridge's login limits.
func NewLoginGate() *LoginGate {
	return &LoginGate{perClient: newFailures(10, time.Minute), perUser: newFailures(5, time.Minute)}
}

// clientIPKey carries the request's client address to the gate through the
// pool, which knows nothing of HTTP.
type clientIPKey struct{}

func (g *LoginGate) keys(ctx context.Context, ep ftppool.Endpoint, user string) (client, login string) {
	ip, _ := ctx.Value(clientIPKey{}).(string)
	return clientKey(ip), ep.Addr() + " " + user
}

// Take implements ftppool.LoginGate.
func (g *LoginGate) Take(ctx context.Context, ep ftppool.Endpoint, user string) error {
	if isAnonymous(user) {
		return nil
	}
	client, login := g.keys(ctx, ep, user)
	if wait := g.perClient.take(client); wait > 0 {
		return &ftppool.LoginLimitError{Wait: wait}
	}
	if wait := g.perUser.take(login); wait > 0 {
		g.perClient.giveBack(client)
		return &ftppool.LoginLimitError{Wait: wait}
	}
	return nil
}

// Done implements ftppool.LoginGate.
func (g *LoginGate) Done(ctx context.Context, ep ftppool.Endpoint, user string, giveBack bool) {
	if !giveBack && g.OnRefused != nil {
		g.OnRefused()
	}
	if isAnonymous(user) || !giveBack {
		return
	}
	client, login := g.keys(ctx, ep, user)
	g.perClient.giveBack(client)
	g.perUser.giveBack(login)
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
