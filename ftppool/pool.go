// Package ftppool keeps FTP control connections for the bridge: it dials
// through the network policy, logs in, hands one connection to one operation
// at a time, checks and reuses idle ones, redials dropped ones and closes
// what nobody uses. It knows nothing of HTTP. docs/ARCHITECTURE.md says
// how a request reaches it and which servers' quirks it carries.
package ftppool

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Security is how a connection uses TLS.
type Security int

// The three ways an FTP server speaks: plain, AUTH TLS on the control
// connection (explicit, "ftpes"), or TLS from the first byte (implicit, "ftps").
const (
	Plain Security = iota
	ExplicitTLS
	ImplicitTLS
)

// Endpoint is one FTP server.
type Endpoint struct {
	Security Security
	Host     string
	Port     int
	// NoUTF8: the server's names are in a legacy encoding (the person
	// named one), so the pool does not ask for UTF-8 (OPTS UTF8 ON): a
	// server that then converted names would hand out other bytes. Only
	// this flag, not the encoding's name, keys the connections, so that
	// naming encodings cannot multiply a session's connection cap.
	NoUTF8 bool
	// Mode is how data connections are opened: passive, active, or
	// automatic (passive, then active where passive fails).
	Mode Mode
}

// sameServer reports the same server, whether or not UTF-8 was asked for
// and whatever the mode of its data connections.
func (e Endpoint) sameServer(o Endpoint) bool {
	return e.Security == o.Security && e.Host == o.Host && e.Port == o.Port
}

// Addr is host:port.
func (e Endpoint) Addr() string { return net.JoinHostPort(e.Host, strconv.Itoa(e.Port)) }

func (e Endpoint) String() string { return e.Addr() }

// Login is what a connection logs in with.
type Login struct {
	User     string
	Password string
}

// Config holds the pool's limits and how it dials.
type Config struct {
	MaxConnsPerSession int           // per (owner, endpoint, user)
	MaxConnsPerHost    int           // per host:port, across all owners
	IdleTimeout        time.Duration // an idle connection is closed after this
	WaitTimeout        time.Duration // how long a request waits for a free slot
	IOTimeout          time.Duration // longest silence on a connection
	DialTimeout        time.Duration // connect, TLS and login together
	NoopAfter          time.Duration // a connection idle this long is checked with NOOP before reuse
	MaxListBytes       int64         // largest folder listing accepted
	MaxListEntries     int           // most entries in one listing; 0 = no limit but the bytes
	// LimitRaiseAfter is how long a host's learned connection limit (see
	// hostLimit) holds without a refusal before it rises by one; 0 means
	// a minute.
	LimitRaiseAfter time.Duration
	// Budget, if set, shares MaxConnsPerHost and the limits servers teach
	// among several bridges (see Budget); nil counts this process alone.
	Budget Budget
	// WalkMaxEntries is the budget of every recursive walk (Walk, Count,
	// Remove) in entries, and WalkTimeout in time; 0 is no limit.
	WalkMaxEntries int
	WalkTimeout    time.Duration
	// Dial and DialData must apply the network policy: to the control
	// connection, and to every data connection. DialData gets an IP:port
	// (the control connection's IP) and the host name the control
	// connection was dialled by, for the policy's name rules.
	Dial     func(ctx context.Context, network, addr string) (net.Conn, error)
	DialData func(ctx context.Context, network, addr, hostName string) (net.Conn, error)
	RootCAs  *x509.CertPool // nil means the system roots
	Logger   *slog.Logger
	// Logins, if set, is asked before every login (see LoginGate).
	Logins LoginGate
	// ObserveOp, if set, hears how long the control-connection commands of
	// each operation took (a LIST, an MLST, a SIZE and MDTM, a RETR's
	// start), for metrics.
	ObserveOp func(d time.Duration, err error)
	// MetaFresh is how long a download may take a file's time from the
	// lookup of an earlier one (meta.go); 0 means metaFresh.
	MetaFresh time.Duration
	// ActivePorts, LO and HI inclusive, are the ports listened on for
	// active mode's data connections; zero turns active mode off.
	ActivePorts [2]int
	// ActiveAddress is the IP announced in EPRT/PORT; the zero value
	// announces the control connection's local address.
	ActiveAddress netip.Addr

	// activeListening, for tests, hears each active-mode listener's
	// address before the server is told it.
	activeListening func(net.Addr)
}

// LoginGate limits login attempts, against password guessing through the
// bridge. Take is asked before a new connection logs in, with the context
// of the request that needs it and an Endpoint whose Host is the IP
// address the control connection reached, whatever name it was dialled
// by; an error ends the attempt before the credentials are sent. Take may
// also hold the attempt back a while before it returns. Done says how it went: giveBack is true unless the server
// refused the login itself (a wrong password), so that only refused logins
// use up tries.
type LoginGate interface {
	Take(ctx context.Context, ep Endpoint, user string) error
	Done(ctx context.Context, ep Endpoint, user string, giveBack bool)
}

// LoginLimitError refuses a login try: too many failed ones lately.
type LoginLimitError struct {
	Wait time.Duration // until the next try is allowed
}

func (e *LoginLimitError) Error() string {
	return fmt.Sprintf("too many failed logins; try again in %s", e.Wait.Round(time.Second))
}

// ErrBusy is returned when no connection slot became free in time.
var ErrBusy = errors.New("too many connections to this FTP server right now")

// ErrClosed is returned after Close.
var ErrClosed = errors.New("the bridge is shutting down")

type poolKey struct {
	owner string
	ep    Endpoint
	user  string
}

// sitePool holds the connections of one owner to one endpoint as one user.
type sitePool struct {
	key  poolKey
	max  int
	open int
	idle []*conn // most recently used last
	gone bool    // forgotten: connections still out are closed on return
	// proven is the password that logged in last: logins with it are no
	// guesses and skip the login gate. Until one succeeds, one login at a
	// time is tried (dialing), so a burst of parallel requests with new
	// credentials is one try, not a try each, which the gate would refuse
	// as guessing.
	proven  *string
	dialing bool
	warming bool   // a spare is being dialled (addSpare)
	home    string // the login folder, once a connection has logged in
}

// provenFor tells whether password logged in on sp already.
func (sp *sitePool) provenFor(password string) bool {
	return sp.proven != nil && *sp.proven == password
}

// hostLimit is what a server that refused connections taught the pool:
// servers limit connections per client address (public ones to 2-5), and
// every user of the bridge comes from the bridge's address. On a refusal
// the limit drops at once to the connections open then; after each
// LimitRaiseAfter without a refusal it rises by one, so a limit that was
// lifted, or a refusal that other clients on our address caused, is not
// held against the server for ever. At MaxConnsPerHost it is forgotten.
type hostLimit struct {
	max     int
	changed time.Time   // last refusal or rise
	raise   *time.Timer // runs raiseLimit
}

// Pool is safe for concurrent use.
type Pool struct {
	cfg     Config
	mu      sync.Mutex
	sites   map[poolKey]*sitePool
	perHost map[string]int // open connections per host:port
	waiting map[string]int // requests waiting for a slot, per host:port
	limits  map[string]*hostLimit
	// slots are the budget slots held per host:port (budget.go), and
	// sharedLimits the budget's last word on each learned limit.
	slots        map[string]int
	sharedLimits map[string]int
	noMLSD       map[Endpoint]bool
	// needsActive: servers (serverOf) where passive failed and active
	// worked, in automatic mode.
	needsActive map[Endpoint]time.Time // when active worked there
	activeNext  atomic.Uint64
	changed     chan struct{} // closed and replaced whenever a slot may have freed
	meta        metaCache     // files' times, for downloads (meta.go)
	closed      bool
	stop        chan struct{}
	wg          sync.WaitGroup
}

// New starts a pool and its idle reaper.
func New(cfg Config) *Pool {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxListBytes == 0 {
		cfg.MaxListBytes = 64 << 20
	}
	if cfg.LimitRaiseAfter <= 0 {
		cfg.LimitRaiseAfter = time.Minute
	}
	if cfg.MetaFresh <= 0 {
		cfg.MetaFresh = metaFresh
	}
	p := &Pool{
		cfg:          cfg,
		sites:        make(map[poolKey]*sitePool),
		perHost:      make(map[string]int),
		waiting:      make(map[string]int),
		limits:       make(map[string]*hostLimit),
		slots:        make(map[string]int),
		sharedLimits: make(map[string]int),
		noMLSD:       make(map[Endpoint]bool),
		needsActive:  make(map[Endpoint]time.Time),
		changed:      make(chan struct{}),
		stop:         make(chan struct{}),
		meta:         metaCache{ttl: cfg.MetaFresh},
	}
	p.wg.Add(1)
	go p.reap()
	if cfg.Budget != nil {
		p.wg.Add(1)
		go p.giveWay()
	}
	return p
}

// Handle is one owner's access to one server as one user. Anonymous logins
// use the shared owner "" so all browser sessions share those connections.
type Handle struct {
	p     *Pool
	key   poolKey
	login Login
}

// Mode is the transfer mode of the handle's endpoint.
func (h *Handle) Mode() Mode { return h.key.ep.Mode }

// Handle returns the way to run operations for owner on ep with login.
// The owner must change when the password does (see handlers), so a wrong
// password never rides on a connection that logged in with the right one.
func (p *Pool) Handle(owner string, ep Endpoint, login Login) *Handle {
	return &Handle{p: p, key: poolKey{owner: owner, ep: ep, user: login.User}, login: login}
}

// acquire returns a logged-in connection, reusing an idle one if it can.
func (p *Pool) acquire(ctx context.Context, key poolKey, login Login) (*conn, error) {
	deadline := time.NewTimer(p.cfg.WaitTimeout)
	defer deadline.Stop()
	host := key.ep.Addr()
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrClosed
		}
		sp := p.sites[key]
		if sp == nil {
			max := p.cfg.MaxConnsPerSession
			if key.owner == "" {
				max = p.cfg.MaxConnsPerHost
			}
			sp = &sitePool{key: key, max: max}
			p.sites[key] = sp
		}
		if len(sp.idle) > 0 && !sp.provenFor(login.Password) {
			// Logged in with another password, they must not vouch for
			// this one: a disconnect on another bridge of a cluster left
			// them here, and a wrong password would pass the connect
			// form's check on them.
			stale := sp.idle
			sp.idle, sp.proven = nil, nil
			for range stale {
				p.dropLocked(sp)
			}
			p.mu.Unlock()
			for _, c := range stale {
				p.quit(c)
			}
			continue
		}
		if n := len(sp.idle); n > 0 {
			c := sp.idle[n-1]
			sp.idle = sp.idle[:n-1]
			p.mu.Unlock()
			if p.healthy(c) {
				c.fresh = false
				return c, nil
			}
			p.release(c, false)
			continue
		}
		hostMax := p.hostMaxLocked(host)
		if sp.open < sp.max && p.perHost[host] >= hostMax {
			// Another owner's idle connection may give way to us.
			if victim := p.evictIdleLocked(host); victim != nil {
				p.mu.Unlock()
				p.quit(victim)
				continue
			}
		}
		proven := sp.provenFor(login.Password)
		budgetFull := false
		if sp.open < sp.max && p.perHost[host] < hostMax && (proven || !sp.dialing) {
			sp.open++
			p.perHost[host]++
			if !proven {
				sp.dialing = true // the others wait for this login
			}
			p.mu.Unlock()
			c, err := p.open(ctx, sp, login, proven)
			switch {
			case err == nil:
				return c, nil
			case errors.Is(err, errTryAgain):
				continue
			case !errors.Is(err, errBudgetFull):
				return nil, err
			}
			// Idle connections of other owners hold slots of the budget
			// too: ours, or else other bridges'.
			p.mu.Lock()
			victim := p.evictIdleLocked(host)
			p.mu.Unlock()
			if victim != nil {
				p.quit(victim)
				continue
			}
			_ = p.cfg.Budget.Want(ctx, host)
			p.mu.Lock()
			budgetFull = true
		}
		// Waiting for the first login of new credentials does not count
		// against WaitTimeout: that login has DialTimeout of its own.
		firstLogin := sp.dialing && !proven
		wait := p.changed
		p.waiting[host]++
		p.mu.Unlock()
		var err error
		var busy, poll <-chan time.Time
		if !firstLogin {
			busy = deadline.C
		}
		if budgetFull {
			poll = time.After(budgetPoll)
		}
		select {
		case <-wait:
		case <-poll:
		case <-busy:
			err = ErrBusy
		case <-ctx.Done():
			err = ctx.Err()
		}
		p.mu.Lock()
		if p.waiting[host]--; p.waiting[host] <= 0 {
			delete(p.waiting, host)
		}
		p.mu.Unlock()
		if err != nil {
			return nil, err
		}
		if firstLogin {
			deadline.Reset(p.cfg.WaitTimeout)
		}
	}
}

// errTryAgain and errBudgetFull ask acquire to try again: at once, or
// when this pool frees a slot or after budgetPoll, since slots that other
// bridges free are not announced.
var (
	errTryAgain   = errors.New("try again")
	errBudgetFull = errors.New("the connection budget is used up")
)

// open dials a connection of sp, whose slot acquire counted (sp.open,
// perHost), first taking a slot of the budget if there is one. It is
// called and returns without p.mu. On every error the slot is given
// back.
func (p *Pool) open(ctx context.Context, sp *sitePool, login Login, proven bool) (*conn, error) {
	host := sp.key.ep.Addr()
	s := p.reserve(ctx, host)
	if s == slotRefused {
		p.mu.Lock()
		if !proven {
			sp.dialing = false
		}
		p.dropLocked(sp)
		p.mu.Unlock()
		return nil, errBudgetFull
	}
	c, err := p.dial(ctx, sp.key.ep, login, proven)
	refused := err != nil && errors.As(err, new(*refusedError))
	var others int
	var learned bool
	if refused {
		others, learned = p.learnShared(ctx, host, s)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case !proven:
		sp.dialing = false
		if err == nil {
			sp.proven = &login.Password
		}
	case errors.As(err, new(*loginError)):
		sp.proven = nil // the password changed on the server
	}
	if err != nil {
		p.dropLocked(sp)
		if !refused {
			return nil, err
		}
		if !learned {
			others = p.perHost[host]
			p.lowerLimitLocked(host, others, err)
		}
		if others == 0 {
			return nil, fmt.Errorf("%w: %w", ErrBusy, err)
		}
		// The server serves us, only not on one more connection: wait
		// for one of those it holds for us.
		return nil, errTryAgain
	}
	sp.home = c.home
	p.notifyLocked()
	c.pool = sp
	return c, nil
}

// spare returns an idle connection of key, or nil: never one dialled or
// waited for, since a second connection only pays when it costs no more
// round trips than the one it works beside. The caller checks it with
// healthy, as acquire would.
func (p *Pool) spare(key poolKey) *conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	sp := p.sites[key]
	if sp == nil || len(sp.idle) == 0 {
		return nil
	}
	n := len(sp.idle)
	c := sp.idle[n-1]
	sp.idle = sp.idle[:n-1]
	c.fresh = false
	c.control.limit(time.Time{}, controlBudget)
	return c
}

// addSpare dials one more connection of key in the background, to wait
// idle for the next download's lookup (File.lookupAndStart), when the
// session may open one without waiting or guessing: its password proven,
// under its own cap and the server's learned limit, with none idle or on
// the way. A session that downloads one file after another holds one
// connection otherwise, and each download would ask SIZE and MDTM before
// its RETR, two round trips more.
func (p *Pool) addSpare(key poolKey, login Login) {
	host := key.ep.Addr()
	p.mu.Lock()
	sp := p.sites[key]
	if p.closed || sp == nil || sp.warming || len(sp.idle) > 0 || !sp.provenFor(login.Password) ||
		sp.open >= sp.max || p.perHost[host] >= p.hostMaxLocked(host) {
		p.mu.Unlock()
		return
	}
	sp.open++
	p.perHost[host]++
	sp.warming = true
	p.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), p.cfg.DialTimeout)
		defer cancel()
		c, err := p.open(ctx, sp, login, true)
		p.mu.Lock()
		sp.warming = false
		p.mu.Unlock()
		if err != nil {
			p.cfg.Logger.Debug("a spare ftp connection could not be opened", "server", key.ep, "err", err)
			return
		}
		p.release(c, true)
	}()
}

// hostMaxLocked is how many connections to host may be open at once.
func (p *Pool) hostMaxLocked(host string) int {
	if l := p.limits[host]; l != nil && l.max < p.cfg.MaxConnsPerHost {
		return l.max
	}
	return p.cfg.MaxConnsPerHost
}

// lowerLimitLocked learns from a refused connection that host serves the
// bridge open connections at most (at least one: with none open, the
// next request tries again rather than waiting for nothing).
func (p *Pool) lowerLimitLocked(host string, open int, refusal error) {
	l := p.limits[host]
	if l == nil {
		l = &hostLimit{max: p.cfg.MaxConnsPerHost}
		l.raise = time.AfterFunc(p.cfg.LimitRaiseAfter, func() { p.raiseLimit(host, l) })
		p.limits[host] = l
	} else {
		l.raise.Reset(p.cfg.LimitRaiseAfter)
	}
	if n := max(open, 1); n < l.max {
		l.max = n
		p.cfg.Logger.Debug("ftp server refused a connection: connection limit lowered", "server", host, "limit", n, "err", refusal)
	}
	l.changed = time.Now() // after the log line, so the log shows whole quiet periods
}

// raiseLimit lets host have one connection more, LimitRaiseAfter after
// the last refusal or rise.
func (p *Pool) raiseLimit(host string, l *hostLimit) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.limits[host] != l {
		return
	}
	if wait := p.cfg.LimitRaiseAfter - time.Since(l.changed); wait > 0 {
		// A refusal came as the timer fired: the quiet starts again.
		l.raise.Reset(wait)
		return
	}
	l.max++
	if l.max >= p.cfg.MaxConnsPerHost {
		delete(p.limits, host)
		p.cfg.Logger.Debug("ftp server connection limit lifted", "server", host, "limit", p.cfg.MaxConnsPerHost)
	} else {
		p.cfg.Logger.Debug("ftp server connection limit raised", "server", host, "limit", l.max)
		l.changed = time.Now()
		l.raise.Reset(p.cfg.LimitRaiseAfter)
	}
	p.notifyLocked()
}

// healthy checks a connection that sat idle for a while, so a server that
// dropped it is noticed before an operation starts.
func (p *Pool) healthy(c *conn) bool {
	if time.Since(c.idleSince) < p.cfg.NoopAfter {
		return true
	}
	c.control.limit(time.Time{}, controlBudget)
	return c.sc.NoOp() == nil
}

// evictIdleLocked takes the longest-idle connection to host out of the pool.
func (p *Pool) evictIdleLocked(host string) *conn {
	var victim *conn
	for _, sp := range p.sites {
		if sp.key.ep.Addr() != host || len(sp.idle) == 0 {
			continue
		}
		if victim == nil || sp.idle[0].idleSince.Before(victim.idleSince) {
			victim = sp.idle[0]
		}
	}
	if victim != nil {
		sp := victim.pool
		sp.idle = sp.idle[1:]
		p.dropLocked(sp)
	}
	return victim
}

// release gives a connection back; a connection that may be out of step
// with its server is closed instead.
func (p *Pool) release(c *conn, reusable bool) {
	p.mu.Lock()
	sp := c.pool
	if reusable && !sp.gone && !p.closed {
		c.idleSince = time.Now()
		sp.idle = append(sp.idle, c)
		p.notifyLocked()
		p.mu.Unlock()
		return
	}
	p.dropLocked(sp)
	p.mu.Unlock()
	p.quit(c)
}

// dropLocked accounts for one connection of sp going away.
func (p *Pool) dropLocked(sp *sitePool) {
	sp.open--
	host := sp.key.ep.Addr()
	if p.perHost[host]--; p.perHost[host] <= 0 {
		delete(p.perHost, host)
	}
	p.releaseSlotLocked(host)
	if sp.open == 0 && len(sp.idle) == 0 && p.sites[sp.key] == sp {
		delete(p.sites, sp.key)
	}
	p.notifyLocked()
}

func (p *Pool) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// quit says goodbye without waiting long: the server may be gone.
func (p *Pool) quit(c *conn) {
	c.control.limit(time.Now().Add(2*time.Second), controlBudget)
	_ = c.sc.Quit()
}

// Forget closes the owner's connections to ep as user, in any name
// encoding: idle ones now, busy ones when their operation ends. Empty user
// forgets every user.
func (p *Pool) Forget(owner string, ep Endpoint, user string) {
	p.forget(func(k poolKey) bool { return k.owner == owner && k.ep.sameServer(ep) && (user == "" || k.user == user) })
}

// ForgetOwner closes all connections of one owner (a session that ended).
func (p *Pool) ForgetOwner(owner string) {
	p.forget(func(k poolKey) bool { return k.owner == owner })
}

func (p *Pool) forget(match func(poolKey) bool) {
	var idle []*conn
	p.mu.Lock()
	for k, sp := range p.sites {
		if !match(k) {
			continue
		}
		sp.gone = true
		for _, c := range sp.idle {
			idle = append(idle, c)
			p.dropLocked(sp)
		}
		sp.idle = nil
		delete(p.sites, k)
	}
	p.mu.Unlock()
	for _, c := range idle {
		p.quit(c)
	}
}

// Close quits every idle connection and stops the reaper; connections in
// use are closed as their operations end.
func (p *Pool) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.notifyLocked()
	for _, l := range p.limits {
		l.raise.Stop()
	}
	close(p.stop)
	p.mu.Unlock()
	p.forget(func(poolKey) bool { return true })
	p.wg.Wait()
}

// reap closes connections idle longer than IdleTimeout.
func (p *Pool) reap() {
	defer p.wg.Done()
	every := p.cfg.IdleTimeout / 4
	if every < 100*time.Millisecond {
		every = 100 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		var old []*conn
		p.mu.Lock()
		for _, sp := range p.sites {
			keep := sp.idle[:0]
			for _, c := range sp.idle {
				if time.Since(c.idleSince) >= p.cfg.IdleTimeout {
					old = append(old, c)
					p.dropLocked(sp)
				} else {
					keep = append(keep, c)
				}
			}
			sp.idle = keep
		}
		p.mu.Unlock()
		for _, c := range old {
			p.quit(c)
		}
	}
}

// disableMLSD remembers a server that advertises MLSD but refuses it, so
// new connections use LIST; idle ones, set up for MLSD, are closed.
func (p *Pool) disableMLSD(ep Endpoint) {
	p.mu.Lock()
	p.noMLSD[ep] = true
	p.mu.Unlock()
	p.forget(func(k poolKey) bool { return k.ep.sameServer(ep) })
}

func (p *Pool) mlsdDisabled(ep Endpoint) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.noMLSD[ep]
}

// HostStats are one FTP server's connections, for metrics.
type HostStats struct {
	Host    string // host:port
	Open    int    // logged in or logging in
	Idle    int    // open and free
	Waiting int    // requests waiting for a free slot
	// Limit is the most connections the pool opens to this server:
	// MaxConnsPerHost, or fewer that the server's refusals taught it or,
	// with a Budget, the bridges together (as the budget last said).
	Limit int
}

// PerHost returns every FTP server's connection counts.
func (p *Pool) PerHost() []HostStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	by := map[string]*HostStats{}
	get := func(host string) *HostStats {
		if by[host] == nil {
			by[host] = &HostStats{Host: host}
		}
		return by[host]
	}
	for host, n := range p.perHost {
		get(host).Open = n
	}
	for host, n := range p.waiting {
		get(host).Waiting = n
	}
	for _, sp := range p.sites {
		get(sp.key.ep.Addr()).Idle += len(sp.idle)
	}
	for host := range p.limits {
		get(host)
	}
	for host := range p.sharedLimits {
		get(host)
	}
	out := make([]HostStats, 0, len(by))
	for host, hs := range by {
		hs.Limit = p.hostMaxLocked(host)
		if l, ok := p.sharedLimits[host]; ok && l < hs.Limit {
			hs.Limit = l
		}
		out = append(out, *hs)
	}
	return out
}

// Stats counts connections, for tests and metrics.
type Stats struct {
	Open int
	Idle int
}

// Stats returns the pool's current counts.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	var s Stats
	for _, n := range p.perHost {
		s.Open += n
	}
	for _, sp := range p.sites {
		s.Idle += len(sp.idle)
	}
	return s
}

// errRetryFresh asks hold to run the operation again on a new connection.
var errRetryFresh = errors.New("retry on a fresh connection")

// hold runs fn on a pooled connection and, if fn succeeds, keeps the
// connection for the caller, who must release it. If a reused connection
// turns out to have been dropped by the server (421, EOF, reset), fn runs
// again on the next one: fn must not have sent anything to the client.
// After a server restart every idle connection is dead, so a dropped reused
// connection never ends the attempt; only a freshly dialled one that fails
// does. Each dead one is closed on the way, so the loop ends.
func (h *Handle) hold(ctx context.Context, fn func(c *conn) error) (*conn, error) {
	retriedFresh := false
	for {
		c, err := h.p.acquire(ctx, h.key, h.login)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", h.key.ep, err)
		}
		c.control.limit(time.Time{}, controlBudget)
		start := time.Now()
		err = fn(c)
		if h.p.cfg.ObserveOp != nil {
			h.p.cfg.ObserveOp(time.Since(start), err)
		}
		if err == nil {
			return c, nil
		}
		askedFresh := errors.Is(err, errRetryFresh)
		h.p.release(c, inStep(err) && !askedFresh)
		stale := dropped(err) && !c.fresh
		if stale || askedFresh && !retriedFresh {
			retriedFresh = retriedFresh || askedFresh
			h.p.cfg.Logger.Debug("retrying on another ftp connection", "server", h.key.ep, "err", err)
			continue
		}
		return nil, fmt.Errorf("%s: %w", h.key.ep, err)
	}
}

// do runs fn on a pooled connection and gives it back.
func (h *Handle) do(ctx context.Context, fn func(c *conn) error) error {
	c, err := h.hold(ctx, fn)
	if err == nil {
		h.p.release(c, true)
	}
	return err
}

// Check logs in (or reuses a live connection), to test credentials.
func (h *Handle) Check(ctx context.Context) error {
	return h.do(ctx, func(*conn) error { return nil })
}

// Home returns the login folder: where the server puts this login (its PWD
// after login), which paths in bridge URLs are relative to. Once a
// connection logged in it is known; else this logs in.
func (h *Handle) Home(ctx context.Context) (string, error) {
	h.p.mu.Lock()
	var home string
	if sp := h.p.sites[h.key]; sp != nil {
		home = sp.home
	}
	h.p.mu.Unlock()
	if home != "" {
		return home, nil
	}
	err := h.do(ctx, func(c *conn) error {
		home = c.home
		return nil
	})
	return home, err
}
