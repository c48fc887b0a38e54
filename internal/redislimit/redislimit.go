// Package redislimit keeps the counts that every bridge of a cluster must
// share in Redis: the tries of the login and share-password limits
// (access.SharedLimits) and the per-server connection budget
// (ftppool.Budget). It only stores counts; the rules and everything FTP
// stay in access and ftppool, which fall back to counting in their own
// process whenever a call here fails.
//
// Every key starts with "ftpbridge:" and expires on its own (<…> is a
// name; the braces are Redis Cluster hash tags):
//
//	ftpbridge:tries:<limit>:<key>           a window's tries (string), until the window ends
//	ftpbridge:slow:login-user:<ip:port user>  failures and next slot (hash), ttl after the last failure
//	ftpbridge:budget:{<ip:port>}:held       slots per bridge instance (hash)
//	ftpbridge:budget:{<ip:port>}:leases     when each instance's lease ends (sorted set)
//	ftpbridge:budget:{<ip:port>}:limit      the learned limit and when it changed (hash)
//
// The channel ftpbridge:budget:wanted carries the budget's requests for
// idle connections.
package redislimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// errUnavailable is returned without asking Redis while it is down,
// between probes.
var errUnavailable = errors.New("redis is unreachable")

var errClosed = errors.New("redislimit: the store is closed")

// Options tune a Store; the zero value is fine.
type Options struct {
	// Instance names this bridge in the budget's keys and the logs; it
	// must differ between bridges. Empty: the host name and a random
	// suffix.
	Instance string
	Logger   *slog.Logger
	// Timeout is the longest a call waits for Redis (0: 200 ms). The
	// client should have ContextTimeoutEnabled, or its own read and
	// write timeouts bound a call to a Redis that does not answer.
	Timeout time.Duration
	// Lease is how long the connection slots of a bridge that stopped
	// renewing them (it died) still count (0: 30 s). It is renewed every
	// third of it.
	Lease time.Duration
	// Retry is how long calls fail at once after Redis failed, before
	// one tries it again (0: 1 s).
	Retry time.Duration
}

// Store is the shared limits and budget on one Redis. It is safe for
// concurrent use.
type Store struct {
	client   redis.UniversalClient
	instance string
	logger   *slog.Logger
	timeout  time.Duration
	lease    time.Duration
	retry    time.Duration

	closed    atomic.Bool
	down      atomic.Bool
	nextProbe atomic.Int64 // unix nanoseconds: while down, calls fail at once until then

	// mu guards held, this bridge's slots per host, and hostMu. The
	// budget's changes of one host take turns under that host's own lock
	// (hostLock), so that a lease renewal writes the count Redis should
	// have, while other hosts' go on: one slow round trip must not hold
	// up every new FTP connection of the bridge.
	mu     sync.Mutex
	held   map[string]int
	hostMu map[string]*sync.Mutex

	sub    *redis.PubSub // of wantedChannel
	wanted chan string
	cancel context.CancelFunc // ends renewLeases and listenWanted
	wg     sync.WaitGroup
}

// New makes a Store on client, starts renewing its budget leases and
// listening for what other bridges want (Wanted); Close stops that.
func New(client redis.UniversalClient, opts Options) *Store {
	s := &Store{
		client:   client,
		instance: opts.Instance,
		logger:   opts.Logger,
		timeout:  opts.Timeout,
		lease:    opts.Lease,
		retry:    opts.Retry,
		held:     make(map[string]int),
		hostMu:   make(map[string]*sync.Mutex),
		wanted:   make(chan string, 16),
	}
	if s.instance == "" {
		s.instance = defaultInstance()
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if s.timeout <= 0 {
		s.timeout = 200 * time.Millisecond
	}
	if s.lease <= 0 {
		s.lease = 30 * time.Second
	}
	if s.retry <= 0 {
		s.retry = time.Second
	}
	// Without channels, Subscribe does no I/O: listenWanted subscribes.
	s.sub = client.Subscribe(context.Background())
	var ctx context.Context
	ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(2)
	go s.renewLeases(ctx)
	go s.listenWanted(ctx)
	return s
}

func defaultInstance() string {
	host, _ := os.Hostname()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return host + "-" + hex.EncodeToString(b)
}

// Close stops renewing the leases and hands back the slots this bridge
// still holds; call it after the pool is closed.
func (s *Store) Close() {
	s.cancel()
	_ = s.sub.Close() // ends a Receive, which no context does
	s.wg.Wait()
	for _, host := range s.hosts() {
		s.withHost(host, func() {
			s.mu.Lock()
			s.held[host] = 0
			s.mu.Unlock()
			_ = s.call(context.Background(), "hand back connections", func(ctx context.Context) error { return s.renew(ctx, host) })
		})
	}
	s.closed.Store(true)
}

// call runs fn on Redis within the timeout. While Redis is down, calls
// fail at once except one per Retry, which probes it; the first failure
// of an outage is logged as a warning and the first success after it as
// information, so an outage is two log lines however busy the bridge.
func (s *Store) call(ctx context.Context, what string, fn func(ctx context.Context) error) error {
	if s.closed.Load() {
		return errClosed // the pool's last releases: Close handed everything back
	}
	if s.down.Load() {
		probe := s.nextProbe.Load()
		now := time.Now().UnixNano()
		if now < probe || !s.nextProbe.CompareAndSwap(probe, now+s.retry.Nanoseconds()) {
			return errUnavailable
		}
	}
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	err := fn(cctx)
	if err == nil {
		if s.down.CompareAndSwap(true, false) {
			s.logger.Info("redis is back: limits and connection budget are shared again", "instance", s.instance)
		}
		return nil
	}
	if ctx.Err() != nil {
		return err // the caller gave up; Redis may be fine
	}
	s.nextProbe.Store(time.Now().Add(s.retry).UnixNano())
	if s.down.CompareAndSwap(false, true) {
		s.logger.Warn("redis is unreachable: limits and connection budget count in this process until it is back",
			"instance", s.instance, "err", err)
	}
	return fmt.Errorf("redis %s: %w", what, err)
}

// nowLua sets now to Redis's clock in milliseconds, so that every bridge
// counts time alike whatever its own clock says.
const nowLua = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`
