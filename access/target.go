// Package access turns an HTTP request into FTP access: the site and the
// absolute path its URL names, and the login it uses (HTTP Basic auth, an
// anonymous one, a browser session's, or a share link's sealed one). It
// also keeps the login limits and the client address they count by. It
// knows nothing of the web framework, so every HTTP front (the pages and
// scripts' handlers, WebDAV) resolves requests the same way.
// docs/ARCHITECTURE.md shows where it sits between the fronts and ftppool.
package access

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"path"
	"strings"

	"github.com/ftpbridge/ftpbridge/ftppool"
	"github.com/ftpbridge/ftpbridge/internal/seal"
	"github.com/ftpbridge/ftpbridge/internal/session"
	"github.com/ftpbridge/ftpbridge/internal/share"
	"github.com/ftpbridge/ftpbridge/internal/urlpath"
)

// Resolver finds the FTP side of requests. Build it once, with NewResolver.
type Resolver struct {
	Proxies // the client's address and scheme, as trusted proxies tell them

	pool     *ftppool.Pool
	sessions *session.Store
	sealer   *seal.Sealer
	ownerKey []byte // keys Basic-auth owners in the pool
}

// NewResolver makes a Resolver. Logins come from sessions or the request,
// shares' passwords open with sealer, and the client address is believed
// from X-Forwarded-For only when the peer is one of proxies.
func NewResolver(pool *ftppool.Pool, sessions *session.Store, sealer *seal.Sealer, proxies Proxies) *Resolver {
	return &Resolver{
		pool:     pool,
		sessions: sessions,
		sealer:   sealer,
		// From a key kept under -data-dir, so that a script still owns
		// its share links after a restart.
		ownerKey: sealer.Derive("ftpbridge basic-auth owner"),
		Proxies:  proxies,
	}
}

// Target is what a /{scheme}/{site}/{path} URL points at, with the login
// this request uses.
type Target struct {
	Site urlpath.Site
	Path string // absolute FTP path, bytes as on the server
	Dir  bool   // the URL ended in "/"
	// Home is the login folder, which the URL's path is relative to;
	// empty for a share, whose paths are the share's own.
	Home   string
	Names  Names // how the site's names read as text
	Handle *ftppool.Handle
	Login  ftppool.Login // what Handle logs in with (a share seals it)
	// Share is set when the request came through a share link: its
	// downloads are transfers of the share's maker.
	Share *share.Share
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

// Endpoint turns a site into the pool's view of it.
func Endpoint(s urlpath.Site, n Names, mode ftppool.Mode) ftppool.Endpoint {
	sec := ftppool.Plain
	switch s.Scheme {
	case "ftpes":
		sec = ftppool.ExplicitTLS
	case "ftps":
		sec = ftppool.ImplicitTLS
	}
	return ftppool.Endpoint{Security: sec, Host: s.Host, Port: s.Port, NoUTF8: n.Legacy(), Mode: mode}
}

// ParseMode reads a transfer mode from the connect form or ?mode=.
func ParseMode(s string) (ftppool.Mode, error) {
	m, ok := ftppool.ParseMode(s)
	if !ok {
		return m, badRequest("The transfer mode %q is not one the bridge knows: use auto, passive or active.", s)
	}
	return m, nil
}

// Resolve finds the login for a request and the absolute path it means.
// The login: HTTP Basic auth if sent, else anonymous for a site without a
// user, else the session's stored login. Without one, or with one the
// server refuses, the error is a *NeedLoginError; a URL that means nothing
// is a *BadRequestError, and a site that cannot be used a *SiteError.
func (a *Resolver) Resolve(r *http.Request) (*Target, error) {
	t, p, err := a.siteLogin(r)
	if err != nil {
		return nil, err
	}
	if t.Home, err = t.Handle.Home(r.Context()); err != nil {
		if ftppool.ErrorKind(err) == ftppool.KindLogin {
			return nil, &NeedLoginError{Site: t.Site, Err: err}
		}
		return nil, &SiteError{Site: t.Site, Err: err}
	}
	t.Path = urlpath.Resolve(t.Home, p)
	return t, nil
}

// URL is the bridge address of the absolute FTP path abs on t's site.
func (t *Target) URL(abs string, dir bool) string { return t.Site.URL(t.Home, abs, dir) }

// HoldsHome reports whether the path p (absolute) is the server's root, the
// login folder or a folder above it: renamed or deleted, it would take the
// folder every address of the site starts from.
func (t *Target) HoldsHome(p string) bool {
	p = strings.TrimSuffix(p, "/")
	return p == "" || t.Home == p || strings.HasPrefix(t.Home, p+"/")
}

// Show and Quote make the site's names readable (see Names).
func (t *Target) Show(raw string) string { return t.Names.Show(raw) }
func (t *Target) Quote(p string) string  { return t.Names.Quote(p) }

// siteLogin finds the request's site and login, and the path as the URL
// says it (see parseTarget).
func (a *Resolver) siteLogin(r *http.Request) (*Target, string, error) {
	site, p, dir, err := parseTarget(r)
	if err != nil {
		return nil, "", err
	}
	t := &Target{Site: site, Dir: dir}
	// A session store that fails matters only to a request that needs
	// the session's password: Basic auth and anonymous go on without.
	sess, sessErr := a.sessions.Lookup(r)
	// The name encoding: this request's ?encoding= (for scripts), else the
	// one chosen on the connect form.
	q := r.URL.Query()
	encoding := q.Get("encoding")
	if !q.Has("encoding") && sess != nil {
		encoding = sess.Encoding(SiteKey(site))
	}
	if t.Names, err = NamesFor(encoding); err != nil {
		return nil, "", err
	}
	// The transfer mode likewise: ?mode= (for scripts), else the
	// connect form's.
	modeName := q.Get("mode")
	if !q.Has("mode") && sess != nil {
		modeName = sess.Mode(SiteKey(site))
	}
	mode, err := ParseMode(modeName)
	if err != nil {
		return nil, "", err
	}
	ep := Endpoint(site, t.Names, mode)
	if user, pass, ok := r.BasicAuth(); ok {
		if site.User != "" && site.User != user {
			return nil, "", badRequest("The user in the address (%s) and in the Authorization header (%s) differ.", site.User, user)
		}
		if urlpath.HasControl(user) || urlpath.HasControl(pass) {
			return nil, "", badRequest("The user name or password %v.", urlpath.ErrControl)
		}
		t.Login = ftppool.Login{User: user, Password: pass}
		t.Handle = a.pool.Handle(a.BasicOwner(user, pass), ep, t.Login)
		return t, p, nil
	}
	if site.Anonymous() {
		t.Login = AnonymousLogin(site)
		t.Handle = a.pool.Handle("", ep, t.Login)
		return t, p, nil
	}
	if sessErr != nil {
		return nil, "", sessErr
	}
	if sess != nil {
		if password, ok := sess.Password(SiteKey(site)); ok {
			t.Login = ftppool.Login{User: site.User, Password: password}
			t.Handle = a.pool.Handle(sess.Owner, ep, t.Login)
			return t, p, nil
		}
	}
	return nil, "", &NeedLoginError{Site: site}
}

// ShareTarget is the FTP side of a share request: the share's own login
// (its pool connections are its own) and a path that cannot leave the
// shared folder, since urlpath.DecodePath refuses "..", encoded slashes
// and backslash steps in rel.
func (a *Resolver) ShareTarget(sh *share.Share, rel string, dir bool) (*Target, error) {
	site := urlpath.Site{Scheme: sh.Scheme, User: sh.User, Host: sh.Host, Port: sh.Port}
	n := ShareNames(sh)
	login := AnonymousLogin(site)
	owner := ""
	if sh.Secret != nil {
		password, err := a.sealer.Open(sh.SealContext(), sh.Secret)
		if err != nil {
			return nil, fmt.Errorf("open a share's sealed password: %w", err)
		}
		login, owner = ftppool.Login{User: sh.User, Password: password}, "share:"+sh.ID
	}
	return &Target{Site: site, Path: path.Join(sh.Path, rel), Dir: dir, Names: n, Handle: a.pool.Handle(owner, Endpoint(site, n, sharedMode(sh)), login), Login: login, Share: sh}, nil
}

// ShareNames reads a share's names as its maker's site did.
func ShareNames(s *share.Share) Names {
	n, err := NamesFor(s.Encoding)
	if err != nil {
		return Names{} // the name was checked when the share was made
	}
	return n
}

// sharedMode is the transfer mode a share's maker used.
func sharedMode(s *share.Share) ftppool.Mode {
	m, _ := ftppool.ParseMode(s.Mode)
	return m
}

// BasicOwner names the pool connections of a Basic-auth login: a keyed
// hash of user and password, so a wrong password never reuses a connection
// that logged in with the right one, and the password is not kept as a key.
func (a *Resolver) BasicOwner(user, password string) string {
	m := hmac.New(sha256.New, a.ownerKey)
	m.Write([]byte(user))
	m.Write([]byte{0})
	m.Write([]byte(password))
	return "basic:" + hex.EncodeToString(m.Sum(nil))
}

// AnonymousLogin is how a site without a real user logs in; such
// connections belong to the shared owner "".
func AnonymousLogin(site urlpath.Site) ftppool.Login {
	user := site.User
	if user == "" {
		user = "anonymous"
	}
	return ftppool.Login{User: user, Password: anonymousPassword}
}

// SiteKey names a site in the session: scheme, user, host and port.
func SiteKey(s urlpath.Site) string { return s.Scheme + "/" + s.String() }

// ParseSiteKey reads a SiteKey back.
func ParseSiteKey(key string) (urlpath.Site, error) {
	scheme, raw, _ := strings.Cut(key, "/")
	return urlpath.ParseSite(scheme, raw)
}
