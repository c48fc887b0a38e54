package handlers

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ftpbridge/ftpbridge/access"
)

// withClientIP puts the client's address in the request's context, for
// the login gate.
func withClientIP(proxies access.Proxies) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.SetRequest(proxies.WithClientIP(c.Request()))
			return next(c)
		}
	}
}

// walkSlots limits the walks (count, recursive delete, zip) each client
// runs at once. One walk is bounded by the walk budget; the slots bound how
// many budgets one client can spend, since a hostile FTP server can make
// every walk cost its whole budget. Entries go when their last walk ends,
// so memory stays bounded by the walks running.
type walkSlots struct {
	max      int // 0: no limit
	mu       sync.Mutex
	byClient map[string]int
}

func newWalkSlots(max int) *walkSlots {
	return &walkSlots{max: max, byClient: make(map[string]int)}
}

// take counts a walk of client, or says no when client runs max already.
// release ends it.
func (s *walkSlots) take(client string) (release func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.max > 0 && s.byClient[client] >= s.max {
		return nil, false
	}
	s.byClient[client]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.byClient[client]--; s.byClient[client] <= 0 {
				delete(s.byClient, client)
			}
		})
	}, true
}

// walkRetry is the Retry-After of a refused walk: walks take seconds to
// minutes, so sooner would only be refused again.
const walkRetry = 10 * time.Second

// startWalk takes one of the client's walk slots for a request that walks a
// folder tree; 429 when they are all in use.
func (f *files) startWalk(c echo.Context) (release func(), err error) {
	release, ok := f.walks.take(access.ClientKey(f.access.ClientIP(c.Request())))
	if !ok {
		return nil, &httpError{Status: http.StatusTooManyRequests, retryAfter: walkRetry,
			Msg: fmt.Sprintf("You have %d requests going through folder trees (counts, zips, searches, deletes of folders) running already, the most the bridge runs at once for one client. Try again when one has finished.", f.walks.max)}
	}
	return release, nil
}
