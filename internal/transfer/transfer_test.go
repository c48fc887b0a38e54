package transfer

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// started is a listed transfer of owner's.
func started(tr *Tracker, owner, op string, total int64, cut func()) *Transfer {
	x := tr.Begin(context.Background(), owner, op, "ftp://h", "/f")
	x.Start(total, cut)
	return x
}

// TestSubscriberGetsLatestValueOnly: a subscriber that does not read holds
// one pending event per transfer, the newest, however many were published.
func TestSubscriberGetsLatestValueOnly(t *testing.T) {
	tr := newTracker(Hooks{})
	sub := tr.Subscribe("alice")
	defer sub.Close()

	a := started(tr, "alice", "upload", 1000, nil)
	b := started(tr, "alice", "download", -1, nil)
	now := time.Now()
	for i := 0; i < 100; i++ {
		a.Add(10)
		now = now.Add(Interval)
		tr.report(now)
	}
	a.End(nil, nil)

	evs := sub.Take()
	if len(evs) != 2 {
		t.Fatalf("pending events: got %d, want one per transfer (2): %+v", len(evs), evs)
	}
	if evs[0].ID != a.ID() || evs[0].State != Done || evs[0].Bytes != 1000 {
		t.Errorf("first pending: %+v, want a's final done event with 1000 bytes", evs[0])
	}
	if evs[1].ID != b.ID() || evs[1].State != Queued {
		t.Errorf("second pending: %+v, want b queued", evs[1])
	}
	if more := sub.Take(); len(more) != 0 {
		t.Errorf("Take after Take: %+v, want nothing", more)
	}
}

// TestOwnersAreSeparate: a subscriber sees only its owner's transfers, and
// cannot cancel another owner's.
func TestOwnersAreSeparate(t *testing.T) {
	tr := newTracker(Hooks{})
	sub := tr.Subscribe("bob")
	defer sub.Close()
	canceled := false
	x := started(tr, "alice", "upload", 10, func() { canceled = true })
	x.Add(1)
	if evs := sub.Take(); len(evs) != 0 {
		t.Errorf("bob saw alice's events: %+v", evs)
	}
	if tr.Cancel("bob", x.ID()) || canceled {
		t.Error("bob cancelled alice's transfer")
	}
	if len(tr.List("bob")) != 0 {
		t.Error("bob's list holds alice's transfer")
	}
	if !tr.Cancel("alice", x.ID()) || !canceled {
		t.Error("alice could not cancel her own transfer")
	}
	x.End(errors.New("cut"), nil)
	if ev := x.Event(); ev.State != Canceled {
		t.Errorf("after the cancel: %+v, want canceled", ev)
	}
	if tr.Cancel("alice", x.ID()) {
		t.Error("a transfer that ended could be cancelled again")
	}
}

// TestReportsOnlyWhatMoved: the reporter sends running transfers whose
// bytes changed, with a rate, and nothing for idle ones.
func TestReportsOnlyWhatMoved(t *testing.T) {
	tr := newTracker(Hooks{})
	x := started(tr, "o", "download", 4000, nil)
	sub := tr.Subscribe("o")
	defer sub.Close()
	now := time.Now()

	x.Add(1000) // running now: one immediate event
	if evs := sub.Take(); len(evs) != 1 || evs[0].State != Running {
		t.Fatalf("first bytes: %+v, want one running event", evs)
	}
	now = now.Add(time.Second)
	tr.report(now)
	evs := sub.Take()
	if len(evs) != 1 || evs[0].Bytes != 1000 || evs[0].Rate <= 0 {
		t.Fatalf("after a second: %+v, want 1000 bytes and a rate", evs)
	}
	tr.report(now.Add(time.Second))
	if evs := sub.Take(); len(evs) != 0 {
		t.Errorf("no bytes moved, yet events: %+v", evs)
	}
}

// TestPruneKeepsRunningAndRecent: finished transfers are forgotten after a
// while and beyond a count; running ones never.
func TestPruneKeepsRunningAndRecent(t *testing.T) {
	tr := newTracker(Hooks{})
	running := started(tr, "o", "upload", -1, nil)
	for i := 0; i < keepDoneMax+5; i++ {
		started(tr, "o", "download", 1, nil).End(nil, nil)
	}
	tr.report(time.Now())
	if got := len(tr.List("o")); got != keepDoneMax+1 {
		t.Errorf("after pruning by count: %d transfers, want %d", got, keepDoneMax+1)
	}
	tr.report(time.Now().Add(keepDone + time.Minute))
	list := tr.List("o")
	if len(list) != 1 || list[0].ID != running.ID() {
		t.Errorf("after pruning by age: %+v, want only the running one", list)
	}
}

// TestSeveralOwners: a subscriber and a list of several owners (a session
// and the FTP logins it holds) see the transfers of each, newest first,
// and nothing of an owner not named; closing unsubscribes from all.
func TestSeveralOwners(t *testing.T) {
	tr := newTracker(Hooks{})
	sub := tr.Subscribe("session", "login:alice")
	a := started(tr, "session", "download", 10, nil)
	b := started(tr, "login:alice", "upload", 10, nil)
	started(tr, "login:bob", "upload", 10, nil)
	c := started(tr, "session", "zip", 10, nil)

	var ids []string
	for _, ev := range tr.List("session", "login:alice") {
		ids = append(ids, ev.ID)
	}
	if want := []string{c.ID(), b.ID(), a.ID()}; !slices.Equal(ids, want) {
		t.Errorf("List: %v, want %v (newest first, bob's left out)", ids, want)
	}
	ids = nil
	for _, ev := range sub.Take() {
		ids = append(ids, ev.ID)
	}
	if want := []string{a.ID(), b.ID(), c.ID()}; !slices.Equal(ids, want) {
		t.Errorf("subscriber got %v, want %v", ids, want)
	}
	sub.Close()
	if len(tr.subs) != 0 {
		t.Errorf("after Close, subscribers remain for %d owners", len(tr.subs))
	}
}
