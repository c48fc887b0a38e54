package redisbus

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/ftpbridge/ftpbridge/internal/logtest"
	"github.com/ftpbridge/ftpbridge/internal/servicetest"
	"github.com/ftpbridge/ftpbridge/internal/transfer"
)

// wait is how long anything that should happen may take.
const wait = 15 * time.Second

// bridge is what one bridge process holds: its own client, bus and
// tracker.
type bridge struct {
	bus *Bus
	tr  *transfer.Tracker
	log *logtest.Recorder
}

// open starts a bridge on url; closing it is the caller's.
func open(t *testing.T, url, name string) *bridge {
	t.Helper()
	b := &bridge{log: logtest.New()}
	b.bus = New(servicetest.RedisClient(t, url), name, slog.New(b.log))
	b.tr = transfer.NewShared(transfer.Hooks{}, b.bus)
	return b
}

// close stops the bridge's tracker and bus.
func (b *bridge) close() {
	b.tr.Close()
	b.bus.Close()
}

// cluster starts Redis and two bridges on it, A and B, subscribed.
func cluster(t *testing.T) (proc *servicetest.Process, url string, a, b *bridge) {
	t.Helper()
	proc, url = servicetest.Redis(t, servicetest.NewPorts(t))
	a, b = open(t, url, "A"), open(t, url, "B")
	t.Cleanup(a.close)
	t.Cleanup(b.close)
	subscribed(t, url, 2)
	return proc, url, a, b
}

// subscribed waits until n buses listen, so that nothing sent next is
// published to fewer.
func subscribed(t *testing.T, url string, n int64) {
	t.Helper()
	c := servicetest.RedisClient(t, url)
	deadline := time.Now().Add(wait)
	for {
		counts, err := c.PubSubNumSub(context.Background(), eventsChannel, cancelsChannel, sessionEndsChannel).Result()
		if err == nil && counts[eventsChannel] == n && counts[cancelsChannel] == n && counts[sessionEndsChannel] == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("subscribers after %s: %v, %v; want %d on each channel", wait, counts, err, n)
		}
		time.Sleep(10 * time.Millisecond) // polling Redis
	}
}

// await returns the first event sub gets that ok accepts, failing the
// test after wait; seen, if not nil, hears every event taken meanwhile.
func await(t *testing.T, sub *transfer.Sub, ok func(transfer.Event) bool, seen func(transfer.Event)) transfer.Event {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case <-sub.Wake():
		case <-timeout:
			t.Fatalf("no such event in %s", wait)
		}
		for _, ev := range sub.Take() {
			if seen != nil {
				seen(ev)
			}
			if ok(ev) {
				return ev
			}
		}
	}
}

// is accepts transfer id's events in state s with bytes moved.
func is(id string, s transfer.State, bytes int64) func(transfer.Event) bool {
	return func(ev transfer.Event) bool { return ev.ID == id && ev.State == s && ev.Bytes == bytes }
}

// eventually polls cond until it holds, failing the test after wait.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not in %s", what, wait)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition
	}
}

// TestTransferOnOtherBridge: a transfer on B reaches A's subscriber,
// start, progress and end, and A's list; another owner's events, sent
// before, reach A but not that subscriber.
func TestTransferOnOtherBridge(t *testing.T) {
	_, _, a, b := cluster(t)
	sub := a.tr.Subscribe("x")
	defer sub.Close()

	y := b.tr.Begin(context.Background(), "y", "upload", "ftp://h", "/y")
	y.Start(10, nil)
	x := b.tr.Begin(context.Background(), "x", "upload", "ftp://h", "/x")
	x.Start(100, nil)
	// One sender on B, one subscription on A: y's start arrives first.
	foreign := func(ev transfer.Event) {
		if ev.ID != x.ID() {
			t.Errorf("A's subscriber of x got %+v", ev)
		}
	}
	await(t, sub, is(x.ID(), transfer.Queued, 0), foreign)
	if list := a.tr.List("y"); len(list) != 1 || list[0].ID != y.ID() {
		t.Errorf("A's list of y: %+v, want y's transfer", list)
	}

	x.Add(30)
	await(t, sub, is(x.ID(), transfer.Running, 30), foreign)
	x.Add(20)
	await(t, sub, is(x.ID(), transfer.Running, 50), foreign) // B's reporting loop
	if list := a.tr.List("x"); len(list) != 1 || list[0].ID != x.ID() || list[0].Bytes != 50 {
		t.Errorf("A's list of x: %+v, want x with 50 bytes", list)
	}
	x.End(nil, nil)
	await(t, sub, is(x.ID(), transfer.Done, 50), foreign)
}

// TestCancelOnOtherBridge: A cancels B's transfer: B's context ends with
// ErrCanceled and its cut runs, and A hears it ended canceled. An unknown
// id, or another owner's, is refused.
func TestCancelOnOtherBridge(t *testing.T) {
	_, _, a, b := cluster(t)
	sub := a.tr.Subscribe("o")
	defer sub.Close()
	cut := make(chan struct{})
	x := b.tr.Begin(context.Background(), "o", "upload", "ftp://h", "/f")
	x.Start(-1, func() { close(cut) })
	x.Add(1)
	await(t, sub, is(x.ID(), transfer.Running, 1), nil)

	if a.tr.Cancel("o", "0123456789abcdef01234567") || a.tr.Cancel("p", x.ID()) {
		t.Fatal("A cancelled an unknown id, or another owner's transfer")
	}
	if !a.tr.Cancel("o", x.ID()) {
		t.Fatal("A's Cancel of B's running transfer returned false")
	}
	select {
	case <-cut:
	case <-time.After(wait):
		t.Fatal("B's transfer was not cut")
	}
	if cause := context.Cause(x.Context()); !errors.Is(cause, transfer.ErrCanceled) {
		t.Errorf("B's context ended with %v, want ErrCanceled", cause)
	}
	x.End(context.Cause(x.Context()), nil)
	await(t, sub, is(x.ID(), transfer.Canceled, 1), nil)
}

// TestSilentBridge: B's transfer that moves nothing stays running on A
// past the silence A allows (B's heartbeats); when B goes silent (its bus
// closed, as when it dies), A does not leave it running: it fails it.
func TestSilentBridge(t *testing.T) {
	_, url := servicetest.Redis(t, servicetest.NewPorts(t))
	a := open(t, url, "A")
	defer a.close()
	b := open(t, url, "B")
	defer b.tr.Close()
	subscribed(t, url, 2)
	sub := a.tr.Subscribe("o")
	defer sub.Close()
	x := b.tr.Begin(context.Background(), "o", "upload", "ftp://h", "/f")
	x.Start(-1, nil)
	x.Add(1)
	// B's loop reports the byte with its rate; after that, x is quiet.
	await(t, sub, func(ev transfer.Event) bool { return ev.ID == x.ID() && ev.Rate > 0 }, nil)

	// Watched for longer than the silence A allows: 3.5 s.
	watch := time.After(5 * time.Second)
	for quiet := true; quiet; {
		select {
		case <-sub.Wake():
			if evs := sub.Take(); len(evs) > 0 {
				t.Fatalf("B's quiet transfer changed on A: %+v", evs)
			}
		case <-watch:
			quiet = false
		}
	}
	b.bus.Close()
	ev := await(t, sub, func(ev transfer.Event) bool { return ev.ID == x.ID() && ev.State != transfer.Running }, nil)
	if ev.State != transfer.Failed || ev.Error == "" {
		t.Errorf("B's transfer after B went silent: %+v, want failed with words", ev)
	}
	if a.tr.Cancel("o", x.ID()) {
		t.Error("A could cancel a transfer of a silent bridge")
	}
}

// TestRedisOutage: with Redis stopped, B tracks its transfer as before
// and warns once, however many events it cannot send; once Redis is back,
// B says so and A hears B's transfer again.
func TestRedisOutage(t *testing.T) {
	proc, _, a, b := cluster(t)
	subA, subB := a.tr.Subscribe("o"), b.tr.Subscribe("o")
	defer subA.Close()
	defer subB.Close()
	x := b.tr.Begin(context.Background(), "o", "upload", "ftp://h", "/f")
	x.Start(-1, nil)
	x.Add(10)
	await(t, subA, is(x.ID(), transfer.Running, 10), nil)

	proc.Stop()
	for n := int64(11); n <= 15; n++ {
		x.Add(1) // each reported by B's loop, and sent in vain
		await(t, subB, is(x.ID(), transfer.Running, n), nil)
	}
	if list := b.tr.List("o"); len(list) != 1 || list[0].Bytes != 15 {
		t.Errorf("B's list during the outage: %+v, want x with 15 bytes", list)
	}
	eventually(t, "B's warning", func() bool { return b.log.Count(slog.LevelWarn, "redis is unreachable") > 0 })

	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	x.Add(5)
	await(t, subA, is(x.ID(), transfer.Running, 20), nil) // maybe from a heartbeat
	eventually(t, "B's notice that Redis is back", func() bool { return b.log.Count(slog.LevelInfo, "redis is reachable again") == 1 })
	if n := b.log.Count(slog.LevelWarn, ""); n != 1 {
		t.Errorf("B logged %d warnings for one outage, want 1", n)
	}
	x.End(nil, nil)
	await(t, subA, is(x.ID(), transfer.Done, 20), nil)
}

// TestRedisDownAtStart: bridges started while Redis is down share their
// transfers once it is up.
func TestRedisDownAtStart(t *testing.T) {
	proc, url := servicetest.Redis(t, servicetest.NewPorts(t))
	proc.Stop()
	a, b := open(t, url, "A"), open(t, url, "B")
	defer a.close()
	defer b.close()
	sub := a.tr.Subscribe("o")
	defer sub.Close()
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	subscribed(t, url, 2)
	x := b.tr.Begin(context.Background(), "o", "upload", "ftp://h", "/f")
	x.Start(-1, nil)
	await(t, sub, is(x.ID(), transfer.Queued, 0), nil)
}

// TestSessionEnd: a session ended on A is ended on B, and A does not hear
// its own notice.
func TestSessionEnd(t *testing.T) {
	_, _, a, b := cluster(t)
	endedA, endedB := make(chan string, 10), make(chan string, 10)
	a.bus.OnSessionEnd(func(owner string) { endedA <- owner })
	b.bus.OnSessionEnd(func(owner string) { endedB <- owner })

	a.bus.EndSession("s1")
	if got := receive(t, endedB); got != "s1" {
		t.Fatalf("B heard the end of %q, want s1", got)
	}
	// B's notice is published after A's, so A would hear its own first.
	b.bus.EndSession("s2")
	if got := receive(t, endedA); got != "s2" {
		t.Errorf("A heard the end of %q first, want s2 (not its own s1)", got)
	}
}

// receive is the next value of ch, failing the test after wait.
func receive(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(wait):
		t.Fatal("nothing heard")
		return ""
	}
}
