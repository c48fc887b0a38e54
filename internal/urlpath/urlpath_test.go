package urlpath

import (
	"strings"
	"testing"
)

func TestPathRoundTrip(t *testing.T) {
	for _, name := range []string{
		"plain.txt", "with space", `#?%&;"'<>`, "latin1-\xe9t\xe9.txt", strings.Repeat("x", 200),
		"日本語", "%41", "a+b=c", "trailing.", "~tilde", "back\\slash", "..a\\b..",
	} {
		p := "/dir/" + name
		enc := EncodePath(p, false)
		got, dir, err := DecodePath(enc)
		if err != nil || got != p || dir {
			t.Errorf("%q -> %q -> %q, %v, %v", p, enc, got, dir, err)
		}
		if strings.ContainsAny(enc[1:], "#?% \"'<>&") && !strings.Contains(enc, "%") {
			t.Errorf("%q: reserved characters left raw in %q", name, enc)
		}
	}
	if got, dir, err := DecodePath("a/b/"); err != nil || got != "/a/b" || !dir {
		t.Errorf("folder: %q %v %v", got, dir, err)
	}
}

func TestDecodePathRefuses(t *testing.T) {
	for _, bad := range []string{"..", "a/../b", "%2e%2e/x", "a%2Fb", "a%0Db", "a%0ab", "x%00", "%7f", "%zz", "..%5Cx", "a%5C..%5Cb", "a%5C..", "%5C..%5C"} {
		if p, _, err := DecodePath(bad); err == nil {
			t.Errorf("DecodePath(%q) = %q, want an error", bad, p)
		}
	}
}

func TestParseSite(t *testing.T) {
	for _, tc := range []struct {
		scheme, raw string
		want        Site
		str         string
	}{
		{"ftp", "host", Site{"ftp", "", "host", 21}, "host"},
		{"ftps", "Host.Example:990", Site{"ftps", "", "host.example", 990}, "host.example"},
		{"ftpes", "alice@h:2121", Site{"ftpes", "alice", "h", 2121}, "alice@h:2121"},
		{"ftp", "me%40corp@h", Site{"ftp", "me@corp", "h", 21}, "me%40corp@h"},
		{"ftp", "[::1]:2121", Site{"ftp", "", "::1", 2121}, "[::1]:2121"},
		{"ftp", "[::1]", Site{"ftp", "", "::1", 21}, "[::1]"},
	} {
		got, err := ParseSite(tc.scheme, tc.raw)
		if err != nil || got != tc.want {
			t.Errorf("ParseSite(%q, %q) = %+v, %v; want %+v", tc.scheme, tc.raw, got, err, tc.want)
			continue
		}
		if got.String() != tc.str {
			t.Errorf("%+v.String() = %q, want %q", got, got.String(), tc.str)
		}
	}
	for _, bad := range [][2]string{{"http", "h"}, {"ftp", ""}, {"ftp", "h:0"}, {"ftp", "h:99999"}, {"ftp", "a%0d@h"}, {"ftp", "h%2Fx"}} {
		if s, err := ParseSite(bad[0], bad[1]); err == nil {
			t.Errorf("ParseSite(%q, %q) = %+v, want an error", bad[0], bad[1], s)
		}
	}
}

// FuzzPathCodec: any name that CheckName accepts survives the URL codec
// byte for byte, and DecodePath never accepts a path that could step out of
// its folder or carry a command: no "." or ".." segment, none with ".."
// between backslashes, no control byte.
func FuzzPathCodec(f *testing.F) {
	for _, s := range []string{"plain.txt", "a b", "latin1-\xe9", "%41", "..", "a\\..\\b", "x\r\nDELE y", "日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if CheckName(s) == nil {
			p := "/dir/" + s
			got, dir, err := DecodePath(EncodePath(p, false))
			if err != nil || got != p || dir {
				t.Fatalf("%q -> %q -> %q, %v, %v", p, EncodePath(p, false), got, dir, err)
			}
			// Site paths, relative and absolute, round-trip too, and a
			// name never turns a relative path into an absolute one.
			for _, sp := range []string{s, "dir/" + s, "/" + s} {
				enc := EncodeSitePath(sp, true)
				got, dir, err := DecodeSitePath(enc[1:])
				if err != nil || got != sp || !dir {
					t.Fatalf("site path %q -> %q -> %q, %v, %v", sp, enc, got, dir, err)
				}
			}
		}
		if got, _, err := DecodeSitePath(s); err == nil {
			for _, seg := range Split(got) {
				if CheckName(seg) != nil {
					t.Fatalf("DecodeSitePath(%q) = %q: segment %q is not a safe name", s, got, seg)
				}
			}
		}
		got, _, err := DecodePath(s)
		if err != nil {
			return
		}
		for _, seg := range Split(got) {
			if CheckName(seg) != nil {
				t.Fatalf("DecodePath(%q) = %q: segment %q is not a safe name", s, got, seg)
			}
		}
	})
}

func TestSitePaths(t *testing.T) {
	for _, tc := range []struct {
		escaped string
		want    string // as DecodeSitePath returns it
		dir     bool
		home    string
		abs     string // resolved against home
	}{
		{"", "", true, "/home/alice", "/home/alice"},
		{"notes.txt", "notes.txt", false, "/home/alice", "/home/alice/notes.txt"},
		{"inbox/x/", "inbox/x", true, "/home/alice", "/home/alice/inbox/x"},
		{"%2Fsrv/data/", "/srv/data", true, "/home/alice", "/srv/data"},
		{"%2fsrv/x", "/srv/x", false, "/home/alice", "/srv/x"},
		{"%2F/", "/", true, "/home/alice", "/"},
		{"%2F", "/", true, "/home/alice", "/"},
		{"pub/", "pub", true, "/", "/pub"},
	} {
		p, dir, err := DecodeSitePath(tc.escaped)
		if err != nil || p != tc.want || dir != tc.dir {
			t.Errorf("DecodeSitePath(%q) = %q, %v, %v; want %q, %v", tc.escaped, p, dir, err, tc.want, tc.dir)
			continue
		}
		abs := Resolve(tc.home, p)
		if abs != tc.abs {
			t.Errorf("Resolve(%q, %q) = %q, want %q", tc.home, p, abs, tc.abs)
		}
		// Back to a URL: relative when below home, as the URL was written
		// (an absolute URL below home comes back relative).
		back := EncodeSitePath(Relative(tc.home, abs), dir)
		again, _, err := DecodeSitePath(back[1:])
		if err != nil || Resolve(tc.home, again) != abs {
			t.Errorf("%q -> %q -> %q: %v", abs, back, again, err)
		}
	}
	for _, tc := range []struct{ home, abs, url string }{
		{"/home/alice", "/home/alice", "/"},
		{"/home/alice", "/home/alice/a b", "/a%20b"},
		{"/home/alice", "/home", "/%2Fhome"},
		{"/home/alice", "/home/alicex", "/%2Fhome/alicex"},
		{"/home/alice", "/", "/%2F/"},
		{"/", "/", "/"},
		{"/", "/pub/x", "/pub/x"},
	} {
		if got := EncodeSitePath(Relative(tc.home, tc.abs), false); got != tc.url {
			t.Errorf("home %q, %q: URL %q, want %q", tc.home, tc.abs, got, tc.url)
		}
	}
	for _, bad := range []string{"%2F..", "%2F%2Fetc", "%2Fa/../b", "%2Fa%0D"} {
		if p, _, err := DecodeSitePath(bad); err == nil {
			t.Errorf("DecodeSitePath(%q) = %q, want an error", bad, p)
		}
	}
}
