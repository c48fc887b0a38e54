package handlers

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/ftpbridge/ftpbridge/access"
	"github.com/ftpbridge/ftpbridge/ftppool"
	"github.com/ftpbridge/ftpbridge/internal/transfer"
	"github.com/ftpbridge/ftpbridge/internal/urlpath"
)

// ZipLimits bound a folder download as zip (operator flags).
type ZipLimits struct {
	Entries int   // files and folders
	Bytes   int64 // sum of the files' sizes
	Depth   int   // folder levels below the zipped one
}

// zipItem is one entry of a folder download, found before the first byte
// goes out, so that limits are refused with a proper status and progress
// has a total.
type zipItem struct {
	full  string // FTP path
	name  string // in the archive: the folder's name, then the path below it
	entry ftppool.Entry
}

// zipFolder streams the folder t as a zip archive, recursively: nothing is
// held whole or written to disk. Links are left out; a file that cannot be
// read whole is named in an ERRORS.txt entry at the end, so the archive is
// never silently short.
func (f *files) zipFolder(c echo.Context, t *access.Target) error {
	r := c.Request()
	top := path.Base(t.Path)
	if t.Path == "/" {
		top = t.Site.Host
	}
	sel, err := zipSelection(c, t) // ?select=NAME: only those entries (bulk.go)
	if err != nil {
		return err
	}
	items, skipped, total, err := f.zipPlan(c, t, top, sel)
	if err != nil {
		return err
	}
	if t.Share != nil {
		if err := countShareDownload(f.shares, r, t.Share, ""); err != nil {
			return err
		}
	}

	h := c.Response().Header()
	h.Set("Content-Type", "application/zip")
	h.Set("Content-Disposition", dispositionHeader("attachment", t.Show(top)+".zip"))
	h.Set("Content-Security-Policy", fileCSP)
	h.Set("Cache-Control", "no-store")
	if r.Method == http.MethodHead {
		return c.NoContent(http.StatusOK)
	}

	x := f.tracked(c, "zip", t, t.Path)
	x.Start(total, cutWrites(c))
	c.Response().WriteHeader(http.StatusOK)
	zw := zip.NewWriter(c.Response())
	problems := skipped
	// Listed sizes are the server's word: no file may bring more than it
	// listed, and files of unknown size share what the limit leaves.
	unlisted := f.zip.Bytes - total
	var werr error // the browser went away: stop
	for _, it := range items {
		if werr = x.Context().Err(); werr != nil {
			break
		}
		var problem string
		problem, werr = zipEntry(x, zw, t, it, &unlisted)
		if problem != "" {
			problems = append(problems, problem)
		}
		if werr != nil {
			break
		}
	}
	if werr == nil && len(problems) > 0 {
		werr = zipNotes(zw, problems)
	}
	if werr == nil {
		werr = zw.Close()
	}
	x.End(werr, failure(t.Quote(t.Path)))
	if werr != nil {
		// The status is sent: all that is left is to cut the response, so
		// the browser sees a failed download rather than a zip that ends
		// early (net/http would close a chunked body properly).
		f.logger.Info("zip cut short", "path", t.Show(t.Path), "err", werr)
		panic(http.ErrAbortHandler)
	}
	return nil
}

// zipPlan walks the folder and checks the operator's limits. The items it
// keeps are bounded by -zip-max-entries and by the walk budget, as each is
// an entry the walk visited; past either the zip is refused (413) before a
// byte goes out, as a zip cut short would look whole to whoever unpacks it.
func (f *files) zipPlan(c echo.Context, t *access.Target, top string, sel map[string]bool) (items []zipItem, skipped []string, total int64, err error) {
	release, err := f.startWalk(c)
	if err != nil {
		return nil, nil, 0, err
	}
	defer release()
	lim := f.zip
	root := strings.TrimSuffix(t.Path, "/")
	walkErr := t.Handle.Walk(c.Request().Context(), t.Path, func(full string, depth int, e ftppool.Entry) error {
		// Notes name entries as the archive would, folder name first.
		name := top + "/" + strings.TrimPrefix(full, root+"/")
		if !zipSelected(sel, depth, e.Name) {
			return fs.SkipDir // from a file, the same as nil
		}
		switch {
		case e.Type == ftppool.TypeLink:
			to := "" // a link listed as a folder says not where it leads
			if e.Target != "" {
				to = fmt.Sprintf(" (to %q)", t.Show(e.Target))
			}
			skipped = append(skipped, fmt.Sprintf("%s: a link%s, left out", t.Show(name), to))
			return nil
		case urlpath.CheckName(e.Name) != nil:
			// Unpacked on Windows, "a\..\b" would step out of the folder.
			skipped = append(skipped, fmt.Sprintf("%s: a name that cannot be unpacked safely, left out", t.Show(name)))
			if e.Type == ftppool.TypeDir {
				return fs.SkipDir
			}
			return nil
		}
		items = append(items, zipItem{full: full, name: name, entry: e})
		if e.Type == ftppool.TypeDir && depth+1 >= lim.Depth {
			skipped = append(skipped, fmt.Sprintf("%s/: what it holds is deeper than the %d folder levels this bridge zips, left out", t.Show(name), lim.Depth))
			return fs.SkipDir
		}
		if e.Size > 0 && e.Type == ftppool.TypeFile {
			total += e.Size
		}
		if len(items) > lim.Entries {
			return &httpError{Status: http.StatusRequestEntityTooLarge,
				Msg: fmt.Sprintf("This folder holds more than %d files and folders, the most this bridge puts in one zip. Zip a folder further down, or download the files one by one.", lim.Entries)}
		}
		if total > lim.Bytes {
			return &httpError{Status: http.StatusRequestEntityTooLarge,
				Msg: fmt.Sprintf("This folder holds more than %s (%d bytes), the most this bridge puts in one zip. Zip a folder further down, or download the files one by one.", humanSize(lim.Bytes), lim.Bytes)}
		}
		return nil
	})
	skipped = append(skipped, unselected(t, top, sel)...)
	var he *httpError
	switch {
	case errors.As(walkErr, &he):
		return nil, nil, 0, he
	case walkErr != nil:
		return nil, nil, 0, ftpFailure(t, walkErr, "This folder")
	}
	return items, skipped, total, nil
}

// zipEntry writes one file or folder. problem names a file that could not
// be read whole (its entry then holds what did arrive); err is a failure to
// write to the browser, which ends the archive.
func zipEntry(x *transfer.Transfer, zw *zip.Writer, t *access.Target, it zipItem, unlisted *int64) (problem string, err error) {
	fh := &zip.FileHeader{Name: it.name, Modified: it.entry.Modified, Method: zip.Deflate}
	if shown := t.Show(it.name); t.Names.Legacy() && sameSteps(it.name, shown) {
		// A legacy encoding the person named: the archive says the names
		// in UTF-8, as every unzip reads them.
		fh.Name = shown
	}
	// Otherwise names are the server's bytes; the flag tells unzip they
	// may not be UTF-8, so it keeps them as they are.
	fh.NonUTF8 = !utf8.ValidString(fh.Name)
	if it.entry.Modified.IsZero() {
		fh.Modified = time.Now()
	}
	if it.entry.Type == ftppool.TypeDir {
		fh.Name += "/"
		fh.Method = zip.Store
		_, err := zw.CreateHeader(fh)
		return "", err
	}
	if compressed(it.name) {
		fh.Method = zip.Store
	}
	f, openErr := t.Handle.Open(x.Context(), it.full)
	w, err := zw.CreateHeader(fh)
	if err != nil {
		if openErr == nil {
			f.Close()
		}
		return "", err
	}
	if openErr != nil {
		return fmt.Sprintf("%s: could not be read: %s", t.Show(it.name), ftpError(openErr, "The file").Msg), nil
	}
	defer f.Close()
	limit := it.entry.Size
	if limit < 0 {
		limit = max(*unlisted, 0)
	}
	// The transfer's Writer keeps the archive's own write error apart
	// from the FTP side's read error.
	cw := x.Writer(w, sendFailed)
	_, copyErr := io.Copy(cw, io.LimitReader(f, limit))
	if it.entry.Size < 0 {
		*unlisted -= cw.Written()
	}
	switch {
	case cw.Err() != nil:
		return "", cw.Err()
	case copyErr != nil:
		return fmt.Sprintf("%s: only %d of %d bytes arrived: %s", t.Show(it.name), cw.Written(), it.entry.Size, ftpError(copyErr, "The file").Msg), nil
	case cw.Written() == limit:
		if n, _ := f.Read(make([]byte, 1)); n > 0 {
			return fmt.Sprintf("%s: larger than the server listed it, or than the zip limit allows; cut at %d bytes", t.Show(it.name), cw.Written()), nil
		}
	}
	return "", nil
}

// sameSteps reports a decoded entry name that still names the same folder
// levels, each a name that unpacks safely, as the server's bytes did
// (checked in zipPlan): decoding must not make a "..".
func sameSteps(raw, shown string) bool {
	rs, ss := strings.Split(raw, "/"), strings.Split(shown, "/")
	return len(rs) == len(ss) && !slices.ContainsFunc(ss, func(seg string) bool { return urlpath.CheckName(seg) != nil })
}

// zipNotes adds ERRORS.txt, which says what is missing or short.
func zipNotes(zw *zip.Writer, problems []string) error {
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "ERRORS.txt", Method: zip.Deflate, Modified: time.Now()})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "This zip is not the whole folder. These entries are missing or short:\r\n\r\n%s\r\n",
		strings.Join(problems, "\r\n"))
	return err
}

// compressedExt are types that deflate cannot shrink: stored as they are,
// which saves the bridge's CPU and the wait.
var compressedExt = map[string]bool{
	".zip": true, ".gz": true, ".tgz": true, ".bz2": true, ".xz": true, ".zst": true, ".7z": true, ".rar": true,
	".lz": true, ".lzma": true, ".jar": true, ".apk": true, ".deb": true, ".rpm": true,
	".jpg": true, ".jpeg": true, ".png": true, ".gif": true, ".webp": true, ".avif": true, ".heic": true,
	".mp3": true, ".mp4": true, ".m4a": true, ".m4v": true, ".mkv": true, ".mov": true, ".webm": true, ".ogg": true, ".opus": true, ".flac": true, ".aac": true,
	".docx": true, ".xlsx": true, ".pptx": true, ".odt": true, ".ods": true, ".odp": true, ".epub": true, ".pdf": true,
}

func compressed(name string) bool { return compressedExt[strings.ToLower(path.Ext(name))] }
