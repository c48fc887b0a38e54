// Package fakeftp is a scripted FTP server for tests that attack the
// bridge from the server's side: a test decides what any command gets
// (a PASV reply pointing elsewhere, a refused AUTH TLS, an endless
// listing or greeting, hostile names), and the server records every
// command line it receives, so a test can prove what never reached it.
//
// Without a script it behaves as a tiny working server: any login, one
// folder "/" whose LIST lines (and MLSD lines, if any) the test gives, and
// files it serves by RETR.
package fakeftp

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"path"
	"strings"
	"sync"
	"testing"
)

// Handler answers one command. arg is what followed the verb.
type Handler func(c *Conn, arg string)

// Server is a running fake server on 127.0.0.1.
type Server struct {
	// Greeting sends the first reply; nil sends "220 fake".
	Greeting func(c *Conn)
	// Script overrides the answer to a verb (upper case, "PASV").
	Script map[string]Handler
	// List is what LIST sends, one line each; Files are what RETR
	// serves, by path.
	List  []string
	Files map[string][]byte
	// MLSD, if set, is what MLSD sends, one line each, and FEAT then
	// offers MLST, as servers that have it do; nil leaves the server
	// without either, so clients use LIST.
	MLSD []string
	// TLS, if set, lets AUTH TLS start TLS with this configuration (for
	// a test, a self-signed certificate), and PROT P protect data.
	TLS *tls.Config
	// MaxSessions, if above zero, is how many sessions may be open at
	// once: each one beyond is greeted with "421 Too many connections" and
	// closed, as servers that limit connections per address do. Refused
	// sessions do not count against the limit.
	MaxSessions int

	sessions int // open and not refused, for MaxSessions
	ln       net.Listener
	mu       sync.Mutex
	commands []string
	open     map[net.Conn]bool
	wg       sync.WaitGroup
	serving  sync.Once
}

// Start listens on 127.0.0.1 and serves until the test ends. It starts
// serving when its address is first asked for: set the fields before that,
// so that every session sees them (and the race detector sees the order).
func Start(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{ln: ln, Script: map[string]Handler{}, Files: map[string][]byte{}, open: map[net.Conn]bool{}}
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for nc := range s.open {
			nc.Close() // ends handlers that write for ever
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

// Addr is host:port. The first call starts serving.
func (s *Server) Addr() string {
	s.serving.Do(func() {
		s.wg.Add(1)
		go s.serve()
	})
	return s.ln.Addr().String()
}

// Port is the listening port, as a string for URLs.
func (s *Server) Port() string {
	_, p, _ := net.SplitHostPort(s.Addr())
	return p
}

// Commands returns every command line received so far, in order.
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.commands...)
}

// Count says how many received commands have the verb.
func (s *Server) Count(verb string) int {
	n := 0
	for _, c := range s.Commands() {
		if v, _, _ := strings.Cut(c, " "); strings.EqualFold(v, verb) {
			n++
		}
	}
	return n
}

func (s *Server) serve() {
	defer s.wg.Done()
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.open[nc] = true
		s.mu.Unlock()
		conns.Add(1)
		go func() {
			defer conns.Done()
			s.session(nc)
			s.mu.Lock()
			delete(s.open, nc)
			s.mu.Unlock()
		}()
	}
}

// Conn is one client's control connection.
type Conn struct {
	s     *Server
	nc    net.Conn
	r     *bufio.Reader
	w     *bufio.Writer
	data  net.Listener // the last PASV or EPSV listener
	protP bool         // data connections use TLS
	// Closed is set once a handler closed the connection.
	Closed bool
	// Dir is the working folder: "/" at login, then where CWD went.
	// PWD names it, as servers do, so that a client may ask where a CWD
	// led.
	Dir string
}

// Reply sends one reply line.
func (c *Conn) Reply(code int, text string) {
	fmt.Fprintf(c.w, "%d %s\r\n", code, text)
	c.w.Flush()
}

// Raw sends bytes as they are.
func (c *Conn) Raw(s string) error {
	_, err := c.w.WriteString(s)
	if err == nil {
		err = c.w.Flush()
	}
	return err
}

// Close hangs up.
func (c *Conn) Close() {
	c.Closed = true
	c.nc.Close()
}

// Hold keeps the connection open without a word, reading and dropping
// what the client sends, until the client hangs up.
func (c *Conn) Hold() {
	_, _ = io.Copy(io.Discard, c.nc)
	c.Close()
}

// ListenData opens a data listener on 127.0.0.1 for the next transfer and
// returns its port.
func (c *Conn) ListenData() (int, error) {
	if c.data != nil {
		c.data.Close()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	c.data = ln
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Transfer accepts the data connection, says 150, lets send write to it,
// closes it and says 226 (or 426 if send failed).
func (c *Conn) Transfer(send func(w io.Writer) error) {
	c.TransferSaying("Here it comes", send)
}

// TransferSaying is Transfer with the text of the 150 reply.
func (c *Conn) TransferSaying(text string, send func(w io.Writer) error) {
	if c.data == nil {
		c.Reply(425, "Use PASV or EPSV first")
		return
	}
	c.Reply(150, text)
	dc, err := c.data.Accept()
	c.data.Close()
	c.data = nil
	if err != nil {
		c.Reply(425, "No data connection")
		return
	}
	if c.protP {
		dc = tls.Server(dc, c.s.TLS)
	}
	err = send(dc)
	dc.Close()
	if err != nil {
		c.Reply(426, "Transfer aborted")
		return
	}
	c.Reply(226, "Done")
}

// sendLines transfers lines, each ended by CRLF.
func (c *Conn) sendLines(lines []string) {
	c.Transfer(func(w io.Writer) error {
		for _, l := range lines {
			if _, err := io.WriteString(w, l+"\r\n"); err != nil {
				return err
			}
		}
		return nil
	})
}

// startTLS turns the control connection into TLS, after a 234.
func (c *Conn) startTLS() error {
	tc := tls.Server(c.nc, c.s.TLS)
	if err := tc.Handshake(); err != nil {
		return err
	}
	c.nc, c.r, c.w = tc, bufio.NewReader(tc), bufio.NewWriter(tc)
	return nil
}

func (s *Server) session(nc net.Conn) {
	c := &Conn{s: s, nc: nc, r: bufio.NewReader(nc), w: bufio.NewWriter(nc), Dir: "/"}
	defer func() {
		if c.data != nil {
			c.data.Close()
		}
		c.nc.Close()
	}()
	if s.MaxSessions > 0 {
		s.mu.Lock()
		full := s.sessions >= s.MaxSessions
		if !full {
			s.sessions++
		}
		s.mu.Unlock()
		if full {
			c.Reply(421, "Too many connections")
			return
		}
		defer func() {
			s.mu.Lock()
			s.sessions--
			s.mu.Unlock()
		}()
	}
	if s.Greeting != nil {
		s.Greeting(c)
	} else {
		c.Reply(220, "fake")
	}
	for !c.Closed {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		s.mu.Lock()
		s.commands = append(s.commands, line)
		s.mu.Unlock()
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		if h, ok := s.Script[verb]; ok {
			h(c, arg)
			continue
		}
		if h, ok := defaults[verb]; ok {
			h(c, arg)
			continue
		}
		c.Reply(502, "Not implemented")
	}
}

// defaults make a tiny working server.
var defaults = map[string]Handler{
	"AUTH": func(c *Conn, arg string) {
		if c.s.TLS == nil || !strings.EqualFold(arg, "TLS") {
			c.Reply(502, "No TLS here")
			return
		}
		c.Reply(234, "Start TLS")
		if c.startTLS() != nil {
			c.Close() // the client refused the certificate
		}
	},
	"PBSZ": func(c *Conn, _ string) { c.Reply(200, "PBSZ=0") },
	"PROT": func(c *Conn, arg string) {
		c.protP = strings.EqualFold(arg, "P")
		c.Reply(200, "OK")
	},
	"USER": func(c *Conn, _ string) { c.Reply(331, "Password please") },
	"PASS": func(c *Conn, _ string) { c.Reply(230, "Logged in") },
	"FEAT": func(c *Conn, _ string) {
		mlst := ""
		if c.s.MLSD != nil {
			mlst = " MLST type*;size*;modify*;perm*;\r\n"
		}
		c.Raw("211-Features:\r\n UTF8\r\n" + mlst + "211 End\r\n")
	},
	"TYPE": func(c *Conn, _ string) { c.Reply(200, "Type set") },
	"OPTS": func(c *Conn, _ string) { c.Reply(200, "OK") },
	"NOOP": func(c *Conn, _ string) { c.Reply(200, "OK") },
	"PWD":  func(c *Conn, _ string) { c.Reply(257, PWDReply(c.Dir)) },
	"CWD": func(c *Conn, arg string) {
		if strings.HasPrefix(arg, "/") {
			c.Dir = path.Clean(arg)
		} else {
			c.Dir = path.Join(c.Dir, arg)
		}
		c.Reply(250, "OK")
	},
	"QUIT": func(c *Conn, _ string) { c.Reply(221, "Bye"); c.Close() },
	"EPSV": func(c *Conn, _ string) {
		port, err := c.ListenData()
		if err != nil {
			c.Reply(425, err.Error())
			return
		}
		c.Reply(229, fmt.Sprintf("Entering Extended Passive Mode (|||%d|)", port))
	},
	"PASV": func(c *Conn, _ string) {
		port, err := c.ListenData()
		if err != nil {
			c.Reply(425, err.Error())
			return
		}
		c.Reply(227, PASVReply("127.0.0.1", port))
	},
	"LIST": func(c *Conn, _ string) { c.sendLines(c.s.List) },
	"MLSD": func(c *Conn, _ string) {
		if c.s.MLSD == nil {
			c.Reply(502, "Not implemented")
			return
		}
		c.sendLines(c.s.MLSD)
	},
	"SIZE": func(c *Conn, arg string) {
		if b, ok := c.s.Files[arg]; ok {
			c.Reply(213, fmt.Sprint(len(b)))
			return
		}
		c.Reply(550, "No such file")
	},
	"RETR": func(c *Conn, arg string) {
		b, ok := c.s.Files[arg]
		if !ok {
			c.Reply(550, "No such file")
			return
		}
		c.Transfer(func(w io.Writer) error { _, err := w.Write(b); return err })
	},
}

// PWDReply is the text of a 257 reply naming dir, its quotes doubled as
// RFC 959 says.
func PWDReply(dir string) string {
	return `"` + strings.ReplaceAll(dir, `"`, `""`) + `" is the current folder`
}

// PASVReply is the text of a 227 reply announcing host:port.
func PASVReply(host string, port int) string {
	return fmt.Sprintf("Entering Passive Mode (%s,%d,%d)", strings.ReplaceAll(host, ".", ","), port>>8, port&0xff)
}
