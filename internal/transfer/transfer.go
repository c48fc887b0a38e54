// Package transfer tracks the downloads, uploads and zips of each browser
// session, so its pages can show them live and cancel them. Subscribers get
// the latest state of each transfer, never a backlog: a slow browser
// skips intermediate values instead of growing a queue.
//
// It knows nothing of HTTP: a transfer is a context that a cancel ends,
// bytes counted as they move (Writer for what goes to a client), and an
// end that says done, canceled or failed. Any front (the web pages, a
// WebDAV handler) moves its bytes through the same code.
package transfer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sort"
	"sync"
	"time"
)

// State is where a transfer is in its life.
type State string

// The states, as the transfer events name them (README).
const (
	Queued   State = "queued"
	Running  State = "running"
	Done     State = "done"
	Failed   State = "failed"
	Canceled State = "canceled"
)

// ErrCanceled is the cause given to a transfer's context when someone
// cancels it.
var ErrCanceled = errors.New("the transfer was canceled")

// Event is a transfer's state as the WebSocket and /transfers show it.
type Event struct {
	Type  string `json:"type"` // always "transfer"
	ID    string `json:"id"`
	Op    string `json:"op"`
	Site  string `json:"site"`
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
	Total int64  `json:"total"` // -1 when unknown
	Rate  int64  `json:"rate"`  // bytes per second, recent
	State State  `json:"state"`
	Error string `json:"error,omitempty"`
}

// Interval is how often running transfers are reported: about four
// events a second each, as the README promises.
const Interval = 250 * time.Millisecond

// keepDone is how long, and how many, finished transfers stay listed.
const (
	keepDone    = 15 * time.Minute
	keepDoneMax = 50
)

// Transfer is one request's transfer. It exists, with its context, from
// Begin; it is listed and reported only from Start, so that a request that
// turns out to be none (a HEAD, a 304, an error) leaves no trace. Add and
// End are safe to use from the goroutine moving the bytes while the
// tracker reports and someone cancels.
type Transfer struct {
	tr     *Tracker
	owner  string
	ctx    context.Context
	cancel context.CancelCauseFunc

	mu        sync.Mutex
	cut       func() // set by Start
	ev        Event
	started   time.Time // zero until Start
	ended     time.Time
	lastBytes int64     // at the last report
	lastAt    time.Time // of the last report
	reported  int64     // Bytes in the last event sent
}

// Hooks let the metrics hear of every transfer; any may be nil. Bytes
// runs for every chunk a transfer moves.
type Hooks struct {
	Start func(op string)          // a transfer was listed
	Bytes func(op string, n int64) // it moved n more bytes
	End   func(op string, s State) // it ended so
}

// Tracker holds every session's transfers and their subscribers.
type Tracker struct {
	hooks Hooks
	bus   Bus // nil for a bridge alone

	mu      sync.Mutex
	byOwner map[string][]*Transfer
	remote  map[string][]*remote // other bridges' transfers, by owner, in the order first heard
	beat    time.Time            // the last heartbeat sent on the bus
	subs    map[string]map[*Sub]struct{}
	stop    chan struct{}
	wg      sync.WaitGroup
}

// New starts a tracker of this bridge alone and its reporting loop; Close
// stops it.
func New(hooks Hooks) *Tracker { return NewShared(hooks, nil) }

// NewShared starts a tracker that shares its transfers with other
// bridges' through bus (see Bus); a nil bus is New.
func NewShared(hooks Hooks, bus Bus) *Tracker {
	tr := newShared(hooks, bus)
	tr.wg.Add(1)
	go tr.loop()
	return tr
}

// newShared is a tracker on bus without its loop: tests call report
// themselves.
func newShared(hooks Hooks, bus Bus) *Tracker {
	tr := newTracker(hooks)
	if bus != nil {
		tr.bus = bus
		bus.Receive(tr.remoteEvent, tr.remoteCancel)
	}
	return tr
}

// newTracker is a tracker alone without its loop.
func newTracker(hooks Hooks) *Tracker {
	return &Tracker{
		hooks:   hooks,
		byOwner: make(map[string][]*Transfer),
		remote:  make(map[string][]*remote),
		subs:    make(map[string]map[*Sub]struct{}),
		stop:    make(chan struct{}),
	}
}

// Close stops the reporting loop.
func (tr *Tracker) Close() {
	close(tr.stop)
	tr.wg.Wait()
}

// Begin prepares a transfer of owner's. Its context, a child of ctx, ends
// with the cause ErrCanceled when someone cancels it; End releases it, and
// must be called whether or not the transfer started.
func (tr *Tracker) Begin(ctx context.Context, owner, op, site, path string) *Transfer {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand never fails on Linux
	ctx, cancel := context.WithCancelCause(ctx)
	return &Transfer{tr: tr, owner: owner, ctx: ctx, cancel: cancel,
		ev: Event{Type: "transfer", ID: hex.EncodeToString(b), Op: op, Site: site, Path: path, Total: -1, State: Queued}}
}

// Context is the transfer's context: everything that moves its bytes
// should end with it.
func (t *Transfer) Context() context.Context { return t.ctx }

// Start lists the transfer, queued until its first bytes; total is its
// size, -1 when unknown. A cancel ends the context first, so whoever wakes
// up sees why, then calls cut, if set, which must wake whatever I/O is
// blocked (a read of a silent client, a write to a full socket). A second
// Start does nothing.
func (t *Transfer) Start(total int64, cut func()) {
	now := time.Now()
	t.mu.Lock()
	if !t.started.IsZero() {
		t.mu.Unlock()
		return
	}
	t.cut, t.ev.Total, t.started, t.lastAt = cut, total, now, now
	ev := t.ev
	t.mu.Unlock()
	t.tr.mu.Lock()
	t.tr.byOwner[t.owner] = append(t.tr.byOwner[t.owner], t)
	t.tr.mu.Unlock()
	if t.tr.hooks.Start != nil {
		t.tr.hooks.Start(ev.Op)
	}
	t.tr.publish(t.owner, ev)
}

// ID is the transfer's id, for cancelling it.
func (t *Transfer) ID() string { return t.ev.ID }

// Event returns the transfer's current state.
func (t *Transfer) Event() Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ev
}

// Add counts n more bytes moved. The first call makes the transfer
// running. Bytes before Start are not the transfer's (an error page's).
func (t *Transfer) Add(n int64) {
	t.mu.Lock()
	if t.started.IsZero() {
		t.mu.Unlock()
		return
	}
	t.ev.Bytes += n
	first := t.ev.State == Queued
	if first {
		t.ev.State = Running
	}
	ev := t.ev
	t.mu.Unlock()
	if t.tr.hooks.Bytes != nil {
		t.tr.hooks.Bytes(ev.Op, n)
	}
	if first {
		t.tr.publish(t.owner, ev)
	}
}

// End records how a started transfer ended, once, and releases its context. err
// nil is done; a cancelled transfer is canceled, whatever broke on the way;
// any other error is failed, with the words describe finds for it (a
// person reads them). describe may be nil when err is.
func (t *Transfer) End(err error, describe func(error) string) {
	defer t.cancel(nil)
	t.mu.Lock()
	open := !t.started.IsZero() && t.ended.IsZero()
	t.mu.Unlock()
	switch {
	case !open:
	case err == nil:
		t.end(Done, "")
	case errors.Is(context.Cause(t.ctx), ErrCanceled):
		t.end(Canceled, "")
	default:
		t.end(Failed, describe(err))
	}
}

// end sets the final state, once. A transfer of unknown size now knows it:
// it is what was moved.
func (t *Transfer) end(s State, msg string) {
	t.mu.Lock()
	first := t.ended.IsZero()
	if first {
		t.ended = time.Now()
		t.ev.State, t.ev.Error = s, msg
		if s == Done && t.ev.Total < 0 {
			t.ev.Total = t.ev.Bytes
		}
		if d := t.ended.Sub(t.started); s == Done && t.ev.Rate == 0 && d > 0 {
			// Over before the first report: the average is the rate.
			t.ev.Rate = int64(float64(t.ev.Bytes) / d.Seconds())
		}
	}
	ev := t.ev
	t.mu.Unlock()
	if first && t.tr.hooks.End != nil {
		t.tr.hooks.End(ev.Op, ev.State)
	}
	t.tr.publish(t.owner, ev)
}

// Cancel cancels owner's transfer id; it reports whether there was one
// still running. Another owner's id is as good as none. Another bridge's
// transfer is cancelled there: the cancel goes on the bus, and its end
// comes back as its events do.
func (tr *Tracker) Cancel(owner, id string) bool {
	tr.mu.Lock()
	t := tr.local(owner, id)
	r := tr.findRemote(owner, id)
	remoteRunning := t == nil && r != nil && !r.ev.State.final()
	tr.mu.Unlock()
	if t != nil {
		return t.cancelRunning()
	}
	if remoteRunning {
		tr.bus.Cancel(owner, id)
	}
	return remoteRunning
}

// local is owner's transfer id on this bridge, or nil; tr.mu is held.
func (tr *Tracker) local(owner, id string) *Transfer {
	for _, t := range tr.byOwner[owner] {
		if t.ev.ID == id {
			return t
		}
	}
	return nil
}

// cancelRunning cancels t if it is still running, and says whether it was.
func (t *Transfer) cancelRunning() bool {
	t.mu.Lock()
	running, cut := t.ended.IsZero(), t.cut
	t.mu.Unlock()
	if running {
		t.cancel(ErrCanceled)
		if cut != nil {
			cut()
		}
	}
	return running
}

// List returns the running and recent transfers of the owners given,
// newest first. A browser session sees its own and those of the FTP
// logins it holds (a WebDAV client's, which has no session), hence
// several owners. Other bridges' transfers are among them, placed by
// when this bridge first heard of them.
func (tr *Tracker) List(owners ...string) []Event {
	type listed struct {
		started time.Time
		ev      Event
	}
	tr.mu.Lock()
	var ts []*Transfer
	var remotes []listed
	for _, owner := range owners {
		ts = append(ts, tr.byOwner[owner]...)
		for _, r := range tr.remote[owner] {
			remotes = append(remotes, listed{r.heard, r.ev})
		}
	}
	tr.mu.Unlock()
	all := make([]listed, 0, len(ts)+len(remotes))
	for _, t := range ts {
		t.mu.Lock()
		all = append(all, listed{t.started, t.ev})
		t.mu.Unlock()
	}
	all = append(all, remotes...)
	sort.SliceStable(all, func(i, j int) bool { return all[i].started.Before(all[j].started) })
	out := make([]Event, len(all))
	for i, l := range all {
		out[len(all)-1-i] = l.ev
	}
	return out
}

// Sub is one subscriber, such as a WebSocket. It holds at most one pending
// event per transfer: the latest.
type Sub struct {
	tr      *Tracker
	owners  []string
	wake    chan struct{}
	mu      sync.Mutex
	pending map[string]Event
	order   []string // transfer ids in the order they became pending
}

// Subscribe returns a subscriber to the transfer events of the owners
// given (see List).
func (tr *Tracker) Subscribe(owners ...string) *Sub {
	s := &Sub{tr: tr, owners: owners, wake: make(chan struct{}, 1), pending: make(map[string]Event)}
	tr.mu.Lock()
	for _, owner := range owners {
		if tr.subs[owner] == nil {
			tr.subs[owner] = make(map[*Sub]struct{})
		}
		tr.subs[owner][s] = struct{}{}
	}
	tr.mu.Unlock()
	return s
}

// Wake is signalled when events are pending.
func (s *Sub) Wake() <-chan struct{} { return s.wake }

// Take returns the pending events, oldest change first, and clears them.
func (s *Sub) Take() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Event, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.pending[id])
	}
	clear(s.pending)
	s.order = s.order[:0]
	return out
}

// Close ends the subscription.
func (s *Sub) Close() {
	s.tr.mu.Lock()
	for _, owner := range s.owners {
		delete(s.tr.subs[owner], s)
		if len(s.tr.subs[owner]) == 0 {
			delete(s.tr.subs, owner)
		}
	}
	s.tr.mu.Unlock()
}

func (s *Sub) put(ev Event) {
	s.mu.Lock()
	if _, ok := s.pending[ev.ID]; !ok {
		s.order = append(s.order, ev.ID)
	}
	s.pending[ev.ID] = ev
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default: // already signalled
	}
}

// publish tells ev to owner's subscribers here and, through the bus, to
// the other bridges.
func (tr *Tracker) publish(owner string, ev Event) {
	tr.notify(owner, ev)
	if tr.bus != nil {
		tr.bus.Publish(owner, ev)
	}
}

// notify tells ev to owner's subscribers on this bridge.
func (tr *Tracker) notify(owner string, ev Event) {
	tr.mu.Lock()
	subs := make([]*Sub, 0, len(tr.subs[owner]))
	for s := range tr.subs[owner] {
		subs = append(subs, s)
	}
	tr.mu.Unlock()
	for _, s := range subs {
		s.put(ev)
	}
}

// loop reports running transfers that moved, and forgets old ones.
func (tr *Tracker) loop() {
	defer tr.wg.Done()
	tick := time.NewTicker(Interval)
	defer tick.Stop()
	for {
		select {
		case <-tr.stop:
			return
		case now := <-tick.C:
			tr.report(now)
		}
	}
}

// report publishes what moved, sends the heartbeat when one is due, and
// forgets old transfers, this bridge's and others'.
func (tr *Tracker) report(now time.Time) {
	tr.mu.Lock()
	var all []*Transfer
	for owner, ts := range tr.byOwner {
		ts = prune(ts, now, (*Transfer).endedAt)
		if len(ts) == 0 {
			delete(tr.byOwner, owner)
			continue
		}
		tr.byOwner[owner] = ts
		all = append(all, ts...)
	}
	gone := tr.expireRemote(now)
	beat := tr.bus != nil && now.Sub(tr.beat) >= heartbeat
	if beat {
		tr.beat = now
	}
	tr.mu.Unlock()
	for _, g := range gone {
		tr.notify(g.owner, g.ev)
	}
	for _, t := range all {
		if ev, moved := t.tick(now); moved {
			tr.publish(t.owner, ev)
		} else if beat {
			if ev, again := t.resend(now); again {
				tr.bus.Publish(t.owner, ev)
			}
		}
	}
}

// endedAt is when t ended, zero while it runs.
func (t *Transfer) endedAt() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ended
}

// tick updates the rate and reports whether bytes moved since last time.
func (t *Transfer) tick(now time.Time) (Event, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.ended.IsZero() || t.ev.Bytes == t.reported {
		return t.ev, false
	}
	if d := now.Sub(t.lastAt).Seconds(); d > 0 {
		r := float64(t.ev.Bytes-t.lastBytes) / d
		if t.ev.Rate == 0 {
			t.ev.Rate = int64(r)
		} else {
			// Smooth over a few ticks, so the time left does not jump.
			t.ev.Rate = int64(0.5*r + 0.5*float64(t.ev.Rate))
		}
	}
	t.lastBytes, t.lastAt, t.reported = t.ev.Bytes, now, t.ev.Bytes
	return t.ev, true
}

// prune drops transfers that ended long ago, and all but the newest
// finished ones; endedAt says when one ended, zero while it runs. ts is
// in start order and is modified in place.
func prune[T any](ts []T, now time.Time, endedAt func(T) time.Time) []T {
	type finished struct {
		i  int
		at time.Time
	}
	var done []finished
	for i, t := range ts {
		if at := endedAt(t); !at.IsZero() {
			done = append(done, finished{i, at})
		}
	}
	sort.SliceStable(done, func(i, j int) bool { return done[i].at.After(done[j].at) })
	drop := make(map[int]bool)
	for n, d := range done {
		if n >= keepDoneMax || now.Sub(d.at) > keepDone {
			drop[d.i] = true
		}
	}
	keep := ts[:0]
	for i, t := range ts {
		if !drop[i] {
			keep = append(keep, t)
		}
	}
	clear(ts[len(keep):]) // what was dropped is garbage now
	return keep
}
