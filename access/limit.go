package access

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/ftpbridge/ftpbridge/ftppool"
)

// Tries counts tries per key (a share and a client address, say) in a
// fixed window: after max tries that were not given back, the key is
// refused until the window ends. Entries of ended windows are dropped as
// new ones come, so memory stays bounded by the tries of one window.
type Tries struct {
	max    int
	window time.Duration
	mu     sync.Mutex
	byKey  map[string]*tryCount
}

type tryCount struct {
	n     int
	since time.Time
}

// NewTries allows max tries of a key in each window.
func NewTries(max int, window time.Duration) *Tries {
	return &Tries{max: max, window: window, byKey: make(map[string]*tryCount)}
}

// Take counts one try of key, or says how long key must still wait when
// its tries are used up. A try is taken before the guess is checked, so
// that guesses sent all at once are limited too; GiveBack returns it.
func (tr *Tries) Take(key string) time.Duration {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	now := time.Now()
	if len(tr.byKey) > 10000 {
		for k, fc := range tr.byKey {
			if now.Sub(fc.since) >= tr.window {
				delete(tr.byKey, k)
			}
		}
	}
	fc := tr.byKey[key]
	if fc == nil || now.Sub(fc.since) >= tr.window {
		fc = &tryCount{since: now}
		tr.byKey[key] = fc
	}
	if fc.n >= tr.max {
		return fc.since.Add(tr.window).Sub(now)
	}
	fc.n++
	return 0
}

// count is the tries key has taken and not given back in its window.
func (tr *Tries) count(key string) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if fc := tr.byKey[key]; fc != nil && time.Since(fc.since) < tr.window {
		return fc.n
	}
	return 0
}

// GiveBack returns a try that turned out right.
func (tr *Tries) GiveBack(key string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if fc := tr.byKey[key]; fc != nil && fc.n > 0 {
		fc.n--
	}
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
	perClient, perTarget *Tries
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
		perClient: NewTries(10, time.Minute),
		perTarget: NewTries(5, time.Minute),
		perUser:   newSlowdown(loginFreeFailures, loginFirstDelay, loginMaxDelay, loginFailureTTL),
	}
}

// keys names the client, the server's user (ep.Host is the dialled IP),
// and the two together.
func (g *LoginGate) keys(ctx context.Context, ep ftppool.Endpoint, user string) (client, login, target string) {
	client, login = ClientKey(clientIP(ctx)), ep.Addr()+" "+user
	return client, login, client + " " + login
}

// Take implements ftppool.LoginGate.
func (g *LoginGate) Take(ctx context.Context, ep ftppool.Endpoint, user string) error {
	if isAnonymous(user) {
		return nil
	}
	client, login, target := g.keys(ctx, ep, user)
	if wait := g.perClient.Take(client); wait > 0 {
		return &ftppool.LoginLimitError{Wait: wait}
	}
	giveBack := func() {
		g.perClient.GiveBack(client)
		g.perTarget.GiveBack(target)
	}
	if wait := g.perTarget.Take(target); wait > 0 {
		g.perClient.GiveBack(client)
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
	g.perClient.GiveBack(client)
	g.perTarget.GiveBack(target)
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
