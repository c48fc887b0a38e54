package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/ftpbridge/ftpbridge/access"
	"github.com/ftpbridge/ftpbridge/ftppool"
	"github.com/ftpbridge/ftpbridge/internal/urlpath"
)

// Several at once, and copies. POST ?op=delete|move|copy with select=NAME
// repeated works on those entries of the folder addressed, one by one,
// and answers what went and what did not; without select, op=delete
// deletes the item addressed (ops.go) and op=copy copies the file
// addressed. FTP has no copy command: a copy streams RETR into STOR
// through the bridge, as a transfer of op "copy".

// bulkResult is the answer of a request on several entries.
type bulkResult struct {
	Done   []string     `json:"done"`
	Failed []bulkFailed `json:"failed"`
}

// bulkFailed is one entry that was not done, and why.
type bulkFailed struct {
	Name   string `json:"name"`
	Error  string `json:"error"`
	Status int    `json:"status"`
}

// several answers POST ?op=delete, ?op=move and ?op=copy.
func (f *files) several(c echo.Context, t *access.Target, op string) error {
	form, err := opForm(c)
	if err != nil {
		return err
	}
	names, bulk := form["select"]
	switch {
	case bulk && !t.Dir:
		return badRequest("select names entries of a folder: send it to the folder's address (ending in /).")
	case bulk:
		return f.bulk(c, t, op, names, form)
	case op == "delete":
		return f.remove(c, t)
	case op == "copy" && !t.Dir:
		return f.copyFile(c, t, form)
	case op == "copy":
		return badRequest("To copy a folder, POST ?op=copy to the folder it is in, with select=NAME and to=FOLDER.")
	}
	return badRequest("Say which entries of this folder to move with select=NAME (repeated), and where to with to=FOLDER. To rename one item, use ?op=rename.")
}

// bulk deletes, moves or copies the entries of the folder t named in
// names, each on its own: one that fails is reported and the rest go on.
// 200 whenever the request itself could be read.
func (f *files) bulk(c echo.Context, t *access.Target, op string, names []string, form url.Values) error {
	r := c.Request()
	ctx := r.Context()
	// The folder's listing tells links apart, which a server's answers
	// about one path do not: a link to a folder is deleted or moved as
	// itself, and never copied. Names it lacks are left to the server.
	listed, err := t.Handle.List(ctx, t.Path)
	if err != nil {
		return ftpFailure(t, err, "This folder")
	}
	links := map[string]bool{}
	for _, e := range listed {
		if e.Type == ftppool.TypeLink {
			links[e.Name] = true
		}
	}

	var dest string
	if op != "delete" {
		to, err := t.Names.Bytes(form.Get("to"))
		if err != nil {
			return err
		}
		if dest, err = folderTarget(t.Path, to); err != nil {
			return err
		}
		if err := folderThere(ctx, t, dest); err != nil {
			return ftpFailure(t, err, "The folder to "+op+" into")
		}
	}
	// One walk slot for the whole request, taken when a folder needs one.
	var release func()
	defer func() {
		if release != nil {
			release()
		}
	}()
	// ... and, for a delete, one time budget for all its walks (a copy
	// spends its time copying, not walking: each folder's walk has its own).
	walks, stopWalks := t.Handle.WalkBudget(ctx)
	defer stopWalks()
	walkSlot := func() error {
		if release != nil {
			return nil
		}
		var err error
		release, err = f.startWalk(c)
		return err
	}

	run := &bulkRun{files: f, c: c, t: t, op: op, dest: dest, links: links,
		recursive: form.Get("recursive") == "1", overwrite: form.Get("overwrite") == "1", walks: walks, walkSlot: walkSlot}
	res := bulkResult{Done: []string{}, Failed: []bulkFailed{}}
	for _, name := range names {
		err := run.item(name)
		if err == nil {
			res.Done = append(res.Done, name)
			continue
		}
		if _, ok := errors.AsType[*access.NeedLoginError](err); ok {
			return err // the login went bad: nothing more will work
		}
		he := httpErrorOf(err)
		res.Failed = append(res.Failed, bulkFailed{Name: name, Error: he.Msg, Status: he.Status})
	}
	if wantsHTML(r) {
		// A plain form: back to the folder, or a page that says what
		// did not work.
		if len(res.Failed) == 0 {
			return c.Redirect(http.StatusSeeOther, t.URL(t.Path, true))
		}
		msgs := make([]string, len(res.Failed))
		for i, fl := range res.Failed {
			msgs[i] = fl.Error
		}
		return &httpError{Status: res.Failed[0].Status, Msg: strings.Join(msgs, " "),
			link: t.URL(t.Path, true), linkText: "Back to the folder"}
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, res)
}

// bulkRun is one bulk request, what its items share.
type bulkRun struct {
	*files
	c         echo.Context
	t         *access.Target // the folder
	op        string         // delete, move or copy
	dest      string         // the folder to move or copy into
	links     map[string]bool
	recursive bool
	overwrite bool
	walks     context.Context // the delete's one time budget
	walkSlot  func() error    // takes the request's walk slot, once
}

// item does the run's op to one selected entry, named as typed.
func (b *bulkRun) item(typed string) error {
	t := b.t
	ctx := b.c.Request().Context()
	name, err := t.Names.Bytes(typed)
	if err != nil {
		return err
	}
	if err := urlpath.CheckName(name); err != nil {
		return badRequest("Only names of entries of this folder can be selected: %v.", err)
	}
	p := path.Join(t.Path, name)
	if b.op != "copy" && t.HoldsHome(p) {
		return badRequest("%s holds your login folder: it cannot be deleted or moved through the bridge.", t.Quote(p))
	}
	switch b.op {
	case "delete":
		if b.links[name] {
			if err := t.Handle.RemoveLink(ctx, p); err != nil {
				return ftpFailure(t, err, t.Quote(p))
			}
			return nil
		}
		if b.recursive {
			if err := b.walkSlot(); err != nil {
				return err
			}
		}
		n, err := t.Handle.Remove(b.walks, p, b.recursive)
		if err != nil && ftppool.ErrorKind(err) == ftppool.KindWalkLimit {
			he := ftpError(err, t.Quote(p))
			he.Msg += fmt.Sprintf(" %d files and folders were deleted before the bridge stopped; the rest is still there.", n)
			return he
		}
		if err != nil {
			return ftpFailure(t, err, t.Quote(p))
		}
		return nil
	case "move":
		to := path.Join(b.dest, name)
		if err := intoItself(t, p, to); err != nil {
			return err
		}
		// RNTO onto an existing name replaces it on some servers and is
		// refused by others: a move never replaces (Rename checks).
		if err := t.Handle.Rename(ctx, p, to); ftppool.ErrorKind(err) == ftppool.KindExists {
			he := ftpError(err, t.Quote(to)+" in the folder to move into")
			he.Msg += " A move never replaces: delete or rename that one first."
			return he
		} else if err != nil {
			return ftpFailure(t, err, t.Quote(p))
		}
		return nil
	}
	to := path.Join(b.dest, name)
	if err := intoItself(t, p, to); err != nil {
		return err
	}
	noLink := &httpError{Status: http.StatusConflict, Msg: fmt.Sprintf("%s is a link: the bridge copies no links.", t.Quote(p))}
	if b.links[name] {
		return noLink
	}
	e, err := t.Handle.Stat(ctx, p)
	if err != nil {
		return ftpFailure(t, err, t.Quote(p))
	}
	switch e.Type {
	case ftppool.TypeDir:
		if err := b.walkSlot(); err != nil {
			return err
		}
		return b.copyFolder(b.c, t, p, to, b.overwrite)
	case ftppool.TypeLink: // MLST says so
		return noLink
	}
	_, err = b.copyOne(b.c, t, p, to, b.overwrite)
	return err
}

// intoItself refuses a move or copy of a folder into itself, or onto
// itself.
func intoItself(t *access.Target, from, to string) error {
	switch {
	case from == to:
		return badRequest("%s is already in that folder.", t.Quote(from))
	case strings.HasPrefix(to, from+"/"):
		return badRequest("%s cannot go into itself.", t.Quote(from))
	}
	return nil
}

// folderTarget resolves the folder a bulk move or copy goes into: a path
// from the site's root when it starts with "/", else from dir.
func folderTarget(dir, to string) (string, error) {
	if to == "" {
		return "", badRequest("Say which folder to put them in, in the field \"to\".")
	}
	for _, seg := range strings.Split(to, "/") {
		if seg == "" || seg == "." || seg == ".." {
			continue
		}
		if err := urlpath.CheckName(seg); err != nil {
			return "", badRequest("The folder %q cannot be used: %v.", display(to), err)
		}
	}
	if strings.HasPrefix(to, "/") {
		return path.Clean(to), nil
	}
	return path.Join(dir, to), nil
}

// copyFile answers POST ?op=copy on a file: to is the copy's path, as
// rename's; 201, or 200 when overwrite=1 replaced a file.
func (f *files) copyFile(c echo.Context, t *access.Target, form url.Values) error {
	to, err := t.Names.Bytes(form.Get("to"))
	if err != nil {
		return err
	}
	if to, err = renameTarget(t.Path, to); err != nil {
		return err
	}
	if to == t.Path {
		return badRequest("A file cannot be copied onto itself: give the copy another name or folder.")
	}
	up, err := f.copyOne(c, t, t.Path, to, form.Get("overwrite") == "1")
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if up.Replaced {
		status = http.StatusOK
	}
	c.Response().Header().Set("Location", up.Href)
	return opDone(c, t, status, map[string]any{"path": up.Path, "href": up.Href, "size": up.Size, "replaced": up.Replaced})
}

// copyOne copies the file from to to, as a transfer of its own.
func (f *files) copyOne(c echo.Context, t *access.Target, from, to string, overwrite bool) (uploaded, error) {
	x := f.tracked(c, "copy", t, to)
	src, err := t.Handle.Open(x.Context(), from)
	if err != nil {
		x.End(nil, nil)
		return uploaded{}, ftpFailure(t, err, t.Quote(from))
	}
	x.Start(src.Size, nil)
	replaced, err := t.Handle.Copy(x.Context(), src, to, overwrite, x.Add)
	// The source gives its connection back before the transfer's context
	// ends, which would cut it.
	src.Close()
	what := t.Quote(to)
	if k := ftppool.ErrorKind(err); k == ftppool.KindPermission || k == ftppool.KindNotFound {
		// Servers refuse a STOR into a missing folder as if it were a
		// matter of permission (553): say which it is.
		if ferr := folderThere(c.Request().Context(), t, path.Dir(to)); ferr != nil {
			err, what = ferr, "The folder to copy into"
		}
	}
	x.End(err, failure(what))
	switch {
	case err == nil:
	case ftppool.ErrorKind(err) == ftppool.KindSource: // the transfer's context ended: canceled, or the client went
		return uploaded{}, &httpError{Status: statusCanceled, Msg: "The copy was canceled. Nothing was kept.", Err: err}
	case ftppool.ErrorKind(err) == ftppool.KindExists:
		he := ftpError(err, what)
		he.Msg += " To replace it, send overwrite=1."
		return uploaded{}, he
	default:
		return uploaded{}, ftpFailure(t, err, what)
	}
	return uploaded{Name: t.Show(path.Base(to)), Path: t.Show(to), Href: t.URL(to, false), Size: x.Event().Bytes, Replaced: replaced}, nil
}

// copyItem is one entry below a folder to copy, found before the first
// byte moves.
type copyItem struct {
	rel string // below the folder
	dir bool
}

// copyFolder copies the folder from to to, and everything below it: the
// tree is walked first under the walk budget, following no links (which
// are left out and said so), then folders are made and files copied one
// by one, as one transfer of op "copy". Each folder's walk has a budget
// of its own: the time its files take to copy is not walking. An existing to is 409 unless
// overwrite=1, which copies into it and replaces files of the same name.
func (f *files) copyFolder(c echo.Context, t *access.Target, from, to string, overwrite bool) error {
	ctx := c.Request().Context()
	var items []copyItem
	var left []string // what the copy leaves out, or could not copy
	var total int64
	status := http.StatusConflict // of what is left out: links, unless a copy fails
	err := t.Handle.Walk(ctx, from, func(full string, _ int, e ftppool.Entry) error {
		rel := strings.TrimPrefix(full, from+"/")
		if e.Type == ftppool.TypeLink {
			left = append(left, fmt.Sprintf("%s (a link: links are not copied)", t.Show(rel)))
			return nil
		}
		items = append(items, copyItem{rel: rel, dir: e.Type == ftppool.TypeDir})
		if e.Type == ftppool.TypeFile && e.Size > 0 {
			total += e.Size
		}
		return nil
	})
	if err != nil {
		return ftpFailure(t, err, t.Quote(from))
	}
	switch e, err := t.Handle.Stat(ctx, to); {
	case err == nil && !overwrite:
		return &httpError{Status: http.StatusConflict, Msg: fmt.Sprintf("%s already exists in the folder to copy into. To copy into it, replacing files of the same names, send overwrite=1.", t.Quote(to))}
	case err == nil && e.Type != ftppool.TypeDir:
		return &httpError{Status: http.StatusConflict, Msg: fmt.Sprintf("%s already exists in the folder to copy into, and is not a folder.", t.Quote(to))}
	case err != nil && ftppool.ErrorKind(err) != ftppool.KindNotFound:
		return ftpFailure(t, err, t.Quote(to))
	}
	x := f.tracked(c, "copy", t, to+"/")
	x.Start(total, nil)
	xctx := x.Context()
	if _, err := t.Handle.MkdirAll(xctx, to); err != nil {
		x.End(err, failure(t.Quote(to)))
		return ftpFailure(t, err, t.Quote(to))
	}
	for _, it := range items {
		if xctx.Err() != nil {
			break
		}
		dst := path.Join(to, it.rel)
		if it.dir {
			if _, err := t.Handle.MkdirAll(xctx, dst); err != nil {
				he := ftpError(err, "The folder")
				left, status = append(left, fmt.Sprintf("%s/ (%s)", t.Show(it.rel), he.Msg)), he.Status
			}
			continue
		}
		src, err := t.Handle.Open(xctx, path.Join(from, it.rel))
		if err == nil {
			_, err = t.Handle.Copy(xctx, src, dst, overwrite, x.Add)
			src.Close()
		}
		if err != nil && xctx.Err() == nil {
			he := ftpError(err, "The file")
			left, status = append(left, fmt.Sprintf("%s (%s)", t.Show(it.rel), he.Msg)), he.Status
		}
	}
	if xctx.Err() != nil {
		err := context.Cause(xctx)
		x.End(err, failure(t.Quote(to)))
		return &httpError{Status: statusCanceled, Msg: fmt.Sprintf("The copy of %s was canceled; what was copied so far stays in %s.", t.Quote(from), t.Show(to)+"/"), Err: err}
	}
	if len(left) > 0 {
		msg := fmt.Sprintf("%s was copied, except: %s.", t.Quote(from), strings.Join(left, "; "))
		x.End(errors.New(msg), func(error) string { return msg })
		return &httpError{Status: status, Msg: msg}
	}
	x.End(nil, nil)
	return nil
}

// zipSelection reads a zip's select=NAME (repeated): the entries of the
// folder the zip holds, each marked false until the walk meets it; nil
// without select, for the whole folder. A name that is not a plain name of
// this folder is 400: a GET answers as a whole.
func zipSelection(c echo.Context, t *access.Target) (map[string]bool, error) {
	names, ok := c.QueryParams()["select"]
	if !ok {
		return nil, nil
	}
	sel := make(map[string]bool, len(names))
	for _, typed := range names {
		name, err := t.Names.Bytes(typed)
		if err != nil {
			return nil, err
		}
		if err := urlpath.CheckName(name); err != nil {
			return nil, badRequest("Only names of entries of this folder can be selected: %v.", err)
		}
		sel[name] = false
	}
	return sel, nil
}

// zipSelected tells whether the walk's entry goes in a zip of selected
// entries, and marks a selected one as met.
func zipSelected(sel map[string]bool, depth int, name string) bool {
	if sel == nil || depth > 0 {
		return true
	}
	if _, ok := sel[name]; !ok {
		return false
	}
	sel[name] = true
	return true
}

// unselected names the selected entries the walk did not meet, for the
// zip's ERRORS.txt.
func unselected(t *access.Target, top string, sel map[string]bool) []string {
	var missing []string
	for name, met := range sel {
		if !met {
			missing = append(missing, fmt.Sprintf("%s: not in this folder, left out", t.Show(top+"/"+name)))
		}
	}
	slices.Sort(missing)
	return missing
}
