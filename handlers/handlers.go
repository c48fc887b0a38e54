// Package handlers is the bridge's HTTP layer: routes.go lists every URL,
// one file per resource, and errors.go maps FTP failures to HTTP statuses.
//
// Each resource's handlers are made from one small struct that holds what
// they use, built by New: views (the pages, which every resource that
// shows one embeds), files (a site's folders and files), sharing (share
// links), connections (logging in and out of sites) and live (the
// transfers panel and its socket). What a handler can reach is what its
// struct holds, no more.
package handlers

import (
	"cmp"
	"context"
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

// Config is everything the handlers are given, built once by run(). New
// only reads it: what the handlers keep is in their own structs.
type Config struct {
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
	// Limits, if set, counts the share-password guesses and the shares
	// made per minute where every bridge sees them (internal/redislimit);
	// nil counts them in this process.
	Limits access.SharedLimits
	// MaxSocketsPerSession bounds the transfer sockets (/ws) one session
	// may hold open; 0 is no limit.
	MaxSocketsPerSession int
	// Hosts are the names the bridge answers to; any other Host is 421.
	Hosts *HostNames
	// Stopping is closed when shutdown begins: /readyz fails.
	Stopping <-chan struct{}
	// Closing is closed when the bridge stops taking requests, after the
	// drain: WebSockets close then (the server's Shutdown does not wait
	// for them), not before, or a page would reconnect to this bridge
	// while the load balancer still sends it requests. nil: Stopping.
	Closing <-chan struct{}
	// Ready, if set, says whether the stores the bridge shares with
	// others answer; /readyz is 503 while it fails.
	Ready func(context.Context) error
	// DAV, if set, answers /dav/… and OPTIONS on "/" (package webdav),
	// behind the same host check, request log and cross-site refusal.
	DAV http.Handler
}

// views makes the pages: every resource that shows one embeds it.
type views struct {
	pages    *template.Template
	sessions *session.Store // the page header lists the session's connected sites
	logger   *slog.Logger
	demoSite string
}

// New builds the bridge's http.Handler.
func New(cfg Config) (http.Handler, error) {
	pages, err := templates.Parse()
	if err != nil {
		return nil, err
	}
	v := &views{pages: pages, sessions: cfg.Sessions, logger: cfg.Logger, demoSite: cfg.DemoSite}
	f := &files{
		views:          v,
		access:         cfg.Access,
		transfers:      cfg.Transfers,
		shares:         cfg.Shares.Store,
		walks:          newWalkSlots(cfg.WalksPerClient),
		listings:       &handoff{},
		maxUploadBytes: cfg.MaxUploadBytes,
		ioTimeout:      cfg.IOTimeout,
		zip:            cfg.ZipLimits,
	}
	sg := &sharing{
		views:   v,
		files:   f,
		cfg:     cfg.Shares,
		access:  cfg.Access,
		hosts:   cfg.Hosts,
		guesses: access.NewSharedTries(cfg.Limits, "share-password", 5, time.Minute),
		hashing: make(chan struct{}, 2),
	}
	if cfg.Shares.PerMinute > 0 {
		sg.makers = access.NewSharedTries(cfg.Limits, "share-makers", cfg.Shares.PerMinute, time.Minute)
	}
	h := &connections{views: v, pool: cfg.Pool}
	l := &live{sessions: cfg.Sessions, transfers: cfg.Transfers, maxSockets: cfg.MaxSocketsPerSession, stopping: cfg.Stopping, closing: cmp.Or(cfg.Closing, cfg.Stopping), ready: cfg.Ready}

	// govulncheck reports two echo advisories against the whole module,
	// with no fixed version yet; neither reaches the bridge:
	// vuln-triaged: GO-2026-6875 is echo's proxy middleware forwarding a client's X-Real-IP upstream; the bridge uses no echo proxy middleware.
	// vuln-triaged: GO-2026-6872 is echo's rate limiter trusting X-Forwarded-For by default; the bridge uses its own limits (package access), which take the client address from the peer, or from -trusted-proxies only.
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = v.handleError
	e.Use(withClientIP(cfg.Access.Proxies), logRequests(cfg.Logger), securityHeaders, checkHost(cfg.Hosts), refuseCrossSite(http.NewCrossOriginProtection()))
	addRoutes(e, h, l, f, sg)
	if cfg.DAV != nil {
		addDAVRoutes(e, cfg.DAV)
	}
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
func (v *views) render(w http.ResponseWriter, status int, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := v.pages.ExecuteTemplate(w, name, data); err != nil {
		v.logger.Error("render page", "page", name, "err", err)
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
