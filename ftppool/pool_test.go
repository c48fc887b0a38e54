package ftppool

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ftpbridge/ftpbridge/internal/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/fakeftp"
	"github.com/ftpbridge/ftpbridge/internal/testftp"
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
	cfg.Dial = d.DialContext
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
