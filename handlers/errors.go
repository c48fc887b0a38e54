package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/labstack/echo/v4"

	"github.com/ftpbridge/ftpbridge/access"
	"github.com/ftpbridge/ftpbridge/ftppool"
	"github.com/ftpbridge/ftpbridge/internal/session"
	"github.com/ftpbridge/ftpbridge/internal/transfer"
)

// httpError is an error with the status and words a person sees.
type httpError struct {
	Status     int
	Msg        string
	Err        error         // detail for the log, never shown raw
	retryAfter time.Duration // for 429 and 503: when to try again
	// link, if set, is where the error page offers to go instead
	// (linkText says what it is).
	link, linkText string
	// bare pages show nothing of the session: the request may not even
	// be meant for this bridge.
	bare bool
}

func (e *httpError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %v", e.Status, e.Msg, e.Err)
	}
	return fmt.Sprintf("%d %s", e.Status, e.Msg)
}

func (e *httpError) Unwrap() error { return e.Err }

func badRequest(format string, args ...any) *httpError {
	return &httpError{Status: http.StatusBadRequest, Msg: fmt.Sprintf(format, args...)}
}

// preconditionFailed is a PUT whose If-Match did not hold (upload.go).
func preconditionFailed(msg string) *httpError {
	return &httpError{Status: http.StatusPreconditionFailed, Msg: msg}
}

// ftpError maps an error from ftppool to what the person sees (the README's
// status table; docs/ARCHITECTURE.md says why it is done here only). The
// server's own reply is quoted where there is one.
func ftpError(err error, what string) *httpError {
	reply := ftppool.Reply(err)
	said := ""
	if reply != "" {
		// Typographic quotes: %q would show the reply's own quotes as \".
		said = " The server said: “" + strings.Join(strings.Fields(strings.Map(noControl, strings.ToValidUTF8(reply, "\uFFFD"))), " ") + "”."
	}
	e := &httpError{Err: err}
	if dnsErr, ok := errors.AsType[*net.DNSError](err); ok {
		// The resolver's own words name its address: of no use to the
		// person, and none of their business.
		e.Status, e.Msg = http.StatusBadGateway, fmt.Sprintf("The server name “%s” could not be looked up just now. Try again, or use the server's IP address.", dnsErr.Name)
		if dnsErr.IsNotFound {
			e.Msg = fmt.Sprintf("The server name “%s” was not found. Check its spelling.", dnsErr.Name)
		}
		return e
	}
	if errors.Is(err, ftppool.ErrNoChmod) {
		e.Status, e.Msg = http.StatusNotImplemented, "This FTP server does not let the bridge change permissions: it has no SITE CHMOD command, or has it turned off."+said
		return e
	}
	kind := ftppool.ErrorKind(err)
	switch kind {
	case ftppool.KindTimeout, ftppool.KindUnreachable, ftppool.KindTLS, ftppool.KindProtocol, ftppool.KindOther:
		if ftppool.ConnectFailed(err) {
			// One answer for a closed port, a silent one and one that
			// speaks something else, so that no one learns which is which
			// through the bridge. A kind of the bridge's own making (a
			// limit, the policy) still says what it is.
			e.Status, e.Msg = http.StatusBadGateway, "Could not connect to an FTP server at this address: the connection failed, or what is there did not answer as an FTP server. Check the host, the port and the security (FTPS implicit is usually port 990)."
			return e
		}
	}
	switch kind {
	case ftppool.KindLogin:
		e.Status, e.Msg = http.StatusUnauthorized, "The FTP server refused the login."+said+" Check the user name and password."
	case ftppool.KindNotFound:
		e.Status, e.Msg = http.StatusNotFound, fmt.Sprintf("%s was not found on the FTP server, or you may not see it.%s", what, said)
	case ftppool.KindPermission:
		e.Status, e.Msg = http.StatusForbidden, fmt.Sprintf("The FTP server does not allow this for %s (no permission, or a name it does not accept).%s", what, said)
	case ftppool.KindExists:
		e.Status, e.Msg = http.StatusConflict, fmt.Sprintf("%s already exists.%s", what, said)
	case ftppool.KindIsDir:
		e.Status, e.Msg = http.StatusConflict, fmt.Sprintf("%s is a folder.", what)
	case ftppool.KindLoginLimited:
		var lle *ftppool.LoginLimitError
		errors.As(err, &lle)
		e.Status, e.retryAfter = http.StatusTooManyRequests, lle.Wait
		e.Msg = fmt.Sprintf("Too many failed logins to this server from here, or as this user. Try again in %s.", lle.Wait.Round(time.Second))
	case ftppool.KindLink:
		e.Status, e.Msg = http.StatusForbidden, fmt.Sprintf("%s is reached through a link, and shared folders do not follow links (one could lead out of the folder).", what)
	case ftppool.KindNotEmpty:
		e.Status, e.Msg = http.StatusConflict, fmt.Sprintf("%s is not empty. Delete it with everything in it (recursive=1), or empty it first.", what)
	case ftppool.KindQuota:
		e.Status, e.Msg = http.StatusInsufficientStorage, fmt.Sprintf("The FTP server has no room for %s (quota exceeded or disk full). Nothing was kept.%s", what, said)
	case ftppool.KindSource:
		e.Status, e.Msg = sourceFailure(err)
	case ftppool.KindBusy:
		e.Status, e.Msg = http.StatusServiceUnavailable, "Too many connections to this FTP server are in use right now. Try again in a few seconds."+said
	case ftppool.KindRefused:
		e.Status, e.Msg = http.StatusForbidden, "This bridge does not allow that server: it connects to public addresses on the FTP ports (21 and 990), and to other servers or ports only where its operator allows them."
	case ftppool.KindTimeout:
		e.Status, e.Msg = http.StatusGatewayTimeout, "The FTP server did not answer in time."
	case ftppool.KindTLS:
		e.Status, e.Msg = http.StatusBadGateway, fmt.Sprintf("The secure (TLS) connection to the FTP server failed: %v. If the server uses a private certificate authority, the operator can add it with -ftp-ca-file.", rootCause(err))
	case ftppool.KindUnreachable:
		e.Status, e.Msg = http.StatusBadGateway, fmt.Sprintf("Could not reach the FTP server, or it closed the connection: %v.", rootCause(err))
	case ftppool.KindUnavailable:
		e.Status, e.Msg = http.StatusBadGateway, "The FTP server is not serving right now."+said
	case ftppool.KindWalkLimit:
		e.Status, e.Msg = http.StatusRequestEntityTooLarge, walkLimitMsg(err, what)
	case ftppool.KindTooLarge:
		e.Status, e.Msg = http.StatusBadGateway, "This folder holds more entries, or a longer listing, than the bridge accepts (-max-list-entries, -max-list-bytes). Open a folder further down."
	case ftppool.KindDataMode:
		switch {
		case errors.Is(err, ftppool.ErrNeedsActive):
			e.Msg = "The FTP server refused passive mode, or its passive data connection could not be made, and this bridge has no active mode: its operator can turn it on with -active-ports."
		default:
			e.Msg = "Active mode was asked for, and it is off on this bridge: its operator can turn it on with -active-ports. Choose automatic or passive mode."
		}
		e.Status = http.StatusBadGateway
	case ftppool.KindNotSupported:
		e.Status, e.Msg = http.StatusBadGateway, "The FTP server does not support this operation."+said
	default:
		e.Status, e.Msg = http.StatusBadGateway, fmt.Sprintf("The FTP server gave an answer the bridge cannot use: %v.", rootCause(err))
	}
	return e
}

// walkLimitMsg says which budget a walk went past. 413, as for a zip over
// its limits: the folder is too large for one request, not broken.
func walkLimitMsg(err error, what string) string {
	var wl *ftppool.WalkLimitError
	errors.As(err, &wl)
	switch {
	case wl.Timeout > 0:
		return fmt.Sprintf("%s took longer than %s to go through, the most the bridge gives one request that walks a folder tree (-walk-timeout). Choose a folder further down.", what, wl.Timeout)
	case wl.ListBytes > 0:
		return fmt.Sprintf("%s holds a folder whose listing is longer than %s, the most the bridge reads at once while going through a folder tree. Choose a folder further down.", what, humanSize(wl.ListBytes))
	}
	return fmt.Sprintf("%s holds more than %d files and folders, the most the bridge goes through in one request (-walk-max-entries). Choose a folder further down.", what, wl.Entries)
}

// statusCanceled answers a request whose transfer was cancelled from the
// transfers panel; 499 is what nginx and gRPC gateways use for it.
const statusCanceled = 499

// sourceFailure explains an upload whose bytes did not arrive whole.
func sourceFailure(err error) (int, string) {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("The upload is larger than the %d bytes (%s) this bridge accepts per request. Nothing was kept on the FTP server.", tooBig.Limit, humanSize(tooBig.Limit))
	case errors.Is(err, transfer.ErrCanceled):
		return statusCanceled, "The upload was canceled. Nothing was kept on the FTP server."
	case errors.Is(err, os.ErrDeadlineExceeded):
		return http.StatusRequestTimeout, "The upload stalled: no data came from the browser for too long. Nothing was kept on the FTP server."
	}
	return http.StatusBadRequest, "The upload did not arrive whole (the connection broke off). Nothing was kept on the FTP server."
}

// rootCause strips our wrapping so the person reads the network's words.
func rootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// handleError is echo's error handler: every error ends here.
func (v *views) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		v.logger.Warn("error after the response started", "path", loggedPath(c.Request()), "err", err)
		return
	}
	if nl, ok := errors.AsType[*access.NeedLoginError](err); ok {
		v.askLogin(c, nl)
		return
	}
	if np, ok := errors.AsType[*needSharePassword](err); ok {
		v.askSharePassword(c, np)
		return
	}
	he := httpErrorOf(err)
	if he.Status >= 500 {
		v.logger.Warn("request failed", "path", loggedPath(c.Request()), "status", he.Status, "err", he)
	}
	v.renderError(c.Response(), c.Request(), he)
}

// httpErrorOf is the status and words a person sees for err.
func httpErrorOf(err error) *httpError {
	if he, ok := errors.AsType[*httpError](err); ok {
		return he
	}
	if errors.Is(err, session.ErrUnavailable) {
		return &httpError{Status: http.StatusServiceUnavailable, retryAfter: 5 * time.Second, Err: err,
			Msg: "The bridge cannot read its sessions just now (its database does not answer). Try again in a moment."}
	}
	if bad, ok := errors.AsType[*access.BadRequestError](err); ok {
		return &httpError{Status: http.StatusBadRequest, Msg: bad.Msg}
	}
	if se, ok := errors.AsType[*access.SiteError](err); ok {
		return ftpError(se.Err, "The site")
	}
	if ee, ok := errors.AsType[*echo.HTTPError](err); ok {
		he := &httpError{Status: ee.Code, Msg: fmt.Sprint(ee.Message)}
		if ee.Code == http.StatusNotFound {
			he.Msg = "There is no such page on this bridge."
		}
		return he
	}
	return &httpError{Status: http.StatusInternalServerError, Msg: "Something went wrong inside the bridge.", Err: err}
}

// ftpFailure reports an FTP error of an operation on t; a refused login
// asks for credentials again, with the server's reason.
func ftpFailure(t *access.Target, err error, what string) error {
	he := ftpError(err, what)
	switch {
	case he.Status == http.StatusUnauthorized && t.Share != nil:
		// The recipient has no login to give: the link is broken.
		return &httpError{Status: http.StatusBadGateway, Err: err,
			Msg: "The FTP server no longer accepts this link's login. Ask the person who sent it for a new link."}
	case he.Status == http.StatusUnauthorized:
		return &access.NeedLoginError{Site: t.Site, Err: err}
	}
	return he
}

// askLogin answers a request that lacks a login, or whose login the server
// refused: a browser gets the connect form, filled in to come back here,
// and a script a Basic challenge; both 401.
func (v *views) askLogin(c echo.Context, nl *access.NeedLoginError) {
	r := c.Request()
	reason := ""
	if nl.Err != nil {
		reason = ftpError(nl.Err, "The site").Msg
	}
	site := nl.Site
	if wantsHTML(r) {
		form := connectForm{Scheme: site.Scheme, Host: site.Host, Port: site.Port, User: site.User, Next: r.URL.RequestURI()}
		v.renderHome(c, http.StatusUnauthorized, form, reason)
		return
	}
	c.Response().Header().Set("WWW-Authenticate", fmt.Sprintf(`Basic realm="FTP %s", charset="UTF-8"`, strings.ReplaceAll(site.String(), `"`, "")))
	msg := "This FTP site needs a login: send HTTP Basic auth (curl -u user) or log in on the bridge's home page."
	if reason != "" {
		msg = reason
	}
	v.renderError(c.Response(), r, &httpError{Status: http.StatusUnauthorized, Msg: msg})
}

type errorPage struct {
	page
	Status   int
	Title    string
	Msg      string
	Link     string
	LinkText string
}

// renderError writes an error as a page for browsers and as
// {"error": "..."} for everyone else.
func (v *views) renderError(w http.ResponseWriter, r *http.Request, he *httpError) {
	if he.Status == http.StatusServiceUnavailable || he.Status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", retryAfter(he))
	}
	if wantsHTML(r) {
		title := http.StatusText(he.Status)
		if he.Status == statusCanceled {
			title = "Canceled"
		}
		p := page{Title: title}
		if !he.bare {
			p = v.page(r, title)
		}
		v.render(w, he.Status, "error.html", errorPage{page: p, Status: he.Status, Title: title, Msg: he.Msg, Link: he.link, LinkText: he.linkText})
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(he.Status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": he.Msg})
}

// noControl turns control characters (a multi-line reply's line breaks)
// into spaces, for a reply quoted in one sentence.
func noControl(r rune) rune {
	if unicode.IsControl(r) {
		return ' '
	}
	return r
}

// retryAfter is the Retry-After of a refusal, in whole seconds (5 unless
// the refusal knows better).
func retryAfter(he *httpError) string {
	if he.retryAfter <= 0 {
		return "5"
	}
	return strconv.Itoa(int((he.retryAfter + time.Second - 1) / time.Second))
}
