package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/ftpbridge/ftpbridge/access"
	"github.com/ftpbridge/ftpbridge/ftppool"
	"github.com/ftpbridge/ftpbridge/internal/urlpath"
)

// post answers POST on a site address: the operation named by ?op=, or
// else a multipart upload into the folder. ?op=share makes a share link,
// so it is sharing's; the rest work on the site's files.
func post(f *files, sg *sharing) echo.HandlerFunc {
	return func(c echo.Context) error {
		t, err := f.access.Resolve(c.Request())
		if err != nil {
			return err
		}
		switch op := c.QueryParam("op"); op {
		case "":
			return f.uploadForm(c, t)
		case "mkdir":
			return mkdir(c, t)
		case "rename":
			return rename(c, t)
		case "delete", "move", "copy": // with select=NAME: several entries of the folder (bulk.go)
			return f.several(c, t, op)
		case "share":
			return sg.createShare(c, t)
		case "chmod":
			return f.chmod(c, t) // chmod.go
		default:
			return badRequest("There is no operation %q: use mkdir, rename, delete, move, copy, share or chmod.", op)
		}
	}
}

// deleteItem answers DELETE, the same as POST ?op=delete.
func deleteItem(f *files) echo.HandlerFunc {
	return func(c echo.Context) error {
		t, err := f.access.Resolve(c.Request())
		if err != nil {
			return err
		}
		return f.remove(c, t)
	}
}

// opForm reads an operation's fields from the query and a small
// urlencoded body. Multipart is refused: parsing it could spill to disk.
func opForm(c echo.Context) (url.Values, error) {
	r := c.Request()
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
		return nil, badRequest("Send an operation's fields in the query or as a plain form (application/x-www-form-urlencoded), not multipart.")
	}
	r.Body = http.MaxBytesReader(c.Response(), r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return nil, badRequest("The form could not be read: %v.", err)
	}
	return r.Form, nil
}

// mkdir makes a folder named by the form's "name" in the folder addressed.
func mkdir(c echo.Context, t *access.Target) error {
	form, err := opForm(c)
	if err != nil {
		return err
	}
	if !t.Dir {
		return badRequest("Make a folder with POST to the address of the folder it goes in (ending in /).")
	}
	name, err := t.Names.Bytes(form.Get("name"))
	if err != nil {
		return err
	}
	if err := urlpath.CheckName(name); err != nil {
		return badRequest("This folder name cannot be used: %v.", err)
	}
	p := path.Join(t.Path, name)
	if err := t.Handle.Mkdir(c.Request().Context(), p); err != nil {
		return ftpFailure(t, err, t.Quote(p))
	}
	return opDone(c, t, http.StatusCreated, map[string]any{"path": t.Show(p) + "/", "href": t.URL(p, true)})
}

// rename moves the item addressed to the form's "to": a path from the
// site's root when it starts with "/", else from the item's folder.
func rename(c echo.Context, t *access.Target) error {
	form, err := opForm(c)
	if err != nil {
		return err
	}
	if t.HoldsHome(t.Path) {
		return badRequest("The site's root folder, your login folder and the folders above it cannot be renamed.")
	}
	to, err := t.Names.Bytes(form.Get("to"))
	if err != nil {
		return err
	}
	if to, err = renameTarget(t.Path, to); err != nil {
		return err
	}
	if err := t.Handle.Rename(c.Request().Context(), t.Path, to); err != nil {
		return ftpFailure(t, err, t.Quote(t.Path))
	}
	shown := t.Show(to)
	if t.Dir {
		shown += "/"
	}
	return opDone(c, t, http.StatusOK, map[string]any{"path": shown, "href": t.URL(to, t.Dir)})
}

// renameTarget resolves a rename's "to". "." and ".." are allowed, to move
// an item up; every other segment must be a valid name.
func renameTarget(from, to string) (string, error) {
	if to == "" {
		return "", badRequest("Say where to rename it to, in the field \"to\".")
	}
	for _, seg := range strings.Split(to, "/") {
		if seg == "" || seg == "." || seg == ".." {
			continue
		}
		if err := urlpath.CheckName(seg); err != nil {
			return "", badRequest("The new name cannot be used: %v.", err)
		}
	}
	var p string
	if strings.HasPrefix(to, "/") {
		p = path.Clean(to)
	} else {
		p = path.Join(path.Dir(from), to)
	}
	if p == "/" {
		return "", badRequest("Nothing can be renamed to the site's root folder.")
	}
	return p, nil
}

// remove deletes the item addressed: a file, an empty folder, or a folder
// and everything in it with recursive=1.
func (f *files) remove(c echo.Context, t *access.Target) error {
	form, err := opForm(c)
	if err != nil {
		return err
	}
	if t.HoldsHome(t.Path) {
		return badRequest("The site's root folder, your login folder and the folders above it cannot be deleted.")
	}
	recursive := form.Get("recursive") == "1"
	if recursive {
		release, err := f.startWalk(c)
		if err != nil {
			return err
		}
		defer release()
	}
	n, err := t.Handle.Remove(c.Request().Context(), t.Path, recursive)
	if err != nil && ftppool.ErrorKind(err) == ftppool.KindWalkLimit {
		// What went is gone: said so, nobody takes the 413 for a refusal
		// that left the folder whole.
		he := ftpError(err, t.Quote(t.Path))
		he.Msg += fmt.Sprintf(" %d files and folders were deleted before the bridge stopped; the rest is still there.", n)
		return he
	}
	if err != nil {
		return ftpFailure(t, err, t.Quote(t.Path))
	}
	return opDone(c, t, http.StatusOK, map[string]any{"deleted": n})
}

// count answers GET ?op=count on a folder: what deleting it would remove,
// so the page can say so before asking.
func (f *files) count(c echo.Context, t *access.Target) error {
	release, err := f.startWalk(c)
	if err != nil {
		return err
	}
	defer release()
	tally, err := t.Handle.Count(c.Request().Context(), t.Path)
	if err != nil {
		return ftpFailure(t, err, "This folder")
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, tally)
}

// opDone answers a finished operation: JSON for scripts and the page's
// own requests, and for a plain HTML form a redirect to the folder the
// person was looking at.
func opDone(c echo.Context, t *access.Target, status int, body map[string]any) error {
	if wantsHTML(c.Request()) {
		folder := t.Path
		if !t.Dir {
			folder = path.Dir(t.Path)
		} else if c.QueryParam("op") != "mkdir" {
			folder = path.Dir(strings.TrimSuffix(t.Path, "/"))
		}
		return c.Redirect(http.StatusSeeOther, t.URL(folder, true))
	}
	return c.JSON(status, body)
}
