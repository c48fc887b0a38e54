package ftppool

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/realftp"
	"github.com/ftpbridge/ftpbridge/internal/logtest"
)

// activeOnlyServer is a vsftpd that refuses passive mode, serving a tree
// with one file of random bytes; it returns the file's bytes too.
func activeOnlyServer(t *testing.T, o realftp.Options) (*realftp.Server, []byte) {
	t.Helper()
	root := t.TempDir()
	content := make([]byte, 3<<20+17)
	if _, err := rand.Read(content); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "data.bin"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	o.Root, o.ActiveOnly, o.Writable = root, true, true
	return realftp.StartVsftpd(t, o), content
}

func readAll(t *testing.T, h *Handle, p string, offset int64) []byte {
	t.Helper()
	f, err := h.Open(context.Background(), p)
	if err != nil {
		t.Fatalf("open %s: %v", p, err)
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(f)
	if err != nil {
		t.Fatalf("read %s from %d: %v", p, offset, err)
	}
	return got
}

// checkTransfers lists, downloads (whole and from an offset, which is
// REST), uploads and downloads the upload again, an empty one included.
func checkTransfers(t *testing.T, h *Handle, content []byte) {
	t.Helper()
	entries, err := h.List(context.Background(), "/")
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	found := false
	for _, e := range entries {
		found = found || e.Name == "data.bin"
	}
	if !found {
		t.Fatalf("listing of / lacks data.bin: %+v", entries)
	}
	if got := readAll(t, h, "/data.bin", 0); !bytes.Equal(got, content) {
		t.Fatalf("download: %d bytes, not the file's %d", len(got), len(content))
	}
	const off = 1<<20 + 3
	if got := readAll(t, h, "/data.bin", off); !bytes.Equal(got, content[off:]) {
		t.Fatalf("download from %d: %d bytes, not the file's last %d", off, len(got), len(content)-off)
	}
	for _, up := range [][]byte{content[:123457], {}} {
		if _, err := h.Put(context.Background(), "/up.bin", bytes.NewReader(up), true, nil); err != nil {
			t.Fatalf("upload of %d bytes: %v", len(up), err)
		}
		if got := readAll(t, h, "/up.bin", 0); !bytes.Equal(got, up) {
			t.Fatalf("upload of %d bytes reads back as %d bytes", len(up), len(got))
		}
	}
}

func TestActiveModeOnActiveOnlyVsftpd(t *testing.T) {
	srv, content := activeOnlyServer(t, realftp.Options{})
	lo, hi := realftp.ReservePorts(t)
	p, ep := poolOn(t, srv.Addr, Config{ActivePorts: [2]int{lo, hi}})
	login := Login{User: srv.User, Password: srv.Password}

	t.Run("passive fails", func(t *testing.T) {
		ep := ep
		ep.Mode = Passive
		if _, err := p.Handle("", ep, login).List(context.Background(), "/"); err == nil {
			t.Fatal("a passive listing of an active-only server succeeded: the server is not active-only")
		}
	})
	t.Run("active", func(t *testing.T) {
		ep := ep
		ep.Mode = Active
		checkTransfers(t, p.Handle("", ep, login), content)
	})
	t.Run("automatic", func(t *testing.T) {
		if p.learnedActive(ep) {
			t.Fatal("the pool knew the server as active-only before an automatic connection met it")
		}
		checkTransfers(t, p.Handle("", ep, login), content)
		if !p.learnedActive(ep) {
			t.Error("automatic mode reached the server but did not remember that it needs active mode")
		}
	})
}

func TestAutomaticModeWithoutActivePortsNamesTheFlag(t *testing.T) {
	srv, _ := activeOnlyServer(t, realftp.Options{})
	p, ep := poolOn(t, srv.Addr, Config{})
	_, err := p.Handle("", ep, Login{User: srv.User, Password: srv.Password}).List(context.Background(), "/")
	if !errors.Is(err, ErrNeedsActive) {
		t.Fatalf("listing an active-only server without -active-ports: %v, want ErrNeedsActive", err)
	}
	if !strings.Contains(err.Error(), "-active-ports") {
		t.Errorf("the error does not name the flag: %v", err)
	}
	ep.Mode = Active
	if _, err := p.Handle("", ep, Login{User: srv.User, Password: srv.Password}).List(context.Background(), "/"); !errors.Is(err, ErrNoActivePorts) {
		t.Fatalf("active mode without -active-ports: %v, want ErrNoActivePorts", err)
	}
}

// A stranger that connects to the data port before the server does gets
// nothing, is logged, and the transfer still works.
func TestActiveModeStrangerGetsNothing(t *testing.T) {
	srv, content := activeOnlyServer(t, realftp.Options{})
	lo, hi := realftp.ReservePorts(t)
	var logs logtest.Buffer
	var strangers []net.Conn
	cfg := Config{ActivePorts: [2]int{lo, hi}, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	cfg.activeListening = func(a net.Addr) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", a.String())
		if err != nil {
			t.Errorf("the stranger could not connect to %s: %v", a, err)
			return
		}
		strangers = append(strangers, c)
	}
	p, ep := poolOn(t, srv.Addr, cfg)
	ep.Mode = Active
	h := p.Handle("", ep, Login{User: srv.User, Password: srv.Password})
	if got := readAll(t, h, "/data.bin", 0); !bytes.Equal(got, content) {
		t.Fatalf("download with a stranger first: %d bytes, not the file's %d", len(got), len(content))
	}
	if len(strangers) == 0 {
		t.Fatal("no stranger connected")
	}
	for _, c := range strangers {
		if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(c)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the stranger's connection is still open after the transfer")
		}
		if len(got) > 0 {
			t.Errorf("the stranger received %d bytes", len(got))
		}
		c.Close()
	}
	if !strings.Contains(logs.String(), "another address") || !strings.Contains(logs.String(), "127.0.0.2") {
		t.Errorf("the stranger's connection was not logged; logs:\n%s", logs.String())
	}
}

// pieces is a connection that hands out what the server sent in pieces
// of at most n bytes, as a network may.
type pieces struct {
	net.Conn
	r *strings.Reader
	n int
}

func (p *pieces) Read(b []byte) (int, error) { return p.r.Read(b[:min(len(b), p.n)]) }

// TestReplyTakesOneReply: the bridge's own reading of a reply (EPSV in
// auto mode, EPRT, AUTH TLS, SITE CHMOD) takes that reply whole, however
// the bytes arrive, and leaves whatever follows it for the library to
// read, in order, through the same connection.
func TestReplyTakesOneReply(t *testing.T) {
	for _, tc := range []struct {
		name, sent string
		code       int
		reply      string
		err        string
	}{
		{name: "one line", sent: "229 Entering Extended Passive Mode (|||40085|)\r\n", code: 229, reply: "229 Entering Extended Passive Mode (|||40085|)\r\n"},
		{name: "what follows stays", sent: "200 ok\r\n421 Timeout.\r\n", code: 200, reply: "200 ok\r\n"},
		{name: "several lines", sent: "211-Features:\r\n EPSV\r\n211-x\r\n211 End\r\n150 next\r\n", code: 211, reply: "211-Features:\r\n EPSV\r\n211-x\r\n211 End\r\n"},
		{name: "bare newlines", sent: "250-a\n250 b\nrest", code: 250, reply: "250-a\n250 b\n"},
		{name: "no code", sent: "hello\r\n", err: "unreadable reply"},
		{name: "cut short", sent: "229 Entering", err: "EOF"},
		{name: "too long", sent: "211-" + strings.Repeat("x", 70<<10), err: errReplyTooLong.Error()},
	} {
		for _, n := range []int{1, 7, 4096} {
			a := &activeCtl{Conn: &pieces{r: strings.NewReader(tc.sent), n: n}}
			code, reply, err := a.reply()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("%s, pieces of %d: error %v, want one saying %q", tc.name, n, err, tc.err)
				}
				continue
			}
			if err != nil || code != tc.code || string(reply) != tc.reply {
				t.Errorf("%s, pieces of %d: %d %q %v, want %d %q", tc.name, n, code, reply, err, tc.code, tc.reply)
				continue
			}
			rest, err := io.ReadAll(a)
			if err != nil || string(rest) != tc.sent[len(tc.reply):] {
				t.Errorf("%s, pieces of %d: the library then reads %q (%v), want %q", tc.name, n, rest, err, tc.sent[len(tc.reply):])
			}
		}
	}
}
