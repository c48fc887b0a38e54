package redislock

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/net/webdav"

	"github.com/ftpbridge/ftpbridge/internal/servicetest"
)

const ns = "192.0.2.7:21\x00/home/alice"

// newStore is a Store on a client of its own for the Redis at url, as
// each bridge has.
func newStore(t *testing.T, url string, opts Options) (*Store, *redis.Client) {
	t.Helper()
	client := servicetest.RedisClient(t, url)
	return New(client, opts), client
}

// step is one call on bridge 0 or 1, at t0+at. Tokens and releases are
// named, as each system issues its own.
type step struct {
	on   int
	at   time.Duration
	op   string // create, refresh, unlock, confirm, release
	name string // create: the token's name; refresh, unlock: the token; confirm, release: the hold's name
	root string
	zero bool
	dur  time.Duration
	// confirm's names and tokens
	names [2]string
	conds []string
	want  error
}

func create(on int, at time.Duration, tok, root string, zero bool, dur time.Duration, want error) step {
	return step{on: on, at: at, op: "create", name: tok, root: root, zero: zero, dur: dur, want: want}
}

func confirm(on int, at time.Duration, hold, name0, name1 string, conds []string, want error) step {
	return step{on: on, at: at, op: "confirm", name: hold, names: [2]string{name0, name1}, conds: conds, want: want}
}

func refresh(on int, at time.Duration, tok string, dur time.Duration, want error) step {
	return step{on: on, at: at, op: "refresh", name: tok, dur: dur, want: want}
}

func unlock(on int, at time.Duration, tok string, want error) step {
	return step{on: on, at: at, op: "unlock", name: tok, want: want}
}

func release(hold string) step { return step{op: "release", name: hold} }

const h = time.Hour

var cases = []struct {
	name  string
	steps []step
}{
	{"create confirm refresh unlock", []step{
		create(0, 0, "a", "/a", false, h, nil),
		confirm(1, 0, "r", "/a", "", []string{"a"}, nil),
		release("r"),
		refresh(1, 0, "a", 2*h, nil),
		unlock(0, 0, "a", nil),
		unlock(1, 0, "a", webdav.ErrNoSuchLock),
		refresh(0, 0, "a", h, webdav.ErrNoSuchLock),
		confirm(0, 0, "r2", "/a", "", []string{"a"}, webdav.ErrConfirmationFailed),
		create(1, 0, "a2", "/a", false, h, nil),
	}},
	{"infinite depth conflicts", []step{
		create(0, 0, "d", "/d", false, h, nil),
		create(1, 0, "x", "/d/f", true, h, webdav.ErrLocked),
		create(1, 0, "x", "/d/e/g", false, h, webdav.ErrLocked),
		create(1, 0, "x", "/d", true, h, webdav.ErrLocked),
		create(1, 0, "x", "/", false, h, webdav.ErrLocked),
		create(1, 0, "root0", "/", true, h, nil), // depth zero on an ancestor: only the folder itself
		create(1, 0, "dd", "/dd", false, h, nil), // a sibling whose name starts alike
		confirm(0, 0, "r", "/d/e/g", "", []string{"d"}, nil),
		release("r"),
		confirm(0, 0, "r", "/dd/x", "", []string{"d"}, webdav.ErrConfirmationFailed),
		unlock(1, 0, "d", nil),
		create(0, 0, "f", "/d/f", true, h, nil),
	}},
	{"depth zero conflicts", []step{
		create(0, 0, "z", "/z", true, h, nil),
		create(1, 0, "zf", "/z/f", false, h, nil),
		create(1, 0, "x", "/z", true, h, webdav.ErrLocked),
		create(1, 0, "x", "/z", false, h, webdav.ErrLocked),
		create(1, 0, "x", "/z/f/g", true, h, webdav.ErrLocked),
		confirm(0, 0, "r", "/z/q", "", []string{"z"}, webdav.ErrConfirmationFailed),
		confirm(0, 0, "r", "z/", "", []string{"z"}, nil), // names are cleaned
		release("r"),
	}},
	{"a lock on the root covers everything", []step{
		create(0, 0, "root", "", false, h, nil),
		create(1, 0, "x", "/a/b", true, h, webdav.ErrLocked),
		confirm(1, 0, "r", "/a/b", "/c", []string{"root"}, nil),
		release("r"),
	}},
	{"expiry", []step{
		create(0, 0, "e", "/e", true, 10*time.Second, nil),
		confirm(1, 9*time.Second, "r", "/e", "", []string{"e"}, nil),
		release("r"),
		confirm(1, 10*time.Second, "r", "/e", "", []string{"e"}, webdav.ErrConfirmationFailed),
		create(1, 10*time.Second, "e2", "/e", true, 10*time.Second, nil),
		create(0, 10*time.Second, "f", "/f", true, 10*time.Second, nil),
		refresh(1, 15*time.Second, "f", 10*time.Second, nil),
		confirm(0, 24*time.Second, "r", "/f", "", []string{"f"}, nil),
		release("r"),
		unlock(0, 25*time.Second, "f", webdav.ErrNoSuchLock),
		refresh(0, 25*time.Second, "e2", time.Second, webdav.ErrNoSuchLock),
	}},
	{"a confirmed lock is held until released", []step{
		create(0, 0, "h", "/h", false, 10*time.Second, nil),
		confirm(0, 0, "r", "/h/a", "/h/b", []string{"h"}, nil), // one lock for both names, held once
		confirm(1, 0, "r2", "/h", "", []string{"h"}, webdav.ErrConfirmationFailed),
		refresh(1, 0, "h", h, webdav.ErrLocked),
		unlock(1, 0, "h", webdav.ErrLocked),
		create(1, 20*time.Second, "x", "/h", true, h, webdav.ErrLocked), // held: it does not expire
		release("r"),
		unlock(1, 20*time.Second, "h", webdav.ErrNoSuchLock), // released: it has
	}},
	{"confirm holds a lock for each name", []step{
		create(0, 0, "x", "/x", true, h, nil),
		create(0, 0, "y", "/y", true, h, nil),
		confirm(1, 0, "r", "/x", "/y", []string{"y", "x"}, nil),
		refresh(0, 0, "x", h, webdav.ErrLocked),
		unlock(0, 0, "y", webdav.ErrLocked),
		confirm(0, 0, "r2", "/y", "", []string{"y"}, webdav.ErrConfirmationFailed),
		release("r"),
		refresh(0, 0, "x", h, nil),
		unlock(0, 0, "y", nil),
		confirm(0, 0, "r2", "/x", "/y", []string{"x"}, webdav.ErrConfirmationFailed), // nothing covers /y
		confirm(0, 0, "r2", "/x", "", []string{"x"}, nil),                            // that failure held nothing
		release("r2"),
	}},
}

// run plays the steps on two LockSystems of one namespace.
func run(t *testing.T, sys [2]webdav.LockSystem, steps []step) {
	t.Helper()
	t0 := time.Now()
	tokens := map[string]string{}
	releases := map[string]func(){}
	for i, s := range steps {
		now := t0.Add(s.at)
		var err error
		switch s.op {
		case "create":
			var token string
			token, err = sys[s.on].Create(now, webdav.LockDetails{Root: s.root, ZeroDepth: s.zero, Duration: s.dur, OwnerXML: "<D:href>t</D:href>"})
			if err == nil {
				tokens[s.name] = token
			}
		case "refresh":
			var d webdav.LockDetails
			d, err = sys[s.on].Refresh(now, tokens[s.name], s.dur)
			if err == nil && (d.Duration != s.dur || d.OwnerXML != "<D:href>t</D:href>") {
				t.Errorf("step %d: refresh gave %+v, want duration %v and the owner", i, d, s.dur)
			}
		case "unlock":
			err = sys[s.on].Unlock(now, tokens[s.name])
		case "confirm":
			var conds []webdav.Condition
			for _, c := range s.conds {
				conds = append(conds, webdav.Condition{Token: tokens[c]})
			}
			var rel func()
			rel, err = sys[s.on].Confirm(now, s.names[0], s.names[1], conds...)
			if (rel == nil) == (err == nil) {
				t.Fatalf("step %d: confirm gave release %v and error %v: exactly one must be non-nil", i, rel != nil, err)
			}
			if rel != nil {
				releases[s.name] = rel
			}
		case "release":
			releases[s.name]()
			delete(releases, s.name)
		}
		if err != s.want {
			t.Fatalf("step %d (%s %s on %d at +%v): got %v, want %v", i, s.op, s.name, s.on, s.at, err, s.want)
		}
	}
}

// TestSameAsMemLS plays each case on x/net's in-memory LockSystem (both
// "bridges" the same one) and on two Stores on one Redis (two bridges):
// the same answers prove the Redis locks follow MemLS's rules and are
// one set of locks for every bridge.
func TestSameAsMemLS(t *testing.T) {
	_, url := servicetest.Redis(t, servicetest.NewPorts(t))
	for i, c := range cases {
		t.Run(c.name+"/memls", func(t *testing.T) {
			mem := webdav.NewMemLS()
			run(t, [2]webdav.LockSystem{mem, mem}, c.steps)
		})
		t.Run(c.name+"/redis", func(t *testing.T) {
			a, _ := newStore(t, url, Options{})
			b, _ := newStore(t, url, Options{})
			space := ns + string(rune('a'+i))
			run(t, [2]webdav.LockSystem{a.LockSystem(space), b.LockSystem(space)}, c.steps)
		})
	}
}

// TestNamespacesApart: the same path in two namespaces is two resources.
func TestNamespacesApart(t *testing.T) {
	_, url := servicetest.Redis(t, servicetest.NewPorts(t))
	s, _ := newStore(t, url, Options{})
	now := time.Now()
	for _, space := range []string{ns, "192.0.2.7:21\x00/home/bob"} {
		if _, err := s.LockSystem(space).Create(now, webdav.LockDetails{Root: "/f", Duration: h}); err != nil {
			t.Fatalf("%q: %v", space, err)
		}
	}
}

// TestKeys: a namespace's locks are one hash under its hashed name, which
// expires after the last lock would, and the mutex is gone after each
// change.
func TestKeys(t *testing.T) {
	_, url := servicetest.Redis(t, servicetest.NewPorts(t))
	s, client := newStore(t, url, Options{})
	ls := s.LockSystem(ns)
	if _, err := ls.Create(time.Now(), webdav.LockDetails{Root: "/f", Duration: h}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	keys, err := client.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(ns))
	want := "ftpbridge:davlocks:{" + hex.EncodeToString(sum[:16]) + "}"
	if len(keys) != 1 || keys[0] != want {
		t.Fatalf("keys %q, want %q", keys, want)
	}
	ttl, err := client.PTTL(ctx, keys[0]).Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= h || ttl > h+grace {
		t.Errorf("the hash lives %v, want the lock's hour and at most %v more", ttl, grace)
	}
}

// TestBoundedLives: what a bridge that died would leave in Redis ends:
// the lock x/net/webdav takes around a write (infinite, depth zero, no
// owner) after Lease, a Confirm's hold after Lease, a client's infinite
// lock after MaxInfinite. MemLS keeps them until the process ends.
func TestBoundedLives(t *testing.T) {
	_, url := servicetest.Redis(t, servicetest.NewPorts(t))
	s, _ := newStore(t, url, Options{Lease: time.Minute, MaxInfinite: h})
	ls := s.LockSystem(ns)
	t0 := time.Now()
	if _, err := ls.Create(t0, webdav.LockDetails{Root: "/put", ZeroDepth: true, Duration: -1}); err != nil {
		t.Fatal(err)
	}
	if _, err := ls.Create(t0.Add(59*time.Second), webdav.LockDetails{Root: "/put", ZeroDepth: true, Duration: -1}); err != webdav.ErrLocked {
		t.Errorf("within the lease: %v, want it locked", err)
	}
	if _, err := ls.Create(t0.Add(time.Minute), webdav.LockDetails{Root: "/put", ZeroDepth: true, Duration: -1}); err != nil {
		t.Errorf("after the lease: %v, want the write's lock gone", err)
	}

	inf, err := ls.Create(t0, webdav.LockDetails{Root: "/inf", Duration: -1, OwnerXML: "me"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ls.Refresh(t0.Add(59*time.Minute), inf, -1); err != nil {
		t.Fatalf("refresh of an infinite lock: %v", err)
	}
	refreshed := t0.Add(59 * time.Minute)
	if _, err := ls.Create(refreshed.Add(h-time.Second), webdav.LockDetails{Root: "/inf", Duration: -1}); err != webdav.ErrLocked {
		t.Errorf("within MaxInfinite of the refresh: %v, want it locked", err)
	}
	if _, err := ls.Create(refreshed.Add(h), webdav.LockDetails{Root: "/inf", Duration: h}); err != nil {
		t.Errorf("after MaxInfinite: %v, want the lock gone", err)
	}

	held, err := ls.Create(t0, webdav.LockDetails{Root: "/held", Duration: 10 * time.Second, OwnerXML: "me"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ls.Confirm(t0, "/held", "", webdav.Condition{Token: held}); err != nil {
		t.Fatal(err)
	}
	// The bridge that confirmed died: no release.
	if _, err := ls.Confirm(t0.Add(59*time.Second), "/held", "", webdav.Condition{Token: held}); err != webdav.ErrConfirmationFailed {
		t.Errorf("within the hold's lease: %v, want it held", err)
	}
	if err := ls.Unlock(t0.Add(time.Minute), held); err != webdav.ErrNoSuchLock {
		t.Errorf("after the hold's lease and the lock's timeout: %v, want the lock gone", err)
	}
}

// TestOutage: with Redis down, locks are taken in the bridge (one warning
// for the outage); a token Redis issued is unknown there; when Redis is
// back, locks are shared again, and one taken during the outage is still
// unlocked where it lives.
func TestOutage(t *testing.T) {
	ports := servicetest.NewPorts(t)
	proc, url := servicetest.Redis(t, ports)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	// Retry 1 ns: every call probes Redis, so the test needs no waiting.
	a, _ := newStore(t, url, Options{Logger: logger, Retry: time.Nanosecond})
	b, _ := newStore(t, url, Options{})
	la, lb := a.LockSystem(ns), b.LockSystem(ns)
	now := time.Now()
	shared, err := la.Create(now, webdav.LockDetails{Root: "/shared", Duration: h})
	if err != nil {
		t.Fatal(err)
	}

	proc.Stop()
	local, err := la.Create(now, webdav.LockDetails{Root: "/local", Duration: h})
	if err != nil {
		t.Fatalf("create with Redis down: %v, want a lock in this process", err)
	}
	if strings.HasPrefix(local, tokenPrefix) {
		t.Errorf("token %q of the outage looks like Redis's", local)
	}
	if _, err := la.Create(now, webdav.LockDetails{Root: "/local", Duration: h}); err != webdav.ErrLocked {
		t.Errorf("second lock of /local in the outage: %v, want ErrLocked", err)
	}
	if _, err := la.Confirm(now, "/shared", "", webdav.Condition{Token: shared}); err != webdav.ErrConfirmationFailed {
		t.Errorf("confirm of Redis's token in the outage: %v, want ErrConfirmationFailed", err)
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("%d warnings for one outage, want 1:\n%s", n, logs.String())
	}

	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	// Redis came back empty (it keeps nothing on disk): /shared is gone,
	// and locks are shared again.
	back, err := la.Create(now, webdav.LockDetails{Root: "/back", Duration: h})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(back, tokenPrefix) {
		t.Errorf("token %q after the outage is not Redis's", back)
	}
	if err := lb.Unlock(now, back); err != nil {
		t.Errorf("unlock on the other bridge after the outage: %v", err)
	}
	rel, err := la.Confirm(now, "/local", "", webdav.Condition{Token: local})
	if err != nil {
		t.Fatalf("confirm of the outage's lock after it: %v", err)
	}
	rel()
	if err := la.Unlock(now, local); err != nil {
		t.Errorf("unlock of the outage's lock after it: %v", err)
	}
	if !strings.Contains(logs.String(), "redis is back") {
		t.Errorf("no word of Redis being back:\n%s", logs.String())
	}
}

// TestBusy: a namespace whose mutex another bridge keeps (it died in a
// change) is an error, not a fallback: Redis answers, and its locks
// must not be bypassed.
func TestBusy(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the mutex")
	}
	_, url := servicetest.Redis(t, servicetest.NewPorts(t))
	s, client := newStore(t, url, Options{})
	ls := s.LockSystem(ns).(*lockSystem)
	if err := client.Set(context.Background(), ls.mutex, "dead bridge", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := ls.Create(time.Now(), webdav.LockDetails{Root: "/f", Duration: h}); !errors.Is(err, errBusy) {
		t.Errorf("create: %v, want %v", err, errBusy)
	}
}

// TestOneWinner: bridges racing to lock one file get one lock between
// them: the mutex orders their changes.
func TestOneWinner(t *testing.T) {
	_, url := servicetest.Redis(t, servicetest.NewPorts(t))
	a, _ := newStore(t, url, Options{})
	b, _ := newStore(t, url, Options{})
	sys := []webdav.LockSystem{a.LockSystem(ns), b.LockSystem(ns)}
	now := time.Now()
	errs := make(chan error, 16)
	for i := range cap(errs) {
		go func() {
			_, err := sys[i%2].Create(now, webdav.LockDetails{Root: "/race", Duration: h})
			errs <- err
		}()
	}
	won := 0
	for range cap(errs) {
		switch err := <-errs; err {
		case nil:
			won++
		case webdav.ErrLocked:
		default:
			t.Errorf("create: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d locks of /race, want 1", won)
	}
}
