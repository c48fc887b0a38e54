package delayproxy

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/fakeftp"
)

// serve listens on loopback until the test ends and handles each
// connection it accepts with handle, in a goroutine of its own.
func serve(tb testing.TB, handle func(c net.Conn)) net.Listener {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
	return ln
}

// echoServer answers every connection with what it sends, and closes its
// side when the client has closed its own.
func echoServer(t *testing.T) string {
	t.Helper()
	return serve(t, func(c net.Conn) {
		defer c.Close()
		io.Copy(c, c)
	}).Addr().String()
}

func start(t *testing.T, target string, oneWay time.Duration, ftp bool) *Proxy {
	t.Helper()
	p, err := New(target, oneWay, ftp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func dial(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// TestRoundTripTakesTwoDelays: an echo through the proxy comes back no
// sooner than one delay each way.
func TestRoundTripTakesTwoDelays(t *testing.T) {
	const oneWay = 30 * time.Millisecond
	c := dial(t, start(t, echoServer(t), oneWay, false).Addr())
	buf := make([]byte, 4)
	for range 3 {
		start := time.Now()
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took < 2*oneWay {
			t.Errorf("round trip took %v, want at least %v", took, 2*oneWay)
		}
		if string(buf) != "ping" {
			t.Fatalf("echo %q, want ping", buf)
		}
	}
}

// TestBytesIntactAndInOrder: megabytes written in pieces of every size come
// back the same, and the end of the stream is passed on (the echo server
// closes only once it sees the client's).
func TestBytesIntactAndInOrder(t *testing.T) {
	for _, delay := range []time.Duration{0, 5 * time.Millisecond} {
		t.Run(delay.String(), func(t *testing.T) { bytesIntact(t, delay) })
	}
}

// bytesIntact echoes 8 MiB in writes of every size through a proxy that
// delays each way by delay (0: the splice path).
func bytesIntact(t *testing.T, delay time.Duration) {
	c := dial(t, start(t, echoServer(t), delay, false).Addr())
	sent := make([]byte, 8<<20)
	rand.Read(sent)
	go func() {
		rest := sent
		for size := 1; len(rest) > 0; size = size*3 + 1 {
			n := min(size%(1<<20)+1, len(rest))
			if _, err := c.Write(rest[:n]); err != nil {
				return // the reader reports what is missing
			}
			rest = rest[n:]
		}
		c.CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, sent) {
		t.Fatalf("got %d bytes back, sent %d; equal prefix %d bytes", len(got), len(sent), commonPrefix(got, sent))
	}
}

func commonPrefix(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// TestDelayIsNotPerChunk: chunks sent one after another are each delayed
// from their own arrival, not queued behind the previous one's delay. A
// proxy that waited the delay for each chunk in turn would need at least
// n × delay for n separate chunks; this one needs about one round trip
// more than the sending takes. The bound is that serialized time, far
// above the expected one, so a busy machine does not fail it.
func TestDelayIsNotPerChunk(t *testing.T) {
	const (
		oneWay = 50 * time.Millisecond
		n      = 20
	)
	c := dial(t, start(t, echoServer(t), oneWay, false).Addr())
	start := time.Now()
	go func() {
		tick := time.NewTicker(5 * time.Millisecond) // so that each is a read of its own
		defer tick.Stop()
		for i := range n {
			<-tick.C
			if _, err := fmt.Fprintf(c, "%02d", i); err != nil {
				return
			}
		}
	}()
	got := make([]byte, 2*n)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took >= n*oneWay {
		t.Errorf("%d chunks took %v to come back: the delay is serialized (a queue would take about %v)", n, took, 2*oneWay+n*5*time.Millisecond)
	}
	for i := range n {
		if want := fmt.Sprintf("%02d", i); string(got[2*i:2*i+2]) != want {
			t.Fatalf("chunk %d is %q, want %q (got %q)", i, got[2*i:2*i+2], want, got)
		}
	}
}

// TestPassiveRepliesRewritten: a 227 and a 229 reply come out naming a
// port of the proxy's, not the one the server announced, and a connection
// to it reaches the server's data listener through the proxy.
func TestPassiveRepliesRewritten(t *testing.T) {
	data := serve(t, func(c net.Conn) {
		c.Write([]byte("hello from the data port\n"))
		c.Close()
	})
	dataPort := data.Addr().(*net.TCPAddr).Port
	srv := fakeftp.Start(t)
	srv.Script["PASV"] = func(c *fakeftp.Conn, _ string) { c.Reply(227, fakeftp.PASVReply("127.0.0.1", dataPort)) }
	srv.Script["EPSV"] = func(c *fakeftp.Conn, _ string) {
		c.Reply(229, fmt.Sprintf("Entering Extended Passive Mode (|||%d|)", dataPort))
	}
	ctl := textproto.NewConn(dial(t, start(t, srv.Addr(), 5*time.Millisecond, true).Addr()))
	if _, _, err := ctl.ReadResponse(220); err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"PASV", "EPSV"} {
		id, err := ctl.Cmd("%s", verb)
		if err != nil {
			t.Fatal(err)
		}
		ctl.StartResponse(id)
		code, msg, err := ctl.ReadResponse(0)
		ctl.EndResponse(id)
		if err != nil {
			t.Fatal(err)
		}
		// EPSV names no host: the client uses the control connection's.
		host, port, ok := "127.0.0.1", 0, false
		if code == 227 {
			host, port, ok = parsePASV(msg)
		} else {
			port, ok = parseEPSV(msg)
		}
		if !ok || host != "127.0.0.1" {
			t.Fatalf("%s: reply %d %q has no loopback address", verb, code, msg)
		}
		if port == dataPort {
			t.Fatalf("%s: reply %d %q still names the server's port", verb, code, msg)
		}
		line, err := bufio.NewReader(dial(t, fmt.Sprintf("127.0.0.1:%d", port))).ReadString('\n')
		if err != nil || line != "hello from the data port\n" {
			t.Fatalf("%s: through the proxy's port: %q, %v", verb, line, err)
		}
	}
}

// TestFTPDownloadThroughProxy: a client downloads a file through the
// proxy, by EPSV and by PASV, and gets it whole.
func TestFTPDownloadThroughProxy(t *testing.T) {
	for _, delay := range []time.Duration{0, 5 * time.Millisecond} {
		t.Run(delay.String(), func(t *testing.T) { ftpDownload(t, delay) })
	}
}

// ftpDownload downloads a file with EPSV and with PASV through a proxy
// that delays each way by delay (0: data spliced, replies still
// rewritten).
func ftpDownload(t *testing.T, delay time.Duration) {
	want := bytes.Repeat([]byte("0123456789abcdef"), 64<<10)
	srv := fakeftp.Start(t)
	srv.Files["/f.bin"] = want
	p := start(t, srv.Addr(), delay, true)
	for _, epsv := range []bool{true, false} {
		c, err := ftp.Dial(p.Addr(), ftp.DialWithDisabledEPSV(!epsv))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Login("u", "p"); err != nil {
			t.Fatal(err)
		}
		r, err := c.Retr("/f.bin")
		if err != nil {
			t.Fatalf("RETR (EPSV %v): %v", epsv, err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		c.Quit()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("RETR (EPSV %v): %d bytes of %d, %v", epsv, len(got), len(want), err)
		}
	}
	if srv.Count("EPSV") != 1 || srv.Count("PASV") != 1 {
		t.Errorf("server saw %v, want one EPSV and one PASV", srv.Commands())
	}
}

// BenchmarkThroughput: bytes through the proxy at 10 ms each way, to a
// server that discards them; the proxy should not be what limits a
// benchmark's transfer.
func BenchmarkThroughput(b *testing.B) {
	ln := serve(b, func(c net.Conn) {
		// Large reads, as curl's: io.Discard's 8 KiB would be what the
		// benchmark measures.
		io.CopyBuffer(struct{ io.Writer }{io.Discard}, c, make([]byte, 1<<20))
		c.Close()
	})
	p, err := New(ln.Addr().String(), 10*time.Millisecond, false)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	block := make([]byte, 1<<20)
	const total = 256 << 20
	b.SetBytes(total)
	for b.Loop() {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			b.Fatal(err)
		}
		for range total / len(block) {
			if _, err := c.Write(block); err != nil {
				b.Fatal(err)
			}
		}
		c.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, c) // until the server's side closes, through the proxy
		c.Close()
	}
}
