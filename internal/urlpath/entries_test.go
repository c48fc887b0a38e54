package urlpath

import (
	"path"
	"testing"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
)

// entrySite has a user and a port, so that the folder's URL has every
// part a site's can.
var entrySite = Site{Scheme: "ftpes", User: "al ice", Host: "::1", Port: 2121}

// checkEntryURLs checks EntryURLs against Site.URL for one folder, login
// folder and name, and reports whether the folder's prefix was used.
func checkEntryURLs(t *testing.T, home, dir, name string) {
	t.Helper()
	for _, isDir := range []bool{false, true} {
		want := entrySite.URL(home, path.Join(dir, name), isDir)
		if got := entrySite.EntryURLs(home, dir)(name, isDir); got != want {
			t.Errorf("home %q, folder %q, name %q, dir %v: %q, Site.URL gives %q", home, dir, name, isDir, got, want)
		}
	}
}

// TestEntryURLs covers the places where the folder's URL and the entry's
// differ by more than the name: the server's root away from the login
// folder ("%2F/" but "%2Fname"), the login folder itself (the site's
// root), folders beside it, and names path.Join cleans.
func TestEntryURLs(t *testing.T) {
	names := append(testftp.OddNames(), "alice", "home", "..", ".", "", "a/b", "/", "...", "%2F", "%2f", "~", "\xff")
	for _, home := range []string{"", "/", "/home/alice", "/home/alice/", "/alice", "//", "/home/../alice", "home/alice"} {
		for _, dir := range []string{"/", "/home", "/home/alice", "/home/alice/pub", "/home/alicex", "/srv", "/home/", "", "pub", "/a//b", "/a/../b"} {
			for _, name := range names {
				checkEntryURLs(t, home, dir, name)
			}
		}
	}
}

// FuzzEntryURL: for any folder, login folder and name, the URL made from
// the folder's prefix is Site.URL's, byte for byte. Besides the fuzzed
// strings themselves, which are seldom clean paths, it tries them cleaned
// and in the relations that matter: the folder the login folder, its
// parent, and the entry the login folder.
func FuzzEntryURL(f *testing.F) {
	for _, seed := range [][3]string{
		{"/home/alice", "/home/alice", "x"}, {"/home/alice", "/home", "alice"}, {"/home/alice", "/", "home"},
		{"/", "/pub", "a b"}, {"", "/", "%2F"}, {"/alice", "/", "alice"}, {"/x", "/xy", "z"}, {"//", "/", "a"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, home, dir, name string) {
		cdir, chome := path.Clean("/"+dir), path.Clean("/"+home)
		for _, h := range []string{home, chome, chome + "/", cdir, path.Join(cdir, name), ""} {
			for _, d := range []string{dir, cdir, path.Dir(chome), "/"} {
				checkEntryURLs(t, h, d, name)
			}
		}
	})
}
