package redislimit

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// A window's tries are one counter, ftpbridge:tries:<limit>:<key>, that expires
// when the window ends.

// takeTry counts a try (KEYS[1]) unless ARGV[1] were taken: then it
// returns the milliseconds left of the window (ARGV[2] ms).
var takeTry = redis.NewScript(`
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then
  local left = redis.call('PTTL', KEYS[1])
  if left > 0 then return left end
  return tonumber(ARGV[2])
end
redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`)

// giveBackTry takes one off the counter, never below zero.
var giveBackTry = redis.NewScript(`
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
return 0
`)

func triesKey(key string) string { return "ftpbridge:tries:" + key }

// TakeTry implements access.SharedLimits.
func (s *Store) TakeTry(ctx context.Context, key string, max int, window time.Duration) (wait time.Duration, err error) {
	err = s.call(ctx, "take a try", func(ctx context.Context) error {
		ms, err := takeTry.Run(ctx, s.client, []string{triesKey(key)}, max, window.Milliseconds()).Int64()
		wait = time.Duration(ms) * time.Millisecond
		return err
	})
	return wait, err
}

// GiveBackTry implements access.SharedLimits.
func (s *Store) GiveBackTry(ctx context.Context, key string) error {
	return s.call(ctx, "give back a try", func(ctx context.Context) error {
		return giveBackTry.Run(ctx, s.client, []string{triesKey(key)}).Err()
	})
}

// CountTries implements access.SharedLimits.
func (s *Store) CountTries(ctx context.Context, key string) (n int, err error) {
	err = s.call(ctx, "count tries", func(ctx context.Context) error {
		n, err = s.client.Get(ctx, triesKey(key)).Int()
		if errors.Is(err, redis.Nil) {
			return nil
		}
		return err
	})
	return n, err
}

// A key's failures are the hash ftpbridge:slow:<key>: "fails", and
// "next", the earliest start of the next try in Redis's milliseconds. It
// expires ttl after the last failure.

// slowSlot is access's memory.SlowSlot on that hash: ARGV own (1 or 0),
// free, first and max (ms); it returns the wait (ms) and 1 if allowed.
var slowSlot = redis.NewScript(nowLua + `
local fails = tonumber(redis.call('HGET', KEYS[1], 'fails') or '0')
local free = tonumber(ARGV[2])
if fails < free then return {0, 1} end
local first, max = tonumber(ARGV[3]), tonumber(ARGV[4])
local delay = max
if fails - free < 16 then delay = math.min(first * 2 ^ (fails - free), max) end
local nextAt = tonumber(redis.call('HGET', KEYS[1], 'next') or '0')
local start = math.max(now, nextAt)
if start - now > max then
  if ARGV[1] == '1' then return {start - now - max, 0} end
  start = now + max
end
if start + delay > nextAt then redis.call('HSET', KEYS[1], 'next', math.floor(start + delay)) end
return {start - now, 1}
`)

// slowFailed counts a failure and keeps the hash ARGV[1] ms from now.
var slowFailed = redis.NewScript(`
redis.call('HINCRBY', KEYS[1], 'fails', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 0
`)

func slowKey(key string) string { return "ftpbridge:slow:" + key }

// SlowSlot implements access.SharedLimits.
func (s *Store) SlowSlot(ctx context.Context, key string, own bool, free int, first, max time.Duration) (wait time.Duration, ok bool, err error) {
	ownArg := 0
	if own {
		ownArg = 1
	}
	err = s.call(ctx, "space a try", func(ctx context.Context) error {
		r, err := slowSlot.Run(ctx, s.client, []string{slowKey(key)}, ownArg, free, first.Milliseconds(), max.Milliseconds()).Int64Slice()
		if err != nil {
			return err
		}
		if len(r) != 2 {
			return errors.New("unexpected reply")
		}
		wait, ok = time.Duration(r[0])*time.Millisecond, r[1] == 1
		return nil
	})
	return wait, ok, err
}

// SlowFailed implements access.SharedLimits.
func (s *Store) SlowFailed(ctx context.Context, key string, ttl time.Duration) error {
	return s.call(ctx, "count a failure", func(ctx context.Context) error {
		return slowFailed.Run(ctx, s.client, []string{slowKey(key)}, ttl.Milliseconds()).Err()
	})
}
