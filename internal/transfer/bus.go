package transfer

import "time"

// Bus carries transfer events and cancels between the trackers of several
// bridges behind one load balancer, so a session's page sees and cancels
// its transfers whichever bridge moves them (package redisbus). Delivery
// may lose messages: every event carries a transfer's whole state, so the
// next one makes good a lost one, and a running transfer is sent again
// every heartbeat even when it moves nothing. Publish and Cancel must not
// block: they run on the goroutines that move the bytes.
type Bus interface {
	// Publish sends owner's event to the other bridges.
	Publish(owner string, ev Event)
	// Cancel asks the other bridges to cancel owner's transfer id.
	Cancel(owner, id string)
	// Receive registers what to run for the other bridges' events and
	// cancels, never this bridge's own; NewShared calls it once.
	Receive(events func(owner string, ev Event), cancels func(owner, id string))
}

// heartbeat is how often a running transfer that moved nothing is sent on
// the bus all the same, so other bridges tell a quiet transfer from one
// whose bridge died; a finished one is sent again for a while too, in case
// its final event was lost.
const heartbeat = time.Second

// silence is how long another bridge's running transfer may go unheard
// before this bridge takes that bridge for gone: three heartbeats lost,
// and a margin for a slow Redis.
const silence = 3*heartbeat + 2*Interval

// gone is the error of another bridge's transfer that went silent.
const gone = "The bridge that was moving this transfer stopped reporting on it; it may have stopped."

// remote is another bridge's transfer, as its events tell it.
type remote struct {
	ev    Event
	heard time.Time // first heard of: its place in List
	last  time.Time // last heard of
	ended time.Time // heard to end, or taken for dead; zero while running
}

// final says whether a transfer in this state is over.
func (s State) final() bool { return s == Done || s == Failed || s == Canceled }

// findRemote is owner's transfer id of another bridge, or nil; tr.mu is
// held.
func (tr *Tracker) findRemote(owner, id string) *remote {
	for _, r := range tr.remote[owner] {
		if r.ev.ID == id {
			return r
		}
	}
	return nil
}

// remoteEvent takes another bridge's event. Heartbeats repeat what is
// known: subscribers hear only of a change. An event after one taken for
// dead revives the transfer: silence was the bus's, not its bridge's.
func (tr *Tracker) remoteEvent(owner string, ev Event) {
	now := time.Now()
	tr.mu.Lock()
	r := tr.findRemote(owner, ev.ID)
	if r == nil {
		r = &remote{heard: now}
		tr.remote[owner] = append(tr.remote[owner], r)
	}
	changed := r.ev != ev
	r.ev, r.last = ev, now
	switch {
	case !ev.State.final():
		r.ended = time.Time{}
	case r.ended.IsZero():
		r.ended = now
	}
	tr.mu.Unlock()
	if changed {
		tr.notify(owner, ev)
	}
}

// remoteCancel is another bridge's cancel: it acts on this bridge's
// transfer, if this bridge has it.
func (tr *Tracker) remoteCancel(owner, id string) {
	tr.mu.Lock()
	t := tr.local(owner, id)
	tr.mu.Unlock()
	if t != nil {
		t.cancelRunning()
	}
}

// ownedEvent is an event and whose it is.
type ownedEvent struct {
	owner string
	ev    Event
}

// expireRemote fails the other bridges' running transfers unheard of for
// longer than silence, so none stays running forever when its bridge
// dies, and forgets old ones as report does this bridge's. It returns the
// failures, for the subscribers; tr.mu is held.
func (tr *Tracker) expireRemote(now time.Time) []ownedEvent {
	var failed []ownedEvent
	for owner, rs := range tr.remote {
		for _, r := range rs {
			if r.ended.IsZero() && now.Sub(r.last) > silence {
				r.ev.State, r.ev.Error, r.ended = Failed, gone, now
				failed = append(failed, ownedEvent{owner, r.ev})
			}
		}
		rs = prune(rs, now, func(r *remote) time.Time { return r.ended })
		if len(rs) == 0 {
			delete(tr.remote, owner)
			continue
		}
		tr.remote[owner] = rs
	}
	return failed
}

// resend gives t's state and whether a heartbeat sends it again: while t
// runs, and for a while after its end.
func (t *Transfer) resend(now time.Time) (Event, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ev, t.ended.IsZero() || now.Sub(t.ended) < silence
}
