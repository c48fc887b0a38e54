package ftppool

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/textproto"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/ftpbridge/ftpbridge/internal/netpolicy"
	"github.com/ftpbridge/ftpbridge/internal/urlpath"
)

// conn is one logged-in control connection. jlaffaye's ServerConn is not
// safe for concurrent use, so a conn belongs to one operation at a time:
// the pool hands it out and takes it back.
type conn struct {
	sc        *ftp.ServerConn
	control   *deadlineConn
	ctl       *activeCtl // nil for explicit FTPS when active mode is off
	pool      *sitePool
	idleSince time.Time
	fresh     bool   // dialled for the current operation, never idle
	home      string // the login folder: the server's PWD right after login

	// listing, when set, receives the raw bytes of the next data
	// connection, so lines jlaffaye cannot parse are not lost.
	listing atomic.Pointer[capture]
	// data is the latest data connection, so that a cancelled operation
	// can cut it: jlaffaye's transfers cannot be interrupted otherwise.
	data atomic.Pointer[net.Conn]
	// dataTLS: the data connections are TLS, so bytes cannot be moved
	// between sockets by the kernel.
	dataTLS bool
	// uploading: the next data connection carries an upload (see
	// drainOnClose).
	uploading atomic.Bool
}

// cutOnCancel closes the running data connection when ctx ends, which
// makes the blocked read or write of a transfer fail at once. Call the
// returned stop when the transfer is over, before the connection goes
// back to the pool: if the cut already started, stop waits for it, so a
// late cut can never hit the next operation's data connection.
func (c *conn) cutOnCancel(ctx context.Context) (stop func()) {
	cut := make(chan struct{})
	stopWatch := context.AfterFunc(ctx, func() {
		defer close(cut)
		if d := c.data.Load(); d != nil {
			(*d).Close()
		}
	})
	return func() {
		if !stopWatch() {
			<-cut
		}
	}
}

// drainOnClose ends an upload's TLS data connection gracefully: after the
// close_notify it shuts the sending side and reads what the server still
// sends until it closes. A TLS 1.3 server sends session tickets after the
// handshake, which an upload never reads; closing a socket with unread
// bytes resets it, and vsftpd then fails the upload (426 "Failure reading
// network stream") though every byte arrived. Only a connection that was
// written to is drained: one whose STOR was refused had no TLS handshake,
// and the server may never close it.
type drainOnClose struct {
	net.Conn
	timeout time.Duration
	wrote   atomic.Bool
}

func (d *drainOnClose) Write(b []byte) (int, error) {
	d.wrote.Store(true)
	return d.Conn.Write(b)
}

// drainLimit bounds what is read and dropped at the end of an upload.
const drainLimit = 1 << 16

func (d *drainOnClose) Close() error {
	if cw, ok := d.Conn.(interface{ CloseWrite() error }); ok && d.wrote.Load() && cw.CloseWrite() == nil {
		if d.Conn.SetReadDeadline(time.Now().Add(d.timeout)) == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(d.Conn, drainLimit))
		}
	}
	return d.Conn.Close()
}

// activeTaken is the active data connection the last EPSV prepared, if any.
func (c *conn) activeTaken() *activeData {
	if c.ctl == nil {
		return nil
	}
	return c.ctl.take()
}

// deadlineConn puts a deadline on every Read and Write, because jlaffaye
// sets none and a stalled server would otherwise hang a request forever.
// During login a hard deadline and a byte budget also apply, so an endless
// greeting cannot keep the bridge busy or fill its memory.
type deadlineConn struct {
	net.Conn
	timeout time.Duration
	hard    atomic.Int64 // unix nanos; 0 = none
	budget  atomic.Int64 // bytes that may still be read; < 0 = unlimited
}

func newDeadlineConn(c net.Conn, timeout time.Duration) *deadlineConn {
	d := &deadlineConn{Conn: c, timeout: timeout}
	d.budget.Store(-1)
	return d
}

func (d *deadlineConn) deadline() time.Time {
	t := time.Now().Add(d.timeout)
	if h := d.hard.Load(); h != 0 && time.Unix(0, h).Before(t) {
		return time.Unix(0, h)
	}
	return t
}

var errReplyTooLong = errors.New("the server sent an over-long reply")

func (d *deadlineConn) Read(b []byte) (int, error) {
	if err := d.Conn.SetReadDeadline(d.deadline()); err != nil {
		return 0, err
	}
	budget := d.budget.Load()
	if budget == 0 {
		return 0, errReplyTooLong
	}
	if budget > 0 && int64(len(b)) > budget {
		b = b[:budget]
	}
	n, err := d.Conn.Read(b)
	if budget > 0 {
		d.budget.Add(-int64(n))
	}
	return n, err
}

func (d *deadlineConn) Write(b []byte) (int, error) {
	if err := d.Conn.SetWriteDeadline(d.deadline()); err != nil {
		return 0, err
	}
	return d.Conn.Write(b)
}

// limit bounds what the control connection may read until the next call:
// FTP replies are short, so a megabyte means a hostile or broken server.
func (d *deadlineConn) limit(hard time.Time, budget int64) {
	if hard.IsZero() {
		d.hard.Store(0)
	} else {
		d.hard.Store(hard.UnixNano())
	}
	d.budget.Store(budget)
}

const controlBudget = 1 << 20

// capture takes a listing's data connection whole, reads it with the
// bridge's own parsers (readListing), and hands jlaffaye's List only the
// lines they could not read.
type capture struct {
	buf      bytes.Buffer
	limit    int64 // bytes
	maxLines int   // entries, roughly: one per line
	lines    int
	mlsd     bool
	now      time.Time
	read     listed
	rest     *bytes.Reader // what jlaffaye reads; nil until the listing is in
}

var errListingTooLarge = errors.New("the folder listing is larger than the bridge accepts")

// errTooManyLines is a listing cut for its lines, not its bytes: a walk
// tells it from the bytes bound, as its own budget set the lines.
var errTooManyLines = fmt.Errorf("%w: too many entries", errListingTooLarge)

type captureConn struct {
	net.Conn
	c *capture
}

func (cc captureConn) Read(b []byte) (int, error) {
	c := cc.c
	if c.rest == nil {
		if err := c.fill(cc.Conn); err != nil {
			return 0, err
		}
		c.read = readListing(c.buf.Bytes(), c.lines, c.mlsd, c.now)
		c.rest = bytes.NewReader(c.read.unreadText())
	}
	return c.rest.Read(b)
}

// fill reads the listing to its end. Both bounds hold while it arrives,
// before anything parses it: a folder of millions of short names costs
// far more memory parsed than its bytes. (Parsing as it arrives saved no
// time: vsftpd sorts a listing, so sends it all at the end.)
func (c *capture) fill(r io.Reader) error {
	const chunk = 64 << 10
	for {
		c.buf.Grow(chunk)
		free := c.buf.AvailableBuffer()
		n, err := r.Read(free[:cap(free)])
		c.buf.Write(free[:n])
		c.lines += bytes.Count(free[:n], []byte{'\n'})
		switch {
		case int64(c.buf.Len()) > c.limit:
			return errListingTooLarge
		case c.maxLines > 0 && c.lines > c.maxLines:
			return errTooManyLines
		case err == io.EOF:
			return nil
		case err != nil:
			return err
		}
	}
}

// dial opens and logs in one control connection, if the login gate lets
// it try: a refused try sends no credentials to the server. Credentials
// that logged in already (proven) are no guess and skip the gate.
//
// The gate is asked once the control connection is up, with the address
// it reached in place of the host name: 127.1, 2130706433, a trailing dot
// or a CNAME are other names of one server, and must not each bring
// tries of their own.
func (p *Pool) dial(ctx context.Context, ep Endpoint, login Login, proven bool) (*conn, error) {
	g := p.cfg.Logins
	if g == nil || proven {
		return p.dialLogin(ctx, ep, login, nil)
	}
	var gated Endpoint
	taken := false
	c, err := p.dialLogin(ctx, ep, login, func(ip netip.Addr) error {
		gated = ep
		gated.Host = ip.String()
		if err := g.Take(ctx, gated, login.User); err != nil {
			return err
		}
		taken = true
		return nil
	})
	if taken {
		g.Done(ctx, gated, login.User, !errors.As(err, new(*loginError)))
	}
	return c, err
}

// dialLogin opens and logs in one control connection. gate, if not nil,
// is asked between the greeting and the login, with the IP the control
// connection reached; its error ends the attempt before USER is sent.
func (p *Pool) dialLogin(ctx context.Context, ep Endpoint, login Login, gate func(netip.Addr) error) (*conn, error) {
	if ep.Mode == Active && p.cfg.ActivePorts[0] == 0 {
		return nil, fmt.Errorf("connect to %s: %w", ep, ErrNoActivePorts)
	}
	c := &conn{fresh: true, dataTLS: ep.Security != Plain}
	var tlsConf *tls.Config
	if ep.Security != Plain {
		tlsConf = &tls.Config{
			ServerName: ep.Host,
			RootCAs:    p.cfg.RootCAs,
			MinVersion: tls.VersionTLS12,
			// Servers such as vsftpd ask data connections to resume the
			// control connection's TLS session.
			ClientSessionCache: tls.NewLRUClientSessionCache(4),
		}
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
	defer cancel()
	hard := time.Now().Add(p.cfg.DialTimeout)

	// Explicit FTPS where active mode may be used: the pool sends AUTH
	// TLS itself, so that the plaintext commands pass through activeCtl
	// (jlaffaye would put its TLS on top of it).
	ownAuth := ep.Security == ExplicitTLS && ep.Mode != Passive && p.cfg.ActivePorts[0] > 0
	var controlIP netip.Addr
	dialFunc := func(network, addr string) (net.Conn, error) {
		if c.control == nil {
			return p.dialControl(ctx, c, ep, addr, tlsConf, hard, &controlIP, ownAuth)
		}
		return p.dialData(c, ep.Host, addr, tlsConf, controlIP)
	}
	opts := []ftp.DialOption{ftp.DialWithDialFunc(dialFunc), ftp.DialWithDisabledMLSD(p.mlsdDisabled(ep)),
		// jlaffaye sends OPTS UTF8 ON where FEAT offers UTF8.
		ftp.DialWithDisabledUTF8(ep.NoUTF8)}
	switch {
	case ep.Security == ExplicitTLS && !ownAuth:
		opts = append(opts, ftp.DialWithExplicitTLS(tlsConf))
	case ep.Security != Plain:
		// Our dial func does the TLS wrapping; the option still tells
		// jlaffaye to send PBSZ and PROT P so the data is encrypted too.
		opts = append(opts, ftp.DialWithTLS(tlsConf))
	}
	sc, err := ftp.Dial(ep.Addr(), opts...)
	if err != nil {
		if c.control != nil {
			c.control.Close()
		}
		if asRefusal(err) {
			return nil, &refusedError{err: fmt.Errorf("connect to %s: %w", ep, err)}
		}
		var tpe *textproto.Error
		if ep.Security == ExplicitTLS && errors.As(err, &tpe) {
			// The greeting was read, so this is the answer to AUTH TLS.
			// Never fall back to plain: the password would go in clear.
			return nil, fmt.Errorf("connect to %s: %w (%w)", ep, ErrNoTLS, err)
		}
		return nil, fmt.Errorf("connect to %s: %w", ep, beforeGreeting(err))
	}
	if gate != nil {
		if err := gate(controlIP); err != nil {
			_ = sc.Quit()
			return nil, err
		}
		// The gate may have held the try back a while: the login gets
		// its own full time.
		c.control.limit(time.Now().Add(p.cfg.DialTimeout), controlBudget)
	}
	if err := sc.Login(login.User, login.Password); err != nil {
		_ = sc.Quit()
		if asRefusal(&loginError{err: err}) {
			// Not a loginError: the gate must not count it as a guess.
			return nil, &refusedError{err: err}
		}
		return nil, &loginError{err: err}
	}
	c.control.limit(time.Time{}, controlBudget)
	c.sc = sc
	if c.home, err = p.loginFolder(sc, ep); err != nil {
		_ = sc.Quit()
		return nil, fmt.Errorf("connect to %s: %w", ep, err)
	}
	return c, nil
}

// loginFolder asks where the login landed (PWD), which bridge paths are
// relative to. A reply that is no clean absolute path (empty, relative,
// with "..", a stray quote, control bytes, a Windows drive) is not
// trusted: the site is used from "/" and the server's words are logged.
// Only a broken connection is an error.
func (p *Pool) loginFolder(sc *ftp.ServerConn, ep Endpoint) (string, error) {
	dir, err := sc.CurrentDir()
	var netErr net.Error
	if err != nil && (dropped(err) || errors.As(err, &netErr)) {
		return "", fmt.Errorf("PWD: %w", err)
	}
	if err == nil {
		if at, ok := pwdPath(dir); ok {
			return at, nil
		}
	}
	p.cfg.Logger.Warn("the FTP server's login folder (PWD) is not a usable path; using /", "server", ep, "pwd", strconv.Quote(dir), "err", err)
	return "/", nil
}

// pwdPath reads the folder jlaffaye took from between a PWD reply's outer
// quotes. RFC 959 doubles a quote inside the quoted name; a single one left
// means the reply had more than the name between its outer quotes. Only a
// clean absolute path is usable.
func pwdPath(dir string) (string, bool) {
	if strings.Contains(strings.ReplaceAll(dir, `""`, ""), `"`) {
		return "", false
	}
	if dir = strings.ReplaceAll(dir, `""`, `"`); cleanAbsolute(dir) {
		return path.Clean(dir), true
	}
	return "", false
}

// cleanAbsolute reports an absolute path with nothing to clean away and
// no byte that a name on the server could not hold.
func cleanAbsolute(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.Contains(p, "\\") || urlpath.HasControl(p) {
		return false
	}
	return path.Clean(p) == strings.TrimSuffix(p, "/") || p == "/"
}

func (p *Pool) dialControl(ctx context.Context, c *conn, ep Endpoint, addr string, tlsConf *tls.Config, hard time.Time, controlIP *netip.Addr, ownAuth bool) (net.Conn, error) {
	raw, err := p.cfg.Dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if ap, err := netip.ParseAddrPort(raw.RemoteAddr().String()); err == nil {
		*controlIP = ap.Addr().Unmap()
	}
	c.control = newDeadlineConn(raw, p.cfg.IOTimeout)
	c.control.limit(hard, controlBudget)
	var greeting []byte
	switch {
	case ep.Security == ExplicitTLS && !ownAuth:
		// jlaffaye puts TLS on top after AUTH TLS: EPSV cannot be
		// seen from here.
		return c.control, nil
	case ep.Security == ExplicitTLS:
		pre := &activeCtl{Conn: c.control} // the plain connection, until TLS
		var code int
		code, greeting, err = pre.reply()
		if err != nil {
			c.control.Close()
			return nil, err
		}
		if code != ftp.StatusReady {
			// jlaffaye reads the greeting again and fails on it as
			// it would have.
			c.ctl = &activeCtl{Conn: c.control, p: p, ep: ep, peer: *controlIP, pending: greeting, early: pre.early}
			return c.ctl, nil
		}
		code, reply, err := pre.command("AUTH TLS")
		if err != nil {
			c.control.Close()
			return nil, err
		}
		if code != ftp.StatusAuthOK {
			c.control.Close()
			return nil, &textproto.Error{Code: code, Msg: replyText(reply)}
		}
		if len(pre.early) > 0 {
			// Bytes before the handshake that TLS would never see.
			c.control.Close()
			return nil, errors.New("AUTH TLS: the server sent more than its reply before the TLS handshake")
		}
	case ep.Security == Plain:
		c.ctl = &activeCtl{Conn: c.control, p: p, ep: ep, peer: *controlIP}
		return c.ctl, nil
	}
	tc := tls.Client(c.control, tlsConf)
	if err := tc.HandshakeContext(ctx); err != nil {
		tc.Close()
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	// After our own AUTH TLS, jlaffaye reads the greeting from here.
	c.ctl = &activeCtl{Conn: tc, p: p, ep: ep, peer: *controlIP, pending: greeting}
	return c.ctl, nil
}

// replyText is a reply's text as textproto.Error holds it: the lines
// without their codes, joined by newlines.
func replyText(reply []byte) string {
	lines := strings.Split(strings.TrimRight(string(reply), "\r\n"), "\n")
	for i, l := range lines {
		l = strings.TrimSuffix(l, "\r")
		if len(l) >= 4 {
			l = l[4:]
		}
		lines[i] = l
	}
	return strings.Join(lines, "\n")
}

// dialData opens a data connection. jlaffaye passes the control
// connection's address with the server's port (it ignores the PASV
// address); we check that again, and the policy checks the IP.
//
// In active mode the control connection's adapter (activeCtl) has already
// sent EPRT: the "dialled" connection is the one the server will make to
// our listener (activeData). In automatic mode a passive data connection
// that cannot be made is replaced by an active one.
func (p *Pool) dialData(c *conn, hostName, addr string, tlsConf *tls.Config, controlIP netip.Addr) (net.Conn, error) {
	var raw net.Conn
	if d := c.activeTaken(); d != nil {
		raw = d
	} else {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil || ap.Addr().Unmap() != controlIP {
			return nil, fmt.Errorf("data connection to %s: not the control connection's address %s", addr, controlIP)
		}
		ctx, cancel := context.WithTimeout(context.Background(), p.cfg.DialTimeout)
		defer cancel()
		raw, err = p.cfg.DialData(ctx, "tcp", addr, hostName)
		if err != nil && c.ctl != nil && c.ctl.ep.Mode == Auto && !errors.Is(err, netpolicy.ErrRefused) {
			if !c.ctl.activeOn() {
				return nil, fmt.Errorf("data connection: %w (%w)", err, ErrNeedsActive)
			}
			p.cfg.Logger.Info("the FTP server's passive data port could not be reached; trying active", "server", c.ctl.ep, "err", err)
			d, aerr := c.ctl.announce()
			if aerr != nil {
				return nil, fmt.Errorf("data connection: %w; active mode: %w", err, aerr)
			}
			d.learn = true
			raw, err = d, nil
		}
		if err != nil {
			return nil, fmt.Errorf("data connection: %w", err)
		}
	}
	c.data.Store(&raw)
	under := raw
	if tlsConf != nil && c.uploading.Load() {
		under = &drainOnClose{Conn: raw, timeout: p.cfg.IOTimeout}
	}
	var nc net.Conn = newDeadlineConn(under, p.cfg.IOTimeout)
	if tlsConf != nil {
		// The handshake happens on first use, as jlaffaye does: some
		// servers only start it after the transfer command.
		nc = tls.Client(nc, tlsConf)
	}
	if cp := c.listing.Load(); cp != nil {
		nc = captureConn{Conn: nc, c: cp}
	}
	return nc, nil
}
