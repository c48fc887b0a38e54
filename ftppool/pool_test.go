package ftppool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/fakeftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
	"github.com/ftpbridge/ftpbridge/internal/logtest"
)

func testPool(t *testing.T, cfg Config) (*Pool, *testftp.Server, Endpoint) {
	t.Helper()
	srv := testftp.Start(t, embedftp.Options{})
	p, ep := poolOn(t, srv.Addr(), cfg)
	return p, srv, ep
}

// poolOn is a pool for the server at addr, with short test timeouts where
// cfg leaves them zero.
func poolOn(t *testing.T, addr string, cfg Config) (*Pool, Endpoint) {
	t.Helper()
	var d net.Dialer
	if cfg.Dial == nil {
		cfg.Dial = d.DialContext
	}
	cfg.DialData = func(ctx context.Context, network, addr, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}
	if cfg.WaitTimeout == 0 {
		cfg.WaitTimeout = time.Second
	}
	if cfg.IOTimeout == 0 {
		cfg.IOTimeout = 5 * time.Second
	}
	cfg.DialTimeout = 5 * time.Second
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = time.Minute
	}
	if cfg.MaxConnsPerSession == 0 {
		cfg.MaxConnsPerSession, cfg.MaxConnsPerHost = 2, 4
	}
	p := New(cfg)
	t.Cleanup(p.Close)
	host, ps, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(ps)
	return p, Endpoint{Host: host, Port: port}
}

// waitClients waits until the server sees n control connections.
func waitClients(t *testing.T, srv *testftp.Server, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		changed := srv.Changed()
		if srv.Clients() == n {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("server has %d control connections, want %d", srv.Clients(), n)
		}
	}
}

func TestIdleConnectionsAreClosed(t *testing.T) {
	p, srv, ep := testPool(t, Config{MaxConnsPerSession: 2, MaxConnsPerHost: 4, IdleTimeout: 200 * time.Millisecond})
	if err := p.Handle("", ep, Login{User: "anonymous", Password: "x"}).Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := p.Stats(); s.Open != 1 || s.Idle != 1 {
		t.Fatalf("after one operation: %+v", s)
	}
	waitClients(t, srv, 0) // the reaper QUITs it
	if s := p.Stats(); s.Open != 0 {
		t.Errorf("after idle timeout: %+v", s)
	}
}

func TestSessionCapWaitsThenBusy(t *testing.T) {
	p, _, ep := testPool(t, Config{MaxConnsPerSession: 1, MaxConnsPerHost: 4, WaitTimeout: 100 * time.Millisecond})
	h := p.Handle("owner", ep, Login{User: testftp.User, Password: testftp.Password})
	f, err := h.Open(context.Background(), "/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.List(context.Background(), "/"); !errors.Is(err, ErrBusy) {
		t.Errorf("second operation while the only connection is held: %v, want ErrBusy", err)
	}
	// Another owner is not held up by this one's cap.
	other := p.Handle("other", ep, Login{User: testftp.User, Password: testftp.Password})
	if _, err := other.List(context.Background(), "/"); err != nil {
		t.Errorf("other owner: %v", err)
	}
	f.Close()
	if _, err := h.List(context.Background(), "/"); err != nil {
		t.Errorf("after release: %v", err)
	}
}

func TestForgetOwnerClosesConnections(t *testing.T) {
	p, srv, ep := testPool(t, Config{MaxConnsPerSession: 2, MaxConnsPerHost: 4})
	h := p.Handle("owner", ep, Login{User: testftp.User, Password: testftp.Password})
	if err := h.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitClients(t, srv, 1)
	p.ForgetOwner("owner")
	waitClients(t, srv, 0)
}

// TestIdleConnectionVouchesOnlyForItsPassword: an idle connection that
// logged in with the right password does not make a wrong one pass Check
// for the same owner and user (another bridge's disconnect leaves such
// connections behind); it is closed, and the right password works after.
func TestIdleConnectionVouchesOnlyForItsPassword(t *testing.T) {
	p, srv, ep := testPool(t, Config{MaxConnsPerSession: 2, MaxConnsPerHost: 4})
	right := p.Handle("owner", ep, Login{User: testftp.User, Password: testftp.Password})
	if err := right.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitClients(t, srv, 1)
	err := p.Handle("owner", ep, Login{User: testftp.User, Password: "wrong"}).Check(context.Background())
	if ErrorKind(err) != KindLogin {
		t.Fatalf("a wrong password with a right one's connection idle: %v, want a refused login", err)
	}
	waitClients(t, srv, 0)
	if err := right.Check(context.Background()); err != nil {
		t.Errorf("the right password after: %v", err)
	}
}

func TestWrongPasswordIsLoginKind(t *testing.T) {
	p, _, ep := testPool(t, Config{MaxConnsPerSession: 2, MaxConnsPerHost: 4})
	err := p.Handle("o", ep, Login{User: testftp.User, Password: "wrong"}).Check(context.Background())
	if ErrorKind(err) != KindLogin {
		t.Errorf("wrong password: kind %v, err %v", ErrorKind(err), err)
	}
	if s := p.Stats(); s.Open != 0 {
		t.Errorf("a failed login left %+v", s)
	}
}

// TestCutOnCancelStopWaitsForTheCut: once stop returns, a cut that the
// cancel started is over. A cut still running could close the data
// connection of the next operation on the same control connection.
func TestCutOnCancelStopWaitsForTheCut(t *testing.T) {
	for range 100 {
		c := &conn{}
		data := &closeRecorder{}
		var nc net.Conn = data
		c.data.Store(&nc)
		ctx, cancel := context.WithCancel(context.Background())
		stop := c.cutOnCancel(ctx)
		cancel()
		stop()
		if !data.closed.Load() {
			t.Fatal("stop returned before the cancelled operation's data connection was cut")
		}
	}
}

// closeRecorder is a data connection that only records being closed.
type closeRecorder struct {
	net.Conn
	closed atomic.Bool
}

func (c *closeRecorder) Close() error {
	c.closed.Store(true)
	return nil
}

// countingGate lets every login try and counts them.
type countingGate struct{ takes atomic.Int32 }

func (g *countingGate) Take(context.Context, Endpoint, string) error { g.takes.Add(1); return nil }
func (g *countingGate) Done(context.Context, Endpoint, string, bool) {}

// TestParallelLoginsAreOneTry: eight requests at once with credentials the
// pool has not seen make eight connections, yet only the first login asks
// the gate: the others wait for it, then log in with proven credentials.
// Before, each asked, and the gate's five tries per user refused the rest
// as guessing. A wrong password still asks the gate at every try.
func TestParallelLoginsAreOneTry(t *testing.T) {
	gate := &countingGate{}
	p, srv, ep := testPool(t, Config{MaxConnsPerSession: 8, MaxConnsPerHost: 8, Logins: gate})
	if err := os.WriteFile(filepath.Join(srv.Root, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := p.Handle("o", ep, Login{User: testftp.User, Password: testftp.Password})
	var held sync.WaitGroup
	held.Add(8)
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			f, err := h.Open(context.Background(), "/f")
			held.Done()
			if err == nil {
				held.Wait() // all eight hold a connection at once
				f.Close()
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if n := gate.takes.Load(); n != 1 {
		t.Errorf("the gate was asked %d times for one set of credentials, want 1", n)
	}
	if s := p.Stats(); s.Open != 8 {
		t.Errorf("%d connections open, want 8", s.Open)
	}

	wrong := p.Handle("o2", ep, Login{User: testftp.User, Password: "wrong"})
	for range 3 {
		if err := wrong.Check(context.Background()); ErrorKind(err) != KindLogin {
			t.Fatalf("wrong password: %v", err)
		}
	}
	if n := gate.takes.Load(); n != 1+3 {
		t.Errorf("the gate was asked %d times in all, want 4: every wrong try counts", n)
	}
}

// TestSlowFirstLoginIsNoBusy: requests that wait for the first login of
// new credentials wait as long as that login takes (DialTimeout), not
// WaitTimeout: a slow server is no reason to answer "busy".
func TestSlowFirstLoginIsNoBusy(t *testing.T) {
	srv := fakeftp.Start(t)
	srv.Script["PASS"] = func(c *fakeftp.Conn, _ string) {
		time.Sleep(600 * time.Millisecond) // the slow server under test
		c.Reply(230, "Logged in")
	}
	p, ep := poolOn(t, srv.Addr(), Config{WaitTimeout: 200 * time.Millisecond, MaxConnsPerSession: 3, MaxConnsPerHost: 3})
	h := p.Handle("o", ep, Login{User: "u", Password: "p"})
	errs := make(chan error, 3)
	for range 3 {
		go func() { errs <- h.Check(context.Background()) }()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Errorf("a request during the first login: %v", err)
		}
	}
}

// hostStats is the pool's view of ep's server.
func hostStats(p *Pool, ep Endpoint) HostStats {
	for _, hs := range p.PerHost() {
		if hs.Host == ep.Addr() {
			return hs
		}
	}
	return HostStats{Host: ep.Addr()}
}

// waitPool waits until cond holds, looking again whenever a slot may have
// freed or a host's limit changed, and every few milliseconds: a request
// that starts to wait tells no one.
func waitPool(t *testing.T, p *Pool, what string, cond func() bool) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		p.mu.Lock()
		changed := p.changed
		p.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-changed:
		case <-tick.C:
		case <-timeout:
			t.Fatalf("waited 5 s for %s", what)
		}
	}
}

// gateLog records what the pool told the login gate.
type gateLog struct {
	mu                   sync.Mutex
	takes, given, failed int
}

func (g *gateLog) Take(context.Context, Endpoint, string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.takes++
	return nil
}

func (g *gateLog) Done(_ context.Context, _ Endpoint, _ string, giveBack bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if giveBack {
		g.given++
	} else {
		g.failed++
	}
}

func (g *gateLog) counts() (takes, given, failed int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.takes, g.given, g.failed
}

// TestConnLimitIsLearnedAndWaitedFor: ten operations at once against a
// server that serves three connections from one address, refusing the
// rest in vsftpd's way (421 as the greeting) or proftpd's (530 after the
// password). All ten succeed: the refused ones wait for the three, and
// the pool learns that the server's limit is three.
func TestConnLimitIsLearnedAndWaitedFor(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit func(srv *fakeftp.Server, n int)
	}{
		{"421 greeting", func(srv *fakeftp.Server, n int) { srv.MaxSessions = n }},
		{"530 after PASS", func(srv *fakeftp.Server, n int) {
			// Admitted sessions stay open until the test ends (busy in
			// LIST, then idle), so counting logins counts sessions.
			var admitted atomic.Int32
			srv.Script["PASS"] = func(c *fakeftp.Conn, _ string) {
				if admitted.Add(1) > int32(n) {
					admitted.Add(-1)
					c.Reply(530, fmt.Sprintf("Sorry, the maximum number of clients (%d) from your host are already connected.", n))
					c.Close()
					return
				}
				c.Reply(230, "Logged in")
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const limit, ops = 3, 10
			srv := fakeftp.Start(t)
			tc.limit(srv, limit)
			// LIST holds the connections until every operation is either
			// in it or waiting, so that all ten are at once.
			release := make(chan struct{})
			releaseAll := sync.OnceFunc(func() { close(release) })
			srv.Script["LIST"] = func(c *fakeftp.Conn, _ string) {
				<-release
				c.Transfer(func(io.Writer) error { return nil })
			}
			gate := &gateLog{}
			p, ep := poolOn(t, srv.Addr(), Config{MaxConnsPerSession: ops, MaxConnsPerHost: ops, WaitTimeout: 10 * time.Second, Logins: gate})
			t.Cleanup(releaseAll) // before the pool and server close
			h := p.Handle("o", ep, Login{User: "u", Password: "p"})
			errs := make(chan error, ops)
			for range ops {
				go func() {
					_, err := h.List(context.Background(), "/")
					errs <- err
				}()
			}
			waitPool(t, p, fmt.Sprintf("%d connections at work and %d requests waiting", limit, ops-limit), func() bool {
				hs := hostStats(p, ep)
				return hs.Limit == limit && hs.Open == limit && hs.Waiting == ops-limit
			})
			releaseAll()
			for range ops {
				if err := <-errs; err != nil {
					t.Errorf("an operation failed: %v (kind %v)", err, ErrorKind(err))
				}
			}
			if hs := hostStats(p, ep); hs.Limit != limit || hs.Open != limit {
				t.Errorf("afterwards: %+v, want limit and open %d", hs, limit)
			}
			if _, _, failed := gate.counts(); failed != 0 {
				t.Errorf("the login gate heard of %d failed logins, want none", failed)
			}
		})
	}
}

// TestConnLimitWithNoneOpenIsBusy: a server that refuses the bridge's
// only connection is busy (503 with Retry-After above), not a failure
// (502) nor a wrong login, and the refused try is no failed login for the
// gate. The slot of the refused dial is free again.
func TestConnLimitWithNoneOpenIsBusy(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(srv *fakeftp.Server)
		reply string // the server's words in the error
	}{
		{"vsftpd 421 greeting", func(srv *fakeftp.Server) {
			srv.Greeting = func(c *fakeftp.Conn) {
				c.Reply(421, "There are too many connections from your internet address.")
				c.Close()
			}
		}, "421 There are too many connections from your internet address."},
		{"pure-ftpd 421 greeting", func(srv *fakeftp.Server) {
			srv.Greeting = func(c *fakeftp.Conn) {
				c.Reply(421, "Too many connections (2) from this IP")
				c.Close()
			}
		}, "421 Too many connections (2) from this IP"},
		{"proftpd 530 after PASS", func(srv *fakeftp.Server) {
			srv.Script["PASS"] = func(c *fakeftp.Conn, _ string) {
				c.Reply(530, "Sorry, the maximum number of clients (2) from your host are already connected.")
				c.Close()
			}
		}, "530 Sorry, the maximum number of clients (2) from your host are already connected."},
		{"FileZilla 530 to USER", func(srv *fakeftp.Server) {
			// jlaffaye keeps only the words of a refused USER.
			srv.Script["USER"] = func(c *fakeftp.Conn, _ string) {
				c.Reply(530, "Too many users are connected, please try again later.")
				c.Close()
			}
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fakeftp.Start(t)
			tc.setup(srv)
			gate := &gateLog{}
			p, ep := poolOn(t, srv.Addr(), Config{Logins: gate})
			err := p.Handle("o", ep, Login{User: "u", Password: "p"}).Check(context.Background())
			if ErrorKind(err) != KindBusy || !errors.Is(err, ErrBusy) {
				t.Errorf("kind %v, err %v; want KindBusy", ErrorKind(err), err)
			}
			if got := Reply(err); got != tc.reply {
				t.Errorf("reply %q, want %q", got, tc.reply)
			}
			if s := p.Stats(); s.Open != 0 {
				t.Errorf("the refused dial left %+v", s)
			}
			// The gate is asked after the greeting: a refusal in the
			// greeting never reaches it; one after it is given back.
			wantTakes := 1
			if srv.Greeting != nil {
				wantTakes = 0
			}
			if takes, given, failed := gate.counts(); takes != wantTakes || given != wantTakes || failed != 0 {
				t.Errorf("login gate: %d takes, %d given back, %d failed; want %d, %d, 0", takes, given, failed, wantTakes, wantTakes)
			}
			if hs := hostStats(p, ep); hs.Limit != 1 {
				t.Errorf("limit %d, want 1: the next request tries again", hs.Limit)
			}
		})
	}
}

// TestWrongPasswordIsNoConnLimit: "530 Login incorrect." is a failed
// login, even while the bridge holds connections to the server (the
// right password's): the request does not wait, and the gate counts it.
func TestWrongPasswordIsNoConnLimit(t *testing.T) {
	srv := fakeftp.Start(t)
	srv.Script["PASS"] = func(c *fakeftp.Conn, arg string) {
		if arg != "right" {
			c.Reply(530, "Login incorrect.")
			return
		}
		c.Reply(230, "Logged in")
	}
	gate := &gateLog{}
	p, ep := poolOn(t, srv.Addr(), Config{Logins: gate, WaitTimeout: time.Minute})
	if err := p.Handle("right", ep, Login{User: "u", Password: "right"}).Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	err := p.Handle("wrong", ep, Login{User: "u", Password: "wrong"}).Check(context.Background())
	if ErrorKind(err) != KindLogin {
		t.Errorf("kind %v, err %v; want KindLogin", ErrorKind(err), err)
	}
	if _, _, failed := gate.counts(); failed != 1 {
		t.Errorf("the login gate heard of %d failed logins, want 1", failed)
	}
	if hs := hostStats(p, ep); hs.Limit != 4 {
		t.Errorf("limit %d, want the configured 4: a wrong password teaches nothing", hs.Limit)
	}
}

// TestRefusalWording: which replies while connecting are a server's limit
// on connections. Limits on failed logins are not.
func TestRefusalWording(t *testing.T) {
	reply := func(code int, msg string) error {
		return &textproto.Error{Code: code, Msg: msg}
	}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{reply(421, "There are too many connections from your internet address."), true},
		{reply(421, "There are too many connected users, please try later."), true},
		{reply(421, "Too many connections (5) from this IP"), true},
		{reply(421, "10 users (the maximum) are already logged in, sorry"), true},
		{reply(421, "Service not available, closing control connection."), true},
		{reply(530, "Sorry, the maximum number of clients (3) from your host are already connected."), true},
		{reply(530, "Sorry, the maximum number of allowed clients (10) are already connected."), true},
		{reply(530, "Too many users are connected, please try again later."), true},
		{reply(530, "Max clients reached, sorry."), true},
		{&loginError{err: errors.New("Too many connections from your IP address")}, true},
		{reply(530, "Login incorrect."), false},
		{reply(530, "Login authentication failed"), false},
		{reply(530, "Too many login failures, try again later."), false},
		{reply(530, "Maximum number of login attempts exceeded."), false},
		{reply(421, "Too many failed login attempts."), false},
		{reply(530, "Too many users: incorrect password."), false},
		{&loginError{err: errors.New("Login incorrect.")}, false},
		{reply(550, "Too many connections"), false},
		{errors.New("Too many connections"), false}, // no reply, no login: a network error's words
	} {
		if got := asRefusal(tc.err); got != tc.want {
			t.Errorf("%v: refusal %v, want %v", tc.err, got, tc.want)
		}
	}
}

// logRecorder keeps the pool's log records.
type logRecorder struct{ *logtest.Recorder }

func newLogRecorder() *logRecorder { return &logRecorder{logtest.New()} }

// limitChange is one logged change of a host's connection limit.
type limitChange struct {
	msg   string
	limit int64
	at    time.Time
}

func (l *logRecorder) limitChanges() []limitChange {
	var out []limitChange
	for _, r := range l.Records() {
		if !strings.Contains(r.Message, "connection limit") {
			continue
		}
		c := limitChange{msg: r.Message, at: r.Time}
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "limit" {
				c.limit = a.Value.Int64()
			}
			return true
		})
		out = append(out, c)
	}
	return out
}

// wait waits until cond holds on the limit changes logged so far.
func (l *logRecorder) wait(t *testing.T, what string, cond func([]limitChange) bool) []limitChange {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		changed := l.Changed()
		if ch := l.limitChanges(); cond(ch) {
			return ch
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("waited 5 s for %s; limit changes: %+v", what, l.limitChanges())
		}
	}
}

// TestConnLimitRisesAfterQuietPeriod: a limit learned from a refusal
// rises by one after each LimitRaiseAfter without a refusal, up to
// MaxConnsPerHost, where the pool forgets it. Each change is in the debug
// log with the new limit.
func TestConnLimitRisesAfterQuietPeriod(t *testing.T) {
	const quiet = 200 * time.Millisecond
	srv := fakeftp.Start(t)
	srv.MaxSessions = 2
	srv.Files["/f"] = []byte("x")
	logs := newLogRecorder()
	p, ep := poolOn(t, srv.Addr(), Config{MaxConnsPerSession: 4, MaxConnsPerHost: 4, WaitTimeout: 10 * time.Second,
		LimitRaiseAfter: quiet, Logger: slog.New(logs)})
	h := p.Handle("o", ep, Login{User: "u", Password: "p"})
	f1, err := h.Open(context.Background(), "/f")
	if err != nil {
		t.Fatal(err)
	}
	f2, err := h.Open(context.Background(), "/f")
	if err != nil {
		t.Fatal(err)
	}
	third := make(chan error, 1)
	go func() {
		f3, err := h.Open(context.Background(), "/f")
		if err == nil {
			f3.Close()
		}
		third <- err
	}()
	logs.wait(t, "the limit lowered to 2", func(ch []limitChange) bool { return len(ch) > 0 })
	f1.Close() // the third operation's turn
	if err := <-third; err != nil {
		t.Errorf("the operation refused a third connection: %v", err)
	}
	f2.Close()
	changes := logs.wait(t, "the limit lifted", func(ch []limitChange) bool {
		return len(ch) > 0 && strings.Contains(ch[len(ch)-1].msg, "lifted")
	})
	if first := changes[0]; !strings.Contains(first.msg, "lowered") || first.limit != 2 {
		t.Errorf("first change %+v, want lowered to 2", first)
	}
	n := len(changes)
	if n < 3 || !strings.Contains(changes[n-2].msg, "raised") || changes[n-2].limit != 3 || changes[n-1].limit != 4 {
		t.Errorf("changes %+v, want them to end with raised to 3, lifted at 4", changes)
	}
	for i := 1; i < n; i++ {
		if strings.Contains(changes[i].msg, "lowered") {
			continue
		}
		if gap := changes[i].at.Sub(changes[i-1].at); gap < quiet {
			t.Errorf("%q %v after the change before, within the quiet period %v", changes[i].msg, gap, quiet)
		}
	}
	if hs := hostStats(p, ep); hs.Limit != 4 {
		t.Errorf("limit %d after it was lifted, want 4", hs.Limit)
	}
}
