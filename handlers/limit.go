package handlers

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// failures counts failed attempts per key (a share and a client address)
// in a fixed window: after max failures, the key is refused until the
// window ends. Entries of ended windows are dropped as new ones come, so
// memory stays bounded by the attempts of one window.
type failures struct {
	max    int
	window time.Duration
	mu     sync.Mutex
	byKey  map[string]*failureCount
}

type failureCount struct {
	n     int
	since time.Time
}

func newFailures(max int, window time.Duration) *failures {
	return &failures{max: max, window: window, byKey: make(map[string]*failureCount)}
}

// blocked says how long key must still wait, or 0.
func (f *failures) blocked(key string) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	fc := f.byKey[key]
	if fc == nil || fc.n < f.max {
		return 0
	}
	wait := time.Until(fc.since.Add(f.window))
	if wait <= 0 {
		delete(f.byKey, key)
		return 0
	}
	return wait
}

// fail counts one failure of key.
func (f *failures) fail(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	if len(f.byKey) > 10000 {
		for k, fc := range f.byKey {
			if now.Sub(fc.since) >= f.window {
				delete(f.byKey, k)
			}
		}
	}
	fc := f.byKey[key]
	if fc == nil || now.Sub(fc.since) >= f.window {
		fc = &failureCount{since: now}
		f.byKey[key] = fc
	}
	fc.n++
}

// clientIP is the address a request came from: the peer, or, when the
// peer is one of -trusted-proxies, the last address it added to
// X-Forwarded-For. Nothing else a client can set is believed.
func (d *Deps) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if d.fromTrustedProxy(r) {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			hops := strings.Split(xff[len(xff)-1], ",")
			if last := strings.TrimSpace(hops[len(hops)-1]); last != "" {
				return last
			}
		}
	}
	return host
}
