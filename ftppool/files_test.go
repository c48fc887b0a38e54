package ftppool

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/fakeftp"
)

// socketPair is a connected pair of loopback TCP sockets: what CopyTo
// writes to the first, the second reads.
func socketPair(t *testing.T) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dialed, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	accepted, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dialed.Close(); accepted.Close() })
	return dialed.(*net.TCPConn), accepted.(*net.TCPConn)
}

// copyAll calls CopyTo until it ends, as the download handler does.
func copyAll(f *File, w io.Writer, buf []byte) (int64, error) {
	var total int64
	for {
		// As transfer.Writer asks: the rest of the file, at most a chunk.
		ask := int64(1 << 20)
		if left := f.Size - total; left > 0 && left < ask {
			ask = left
		}
		n, err := f.CopyTo(w, ask, buf)
		total += n
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// openOn serves content as /f on a fake server whose RETR sends it by
// send, and opens it through a pool with the given silence limit.
func openOn(t *testing.T, content []byte, ioTimeout time.Duration, send func(dc net.Conn) error) *File {
	t.Helper()
	srv := fakeftp.Start(t)
	srv.Files["/f"] = content
	if send != nil {
		srv.Script["RETR"] = func(c *fakeftp.Conn, _ string) {
			c.Transfer(func(w io.Writer) error { return send(w.(net.Conn)) })
		}
	}
	p, ep := poolOn(t, srv.Addr(), Config{IOTimeout: ioTimeout})
	f, err := p.Handle("", ep, Login{User: "anonymous", Password: "x"}).Open(context.Background(), "/f")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestCopyToMovesTheFile: socket to socket the bytes never touch the
// buffer (the kernel moved them), but for a file too small to be worth a
// splice; to any other writer they go through it. Either way every byte
// arrives and the end is io.EOF.
func TestCopyToMovesTheFile(t *testing.T) {
	for _, tc := range []struct {
		name      string
		size      int
		viaBuffer bool
		toSocket  bool
	}{
		{"socket to socket", 3<<20 + 64<<10 + 17, false, true},
		{"a small file, socket to socket", 1024, true, true},
		{"through the buffer", 3<<20 + 64<<10 + 17, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			content := make([]byte, tc.size)
			rand.Read(content)
			f := openOn(t, content, 5*time.Second, nil)
			buf := make([]byte, 64<<10)
			var got bytes.Buffer
			var w io.Writer
			received := make(chan error, 1)
			if !tc.toSocket {
				w = struct{ io.Writer }{&got} // hides bytes.Buffer's ReadFrom
				received <- nil
			} else {
				out, in := socketPair(t)
				w = out
				go func() { _, err := io.Copy(&got, in); received <- err }()
				defer out.Close()
			}
			n, err := copyAll(f, w, buf)
			if err != nil || n != int64(len(content)) {
				t.Fatalf("CopyTo moved %d bytes, err %v; want %d, nil", n, err, len(content))
			}
			if c, ok := w.(*net.TCPConn); ok {
				c.Close()
			}
			if err := <-received; err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), content) {
				t.Fatal("the bytes that arrived differ from the file")
			}
			if touched := !bytes.Equal(buf, make([]byte, len(buf))); touched != tc.viaBuffer {
				t.Errorf("buffer used: %v, want %v", touched, tc.viaBuffer)
			}
		})
	}
}

// TestCopyToTellsWhichSideFailed: a reader that goes away is a
// *WriteError; a server that cuts the transfer, or stays silent for the
// io-timeout, is not.
func TestCopyToTellsWhichSideFailed(t *testing.T) {
	content := make([]byte, 16<<20)
	const ioTimeout = 300 * time.Millisecond
	for _, tc := range []struct {
		name         string
		send         func(dc net.Conn) error
		readerGone   bool
		sendDeadline bool
		wantWrite    bool
	}{
		{name: "the reader hangs up", readerGone: true, wantWrite: true},
		// A cancel sets the response's write deadline to now: the bytes
		// a failed send drained are lost, so this must end the copy.
		{name: "the send's deadline passes", sendDeadline: true, wantWrite: true},
		{name: "the server resets the data connection", send: func(dc net.Conn) error {
			dc.Write(content[:1<<20])
			dc.(*net.TCPConn).SetLinger(0) // closing now sends a reset
			return errors.New("cut")
		}},
		{name: "the server falls silent", send: func(dc net.Conn) error {
			dc.Write(content[:100])
			io.Copy(io.Discard, dc) // until the bridge gives up and closes
			return errors.New("gave up")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := openOn(t, content, ioTimeout, tc.send)
			out, in := socketPair(t)
			switch {
			case tc.readerGone:
				in.Close()
			case tc.sendDeadline:
				out.SetWriteDeadline(time.Now())
			default:
				go io.Copy(io.Discard, in)
			}
			_, err := copyAll(f, out, make([]byte, 64<<10))
			if err == nil {
				t.Fatal("CopyTo succeeded")
			}
			if _, isWrite := errors.AsType[*WriteError](err); isWrite != tc.wantWrite {
				t.Errorf("error %v: a WriteError %v, want %v", err, isWrite, tc.wantWrite)
			}
		})
	}
}

// TestCopyToSilenceIsCountedFromTheLastBytes: a server that trickles the
// file, never silent for the io-timeout, finishes even though the whole
// transfer takes longer than that; one that then falls silent fails no
// sooner than the io-timeout after its last bytes.
func TestCopyToSilenceIsCountedFromTheLastBytes(t *testing.T) {
	const ioTimeout = time.Second
	content := make([]byte, 40)
	trickle := func(dc net.Conn) error {
		for i := range content {
			if i > 0 {
				time.Sleep(50 * time.Millisecond) // the pace under test: 2 s in all
			}
			if _, err := dc.Write(content[i : i+1]); err != nil {
				return err
			}
		}
		return nil
	}
	t.Run("trickling", func(t *testing.T) {
		f := openOn(t, content, ioTimeout, trickle)
		out, in := socketPair(t)
		go io.Copy(io.Discard, in)
		if n, err := copyAll(f, out, make([]byte, 64<<10)); err != nil || n != int64(len(content)) {
			t.Fatalf("moved %d bytes, err %v; want %d, nil", n, err, len(content))
		}
	})
	t.Run("trickling, then silent", func(t *testing.T) {
		lastBytes := make(chan time.Time, 1)
		f := openOn(t, append(content, 0), ioTimeout, func(dc net.Conn) error {
			trickle(dc)
			lastBytes <- time.Now()
			io.Copy(io.Discard, dc)
			return errors.New("gave up")
		})
		out, in := socketPair(t)
		go io.Copy(io.Discard, in)
		_, err := copyAll(f, out, make([]byte, 64<<10))
		if err == nil || ErrorKind(err) != KindTimeout {
			t.Fatalf("err %v (%v), want a timeout", err, ErrorKind(err))
		}
		if silent := time.Since(<-lastBytes); silent < ioTimeout {
			t.Errorf("gave up after %v of silence, before the io-timeout %v", silent, ioTimeout)
		}
	})
}

// TestCloseAfterTheLastByteIsNoAbort: http.ServeContent reads a file's
// size in bytes and never asks for more, so Close comes before the end of
// the transfer was seen. That is a finished transfer: Close takes the
// server's 226 and gives the connection back as it is, without the NOOP
// an abort needs, and the next file reuses it without logging in again.
func TestCloseAfterTheLastByteIsNoAbort(t *testing.T) {
	srv := fakeftp.Start(t)
	srv.Files["/f"] = []byte("0123456789")
	p, ep := poolOn(t, srv.Addr(), Config{NoopAfter: time.Minute}) // no health check on reuse
	h := p.Handle("", ep, Login{User: "anonymous", Password: "x"})
	for range 2 {
		f, err := h.Open(context.Background(), "/f")
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if n, err := f.CopyTo(struct{ io.Writer }{&got}, f.Size, make([]byte, 64)); err != nil || n != f.Size {
			t.Fatalf("moved %d of %d bytes: %v", n, f.Size, err)
		}
		f.Close()
	}
	if n := srv.Count("NOOP"); n != 0 {
		t.Errorf("%d NOOPs after whole files, want none", n)
	}
	if n := srv.Count("USER"); n != 1 {
		t.Errorf("%d logins for two files, want 1", n)
	}
}

// warm leaves n idle logged-in connections in h's pool, as earlier
// requests would.
func warm(t *testing.T, h *Handle, n int) {
	t.Helper()
	var held []*conn
	for range n {
		c, err := h.hold(context.Background(), func(*conn) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	for _, c := range held {
		h.p.release(c, true)
	}
}

// TestRetrieveOverlapsSizeWithTheTransfer: with a second idle connection,
// Retrieve asks the size while RETR starts on the first. The server here
// answers SIZE only once a RETR has arrived, so asking one after the
// other cannot succeed. The file, its size and both connections come back.
func TestRetrieveOverlapsSizeWithTheTransfer(t *testing.T) {
	content := []byte("the content of f")
	srv := fakeftp.Start(t)
	srv.Files["/f"] = content
	retrieving := make(chan struct{})
	srv.Script["RETR"] = func(c *fakeftp.Conn, _ string) {
		close(retrieving)
		c.Transfer(func(w io.Writer) error { _, err := w.Write(content); return err })
	}
	srv.Script["SIZE"] = func(c *fakeftp.Conn, _ string) {
		select {
		case <-retrieving:
			c.Reply(213, fmt.Sprint(len(content)))
		case <-time.After(5 * time.Second):
			c.Reply(550, "no RETR came while SIZE waited")
		}
	}
	// Idle connections this recent are reused without a NOOP first.
	p, ep := poolOn(t, srv.Addr(), Config{NoopAfter: time.Minute})
	h := p.Handle("o", ep, Login{User: "u", Password: "p"})
	warm(t, h, 2)

	f, err := h.Retrieve(context.Background(), "/f")
	if err != nil {
		t.Fatalf("Retrieve: %v", err)
	}
	if f.Size != int64(len(content)) {
		t.Errorf("size %d, want %d", f.Size, len(content))
	}
	var got bytes.Buffer
	if _, err := copyAll(f, &got, make([]byte, 64)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if !bytes.Equal(got.Bytes(), content) {
		t.Errorf("read %q, want %q", got.Bytes(), content)
	}
	if s := p.Stats(); s.Open != 2 || s.Idle != 2 {
		t.Errorf("pool after: %+v, want both connections idle", s)
	}
}

// TestRetrieveVerdicts: what Retrieve says of a folder, a missing file and
// a file, with and without a spare connection, and after a spare the
// server had dropped; every connection that is still good goes back.
func TestRetrieveVerdicts(t *testing.T) {
	cases := []struct {
		name     string
		path     string
		spare    bool
		dropOnce bool // the first SIZE finds its connection dropped
		wantErr  Kind // when not opened
		opened   bool
		wantIdle int
	}{
		{"file, no spare", "/f", false, false, 0, true, 1},
		{"file, spare", "/f", true, false, 0, true, 2},
		{"folder, spare", "/d", true, false, KindIsDir, false, 2},
		{"folder, no spare", "/d", false, false, KindIsDir, false, 1},
		{"missing, spare", "/missing", true, false, KindNotFound, false, 2},
		{"file, dropped spare", "/f", true, true, 0, true, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := fakeftp.Start(t)
			srv.Files["/f"] = []byte("f")
			var dropped atomic.Bool
			srv.Script["SIZE"] = func(c *fakeftp.Conn, arg string) {
				if tc.dropOnce && !dropped.Swap(true) {
					c.Close()
					return
				}
				if b, ok := srv.Files[arg]; ok {
					c.Reply(213, fmt.Sprint(len(b)))
					return
				}
				c.Reply(550, "No such file")
			}
			srv.Script["CWD"] = func(c *fakeftp.Conn, arg string) {
				if arg == "/d" {
					c.Reply(250, "OK")
					return
				}
				c.Reply(550, "Not a folder")
			}
			// Without a spare, the session may hold one connection only,
			// or the pool would open a spare in the background.
			cfg := Config{NoopAfter: time.Minute, MaxConnsPerSession: 1, MaxConnsPerHost: 4}
			if tc.spare {
				cfg.MaxConnsPerSession = 2
			}
			p, ep := poolOn(t, srv.Addr(), cfg)
			h := p.Handle("o", ep, Login{User: "u", Password: "p"})
			warm(t, h, cfg.MaxConnsPerSession)
			f, err := h.Retrieve(context.Background(), tc.path)
			if tc.opened {
				if err != nil {
					t.Fatalf("Retrieve: %v", err)
				}
				if f.Size != 1 {
					t.Errorf("size %d, want 1", f.Size)
				}
				f.Close()
			} else if k := ErrorKind(err); k != tc.wantErr {
				t.Fatalf("Retrieve: %v (kind %v), want kind %v", err, k, tc.wantErr)
			}
			if s := p.Stats(); s.Idle != tc.wantIdle || s.Open != tc.wantIdle {
				t.Errorf("pool after: %+v, want %d open and idle", s, tc.wantIdle)
			}
		})
	}
}

// TestRetrieveOpensASpare: a download that found no second idle
// connection opens one in the background, so the next download of a
// session that fetches one file after another overlaps its lookup with
// its RETR (the server here answers SIZE only once a RETR has arrived).
func TestRetrieveOpensASpare(t *testing.T) {
	content := []byte("the content of f")
	srv := fakeftp.Start(t)
	srv.Files["/f"] = content
	var overlap atomic.Bool
	retrieving := make(chan struct{}, 1)
	srv.Script["RETR"] = func(c *fakeftp.Conn, _ string) {
		select {
		case retrieving <- struct{}{}:
		default:
		}
		c.Transfer(func(w io.Writer) error { _, err := w.Write(content); return err })
	}
	srv.Script["SIZE"] = func(c *fakeftp.Conn, _ string) {
		if overlap.Load() {
			select {
			case <-retrieving:
			case <-time.After(5 * time.Second):
				c.Reply(550, "no RETR came while SIZE waited")
				return
			}
		}
		c.Reply(213, fmt.Sprint(len(content)))
	}
	p, ep := poolOn(t, srv.Addr(), Config{NoopAfter: time.Minute})
	h := p.Handle("o", ep, Login{User: "u", Password: "p"})

	f, err := h.Retrieve(context.Background(), "/f")
	if err != nil {
		t.Fatalf("first Retrieve: %v", err)
	}
	f.Close()
	waitPool(t, p, "two idle connections", func() bool { s := p.Stats(); return s.Idle == 2 && s.Open == 2 })

	<-retrieving // the first download's
	overlap.Store(true)
	f, err = h.Retrieve(context.Background(), "/f")
	if err != nil {
		t.Fatalf("second Retrieve, with the spare: %v", err)
	}
	f.Close()
	if s := p.Stats(); s.Open != 2 {
		t.Errorf("pool after: %+v, want the two connections and no more", s)
	}
}
