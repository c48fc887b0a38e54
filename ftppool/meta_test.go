package ftppool

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/fakeftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/realftp"
)

// TestAnnouncedSize: the size a 150 reply names is taken only where the
// text before it ends with the RETR's argument, as vsftpd and proftpd
// write it; a name that ends in "(5 bytes)" cannot pass for a size.
func TestAnnouncedSize(t *testing.T) {
	for _, tc := range []struct {
		name, replies, arg string
		want               int64
	}{
		{"vsftpd", "229 Entering Extended Passive Mode (|||5001|)\r\n150 Opening BINARY mode data connection for /a/b.txt (1024 bytes).\r\n", "/a/b.txt", 1024},
		{"no full stop", "150 Opening BINARY mode data connection for /a/b.txt (7 bytes)\r\n", "/a/b.txt", 7},
		{"125", "125 Data connection already open; transfer starting for /x (0 bytes).\r\n", "/x", 0},
		{"no size", "150 Here it comes\r\n", "/x", -1},
		{"a name that looks like a size", "150 Opening data connection for /x (5 bytes)\r\n", "/x (5 bytes)", -1},
		{"that name, with the size", "150 Opening data connection for /x (5 bytes) (9 bytes).\r\n", "/x (5 bytes)", 9},
		{"another file", "150 Opening BINARY mode data connection for /other (3 bytes).\r\n", "/x", -1},
		{"not a 1xx reply", "226 Done for /x (3 bytes).\r\n", "/x", -1},
		{"cut off", "150 Opening BINARY mode data connection for /x (3 by", "/x", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := announcedSize([]byte(tc.replies), tc.arg); got != tc.want {
				t.Errorf("announcedSize = %d, want %d", got, tc.want)
			}
		})
	}
}

// metaServer is a fake server whose RETR reply names the size (or not),
// with SIZE and MDTM, serving /f, which the test changes between requests.
type metaServer struct {
	*fakeftp.Server
	mu      sync.Mutex
	content []byte
	mod     time.Time
}

func (s *metaServer) set(content []byte, mod time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.content, s.mod = content, mod
}

// file is /f's content and time, if arg names it.
func (s *metaServer) file(arg string) ([]byte, time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.content, s.mod, arg == "/f"
}

func startMetaServer(t *testing.T, announce bool) *metaServer {
	s := &metaServer{Server: fakeftp.Start(t)}
	s.Script["FEAT"] = func(c *fakeftp.Conn, _ string) { c.Raw("211-Features:\r\n MDTM\r\n SIZE\r\n211 End\r\n") }
	s.Script["SIZE"] = func(c *fakeftp.Conn, arg string) {
		if b, _, ok := s.file(arg); ok {
			c.Reply(213, fmt.Sprint(len(b)))
			return
		}
		c.Reply(550, "No such file")
	}
	s.Script["MDTM"] = func(c *fakeftp.Conn, arg string) {
		if _, mod, ok := s.file(arg); ok {
			c.Reply(213, mod.Format("20060102150405"))
			return
		}
		c.Reply(550, "No such file")
	}
	s.Script["RETR"] = func(c *fakeftp.Conn, arg string) {
		b, _, ok := s.file(arg)
		if !ok {
			c.Reply(550, "No such file")
			return
		}
		text := "Here it comes"
		if announce {
			text = fmt.Sprintf("Opening BINARY mode data connection for %s (%d bytes).", arg, len(b))
		}
		c.TransferSaying(text, func(w io.Writer) error { _, err := w.Write(b); return err })
	}
	return s
}

// TestRetrieveRemembersTimes: a server whose RETR reply names the size is
// asked SIZE and MDTM for a file once; the next download within MetaFresh
// asks RETR alone, and its size is still the reply's. A file that changed
// meanwhile is asked about again; a write by the bridge forgets
// everything; a server that names no size is always asked.
func TestRetrieveRemembersTimes(t *testing.T) {
	get := func(t *testing.T, h *Handle, want []byte) *File {
		t.Helper()
		f, err := h.Retrieve(context.Background(), "/f")
		if err != nil {
			t.Fatalf("Retrieve: %v", err)
		}
		defer f.Close()
		var got bytes.Buffer
		if _, err := copyAll(f, &got, make([]byte, 64)); err != nil {
			t.Fatal(err)
		}
		if f.Size != int64(len(want)) || !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("size %d and %q, want %d and %q", f.Size, got.Bytes(), len(want), want)
		}
		return f
	}
	asked := func(s *fakeftp.Server) string {
		return fmt.Sprintf("SIZE %d, MDTM %d", s.Count("SIZE"), s.Count("MDTM"))
	}
	first := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	setup := func(t *testing.T, announce bool) (*metaServer, *Handle) {
		s := startMetaServer(t, announce)
		s.set([]byte("first"), first)
		s.Script["RNFR"] = func(c *fakeftp.Conn, _ string) { c.Reply(350, "Ready") }
		s.Script["RNTO"] = func(c *fakeftp.Conn, _ string) { c.Reply(250, "Renamed") }
		s.Script["CWD"] = func(c *fakeftp.Conn, _ string) { c.Reply(550, "No folders here") }
		p, ep := poolOn(t, s.Addr(), Config{NoopAfter: time.Minute, MetaFresh: time.Hour})
		return s, p.Handle("o", ep, Login{User: "u", Password: "p"})
	}

	t.Run("announcing server", func(t *testing.T) {
		s, h := setup(t, true)
		if f := get(t, h, []byte("first")); !f.ModTime.Equal(first) {
			t.Errorf("time %v, want %v", f.ModTime, first)
		}
		get(t, h, []byte("first"))
		if f := get(t, h, []byte("first")); !f.ModTime.Equal(first) {
			t.Errorf("remembered time %v, want %v", f.ModTime, first)
		}
		if got := asked(s.Server); got != "SIZE 1, MDTM 1" {
			t.Errorf("three downloads asked %s, want SIZE 1, MDTM 1", got)
		}

		later := first.Add(time.Minute)
		s.set([]byte("changed by someone else"), later)
		if f := get(t, h, []byte("changed by someone else")); !f.ModTime.Equal(later) {
			t.Errorf("a changed file was sent with time %v, want its new time %v", f.ModTime, later)
		}
		if got := asked(s.Server); got != "SIZE 2, MDTM 2" {
			t.Errorf("after the change, the download asked %s in all, want SIZE 2, MDTM 2", got)
		}

		if err := h.Rename(context.Background(), "/g", "/h"); err != nil {
			t.Fatal(err)
		}
		before := asked(s.Server)
		get(t, h, []byte("changed by someone else"))
		if got := asked(s.Server); got == before {
			t.Errorf("after a write by the bridge the download asked nothing more (%s)", got)
		}
	})

	t.Run("silent server", func(t *testing.T) {
		s, h := setup(t, false)
		for range 3 {
			get(t, h, []byte("first"))
		}
		if got := asked(s.Server); got != "SIZE 3, MDTM 3" {
			t.Errorf("three downloads asked %s, want SIZE 3, MDTM 3", got)
		}
	})
}

// TestRealServersAnnounceSizes: vsftpd and proftpd name the size in their
// reply to RETR in the form announcedSize takes, so a second download of
// a file asks them nothing but EPSV and RETR; pure-ftpd does not, and is
// asked each time.
func TestRealServersAnnounceSizes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		start    func(testing.TB, realftp.Options) *realftp.Server
		announce bool
	}{
		{"vsftpd", realftp.StartVsftpd, true},
		{"proftpd", realftp.StartProFTPD, true},
		{"pure-ftpd", realftp.StartPureFTPd, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			content := []byte("a file of the served tree\n")
			if err := os.WriteFile(filepath.Join(root, "f.txt"), content, 0o644); err != nil {
				t.Fatal(err)
			}
			srv := tc.start(t, realftp.Options{Root: root})
			p, ep := poolOn(t, srv.Addr, Config{NoopAfter: time.Minute, MetaFresh: time.Hour})
			h := p.Handle("o", ep, Login{User: srv.User, Password: srv.Password})
			for range 2 {
				f, err := h.Retrieve(context.Background(), "/f.txt")
				if err != nil {
					t.Fatal(err)
				}
				if got := f.announced; (got == int64(len(content))) != tc.announce {
					t.Errorf("the RETR reply named size %d; the file has %d, and the server is expected to name it: %v", got, len(content), tc.announce)
				}
				f.Close()
			}
			if _, known := p.meta.fresh(h.key, "/f.txt"); known != tc.announce {
				t.Errorf("file time remembered: %v, want %v", known, tc.announce)
			}
		})
	}
}
