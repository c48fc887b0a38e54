package transfer

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// wire is a Bus between two trackers of one test: what one side publishes
// the other receives at once, as Redis delivers it to the other bridge.
type wire struct {
	peer    *wire
	events  func(owner string, ev Event)
	cancels func(owner, id string)

	mu   sync.Mutex
	sent []Event // what this side published
}

func (w *wire) Publish(owner string, ev Event) {
	w.mu.Lock()
	w.sent = append(w.sent, ev)
	w.mu.Unlock()
	w.peer.events(owner, ev)
}

func (w *wire) Cancel(owner, id string) { w.peer.cancels(owner, id) }

func (w *wire) Receive(events func(string, Event), cancels func(string, string)) {
	w.events, w.cancels = events, cancels
}

// taken returns and forgets what this side published.
func (w *wire) taken() []Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.sent
	w.sent = nil
	return out
}

// bridges are two trackers on one wire, without their loops: A and B.
func bridges() (a, b *Tracker, wb *wire) {
	wa, wb := &wire{}, &wire{}
	wa.peer, wb.peer = wb, wa
	return newShared(Hooks{}, wa), newShared(Hooks{}, wb), wb
}

// TestRemoteTransfersAreListedAndStreamed: a transfer on bridge B shows in
// A's list and reaches A's subscribers, start, progress and end, among A's
// own, newest first; another owner's stays out of both.
func TestRemoteTransfersAreListedAndStreamed(t *testing.T) {
	a, b, _ := bridges()
	sub := a.Subscribe("o")
	defer sub.Close()

	x := started(b, "o", "upload", 100, nil)
	started(b, "p", "upload", 100, nil)
	if evs := sub.Take(); len(evs) != 1 || evs[0].ID != x.ID() || evs[0].State != Queued {
		t.Fatalf("A's subscriber after B's start: %+v, want x queued only", evs)
	}
	y := started(a, "o", "download", 10, nil)
	x.Add(40)
	b.report(time.Now().Add(Interval))
	if evs := sub.Take(); len(evs) != 2 || evs[0].ID != y.ID() || evs[1].ID != x.ID() || evs[1].Bytes != 40 || evs[1].State != Running {
		t.Fatalf("A's subscriber after progress: %+v, want y queued, then x running with 40 bytes", evs)
	}
	var ids []string
	for _, ev := range a.List("o") {
		ids = append(ids, ev.ID)
	}
	if want := []string{y.ID(), x.ID()}; !slices.Equal(ids, want) {
		t.Errorf("A's list: %v, want %v (newest first, p's left out)", ids, want)
	}
	x.End(nil, nil)
	if evs := sub.Take(); len(evs) != 1 || evs[0].State != Done || evs[0].Total != 100 {
		t.Errorf("A's subscriber after B's end: %+v, want x done", evs)
	}
	if list := a.List("o"); len(list) != 2 || list[1].State != Done {
		t.Errorf("A's list after B's end: %+v, want x done", list)
	}
}

// TestHeartbeat: a running transfer that moves nothing is sent on the bus
// each heartbeat, but told to no subscriber again, here or there; a
// finished one is sent again for a while, then no more.
func TestHeartbeat(t *testing.T) {
	a, b, wb := bridges()
	subA, subB := a.Subscribe("o"), b.Subscribe("o")
	defer subA.Close()
	defer subB.Close()
	x := started(b, "o", "upload", 100, nil)
	x.Add(10)
	now := time.Now()
	b.report(now) // moved: reported everywhere
	wb.taken()
	subA.Take()
	subB.Take()

	b.report(now.Add(heartbeat))
	if sent := wb.taken(); len(sent) != 1 || sent[0].ID != x.ID() || sent[0].State != Running {
		t.Fatalf("heartbeat of an idle transfer sent %+v, want x running", sent)
	}
	if evs := append(subA.Take(), subB.Take()...); len(evs) != 0 {
		t.Errorf("a heartbeat reached subscribers: %+v", evs)
	}
	b.report(now.Add(heartbeat + Interval))
	if sent := wb.taken(); len(sent) != 0 {
		t.Errorf("between heartbeats, sent %+v", sent)
	}

	x.End(nil, nil)
	ended := time.Now()
	wb.taken()
	b.report(ended.Add(2 * heartbeat))
	if sent := wb.taken(); len(sent) != 1 || sent[0].State != Done {
		t.Errorf("heartbeat after the end sent %+v, want x done again", sent)
	}
	b.report(ended.Add(silence + 2*heartbeat))
	if sent := wb.taken(); len(sent) != 0 {
		t.Errorf("heartbeat long after the end sent %+v, want nothing", sent)
	}
}

// TestSilentRemoteFails: another bridge's running transfer unheard of for
// longer than silence is failed, and subscribers told; its bridge's next
// event revives it.
func TestSilentRemoteFails(t *testing.T) {
	a, b, _ := bridges()
	sub := a.Subscribe("o")
	defer sub.Close()
	x := started(b, "o", "upload", 100, nil)
	x.Add(10)
	sub.Take()

	a.report(time.Now().Add(silence - Interval))
	if evs := sub.Take(); len(evs) != 0 {
		t.Fatalf("before the silence is over: %+v, want nothing", evs)
	}
	a.report(time.Now().Add(silence + Interval))
	evs := sub.Take()
	if len(evs) != 1 || evs[0].State != Failed || evs[0].Error != gone {
		t.Fatalf("after the silence: %+v, want x failed, its bridge gone", evs)
	}
	if list := a.List("o"); len(list) != 1 || list[0].State != Failed {
		t.Errorf("A's list after the silence: %+v, want x failed", list)
	}
	if a.Cancel("o", x.ID()) {
		t.Error("a transfer taken for dead could be cancelled")
	}
	x.Add(5)
	b.report(time.Now().Add(Interval))
	if evs := sub.Take(); len(evs) != 1 || evs[0].State != Running || evs[0].Bytes != 15 {
		t.Errorf("after B spoke again: %+v, want x running with 15 bytes", evs)
	}
}

// TestRemoteCancel: a cancel on A of a transfer on B ends B's context with
// ErrCanceled and cuts its I/O; an unknown id, another owner's, or a
// finished transfer is not cancelled.
func TestRemoteCancel(t *testing.T) {
	a, b, _ := bridges()
	cut := false
	x := b.Begin(context.Background(), "o", "upload", "ftp://h", "/f")
	x.Start(-1, func() { cut = true })

	if a.Cancel("o", "no-such-id") || a.Cancel("p", x.ID()) {
		t.Fatal("A cancelled an unknown id, or another owner's transfer")
	}
	if x.Context().Err() != nil {
		t.Fatal("a refused cancel ended B's transfer")
	}
	if !a.Cancel("o", x.ID()) {
		t.Fatal("A's Cancel of B's running transfer returned false")
	}
	if !errors.Is(context.Cause(x.Context()), ErrCanceled) || !cut {
		t.Errorf("B's transfer: cause %v, cut %v; want ErrCanceled and cut", context.Cause(x.Context()), cut)
	}
	x.End(errors.New("cut"), nil)
	if list := a.List("o"); len(list) != 1 || list[0].State != Canceled {
		t.Errorf("A's list: %+v, want x canceled", list)
	}
	if a.Cancel("o", x.ID()) {
		t.Error("a finished remote transfer could be cancelled")
	}
}

// TestRemotePruned: other bridges' finished transfers are forgotten like
// this bridge's, by count and by age, owners and all.
func TestRemotePruned(t *testing.T) {
	a, b, _ := bridges()
	for i := 0; i < keepDoneMax+5; i++ {
		started(b, "o", "download", 1, nil).End(nil, nil)
	}
	a.report(time.Now())
	if got := len(a.List("o")); got != keepDoneMax {
		t.Errorf("after pruning by count: %d transfers, want %d", got, keepDoneMax)
	}
	a.report(time.Now().Add(keepDone + time.Minute))
	if len(a.List("o")) != 0 || len(a.remote) != 0 {
		t.Errorf("after pruning by age: %d owners still held", len(a.remote))
	}
}
