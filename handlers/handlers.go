// Package handlers is the bridge's HTTP layer: routes.go lists every URL,
// one file per resource, and errors.go maps FTP failures to HTTP statuses.
package handlers

import (
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ftpbridge/ftpbridge/access"
	"github.com/ftpbridge/ftpbridge/ftppool"
	"github.com/ftpbridge/ftpbridge/internal/session"
	"github.com/ftpbridge/ftpbridge/internal/transfer"
	"github.com/ftpbridge/ftpbridge/templates"
)

// Deps is everything the handlers need, built once by run().
type Deps struct {
	Pool      *ftppool.Pool
	Sessions  *session.Store
	Transfers *transfer.Tracker
	// Access finds the FTP site, path and login of a request, and its
	// client address.
	Access         *access.Resolver
	Logger         *slog.Logger
	DemoSite       string        // "/ftp/127.0.0.1:port/" when -demo runs, else ""
	MaxUploadBytes int64         // largest upload request body; 0 is no limit
	IOTimeout      time.Duration // longest silence accepted from an uploading client
	ZipLimits      ZipLimits     // bounds of a folder download as zip
	// WalksPerClient bounds the walks (count, recursive delete, zip)
	// one client address runs at once; 0 is no limit.
	WalksPerClient int
	Shares         ShareConfig
	// MaxSocketsPerSession bounds the transfer sockets (/ws) one session
	// may hold open; 0 is no limit.
	MaxSocketsPerSession int
	// Hosts are the names the bridge answers to; any other Host is 421.
	Hosts *HostNames
	// Stopping is closed when shutdown begins: /readyz fails and
	// WebSockets close, since the server's Shutdown does not wait for them.
	Stopping <-chan struct{}
	pages    *template.Template
	guesses  *access.Tries // share password tries, per share and client
	walks    *walkSlots    // walks running, per client
	hashing  chan struct{} // bcrypt checks running: a few at a time

	// shareMakers counts the shares each client made this minute; nil
	// when not limited.
	shareMakers *access.Tries

	listings handoff // big folders' listings, from their pages to their scripts
}

// New builds the bridge's http.Handler.
func New(d *Deps) (http.Handler, error) {
	pages, err := templates.Parse()
	if err != nil {
		return nil, err
	}
	d.pages = pages
	d.guesses = access.NewTries(5, time.Minute)
	d.walks = newWalkSlots(d.WalksPerClient)
	if d.Shares.PerMinute > 0 {
		d.shareMakers = access.NewTries(d.Shares.PerMinute, time.Minute)
	}
	d.hashing = make(chan struct{}, 2)

	// govulncheck reports two echo advisories against the whole module,
	// with no fixed version yet; neither reaches the bridge:
	// vuln-triaged: GO-2026-6875 is echo's proxy middleware forwarding a client's X-Real-IP upstream; the bridge uses no echo proxy middleware.
	// vuln-triaged: GO-2026-6872 is echo's rate limiter trusting X-Forwarded-For by default; the bridge uses its own limits (package access), which take the client address from the peer, or from -trusted-proxies only.
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = d.handleError
	e.Use(d.withClientIP, d.logRequests, securityHeaders, d.checkHost, refuseCrossSite(http.NewCrossOriginProtection()))
	addRoutes(e, d)
	return e, nil
}

// refuseCrossSite answers 403 to a state change (POST, PUT, DELETE) that a
// browser marks as coming from another site. It runs inside echo, after the
// security headers and the request log, so the refusal is a proper page
// and is logged.
func refuseCrossSite(cop *http.CrossOriginProtection) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := cop.Check(c.Request()); err != nil {
				return &httpError{Status: http.StatusForbidden,
					Msg: "This request came from another web site, so the bridge refused it. Use the bridge's own pages."}
			}
			return next(c)
		}
	}
}

// wantsHTML reports a browser navigating, as opposed to a script.
func wantsHTML(r *http.Request) bool {
	if f := r.URL.Query().Get("format"); f != "" {
		return f == "html"
	}
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// wantsJSON reports a client that asked for JSON.
func wantsJSON(r *http.Request) bool {
	if f := r.URL.Query().Get("format"); f != "" {
		return f == "json"
	}
	accept := r.Header.Get("Accept")
	return strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/html")
}

// render writes a page.
func (d *Deps) render(w http.ResponseWriter, status int, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := d.pages.ExecuteTemplate(w, name, data); err != nil {
		d.Logger.Error("render page", "page", name, "err", err)
	}
}

// staticFiles serves the embedded CSS, JS and icons.
func staticFiles(fsys fs.FS) http.Handler {
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}

// versionedFiles serves /static/v/{version}/{file}, where the pages load
// their script and styles (see static.Version). This build's version
// always has the same content, so it is cached for good; any other (a page
// made by a bridge of another build, during a rolling upgrade) gets this
// build's files, which must not be kept under that name.
func versionedFiles(fsys fs.FS, version string) echo.HandlerFunc {
	files := http.FileServerFS(fsys)
	return func(c echo.Context) error {
		cache := "no-cache"
		if c.Param("version") == version {
			cache = "public, max-age=31536000, immutable"
		}
		c.Response().Header().Set("Cache-Control", cache)
		r := c.Request().Clone(c.Request().Context())
		r.URL.Path, r.URL.RawPath = "/"+c.Param("*"), ""
		files.ServeHTTP(c.Response(), r)
		return nil
	}
}

// addSlash sends "/ftp/host" to "/ftp/host/": a folder URL ends in a slash,
// which keeps relative links in the listing right.
func addSlash(c echo.Context) error {
	u := *c.Request().URL
	u.Path += "/"
	if u.RawPath != "" {
		u.RawPath += "/"
	}
	return c.Redirect(http.StatusMovedPermanently, u.RequestURI())
}
