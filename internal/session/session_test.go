package session

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ftpbridge/ftpbridge/internal/seal"
)

const site = "ftp/alice@host:21"

// testStore is a store over memory whose clock the test moves, and the
// owners it ended, in order.
type testStore struct {
	*Store
	mem   *Memory
	clock time.Time
	ended []string
}

func newTestStore(t *testing.T, l Limits) *testStore {
	t.Helper()
	sealer, err := seal.LoadKey(filepath.Join(t.TempDir(), "share.key"))
	if err != nil {
		t.Fatal(err)
	}
	ts := &testStore{mem: NewMemory(), clock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	ts.Store = NewStore(sealer, Options{Limits: l, Records: ts.mem, OnExpire: func(owner string) { ts.ended = append(ts.ended, owner) }})
	ts.now = func() time.Time { return ts.clock }
	return ts
}

// begin keeps a new session, as the transfer socket's handshake does, and
// returns it with a request that carries its cookie.
func (ts *testStore) begin(t *testing.T) (*Session, *http.Request) {
	t.Helper()
	h := http.Header{}
	s, _, err := ts.Begin(httptest.NewRequest(http.MethodGet, "/ws", nil), h)
	if err != nil {
		t.Fatal(err)
	}
	return s, withCookies(h)
}

// withCookies is a request carrying the cookies a response set.
func withCookies(h http.Header) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range (&http.Response{Header: h}).Cookies() {
		r.AddCookie(c)
	}
	return r
}

func (ts *testStore) login(t *testing.T, s *Session, password string) {
	t.Helper()
	if err := s.SetLogin(context.Background(), site, Login{Password: password}); err != nil {
		t.Fatal(err)
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestTTLs: a session without logins ends after BareTTL unused, one with
// a login only after TTL; a stale one is gone for requests at once, and
// from the store at the next Expire, which ends its sockets.
func TestTTLs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		login  bool
		idle   time.Duration
		remain bool
	}{
		{"bare, 29 minutes", false, 29 * time.Minute, true},
		{"bare, 31 minutes", false, DefaultBareTTL + time.Minute, false},
		{"login, 31 minutes", true, DefaultBareTTL + time.Minute, true},
		{"login, past TTL", true, 12*time.Hour + time.Minute, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestStore(t, Limits{TTL: 12 * time.Hour})
			s, r := ts.begin(t)
			if tc.login {
				ts.login(t, s, "pw")
			}
			release, _ := s.OpenSocket(0)
			defer release()
			ts.clock = ts.clock.Add(tc.idle)
			if got := ts.Get(r) != nil; got != tc.remain {
				t.Errorf("Get after %v idle: a session %v, want %v", tc.idle, got, tc.remain)
			}
			if err := ts.Expire(context.Background()); err != nil {
				t.Fatal(err)
			}
			if kept := ts.Len() == 1; kept != tc.remain || isClosed(s.Ended()) == tc.remain || (len(ts.ended) == 0) != tc.remain {
				t.Errorf("after Expire: %d sessions, ended %v, OnExpire %v; want kept %v", ts.Len(), isClosed(s.Ended()), ts.ended, tc.remain)
			}
		})
	}
}

// TestTouchKeepsAlive: an open socket's Touch keeps a session without
// logins past BareTTL, even after a login renewed its id.
func TestTouchKeepsAlive(t *testing.T) {
	ts := newTestStore(t, Limits{TTL: 12 * time.Hour})
	s, r := ts.begin(t)
	w := httptest.NewRecorder()
	if _, err := ts.Renew(w, r); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		ts.clock = ts.clock.Add(DefaultBareTTL - time.Minute)
		ts.Touch(s)
	}
	if ts.Get(withCookies(w.Header())) == nil {
		t.Error("a touched session ended")
	}
}

// TestBeginKeepsAtOnceDropLeavesNothing: the session a handshake begins is
// there for the next request before the handshake's answer goes out, and
// a handshake that fails leaves no session.
func TestBeginKeepsAtOnceDropLeavesNothing(t *testing.T) {
	ts := newTestStore(t, Limits{TTL: time.Hour})
	h := http.Header{}
	s, drop, err := ts.Begin(httptest.NewRequest(http.MethodGet, "/ws", nil), h)
	if err != nil {
		t.Fatal(err)
	}
	if got := ts.Get(withCookies(h)); got == nil || got.Owner != s.Owner {
		t.Fatalf("Begin: the cookie %q finds %v, want the session begun", h.Get("Set-Cookie"), got)
	}
	drop()
	if ts.Len() != 0 || ts.Get(withCookies(h)) != nil {
		t.Errorf("after drop: %d sessions kept, want none", ts.Len())
	}
}

// TestMaxPushesOut: past Max, stale sessions go first, then the least
// recently used without logins, else the least recently used of all.
func TestMaxPushesOut(t *testing.T) {
	for _, tc := range []struct {
		name   string
		logins []bool // the three sessions kept, oldest first
		stale  int    // index of one made stale, or -1
		touch  int    // index of one used last, or -1
		want   int    // index of the one pushed out
	}{
		{name: "oldest bare", logins: []bool{true, false, false}, stale: -1, touch: -1, want: 1},
		{name: "bare used last stays", logins: []bool{false, false, true}, stale: -1, touch: 0, want: 1},
		{name: "all with logins: oldest", logins: []bool{true, true, true}, stale: -1, touch: -1, want: 0},
		{name: "all with logins: used last stays", logins: []bool{true, true, true}, stale: -1, touch: 0, want: 1},
		{name: "stale first", logins: []bool{false, false, true}, stale: 2, touch: -1, want: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestStore(t, Limits{TTL: time.Hour, Max: 3})
			var owners []string
			for i, login := range tc.logins {
				s, _ := ts.begin(t)
				if login {
					ts.login(t, s, "pw")
				}
				owners = append(owners, s.Owner)
				if i == tc.stale {
					_ = ts.mem.Touch(context.Background(), s.Owner, ts.clock.Add(-2*time.Hour))
				}
				ts.clock = ts.clock.Add(time.Second)
			}
			if tc.touch >= 0 {
				_ = ts.mem.Touch(context.Background(), owners[tc.touch], ts.clock)
			}
			ts.clock = ts.clock.Add(time.Second)
			ts.begin(t)
			if ts.Len() != 3 || !slices.Equal(ts.ended, []string{owners[tc.want]}) {
				t.Errorf("a fourth session: %d kept, ended %v; want 3 kept and session %d ended", ts.Len(), ts.ended, tc.want)
			}
		})
	}
}

// TestRenew: a login gives the session a new cookie id, keeping its owner
// and logins; the old id, planted by someone else say, is worthless.
func TestRenew(t *testing.T) {
	ts := newTestStore(t, Limits{TTL: time.Hour})
	s, planted := ts.begin(t)
	ts.login(t, s, "pw")
	w := httptest.NewRecorder()
	renewed, err := ts.Renew(w, planted)
	if err != nil {
		t.Fatal(err)
	}
	if ts.Get(planted) != nil {
		t.Error("the id from before the renewal still names a session")
	}
	got := ts.Get(withCookies(w.Header()))
	if got == nil || got.Owner != s.Owner || renewed.Owner != s.Owner || !slices.Equal(got.Sites(), []string{site}) {
		t.Fatalf("after renewal: %+v, want the session with owner %s and its login", got, s.Owner)
	}
	if ts.Len() != 1 {
		t.Errorf("%d sessions after a renewal, want 1", ts.Len())
	}
	// Without a session, Renew starts one.
	fresh, err := ts.Renew(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/connect", nil))
	if err != nil || fresh.Owner == s.Owner || ts.Len() != 2 {
		t.Errorf("Renew without a session: %v %v, %d sessions; want a new one", fresh, err, ts.Len())
	}
}

// TestDestroy: logging out ends the session, its sockets and FTP
// connections, and clears the cookie.
func TestDestroy(t *testing.T) {
	ts := newTestStore(t, Limits{TTL: time.Hour})
	s, r := ts.begin(t)
	release, ok := s.OpenSocket(1)
	if !ok {
		t.Fatal("socket refused")
	}
	defer release()
	ended := s.Ended()
	w := httptest.NewRecorder()
	if err := ts.Destroy(w, r); err != nil {
		t.Fatal(err)
	}
	if !isClosed(ended) || !slices.Equal(ts.ended, []string{s.Owner}) || ts.Len() != 0 || ts.Get(r) != nil {
		t.Errorf("after Destroy: socket told %v, OnExpire %v, %d sessions", isClosed(ended), ts.ended, ts.Len())
	}
	if c := w.Result().Cookies(); len(c) != 1 || c[0].MaxAge >= 0 {
		t.Errorf("Destroy's cookies %v, want the session cookie cleared", c)
	}
}

// TestSocketsPerSession: sockets count per session across requests; a
// released one frees its place.
func TestSocketsPerSession(t *testing.T) {
	ts := newTestStore(t, Limits{TTL: time.Hour})
	_, r := ts.begin(t)
	first, ok1 := ts.Get(r).OpenSocket(2)
	_, ok2 := ts.Get(r).OpenSocket(2)
	_, ok3 := ts.Get(r).OpenSocket(2)
	if !ok1 || !ok2 || ok3 {
		t.Fatalf("three sockets with a cap of 2: %v %v %v", ok1, ok2, ok3)
	}
	first()
	first() // a second release changes nothing
	if _, ok := ts.Get(r).OpenSocket(2); !ok {
		t.Error("a released socket did not free its place")
	}
	if _, ok := ts.Get(r).OpenSocket(2); ok {
		t.Error("a socket past the cap after a double release")
	}
}

// TestPasswordSealed: the record holds the password sealed, for its own
// session and site only.
func TestPasswordSealed(t *testing.T) {
	ts := newTestStore(t, Limits{TTL: time.Hour})
	ctx := context.Background()
	alice, r := ts.begin(t)
	ts.login(t, alice, "s3cret pass")
	bob, bobReq := ts.begin(t)
	ts.login(t, bob, "other")

	rec, err := ts.mem.Get(ctx, ts.cookieID(r))
	if err != nil || rec == nil {
		t.Fatal(rec, err)
	}
	sealed := rec.Sites[site]
	if bytes.Contains(sealed.Password, []byte("s3cret")) {
		t.Fatal("the record holds the password in clear")
	}
	if p, ok := ts.Get(r).Password(site); !ok || p != "s3cret pass" {
		t.Errorf("Password = %q, %v", p, ok)
	}
	// Copied into Bob's record, for the same site and for another.
	for _, key := range []string{site, "ftp/alice@other:21"} {
		if err := ts.mem.SetSite(ctx, bob.Owner, key, sealed); err != nil {
			t.Fatal(err)
		}
		if p, ok := ts.Get(bobReq).Password(key); ok {
			t.Errorf("Alice's sealed password opened in Bob's session for %s: %q", key, p)
		}
	}
}

// TestForget: disconnecting drops one login, or all.
func TestForget(t *testing.T) {
	ts := newTestStore(t, Limits{TTL: time.Hour})
	ctx := context.Background()
	s, r := ts.begin(t)
	for _, k := range []string{site, "ftp/bob@host:21", "ftps/carol@host:990"} {
		if err := s.SetLogin(ctx, k, Login{Password: "pw", Encoding: "windows-1252", Mode: "active"}); err != nil {
			t.Fatal(err)
		}
	}
	if got := ts.Get(r); got.Encoding(site) != "windows-1252" || got.Mode(site) != "active" {
		t.Errorf("encoding %q, mode %q", got.Encoding(site), got.Mode(site))
	}
	if gone, err := s.Forget(ctx, site); err != nil || !slices.Equal(gone, []string{site}) {
		t.Errorf("Forget(%s) = %v, %v", site, gone, err)
	}
	if got := ts.Get(r).Sites(); !slices.Equal(got, []string{"ftp/bob@host:21", "ftps/carol@host:990"}) {
		t.Errorf("sites after forgetting one: %v", got)
	}
	if gone, err := s.Forget(ctx, ""); err != nil || len(gone) != 2 || len(s.Sites()) != 0 || len(ts.Get(r).Sites()) != 0 {
		t.Errorf("Forget all = %v, %v; sites left %v", gone, err, ts.Get(r).Sites())
	}
}

// TestTwoBridgesOneStore: two Stores over one Records store and one key
// file are two bridges of a cluster. A session begun on A is found on B
// from A's cookie, with the password A sealed; a bridge with another key
// reads neither. Destroyed on B, it is gone on A; A's sockets close when A
// hears of it (EndedElsewhere), without A telling the others again.
func TestTwoBridgesOneStore(t *testing.T) {
	dir := t.TempDir()
	records := NewMemory()
	bridge := func(keyFile string, ended *[]string) *Store {
		sealer, err := seal.LoadKey(filepath.Join(dir, keyFile))
		if err != nil {
			t.Fatal(err)
		}
		return NewStore(sealer, Options{Limits: Limits{TTL: time.Hour}, Records: records,
			OnExpire: func(owner string) { *ended = append(*ended, owner) }})
	}
	var endedA, endedB, endedC []string
	a, b, other := bridge("share.key", &endedA), bridge("share.key", &endedB), bridge("other.key", &endedC)

	h := http.Header{}
	s, _, err := a.Begin(httptest.NewRequest(http.MethodGet, "/ws", nil), h)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetLogin(context.Background(), site, Login{Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	r := withCookies(h)
	onB := b.Get(r)
	if onB == nil || onB.Owner != s.Owner {
		t.Fatalf("B does not find A's session from its cookie: %+v", onB)
	}
	if pw, ok := onB.Password(site); !ok || pw != "pw" {
		t.Errorf("B opens A's sealed password as %q, %v", pw, ok)
	}
	// A fresh request: gorilla/sessions caches a request's decoded cookie.
	if got := other.Get(withCookies(h)); got != nil {
		t.Errorf("a bridge with another key read A's cookie: %+v", got)
	}

	release, ok := a.Get(r).OpenSocket(1)
	if !ok {
		t.Fatal("socket refused")
	}
	defer release()
	endedOnA := s.Ended()
	if err := b.Destroy(httptest.NewRecorder(), r); err != nil {
		t.Fatal(err)
	}
	if a.Get(r) != nil {
		t.Error("A still serves a session B destroyed")
	}
	if isClosed(endedOnA) {
		t.Error("A's socket closed before A heard of the end")
	}
	a.EndedElsewhere(s.Owner)
	if !isClosed(endedOnA) {
		t.Error("EndedElsewhere did not close A's socket")
	}
	if !slices.Equal(endedB, []string{s.Owner}) || len(endedA) != 0 {
		t.Errorf("OnExpire ran on B for %v and on A for %v; want B only", endedB, endedA)
	}
}

// touchCounter counts the Touch calls that reach the records.
type touchCounter struct {
	Records
	touches int
}

func (c *touchCounter) Touch(ctx context.Context, owner string, now time.Time) error {
	c.touches++
	return c.Records.Touch(ctx, owner, now)
}

// TestRequestsTouchSparingly: requests mark their session used at most
// once a minute (a write each, with a database), yet a session used every
// 29 minutes, for longer than its bare TTL, lives on.
func TestRequestsTouchSparingly(t *testing.T) {
	ts := newTestStore(t, Limits{TTL: 12 * time.Hour})
	counter := &touchCounter{Records: ts.mem}
	ts.records = counter
	_, r := ts.begin(t)
	for range 10 {
		ts.clock = ts.clock.Add(time.Second)
		if ts.Get(r) == nil {
			t.Fatal("the session ended")
		}
	}
	if counter.touches != 0 {
		t.Errorf("10 requests within a minute of the session's start touched it %d times, want 0", counter.touches)
	}
	for i := range 3 {
		ts.clock = ts.clock.Add(DefaultBareTTL - time.Minute)
		if ts.Get(r) == nil {
			t.Fatalf("a session used every %v ended at use %d", DefaultBareTTL-time.Minute, i+1)
		}
	}
	if counter.touches != 3 {
		t.Errorf("3 requests far apart touched it %d times, want 3", counter.touches)
	}
}
