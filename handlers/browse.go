package handlers

import (
	"cmp"
	"errors"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ftpbridge/ftpbridge/access"
	"github.com/ftpbridge/ftpbridge/ftppool"
	"github.com/ftpbridge/ftpbridge/internal/share"
	"github.com/ftpbridge/ftpbridge/internal/transfer"
	"github.com/ftpbridge/ftpbridge/internal/urlpath"
)

// listing is a folder as a plain data model, rendered as HTML or JSON.
type listing struct {
	page       `json:"-"`
	SiteName   string    `json:"-"`
	Path       string    `json:"path"`           // absolute, for display: invalid UTF-8 replaced
	Home       string    `json:"home,omitempty"` // the login folder, the same way; none in a share
	Crumbs     []crumb   `json:"-"`              // the site's root first
	Parent     string    `json:"-"`
	Entries    []item    `json:"entries"` // the rows shown, made by makeRows
	Sort       string    `json:"-"`
	Order      string    `json:"-"`
	SortLinks  sortLinks `json:"-"`
	ShowHidden bool      `json:"-"`
	HiddenLink string    `json:"-"`
	Hidden     int       `json:"-"`
	Total      int       `json:"-"` // entries when the page holds only the first (firstRows)
	AllLink    string    `json:"-"` // the page with all of them
	Listing    string    `json:"-"` // the token its script takes the entries with (handoff.go)
	Dirs       int       `json:"-"`
	Files      int       `json:"-"`
	Plain      bool      `json:"-"` // plain FTP: say that logins travel in clear
	ReadOnly   bool      `json:"-"` // a shared folder: no uploads or changes
	Modes      bool      `json:"-"` // some entry has unix permissions listed: the column shows

	// FolderPerm is the folder's own MLSD perm fact: see perm.go.
	FolderPerm string `json:"perm,omitempty"`

	// The folder's entries, and the places of those shown, in the order
	// shown. A row is made only for an entry shown (makeRows), and a
	// big folder's JSON is written straight from the entries: making a
	// row, with its address and date, for each of 10,000 entries was
	// half of the page's time, and its page shows 500.
	entries   []ftppool.Entry
	order     []int
	site      links
	href      func(name string, isDir bool) string // an entry's address
	hidePerms bool                                 // a share's: its maker's perms are not its visitors' business
}

type crumb struct {
	Name string
	Href string
	Home bool // the login folder
}

type sortLinks struct{ Name, Size, Modified string }

// item is one row.
type item struct {
	Name     string `json:"name"`
	Href     string `json:"href"`
	Type     string `json:"type"`
	Size     int64  `json:"size"`
	Modified string `json:"modified,omitempty"`
	Target   string `json:"target,omitempty"`
	Perm     string `json:"perm,omitempty"` // MLSD's perm fact: see perm.go
	Mode     string `json:"mode,omitempty"` // unix permissions, "rw-r--r--", where listed

	Icon string    `json:"-"`
	mod  time.Time // Modified, as a time
}

// files serves a site's folders and files: listing, download, upload,
// zip, and the operations that change them (ops.go).
type files struct {
	*views // and its sessions, as a browser's upload starts one (tracked)
	access *access.Resolver
	// transfers tracks every download, upload and zip, for the
	// transfers panel to show and cancel.
	transfers *transfer.Tracker
	shares    share.Store // a share's downloads count against it
	walks     *walkSlots
	listings  *handoff // big folders' listings, from their pages to their scripts

	maxUploadBytes int64         // largest upload request body; 0 is no limit
	ioTimeout      time.Duration // longest silence accepted from an uploading client
	zip            ZipLimits
}

// browseOrDownload serves folders (URL ends in "/") and files.
func browseOrDownload(f *files) echo.HandlerFunc {
	return func(c echo.Context) error {
		t, err := f.access.Resolve(c.Request())
		if err != nil {
			return err
		}
		switch {
		case c.QueryParam("op") == "actions":
			return f.actions(c, t)
		case !t.Dir:
			return f.download(c, t)
		case c.QueryParam("op") == "count":
			return offerParent(t, f.count(c, t))
		case c.QueryParam("op") == "search":
			return offerParent(t, f.search(c, t)) // search.go
		case c.QueryParam("format") == "zip":
			return offerParent(t, f.zipFolder(c, t))
		}
		return offerParent(t, f.browse(c, t))
	}
}

// offerParent points a folder address that names no folder at the folder
// above it, which is what a person following a stale link most likely
// wants.
func offerParent(t *access.Target, err error) error {
	var he *httpError
	if t.Path != "/" && errors.As(err, &he) && he.Status == http.StatusNotFound {
		he.link, he.linkText = t.URL(path.Dir(t.Path), true), "Open the folder above"
	}
	return err
}

func (f *files) browse(c echo.Context, t *access.Target) error {
	r := c.Request()
	q := r.URL.Query()
	// A big folder's page hands its listing on to its script (handoff.go).
	folder, ok := ftppool.Folder{}, false
	if tok := q.Get("listing"); tok != "" && wantsJSON(r) {
		folder, ok = f.listings.take(tok, handoffKey(t))
	}
	if !ok {
		var err error
		if folder, err = t.Handle.ListFolder(r.Context(), t.Path); err != nil {
			return ftpFailure(t, err, "This folder")
		}
	}
	l := buildListing(siteLinks{t.Site, t.Home, t.Names}, t.Path, folder.Entries, q)
	l.Plain = t.Site.Scheme == "ftp"
	l.FolderPerm = folder.Perm
	if wantsJSON(r) {
		return serveListingJSON(c, l)
	}
	l.filterHidden()
	l.firstRows(q.Get("all") == "1", t.URL(t.Path, true))
	if l.Total > 0 {
		l.Listing = f.listings.put(handoffKey(t), folder)
	}
	l.page = f.page(r, l.Path+" on "+l.SiteName)
	f.renderListing(c.Response(), l)
	return nil
}

// links makes a listing's addresses: a site's own, or a share's, whose
// links must never lead above the shared folder.
type links interface {
	URL(ftpPath string, dir bool) string // the address of an absolute FTP path
	Top() string                         // the topmost folder the listing links to
	Name() string                        // what the breadcrumbs call the top
	Home() string                        // the login folder, "" if none is shown
	Show(raw string) string              // a name as text (see access.Names)
	// EntryURLs gives the addresses of the folder dir's entries by name:
	// URL(path.Join(dir, name), isDir), with the folder's part made once.
	EntryURLs(dir string) func(name string, isDir bool) string
}

// siteLinks are a site's own addresses: relative to the login folder
// below it, absolute ("%2F…") above and beside it, as curl reads them.
type siteLinks struct {
	urlpath.Site
	home string
	access.Names
}

func (s siteLinks) URL(ftpPath string, dir bool) string { return s.Site.URL(s.home, ftpPath, dir) }
func (s siteLinks) Top() string                         { return "/" }
func (s siteLinks) Name() string                        { return s.Scheme + "://" + s.String() }
func (s siteLinks) Home() string                        { return s.home }
func (s siteLinks) EntryURLs(dir string) func(string, bool) string {
	return s.Site.EntryURLs(s.home, dir)
}

// buildListing counts and sorts the entries (folders first), as the
// listing's query asks: ?sort=name|size|modified, ?order=asc|desc, and
// ?hidden=1 to show dot-files (filterHidden). Their rows are made once it
// is known which are shown (makeRows).
func buildListing(site links, dir string, entries []ftppool.Entry, q url.Values) *listing {
	sortBy, order, showHidden := q.Get("sort"), q.Get("order"), q.Get("hidden") == "1"
	if sortBy != "size" && sortBy != "modified" {
		sortBy = "name"
	}
	if order != "desc" {
		order = "asc"
	}
	l := &listing{
		SiteName:   site.Name(),
		Path:       folderName(site, dir),
		Sort:       sortBy,
		Order:      order,
		ShowHidden: showHidden,
	}
	home := site.Home()
	if home != "" {
		l.Home = folderName(site, home)
	}
	top := site.Top()
	segs := urlpath.Split(strings.TrimPrefix(dir, strings.TrimSuffix(top, "/")))
	below := func(n int) string { return path.Join(top, strings.Join(segs[:n], "/")) }
	for i := 0; i <= len(segs); i++ {
		c := crumb{Name: site.Name(), Href: site.URL(below(i), true), Home: below(i) == home}
		if i > 0 {
			c.Name = site.Show(segs[i-1])
		}
		l.Crumbs = append(l.Crumbs, c)
	}
	if len(segs) > 0 {
		l.Parent = site.URL(below(len(segs)-1), true)
	}
	l.entries, l.site, l.href = entries, site, site.EntryURLs(dir)
	for i := range entries {
		l.Modes = l.Modes || entries[i].Mode != ""
		if entries[i].Type == ftppool.TypeDir {
			l.Dirs++
		} else {
			l.Files++
		}
	}
	l.order = sortEntries(entries, sortBy, order == "desc")
	l.SortLinks = sortLinks{
		Name:     l.query(site, dir, "name"),
		Size:     l.query(site, dir, "size"),
		Modified: l.query(site, dir, "modified"),
	}
	hq := url.Values{"sort": {sortBy}, "order": {order}}
	if !showHidden {
		hq.Set("hidden", "1")
	}
	l.HiddenLink = site.URL(dir, true) + "?" + hq.Encode()
	return l
}

// pageRows is how many rows a big folder's page holds, unless asked for
// all: Chromium on a 2-core machine takes about 0.4 s for 500 rows, 2 s for
// 2,000, and much longer for 100,000. app.js shows the whole folder from
// its JSON, a window of rows at a time; without it, the page links to the
// page with every row.
const pageRows = 500

// firstRows keeps the first pageRows entries, unless all; self is the
// folder's address, to link to the page with all of them.
func (l *listing) firstRows(all bool, self string) {
	if len(l.order) <= pageRows {
		return
	}
	if all {
		// The page's own links keep all of it.
		for _, u := range []*string{&l.SortLinks.Name, &l.SortLinks.Size, &l.SortLinks.Modified, &l.HiddenLink} {
			*u += "&all=1"
		}
		return
	}
	l.Total = len(l.order)
	q := url.Values{"sort": {l.Sort}, "order": {l.Order}, "all": {"1"}}
	if l.ShowHidden {
		q.Set("hidden", "1")
	}
	l.AllLink = self + "?" + q.Encode()
	l.order = l.order[:pageRows]
}

// filterHidden drops dot-files unless asked; the JSON API always has all.
func (l *listing) filterHidden() {
	if l.ShowHidden {
		return
	}
	kept := l.order[:0]
	for _, i := range l.order {
		if strings.HasPrefix(l.entries[i].Name, ".") {
			l.Hidden++
			continue
		}
		kept = append(kept, i)
	}
	l.order = kept
}

// makeRows makes the rows of the entries shown, in order.
func (l *listing) makeRows() {
	l.Entries = make([]item, len(l.order))
	for k, i := range l.order {
		l.Entries[k] = l.row(i).dated()
	}
}

// row is the row of the entry at i, but for its date's text (dated).
func (l *listing) row(i int) item {
	e := &l.entries[i]
	it := newItem(l.site, e, l.href(e.Name, e.Type == ftppool.TypeDir))
	if l.hidePerms {
		it.Perm = ""
	}
	return it
}

// query links a column header: clicking the current column flips order.
func (l *listing) query(site links, dir, col string) string {
	order := "asc"
	if l.Sort == col && l.Order == "asc" {
		order = "desc"
	}
	q := url.Values{"sort": {col}, "order": {order}}
	if l.ShowHidden {
		q.Set("hidden", "1")
	}
	return site.URL(dir, true) + "?" + q.Encode()
}

// entryItem is the row of one entry of the folder dir, alone.
func entryItem(site links, dir string, e ftppool.Entry) item {
	return newItem(site, &e, site.URL(path.Join(dir, e.Name), e.Type == ftppool.TypeDir)).dated()
}

// newItem makes an entry's row, but for its date's text (dated); href
// is its address.
func newItem(site links, e *ftppool.Entry, href string) item {
	it := item{
		Name:   site.Show(e.Name),
		Href:   href,
		Type:   e.Type.String(),
		Size:   e.Size,
		Target: site.Show(e.Target),
		Perm:   e.Perm,
		Mode:   e.Mode,
		mod:    e.Modified,
	}
	if it.Type == "dir" {
		it.Size = 0
	}
	switch e.Type {
	case ftppool.TypeDir:
		it.Icon = "folder"
	case ftppool.TypeLink:
		it.Icon = "link"
	default:
		it.Icon = iconFor(e.Name)
	}
	return it
}

// dated gives the row its date's text: a big folder's JSON writes it
// from the time instead (appendItemJSON).
func (it item) dated() item {
	if !it.mod.IsZero() {
		it.Modified = it.mod.UTC().Format(time.RFC3339)
	}
	return it
}

// appendSizeText appends what the size column shows: "—" for folders
// and links. Made as a row is written, not for every entry of a listing
// (its JSON has none, a big folder's page the first 500 rows).
func (it *item) appendSizeText(b []byte) []byte {
	if it.Type == "dir" || it.Type == "link" {
		return append(b, "—"...)
	}
	return appendHumanSize(b, it.Size)
}

// appendDate appends the date column's text, in UTC and labelled so,
// since it reads as UTC until the page's script shows it in the browser's
// zone (static/js/times.js).
func (it *item) appendDate(b []byte) []byte {
	return append(it.mod.UTC().AppendFormat(b, "2006-01-02 15:04"), " UTC"...)
}

// sortEntries gives the places of the entries in the order shown:
// folders first, then by the column, then by name, case aside, then as
// the bytes go; equal entries keep the server's order. Sorting places,
// not 180-byte rows, moves little; the names in lower case are made once
// (strings.ToLower gives a name back as it is when it has no capital).
func sortEntries(entries []ftppool.Entry, by string, desc bool) []int {
	lower := make([]string, len(entries))
	// Folders first whichever way the rest is sorted: the folders' places,
	// then the rest's, each part sorted on its own. A listing the server
	// sorted by name is then in order already, which pdqsort sees at once.
	order := make([]int, 0, len(entries))
	for i := range entries {
		lower[i] = strings.ToLower(entries[i].Name)
		if entries[i].Type == ftppool.TypeDir {
			order = append(order, i)
		}
	}
	folders := len(order)
	for i := range entries {
		if entries[i].Type != ftppool.TypeDir {
			order = append(order, i)
		}
	}
	compare := func(i, j int) int {
		a, b := &entries[i], &entries[j]
		n := byColumn(a, b, by)
		if n == 0 {
			n = cmp.Or(strings.Compare(lower[i], lower[j]), strings.Compare(a.Name, b.Name))
		}
		if desc {
			n = -n
		}
		return cmp.Or(n, cmp.Compare(i, j))
	}
	slices.SortFunc(order[:folders], compare)
	slices.SortFunc(order[folders:], compare)
	return order
}

// byColumn compares two files, or two folders, by the listing's column.
// Folders show no size: by size, they go by name.
func byColumn(a, b *ftppool.Entry, by string) int {
	switch {
	case by == "size" && a.Type != ftppool.TypeDir:
		return cmp.Compare(a.Size, b.Size)
	case by == "modified":
		return a.Modified.Compare(b.Modified)
	}
	return 0
}

// folderName shows a folder's absolute path, ending in "/".
func folderName(site links, dir string) string { return site.Show(strings.TrimSuffix(dir, "/") + "/") }

// display makes a name printable: bytes that are not UTF-8 become U+FFFD.
// Only for showing; links always carry the exact bytes.
func display(name string) string { return strings.ToValidUTF8(name, "\uFFFD") }

func humanSize(n int64) string { return string(appendHumanSize(nil, n)) }

func appendHumanSize(b []byte, n int64) []byte {
	if n < 0 {
		return append(b, '?')
	}
	if n < 1024 {
		return append(strconv.AppendInt(b, n, 10), " B"...)
	}
	units := [...]string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	f := float64(n) / 1024
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	prec := 0
	if f < 10 {
		prec = 1
	}
	return append(append(strconv.AppendFloat(b, f, 'f', prec, 64), ' '), units[i]...)
}

// iconFor picks an icon from the static sprite by file extension.
func iconFor(name string) string {
	ext := strings.ToLower(path.Ext(name))
	switch ext {
	case ".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".svg", ".avif", ".ico", ".tif", ".tiff":
		return "image"
	case ".mp3", ".wav", ".flac", ".ogg", ".m4a", ".aac", ".opus":
		return "audio"
	case ".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v":
		return "video"
	case ".zip", ".gz", ".tgz", ".bz2", ".xz", ".zst", ".7z", ".rar", ".tar", ".iso":
		return "archive"
	case ".txt", ".md", ".log", ".csv", ".rst", ".nfo":
		return "text"
	case ".pdf":
		return "pdf"
	case ".go", ".c", ".h", ".py", ".js", ".ts", ".html", ".css", ".json", ".xml", ".sh", ".rs", ".java", ".yml", ".yaml", ".toml":
		return "code"
	}
	return "file"
}
