package access

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/ftpbridge/ftpbridge/ftppool"
	"github.com/ftpbridge/ftpbridge/internal/logtest"
	"github.com/ftpbridge/ftpbridge/internal/redislimit"
	"github.com/ftpbridge/ftpbridge/internal/servicetest"
)

func TestTries(t *testing.T) {
	f := NewTries(2, time.Hour)
	for i := range 2 {
		if wait := f.Take("k"); wait != 0 {
			t.Fatalf("try %d: wait %v", i+1, wait)
		}
	}
	if wait := f.Take("k"); wait <= 0 || wait > time.Hour {
		t.Fatalf("third try: wait %v, want up to an hour", wait)
	}
	if wait := f.Take("other"); wait != 0 {
		t.Errorf("another key waits %v", wait)
	}
	f.GiveBack("k")
	if wait := f.Take("k"); wait != 0 {
		t.Errorf("after a try was given back: wait %v", wait)
	}
}

func TestClientKey(t *testing.T) {
	for ip, want := range map[string]string{
		"192.0.2.7":            "192.0.2.7",
		"::ffff:192.0.2.7":     "192.0.2.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
		"not an address":       "not an address",
	} {
		if got := ClientKey(ip); got != want {
			t.Errorf("ClientKey(%q) = %q, want %q", ip, got, want)
		}
	}
}

// withClient is a request context from the client address ip.
func withClient(ip string) context.Context {
	return context.WithValue(context.Background(), clientIPKey{}, ip)
}

// sharedStores are n bridges' limits on one Redis, each on a client of
// its own as separate processes would be.
func sharedStores(t *testing.T, url string, n int, opts redislimit.Options) []*redislimit.Store {
	t.Helper()
	var stores []*redislimit.Store
	for range n {
		s := redislimit.New(servicetest.RedisClient(t, url), opts)
		t.Cleanup(s.Close)
		stores = append(stores, s)
	}
	return stores
}

var server = ftppool.Endpoint{Host: "192.0.2.1", Port: 21}

// storm sends wrong logins from client round-robin through gates, each
// as another user so that only the per-client limit counts, and returns
// the first refusal and how many tries came before it.
func storm(t *testing.T, gates []*LoginGate, client string, tries int) (refused *ftppool.LoginLimitError, before int) {
	t.Helper()
	ctx := withClient(client)
	for i := range tries {
		g := gates[i%len(gates)]
		user := fmt.Sprintf("user%d", i)
		err := g.Take(ctx, server, user)
		if errors.As(err, &refused) {
			return refused, i
		}
		if err != nil {
			t.Fatalf("try %d: %v", i+1, err)
		}
		g.Done(ctx, server, user, false)
	}
	return nil, tries
}

// TestSharedLoginLimitAcrossBridges: ten wrong logins from one client
// spread over three bridges meet one limit of ten: the eleventh is
// refused with a wait, whichever bridge gets it. Share-password guesses
// (NewSharedTries) are shared alike.
func TestSharedLoginLimitAcrossBridges(t *testing.T) {
	_, url := servicetest.Redis(t, servicetest.NewPorts(t))
	stores := sharedStores(t, url, 3, redislimit.Options{})
	var gates []*LoginGate
	var guesses []*Tries
	for _, s := range stores {
		gates = append(gates, NewSharedLoginGate(s))
		guesses = append(guesses, NewSharedTries(s, "share-password", 5, time.Minute))
	}
	refused, before := storm(t, gates, "198.51.100.7", 12)
	if refused == nil || before != 10 {
		t.Fatalf("first refusal after %d tries (%v), want after 10", before, refused)
	}
	if refused.Wait <= 0 || refused.Wait > time.Minute {
		t.Errorf("wait %v, want within the minute", refused.Wait)
	}
	for i, g := range gates {
		if err := g.Take(withClient("198.51.100.7"), server, "another"); !errors.As(err, new(*ftppool.LoginLimitError)) {
			t.Errorf("bridge %d let the client try again: %v", i, err)
		}
	}
	if err := gates[0].Take(withClient("198.51.100.8"), server, "user0"); err != nil {
		t.Errorf("another client was refused: %v", err)
	}

	for i := range 5 {
		if wait := guesses[i%3].Take("share client"); wait != 0 {
			t.Fatalf("guess %d: wait %v", i+1, wait)
		}
	}
	for i, g := range guesses {
		if wait := g.Take("share client"); wait <= 0 {
			t.Errorf("bridge %d took a sixth guess", i)
		}
	}
	guesses[1].GiveBack("share client")
	if wait := guesses[2].Take("share client"); wait != 0 {
		t.Errorf("a guess given back on one bridge is not free on another: wait %v", wait)
	}
}

// TestSharedLoginSlowdown: five failures of one user, each from another
// client through bridge A, make the tries of that user on bridges B and
// C wait for slots, as on one bridge: the first goes at once, the next
// waits the first delay.
func TestSharedLoginSlowdown(t *testing.T) {
	_, url := servicetest.Redis(t, servicetest.NewPorts(t))
	stores := sharedStores(t, url, 3, redislimit.Options{})
	a, b, c := NewSharedLoginGate(stores[0]), NewSharedLoginGate(stores[1]), NewSharedLoginGate(stores[2])
	for i := range loginFreeFailures {
		ctx := withClient(fmt.Sprintf("203.0.113.%d", i+1))
		if err := a.Take(ctx, server, "alice"); err != nil {
			t.Fatal(err)
		}
		a.Done(ctx, server, "alice", false)
	}
	ctx := withClient("203.0.113.100")
	start := time.Now()
	if err := b.Take(ctx, server, "alice"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d >= loginFirstDelay {
		t.Errorf("the first try after the failures waited %v", d)
	}
	start = time.Now()
	if err := c.Take(withClient("203.0.113.101"), server, "alice"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < loginFirstDelay-50*time.Millisecond {
		t.Errorf("the next try on another bridge waited %v, want about %v", d, loginFirstDelay)
	}
}

// TestSharedLoginLimitRedisOutage: with Redis stopped, each bridge still
// limits the storm by itself (ten tries each, not refused for Redis'
// sake), no call waits long, and each bridge logs the outage once; once
// Redis is back, its recovery is logged and the limit is shared again.
func TestSharedLoginLimitRedisOutage(t *testing.T) {
	proc, url := servicetest.Redis(t, servicetest.NewPorts(t))
	logs := make([]*logtest.Recorder, 3)
	var gates []*LoginGate
	for i := range logs {
		logs[i] = logtest.New()
		s := sharedStores(t, url, 1, redislimit.Options{Logger: slog.New(logs[i]), Retry: 50 * time.Millisecond})[0]
		gates = append(gates, NewSharedLoginGate(s))
	}
	if refused, before := storm(t, gates, "198.51.100.1", 12); refused == nil || before != 10 {
		t.Fatalf("before the outage: refused after %d tries, want 10", before)
	}

	proc.Stop()
	for i, g := range gates {
		start := time.Now()
		refused, before := storm(t, []*LoginGate{g}, "198.51.100.2", 12)
		if refused == nil || before != 10 {
			t.Errorf("bridge %d during the outage: refused after %d tries, want its own 10", i, before)
		}
		// 11 tries, each of several calls, without waiting for Redis.
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("bridge %d: the tries took %v during the outage", i, d)
		}
	}
	for i, l := range logs {
		if n := l.Count(slog.LevelWarn, ""); n != 1 {
			t.Errorf("bridge %d logged %d warnings for one outage, want 1", i, n)
		}
	}

	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	// The first calls after Retry probe Redis: wait for each bridge to
	// find it back.
	deadline := time.Now().Add(5 * time.Second)
	for i, g := range gates {
		for logs[i].Count(slog.LevelInfo, "") == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("bridge %d did not log Redis back", i)
			}
			g.perClient.count(context.Background(), "probe")
			time.Sleep(10 * time.Millisecond) // polling: the probe runs once per Retry
		}
	}
	if refused, before := storm(t, gates, "198.51.100.3", 12); refused == nil || before != 10 {
		t.Errorf("after the outage: refused after %d tries, want 10 across the bridges", before)
	}
	for i, l := range logs {
		if n := l.Count(slog.LevelWarn, ""); n != 1 {
			t.Errorf("bridge %d logged %d warnings in all, want 1", i, n)
		}
	}
}
