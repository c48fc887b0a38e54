package ftppool

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/fakeftp"
	"github.com/ftpbridge/ftpbridge/internal/redislimit"
	"github.com/ftpbridge/ftpbridge/internal/servicetest"
)

// bridge is one pool with its own budget Store and Redis client, as a
// bridge process of a cluster has, and the control connections it opens.
type bridge struct {
	pool   *Pool
	ep     Endpoint
	store  *redislimit.Store
	client *redis.Client
	conns  *connCount
}

// connCount counts control connections from dial to close, and their
// most at once; parent, if set, counts them too.
type connCount struct {
	open, peak, dials atomic.Int32
	parent            *connCount
}

func (cc *connCount) add(n int32) {
	for c := cc; c != nil; c = c.parent {
		now := c.open.Add(n)
		if n > 0 {
			c.dials.Add(1)
		}
		for {
			peak := c.peak.Load()
			if now <= peak || c.peak.CompareAndSwap(peak, now) {
				break
			}
		}
	}
}

type countedConn struct {
	net.Conn
	once sync.Once
	cc   *connCount
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.cc.add(-1) })
	return c.Conn.Close()
}

// newBridge starts a pool for srv with cfg and a Redis budget at url;
// total, if set, counts every bridge's connections.
func newBridge(t *testing.T, srv *fakeftp.Server, url string, cfg Config, opts redislimit.Options, total *connCount) *bridge {
	t.Helper()
	b := &bridge{client: servicetest.RedisClient(t, url), conns: &connCount{parent: total}}
	b.store = redislimit.New(b.client, opts)
	t.Cleanup(b.store.Close)
	var d net.Dialer
	cfg.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		b.conns.add(1)
		return &countedConn{Conn: c, cc: b.conns}, nil
	}
	cfg.Budget = b.store
	b.pool, b.ep = poolOn(t, srv.Addr(), cfg)
	return b
}

// listHold makes LIST hold its connection while held.
type listHold struct {
	mu sync.Mutex
	ch chan struct{} // closed on release
}

// holdLists holds srv's LISTs until release.
func holdLists(t *testing.T, srv *fakeftp.Server) *listHold {
	h := &listHold{ch: make(chan struct{})}
	t.Cleanup(h.release) // before the pools and the server close
	srv.Script["LIST"] = func(c *fakeftp.Conn, _ string) {
		h.mu.Lock()
		ch := h.ch
		h.mu.Unlock()
		<-ch
		c.Transfer(func(io.Writer) error { return nil })
	}
	return h
}

func (h *listHold) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-h.ch:
	default:
		close(h.ch)
	}
}

// hold holds the LISTs from now on again.
func (h *listHold) hold() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ch = make(chan struct{})
}

// listAll starts n LISTs on each bridge; their errors come on the
// channel.
func listAll(bridges []*bridge, n int) <-chan error {
	errs := make(chan error, n*len(bridges))
	for _, b := range bridges {
		h := b.pool.Handle("o", b.ep, Login{User: "u", Password: "p"})
		for range n {
			go func() {
				_, err := h.List(context.Background(), "/")
				errs <- err
			}()
		}
	}
	return errs
}

// waiting is the requests waiting in all bridges.
func waiting(bridges []*bridge) int {
	n := 0
	for _, b := range bridges {
		n += hostStats(b.pool, b.ep).Waiting
	}
	return n
}

// TestBudgetCapAcrossBridges: three bridges with a cap of three
// connections per server each open three at once between them, not
// nine; the requests beyond wait for them and all succeed.
func TestBudgetCapAcrossBridges(t *testing.T) {
	const capacity, perBridge = 3, 3
	_, url := servicetest.Redis(t, servicetest.NewPorts(t))
	srv := fakeftp.Start(t)
	lists := holdLists(t, srv)
	total := &connCount{}
	var bridges []*bridge
	for range 3 {
		bridges = append(bridges, newBridge(t, srv, url, Config{MaxConnsPerSession: perBridge, MaxConnsPerHost: capacity, WaitTimeout: 10 * time.Second}, redislimit.Options{}, total))
	}
	errs := listAll(bridges, perBridge)
	// Every request is either in a LIST or waiting.
	waitFor(t, "three connections at work and six requests waiting", func() bool {
		return total.open.Load() == capacity && waiting(bridges) == 3*perBridge-capacity
	})
	lists.release()
	for range 3 * perBridge {
		if err := <-errs; err != nil {
			t.Errorf("an operation failed: %v", err)
		}
	}
	if peak := total.peak.Load(); peak != capacity {
		t.Errorf("the bridges had %d connections at once, want the cap %d", peak, capacity)
	}
}

// waitFor polls cond until it holds, for five seconds at most: other
// bridges' slots are not announced, so there is nothing to wait on.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 5 s for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling
	}
}

// TestBudgetLearnedLimitAcrossBridges: a server that serves two
// connections refuses bridge A's third; the limit A learns holds on B,
// which then waits rather than dial (and be refused) until A's
// connections close, or idle and give way.
func TestBudgetLearnedLimitAcrossBridges(t *testing.T) {
	_, url := servicetest.Redis(t, servicetest.NewPorts(t))
	srv := fakeftp.Start(t)
	srv.MaxSessions = 2
	srv.Files["/f"] = []byte("x")
	cfg := Config{MaxConnsPerSession: 5, MaxConnsPerHost: 5, WaitTimeout: 10 * time.Second, LimitRaiseAfter: time.Hour}
	a := newBridge(t, srv, url, cfg, redislimit.Options{}, nil)
	b := newBridge(t, srv, url, cfg, redislimit.Options{}, nil)

	ha := a.pool.Handle("o", a.ep, Login{User: "u", Password: "p"})
	var files []*File
	for range 2 {
		f, err := ha.Open(context.Background(), "/f")
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	third := make(chan error, 1)
	go func() {
		f, err := ha.Open(context.Background(), "/f")
		if err == nil {
			f.Close()
		}
		third <- err
	}()
	waitPool(t, a.pool, "A refused and learning the limit", func() bool { return hostStats(a.pool, a.ep).Limit == 2 })

	hb := b.pool.Handle("o", b.ep, Login{User: "u", Password: "p"})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := hb.List(ctx, "/"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("B while A holds the server's two: %v, want to wait until it gives up", err)
	}
	if n := b.conns.dials.Load(); n != 0 {
		t.Errorf("B dialled %d connections past the limit A learned", n)
	}
	if l := hostStats(b.pool, b.ep).Limit; l != 2 {
		t.Errorf("B's limit %d, want the 2 A learned", l)
	}

	files[0].Close()
	if err := <-third; err != nil {
		t.Errorf("A's third operation: %v", err)
	}
	files[1].Close()
	// A's connections are idle now: B's refused request asks A to close
	// one, and gets its slot.
	if _, err := hb.List(context.Background(), "/"); err != nil {
		t.Errorf("B once A's connections were idle: %v", err)
	}
	if hs := hostStats(a.pool, a.ep); hs.Open != 1 {
		t.Errorf("A holds %d connections, want one: it gave the other way", hs.Open)
	}
}

// TestBudgetSlotsOfADeadBridge: a bridge that dies (its Redis client
// gone, its connections closed, nothing handed back) holds its slots
// only until its lease ends; then another bridge gets them.
func TestBudgetSlotsOfADeadBridge(t *testing.T) {
	const lease = 600 * time.Millisecond
	_, url := servicetest.Redis(t, servicetest.NewPorts(t))
	srv := fakeftp.Start(t)
	srv.Files["/f"] = []byte("x")
	cfg := Config{MaxConnsPerSession: 2, MaxConnsPerHost: 2, WaitTimeout: 10 * time.Second}
	opts := redislimit.Options{Lease: lease, Logger: slog.New(slog.DiscardHandler)}
	a := newBridge(t, srv, url, cfg, opts, nil)
	b := newBridge(t, srv, url, cfg, opts, nil)
	ha := a.pool.Handle("o", a.ep, Login{User: "u", Password: "p"})
	for range 2 {
		if _, err := ha.Open(context.Background(), "/f"); err != nil {
			t.Fatal(err)
		}
	}
	a.client.Close()
	a.pool.Close() // its files stay open and unclosed: nothing is handed back
	died := time.Now()

	if _, err := b.pool.Handle("o", b.ep, Login{User: "u", Password: "p"}).List(context.Background(), "/"); err != nil {
		t.Fatalf("B after A's lease ended: %v", err)
	}
	// A renewed its lease a third of a lease before it died at the
	// earliest.
	if d := time.Since(died); d < lease*2/3-50*time.Millisecond {
		t.Errorf("B got a slot %v after A died, before A's lease could end", d)
	}
}

// TestBudgetRedisOutage: with Redis stopped, each bridge keeps to its own
// cap (requests are not refused for Redis' sake), and each logs the
// outage once; once Redis is back, the cap is the bridges' together
// again.
func TestBudgetRedisOutage(t *testing.T) {
	const capacity = 2
	proc, url := servicetest.Redis(t, servicetest.NewPorts(t))
	srv := fakeftp.Start(t)
	lists := holdLists(t, srv)
	total := &connCount{}
	var bridges []*bridge
	var logs []*logRecorder
	for range 2 {
		l := newLogRecorder()
		logs = append(logs, l)
		bridges = append(bridges, newBridge(t, srv, url, Config{MaxConnsPerSession: 4, MaxConnsPerHost: capacity, WaitTimeout: 10 * time.Second},
			redislimit.Options{Logger: slog.New(l), Retry: 50 * time.Millisecond}, total))
	}
	proc.Stop()
	errs := listAll(bridges, capacity+1)
	for _, b := range bridges {
		waitPool(t, b.pool, "the bridge's own cap in use and one request waiting", func() bool {
			hs := hostStats(b.pool, b.ep)
			return hs.Open == capacity && hs.Waiting == 1
		})
	}
	lists.release()
	for range 2 * (capacity + 1) {
		if err := <-errs; err != nil {
			t.Errorf("an operation failed during the outage: %v", err)
		}
	}
	for i, b := range bridges {
		if peak := b.conns.peak.Load(); peak != capacity {
			t.Errorf("bridge %d had %d connections at once, want its own cap %d", i, peak, capacity)
		}
		if n := logs[i].Count(slog.LevelWarn, ""); n != 1 {
			t.Errorf("bridge %d logged %d warnings, want 1", i, n)
		}
	}

	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	for i, b := range bridges {
		b.pool.ForgetOwner("o") // the connections dialled outside the budget
		waitFor(t, "the bridge to find Redis back", func() bool {
			_, err := b.store.CountTries(context.Background(), "probe")
			return err == nil
		})
		if n := logs[i].Count(slog.LevelInfo, ""); n != 1 {
			t.Errorf("bridge %d logged Redis back %d times, want once", i, n)
		}
	}
	total.peak.Store(total.open.Load())
	lists.hold()
	errs = listAll(bridges, capacity)
	waitFor(t, "the shared cap in use and the other requests waiting", func() bool {
		return total.open.Load() == capacity && waiting(bridges) == capacity
	})
	lists.release()
	for range 2 * capacity {
		if err := <-errs; err != nil {
			t.Errorf("an operation failed after the outage: %v", err)
		}
	}
	if peak := total.peak.Load(); peak != capacity {
		t.Errorf("after the outage the bridges had %d connections at once, want the cap %d", peak, capacity)
	}
}
