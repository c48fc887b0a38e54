package access

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/ftpbridge/ftpbridge/ftppool"
)

// SharedLimits keeps the counts behind Tries and LoginGate where every
// bridge of a cluster sees them (internal/redislimit), so that tries spread
// over several bridges meet one limit. An error means the store cannot
// answer now: the try is then counted in this process alone (see
// counts.run), so an outage loosens the limits to one bridge's, and never
// refuses service. Keys are named by the caller; an implementation only
// stores them.
type SharedLimits interface {
	// TakeTry counts one try of key in a fixed window, or says how long
	// key must still wait when max tries of this window are used up.
	TakeTry(ctx context.Context, key string, max int, window time.Duration) (wait time.Duration, err error)
	// GiveBackTry returns a try of key's current window.
	GiveBackTry(ctx context.Context, key string) error
	// CountTries is the tries key has taken and not given back in its
	// window.
	CountTries(ctx context.Context, key string) (int, error)
	// SlowSlot and SlowFailed space the tries of a key that failed often:
	// see LoginGate and memory.SlowSlot, whose rules they follow.
	SlowSlot(ctx context.Context, key string, own bool, free int, first, max time.Duration) (wait time.Duration, ok bool, err error)
	SlowFailed(ctx context.Context, key string, ttl time.Duration) error
}

// counts is where a limit counts: shared, if set and answering, else
// local.
type counts struct {
	shared SharedLimits
	local  *memory
}

func newCounts(shared SharedLimits) counts {
	return counts{shared: shared, local: newMemory()}
}

// run runs fn on the shared store, and on this process's counts when
// there is none or it fails. A try counted in one and given back to the
// other during an outage is lost: the limit is loose by one for a window.
func (c counts) run(fn func(SharedLimits) error) {
	if c.shared != nil && fn(c.shared) == nil {
		return
	}
	_ = fn(c.local) // memory never fails
}

// Tries counts tries per key (a share and a client address, say) in a
// fixed window: after max tries that were not given back, the key is
// refused until the window ends.
type Tries struct {
	name   string // the keys' prefix in a shared store
	max    int
	window time.Duration
	counts counts
}

// NewTries allows max tries of a key in each window, counted in this
// process.
func NewTries(max int, window time.Duration) *Tries {
	return NewSharedTries(nil, "", max, window)
}

// NewSharedTries allows max tries of a key in each window, counted in
// shared (nil: in this process) under keys that start with name, which
// must differ between the limits that share a store.
func NewSharedTries(shared SharedLimits, name string, max int, window time.Duration) *Tries {
	return &Tries{name: name, max: max, window: window, counts: newCounts(shared)}
}

// Take counts one try of key, or says how long key must still wait when
// its tries are used up. A try is taken before the guess is checked, so
// that guesses sent all at once are limited too; GiveBack returns it.
func (tr *Tries) Take(key string) time.Duration {
	return tr.take(context.Background(), key)
}

func (tr *Tries) take(ctx context.Context, key string) (wait time.Duration) {
	tr.counts.run(func(l SharedLimits) (err error) {
		wait, err = l.TakeTry(ctx, tr.name+":"+key, tr.max, tr.window)
		return err
	})
	return wait
}

// count is the tries key has taken and not given back in its window.
func (tr *Tries) count(ctx context.Context, key string) (n int) {
	tr.counts.run(func(l SharedLimits) (err error) {
		n, err = l.CountTries(ctx, tr.name+":"+key)
		return err
	})
	return n
}

// GiveBack returns a try that turned out right.
func (tr *Tries) GiveBack(key string) {
	tr.giveBack(context.Background(), key)
}

func (tr *Tries) giveBack(ctx context.Context, key string) {
	tr.counts.run(func(l SharedLimits) error { return l.GiveBackTry(ctx, tr.name+":"+key) })
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
// dial), so every spelling of one address shares one count. On a
// SharedLimits (NewSharedLoginGate) the counts and the slots are every
// bridge's together.
type LoginGate struct {
	perClient, perTarget *Tries
	perUser              counts
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

// NewLoginGate makes the bridge's login limits, counted in this process.
func NewLoginGate() *LoginGate {
	return NewSharedLoginGate(nil)
}

// NewSharedLoginGate makes the bridge's login limits, counted in shared
// (nil: in this process), so that every bridge on it meets the same ones.
func NewSharedLoginGate(shared SharedLimits) *LoginGate {
	return &LoginGate{
		perClient: NewSharedTries(shared, "login-client", 10, time.Minute),
		perTarget: NewSharedTries(shared, "login-target", 5, time.Minute),
		perUser:   newCounts(shared),
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
	if wait := g.perClient.take(ctx, client); wait > 0 {
		return &ftppool.LoginLimitError{Wait: wait}
	}
	giveBack := func() {
		g.perClient.giveBack(ctx, client)
		g.perTarget.giveBack(ctx, target)
	}
	if wait := g.perTarget.take(ctx, target); wait > 0 {
		g.perClient.giveBack(ctx, client)
		return &ftppool.LoginLimitError{Wait: wait}
	}
	// The try just taken is not a failure: more than it is.
	own := g.perTarget.count(ctx, target) > 1
	var wait time.Duration
	ok := true
	g.perUser.run(func(l SharedLimits) (err error) {
		wait, ok, err = l.SlowSlot(ctx, "login-user:"+login, own, loginFreeFailures, loginFirstDelay, loginMaxDelay)
		return err
	})
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
		g.perUser.run(func(l SharedLimits) error { return l.SlowFailed(ctx, "login-user:"+login, loginFailureTTL) })
		return
	}
	g.perClient.giveBack(ctx, client)
	g.perTarget.giveBack(ctx, target)
}

// memory is SharedLimits in this process: every limit's own counts, and
// what every limit falls back to. Entries whose window or ttl ended are
// dropped as new ones come, so memory stays bounded by the tries of one
// window and the failures of one ttl.
type memory struct {
	mu    sync.Mutex
	tries map[string]*tryCount
	slow  map[string]*slowState
}

type tryCount struct {
	n      int
	since  time.Time
	window time.Duration
}

type slowState struct {
	fails    int
	lastFail time.Time
	ttl      time.Duration
	next     time.Time // the earliest start of the next try
}

// memoryPruneAt is how many keys memory holds before it drops old ones.
const memoryPruneAt = 10000

func newMemory() *memory {
	return &memory{tries: make(map[string]*tryCount), slow: make(map[string]*slowState)}
}

// TakeTry implements SharedLimits.
func (m *memory) TakeTry(_ context.Context, key string, max int, window time.Duration) (time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	if len(m.tries) > memoryPruneAt {
		for k, tc := range m.tries {
			if now.Sub(tc.since) >= tc.window {
				delete(m.tries, k)
			}
		}
	}
	tc := m.tries[key]
	if tc == nil || now.Sub(tc.since) >= tc.window {
		tc = &tryCount{since: now, window: window}
		m.tries[key] = tc
	}
	if tc.n >= max {
		return tc.since.Add(tc.window).Sub(now), nil
	}
	tc.n++
	return 0, nil
}

// CountTries implements SharedLimits.
func (m *memory) CountTries(_ context.Context, key string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if tc := m.tries[key]; tc != nil && time.Since(tc.since) < tc.window {
		return tc.n, nil
	}
	return 0, nil
}

// GiveBackTry implements SharedLimits.
func (m *memory) GiveBackTry(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if tc := m.tries[key]; tc != nil && tc.n > 0 {
		tc.n--
	}
	return nil
}

// SlowSlot says how long a try of key must wait: nothing until key has
// free failures within ttl of each other, then each try gets a slot
// after the one before, spaced by first, doubled with each failure past
// free, up to max. ok is false when the wait would be over max and the
// client has failures of its own (own): it is refused, and wait says
// when the queue is short again.
func (m *memory) SlowSlot(_ context.Context, key string, own bool, free int, first, max time.Duration) (wait time.Duration, ok bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	st := m.slow[key]
	if st == nil || now.Sub(st.lastFail) >= st.ttl || st.fails < free {
		return 0, true, nil
	}
	delay := max
	if shift := st.fails - free; shift < 16 {
		delay = min(first<<shift, max)
	}
	start := now
	if st.next.After(now) {
		start = st.next
	}
	if start.Sub(now) > max {
		if own {
			return start.Sub(now) - max, false, nil
		}
		start = now.Add(max)
	}
	if next := start.Add(delay); next.After(st.next) {
		st.next = next
	}
	return start.Sub(now), true, nil
}

// SlowFailed counts a failure of key; failures are forgotten ttl after
// the last.
func (m *memory) SlowFailed(_ context.Context, key string, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	if len(m.slow) >= memoryPruneAt {
		for k, st := range m.slow {
			if now.Sub(st.lastFail) >= st.ttl {
				delete(m.slow, k)
			}
		}
	}
	st := m.slow[key]
	if st == nil || now.Sub(st.lastFail) >= st.ttl {
		st = &slowState{ttl: ttl}
		m.slow[key] = st
	}
	st.fails++
	st.lastFail = now
	return nil
}

func isAnonymous(user string) bool {
	return strings.EqualFold(user, "anonymous") || strings.EqualFold(user, "ftp")
}
