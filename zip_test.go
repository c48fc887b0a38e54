package main

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/realftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
)

// getZip downloads a folder as zip and opens the archive.
func getZip(t *testing.T, u string) (*zip.Reader, []byte) {
	t.Helper()
	return getZipWith(t, nil, u)
}

// getZipWith downloads a zip with a client and opens it.
func getZipWith(t *testing.T, c *http.Client, u string) (*zip.Reader, []byte) {
	t.Helper()
	resp, body := get(t, c, u)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("GET %s: %d %s %.200s", u, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatalf("the zip does not open: %v", err)
	}
	return zr, body
}

// zipFiles reads every file of an archive (folders have no bytes).
func zipFiles(t *testing.T, zr *zip.Reader) (map[string][]byte, map[string]*zip.File) {
	t.Helper()
	files, headers := map[string][]byte{}, map[string]*zip.File{}
	for _, f := range zr.File {
		headers[f.Name] = f
		if strings.HasSuffix(f.Name, "/") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatalf("%q: %v", f.Name, err)
		}
		b, err := io.ReadAll(rc) // checks the CRC at the end
		rc.Close()
		if err != nil {
			t.Fatalf("%q: %v", f.Name, err)
		}
		files[f.Name] = b
	}
	return files, headers
}

// TestZipFolder downloads the odd-name tree as one zip, from the embedded
// server, vsftpd and proftpd: every file unpacks to identical bytes under
// the folder's name, names that are not UTF-8 keep their bytes, compressed
// types are stored, an empty folder is kept, a link (vsftpd and proftpd
// show them) is left out and said so in ERRORS.txt, and unzip -t accepts
// the archive.
func TestZipFolder(t *testing.T) {
	photo := make([]byte, 1<<20)
	rand.Read(photo)
	// extras adds to a fixture tree what this test needs.
	extras := func(t *testing.T, root string, files map[string][]byte, link bool) {
		if err := os.WriteFile(filepath.Join(root, "sub", "photo.jpg"), photo, 0o644); err != nil {
			t.Fatal(err)
		}
		files["/sub/photo.jpg"] = photo
		if err := os.Mkdir(filepath.Join(root, "sub", "empty"), 0o755); err != nil {
			t.Fatal(err)
		}
		if link {
			if err := os.Symlink("../big.bin", filepath.Join(root, "sub", "link")); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, start := range []struct {
		name string
		link bool // the server lists links as links
		// target is the link's target as the server lists it: stock
		// proftpd's MLSD says only "type=OS.unix=symlink", without the
		// "slink:../big.bin" that FactsOptions UseSlink would add.
		target string
		fn     func(t *testing.T, link bool) (addr string, files map[string][]byte)
	}{
		{"embedded", false, "", func(t *testing.T, link bool) (string, map[string][]byte) {
			srv := testftp.Start(t, embedftp.Options{})
			extras(t, srv.Root, srv.Files, link)
			return srv.Addr(), srv.Files
		}},
		{"vsftpd", true, "../big.bin", func(t *testing.T, link bool) (string, map[string][]byte) {
			root := t.TempDir()
			files := testftp.Tree(t, root)
			extras(t, root, files, link)
			return realftp.StartVsftpd(t, realftp.Options{Root: root}).Addr, files
		}},
		{"proftpd", true, "", func(t *testing.T, link bool) (string, map[string][]byte) {
			root := t.TempDir()
			files := testftp.Tree(t, root)
			extras(t, root, files, link)
			return realftp.StartProFTPD(t, realftp.Options{Root: root}).Addr, files
		}},
	} {
		t.Run(start.name, func(t *testing.T) {
			addr, files := start.fn(t, start.link)
			b := startBridge(t, "-allow-hosts", "127.0.0.1")
			for _, tc := range []struct{ folder, top string }{
				{"/", "127.0.0.1"},
				{"/sub/", "sub"},
			} {
				t.Run(tc.folder, func(t *testing.T) {
					zr, raw := getZip(t, addrURL(b, "ftp", "", addr, tc.folder, true)+"?format=zip")
					got, headers := zipFiles(t, zr)
					for p, want := range files {
						rel, ok := strings.CutPrefix(p, tc.folder)
						if !ok {
							continue
						}
						name := tc.top + "/" + rel
						if g, ok := got[name]; !ok || !bytes.Equal(g, want) {
							t.Errorf("%q: in the zip %v, identical %v", name, ok, bytes.Equal(g, want))
						}
						delete(got, name)
					}
					notes, hasNotes := got["ERRORS.txt"]
					delete(got, "ERRORS.txt")
					for name := range got {
						t.Errorf("%q is in the zip but not on the server", name)
					}
					in := func(p string) string { return tc.top + "/" + strings.TrimPrefix(p, tc.folder) }
					if h := headers[in("/sub/photo.jpg")]; h == nil || h.Method != zip.Store {
						t.Errorf("photo.jpg: %+v, want stored, not deflated", h)
					}
					if h := headers[in("/sub/deeper/leaf.txt")]; h == nil || h.Method != zip.Deflate {
						t.Errorf("leaf.txt: %+v, want deflated", h)
					}
					if _, ok := headers[in("/sub/empty/")]; !ok {
						t.Error("the empty folder is not in the zip")
					}
					said := ": a link, left out" // where the server does not say where it leads
					if start.target != "" {
						said = fmt.Sprintf(": a link (to %q), left out", start.target)
					}
					switch {
					case start.link && !strings.Contains(string(notes), in("/sub/link")+said):
						t.Errorf("ERRORS.txt does not say the link was left out: %q", notes)
					case !start.link && hasNotes:
						t.Errorf("ERRORS.txt in a zip that is whole: %q", notes)
					}
					unzipTest(t, raw)
				})
			}
		})
	}
}

// unzipTest runs Info-ZIP's unzip -t over the archive.
func unzipTest(t *testing.T, archive []byte) {
	t.Helper()
	unzip, err := exec.LookPath("unzip")
	if err != nil {
		realftp.SkipOrFail(t, "checking zips with unzip -t needs unzip: apt-get install unzip (%v)", err)
	}
	f := filepath.Join(t.TempDir(), "folder.zip")
	if err := os.WriteFile(f, archive, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(unzip, "-t", f).CombinedOutput(); err != nil {
		t.Errorf("unzip -t: %v\n%s", err, out)
	}
}

// TestZipLimits: over the entry or size bound the zip is refused before a
// byte goes out (413, in words); below the depth bound folders are left
// out and ERRORS.txt says which.
func TestZipLimits(t *testing.T) {
	for _, tc := range []struct {
		flag, value string
		status      int
		words       string
	}{
		{"-zip-max-entries", "5", http.StatusRequestEntityTooLarge, "more than 5 files and folders"},
		{"-zip-max-bytes", "1000000", http.StatusRequestEntityTooLarge, "1000000 bytes"},
		{"-zip-max-depth", "1", http.StatusOK, "sub/: what it holds is deeper than the 1 folder levels"},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			srv, b := startFTP(t, embedftp.Options{}, tc.flag, tc.value)
			u := siteURL(b, "ftp", "", srv, "/", true) + "?format=zip"
			if tc.status != http.StatusOK {
				resp, body := get(t, nil, u, "Accept", "application/json")
				var answer struct{ Error string }
				if resp.StatusCode != tc.status || json.Unmarshal(body, &answer) != nil || !strings.Contains(answer.Error, tc.words) {
					t.Errorf("%d %s, want %d saying %q", resp.StatusCode, body, tc.status, tc.words)
				}
				return
			}
			zr, _ := getZip(t, u)
			got, _ := zipFiles(t, zr)
			if notes := string(got["ERRORS.txt"]); !strings.Contains(notes, tc.words) {
				t.Errorf("ERRORS.txt %q, want %q", notes, tc.words)
			}
			if _, ok := got["127.0.0.1/sub/deeper/leaf.txt"]; ok {
				t.Error("a file below the depth bound is in the zip")
			}
			if _, ok := got["127.0.0.1/with space.txt"]; !ok {
				t.Error("a file above the depth bound is missing")
			}
		})
	}
}

// TestZipNamesAFileThatFailed: a file that goes away while the zip streams
// is named in ERRORS.txt; the archive is still whole and the other files
// are identical.
func TestZipNamesAFileThatFailed(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	// Names sort the big file first. Bigger than loopback socket buffers,
	// so the bridge is still sending it when the client pauses.
	big := make([]byte, 32<<20)
	rand.Read(big)
	dir := filepath.Join(srv.Root, "sub", "z")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a-big.jpg"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "z-gone.txt"), []byte("soon gone"), 0o644); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(siteURL(b, "ftp", "", srv, "/sub/z/", true) + "?format=zip")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := io.CopyN(&buf, resp.Body, 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "z-gone.txt")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(&buf, resp.Body); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatalf("the zip does not open: %v", err)
	}
	got, _ := zipFiles(t, zr)
	if !bytes.Equal(got["z/a-big.jpg"], big) {
		t.Error("a-big.jpg differs")
	}
	if notes := string(got["ERRORS.txt"]); !strings.Contains(notes, "z/z-gone.txt: could not be read") {
		t.Errorf("ERRORS.txt %q does not name z-gone.txt", notes)
	}
	unzipTest(t, buf.Bytes())
}
