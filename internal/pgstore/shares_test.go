package pgstore

import (
	"errors"
	"path/filepath"
	"reflect"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ftpbridge/ftpbridge/internal/share"
)

// shareStores are the share.Store implementations every behaviour is
// checked on. setup prepares what a kind needs once (a server) and
// returns how to get an empty store for one behaviour.
var shareStores = []kind[share.Store]{
	{"bolt", func(*testing.T) func(t *testing.T) share.Store {
		return func(t *testing.T) share.Store {
			st, err := share.OpenBolt(filepath.Join(t.TempDir(), "shares.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}
	}},
	postgres((*DB).Shares),
}

var shareBehaviours = []behaviour[share.Store]{
	{"PutGet", testPutGet},
	{"List", testList},
	{"Update", testUpdate},
	{"PutLimited", testPutLimited},
	{"PutLimitedAtOnce", testPutLimitedAtOnce},
	{"CountDownload", testCountDownload},
	{"CountDownloadAtOnce", testCountDownloadAtOnce},
	{"Purge", testPurge},
}

// TestShareStores checks every share.Store on every behaviour of its
// contract.
func TestShareStores(t *testing.T) { conform(t, shareStores, shareBehaviours) }

// now is a time PostgreSQL keeps exactly: it keeps microseconds.
func now() time.Time { return time.Now().Truncate(time.Second) }

func put(t *testing.T, st share.Store, shares ...share.Share) {
	t.Helper()
	for _, s := range shares {
		if err := st.Put(s); err != nil {
			t.Fatal(err)
		}
	}
}

func get(t *testing.T, st share.Store, id string) share.Share {
	t.Helper()
	s, err := st.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sameShare compares shares field by field, times as instants (a store
// may give them back in another location).
func sameShare(a, b share.Share) bool {
	times := func(s *share.Share) []time.Time {
		ts := []time.Time{s.Created, s.Expires, s.LastDownload}
		s.Created, s.Expires, s.LastDownload = time.Time{}, time.Time{}, time.Time{}
		return ts
	}
	ta, tb := times(&a), times(&b)
	return slices.EqualFunc(ta, tb, time.Time.Equal) && reflect.DeepEqual(a, b)
}

func ids(list []share.Share) []string {
	var out []string
	for _, s := range list {
		out = append(out, s.ID)
	}
	return out
}

func testPutGet(t *testing.T, st share.Store) {
	t0 := now()
	full := share.Share{
		ID: share.NewID(), Owner: "o1", Login: share.LoginID("ftp.example.org", 21, "alice"),
		Scheme: "ftps", Host: "ftp.example.org", Port: 21, User: "alice", Secret: []byte{0, 1, 2, 255},
		Path: "/pub/a.txt", Encoding: "latin1", Mode: "active", Dir: true,
		Created: t0, Expires: t0.Add(time.Hour), PasswordHash: []byte("$2a$10$hash"),
		MaxDownloads: 3, Downloads: 1, LastDownload: t0.Add(time.Minute), LastPath: "/pub/a.txt",
		LastETag: `"abc"`, Client: "192.0.2.1", Revoked: true,
	}
	bare := share.Share{ID: share.NewID(), Owner: "o2", Expires: t0.Add(time.Hour)} // anonymous, zero times
	put(t, st, full, bare)
	for _, want := range []share.Share{full, bare} {
		if got := get(t, st, want.ID); !sameShare(got, want) {
			t.Errorf("Get = %+v\nwant %+v", got, want)
		}
	}
	if err := st.Put(bare); err == nil {
		t.Error("Put of an existing ID succeeded")
	}
	if _, err := st.Get(share.NewID()); !errors.Is(err, share.ErrNotFound) {
		t.Errorf("Get of an unknown ID: %v, want ErrNotFound", err)
	}
}

func testList(t *testing.T, st share.Store) {
	t0 := now()
	a := share.Share{ID: share.NewID(), Owner: "o1", Created: t0, Expires: t0.Add(time.Hour)}
	b := share.Share{ID: share.NewID(), Owner: "o1", Created: t0.Add(time.Second), Expires: t0.Add(time.Hour)}
	c := share.Share{ID: share.NewID(), Owner: "o2", Login: "alice", Created: t0.Add(-time.Second), Expires: t0.Add(time.Hour)}
	d := share.Share{ID: share.NewID(), Owner: "o3", Login: "alice", Created: t0.Add(2 * time.Second), Expires: t0.Add(time.Hour)}
	e := share.Share{ID: share.NewID(), Owner: "o4", Login: "bob", Created: t0.Add(3 * time.Second), Expires: t0.Add(time.Hour)}
	put(t, st, a, b, c, d, e)
	for _, tc := range []struct {
		ids  []string
		want []string
	}{
		{[]string{"o1"}, []string{b.ID, a.ID}},
		{[]string{"alice"}, []string{d.ID, c.ID}}, // by login, whoever made them
		{[]string{"o1", "alice"}, []string{d.ID, b.ID, a.ID, c.ID}},
		{[]string{"o2", "alice"}, []string{d.ID, c.ID}}, // c once, though named twice
		{[]string{""}, nil},                             // "" names nothing, though a and b have no login
		{nil, nil},
		{[]string{"nobody"}, nil},
	} {
		list, err := st.List(tc.ids...)
		if got := ids(list); err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("List(%q) = %q, %v; want %q", tc.ids, got, err, tc.want)
		}
	}
}

func testUpdate(t *testing.T, st share.Store) {
	t0 := now()
	s := share.Share{ID: share.NewID(), Owner: "o1", Path: "/a", Expires: t0.Add(time.Hour)}
	put(t, st, s)
	got, err := st.Update(s.ID, func(s *share.Share) error {
		s.Revoked = true
		s.Expires = t0.Add(2 * time.Hour)
		return nil
	})
	if err != nil || !got.Revoked {
		t.Fatalf("Update = %+v, %v", got, err)
	}
	if stored := get(t, st, s.ID); !sameShare(stored, got) {
		t.Errorf("stored %+v, Update returned %+v", stored, got)
	}
	refuse := errors.New("no")
	if _, err := st.Update(s.ID, func(s *share.Share) error { s.Path = "/b"; return refuse }); !errors.Is(err, refuse) {
		t.Errorf("Update whose fn failed: %v, want fn's error", err)
	}
	if stored := get(t, st, s.ID); stored.Path != "/a" {
		t.Errorf("Update whose fn failed changed the path to %q", stored.Path)
	}
	if _, err := st.Update(share.NewID(), func(*share.Share) error { return nil }); !errors.Is(err, share.ErrNotFound) {
		t.Errorf("Update of an unknown ID: %v, want ErrNotFound", err)
	}
}

func testPutLimited(t *testing.T, st share.Store) {
	t0 := now()
	mk := func(owner, client string, expires time.Duration) share.Share {
		return share.Share{ID: share.NewID(), Owner: owner, Client: client, Created: t0, Expires: t0.Add(expires)}
	}
	// o1 holds two live shares, one revoked, and one expired that no
	// longer counts; 192.0.2.1 holds those and one of o2's.
	live1, live2 := mk("o1", "192.0.2.1", time.Hour), mk("o1", "192.0.2.1", 30*time.Minute)
	revoked := mk("o1", "192.0.2.1", 2*time.Hour)
	revoked.Revoked = true
	put(t, st, live1, live2, revoked, mk("o1", "192.0.2.1", -time.Second), mk("o2", "192.0.2.1", 10*time.Minute))
	l := share.Limits{PerOwner: 3, PerClient: 5, Now: t0}
	for _, tc := range []struct {
		name   string
		s      share.Share
		l      share.Limits
		client bool // refused by the client's bound; else the owner's
		free   time.Duration
	}{
		{"owner full", mk("o1", "198.51.100.1", time.Hour), l, false, 30 * time.Minute},
		{"client full", mk("o3", "192.0.2.1", time.Hour), share.Limits{PerOwner: 3, PerClient: 4, Now: t0}, true, 10 * time.Minute},
	} {
		err := st.PutLimited(tc.s, tc.l)
		var tooMany *share.TooManyError
		if !errors.As(err, &tooMany) || tooMany.PerClient != tc.client || tooMany.Free != tc.free {
			t.Errorf("%s: PutLimited = %v (%+v); want TooManyError{PerClient: %v, Free: %v}", tc.name, err, tooMany, tc.client, tc.free)
		}
		if _, err := st.Get(tc.s.ID); !errors.Is(err, share.ErrNotFound) {
			t.Errorf("%s: the refused share was stored (%v)", tc.name, err)
		}
	}
	for _, ok := range []struct {
		s share.Share
		l share.Limits
	}{
		{mk("o2", "192.0.2.1", time.Hour), l},                          // o2 has one, the client four
		{mk("o1", "", time.Hour), share.Limits{PerOwner: 4, Now: t0}},  // one more allowed
		{mk("o1", "", time.Hour), share.Limits{PerClient: 1, Now: t0}}, // no client: no client bound
		{mk("o1", "", time.Hour), share.Limits{Now: t0}},               // no bounds
	} {
		if err := st.PutLimited(ok.s, ok.l); err != nil {
			t.Errorf("PutLimited(%s, %+v) = %v", ok.s.Owner, ok.l, err)
		}
	}
}

// testPutLimitedAtOnce: many shares made at once for the last free place
// of an owner: one gets it.
func testPutLimitedAtOnce(t *testing.T, st share.Store) {
	const tries, most = 20, 5
	t0 := now()
	mk := func() share.Share {
		return share.Share{ID: share.NewID(), Owner: "o1", Client: "192.0.2.1", Created: t0, Expires: t0.Add(time.Hour)}
	}
	for range most - 1 {
		put(t, st, mk())
	}
	var made, refused atomic.Int32
	together(tries, func(int) {
		s := mk()
		var tooMany *share.TooManyError
		switch err := st.PutLimited(s, share.Limits{PerOwner: most, PerClient: most + 1, Now: t0}); {
		case err == nil:
			made.Add(1)
		case errors.As(err, &tooMany):
			refused.Add(1)
		default:
			t.Error(err)
		}
	})
	list, err := st.List("o1")
	if made.Load() != 1 || refused.Load() != tries-1 || len(list) != most || err != nil {
		t.Errorf("%d PutLimited at once with PerOwner %d: %d made, %d refused, %d stored (%v)", tries, most, made.Load(), refused.Load(), len(list), err)
	}
}

func testCountDownload(t *testing.T, st share.Store) {
	t0 := now()
	s := share.Share{ID: share.NewID(), Owner: "o1", Created: t0, Expires: t0.Add(time.Hour), MaxDownloads: 2}
	revoked := share.Share{ID: share.NewID(), Owner: "o1", Expires: t0.Add(time.Hour), Revoked: true}
	expired := share.Share{ID: share.NewID(), Owner: "o1", Expires: t0}
	unlimited := share.Share{ID: share.NewID(), Owner: "o1", Expires: t0.Add(time.Hour), Downloads: 100}
	put(t, st, s, revoked, expired, unlimited)
	for i, at := range []time.Time{t0.Add(time.Second), t0.Add(2 * time.Second)} {
		path := "/f" + string(rune('a'+i))
		got, err := st.CountDownload(s.ID, at, path, "etag")
		if err != nil || got.Downloads != i+1 || !got.LastDownload.Equal(at) || got.LastPath != path || got.LastETag != "etag" {
			t.Fatalf("count %d: %+v, %v", i+1, got, err)
		}
		if stored := get(t, st, s.ID); !sameShare(stored, got) {
			t.Errorf("count %d: stored %+v, returned %+v", i+1, stored, got)
		}
	}
	for _, tc := range []struct {
		id   string
		want error
	}{
		{s.ID, share.ErrUsedUp},
		{revoked.ID, share.ErrRevoked},
		{expired.ID, share.ErrExpired},
		{share.NewID(), share.ErrNotFound},
	} {
		if _, err := st.CountDownload(tc.id, t0.Add(3*time.Second), "/x", "x"); !errors.Is(err, tc.want) {
			t.Errorf("CountDownload: %v, want %v", err, tc.want)
		}
	}
	if got := get(t, st, s.ID); got.Downloads != 2 || got.LastPath != "/fb" {
		t.Errorf("a refused count changed the share: %+v", got)
	}
	if got, err := st.CountDownload(unlimited.ID, t0, "/u", ""); err != nil || got.Downloads != 101 {
		t.Errorf("count without a limit: %+v, %v", got, err)
	}
}

func testCountDownloadAtOnce(t *testing.T, st share.Store) {
	const tries, most = 50, 10
	t0 := now()
	s := share.Share{ID: share.NewID(), Owner: "o1", Created: t0, Expires: t0.Add(time.Hour), MaxDownloads: most}
	put(t, st, s)
	var counted, usedUp atomic.Int32
	together(tries, func(int) {
		switch _, err := st.CountDownload(s.ID, t0, "/f", ""); {
		case err == nil:
			counted.Add(1)
		case errors.Is(err, share.ErrUsedUp):
			usedUp.Add(1)
		default:
			t.Error(err)
		}
	})
	if got := get(t, st, s.ID); counted.Load() != most || usedUp.Load() != tries-most || got.Downloads != most {
		t.Errorf("%d counts at once of a %d-download link: %d counted, %d used up, Downloads %d", tries, most, counted.Load(), usedUp.Load(), got.Downloads)
	}
}

func testPurge(t *testing.T, st share.Store) {
	t0 := now()
	old := share.Share{ID: share.NewID(), Expires: t0.Add(-48 * time.Hour)}
	recent := share.Share{ID: share.NewID(), Expires: t0.Add(-time.Hour)}
	live := share.Share{ID: share.NewID(), Expires: t0.Add(time.Hour)}
	put(t, st, old, recent, live)
	if n, err := st.Purge(t0.Add(-24 * time.Hour)); err != nil || n != 1 {
		t.Fatalf("Purge = %d, %v; want 1", n, err)
	}
	if _, err := st.Get(old.ID); !errors.Is(err, share.ErrNotFound) {
		t.Errorf("the long-expired share is still there (%v)", err)
	}
	for _, s := range []share.Share{recent, live} {
		if _, err := st.Get(s.ID); err != nil {
			t.Errorf("share expiring %v went: %v", s.Expires, err)
		}
	}
	if n, err := st.Purge(t0.Add(-24 * time.Hour)); err != nil || n != 0 {
		t.Errorf("second Purge = %d, %v; want 0", n, err)
	}
}
