// Package delayproxy puts network latency between an FTP client and a
// server on one machine, where there is no netem: a TCP proxy on loopback
// that delivers every chunk it reads a fixed time after it arrived, in
// each direction, so that a round trip through it takes twice that.
//
// Each direction is a queue of chunks stamped with their arrival time: a
// reader takes bytes as fast as the sender gives them, and a writer hands
// each chunk on at arrival + delay. So the delay costs no bandwidth (as a
// long link, not a slow one), up to the bytes a queue may hold
// (queueChunks × chunkSize, the link's "window").
//
// In FTP mode (New with ftp true) the proxy also reads the server's
// replies on the control connection and rewrites 227 (PASV) and 229
// (EPSV): the client is sent to a listener of the proxy, which forwards
// that one data connection, with the same delay, to the port the server
// announced. Active mode (PORT, EPRT) and TLS on the control connection
// are not supported.
//
// What it does not emulate: TCP's own handshake is local at both ends, so
// connecting costs no round trip; nothing is lost and nothing slow-starts.
//
// With no delay it is the least a relay can be: bytes go socket to socket
// in the kernel (io.Copy between TCP connections splices), and only the
// control connection's replies pass through its own code. The benchmark
// puts it in a direct client's path to measure what one more process in
// the path costs on this machine, whatever that process does.
package delayproxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// chunkSize is the most one read takes. Loopback hands over up to
	// 64 KiB per segment, so a busy socket fills it.
	chunkSize = 256 << 10
	// queueChunks bounds each direction's queue: at most 128 MiB in
	// flight, so a 10 ms one-way delay still passes 12 GiB/s, more than
	// loopback moves, while a reader that stops reading stops the sender.
	queueChunks = 512
	// dataAcceptTimeout is how long a passive listener waits for the
	// client: a client that asked for PASV and never connects must not
	// leave it open for ever.
	dataAcceptTimeout = time.Minute
)

// Proxy forwards the connections to its address to a target, delayed.
type Proxy struct {
	ln     net.Listener
	target string
	delay  time.Duration
	ftp    bool

	mu     sync.Mutex
	conns  map[io.Closer]bool // connections and passive listeners, to close on Close
	closed bool
	wg     sync.WaitGroup
}

// New listens on 127.0.0.1 and forwards every connection to target,
// delaying each direction by oneWay. With ftp, target is an FTP server's
// control port and passive data connections go through the proxy too.
func New(target string, oneWay time.Duration, ftp bool) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("delayproxy: %w", err)
	}
	p := &Proxy{ln: ln, target: target, delay: oneWay, ftp: ftp, conns: map[io.Closer]bool{}}
	p.wg.Go(func() { p.serve(ln, target, p.ftp) })
	return p, nil
}

// Addr is the proxy's address, host:port, for clients to dial instead of
// the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Close stops the proxy: its listeners and every connection through it.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	err := p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

// track registers c to be closed by Close; false if the proxy is closed
// already (c is then closed).
func (p *Proxy) track(c io.Closer) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = true
	return true
}

func (p *Proxy) untrack(c io.Closer) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

// serve accepts connections on ln until it is closed, and forwards each to
// target; ftp says ln is a control port.
func (p *Proxy) serve(ln net.Listener, target string, ftp bool) {
	for {
		client, err := ln.Accept()
		if err != nil {
			return // closed
		}
		p.wg.Go(func() { p.forward(client, target, ftp) })
	}
}

// forward relays one client connection to target, both ways, until both
// directions have ended.
func (p *Proxy) forward(client net.Conn, target string, ftp bool) {
	if !p.track(client) {
		return
	}
	defer p.untrack(client)
	server, err := net.Dial("tcp", target)
	if err != nil {
		return // the client sees its connection closed, as a refused one
	}
	if !p.track(server) {
		return
	}
	defer p.untrack(server)
	var toClient func(io.Reader, func([]byte)) error // nil: bytes as they come
	if ftp {
		host, _, err := net.SplitHostPort(target)
		if err != nil {
			return
		}
		toClient = func(r io.Reader, emit func([]byte)) error { return p.readReplies(r, host, emit) }
	}
	var wg sync.WaitGroup
	wg.Go(func() { p.relay(server, client, nil) })
	wg.Go(func() { p.relay(client, server, toClient) })
	wg.Wait()
}

// chunk is bytes read and when they may be handed on.
type chunk struct {
	b   []byte
	due time.Time
}

// relay copies src to dst, each chunk that read gives (nil: whatever src
// gives, spliced when there is no delay) delivered p.delay after it was
// read, in order. When src ends, dst's write side is closed
// once the queue is empty; when dst fails, src is closed so that the
// reader stops too.
func (p *Proxy) relay(dst, src net.Conn, read func(io.Reader, func([]byte)) error) {
	if read == nil {
		if p.delay == 0 {
			p.splice(dst, src)
			return
		}
		read = readChunks
	}
	queue := make(chan chunk, queueChunks)
	go func() {
		defer close(queue)
		_ = read(src, func(b []byte) { queue <- chunk{b, time.Now().Add(p.delay)} })
	}()
	for c := range queue {
		// Waiting for this chunk's time is the delay itself; later chunks
		// were stamped later and wait only what is left of theirs.
		time.Sleep(time.Until(c.due))
		_, err := dst.Write(c.b)
		recycle(c.b)
		if err != nil {
			src.Close()
			for c := range queue { // let the reader finish
				recycle(c.b)
			}
			return
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}

// splice copies src to dst in the kernel, then ends dst's write side;
// when dst fails, src is closed so that the client's end sees it.
func (p *Proxy) splice(dst, src net.Conn) {
	if _, err := io.Copy(dst, src); err != nil {
		src.Close()
		return
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}

// buffers are chunk buffers, used again once written: a fresh buffer for
// each read cost page faults and clearing, a fifth of the proxy's CPU
// time in a profile of BenchmarkThroughput.
var buffers = sync.Pool{New: func() any { return new([chunkSize]byte) }}

// readChunks hands on whatever each read returns. A short read is copied
// out, so that a queue of small chunks (a control connection's) does not
// hold a whole buffer for each.
func readChunks(r io.Reader, emit func([]byte)) error {
	buf := buffers.Get().(*[chunkSize]byte)
	defer func() { buffers.Put(buf) }()
	for {
		n, err := r.Read(buf[:])
		switch {
		case n >= chunkSize/4:
			emit(buf[:n]) // the writer puts it back
			buf = buffers.Get().(*[chunkSize]byte)
		case n > 0:
			emit(append([]byte(nil), buf[:n]...))
		}
		if err != nil {
			return err
		}
	}
}

// recycle gives back a chunk's buffer, if it is one of buffers.
func recycle(b []byte) {
	if cap(b) == chunkSize {
		buffers.Put((*[chunkSize]byte)(b[:chunkSize]))
	}
}

// readReplies hands on an FTP server's control replies line by line, with
// passive replies pointing at a listener of the proxy that forwards to
// the announced port of serverHost (the control connection's host, as a
// client would use for EPSV).
func (p *Proxy) readReplies(r io.Reader, serverHost string, emit func([]byte)) error {
	br := bufio.NewReaderSize(r, 4096)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			out := append([]byte(nil), line...)
			if rewritten, ok := p.passive(string(line), serverHost); ok {
				out = []byte(rewritten)
			}
			emit(out)
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
	}
}

// passive rewrites a 227 or 229 reply to announce a new listener of the
// proxy in front of the server's data port. ok is false for any other
// line, or when the reply cannot be parsed or no listener can be made (the
// line is then passed on as it is, and the client's data connection fails
// as it would have without the proxy).
func (p *Proxy) passive(line, serverHost string) (string, bool) {
	var data string
	switch {
	case strings.HasPrefix(line, "227 "):
		h, port, ok := parsePASV(line)
		if !ok {
			return "", false
		}
		data = net.JoinHostPort(h, strconv.Itoa(port))
	case strings.HasPrefix(line, "229 "):
		port, ok := parseEPSV(line)
		if !ok {
			return "", false
		}
		data = net.JoinHostPort(serverHost, strconv.Itoa(port))
	default:
		return "", false
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil || !p.track(ln) {
		return "", false
	}
	p.wg.Go(func() {
		defer p.untrack(ln)
		ln.(*net.TCPListener).SetDeadline(time.Now().Add(dataAcceptTimeout))
		client, err := ln.Accept()
		if err != nil {
			return
		}
		p.untrack(ln) // one data connection per reply, as the server's own
		p.forward(client, data, false)
	})
	port := ln.Addr().(*net.TCPAddr).Port
	if strings.HasPrefix(line, "229 ") {
		return fmt.Sprintf("229 Entering Extended Passive Mode (|||%d|)\r\n", port), true
	}
	return fmt.Sprintf("227 Entering Passive Mode (127,0,0,1,%d,%d).\r\n", port>>8, port&0xff), true
}

// parsePASV reads h1,h2,h3,h4,p1,p2 from a 227 reply.
func parsePASV(line string) (host string, port int, ok bool) {
	start := strings.IndexByte(line, '(')
	end := strings.LastIndexByte(line, ')')
	if start < 0 || end < start {
		return "", 0, false
	}
	parts := strings.Split(line[start+1:end], ",")
	if len(parts) != 6 {
		return "", 0, false
	}
	var n [6]int
	for i, s := range parts {
		v, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || v < 0 || v > 255 {
			return "", 0, false
		}
		n[i] = v
	}
	return fmt.Sprintf("%d.%d.%d.%d", n[0], n[1], n[2], n[3]), n[4]<<8 | n[5], true
}

// parseEPSV reads the port from a 229 reply's (|||port|).
func parseEPSV(line string) (int, bool) {
	start := strings.Index(line, "(|||")
	if start < 0 {
		return 0, false
	}
	rest := line[start+4:]
	end := strings.IndexByte(rest, '|')
	if end < 0 {
		return 0, false
	}
	port, err := strconv.Atoi(rest[:end])
	if err != nil || port <= 0 || port > 65535 {
		return 0, false
	}
	return port, true
}
