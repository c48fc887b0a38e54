package redislimit

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// The budget of one server (host is its IP:port) is three keys, with the
// host in braces so that a Redis Cluster keeps them in one slot:
//
//	ftpbridge:budget:{host}:held    hash: bridge instance -> connections it holds
//	ftpbridge:budget:{host}:leases  sorted set: bridge instance, scored by when its lease ends (ms)
//	ftpbridge:budget:{host}:limit   hash: "limit" learned from refusals, "changed" when (ms)
//
// A bridge whose lease ended (it died) is dropped from held by the next
// script that counts. held and leases expire a lease after the last
// change, limit when it would have risen back to the cap, so Redis keeps
// nothing for servers nobody uses.

func budgetKeys(host string) []string {
	p := "ftpbridge:budget:{" + host + "}:"
	return []string{p + "held", p + "leases", p + "limit"}
}

// countLua sets held to the connections live bridges hold, and limit to
// the server's learned limit: the stored one plus one for each raiseAfter
// (ARGV[3] ms) since it changed, as ftppool's own hostLimit rises, up to
// the cap (ARGV[2]), where it is forgotten.
const countLua = nowLua + `
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do
  redis.call('HDEL', KEYS[1], gone)
  redis.call('ZREM', KEYS[2], gone)
end
local held = 0
for _, n in ipairs(redis.call('HVALS', KEYS[1])) do held = held + tonumber(n) end
local cap, raiseAfter = tonumber(ARGV[2]), tonumber(ARGV[3])
local limit = cap
local l = redis.call('HMGET', KEYS[3], 'limit', 'changed')
if l[1] then
  limit = tonumber(l[1]) + math.floor((now - tonumber(l[2])) / raiseAfter)
  if limit >= cap then
    limit = cap
    redis.call('DEL', KEYS[3])
  end
end
`

// reserve takes a slot for ARGV[1] (lease ARGV[4] ms) if the live
// bridges hold fewer than the limit; it returns 1 or 0, and the limit.
var reserve = redis.NewScript(countLua + `
if held >= limit then return {0, limit} end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return {1, limit}
`)

// refused lowers the limit to the slots held besides the refused dial's
// own, at least one, and restarts the quiet period; it returns those
// slots and the limit.
var refused = redis.NewScript(countLua + `
local others = math.max(held - 1, 0)
limit = math.min(limit, math.max(others, 1))
if limit < cap then
  redis.call('HSET', KEYS[3], 'limit', limit, 'changed', now)
  redis.call('PEXPIRE', KEYS[3], (cap - limit) * raiseAfter)
end
return {others, limit}
`)

// renew sets ARGV[1]'s slots to ARGV[2] and its lease to ARGV[3] ms from
// now; with no slots it forgets the bridge.
var renew = redis.NewScript(nowLua + `
if tonumber(ARGV[2]) <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 0
`)

// Reserve implements ftppool.Budget.
func (s *Store) Reserve(ctx context.Context, host string, capacity int, raiseAfter time.Duration) (ok bool, limit int, err error) {
	hl := s.hostLock(host)
	hl.Lock()
	defer hl.Unlock()
	err = s.call(ctx, "reserve a connection", func(ctx context.Context) error {
		r, err := reserve.Run(ctx, s.client, budgetKeys(host), s.instance, capacity, raiseAfter.Milliseconds(), s.lease.Milliseconds()).Int64Slice()
		if err != nil {
			return err
		}
		if len(r) != 2 {
			return errors.New("unexpected reply")
		}
		ok, limit = r[0] == 1, int(r[1])
		return nil
	})
	if err == nil && ok {
		s.mu.Lock()
		s.held[host]++
		s.mu.Unlock()
	}
	return ok, limit, err
}

// wantedChannel carries Want's requests as "instance host", so that
// bridges with idle connections to that host close one.
const wantedChannel = "ftpbridge:budget:wanted"

// Want implements ftppool.Budget.
func (s *Store) Want(ctx context.Context, host string) error {
	return s.call(ctx, "ask for a connection", func(ctx context.Context) error {
		return s.client.Publish(ctx, wantedChannel, s.instance+" "+host).Err()
	})
}

// Wanted implements ftppool.Budget.
func (s *Store) Wanted() <-chan string { return s.wanted }

// listenWanted passes the hosts other bridges want a slot of to Wanted,
// dropping what the pool has not read yet rather than waiting: a request
// that still waits asks again. While Redis is down it tries again each
// Retry; a reconnection subscribes again.
func (s *Store) listenWanted(ctx context.Context) {
	defer s.wg.Done()
	err := s.sub.Subscribe(ctx, wantedChannel)
	for ctx.Err() == nil {
		var msg any
		if err == nil {
			msg, err = s.sub.Receive(ctx)
		}
		if err != nil {
			err = nil
			select {
			case <-ctx.Done():
			case <-time.After(s.retry):
			}
			continue
		}
		m, ok := msg.(*redis.Message)
		if !ok {
			continue
		}
		instance, host, ok := strings.Cut(m.Payload, " ")
		if !ok || instance == s.instance {
			continue
		}
		select {
		case s.wanted <- host:
		default:
		}
	}
}

// Release implements ftppool.Budget. The slot is this bridge's no more
// even if Redis does not hear of it now: the next lease renewal tells it.
func (s *Store) Release(ctx context.Context, host string) error {
	hl := s.hostLock(host)
	hl.Lock()
	defer hl.Unlock()
	s.mu.Lock()
	if s.held[host] == 0 {
		s.mu.Unlock()
		return nil
	}
	s.held[host]--
	s.mu.Unlock()
	return s.call(ctx, "release a connection", func(ctx context.Context) error { return s.renew(ctx, host) })
}

// Refused implements ftppool.Budget.
func (s *Store) Refused(ctx context.Context, host string, capacity int, raiseAfter time.Duration) (others, limit int, err error) {
	err = s.call(ctx, "learn a connection limit", func(ctx context.Context) error {
		r, err := refused.Run(ctx, s.client, budgetKeys(host), s.instance, capacity, raiseAfter.Milliseconds()).Int64Slice()
		if err != nil {
			return err
		}
		if len(r) != 2 {
			return errors.New("unexpected reply")
		}
		others, limit = int(r[0]), int(r[1])
		return nil
	})
	return others, limit, err
}

// hostLock is host's lock (see Store.mu).
func (s *Store) hostLock(host string) *sync.Mutex {
	s.mu.Lock()
	defer s.mu.Unlock()
	hl := s.hostMu[host]
	if hl == nil {
		hl = new(sync.Mutex)
		s.hostMu[host] = hl
	}
	return hl
}

// withHost runs fn under host's lock.
func (s *Store) withHost(host string, fn func()) {
	hl := s.hostLock(host)
	hl.Lock()
	defer hl.Unlock()
	fn()
}

// hosts are the hosts this bridge holds slots of.
func (s *Store) hosts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Collect(maps.Keys(s.held))
}

// renew writes this bridge's slots to host and renews its lease; host's
// lock is held.
func (s *Store) renew(ctx context.Context, host string) error {
	s.mu.Lock()
	n := s.held[host]
	if n == 0 {
		delete(s.held, host)
	}
	s.mu.Unlock()
	return renew.Run(ctx, s.client, budgetKeys(host)[:2], s.instance, n, s.lease.Milliseconds()).Err()
}

// renewLeases renews this bridge's leases every third of a lease, until
// ctx ends. Each renewal writes the count this bridge holds, so one that a
// failed call left wrong in Redis is right again.
func (s *Store) renewLeases(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(s.lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, host := range s.hosts() {
			var err error
			s.withHost(host, func() {
				err = s.call(context.Background(), "renew a lease", func(ctx context.Context) error { return s.renew(ctx, host) })
			})
			if err != nil {
				break
			}
		}
	}
}
