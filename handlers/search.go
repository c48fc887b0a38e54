package handlers

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ftpbridge/ftpbridge/access"
	"github.com/ftpbridge/ftpbridge/ftppool"
	"github.com/ftpbridge/ftpbridge/internal/urlpath"
)

// Search below a folder: GET {dir}/?op=search&q=TEXT walks the folder tree
// (under the walk budget, following no links, in one of the client's walk
// slots) and streams the names that contain TEXT, case folded, as the
// site's names read (access.Names). Nothing is kept but the walk's own
// state: each match goes out as it is found.
//
// JSON (Accept: application/json or ?format=json) is NDJSON, one object a
// line, each with a "kind": "match" (name, path, href, folder, folder_href,
// type, size, modified), "progress" (folders: searched so far), and last
// "done" (folders, matches) or "stopped" (the same, and error: why the
// search ended early, such as the walk budget). Anything else is an HTML
// page whose results are flushed as they come, usable without the script.

// searchProgressEvery is how often, at most, progress goes out.
const searchProgressEvery = 300 * time.Millisecond

// searchMatch is one name found, as JSON.
type searchMatch struct {
	Kind       string `json:"kind"` // "match"
	Name       string `json:"name"`
	Path       string `json:"path"` // absolute, for display
	Href       string `json:"href"`
	Folder     string `json:"folder"` // the folder it is in, for display
	FolderHref string `json:"folder_href"`
	Type       string `json:"type"`
	Size       int64  `json:"size"`
	Modified   string `json:"modified,omitempty"`

	Icon      string `json:"-"`
	HumanSize string `json:"-"`
}

// searchEnd is the last line of a search.
type searchEnd struct {
	Kind    string `json:"kind"` // "done" or "stopped"
	Folders int    `json:"folders"`
	Matches int    `json:"matches"`
	Error   string `json:"error,omitempty"`
}

// searchPage is the HTML page's data.
type searchPage struct {
	page
	Q        string
	Folder   string // absolute, for display
	Href     string // the folder searched
	Site     string
	Folders  int
	Matches  int
	Error    string
	Progress bool // a progress line, not the end
}

// searchOut writes a search's answer; nothing is written before begin.
type searchOut interface {
	begin() error
	match(m searchMatch) error
	progress(folders int) error
	end(e searchEnd) error
}

func (f *files) search(c echo.Context, t *access.Target) error {
	r := c.Request()
	q := strings.TrimSpace(c.QueryParam("q"))
	if q == "" {
		return badRequest("Say what to search for: ?op=search&q=TEXT finds the names below this folder that contain TEXT.")
	}
	if urlpath.HasControl(q) {
		return badRequest("The text to search for may not hold control characters.")
	}
	release, err := f.startWalk(c)
	if err != nil {
		return err
	}
	defer release()

	site := siteLinks{t.Site, t.Home, t.Names}
	w := c.Response()
	w.Header().Set("Cache-Control", "no-store")
	var out searchOut
	if wantsJSON(r) {
		out = &searchJSON{w: w}
	} else {
		out = &searchHTML{v: f.views, w: w, data: searchPage{
			page:   f.page(r, "Search for “"+q+"” in "+folderName(site, t.Path)),
			Q:      q,
			Folder: folderName(site, t.Path),
			Href:   site.URL(t.Path, true),
			Site:   site.Name(),
		}}
	}

	want := strings.ToLower(q)
	started := false
	folders, matches := 1, 0 // the folder searched is the first
	last := time.Now()
	err = t.Handle.Walk(r.Context(), t.Path, func(full string, _ int, e ftppool.Entry) error {
		if !started {
			// The folder's own listing worked: from here on, the answer
			// is 200 and what goes wrong is said in it.
			if err := out.begin(); err != nil {
				return err
			}
			started = true
		}
		if e.Type == ftppool.TypeDir {
			folders++
		}
		if strings.Contains(strings.ToLower(site.Show(e.Name)), want) {
			matches++
			dir := path.Dir(full)
			it := entryItem(site, dir, e)
			if err := out.match(searchMatch{Kind: "match", Name: it.Name, Path: site.Show(full), Href: it.Href,
				Folder: folderName(site, dir), FolderHref: site.URL(dir, true), Type: it.Type, Size: it.Size,
				Modified: it.Modified, Icon: it.Icon, HumanSize: string(it.appendSizeText(nil))}); err != nil {
				return err
			}
		}
		if now := time.Now(); now.Sub(last) >= searchProgressEvery {
			last = now
			return out.progress(folders)
		}
		return nil
	})
	if err != nil && !started {
		return ftpFailure(t, err, "This folder")
	}
	if !started {
		if err := out.begin(); err != nil {
			return nil // the client went away
		}
	}
	end := searchEnd{Kind: "done", Folders: folders, Matches: matches}
	if err != nil {
		if r.Context().Err() != nil || errors.Is(err, errClientGone) {
			return nil // nobody is reading any more
		}
		end.Kind, end.Error = "stopped", ftpError(err, "This folder").Msg
	}
	out.end(end)
	return nil
}

// errClientGone: writing to the client failed; the search stops.
var errClientGone = errors.New("the client went away")

// flushTo writes through bw and flushes to the client at once.
func flushTo(w *echo.Response, bw *bufio.Writer) error {
	if err := bw.Flush(); err != nil {
		return errClientGone
	}
	w.Flush()
	return nil
}

type searchJSON struct {
	w  *echo.Response
	bw *bufio.Writer
}

func (s *searchJSON) begin() error {
	s.w.Header().Set("Content-Type", "application/x-ndjson")
	s.w.Header().Set("X-Content-Type-Options", "nosniff")
	s.w.WriteHeader(http.StatusOK)
	s.bw = bufio.NewWriter(s.w)
	return flushTo(s.w, s.bw)
}

func (s *searchJSON) line(v any) error {
	if err := json.NewEncoder(s.bw).Encode(v); err != nil {
		return errClientGone
	}
	return flushTo(s.w, s.bw)
}

func (s *searchJSON) match(m searchMatch) error { return s.line(m) }
func (s *searchJSON) progress(folders int) error {
	return s.line(map[string]any{"kind": "progress", "folders": folders})
}
func (s *searchJSON) end(e searchEnd) error { return s.line(e) }

type searchHTML struct {
	v    *views
	w    *echo.Response
	bw   *bufio.Writer
	data searchPage
}

func (s *searchHTML) exec(name string, data any) error {
	if err := s.v.pages.ExecuteTemplate(s.bw, name, data); err != nil {
		if !errors.Is(err, io.ErrShortWrite) {
			s.v.logger.Debug("render search", "err", err)
		}
		return errClientGone
	}
	return flushTo(s.w, s.bw)
}

func (s *searchHTML) begin() error {
	s.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	s.w.WriteHeader(http.StatusOK)
	s.bw = bufio.NewWriterSize(s.w, 8<<10)
	return s.exec("search-top", s.data)
}

func (s *searchHTML) match(m searchMatch) error { return s.exec("search-match", m) }

func (s *searchHTML) progress(folders int) error {
	s.data.Folders, s.data.Progress = folders, true
	return s.exec("search-progress", s.data)
}

func (s *searchHTML) end(e searchEnd) error {
	s.data.Folders, s.data.Matches, s.data.Error, s.data.Progress = e.Folders, e.Matches, e.Error, false
	return s.exec("search-end", s.data)
}
