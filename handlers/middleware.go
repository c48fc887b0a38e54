package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// pageCSP allows only the bridge's own files: no inline script, no
// framing, no form posting elsewhere.
const pageCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// fileCSP goes on every file the bridge relays: whatever the file holds, it
// runs in a sandbox with no access to the bridge's origin.
const fileCSP = "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'"

// inlineFileCSP is fileCSP for a preview (?inline=1 of a safe type), which
// the bridge's own pages may show in a frame.
const inlineFileCSP = "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'"

func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", pageCSP)
		return next(c)
	}
}

// userinfoPassword finds "user:secret@" in a site segment, which should
// never arrive but must never be logged if it does.
var userinfoPassword = regexp.MustCompile(`^(/(?:ftp|ftpes|ftps)/[^/@:]*):[^/@]*@`)

// shareToken finds a share link's token, which is as good as the link: a
// log shows only its first characters.
var shareToken = regexp.MustCompile(`^/s/([A-Za-z0-9_-]{1,6})[A-Za-z0-9_-]*`)

// loggedPath is a request's path as logs may show it. The patterns run
// only where they could match.
func loggedPath(r *http.Request) string {
	p := r.URL.EscapedPath()
	if strings.Contains(p, "@") {
		p = userinfoPassword.ReplaceAllString(p, "$1:REDACTED@")
	}
	if strings.HasPrefix(p, "/s/") {
		p = shareToken.ReplaceAllString(p, "/s/$1…")
	}
	return p
}

// logRequests writes one slog line per request, without query strings
// (they may hold form data) or any header that carries credentials.
func logRequests(logger *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			r := c.Request()
			if !logger.Enabled(r.Context(), slog.LevelInfo) {
				return nil // -log-level warn: nothing to make the line for
			}
			logger.Info("request",
				"method", r.Method,
				"path", loggedPath(r),
				"status", c.Response().Status,
				"bytes", c.Response().Size,
				"ms", time.Since(start).Milliseconds(),
				"remote", r.RemoteAddr,
				"basic_auth", strings.HasPrefix(r.Header.Get("Authorization"), "Basic "),
			)
			return nil
		}
	}
}

func healthz() echo.HandlerFunc {
	return func(c echo.Context) error { return c.String(http.StatusOK, "ok\n") }
}

// readyz fails once shutdown has begun, so a load balancer stops sending
// new requests while running transfers finish, and while ready (the
// shared stores' check; nil: none) fails: a bridge that cannot reach the
// database can serve no session, so the others should take its requests.
func readyz(stopping <-chan struct{}, ready func(context.Context) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		select {
		case <-stopping:
			return c.String(http.StatusServiceUnavailable, "shutting down\n")
		default:
		}
		if ready != nil {
			ctx, cancel := context.WithTimeout(c.Request().Context(), readyTimeout)
			defer cancel()
			// The error names the database's host and user: not for
			// whoever asks (the session store logs the outage).
			if ready(ctx) != nil {
				return c.String(http.StatusServiceUnavailable, "not ready: the database does not answer\n")
			}
		}
		return c.String(http.StatusOK, "ready\n")
	}
}

// readyTimeout bounds /readyz's check of the stores, under the probe
// timeouts load balancers use (HAProxy's default check timeout is the
// connect timeout, often 5 s).
const readyTimeout = 2 * time.Second
