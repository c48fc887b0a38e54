package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/ftpbridge/ftpbridge/access"
	"github.com/ftpbridge/ftpbridge/ftppool"
	"github.com/ftpbridge/ftpbridge/internal/session"
	"github.com/ftpbridge/ftpbridge/internal/urlpath"
)

// page is what every page's layout needs.
type page struct {
	Title    string
	Sites    []connectedSite
	DemoSite string
	// Public is a page for someone a share link was given to: it shows no
	// session's sites and no link to the maker's pages.
	Public bool
}

type connectedSite struct {
	Key  string // for the disconnect form
	Name string // "ftpes://alice@host"
	Href string
}

func (v *views) page(r *http.Request, title string) page {
	if strings.HasPrefix(r.URL.Path, "/s/") {
		// Below a share link, whoever asks is its recipient: even a
		// session of the maker's must not lead them to it.
		return page{Title: title, Public: true}
	}
	p := page{Title: title, DemoSite: v.demoSite}
	if s := v.sessions.Get(r); s != nil {
		for _, key := range s.Sites() {
			site, err := access.ParseSiteKey(key)
			if err != nil {
				continue
			}
			p.Sites = append(p.Sites, connectedSite{Key: key, Name: site.Scheme + "://" + site.String(), Href: site.Root()})
		}
	}
	return p
}

// connectForm is the connect form's content, for re-rendering it.
type connectForm struct {
	Scheme string
	Host   string
	Port   int
	User   string
	Next   string // where to go after logging in
	// Encoding is the name encoding of a server that does not use UTF-8.
	Encoding string
	// Mode is the transfer mode: auto, passive or active.
	Mode      string
	Anonymous bool
	// Focus is the id of the field to fix after a failure ("host",
	// "port", "password"...), which the page focuses.
	Focus string
}

type encodingChoice struct{ Name, Label string }

// legacyEncodings are offered on the connect form; any other IANA name
// works with ?encoding= (see access.Names).
var legacyEncodings = []encodingChoice{
	{"windows-1251", "Cyrillic (windows-1251)"}, {"KOI8-R", "Cyrillic (KOI8-R)"}, {"IBM866", "Cyrillic DOS (cp866)"},
	{"windows-1252", "Western (windows-1252)"}, {"ISO-8859-1", "Western (ISO-8859-1)"}, {"ISO-8859-2", "Central European (ISO-8859-2)"},
	{"windows-1250", "Central European (windows-1250)"}, {"ISO-8859-7", "Greek (ISO-8859-7)"}, {"windows-1254", "Turkish (windows-1254)"},
	{"Shift_JIS", "Japanese (Shift_JIS)"}, {"EUC-JP", "Japanese (EUC-JP)"}, {"GBK", "Chinese, simplified (GBK)"},
	{"GB18030", "Chinese (GB18030)"}, {"Big5", "Chinese, traditional (Big5)"}, {"EUC-KR", "Korean (EUC-KR)"},
}

type homePage struct {
	page
	Form      connectForm
	Error     string
	Encodings []encodingChoice
}

func (v *views) renderHome(c echo.Context, status int, form connectForm, msg string) {
	if form.Scheme == "" {
		form.Scheme = "ftpes"
	}
	v.render(c.Response(), status, "home.html", homePage{page: v.page(c.Request(), "Connect"), Form: form, Error: msg, Encodings: legacyEncodings})
}

// connections logs browsers in to FTP sites and out again: the home page's
// connect form, the paste-a-URL box and the disconnect buttons.
type connections struct {
	*views // and its sessions, which keep the logins
	pool   *ftppool.Pool
}

func home(h *connections) echo.HandlerFunc {
	return func(c echo.Context) error {
		h.renderHome(c, http.StatusOK, connectForm{}, "")
		return nil
	}
}

// connect logs in with the form's credentials, keeps them in the session
// and goes to the listing. A failure shows the form again with the reason.
func connect(h *connections) echo.HandlerFunc {
	return func(c echo.Context) error {
		form := connectForm{
			Scheme:   c.FormValue("scheme"),
			Host:     strings.TrimSpace(c.FormValue("host")),
			User:     c.FormValue("user"),
			Next:     c.FormValue("next"),
			Encoding: c.FormValue("encoding"),
			Mode:     c.FormValue("mode"),
		}
		if p := strings.TrimSpace(c.FormValue("port")); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				return h.formError(c, form, "port", badRequest("The port must be a number from 1 to 65535."))
			}
			form.Port = n
		}
		password := c.FormValue("password")
		if c.FormValue("anonymous") != "" {
			form.User, password, form.Anonymous = "", "", true
		}
		return h.login(c, form, password)
	}
}

// formError shows the form again, as it was filled in, with what went
// wrong and the focus on the field to fix; scripts get the error.
func (h *connections) formError(c echo.Context, form connectForm, field string, he *httpError) error {
	if !wantsHTML(c.Request()) {
		return he
	}
	form.Focus = field
	h.renderHome(c, he.Status, form, he.Msg)
	return nil
}

// fieldToFix is the form field behind a failed login: the password when
// the server refused it, else the host (a name not found, a server that
// does not answer, one this bridge may not reach).
func fieldToFix(err error, form connectForm) string {
	if ftppool.ErrorKind(err) == ftppool.KindLogin && !form.Anonymous {
		return "password"
	}
	return "host"
}

// login checks the credentials against the server and stores them.
func (h *connections) login(c echo.Context, form connectForm, password string) error {
	if urlpath.HasControl(form.User) || urlpath.HasControl(password) || urlpath.HasControl(form.Host) {
		return h.formError(c, form, "host", badRequest("The host, user name or password %v.", urlpath.ErrControl))
	}
	if !urlpath.ValidScheme(form.Scheme) {
		return h.formError(c, form, "scheme", badRequest("Choose the connection's security: plain FTP, FTPS explicit or FTPS implicit."))
	}
	if form.Port == 0 {
		form.Port = urlpath.DefaultPort(form.Scheme)
	}
	host := form.Host
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	rawSite := host + ":" + strconv.Itoa(form.Port)
	if form.User != "" {
		rawSite = urlpath.EscapeSegment(form.User) + "@" + rawSite
	}
	site, err := urlpath.ParseSite(form.Scheme, rawSite)
	if err != nil {
		return h.formError(c, form, "host", badRequest("The host is not valid: %v.", err))
	}
	n, err := access.NamesFor(form.Encoding)
	if err != nil {
		return h.formError(c, form, "encoding", httpErrorOf(err))
	}
	sess, err := h.sessions.Renew(c.Response(), c.Request())
	if err != nil {
		return err
	}
	mode, err := access.ParseMode(form.Mode)
	if err != nil {
		return h.formError(c, form, "mode", httpErrorOf(err))
	}
	ep := access.Endpoint(site, n, mode)
	owner, login := sess.Owner, ftppool.Login{User: site.User, Password: password}
	if site.Anonymous() {
		owner, login = "", access.AnonymousLogin(site)
	} else if old, ok := sess.Password(access.SiteKey(site)); ok && old != password {
		// Connections logged in with the old password must not serve the new one.
		h.pool.Forget(owner, ep, site.User)
	}
	if err := h.pool.Handle(owner, ep, login).Check(c.Request().Context()); err != nil {
		return h.formError(c, form, fieldToFix(err, form), ftpError(err, "The site"))
	}
	if err := sess.SetLogin(c.Request().Context(), access.SiteKey(site), session.Login{Password: password, Encoding: n.Name(), Mode: mode.String()}); err != nil {
		return err
	}
	next := site.Root()
	if strings.HasPrefix(form.Next, next) {
		next = form.Next
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// disconnect forgets one site's login (form field "site") or all of them,
// and closes the matching FTP connections.
func disconnect(h *connections) echo.HandlerFunc {
	return func(c echo.Context) error {
		key := c.FormValue("site")
		sess := h.sessions.Get(c.Request())
		switch {
		case sess == nil:
		case key == "":
			if err := h.sessions.Destroy(c.Response(), c.Request()); err != nil {
				return err
			}
		default:
			gone, err := sess.Forget(c.Request().Context(), key)
			if err != nil {
				return err
			}
			for _, k := range gone {
				if site, err := access.ParseSiteKey(k); err == nil && !site.Anonymous() {
					h.pool.Forget(sess.Owner, access.Endpoint(site, access.Names{}, ftppool.Auto), site.User)
				}
			}
		}
		if !wantsHTML(c.Request()) {
			return c.NoContent(http.StatusNoContent)
		}
		return c.Redirect(http.StatusSeeOther, "/")
	}
}

// openURL goes from a pasted ftp:// URL to its bridge page. It is a POST
// so that a password pasted in the URL travels in the body, never in a
// logged query string; such a URL logs in like the connect form.
func openURL(h *connections) echo.HandlerFunc {
	return func(c echo.Context) error {
		raw := strings.TrimSpace(c.FormValue("url"))
		if !strings.Contains(raw, "://") {
			// "host", "host:port" and "host/path" are what people copy
			// from FTP clients: plain FTP, as an ftp:// URL would say.
			raw = "ftp://" + raw
		}
		u, err := url.Parse(raw)
		if err == nil && u.Host == "" {
			err = errors.New("no host")
		}
		if err != nil || !urlpath.ValidScheme(u.Scheme) {
			return h.formError(c, connectForm{}, "paste-url", badRequest("Paste an address such as ftp://ftp.example.org/pub/ or ftp.example.org:2121 (ftp, ftpes or ftps)."))
		}
		// The URL's path is relative to the login folder, or absolute after
		// an encoded slash, exactly as a bridge address's is.
		p, dir, err := urlpath.DecodeSitePath(strings.TrimPrefix(u.EscapedPath(), "/"))
		if err != nil {
			return h.formError(c, connectForm{}, "paste-url", badRequest("The path in this address is not valid: %v.", err))
		}
		hostport := u.Host
		if u.User != nil {
			hostport = urlpath.EscapeSegment(u.User.Username()) + "@" + hostport
		}
		site, err := urlpath.ParseSite(u.Scheme, hostport)
		if err != nil {
			return h.formError(c, connectForm{}, "paste-url", badRequest("The site in this address is not valid: %v.", err))
		}
		if pw, ok := u.User.Password(); ok {
			form := connectForm{Scheme: site.Scheme, Host: site.Host, Port: site.Port, User: site.User, Next: site.PathURL(p, dir)}
			return h.login(c, form, pw)
		}
		return c.Redirect(http.StatusSeeOther, site.PathURL(p, dir))
	}
}
