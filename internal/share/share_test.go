package share

import (
	"encoding/base64"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ftpbridge/ftpbridge/internal/seal"
)

func TestIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if !ValidID(id) || len(id) != 22 || seen[id] {
			t.Fatalf("NewID() = %q: valid %v, length %d, repeated %v", id, ValidID(id), len(id), seen[id])
		}
		seen[id] = true
	}
	id := NewID()
	for _, bad := range []string{"", "short", id + "A", id[:21], id[:21] + "=", "../" + id[3:], id[:21] + "/", id[:21] + "+", id[:5] + "\r" + id[5:], id[:10] + "\n" + id[11:]} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}

func TestBoltStore(t *testing.T) {
	file := filepath.Join(t.TempDir(), "shares.db")
	st, err := OpenBolt(file)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	a := Share{ID: NewID(), Owner: "o1", Path: "/a", Created: now, Expires: now.Add(time.Hour), MaxDownloads: 1}
	b := Share{ID: NewID(), Owner: "o1", Path: "/b", Created: now.Add(time.Second), Expires: now.Add(time.Hour)}
	c := Share{ID: NewID(), Owner: "o2", Login: "alice", Path: "/c", Created: now.Add(-time.Second), Expires: now.Add(time.Hour)}
	d := Share{ID: NewID(), Owner: "o3", Login: "alice", Path: "/d", Created: now.Add(2 * time.Second), Expires: now.Add(time.Hour)}
	for _, s := range []Share{a, b, c, d} {
		if err := st.Put(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Put(a); err == nil {
		t.Error("Put of an existing ID succeeded")
	}
	list, err := st.List("o1")
	if err != nil || len(list) != 2 || list[0].ID != b.ID || list[1].ID != a.ID {
		t.Fatalf("List(o1) = %+v, %v; want b then a", list, err)
	}
	// By login, whoever made them; an empty id names nothing, though
	// a and b have no Login.
	for _, tc := range []struct {
		ids  []string
		want []string
	}{
		{[]string{"alice"}, []string{d.ID, c.ID}},
		{[]string{"o1", "alice"}, []string{d.ID, b.ID, a.ID, c.ID}},
		{[]string{""}, nil},
		{nil, nil},
	} {
		list, err := st.List(tc.ids...)
		var got []string
		for _, s := range list {
			got = append(got, s.ID)
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("List(%q) = %q, %v; want %q", tc.ids, got, err, tc.want)
		}
	}
	count := func(s *Share) error {
		if err := s.Usable(now); err != nil {
			return err
		}
		s.Downloads++
		return nil
	}
	if got, err := st.Update(a.ID, count); err != nil || got.Downloads != 1 {
		t.Fatalf("first download: %+v, %v", got, err)
	}
	if _, err := st.Update(a.ID, count); !errors.Is(err, ErrUsedUp) {
		t.Fatalf("second download of a one-time link: %v, want ErrUsedUp", err)
	}
	if _, err := st.Get("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of an unknown ID: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopened, as after a restart.
	st, err = OpenBolt(file)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if got, err := st.Get(a.ID); err != nil || got.Downloads != 1 || got.Path != "/a" || !got.Expires.Equal(a.Expires) {
		t.Errorf("after reopening: %+v, %v", got, err)
	}
}

func TestUsable(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		s    Share
		want error
	}{
		{Share{Expires: now.Add(time.Minute)}, nil},
		{Share{Expires: now}, ErrExpired},
		{Share{Expires: now.Add(time.Minute), Revoked: true}, ErrRevoked},
		{Share{Expires: now.Add(time.Minute), MaxDownloads: 2, Downloads: 2}, ErrUsedUp},
		{Share{Expires: now.Add(time.Minute), MaxDownloads: 2, Downloads: 1}, nil},
	} {
		if got := tc.s.Usable(now); !errors.Is(got, tc.want) {
			t.Errorf("%+v: %v, want %v", tc.s, got, tc.want)
		}
	}
}

func TestPurge(t *testing.T) {
	st, err := OpenBolt(filepath.Join(t.TempDir(), "shares.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	old := Share{ID: NewID(), Expires: now.Add(-48 * time.Hour)}
	recent := Share{ID: NewID(), Expires: now.Add(-time.Hour)}
	live := Share{ID: NewID(), Expires: now.Add(time.Hour)}
	for _, s := range []Share{old, recent, live} {
		if err := st.Put(s); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := st.Purge(now.Add(-24 * time.Hour)); err != nil || n != 1 {
		t.Fatalf("Purge = %d, %v; want 1", n, err)
	}
	if _, err := st.Get(old.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("the long-expired share is still there (%v)", err)
	}
	for _, s := range []Share{recent, live} {
		if _, err := st.Get(s.ID); err != nil {
			t.Errorf("share expiring %v went: %v", s.Expires, err)
		}
	}
}

// TestSealContext: a sealed password opens only for the share and target
// it was sealed for.
func TestSealContext(t *testing.T) {
	s, err := seal.LoadKey(filepath.Join(t.TempDir(), "share.key"))
	if err != nil {
		t.Fatal(err)
	}
	sh := Share{ID: NewID(), Scheme: "ftp", Host: "ftp.example.org", Port: 21, User: "alice", Path: "/pub", Dir: true}
	sealed := s.Seal(sh.SealContext(), "pw")
	for _, change := range []func(*Share){
		func(x *Share) { x.ID = NewID() },
		func(x *Share) { x.Host = "evil.example" },
		func(x *Share) { x.Port = 2121 },
		func(x *Share) { x.User = "bob" },
		func(x *Share) { x.Path = "/" },
		func(x *Share) { x.Dir = false },
	} {
		other := sh
		change(&other)
		if _, err := s.Open(other.SealContext(), sealed); err == nil {
			t.Errorf("sealed for %+v, opened for %+v", sh, other)
		}
	}
	if got, err := s.Open(sh.SealContext(), sealed); err != nil || got != "pw" {
		t.Errorf("Open = %q, %v", got, err)
	}
}

// FuzzValidID: what ValidID accepts is exactly a token NewID could make:
// 22 characters of unpadded base64url holding 16 bytes, written the one
// way that encoding writes them.
func FuzzValidID(f *testing.F) {
	f.Add(NewID())
	f.Add("")
	f.Add("AAAAAAAAAAAAAAAAAAAAAB")
	f.Add("../../etc/passwd")
	f.Fuzz(func(t *testing.T, s string) {
		if !ValidID(s) {
			return
		}
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) != tokenBytes || base64.RawURLEncoding.EncodeToString(b) != s {
			t.Fatalf("ValidID(%q) but it is not a canonical 16-byte token (%v)", s, err)
		}
	})
}
