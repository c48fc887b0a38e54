package redislimit

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ftpbridge/ftpbridge/internal/servicetest"
)

// newStore is a Store on a client of its own for the Redis at url.
func newStore(t *testing.T, url string, opts Options) (*Store, *redis.Client) {
	t.Helper()
	client := servicetest.RedisClient(t, url)
	s := New(client, opts)
	t.Cleanup(s.Close)
	return s, client
}

// TestKeysExpire: every key a Store writes expires on its own, so Redis
// keeps nothing for clients, users and servers nobody uses.
func TestKeysExpire(t *testing.T) {
	_, url := servicetest.Redis(t, servicetest.NewPorts(t))
	s, client := newStore(t, url, Options{})
	ctx := context.Background()
	if _, err := s.TakeTry(ctx, "login-client:192.0.2.1", 10, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.SlowFailed(ctx, "login-user:192.0.2.9:21 alice", 15*time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Reserve(ctx, "192.0.2.9:21", 4, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Refused(ctx, "192.0.2.9:21", 4, time.Minute); err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Duration{
		"ftpbridge:tries:login-client:192.0.2.1":       time.Minute,
		"ftpbridge:slow:login-user:192.0.2.9:21 alice": 15 * time.Minute,
		"ftpbridge:budget:{192.0.2.9:21}:held":         30 * time.Second,
		"ftpbridge:budget:{192.0.2.9:21}:leases":       30 * time.Second,
		"ftpbridge:budget:{192.0.2.9:21}:limit":        3 * time.Minute, // limit 1 of 4: three rises
	}
	keys, err := client.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(want) {
		t.Errorf("keys %q, want those of %v", keys, want)
	}
	for key, ttl := range want {
		got, err := client.PTTL(ctx, key).Result()
		if err != nil || got <= ttl-5*time.Second || got > ttl {
			t.Errorf("%s expires in %v (%v), want about %v", key, got, err, ttl)
		}
	}
}

// TestLearnedLimitRises: a limit learned from a refusal rises by one
// after each quiet period, as ftppool's own does, and is forgotten at
// the cap; a refusal starts the quiet period again.
func TestLearnedLimitRises(t *testing.T) {
	const capacity, quiet = 3, 300 * time.Millisecond
	_, url := servicetest.Redis(t, servicetest.NewPorts(t))
	s, client := newStore(t, url, Options{})
	ctx := context.Background()
	const host = "192.0.2.9:21"
	if ok, _, err := s.Reserve(ctx, host, capacity, quiet); err != nil || !ok {
		t.Fatalf("first slot: %v %v", ok, err)
	}
	others, limit, err := s.Refused(ctx, host, capacity, quiet)
	if err != nil || others != 0 || limit != 1 {
		t.Fatalf("refused with only its own slot held: others %d, limit %d, %v; want 0, 1", others, limit, err)
	}
	learned := time.Now()
	if err := s.Release(ctx, host); err != nil {
		t.Fatal(err)
	}
	limitNow := func() int {
		ok, limit, err := s.Reserve(ctx, host, capacity, quiet)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			if err := s.Release(ctx, host); err != nil {
				t.Fatal(err)
			}
		}
		return limit
	}
	for _, want := range []int{1, 2, 3} {
		for limitNow() < want {
			if time.Since(learned) > time.Duration(want)*quiet+2*time.Second {
				t.Fatalf("the limit did not reach %d", want)
			}
			time.Sleep(10 * time.Millisecond) // polling: the limit rises with Redis's clock
		}
		if since := time.Since(learned); since < time.Duration(want-1)*quiet {
			t.Errorf("the limit reached %d %v after it was learned, before %d quiet periods", want, since, want-1)
		}
	}
	if n, err := client.Exists(ctx, "ftpbridge:budget:{"+host+"}:limit").Result(); err != nil || n != 0 {
		t.Errorf("the limit is still stored at the cap (%d, %v)", n, err)
	}
}

// TestSilentRedisIsATimeout: a Redis that takes connections and never
// answers holds a call no longer than Timeout, and then none at all
// until Retry.
func TestSilentRedisIsATimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	s, _ := newStore(t, "redis://"+ln.Addr().String(), Options{Timeout: 300 * time.Millisecond, Retry: time.Minute, Logger: logger})
	for i, limit := range []time.Duration{2 * time.Second, 100 * time.Millisecond} {
		start := time.Now()
		if _, err := s.TakeTry(context.Background(), "k", 1, time.Minute); err == nil {
			t.Fatalf("call %d: no error from a silent Redis", i+1)
		}
		if d := time.Since(start); d > limit {
			t.Errorf("call %d took %v, want under %v", i+1, d, limit)
		}
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logs.String())
	}
}
