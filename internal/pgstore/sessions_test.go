package pgstore

import (
	"context"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ftpbridge/ftpbridge/internal/session"
)

// recordStores are the session.Records implementations every behaviour
// is checked on, as shareStores.
var recordStores = []kind[session.Records]{
	{"memory", func(*testing.T) func(t *testing.T) session.Records {
		return func(*testing.T) session.Records { return session.NewMemory() }
	}},
	postgres((*DB).Sessions),
}

var recordBehaviours = []behaviour[session.Records]{
	{"GetAdd", testGetAdd},
	{"Copies", testCopies},
	{"AddMax", testAddMax},
	{"AddAtOnce", testAddAtOnce},
	{"RenewTouch", testRenewTouch},
	{"SetSiteForget", testSetSiteForget},
	{"Delete", testDelete},
	{"Expire", testExpire},
}

// TestRecordStores checks every session.Records on every behaviour of its
// contract.
func TestRecordStores(t *testing.T) { conform(t, recordStores, recordBehaviours) }

var (
	ctx    = context.Background()
	base   = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	limits = session.Limits{TTL: time.Hour, BareTTL: 10 * time.Minute}
	login  = session.Site{Password: []byte{1, 2, 3}, Encoding: "latin1", Mode: "passive"}
)

// record is a session of owner last seen at, with logins to sites.
func record(owner string, at time.Time, sites ...string) *session.Record {
	r := &session.Record{ID: "id-" + owner, Owner: owner, Created: at.Add(-time.Minute), LastSeen: at}
	for _, k := range sites {
		if r.Sites == nil {
			r.Sites = make(map[string]session.Site)
		}
		r.Sites[k] = login
	}
	return r
}

func add(t *testing.T, rs session.Records, l session.Limits, r *session.Record) []string {
	t.Helper()
	dropped, err := rs.Add(ctx, r, l)
	if err != nil {
		t.Fatal(err)
	}
	return dropped
}

func getRecord(t *testing.T, rs session.Records, id string) *session.Record {
	t.Helper()
	r, err := rs.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func sameRecord(a, b *session.Record) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.ID == b.ID && a.Owner == b.Owner && a.Created.Equal(b.Created) && a.LastSeen.Equal(b.LastSeen) &&
		maps.EqualFunc(a.Sites, b.Sites, func(x, y session.Site) bool {
			return slices.Equal(x.Password, y.Password) && x.Encoding == y.Encoding && x.Mode == y.Mode
		})
}

func wantLen(t *testing.T, rs session.Records, want int) {
	t.Helper()
	if n, err := rs.Len(ctx); err != nil || n != want {
		t.Errorf("Len = %d, %v; want %d", n, err, want)
	}
}

func testGetAdd(t *testing.T, rs session.Records) {
	bare, withSites := record("a", base), record("b", base, "ftp/alice@h:21", "sftp/bob@h:22")
	for _, r := range []*session.Record{bare, withSites} {
		if dropped := add(t, rs, limits, r); dropped != nil {
			t.Errorf("Add below any bound dropped %q", dropped)
		}
	}
	for _, want := range []*session.Record{bare, withSites} {
		if got := getRecord(t, rs, want.ID); !sameRecord(got, want) {
			t.Errorf("Get(%q) = %+v, want %+v", want.ID, got, want)
		}
	}
	if got := getRecord(t, rs, "nope"); got != nil {
		t.Errorf("Get of an unknown id = %+v", got)
	}
	wantLen(t, rs, 2)
}

// testCopies: neither the record given to Add nor one Get returned is
// the store's.
func testCopies(t *testing.T, rs session.Records) {
	r := record("a", base, "ftp/alice@h:21")
	want := record("a", base, "ftp/alice@h:21")
	add(t, rs, limits, r)
	r.LastSeen = base.Add(time.Hour)
	r.Sites["ftp/mallory@h:21"] = login
	got := getRecord(t, rs, "id-a")
	if !sameRecord(got, want) {
		t.Errorf("changing the record given to Add changed the store: %+v", got)
	}
	got.LastSeen = base.Add(time.Hour)
	got.Sites["ftp/mallory@h:21"] = login
	if again := getRecord(t, rs, "id-a"); !sameRecord(again, want) {
		t.Errorf("changing a record Get returned changed the store: %+v", again)
	}
}

// testAddMax: past Max, the stale go first, then the least recently used
// without logins, then the least recently used of all.
func testAddMax(t *testing.T, rs session.Records) {
	l := limits
	l.Max = 3
	at := func(m int) time.Time { return base.Add(time.Duration(m) * time.Minute) }
	add(t, rs, l, record("a", at(0), "ftp/alice@h:21"))
	add(t, rs, l, record("b", at(1)))
	add(t, rs, l, record("c", at(2)))
	steps := []struct {
		r       *session.Record
		login   []string // owners that log in before r is added
		dropped []string
	}{
		{record("d", at(3)), nil, []string{"b"}},                                // bare b before a, older but logged in
		{record("e", at(4), "ftp/eve@h:21"), []string{"c", "d"}, []string{"a"}}, // all logged in: the least recently used
		{record("f", at(63)), nil, []string{"c"}},                               // c is stale (61 min), d not (60): c only
	}
	for _, s := range steps {
		for _, owner := range s.login {
			if err := rs.SetSite(ctx, owner, "ftp/x@h:21", login); err != nil {
				t.Fatal(err)
			}
		}
		if dropped := add(t, rs, l, s.r); !slices.Equal(dropped, s.dropped) {
			t.Errorf("Add(%s) dropped %q, want %q", s.r.Owner, dropped, s.dropped)
		}
		for _, owner := range s.dropped {
			if got := getRecord(t, rs, "id-"+owner); got != nil {
				t.Errorf("%s was dropped but is still there", owner)
			}
		}
		wantLen(t, rs, 3)
	}
}

// testAddAtOnce: Adds at once never keep more than Max, and each record
// pushed out is reported once.
func testAddAtOnce(t *testing.T, rs session.Records) {
	const n, most = 20, 5
	l := limits
	l.Max = most
	var mu sync.Mutex
	var dropped []string
	together(n, func(i int) {
		d, err := rs.Add(ctx, record(string(rune('A'+i)), base.Add(time.Duration(i)*time.Second)), l)
		if err != nil {
			t.Error(err)
		}
		mu.Lock()
		dropped = append(dropped, d...)
		mu.Unlock()
	})
	wantLen(t, rs, most)
	slices.Sort(dropped)
	if len(dropped) != n-most || len(slices.Compact(slices.Clone(dropped))) != len(dropped) {
		t.Errorf("%d Adds at once with Max %d dropped %q; want %d owners, each once", n, most, dropped, n-most)
	}
	for _, owner := range dropped {
		if r := getRecord(t, rs, "id-"+owner); r != nil {
			t.Errorf("%s was dropped but is still there", owner)
		}
	}
}

func testRenewTouch(t *testing.T, rs session.Records) {
	add(t, rs, limits, record("a", base))
	if err := rs.Renew(ctx, "a", "new-id", base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := getRecord(t, rs, "id-a"); got != nil {
		t.Errorf("the old cookie id still finds %+v", got)
	}
	got := getRecord(t, rs, "new-id")
	if got == nil || got.Owner != "a" || !got.LastSeen.Equal(base.Add(time.Minute)) {
		t.Fatalf("after Renew: %+v", got)
	}
	if err := rs.Touch(ctx, "a", base.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := getRecord(t, rs, "new-id"); !got.LastSeen.Equal(base.Add(2 * time.Minute)) {
		t.Errorf("after Touch, last seen %v", got.LastSeen)
	}
	// A record gone already is left gone, without error.
	if err := rs.Renew(ctx, "gone", "other-id", base); err != nil {
		t.Error(err)
	}
	if err := rs.Touch(ctx, "gone", base); err != nil {
		t.Error(err)
	}
	wantLen(t, rs, 1)
}

func testSetSiteForget(t *testing.T, rs session.Records) {
	add(t, rs, limits, record("a", base))
	other := session.Site{Password: []byte{9}, Mode: "active"}
	for _, k := range []string{"ftp/x@h:21", "ftp/y@h:21", "ftp/z@h:21"} {
		if err := rs.SetSite(ctx, "a", k, login); err != nil {
			t.Fatal(err)
		}
	}
	if err := rs.SetSite(ctx, "a", "ftp/y@h:21", other); err != nil { // replaces
		t.Fatal(err)
	}
	want := record("a", base, "ftp/x@h:21", "ftp/z@h:21")
	want.Sites["ftp/y@h:21"] = other
	if got := getRecord(t, rs, "id-a"); !sameRecord(got, want) {
		t.Errorf("after SetSite: %+v, want %+v", got, want)
	}
	for _, tc := range []struct {
		owner, key string
		want       []string
	}{
		{"a", "ftp/y@h:21", []string{"ftp/y@h:21"}},
		{"a", "ftp/nope@h:21", nil},
		{"a", "", []string{"ftp/x@h:21", "ftp/z@h:21"}},
		{"a", "", nil},
		{"gone", "", nil},
	} {
		if got, err := rs.Forget(ctx, tc.owner, tc.key); err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("Forget(%q, %q) = %q, %v; want %q", tc.owner, tc.key, got, err, tc.want)
		}
	}
	if got := getRecord(t, rs, "id-a"); got == nil || len(got.Sites) != 0 {
		t.Errorf("after forgetting every login: %+v", got)
	}
	if err := rs.SetSite(ctx, "gone", "ftp/x@h:21", login); err != nil {
		t.Errorf("SetSite on a record gone: %v", err)
	}
	wantLen(t, rs, 1)
}

func testDelete(t *testing.T, rs session.Records) {
	add(t, rs, limits, record("a", base, "ftp/x@h:21"))
	add(t, rs, limits, record("b", base))
	for _, want := range []bool{true, false} {
		if ok, err := rs.Delete(ctx, "a"); err != nil || ok != want {
			t.Errorf("Delete = %v, %v; want %v", ok, err, want)
		}
	}
	if got := getRecord(t, rs, "id-a"); got != nil {
		t.Errorf("deleted, still there: %+v", got)
	}
	wantLen(t, rs, 1)
}

func testExpire(t *testing.T, rs session.Records) {
	now := base.Add(2 * time.Hour)
	for _, r := range []*session.Record{
		record("in-59m", now.Add(-59*time.Minute), "ftp/x@h:21"),
		record("in-61m", now.Add(-61*time.Minute), "ftp/x@h:21"),
		record("bare-9m", now.Add(-9*time.Minute)),
		record("bare-11m", now.Add(-11*time.Minute)),
	} {
		add(t, rs, limits, r)
	}
	gone, err := rs.Expire(ctx, now, limits)
	slices.Sort(gone)
	if want := []string{"bare-11m", "in-61m"}; err != nil || !slices.Equal(gone, want) {
		t.Errorf("Expire = %q, %v; want %q", gone, err, want)
	}
	wantLen(t, rs, 2)
	// A BareTTL longer than TTL does not keep a session without logins longer.
	if gone, err := rs.Expire(ctx, now.Add(61*time.Minute), session.Limits{TTL: time.Hour, BareTTL: 3 * time.Hour}); err != nil || len(gone) != 2 {
		t.Errorf("Expire with a long BareTTL = %q, %v; want both", gone, err)
	}
}
