package ftppool

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is how a connection opens its data connections.
type Mode int

// Auto (the zero value) is passive, then active where passive fails (the
// server refuses PASV/EPSV, or its data port cannot be reached); the pool
// remembers a server that needed active. Passive and Active are only that.
// Active mode needs Config.ActivePorts.
const (
	Auto Mode = iota
	Passive
	Active
)

func (m Mode) String() string {
	switch m {
	case Passive:
		return "passive"
	case Active:
		return "active"
	}
	return "auto"
}

// ParseMode reads "auto", "passive" or "active"; "" is auto.
func ParseMode(s string) (Mode, bool) {
	switch s {
	case "", "auto":
		return Auto, true
	case "passive":
		return Passive, true
	case "active":
		return Active, true
	}
	return Auto, false
}

// ErrNeedsActive: passive mode failed and active mode is off.
var ErrNeedsActive = errors.New("the FTP server refused passive mode, or its passive data connection failed, and active mode is off: the bridge's operator turns it on with -active-ports")

// ErrNoActivePorts: active mode was asked for and is off.
var ErrNoActivePorts = errors.New("active mode is off on this bridge: its operator turns it on with -active-ports")

// The way active mode works, with jlaffaye/ftp as the one FTP client:
// jlaffaye only knows passive mode. It sends EPSV (or PASV), reads the
// port from the reply, calls our dial func with the control connection's
// address and that port, and only then sends the transfer command. The
// control connection it talks through is activeCtl, which sees its
// "EPSV\r\n" and, in active mode, sends EPRT (or PORT) instead with a
// port we listen on, and answers the library with a 229 of its own. The
// dial func then hands over an activeData for the listener: the server
// connects once the transfer command is sent, after the dial, so the
// connection is accepted on its first Read or Write (or on Close after
// the server began the transfer, for an empty upload).

// activeCtl sits between jlaffaye and the plaintext control connection.
type activeCtl struct {
	net.Conn
	p    *Pool
	ep   Endpoint
	peer netip.Addr // the control connection's peer: the only one let in

	pending []byte      // a reply of ours for the library to read
	early   []byte      // what the server sent after a reply the bridge took (reply)
	next    *activeData // set by a rewritten EPSV/PASV, taken by the dial
	// A preliminary (1xx) reply was read since next was handed out: the
	// server began the transfer and connects, or has connected.
	prelim    atomic.Bool
	lineStart bool
	watching  atomic.Pointer[activeData]
	// tap, while set, collects the start of what the server says (up to
	// tapMax bytes): File.start reads a RETR's 150 reply from it.
	tap *[]byte
}

const tapMax = 2048

func (a *activeCtl) activeOn() bool { return a.p.cfg.ActivePorts[0] > 0 }

func (a *activeCtl) Read(b []byte) (int, error) {
	if len(a.pending) > 0 {
		n := copy(b, a.pending)
		a.pending = a.pending[n:]
		return n, nil
	}
	var n int
	var err error
	if len(a.early) > 0 {
		n = copy(b, a.early)
		a.early = a.early[n:]
	} else {
		n, err = a.Conn.Read(b)
	}
	if a.tap != nil && len(*a.tap) < tapMax {
		*a.tap = append(*a.tap, b[:min(n, tapMax-len(*a.tap))]...)
	}
	if a.watching.Load() != nil {
		for _, c := range b[:n] {
			if a.lineStart && c == '1' {
				a.prelim.Store(true)
			}
			a.lineStart = c == '\n'
		}
	}
	return n, err
}

func (a *activeCtl) Write(b []byte) (int, error) {
	cmd := string(b)
	if cmd != "EPSV\r\n" && cmd != "PASV\r\n" {
		return a.Conn.Write(b)
	}
	epsv := cmd == "EPSV\r\n"
	mode := a.ep.Mode
	if mode == Auto && a.activeOn() && a.p.learnedActive(a.ep) {
		mode = Active
	}
	switch mode {
	case Passive:
		return a.Conn.Write(b)
	case Active:
		if err := a.goActive(epsv); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	// Auto: ask for passive ourselves and look at the answer.
	if _, err := a.Conn.Write(b); err != nil {
		return 0, err
	}
	code, reply, err := a.reply()
	if err != nil {
		return 0, err
	}
	if code/100 == 2 || epsv {
		// Passive was granted, or EPSV was refused and the library
		// falls back to PASV, which comes here again.
		a.pending = append(a.pending[:0], reply...)
		return len(b), nil
	}
	if !a.activeOn() {
		return 0, fmt.Errorf("PASV: %s: %w", strings.TrimSpace(string(reply)), ErrNeedsActive)
	}
	a.p.cfg.Logger.Info("the FTP server refused passive mode; trying active", "server", a.ep, "reply", strings.TrimSpace(string(reply)))
	if err := a.goActive(false); err != nil {
		return 0, err
	}
	a.next.learn = true
	return len(b), nil
}

// goActive opens a listener, has the server connect to it (EPRT or PORT),
// and leaves the library a 229 (or 227) reply that names its port.
func (a *activeCtl) goActive(epsv bool) error {
	d, err := a.announce()
	if err != nil {
		return err
	}
	port := d.ln.Addr().(*net.TCPAddr).Port
	var reply string
	if epsv {
		reply = fmt.Sprintf("229 Entering Extended Passive Mode (|||%d|)\r\n", port)
	} else {
		// jlaffaye takes the host from the control connection.
		reply = fmt.Sprintf("227 Entering Passive Mode (0,0,0,0,%d,%d)\r\n", port>>8, port&0xff)
	}
	a.pending = append(a.pending[:0], reply...)
	a.next = d
	return nil
}

// announce listens on a port from ActivePorts and tells the server about
// it: EPRT, or PORT for IPv4 where the server does not know EPRT.
func (a *activeCtl) announce() (*activeData, error) {
	if !a.activeOn() {
		return nil, ErrNoActivePorts
	}
	local, err := netip.ParseAddrPort(a.localAddr().String())
	if err != nil {
		return nil, fmt.Errorf("active mode: local address: %w", err)
	}
	ln, err := a.p.listenActive(local.Addr().Unmap())
	if err != nil {
		return nil, err
	}
	if f := a.p.cfg.activeListening; f != nil {
		f(ln.Addr())
	}
	// The announced address must be of the listener's family, or the
	// server would connect where nothing listens; a link-local zone means
	// nothing to the server.
	ip := a.p.cfg.ActiveAddress
	if !ip.IsValid() || ip.Is4() != local.Addr().Unmap().Is4() {
		ip = local.Addr().Unmap()
	}
	ip = ip.WithZone("")
	port := ln.Addr().(*net.TCPAddr).Port
	proto := 1
	if ip.Is6() {
		proto = 2
	}
	code, reply, err := a.command(fmt.Sprintf("EPRT |%d|%s|%d|", proto, ip, port))
	if err == nil && ip.Is4() && (code == 500 || code == 501 || code == 502 || code == 504 || code == 522) {
		b := ip.As4()
		code, reply, err = a.command(fmt.Sprintf("PORT %d,%d,%d,%d,%d,%d", b[0], b[1], b[2], b[3], port>>8, port&0xff))
	}
	if err != nil {
		ln.Close()
		return nil, err
	}
	if code/100 != 2 {
		ln.Close()
		return nil, fmt.Errorf("active mode: the server refused the data address: %s", strings.TrimSpace(string(reply)))
	}
	d := &activeData{ln: ln, peer: a.peer, timeout: a.p.cfg.DialTimeout, log: a.p.cfg.Logger, ep: a.ep, ctl: a}
	// The port is held from now, not from the first read: a server that
	// answers slowly must not keep the bridge's few ports for ever.
	d.expire = time.AfterFunc(a.p.cfg.DialTimeout+a.p.cfg.IOTimeout, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.conn == nil {
			ln.Close()
		}
	})
	a.prelim.Store(false)
	a.lineStart = true
	a.watching.Store(d)
	return d, nil
}

// localAddr is the control connection's local address, below any TLS.
func (a *activeCtl) localAddr() net.Addr { return a.Conn.LocalAddr() }

func (a *activeCtl) command(line string) (int, []byte, error) {
	if _, err := a.Conn.Write([]byte(line + "\r\n")); err != nil {
		return 0, nil, err
	}
	return a.reply()
}

// take hands over the data connection a rewritten EPSV prepared.
func (a *activeCtl) take() *activeData {
	d := a.next
	a.next = nil
	return d
}

// reply reads one FTP reply, all its lines, in what pieces the server
// sends. Whatever came after the reply is kept for the library to read
// next (early): nothing is taken from it. (Reading a byte at a time, so
// as never to read too far, was 50 system calls for each EPSV: a quarter
// of the bridge's time serving small files.)
func (a *activeCtl) reply() (int, []byte, error) {
	buf := a.early
	a.early = nil
	var chunk [512]byte
	for {
		code, end, err := replyEnd(buf)
		if err != nil {
			return 0, nil, err
		}
		if end > 0 {
			a.early = buf[end:]
			return code, buf[:end:end], nil
		}
		if len(buf) > 64<<10 {
			return 0, nil, errReplyTooLong
		}
		n, err := a.Conn.Read(chunk[:])
		buf = append(buf, chunk[:n]...)
		if n == 0 && err != nil {
			return 0, nil, err
		}
	}
}

// replyEnd finds the end of the reply buf starts with: the byte after the
// "\n" of its last line, which has the first line's code and a space; 0
// while that line has not come.
func replyEnd(buf []byte) (code, end int, err error) {
	first := ""
	for end < len(buf) {
		i := bytes.IndexByte(buf[end:], '\n')
		if i < 0 {
			break
		}
		l := buf[end : end+i+1]
		end += i + 1
		if len(l) < 4 {
			continue
		}
		if first == "" {
			first = string(l[:3])
			if _, err := strconv.Atoi(first); err != nil {
				return 0, 0, fmt.Errorf("unreadable reply %q", strings.TrimSpace(string(l)))
			}
		}
		if string(l[:3]) == first && l[3] == ' ' {
			code, _ := strconv.Atoi(first)
			return code, end, nil
		}
	}
	return 0, 0, nil
}

// listenActive listens on the next free port of ActivePorts.
func (p *Pool) listenActive(ip netip.Addr) (net.Listener, error) {
	lo, hi := p.cfg.ActivePorts[0], p.cfg.ActivePorts[1]
	n := hi - lo + 1
	start := int(p.activeNext.Add(1) % uint64(n))
	var lastErr error
	for i := 0; i < n; i++ {
		port := lo + (start+i)%n
		ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), strconv.Itoa(port)))
		if err == nil {
			return ln, nil
		}
		lastErr = err
	}
	return nil, fmt.Errorf("active mode: no free port in -active-ports %d-%d: %w", lo, hi, lastErr)
}

func serverOf(ep Endpoint) Endpoint {
	return Endpoint{Security: ep.Security, Host: ep.Host, Port: ep.Port}
}

// activeMemory is how long automatic mode goes straight to active for a
// server where passive failed and active worked: long enough to spare
// the failing tries, short enough that a passing failure is forgotten.
const activeMemory = 10 * time.Minute

// maxActiveMemory bounds the servers remembered (names are cheap to make).
const maxActiveMemory = 1000

// learnedActive tells whether the server needed active mode lately.
func (p *Pool) learnedActive(ep Endpoint) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	at, ok := p.needsActive[serverOf(ep)]
	return ok && time.Since(at) < activeMemory
}

// learnActive remembers a server where passive failed and active then
// worked.
func (p *Pool) learnActive(ep Endpoint) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.needsActive) >= maxActiveMemory {
		for k, at := range p.needsActive {
			if time.Since(at) >= activeMemory {
				delete(p.needsActive, k)
			}
		}
		if len(p.needsActive) >= maxActiveMemory {
			return
		}
	}
	p.needsActive[serverOf(ep)] = time.Now()
}

// activeData is the data connection of active mode: the listener until the
// server connected, the accepted connection after.
type activeData struct {
	ln      net.Listener
	peer    netip.Addr
	timeout time.Duration
	log     *slog.Logger
	ep      Endpoint
	ctl     *activeCtl
	learn   bool        // automatic mode fell back to active: remember it once it works
	expire  *time.Timer // closes the listener if nobody accepted in time

	once      sync.Once
	accepting atomic.Bool
	conn      net.Conn
	err       error
	closeOnce sync.Once

	mu           sync.Mutex
	rdl, wdl     time.Time // deadlines set before the accept
	haveR, haveW bool
}

// get accepts the server's connection, once. A connection from another
// address is closed and logged, and the wait goes on.
func (d *activeData) get() (net.Conn, error) {
	d.once.Do(func() {
		d.accepting.Store(true)
		tl := d.ln.(*net.TCPListener)
		if err := tl.SetDeadline(time.Now().Add(d.timeout)); err != nil {
			d.err = err
			return
		}
		for {
			c, err := tl.AcceptTCP()
			if err != nil {
				d.err = fmt.Errorf("active mode: the server did not connect: %w", err)
				break
			}
			from, _ := netip.ParseAddrPort(c.RemoteAddr().String())
			if from.Addr().Unmap() != d.peer {
				d.log.Warn("active mode: a connection to the data port from another address than the FTP server's was closed",
					"server", d.ep, "from", c.RemoteAddr().String(), "want", d.peer.String())
				c.Close()
				continue
			}
			if d.learn {
				d.ctl.p.learnActive(d.ep)
			}
			d.mu.Lock()
			d.conn = c
			if d.haveR {
				_ = c.SetReadDeadline(d.rdl)
			}
			if d.haveW {
				_ = c.SetWriteDeadline(d.wdl)
			}
			d.mu.Unlock()
			break
		}
		d.expire.Stop()
		d.ln.Close()
		d.ctl.watching.CompareAndSwap(d, nil)
	})
	return d.conn, d.err
}

func (d *activeData) Read(b []byte) (int, error) {
	c, err := d.get()
	if err != nil {
		return 0, err
	}
	return c.Read(b)
}

func (d *activeData) Write(b []byte) (int, error) {
	c, err := d.get()
	if err != nil {
		return 0, err
	}
	return c.Write(b)
}

// Close ends the transfer. If the server began it and the library never
// read or wrote (an empty upload), its connection is taken and closed, so
// the server sees the end of the data rather than a reset.
func (d *activeData) Close() error {
	d.closeOnce.Do(func() {
		if d.accepting.Load() || !d.ctl.prelim.Load() {
			d.ln.Close()
		}
		if c, _ := d.get(); c != nil {
			c.Close()
		}
		d.ln.Close()
		d.ctl.watching.CompareAndSwap(d, nil)
	})
	return nil
}

// CloseWrite shuts the sending side of the accepted connection.
func (d *activeData) CloseWrite() error {
	d.mu.Lock()
	c := d.conn
	d.mu.Unlock()
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return errors.New("active mode: no data connection yet")
	}
	return tc.CloseWrite()
}

func (d *activeData) LocalAddr() net.Addr { return d.ln.Addr() }

func (d *activeData) RemoteAddr() net.Addr {
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(d.peer, 0))
}

func (d *activeData) setDeadline(t time.Time, r, w bool) error {
	d.mu.Lock()
	if r {
		d.rdl, d.haveR = t, true
	}
	if w {
		d.wdl, d.haveW = t, true
	}
	c := d.conn
	d.mu.Unlock()
	if c != nil {
		switch {
		case r && w:
			return c.SetDeadline(t)
		case r:
			return c.SetReadDeadline(t)
		default:
			return c.SetWriteDeadline(t)
		}
	}
	return nil
}

func (d *activeData) SetDeadline(t time.Time) error      { return d.setDeadline(t, true, true) }
func (d *activeData) SetReadDeadline(t time.Time) error  { return d.setDeadline(t, true, false) }
func (d *activeData) SetWriteDeadline(t time.Time) error { return d.setDeadline(t, false, true) }
