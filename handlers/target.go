package handlers

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/ftpbridge/ftpbridge/ftppool"
	"github.com/ftpbridge/ftpbridge/internal/share"
	"github.com/ftpbridge/ftpbridge/internal/urlpath"
)

// target is what a /{scheme}/{site}/{path} URL points at, with the login
// this request uses.
type target struct {
	Site urlpath.Site
	Path string // absolute FTP path, bytes as on the server
	Dir  bool   // the URL ended in "/"
	// Home is the login folder, which the URL's path is relative to;
	// empty for a share, whose paths are the share's own.
	Home   string
	names  names // how the site's names read as text
	handle *ftppool.Handle
	login  ftppool.Login // what handle logs in with (a share seals it)
	// share is set when the request came through a share link: its
	// downloads are transfers of the share's maker.
	share *share.Share
}

// anonymousPassword is what anonymous logins send, as browsers once did.
const anonymousPassword = "anonymous@"

// parseTarget reads the URL from its escaped form, so that names which are
// not UTF-8 and reserved characters come back byte for byte. The path is
// as urlpath.DecodeSitePath gives it: relative to the login folder, or
// absolute.
func parseTarget(r *http.Request) (urlpath.Site, string, bool, error) {
	parts := strings.SplitN(r.URL.EscapedPath(), "/", 4) // "", scheme, site, rest
	if len(parts) < 3 {
		return urlpath.Site{}, "", false, badRequest("This address does not name an FTP site.")
	}
	site, err := urlpath.ParseSite(parts[1], parts[2])
	if err != nil {
		return urlpath.Site{}, "", false, badRequest("The site in this address is not valid: %v.", err)
	}
	if strings.Contains(site.User, ":") {
		return urlpath.Site{}, "", false, badRequest("Passwords never go in a bridge address. Log in with the connect form, or send HTTP Basic auth.")
	}
	rest := ""
	if len(parts) == 4 {
		rest = parts[3]
	}
	p, dir, err := urlpath.DecodeSitePath(rest)
	if err != nil {
		return urlpath.Site{}, "", false, badRequest("The path in this address is not valid: %v.", err)
	}
	return site, p, dir, nil
}

// endpoint turns a site into the pool's view of it.
func endpoint(s urlpath.Site, n names, mode ftppool.Mode) ftppool.Endpoint {
	sec := ftppool.Plain
	switch s.Scheme {
	case "ftpes":
		sec = ftppool.ExplicitTLS
	case "ftps":
		sec = ftppool.ImplicitTLS
	}
	return ftppool.Endpoint{Security: sec, Host: s.Host, Port: s.Port, NoUTF8: n.enc != nil, Mode: mode}
}

// parseMode reads a transfer mode from the connect form or ?mode=.
func parseMode(s string) (ftppool.Mode, error) {
	m, ok := ftppool.ParseMode(s)
	if !ok {
		return m, badRequest("The transfer mode %q is not one the bridge knows: use auto, passive or active.", s)
	}
	return m, nil
}

// resolve finds the login for a request and the absolute path it means.
// The login: HTTP Basic auth if sent, else anonymous for a site without a
// user, else the session's stored login. Without one, a browser gets the
// connect form and a script a Basic challenge (both 401).
func (d *Deps) resolve(c echo.Context) (*target, error) {
	t, p, err := d.siteLogin(c)
	if err != nil || t == nil {
		return nil, err
	}
	if t.Home, err = t.handle.Home(c.Request().Context()); err != nil {
		return nil, d.ftpFailure(c, t, err, "The site")
	}
	t.Path = urlpath.Resolve(t.Home, p)
	return t, nil
}

// url is the bridge address of the absolute FTP path abs on t's site.
func (t *target) url(abs string, dir bool) string { return t.Site.URL(t.Home, abs, dir) }

// holdsHome reports the server's root, the login folder or a folder above
// it: renamed or deleted, it would take the folder every address of the
// site starts from.
func (t *target) holdsHome() bool {
	p := strings.TrimSuffix(t.Path, "/")
	return p == "" || t.Home == p || strings.HasPrefix(t.Home, p+"/")
}

// show and quote make the site's names readable (see names).
func (t *target) show(raw string) string { return t.names.show(raw) }
func (t *target) quote(p string) string  { return t.names.quote(p) }

// siteLogin finds the request's site and login, and the path as the URL
// says it (see parseTarget).
func (d *Deps) siteLogin(c echo.Context) (*target, string, error) {
	r := c.Request()
	site, p, dir, err := parseTarget(r)
	if err != nil {
		return nil, "", err
	}
	t := &target{Site: site, Dir: dir}
	sess := d.Sessions.Get(r)
	// The name encoding: this request's ?encoding= (for scripts), else the
	// one chosen on the connect form.
	encoding := r.URL.Query().Get("encoding")
	if !r.URL.Query().Has("encoding") && sess != nil {
		encoding = sess.Encoding(siteKey(site))
	}
	if t.names, err = namesFor(encoding); err != nil {
		return nil, "", err
	}
	// The transfer mode likewise: ?mode= (for scripts), else the
	// connect form's.
	modeName := r.URL.Query().Get("mode")
	if !r.URL.Query().Has("mode") && sess != nil {
		modeName = sess.Mode(siteKey(site))
	}
	mode, err := parseMode(modeName)
	if err != nil {
		return nil, "", err
	}
	ep := endpoint(site, t.names, mode)
	if user, pass, ok := r.BasicAuth(); ok {
		if site.User != "" && site.User != user {
			return nil, "", badRequest("The user in the address (%s) and in the Authorization header (%s) differ.", site.User, user)
		}
		if urlpath.HasControl(user) || urlpath.HasControl(pass) {
			return nil, "", badRequest("The user name or password %v.", urlpath.ErrControl)
		}
		t.login = ftppool.Login{User: user, Password: pass}
		t.handle = d.Pool.Handle(d.basicOwner(user, pass), ep, t.login)
		return t, p, nil
	}
	if site.Anonymous() {
		t.login = anonymousLogin(site)
		t.handle = d.Pool.Handle("", ep, t.login)
		return t, p, nil
	}
	if sess != nil {
		if password, ok := sess.Password(siteKey(site)); ok {
			t.login = ftppool.Login{User: site.User, Password: password}
			t.handle = d.Pool.Handle(sess.Owner, ep, t.login)
			return t, p, nil
		}
	}
	return nil, "", d.needLogin(c, site, "")
}

// anonymousLogin is how a site without a real user logs in; such
// connections belong to the shared owner "".
func anonymousLogin(site urlpath.Site) ftppool.Login {
	user := site.User
	if user == "" {
		user = "anonymous"
	}
	return ftppool.Login{User: user, Password: anonymousPassword}
}

// siteKey names a site in the session: scheme, user, host and port.
func siteKey(s urlpath.Site) string { return s.Scheme + "/" + s.String() }

// parseSiteKey reads a siteKey back.
func parseSiteKey(key string) (urlpath.Site, error) {
	scheme, raw, _ := strings.Cut(key, "/")
	return urlpath.ParseSite(scheme, raw)
}

// needLogin answers a request that lacks credentials.
func (d *Deps) needLogin(c echo.Context, site urlpath.Site, reason string) error {
	r := c.Request()
	if !wantsHTML(r) {
		c.Response().Header().Set("WWW-Authenticate", fmt.Sprintf(`Basic realm="FTP %s", charset="UTF-8"`, strings.ReplaceAll(site.String(), `"`, "")))
		msg := "This FTP site needs a login: send HTTP Basic auth (curl -u user) or log in on the bridge's home page."
		if reason != "" {
			msg = reason
		}
		return &httpError{Status: http.StatusUnauthorized, Msg: msg}
	}
	form := connectForm{Scheme: site.Scheme, Host: site.Host, Port: site.Port, User: site.User, Next: r.URL.RequestURI()}
	d.renderHome(c, http.StatusUnauthorized, form, reason)
	return nil
}

// ftpFailure reports an FTP error; a refused login asks for credentials
// again, with the server's reason.
func (d *Deps) ftpFailure(c echo.Context, t *target, err error, what string) error {
	he := ftpError(err, what)
	switch {
	case he.Status == http.StatusUnauthorized && t.share != nil:
		// The recipient has no login to give: the link is broken.
		return &httpError{Status: http.StatusBadGateway, Err: err,
			Msg: "The FTP server no longer accepts this link's login. Ask the person who sent it for a new link."}
	case he.Status == http.StatusUnauthorized:
		return d.needLogin(c, t.Site, he.Msg)
	}
	return he
}
