package handlers

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"

	"github.com/ftpbridge/ftpbridge/access"
	"github.com/ftpbridge/ftpbridge/ftppool"
	"github.com/ftpbridge/ftpbridge/internal/seal"
	"github.com/ftpbridge/ftpbridge/internal/share"
	"github.com/ftpbridge/ftpbridge/internal/urlpath"
)

// ShareConfig is how shares are made and kept (operator flags).
type ShareConfig struct {
	Store         share.Store
	Sealer        *seal.Sealer
	BaseURL       string        // "https://files.example.com" behind a proxy; "" = from the request
	DefaultExpiry time.Duration // when the maker names none
	MaxExpiry     time.Duration // the longest a maker may ask for
	// PerOwner and PerClient bound the live shares one owner and one
	// client address may hold; PerMinute, the shares a client address
	// may make in a minute. 0 is no limit.
	PerOwner, PerClient, PerMinute int
}

// sharing makes share links, and serves them to the people they are given
// to: a shared file or folder is served through files, read-only.
type sharing struct {
	*views // and its sessions, whose owners make and list shares
	files  *files
	cfg    ShareConfig
	access *access.Resolver
	hosts  *HostNames // the names a link may be built from (shareURL)

	guesses *access.Tries // share password tries, per share and client
	hashing chan struct{} // bcrypt checks running: a few at a time
	// makers counts the shares each client made this minute; nil when
	// not limited.
	makers *access.Tries
}

// maxSharePath is the longest FTP path a share may name: every share is
// read whole whenever one is made or listed, so none may be large.
const maxSharePath = 4 << 10

// shareCreated is the answer to ?op=share.
type shareCreated struct {
	ID      string    `json:"id"`
	URL     string    `json:"url"`
	Expires time.Time `json:"expires"`
}

// bcrypt reads at most 72 bytes of a password; longer ones are refused
// rather than cut without a word.
const maxSharePassword = 72

// createShare answers POST ?op=share: a link to the file or folder
// addressed, for people with no FTP account.
func (sg *sharing) createShare(c echo.Context, t *access.Target) error {
	r := c.Request()
	owners := sg.requestOwners(r)
	if owners == nil {
		// A share nobody owns could never be listed or revoked.
		c.Response().Header().Set("WWW-Authenticate", `Basic realm="ftpbridge", charset="UTF-8"`)
		return &httpError{Status: http.StatusUnauthorized,
			Msg: "A share link belongs to whoever made it, who alone can list and revoke it: make it from the bridge's pages (a browser session), or send HTTP Basic auth."}
	}
	form, err := opForm(c)
	if err != nil {
		return err
	}
	sc := sg.cfg
	expiry := sc.DefaultExpiry
	if v := form.Get("expires"); v != "" {
		if expiry, err = time.ParseDuration(v); err != nil || expiry <= 0 {
			return badRequest("expires must be a duration such as 24h or 30m, not %q.", v)
		}
	}
	if expiry > sc.MaxExpiry {
		return badRequest("This bridge keeps share links for at most %s; ask for less.", sc.MaxExpiry)
	}
	maxDownloads := 0
	if v := form.Get("max_downloads"); v != "" {
		if maxDownloads, err = strconv.Atoi(v); err != nil || maxDownloads < 0 {
			return badRequest("max_downloads must be a whole number (0 for no limit), not %q.", v)
		}
	}
	// Only from the body: a password in the query would sit in logs and
	// browser history.
	if r.URL.Query().Has("password") {
		return badRequest("Send the share's password in the form body, never in the address.")
	}
	password := r.PostForm.Get("password")
	if len(password) > maxSharePassword {
		return badRequest("A share password may be at most %d bytes long.", maxSharePassword)
	}
	if len(t.Path) > maxSharePath {
		return &httpError{Status: http.StatusRequestEntityTooLarge,
			Msg: fmt.Sprintf("A share link may name a path of at most %d bytes; this one has %d.", maxSharePath, len(t.Path))}
	}
	client := access.ClientKey(sg.access.ClientIP(r))
	if sg.makers != nil {
		if wait := sg.makers.Take(client); wait > 0 {
			return &httpError{Status: http.StatusTooManyRequests, retryAfter: wait,
				Msg: fmt.Sprintf("This address made %d share links in the last minute, the most the bridge allows. Try again in %s.", sc.PerMinute, wait.Round(time.Second))}
		}
	}

	// The link must point at something that is there, and be of its kind.
	e, err := t.Handle.Stat(r.Context(), t.Path)
	if err != nil {
		return ftpFailure(t, err, t.Quote(t.Path))
	}
	if (e.Type == ftppool.TypeDir) != t.Dir {
		return badRequest("%s is a %s: share it by its own address (a folder's ends in /).", t.Quote(t.Path), e.Type)
	}

	now := time.Now()
	s := share.Share{
		ID: share.NewID(), Owner: owners[0],
		Scheme: t.Site.Scheme, Host: t.Site.Host, Port: t.Site.Port, User: t.Login.User,
		Path: t.Path, Dir: t.Dir, Encoding: t.Names.Name(), Mode: storedMode(t.Handle.Mode()), Created: now, Expires: now.Add(expiry), MaxDownloads: maxDownloads,
		Client: client,
	}
	if t.Login != access.AnonymousLogin(t.Site) {
		// Sealed with what the share is about, so the sealed password
		// opens for no other share, server or path.
		s.Secret = sc.Sealer.Seal(s.SealContext(), t.Login.Password)
		// It belongs to the login too, so that the user finds it from
		// any browser that logs in as them.
		s.Login = share.LoginID(t.Site.Host, t.Site.Port, t.Login.User)
	}
	if password != "" {
		if s.PasswordHash, err = bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost); err != nil {
			return fmt.Errorf("hash the share password: %w", err)
		}
	}
	if err := sc.Store.PutLimited(s, share.Limits{PerOwner: sc.PerOwner, PerClient: sc.PerClient, Now: now}); err != nil {
		if tm, ok := errors.AsType[*share.TooManyError](err); ok {
			who := "You have"
			if tm.PerClient {
				who = "This address has"
			}
			return &httpError{Status: http.StatusTooManyRequests, retryAfter: tm.Free,
				Msg: fmt.Sprintf("%s %d share links that have not expired, the most the bridge keeps; revoked ones count until they would have expired. The next place frees in %s.", who, tm.Max, tm.Free.Round(time.Second))}
		}
		return fmt.Errorf("store a share: %w", err)
	}
	sg.logger.Info("share created", "share", shortID(s.ID), "site", t.Site.Scheme+"://"+t.Site.String(), "path", t.Show(s.Path), "expires", s.Expires)
	return c.JSON(http.StatusCreated, shareCreated{ID: s.ID, URL: sg.shareURL(r, &s), Expires: s.Expires})
}

// requestOwners is every id whose shares the asker may list and revoke.
// The first is who is asking, which owns the shares they make: the browser
// session, else the Basic-auth login. The others are the FTP logins the
// session holds (see share.LoginID), whose shares are theirs from any
// browser; a session holds a login only once the server accepted it. nil:
// nobody.
func (sg *sharing) requestOwners(r *http.Request) []string {
	s := sg.sessions.Get(r)
	if s == nil {
		if user, pass, ok := r.BasicAuth(); ok {
			return []string{sg.access.BasicOwner(user, pass)}
		}
		return nil
	}
	ids := []string{s.Owner}
	for _, key := range s.Sites() {
		if site, err := access.ParseSiteKey(key); err == nil && !site.Anonymous() {
			ids = append(ids, share.LoginID(site.Host, site.Port, site.User))
		}
	}
	return ids
}

// shareURL is a share's full address: -base-url when the bridge sits behind
// a proxy, else this request's own scheme and host, which must be one of
// -hosts: a link built from any Host a request named would send the people
// it is given to wherever that request wanted. checkHost has refused such
// requests already; should one get here all the same, the link is left
// relative rather than pointed elsewhere. A folder's link ends in "/", a
// file's does not.
func (sg *sharing) shareURL(r *http.Request, s *share.Share) string {
	base := sg.cfg.BaseURL
	if base == "" && sg.hosts.Allows(r.Host) {
		scheme := "http"
		if sg.access.IsHTTPS(r) {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	return strings.TrimSuffix(base, "/") + sharePath(s)
}

// shareRoot is a share's own path on the bridge.
func shareRoot(id string) string { return "/s/" + id + "/" }

// sharePath is a share link's path: a folder's ends in "/", a file's
// does not.
func sharePath(sh *share.Share) string {
	if sh.Dir {
		return shareRoot(sh.ID)
	}
	return "/s/" + sh.ID
}

// serveShare answers /s/{token}/...: the shared file, or a read-only view
// of the shared folder and what is below it, never above.
func serveShare(sg *sharing) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		sh, sub, resumeOnly, err := sg.findShare(r)
		if err != nil {
			return err
		}
		if sh.Dir && sub == "" && !strings.HasSuffix(r.URL.Path, "/") {
			return addSlash(c)
		}
		rel, dir := "/", false
		if sh.Dir {
			if rel, dir, err = urlpath.DecodePath(sub); err != nil {
				return badRequest("The path in this address is not valid: %v.", err)
			}
		} else if sub != "" {
			return &httpError{Status: http.StatusNotFound, Msg: "This link shares one file; there is nothing below it."}
		}
		if sh.PasswordHash != nil {
			if err := sg.sharePasswordGiven(r, sh); err != nil {
				return err
			}
		}
		t, err := sg.access.ShareTarget(sh, rel, dir)
		if err != nil {
			return err
		}
		if resumeOnly && (dir || t.Path != sh.LastPath) {
			// A used-up link finishes its last download and nothing
			// else: a Range header lifts the limit for no listing, zip
			// or other file.
			return gone(share.ErrUsedUp)
		}
		if err := t.Handle.NoLinksBelow(r.Context(), sh.Path, t.Path); err != nil {
			return ftpFailure(t, err, t.Quote(t.Path))
		}
		// Downloads and zips count themselves once they are sure to start
		// (see countShareDownload).
		switch {
		case dir && c.QueryParam("format") == "zip":
			return sg.files.zipFolder(c, t)
		case dir:
			return sg.files.browseShare(c, t, sh)
		case !sh.Dir && wantsHTML(r) && r.Method == http.MethodGet && !c.QueryParams().Has("download"):
			return sg.showSharedFile(c, t, sh)
		}
		return sg.files.download(c, t)
	}
}

// showSharedFile is a file link's page for a browser that navigates to
// it: what is shared, by whom, until when, how many downloads are left, and
// a Download button (?download=1, which scripts never need: they get the
// file at the link itself). A password link comes here after its password
// page, so the person sees where they are instead of a stale page.
func (sg *sharing) showSharedFile(c echo.Context, t *access.Target, sh *share.Share) error {
	r := c.Request()
	e, err := t.Handle.Stat(r.Context(), t.Path)
	if err != nil {
		return ftpFailure(t, err, "The shared file")
	}
	if e.Type == ftppool.TypeDir {
		return &httpError{Status: http.StatusNotFound, Msg: "What this link shared is no longer a file. Ask the person who sent it for a new link."}
	}
	name := t.Show(path.Base(sh.Path))
	p := sharedFilePage{page: sg.page(r, name), Name: name, Size: "unknown", By: sharedBy(sh),
		Expires: sh.Expires, Left: "no limit", Download: sharePath(sh) + "?download=1"}
	if e.Size >= 0 {
		p.Size = humanSize(e.Size)
	}
	if sh.MaxDownloads > 0 {
		p.Left = fmt.Sprintf("%d of %d", max(sh.MaxDownloads-sh.Downloads, 0), sh.MaxDownloads)
	}
	sg.render(c.Response(), http.StatusOK, "shared.html", p)
	return nil
}

type sharedFilePage struct {
	page
	Name, Size, By, Left, Download string
	Expires                        time.Time
}

// sharedBy says whose login a share reads with, as the recipient sees it:
// the FTP user at the server, which tells them whose files these are.
func sharedBy(sh *share.Share) string {
	server := sh.Scheme + "://" + urlpath.Site{Scheme: sh.Scheme, Host: sh.Host, Port: sh.Port}.String()
	if sh.Secret == nil {
		return "an anonymous login at " + server
	}
	return sh.User + " at " + server
}

// findShare reads the token and the escaped path below it, and finds a
// share that still works. resumeOnly is a used-up share that may still
// serve a resume of its last counted download, and nothing else.
func (sg *sharing) findShare(r *http.Request) (sh *share.Share, sub string, resumeOnly bool, err error) {
	parts := strings.SplitN(r.URL.EscapedPath(), "/", 4) // "", "s", token, rest
	id := parts[2]
	if len(parts) == 4 {
		sub = parts[3]
	}
	notFound := &httpError{Status: http.StatusNotFound, Msg: "There is no such share link. Check that it was copied whole."}
	if !share.ValidID(id) {
		return nil, "", false, notFound
	}
	found, err := sg.cfg.Store.Get(id)
	if errors.Is(err, share.ErrNotFound) {
		return nil, "", false, notFound
	}
	if err != nil {
		// The store does not answer (-database down): a moment's wait
		// may do, so 503, not 500.
		return nil, "", false, &httpError{Status: http.StatusServiceUnavailable, retryAfter: 5 * time.Second,
			Msg: "The bridge cannot read its share links just now. Try again in a moment.",
			Err: fmt.Errorf("read share %s: %w", shortID(id), err)}
	}
	err = found.Usable(time.Now())
	if start, ok := singleRangeStart(r); errors.Is(err, share.ErrUsedUp) && ok && start > 0 && found.LastPath != "" && time.Since(found.LastDownload) < resumeWindow {
		// Perhaps finishing the last counted download: serveShare
		// checks the file, countShareDownload its version.
		err, resumeOnly = nil, true
	}
	if err != nil {
		return nil, "", false, gone(err)
	}
	return &found, sub, resumeOnly, nil
}

// resumeWindow is how long after its last counted download a used-up link
// still serves resumes, so that a broken download can be finished but the
// link does not serve ranges forever.
const resumeWindow = time.Hour

// gone is the 410 answer for a link that no longer works, saying why.
func gone(err error) *httpError {
	msg := map[error]string{
		share.ErrExpired: "This share link has expired. Ask the person who sent it for a new one.",
		share.ErrRevoked: "This share link was revoked by the person who made it.",
		share.ErrUsedUp:  "This share link has been used as many times as the person who made it allowed.",
	}[err]
	return &httpError{Status: http.StatusGone, Msg: msg, Err: err}
}

// countShareDownload counts a download through a share and refuses one
// over its limit. It runs once the file is open (or the zip planned), so a
// request that fails before a byte goes out is not counted. What counts: a
// GET of the whole file, a Range from the first byte, several ranges, and
// every zip. A resume does not (see isResume), so a broken download of a
// one-time link can be finished. etag is the file's, "" for a zip.
func countShareDownload(store share.Store, r *http.Request, sh *share.Share, etag string) error {
	return countShareFile(store, r, sh, "", etag)
}

// countShareFile is countShareDownload for the file at path, whose resume
// goes uncounted only if it is of the file the last counted download was,
// in the same version (etag), within resumeWindow of it.
func countShareFile(store share.Store, r *http.Request, sh *share.Share, path, etag string) error {
	if r.Method != http.MethodGet || etag != "" && r.Header.Get("If-None-Match") == etag {
		return nil // HEAD, or a 304: nothing is downloaded
	}
	if etag != "" && isResume(r, etag) && sh.Downloads > 0 &&
		path == sh.LastPath && etag == sh.LastETag && time.Since(sh.LastDownload) < resumeWindow {
		return nil
	}
	updated, err := store.CountDownload(sh.ID, time.Now(), path, etag)
	for _, ended := range []error{share.ErrExpired, share.ErrRevoked, share.ErrUsedUp} {
		if errors.Is(err, ended) {
			return gone(ended)
		}
	}
	if err != nil {
		return fmt.Errorf("count a download of share %s: %w", shortID(sh.ID), err)
	}
	*sh = updated
	return nil
}

// isResume reports a request for the rest of a file: one range that starts
// after the first byte and, if the browser sent If-Range, for this very
// version of the file (otherwise the answer is the whole file). A suffix
// range ("bytes=-N") may be the whole file, so it is no resume.
func isResume(r *http.Request, etag string) bool {
	start, ok := singleRangeStart(r)
	ifRange := r.Header.Get("If-Range")
	return ok && start > 0 && (ifRange == "" || ifRange == etag)
}

// singleRangeStart reads the start of a Range header that asks for one
// range from a given byte ("bytes=N-" or "bytes=N-M").
func singleRangeStart(r *http.Request) (int64, bool) {
	spec, ok := strings.CutPrefix(strings.TrimSpace(r.Header.Get("Range")), "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0, false
	}
	first, _, ok := strings.Cut(spec, "-")
	if !ok || strings.TrimSpace(first) == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(first), 10, 64)
	return n, err == nil && n >= 0
}

// browseShare shows a shared folder, read-only, with links that stay in
// the share.
func (f *files) browseShare(c echo.Context, t *access.Target, sh *share.Share) error {
	r := c.Request()
	q := r.URL.Query()
	// A big folder's page hands its listing on to its script (handoff.go).
	folder, ok := ftppool.Folder{}, false
	if tok := q.Get("listing"); tok != "" && wantsJSON(r) {
		folder, ok = f.listings.take(tok, handoffKey(t))
	}
	entries := folder.Entries
	if !ok {
		var err error
		if entries, err = t.Handle.List(r.Context(), t.Path); err != nil {
			return ftpFailure(t, err, "This folder")
		}
	}
	links := shareLinks{sh: sh, Names: t.Names}
	l := buildListing(links, t.Path, entries, q)
	l.hidePerms = true // what the maker's login may do is not the visitor's business
	// The FTP path above the share is the maker's business.
	l.Path = t.Show(strings.TrimPrefix(t.Path, strings.TrimSuffix(sh.Path, "/")) + "/")
	if l.Path == "//" {
		l.Path = "/"
	}
	if wantsJSON(r) {
		return serveListingJSON(c, l)
	}
	l.filterHidden()
	l.firstRows(q.Get("all") == "1", links.URL(t.Path, true))
	if l.Total > 0 {
		l.Listing = f.listings.put(handoffKey(t), ftppool.Folder{Entries: entries})
	}
	l.page = f.page(r, l.Path+" (shared)")
	l.ReadOnly = true
	f.renderListing(c.Response(), l)
	return nil
}

// shareLinks makes a shared folder's links, all below /s/{token}/.
type shareLinks struct {
	sh *share.Share
	access.Names
}

func (s shareLinks) URL(ftpPath string, dir bool) string {
	return "/s/" + s.sh.ID + urlpath.EncodePath(strings.TrimPrefix(ftpPath, strings.TrimSuffix(s.sh.Path, "/")), dir)
}

func (s shareLinks) EntryURLs(dir string) func(string, bool) string {
	full := func(name string, isDir bool) string { return s.URL(path.Join(dir, name), isDir) }
	if !strings.HasPrefix(dir, strings.TrimSuffix(s.sh.Path, "/")) {
		// URL's TrimPrefix would cut into the entry's name.
		return full
	}
	return urlpath.FolderEntries(dir, s.URL(dir, true), "", full)
}

func (s shareLinks) Top() string  { return s.sh.Path }
func (s shareLinks) Name() string { return "shared " + s.Show(path.Base(s.sh.Path)) }
func (s shareLinks) Home() string { return "" }

// sharePasswordGiven checks a password share's proof: HTTP Basic auth with
// the password (any user name, for curl), or the cookie the password page
// sets. Without either it asks for the password (needSharePassword);
// wrong guesses are limited.
func (sg *sharing) sharePasswordGiven(r *http.Request, sh *share.Share) error {
	if ck, err := r.Cookie(shareCookie(sh.ID)); err == nil &&
		subtle.ConstantTimeCompare([]byte(ck.Value), []byte(sg.cfg.Sealer.Proof(sh.ID, sh.PasswordHash))) == 1 {
		return nil
	}
	if _, pass, ok := r.BasicAuth(); ok {
		return sg.checkSharePassword(r, sh, pass)
	}
	return &needSharePassword{id: sh.ID, next: r.URL.RequestURI()}
}

// checkSharePassword compares a guess. Each guess takes one of the
// client's few tries before bcrypt runs (a right one gives it back), so
// guesses sent all at once are limited too; and bcrypt runs a few at a
// time, so guessing cannot eat the bridge's CPU.
func (sg *sharing) checkSharePassword(r *http.Request, sh *share.Share, guess string) error {
	key := sh.ID + " " + access.ClientKey(sg.access.ClientIP(r))
	if wait := sg.guesses.Take(key); wait > 0 {
		return &httpError{Status: http.StatusTooManyRequests, retryAfter: wait,
			Msg: fmt.Sprintf("Too many wrong passwords for this link. Try again in %s.", wait.Round(time.Second))}
	}
	select {
	case sg.hashing <- struct{}{}:
	case <-r.Context().Done():
		return r.Context().Err()
	}
	wrong := bcrypt.CompareHashAndPassword(sh.PasswordHash, []byte(guess)) != nil
	<-sg.hashing
	if wrong {
		return &httpError{Status: http.StatusUnauthorized, Msg: "That is not the password of this link."}
	}
	sg.guesses.GiveBack(key)
	return nil
}

// needSharePassword answers a request for a password share that lacks the
// password, or whose guess was wrong (problem): the password page for a
// browser, a Basic challenge for a script (see views.askSharePassword).
type needSharePassword struct {
	id      string
	next    string // where the page's form leads back to
	problem *httpError
}

func (e *needSharePassword) Error() string { return "share " + shortID(e.id) + " needs its password" }

// askSharePassword shows the password page, with what went wrong with
// the last guess, or for scripts a Basic challenge.
func (v *views) askSharePassword(c echo.Context, e *needSharePassword) {
	r := c.Request()
	he := e.problem
	if he == nil {
		he = &httpError{Status: http.StatusUnauthorized, Msg: "This share link needs its password: send it with HTTP Basic auth (curl -u :password), any user name."}
	}
	if !wantsHTML(r) {
		if he.Status == http.StatusUnauthorized {
			c.Response().Header().Set("WWW-Authenticate", `Basic realm="ftpbridge share", charset="UTF-8"`)
		}
		v.renderError(c.Response(), r, he)
		return
	}
	if he.Status == http.StatusTooManyRequests {
		c.Response().Header().Set("Retry-After", retryAfter(he))
	}
	p := sharePassPage{page: v.page(r, "Password needed"), Action: shareRoot(e.id), Next: e.next}
	if e.problem != nil {
		p.Problem = e.problem.Msg
	}
	v.render(c.Response(), he.Status, "sharepass.html", p)
}

type sharePassPage struct {
	page
	Action  string
	Next    string
	Problem string
}

// shareCookie is the name of the cookie that proves a share's password.
func shareCookie(id string) string { return "ftpbridge_share_" + id }

// unlockShare answers the password page's POST: a right password sets a
// cookie that proves it (an HMAC, never the password) for this share only.
func unlockShare(sg *sharing) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		sh, _, resumeOnly, err := sg.findShare(r)
		if err != nil {
			return err
		}
		if resumeOnly {
			return gone(share.ErrUsedUp)
		}
		form, err := opForm(c)
		if err != nil {
			return err
		}
		// Back where the person was, but only inside this share.
		next := path.Clean("/" + form.Get("next"))
		if strings.HasSuffix(form.Get("next"), "/") {
			next += "/"
		}
		if next != sharePath(sh) && !strings.HasPrefix(next, shareRoot(sh.ID)) {
			next = sharePath(sh)
		}
		if sh.PasswordHash == nil {
			return c.Redirect(http.StatusSeeOther, next)
		}
		if err := sg.checkSharePassword(r, sh, r.PostForm.Get("password")); err != nil {
			if he, ok := errors.AsType[*httpError](err); ok {
				return &needSharePassword{id: sh.ID, next: next, problem: he}
			}
			return err
		}
		http.SetCookie(c.Response(), &http.Cookie{
			Name: shareCookie(sh.ID), Value: sg.cfg.Sealer.Proof(sh.ID, sh.PasswordHash),
			Path: "/s/" + sh.ID, Expires: sh.Expires, HttpOnly: true, Secure: sg.access.IsHTTPS(r), SameSite: http.SameSiteLaxMode,
		})
		return c.Redirect(http.StatusSeeOther, next)
	}
}

// sharesPage is /shares: the shares the asker made.
type sharesPage struct {
	page   `json:"-"`
	Shares []shareRow `json:"shares"`
}

// shareRow is one share as its maker sees it; never the sealed login or
// the password hash.
type shareRow struct {
	ID           string     `json:"id"`
	URL          string     `json:"url"`
	Site         string     `json:"site"`
	Path         string     `json:"path"`
	Dir          bool       `json:"dir"`
	Created      time.Time  `json:"created"`
	Expires      time.Time  `json:"expires"`
	Password     bool       `json:"password"`
	Downloads    int        `json:"downloads"`
	MaxDownloads int        `json:"max_downloads"`
	LastDownload *time.Time `json:"last_download"`
	State        string     `json:"state"` // active, expired, revoked, used up
}

// listShares answers GET /shares.
func listShares(sg *sharing) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		var shares []share.Share
		if owners := sg.requestOwners(r); owners != nil {
			var err error
			if shares, err = sg.cfg.Store.List(owners...); err != nil {
				return fmt.Errorf("list shares: %w", err)
			}
		}
		p := sharesPage{Shares: make([]shareRow, 0, len(shares))}
		now := time.Now()
		for _, s := range shares {
			row := shareRow{
				ID: s.ID, URL: sg.shareURL(r, &s), Path: access.ShareNames(&s).Show(s.Path), Dir: s.Dir,
				Site:    s.Scheme + "://" + urlpath.Site{Scheme: s.Scheme, User: s.User, Host: s.Host, Port: s.Port}.String(),
				Created: s.Created, Expires: s.Expires, Password: s.PasswordHash != nil,
				Downloads: s.Downloads, MaxDownloads: s.MaxDownloads, State: "active",
			}
			if !s.LastDownload.IsZero() {
				row.LastDownload = &s.LastDownload
			}
			if err := s.Usable(now); err != nil {
				row.State = map[error]string{share.ErrExpired: "expired", share.ErrRevoked: "revoked", share.ErrUsedUp: "used up"}[err]
			}
			p.Shares = append(p.Shares, row)
		}
		if wantsJSON(r) || !wantsHTML(r) {
			c.Response().Header().Set("Cache-Control", "no-store")
			return c.JSON(http.StatusOK, p)
		}
		p.page = sg.page(r, "Shared links")
		sg.render(c.Response(), http.StatusOK, "shares.html", p)
		return nil
	}
}

// revokeShare answers DELETE /shares/{id} and POST /shares/{id}/revoke:
// the link answers 410 from then on. Only its maker, or a session logged
// in as the FTP login it was made with, may end it.
func revokeShare(sg *sharing) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		id, owners := c.Param("id"), sg.requestOwners(r)
		notYours := &httpError{Status: http.StatusNotFound, Msg: "You have no share link with this id."}
		if !share.ValidID(id) || owners == nil {
			return notYours
		}
		_, err := sg.cfg.Store.Update(id, func(s *share.Share) error {
			if !slices.Contains(owners, s.Owner) && (s.Login == "" || !slices.Contains(owners, s.Login)) {
				return notYours
			}
			s.Revoked = true
			return nil
		})
		switch {
		case errors.Is(err, share.ErrNotFound):
			return notYours
		case err != nil:
			return err
		}
		sg.logger.Info("share revoked", "share", shortID(id))
		if wantsHTML(r) {
			return c.Redirect(http.StatusSeeOther, "/shares")
		}
		return c.JSON(http.StatusOK, map[string]string{"id": id, "state": "revoked"})
	}
}

// storedMode is how a share keeps a transfer mode: "" for automatic.
func storedMode(m ftppool.Mode) string {
	if m == ftppool.Auto {
		return ""
	}
	return m.String()
}

// shortID names a share in logs: its first characters, not enough to use
// the link (the rest still holds over 90 random bits).
func shortID(id string) string { return id[:min(6, len(id))] + "…" }
