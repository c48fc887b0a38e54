// Package webdav is the bridge's WebDAV front: /dav/{scheme}/{site}/{path}
// serves the same FTP sites as the pages do, as a drive that Windows
// Explorer, macOS Finder, davfs2, gvfs, rclone and backup tools can mount.
//
// golang.org/x/net/webdav speaks the protocol (PROPFIND, PROPPATCH, MKCOL,
// COPY, MOVE, DELETE, PUT, LOCK, UNLOCK, OPTIONS); this package gives it a
// FileSystem over the ftppool Handle that access.Resolver finds for each
// request (fs.go), answers GET and HEAD itself so that downloads splice and
// show as transfers (get.go), and turns the FTP failures that x/net/webdav
// would answer with a bare 405 into the status they mean. It imports no
// echo: handlers/routes.go mounts it. docs/ARCHITECTURE.md shows where it
// sits.
package webdav

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	xdav "golang.org/x/net/webdav"

	"github.com/ftpbridge/ftpbridge/access"
	"github.com/ftpbridge/ftpbridge/ftppool"
	"github.com/ftpbridge/ftpbridge/internal/httpfile"
	"github.com/ftpbridge/ftpbridge/internal/share"
	"github.com/ftpbridge/ftpbridge/internal/transfer"
	"github.com/ftpbridge/ftpbridge/internal/urlpath"
)

// Prefix is where the WebDAV front's URLs start.
const Prefix = "/dav"

// Config is what the front is given, once, by run().
type Config struct {
	Access    *access.Resolver
	Transfers *transfer.Tracker
	Logger    *slog.Logger
	// MaxUploadBytes bounds a PUT's body, as it does the pages' uploads;
	// 0 is no limit.
	MaxUploadBytes int64
	// Locks makes the lock system of a namespace (see Handler.locks),
	// once per namespace; nil keeps each one in this process's memory.
	// A cluster shares them (internal/redislock), or a client's LOCK on
	// one bridge and its PUT on another would not agree.
	Locks func(namespace string) xdav.LockSystem
}

// Handler answers /dav/… requests and OPTIONS on the bridge's root.
type Handler struct {
	cfg Config

	// One lock system per FTP namespace: the server and the login folder
	// that the request paths are relative to. Two logins with the same
	// home on one server share locks, as they share files. Without
	// Config.Locks they are in memory and go with the process (see
	// README).
	mu    sync.Mutex
	locks map[string]xdav.LockSystem
}

// New makes the front.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Locks == nil {
		cfg.Locks = func(string) xdav.LockSystem { return xdav.NewMemLS() }
	}
	return &Handler{cfg: cfg, locks: make(map[string]xdav.LockSystem)}
}

// Methods are the methods the front answers, for the router.
var Methods = []string{
	http.MethodOptions, http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete,
	"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK",
}

// davHeaders are what a WebDAV client looks for before it mounts: the
// classes (2: locks, which macOS Finder needs to mount read-write), and
// MS-Author-Via, without which the Windows mini-redirector will not write.
func davHeaders(h http.Header) {
	h.Set("DAV", "1, 2")
	h.Set("MS-Author-Via", "DAV")
}

// ServeHTTP answers one WebDAV request.
func (d *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	escaped := r.URL.EscapedPath()
	if r.Method == http.MethodOptions && (escaped == "/" || escaped == Prefix || escaped == Prefix+"/") {
		// The Windows mini-redirector asks the server's root first.
		davHeaders(w.Header())
		w.Header().Set("Allow", strings.Join(Methods, ", "))
		w.WriteHeader(http.StatusOK)
		return
	}
	if r.Method == "PROPFIND" && above(escaped) {
		propfindAbove(w, r, escaped)
		return
	}
	// "", "dav", scheme, site, rest
	parts := strings.SplitN(escaped, "/", 5)
	if len(parts) < 4 || parts[1] != strings.TrimPrefix(Prefix, "/") || !urlpath.ValidScheme(parts[2]) || parts[3] == "" {
		plain(w, http.StatusNotFound, "WebDAV addresses are "+Prefix+"/{ftp|ftpes|ftps}/[user@]host[:port]/path.")
		return
	}
	if len(parts) == 4 {
		// The site's root folder, like the pages, ends in a slash; a
		// client asking without it is served the same folder.
		parts = append(parts, "")
	}
	if rest := parts[4]; len(rest) >= 3 && strings.EqualFold(rest[:3], "%2F") {
		plain(w, http.StatusBadRequest, "WebDAV addresses are relative to the login folder; the %2F form of an absolute path is not served here. Mount the login folder, or log in as a user whose login folder holds what you need.")
		return
	}
	site, err := url.PathUnescape(parts[3])
	if err != nil {
		plain(w, http.StatusBadRequest, "The site in this address is not valid.")
		return
	}
	t, err := d.resolve(r)
	if err != nil {
		d.fail(w, r, t, err)
		return
	}
	if r.Method == "PROPFIND" && infinite(r.Header.Get("Depth")) {
		refuseInfinity(w)
		return
	}
	ctx := r.Context()
	if r.Method == "COPY" || r.Method == http.MethodDelete {
		// A folder's copy or delete walks it: one time budget for the
		// request, as the pages' bulk operations have.
		var cancel context.CancelFunc
		ctx, cancel = t.Handle.WalkBudget(ctx)
		defer cancel()
		r = r.WithContext(ctx)
	}
	fsys := &fileSystem{h: t.Handle, root: t.Home, known: make(map[string]ftppool.Entry),
		begin: func(ctx context.Context, op, abs string) *transfer.Transfer { return d.begin(ctx, t, op, abs) },
		cut:   cutReads(w), putSize: -1}
	if r.Method == http.MethodPut {
		fsys.putSize = r.ContentLength
		fsys.check = conditions(r)
		if d.cfg.MaxUploadBytes > 0 {
			r.Body = http.MaxBytesReader(w, r.Body, d.cfg.MaxUploadBytes)
		}
	}
	prefix := Prefix + "/" + parts[2] + "/" + site
	name := strings.TrimPrefix(r.URL.Path, prefix)
	if name == "" {
		name = "/"
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		d.get(w, r, t, fsys, name)
		return
	}
	if r.Method == "PROPFIND" {
		d.propfind(w, r, t, fsys, prefix, name)
		return
	}
	rw := &statusRewriter{ResponseWriter: w, fs: fsys, r: r, d: d, t: t}
	dav := &xdav.Handler{
		Prefix:     prefix,
		FileSystem: fsys,
		LockSystem: d.lockSystem(t),
		Logger: func(r *http.Request, err error) {
			if err != nil {
				d.cfg.Logger.Debug("webdav", "method", r.Method, "path", r.URL.Path, "err", err)
			}
		},
	}
	if r.Method == http.MethodOptions {
		davHeaders(w.Header())
	}
	if r.Method == "MOVE" && r.Header.Get("Overwrite") == "" {
		// RFC 4918 10.6: no Overwrite header means "T"; x/net/webdav
		// reads it as "F" for MOVE (it does not for COPY).
		r.Header.Set("Overwrite", "T")
	}
	dav.ServeHTTP(rw, r)
}

// resolve finds the request's site, login and login folder with the
// same Resolver the pages use, so network policy, -hosts, login limits
// and the pool's caps all apply. The URL is the pages' one without the
// /dav prefix, and cookies are dropped: a WebDAV request's login is its
// Basic auth (or anonymous), never a browser session's, so no page of
// another site can make a logged-in browser change files through it.
func (d *Handler) resolve(r *http.Request) (*access.Target, error) {
	r2 := r.Clone(r.Context())
	r2.Header.Del("Cookie")
	r2.URL.Path = strings.TrimPrefix(r.URL.Path, Prefix)
	r2.URL.RawPath = strings.TrimPrefix(r.URL.RawPath, Prefix)
	r2.URL.RawQuery = r.URL.RawQuery
	return d.cfg.Access.Resolve(r2)
}

// lockSystem is the locks of t's namespace (see Handler.locks).
func (d *Handler) lockSystem(t *access.Target) xdav.LockSystem {
	key := t.Site.Addr() + "\x00" + t.Home
	d.mu.Lock()
	defer d.mu.Unlock()
	ls, ok := d.locks[key]
	if !ok {
		ls = d.cfg.Locks(key)
		d.locks[key] = ls
	}
	return ls
}

// begin prepares a transfer of the request's FTP login. WebDAV requests
// carry no session, so the owner is the login itself (share.LoginID, the
// key shares of a named login are kept under); an anonymous login's
// transfers belong to no one's panel, and are still counted by the metrics.
func (d *Handler) begin(ctx context.Context, t *access.Target, op, abs string) *transfer.Transfer {
	owner := ""
	if login := (urlpath.Site{User: t.Login.User}); !login.Anonymous() {
		owner = share.LoginID(t.Site.Host, t.Site.Port, t.Login.User)
	}
	return d.cfg.Transfers.Begin(ctx, owner, op, t.Site.Scheme+"://"+t.Site.String(), t.Show(abs))
}

// infinite reports a Depth that means the whole tree: "infinity", or none
// at all (RFC 4918 9.1).
func infinite(depth string) bool {
	depth = strings.TrimSpace(depth)
	return depth == "" || strings.EqualFold(depth, "infinity")
}

// refuseInfinity answers a PROPFIND of a whole tree: on FTP that is a
// listing of every folder below, which one request must not cost
// (RFC 4918 9.1 allows the refusal, with this precondition).
func refuseInfinity(w http.ResponseWriter) {
	w.Header().Set("Content-Type", `application/xml; charset="utf-8"`)
	w.WriteHeader(http.StatusForbidden)
	_, _ = w.Write([]byte(`<?xml version="1.0" encoding="utf-8"?>` + "\n" +
		`<D:error xmlns:D="DAV:"><D:propfind-finite-depth/></D:error>` + "\n"))
}

// plain answers with a status and a sentence.
func plain(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = fmt.Fprintln(w, msg)
}

// fail answers an error of resolving the request or of its FTP work.
func (d *Handler) fail(w http.ResponseWriter, r *http.Request, t *access.Target, err error) {
	status, msg := d.describe(t, err)
	if status == http.StatusUnauthorized {
		realm := "ftpbridge"
		if nl, ok := errors.AsType[*access.NeedLoginError](err); ok {
			realm = "ftpbridge " + nl.Site.Scheme + "://" + nl.Site.String()
		}
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Basic realm=%q, charset="UTF-8"`, realm))
	}
	if le, ok := errors.AsType[*ftppool.LoginLimitError](err); ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(le.Wait.Seconds())+1))
	}
	if status >= 500 {
		d.cfg.Logger.Warn("webdav request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	plain(w, status, msg)
}

// describe maps an error to a status and words, as handlers/errors.go
// does for the pages (the words are shorter: WebDAV clients rarely show
// them).
func (d *Handler) describe(t *access.Target, err error) (int, string) {
	if _, ok := errors.AsType[*access.NeedLoginError](err); ok {
		if ftppool.ErrorKind(err) == ftppool.KindLoginLimited {
			return http.StatusTooManyRequests, "Too many failed logins to this FTP server from your address lately. Wait a while before trying again."
		}
		return http.StatusUnauthorized, "Log in with your FTP user name and password (HTTP Basic auth). " + errText(err)
	}
	if be, ok := errors.AsType[*access.BadRequestError](err); ok {
		return http.StatusBadRequest, be.Msg
	}
	if errors.Is(err, errRandomWrite) {
		return http.StatusNotImplemented, errRandomWrite.Error()
	}
	if errors.Is(err, errHome) {
		return http.StatusForbidden, errHome.Error()
	}
	if pe, ok := errors.AsType[*preconditionError](err); ok {
		return http.StatusPreconditionFailed, pe.msg
	}
	if _, ok := errors.AsType[*conflictError](err); ok {
		return http.StatusConflict, err.Error()
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return http.StatusRequestEntityTooLarge, "The file is larger than this bridge accepts."
	}
	said := ""
	if reply := ftppool.Reply(err); reply != "" {
		said = " The server said: " + reply
	}
	switch ftppool.ErrorKind(err) {
	case ftppool.KindLogin:
		return http.StatusUnauthorized, "The FTP server refused the login." + said
	case ftppool.KindLoginLimited:
		return http.StatusTooManyRequests, "Too many failed logins to this FTP server from your address lately."
	case ftppool.KindNotFound:
		return http.StatusNotFound, "Not found on the FTP server." + said
	case ftppool.KindPermission, ftppool.KindLink:
		return http.StatusForbidden, "The FTP server does not allow this (no permission, or a name it does not accept)." + said
	case ftppool.KindExists:
		return http.StatusPreconditionFailed, "Something of that name is already there." + said
	case ftppool.KindIsDir:
		return http.StatusMethodNotAllowed, "This is a folder."
	case ftppool.KindNotEmpty:
		return http.StatusConflict, "The folder is not empty." + said
	case ftppool.KindQuota:
		return http.StatusInsufficientStorage, "The FTP server has no room for this (quota or disk full)." + said
	case ftppool.KindSource:
		return http.StatusBadRequest, "Reading the upload from the client failed: " + errText(err)
	case ftppool.KindRefused:
		return http.StatusForbidden, "This bridge does not allow that server: it connects to public addresses on the FTP ports (21 and 990), and to other servers or ports only where its operator allows them."
	case ftppool.KindBusy, ftppool.KindUnavailable:
		return http.StatusServiceUnavailable, "The FTP server is busy; try again in a moment." + said
	case ftppool.KindWalkLimit, ftppool.KindTooLarge:
		return http.StatusInsufficientStorage, "The folder is larger than this bridge walks in one request: " + errText(err)
	case ftppool.KindTimeout:
		return http.StatusGatewayTimeout, "The FTP server did not answer in time."
	case ftppool.KindNotSupported:
		return http.StatusNotImplemented, "The FTP server does not support this." + said
	}
	return http.StatusBadGateway, "The FTP server could not be used: " + errText(err)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error() + "."
}

// statusRewriter stands between x/net/webdav and the client. x/net/webdav
// answers most failures of a FileSystem with one status (405 for a failed
// PUT, MKCOL or DELETE, 403 for a MOVE): when the FTP work of this request
// failed for a reason the file system kept (fileSystem.failure), the
// answer becomes the status and words of that reason, so a full disk is
// 507 and a refused permission 403.
type statusRewriter struct {
	http.ResponseWriter
	fs      *fileSystem
	r       *http.Request
	d       *Handler
	t       *access.Target
	swallow bool // the rewritten answer is out: x/net's own body goes nowhere
}

func (s *statusRewriter) WriteHeader(code int) {
	// 412 and 423 are x/net's own verdicts on headers and locks, right
	// whatever the file system did.
	if err := s.fs.failed(); err != nil && code >= 400 && code != http.StatusPreconditionFailed && code != http.StatusLocked {
		s.swallow = true
		s.ResponseWriter.Header().Del("Content-Type")
		s.d.fail(s.ResponseWriter, s.r, s.t, err)
		return
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRewriter) Write(b []byte) (int, error) {
	if s.swallow {
		return len(b), nil
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRewriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// cutReads is a PUT transfer's cut: a cancel wakes a read that waits for
// the client's next bytes.
func cutReads(w http.ResponseWriter) func() {
	rc := http.NewResponseController(w)
	return func() { _ = rc.SetReadDeadline(aLongTimeAgo) }
}

// preconditionError is a PUT whose If-Match or If-None-Match does not
// hold (412).
type preconditionError struct{ msg string }

func (e *preconditionError) Error() string { return e.msg }

// conditions is the check of a PUT's If-Match and If-None-Match, nil
// without them (x/net/webdav reads neither). It runs before the first byte
// goes up and again just before the rename into place, as the pages' PUT
// does: FTP has no conditional rename, so only that last round trip is
// unguarded. ETags compare strongly, against the same size-and-time tag
// GET and PROPFIND give.
func conditions(r *http.Request) func(ftppool.Entry, bool) error {
	match := strings.TrimSpace(r.Header.Get("If-Match"))
	noneMatch := strings.TrimSpace(r.Header.Get("If-None-Match"))
	if match == "" && noneMatch == "" {
		return nil
	}
	listed := func(header, current string) bool {
		for tag := range strings.SplitSeq(header, ",") {
			if tag = strings.TrimSpace(tag); tag == "*" || (current != "" && tag == current) {
				return true
			}
		}
		return false
	}
	return func(e ftppool.Entry, exists bool) error {
		current := ""
		if exists && e.Type != ftppool.TypeDir {
			current = httpfile.ETag(e.Size, e.Modified)
		}
		if match != "" && (!exists || !listed(match, current)) {
			return &preconditionError{msg: "The file changed on the server (or is gone) since you read it: If-Match does not hold. Nothing was written."}
		}
		if noneMatch != "" && exists && listed(noneMatch, current) {
			return &preconditionError{msg: "The file is already there: If-None-Match does not hold. Nothing was written."}
		}
		return nil
	}
}
