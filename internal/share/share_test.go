package share

import (
	"encoding/base64"
	"errors"
	"path/filepath"
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

// TestBoltReopen: what a bbolt store kept is there after a restart. What
// every Store does is checked on this one and PostgreSQL's alike, in
// package pgstore's TestShareStores.
func TestBoltReopen(t *testing.T) {
	file := filepath.Join(t.TempDir(), "shares.db")
	st, err := OpenBolt(file)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	a := Share{ID: NewID(), Owner: "o1", Path: "/a", Created: now, Expires: now.Add(time.Hour), MaxDownloads: 1}
	if err := st.Put(a); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CountDownload(a.ID, now, "/a", "e"); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = OpenBolt(file)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if got, err := st.Get(a.ID); err != nil || got.Downloads != 1 || got.Path != "/a" || !got.Expires.Equal(a.Expires) || got.LastETag != "e" {
		t.Errorf("after reopening: %+v, %v", got, err)
	}
	if _, err := st.CountDownload(a.ID, now, "/a", "e"); !errors.Is(err, ErrUsedUp) {
		t.Errorf("second download of a one-time link after reopening: %v, want ErrUsedUp", err)
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
