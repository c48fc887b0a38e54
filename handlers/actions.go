package handlers

import (
	"net/http"
	"path"

	"github.com/labstack/echo/v4"

	"github.com/ftpbridge/ftpbridge/access"
)

// actionsPage is a row's menu as a page of its own, for browsers without
// JavaScript: a listing row links here (?op=actions) instead of carrying
// its own hidden forms, which made a big folder's page slow to load. With
// the script, one menu shared by all rows shows the same actions in place.
type actionsPage struct {
	page
	Name   string // as text
	Href   string // the entry's address; the forms post there
	Folder string // the listing the entry is in
	Dir    bool
	Rename bool
	Delete bool
	Perms  string // as listed, "rw-r--r--"; "" when the server does not say
	Mode   string // the same in octal, for the permissions form (chmod.go)
}

// actions answers GET ?op=actions on a file or folder address: the rename
// and delete forms its MLSD perm fact allows (perm.go), read from its
// folder's listing.
func (f *files) actions(c echo.Context, t *access.Target) error {
	r := c.Request()
	if t.Path == "/" || t.Path == t.Home {
		return badRequest("The site's root folder and your login folder cannot be renamed or deleted.")
	}
	dir := path.Dir(t.Path)
	folder, err := t.Handle.ListFolder(r.Context(), dir)
	if err != nil {
		return ftpFailure(t, err, "This folder")
	}
	site := siteLinks{t.Site, t.Home, t.Names}
	name := path.Base(t.Path)
	for _, e := range folder.Entries {
		if e.Name != name {
			continue
		}
		it := entryItem(site, dir, e)
		f.render(c.Response(), http.StatusOK, "actions.html", actionsPage{
			page:   f.page(r, it.Name+" in "+folderName(site, dir)),
			Name:   it.Name,
			Href:   it.Href,
			Folder: site.URL(dir, true),
			Dir:    it.Type == "dir",
			Rename: it.mayRename(),
			Delete: it.mayDelete(),
			Perms:  it.Mode,
			Mode:   octalOf(it.Mode),
		})
		return nil
	}
	return &httpError{Status: http.StatusNotFound, Msg: "There is no " + t.Quote(t.Path) + " in this folder any more.",
		link: site.URL(dir, true), linkText: "Open the folder"}
}
