// Package embedftp runs an FTP server inside the bridge's process
// (fclairamb/ftpserverlib over a folder on disk): the -demo server, and the
// server most tests talk to. For tests it can misbehave on request: drop
// every connection, or stall.
package embedftp

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"

	ftpserver "github.com/fclairamb/ftpserverlib"
	"github.com/spf13/afero"
)

// Options configure a server.
type Options struct {
	Addr              string            // listen address; "127.0.0.1:0" if empty
	Root              string            // folder served as "/"
	Users             map[string]string // user name -> password, with write access
	Anonymous         bool              // anonymous (and "ftp") may log in with any password
	AnonymousWritable bool              // ... and may write (the demo)
	TLS               *tls.Config       // enables AUTH TLS (explicit), or implicit below
	ImplicitTLS       bool
	IdleTimeout       int // seconds before the server says 421 and hangs up; 0 = 900
	// ActiveMode lets clients use PORT and EPRT (from an ordinary port, not
	// 20). Off by default, and in the demo: a server that connects where
	// a client says can be made to connect anywhere (FTP bounce).
	ActiveMode  bool
	Logger      *slog.Logger
	LogCommands bool // log every command received, at debug level ("Received line")
}

// Server is a running embedded FTP server.
type Server struct {
	opts Options
	srv  *ftpserver.FtpServer
	ln   *faultListener
	done chan struct{}
}

// Start listens and serves in the background.
func Start(o Options) (*Server, error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	raw, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("embedded ftp server: %w", err)
	}
	ln := &faultListener{Listener: raw, gate: make(chan struct{})}
	close(ln.gate)
	s := &Server{opts: o, ln: ln, done: make(chan struct{})}
	var served net.Listener = ln
	if o.TLS != nil && o.ImplicitTLS {
		// ftpserverlib wraps only listeners it creates itself.
		served = tls.NewListener(ln, o.TLS)
	}
	s.srv = ftpserver.NewFtpServer(&driver{opts: o, ln: served})
	if o.Logger != nil {
		s.srv.Logger = o.Logger
	}
	if err := s.srv.Listen(); err != nil {
		raw.Close()
		return nil, fmt.Errorf("embedded ftp server: %w", err)
	}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve()
	}()
	return s, nil
}

// Addr is host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops listening and drops every client.
func (s *Server) Close() error {
	err := s.srv.Stop()
	s.DropAll()
	<-s.done
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// Restart closes the server and starts a new one on the same address, as
// an FTP daemon restart does: every existing connection is gone.
func (s *Server) Restart() (*Server, error) {
	addr := s.Addr()
	if err := s.Close(); err != nil {
		return nil, err
	}
	o := s.opts
	o.Addr = addr
	return Start(o)
}

// DropAll closes every client connection at once, as a crashing server would.
func (s *Server) DropAll() { s.ln.dropAll() }

// Stall makes the server stop reading from its control connections until
// Resume, as a hung server would.
func (s *Server) Stall() {
	s.ln.mu.Lock()
	s.ln.gate = make(chan struct{})
	s.ln.mu.Unlock()
}

// Resume ends a Stall.
func (s *Server) Resume() {
	s.ln.mu.Lock()
	close(s.ln.gate)
	s.ln.mu.Unlock()
}

// Clients counts open control connections.
func (s *Server) Clients() int {
	s.ln.mu.Lock()
	defer s.ln.mu.Unlock()
	return len(s.ln.conns)
}

// Changed returns a channel closed the next time a control connection
// opens or closes, so tests wait for events instead of sleeping.
func (s *Server) Changed() <-chan struct{} {
	s.ln.mu.Lock()
	defer s.ln.mu.Unlock()
	if s.ln.changed == nil {
		s.ln.changed = make(chan struct{})
	}
	return s.ln.changed
}

type faultListener struct {
	net.Listener
	mu      sync.Mutex
	conns   map[*faultConn]struct{}
	gate    chan struct{} // closed unless stalled
	changed chan struct{}
}

func (l *faultListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	fc := &faultConn{Conn: c, l: l}
	l.mu.Lock()
	if l.conns == nil {
		l.conns = make(map[*faultConn]struct{})
	}
	l.conns[fc] = struct{}{}
	l.notifyLocked()
	l.mu.Unlock()
	return fc, nil
}

func (l *faultListener) notifyLocked() {
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
}

func (l *faultListener) dropAll() {
	l.mu.Lock()
	conns := make([]*faultConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

type faultConn struct {
	net.Conn
	l    *faultListener
	once sync.Once
}

func (c *faultConn) Read(b []byte) (int, error) {
	c.l.mu.Lock()
	gate := c.l.gate
	c.l.mu.Unlock()
	<-gate
	return c.Conn.Read(b)
}

func (c *faultConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.notifyLocked()
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// driver is ftpserverlib's view of our configuration.
type driver struct {
	opts Options
	ln   net.Listener
}

func (d *driver) GetSettings() (*ftpserver.Settings, error) {
	s := &ftpserver.Settings{
		Listener:                d.ln,
		IdleTimeout:             d.opts.IdleTimeout,
		DisableActiveMode:       !d.opts.ActiveMode,
		ActiveTransferPortNon20: true,
		DefaultTransferType:     ftpserver.TransferTypeBinary,
		Banner:                  "ftpbridge embedded FTP server",
	}
	if d.opts.TLS != nil && d.opts.ImplicitTLS {
		s.TLSRequired = ftpserver.ImplicitEncryption
	}
	return s, nil
}

func (d *driver) GetTLSConfig() (*tls.Config, error) {
	if d.opts.TLS == nil {
		return nil, errors.New("TLS is not configured")
	}
	return d.opts.TLS, nil
}

func (d *driver) ClientConnected(cc ftpserver.ClientContext) (string, error) {
	cc.SetDebug(d.opts.LogCommands)
	return "ftpbridge embedded FTP server", nil
}

func (d *driver) ClientDisconnected(ftpserver.ClientContext) {}

func (d *driver) AuthUser(_ ftpserver.ClientContext, user, pass string) (ftpserver.ClientDriver, error) {
	fs := afero.NewBasePathFs(afero.NewOsFs(), d.opts.Root)
	if d.opts.Anonymous && (strings.EqualFold(user, "anonymous") || strings.EqualFold(user, "ftp")) {
		if d.opts.AnonymousWritable {
			return fs, nil
		}
		return afero.NewReadOnlyFs(fs), nil
	}
	if want, ok := d.opts.Users[user]; ok && want == pass {
		return fs, nil
	}
	return nil, errors.New("login incorrect")
}
