// Package redislock keeps the WebDAV locks of a cluster of bridges in
// Redis, so that a client's LOCK on one bridge and its PUT with the lock's
// token on another agree (behind a load balancer without stickiness,
// Windows Explorer, macOS Finder and LibreOffice would otherwise fail to
// write). A Store makes one golang.org/x/net/webdav LockSystem per
// namespace (the FTP server and login folder the webdav package keys its
// locks by) with the rules of x/net's in-memory one: a lock on a name
// conflicts with one on the same name, an infinite-depth lock with any
// lock below it, and a lock with an infinite-depth one above it; Confirm
// holds the locks it confirms, on every bridge, until its release.
//
// Keys (<ns> is the hex of the first 16 bytes of the namespace's SHA-256,
// as the namespace holds host names and paths; the braces are Redis
// Cluster hash tags):
//
//	ftpbridge:davlocks:{<ns>}        the namespace's locks (hash: token → JSON), until the last one ends
//	ftpbridge:davlocks:{<ns>}:mutex  who changes them now (string), for at most a few seconds
//
// Every change happens under the namespace's mutex (SET NX PX with a
// random value): it reads the namespace's few locks, applies the rules in
// Go, and writes the result with a script that checks the mutex is still
// its own and deletes it. Timeouts count by the bridges' clocks (the now
// x/net/webdav passes), which must roughly agree, as NTP keeps them.
//
// Redis keeps what a process would have forgotten on restart, so nothing
// here lives for ever: a lock with an infinite timeout lives MaxInfinite
// from its creation or last refresh, the lock that x/net/webdav takes
// around each write without an If header (infinite, depth zero, no owner)
// and a Confirm's hold live Lease, so a bridge that dies in a request
// leaves nothing locked for long. A client's own lock of that shape (no
// owner, no timeout, depth zero) lives Lease too: a lock lost early, as
// RFC 4918 allows, where MemLS would lose it on the next restart.
//
// When Redis cannot be reached within Timeout, a namespace's locks fall
// back to an in-memory LockSystem of this process, with one warning per
// outage, as the other shared state of a cluster does (redislimit,
// redisbus): WebDAV clients go on writing. Failing instead would stop
// every WebDAV write, since x/net/webdav takes a lock around each one.
// The price is that during an outage a lock is known to its own bridge
// only: a write through another bridge does not see it, and a token
// Redis issued is unknown to the fallback (412). Tokens tell where they
// live (Redis's are urn:uuid: URIs), so a lock taken in the fallback is
// still confirmed, refreshed and unlocked there once Redis is back (and
// stays unknown to the other bridges).
package redislock

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/net/webdav"
)

// Options tune a Store; the zero value is fine.
type Options struct {
	Logger *slog.Logger
	// Timeout is the longest one Redis command waits (0: 500 ms). The
	// client should have ContextTimeoutEnabled.
	Timeout time.Duration
	// Retry is how long, after Redis failed, the locks stay in this
	// process before one call tries Redis again (0: 1 s).
	Retry time.Duration
	// Lease is how long a Confirm's hold, and the lock x/net/webdav takes
	// for the length of one write, last unless released first (0: 10
	// min): a request longer than that loses them.
	Lease time.Duration
	// MaxInfinite is how long a lock with an infinite timeout lasts
	// without a refresh (0: 24 h).
	MaxInfinite time.Duration
}

// Store makes the LockSystems of one process. It is safe for concurrent
// use.
type Store struct {
	client      redis.UniversalClient
	logger      *slog.Logger
	timeout     time.Duration
	retry       time.Duration
	lease       time.Duration
	maxInfinite time.Duration

	down      atomic.Bool
	nextProbe atomic.Int64 // unix nanoseconds: while down, calls stay local until then
}

// mutexTTL bounds how long a bridge that died while changing a namespace
// keeps the others from changing it. A change is three commands, each
// within the Timeout.
const mutexTTL = 5 * time.Second

// grace keeps a namespace's hash past its last expiry, so that a bridge
// whose clock is a little behind still finds the lock it thinks alive.
const grace = time.Minute

// tokenPrefix starts every token Redis issues; x/net's in-memory tokens
// are decimal numbers.
const tokenPrefix = "urn:uuid:"

// New makes a Store on client.
func New(client redis.UniversalClient, opts Options) *Store {
	s := &Store{client: client, logger: opts.Logger, timeout: opts.Timeout, retry: opts.Retry,
		lease: opts.Lease, maxInfinite: opts.MaxInfinite}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if s.timeout <= 0 {
		s.timeout = 500 * time.Millisecond
	}
	if s.retry <= 0 {
		s.retry = time.Second
	}
	if s.lease <= 0 {
		s.lease = 10 * time.Minute
	}
	if s.maxInfinite <= 0 {
		s.maxInfinite = 24 * time.Hour
	}
	return s
}

// LockSystem is the locks of namespace, shared with every Store on the
// same Redis. Callers keep it: its fallback lives in it.
func (s *Store) LockSystem(namespace string) webdav.LockSystem {
	sum := sha256.Sum256([]byte(namespace))
	base := "ftpbridge:davlocks:{" + hex.EncodeToString(sum[:16]) + "}"
	return &lockSystem{s: s, key: base, mutex: base + ":mutex", local: webdav.NewMemLS()}
}

// errOutage wraps a failure to reach Redis: the call falls back.
type errOutage struct{ err error }

func (e *errOutage) Error() string { return "redis is unreachable: " + e.err.Error() }
func (e *errOutage) Unwrap() error { return e.err }

// errBusy is a namespace whose mutex another bridge kept too long.
var errBusy = errors.New("redislock: the namespace's locks are busy on another bridge")

// errLostMutex is a change that took longer than the mutex lasts; it is
// not written, as another bridge may have changed the locks meanwhile.
var errLostMutex = errors.New("redislock: the namespace's mutex expired before the change was written")

// useRedis says whether a call goes to Redis: always while it is up, one
// probe per Retry while it is down.
func (s *Store) useRedis() bool {
	if !s.down.Load() {
		return true
	}
	probe := s.nextProbe.Load()
	now := time.Now().UnixNano()
	return now >= probe && s.nextProbe.CompareAndSwap(probe, now+s.retry.Nanoseconds())
}

// noted says whether err is an outage, and notes the start or end of
// one: a warning when Redis fails, information when it answers again.
func (s *Store) noted(err error) bool {
	if _, ok := errors.AsType[*errOutage](err); ok {
		s.nextProbe.Store(time.Now().Add(s.retry).UnixNano())
		if s.down.CompareAndSwap(false, true) {
			s.logger.Warn("redis is unreachable: WebDAV locks are kept in each bridge until it is back, and a lock taken meanwhile is unknown to the other bridges", "err", err)
		}
		return true
	}
	if s.down.CompareAndSwap(true, false) {
		s.logger.Info("redis is back: WebDAV locks are shared again")
	}
	return false
}

// record is one lock in Redis. Times are unix milliseconds by the
// clocks of the bridges (the now that x/net/webdav passes).
type record struct {
	Root      string `json:"root"`
	ZeroDepth bool   `json:"zeroDepth,omitempty"`
	Duration  int64  `json:"duration"` // nanoseconds as asked; negative is infinite
	Owner     string `json:"owner,omitempty"`
	Expiry    int64  `json:"expiry"`
	// Hold names the Confirm that holds the lock until HeldUntil or its
	// release, whichever comes first; a late release of an older hold
	// must not end it.
	Hold      string `json:"hold,omitempty"`
	HeldUntil int64  `json:"heldUntil,omitempty"`
}

func (r *record) held(now int64) bool { return r.Hold != "" && now < r.HeldUntil }

// alive: a held lock does not expire until its hold ends.
func (r *record) alive(now int64) bool { return r.held(now) || now < r.Expiry }

func (r *record) details() webdav.LockDetails {
	return webdav.LockDetails{Root: r.Root, Duration: time.Duration(r.Duration), OwnerXML: r.Owner, ZeroDepth: r.ZeroDepth}
}

// setExpiry starts the lock's timeout at now (see the package comment for
// the infinite ones).
func (s *Store) setExpiry(r *record, now time.Time) {
	d := time.Duration(r.Duration)
	switch {
	case d < 0 && r.ZeroDepth && r.Owner == "":
		d = s.lease
	case d < 0:
		d = s.maxInfinite
	}
	r.Expiry = now.Add(d).UnixMilli()
}

// covers says whether r locks name (MemLS's lookup).
func (r *record) covers(name string) bool {
	if name == r.Root {
		return true
	}
	return !r.ZeroDepth && (r.Root == "/" || strings.HasPrefix(name, r.Root+"/"))
}

// below says whether name is strictly inside the folder dir.
func below(name, dir string) bool {
	return name != dir && (dir == "/" || strings.HasPrefix(name, dir+"/"))
}

func slashClean(name string) string { return path.Clean("/" + name) }

// lockSystem is one namespace's locks.
type lockSystem struct {
	s          *Store
	key, mutex string
	local      webdav.LockSystem // while Redis is down
}

// locks is a namespace's locks read under its mutex, and what a change
// does to them.
type locks struct {
	all     map[string]*record
	changed map[string]bool // tokens to write, or to delete if gone from all
}

func (ls *locks) set(token string, r *record) {
	ls.all[token] = r
	ls.changed[token] = true
}

func (ls *locks) remove(token string) {
	delete(ls.all, token)
	ls.changed[token] = true
}

// change runs fn on the namespace's live locks under its mutex, and
// writes what it changed (with the expired locks dropped) before letting
// the mutex go. fn's error is returned after the write.
func (l *lockSystem) change(now time.Time, fn func(ls *locks) error) error {
	owner, err := l.lock()
	if err != nil {
		return err
	}
	ls, err := l.read(now)
	if err == nil {
		err = fn(ls)
	}
	if werr := l.write(now, owner, ls); werr != nil {
		return werr
	}
	return err
}

// lock takes the namespace's mutex, waiting at most as long as another
// bridge may keep it.
func (l *lockSystem) lock() (string, error) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	owner := hex.EncodeToString(b[:])
	deadline := time.Now().Add(mutexTTL)
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		var ok bool
		err := l.call(func(ctx context.Context) (err error) {
			ok, err = l.s.client.SetNX(ctx, l.mutex, owner, mutexTTL).Result()
			return err
		})
		if err != nil {
			return "", err
		}
		if ok {
			return owner, nil
		}
		if time.Now().After(deadline) {
			return "", errBusy
		}
		time.Sleep(wait) // another bridge changes the locks: a few milliseconds
	}
}

// call runs one command within the Timeout; a failure is an outage.
func (l *lockSystem) call(fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), l.s.timeout)
	defer cancel()
	if err := fn(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return &errOutage{err: err}
	}
	return nil
}

// read loads the namespace's locks, leaving out the dead ones (and
// marking them for deletion).
func (l *lockSystem) read(now time.Time) (*locks, error) {
	var raw map[string]string
	err := l.call(func(ctx context.Context) (err error) {
		raw, err = l.s.client.HGetAll(ctx, l.key).Result()
		return err
	})
	if err != nil {
		return nil, err
	}
	ls := &locks{all: make(map[string]*record, len(raw)), changed: make(map[string]bool)}
	ms := now.UnixMilli()
	for token, js := range raw {
		r := new(record)
		if err := json.Unmarshal([]byte(js), r); err != nil || !r.alive(ms) {
			// A record no bridge of this version wrote is no lock it
			// can honour: it goes.
			ls.changed[token] = true
			continue
		}
		ls.all[token] = r
	}
	return ls, nil
}

// writeScript writes a change if the mutex is still the caller's, and
// lets the mutex go. KEYS: mutex, hash. ARGV: mutex owner, the hash's
// time to live in ms (0: as it is), the number of tokens to delete, those
// tokens, then token and JSON pairs to set.
var writeScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local ndel = tonumber(ARGV[3])
for i = 4, 3 + ndel do redis.call('HDEL', KEYS[2], ARGV[i]) end
for i = 4 + ndel, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
if ARGV[2] ~= '0' and redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
redis.call('DEL', KEYS[1])
return 1
`)

// write writes ls's changes and lets the mutex go. A nil ls (the read
// failed) changes nothing, not even the hash's time to live, which only
// a full read can tell.
func (l *lockSystem) write(now time.Time, owner string, ls *locks) error {
	var dels, sets []any
	var ttl time.Duration
	if ls != nil {
		ttl = grace
		for token := range ls.changed {
			r, ok := ls.all[token]
			if !ok {
				dels = append(dels, token)
				continue
			}
			js, err := json.Marshal(r)
			if err != nil {
				return fmt.Errorf("redislock: encode lock: %w", err)
			}
			sets = append(sets, token, string(js))
		}
		for _, r := range ls.all {
			end := max(r.Expiry, r.HeldUntil)
			ttl = max(ttl, time.UnixMilli(end).Sub(now)+grace)
		}
	}
	args := append([]any{owner, ttl.Milliseconds(), len(dels)}, dels...)
	args = append(args, sets...)
	var n int
	err := l.call(func(ctx context.Context) (err error) {
		n, err = writeScript.Run(ctx, l.s.client, []string{l.mutex, l.key}, args...).Int()
		return err
	})
	if err != nil {
		return err
	}
	if n != 1 {
		return errLostMutex
	}
	return nil
}

// newToken is a random URN (RFC 4918 asks for a URI, and unique ones).
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(b[:])
	return tokenPrefix + h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Create makes a lock unless another one conflicts with it.
func (l *lockSystem) Create(now time.Time, details webdav.LockDetails) (string, error) {
	if !l.s.useRedis() {
		return l.local.Create(now, details)
	}
	details.Root = slashClean(details.Root)
	token := newToken()
	err := l.change(now, func(ls *locks) error {
		for _, r := range ls.all {
			if r.Root == details.Root || // the same name
				(!details.ZeroDepth && below(r.Root, details.Root)) || // a lock in the new one's tree
				(!r.ZeroDepth && below(details.Root, r.Root)) { // one whose tree holds the new one
				return webdav.ErrLocked
			}
		}
		r := &record{Root: details.Root, ZeroDepth: details.ZeroDepth, Duration: int64(details.Duration), Owner: details.OwnerXML}
		l.s.setExpiry(r, now)
		ls.set(token, r)
		return nil
	})
	if l.s.noted(err) {
		return l.local.Create(now, details)
	}
	if err != nil {
		return "", wrap("lock", err)
	}
	return token, nil
}

// Refresh restarts a lock's timeout with a new duration.
func (l *lockSystem) Refresh(now time.Time, token string, duration time.Duration) (webdav.LockDetails, error) {
	if !strings.HasPrefix(token, tokenPrefix) || !l.s.useRedis() {
		return l.local.Refresh(now, token, duration)
	}
	var details webdav.LockDetails
	err := l.change(now, func(ls *locks) error {
		r, ok := ls.all[token]
		if !ok {
			return webdav.ErrNoSuchLock
		}
		if r.held(now.UnixMilli()) {
			return webdav.ErrLocked
		}
		r.Duration = int64(duration)
		l.s.setExpiry(r, now)
		ls.set(token, r)
		details = r.details()
		return nil
	})
	if l.s.noted(err) {
		return l.local.Refresh(now, token, duration)
	}
	return details, wrap("refresh", err)
}

// Unlock removes a lock that no request holds.
func (l *lockSystem) Unlock(now time.Time, token string) error {
	if !strings.HasPrefix(token, tokenPrefix) || !l.s.useRedis() {
		return l.local.Unlock(now, token)
	}
	err := l.change(now, func(ls *locks) error {
		r, ok := ls.all[token]
		if !ok {
			return webdav.ErrNoSuchLock
		}
		if r.held(now.UnixMilli()) {
			return webdav.ErrLocked
		}
		ls.remove(token)
		return nil
	})
	if l.s.noted(err) {
		return l.local.Unlock(now, token)
	}
	return wrap("unlock", err)
}

// Confirm holds, until release, a lock among conditions for each of
// name0 and name1 (empty names need none). Conditions naming tokens of
// the fallback are confirmed there.
func (l *lockSystem) Confirm(now time.Time, name0, name1 string, conditions ...webdav.Condition) (func(), error) {
	ours, theirs := false, false
	for _, c := range conditions {
		if strings.HasPrefix(c.Token, tokenPrefix) {
			ours = true
		} else if c.Token != "" {
			theirs = true
		}
	}
	if !ours || !l.s.useRedis() {
		return l.local.Confirm(now, name0, name1, conditions...)
	}
	release, err := l.confirm(now, name0, name1, conditions)
	if l.s.noted(err) || (theirs && errors.Is(err, webdav.ErrConfirmationFailed)) {
		return l.local.Confirm(now, name0, name1, conditions...)
	}
	if err != nil {
		return nil, wrap("confirm", err)
	}
	return release, nil
}

func (l *lockSystem) confirm(now time.Time, name0, name1 string, conditions []webdav.Condition) (func(), error) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	hold := hex.EncodeToString(b[:])
	var tokens []string
	err := l.change(now, func(ls *locks) error {
		ms := now.UnixMilli()
		// find is MemLS's lookup: the first condition's lock that covers
		// name and that no request holds.
		find := func(name string) string {
			for _, c := range conditions {
				if r, ok := ls.all[c.Token]; ok && !r.held(ms) && r.covers(name) {
					return c.Token
				}
			}
			return ""
		}
		for _, name := range []string{name0, name1} {
			if name == "" {
				continue
			}
			token := find(slashClean(name))
			if token == "" {
				return webdav.ErrConfirmationFailed
			}
			if len(tokens) == 0 || tokens[0] != token {
				tokens = append(tokens, token)
			}
		}
		for _, token := range tokens {
			r := ls.all[token]
			r.Hold, r.HeldUntil = hold, now.Add(l.s.lease).UnixMilli()
			ls.set(token, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return func() { l.release(hold, tokens) }, nil
}

// release ends a hold. Failing, it logs: the hold then ends with its
// lease.
func (l *lockSystem) release(hold string, tokens []string) {
	if len(tokens) == 0 || !l.s.useRedis() {
		return // with Redis down, the hold ends with its lease
	}
	now := time.Now()
	err := l.change(now, func(ls *locks) error {
		for _, token := range tokens {
			if r, ok := ls.all[token]; ok && r.Hold == hold {
				r.Hold, r.HeldUntil = "", 0
				ls.set(token, r)
			}
		}
		return nil
	})
	if err != nil && !l.s.noted(err) {
		l.s.logger.Warn("webdav lock: a request's hold on its locks stays until it expires", "err", err, "lease", l.s.lease)
	}
}

// wrap gives an error that is not one of x/net's verdicts some context;
// the verdicts go back as they are, since x/net/webdav compares them with
// ==.
func wrap(op string, err error) error {
	switch err {
	case nil, webdav.ErrLocked, webdav.ErrNoSuchLock, webdav.ErrConfirmationFailed, webdav.ErrForbidden:
		return err
	}
	return fmt.Errorf("webdav %s: %w", op, err)
}
