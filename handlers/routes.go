package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/ftpbridge/ftpbridge/static"
	"github.com/ftpbridge/ftpbridge/webdav"
)

// addRoutes lists every URL the bridge answers. The README's URL table is the
// contract; keep the two in step. Each handler is made from the resource
// it serves (handlers.go).
func addRoutes(e *echo.Echo, h *connections, l *live, f *files, sg *sharing) {
	e.GET("/", home(h))
	e.POST("/connect", connect(h))
	e.POST("/disconnect", disconnect(h))
	e.POST("/open", openURL(h)) // the "paste an ftp:// URL" box

	e.GET("/transfers", listTransfers(l))
	e.POST("/transfers/:id/cancel", cancelTransfer(l))
	e.GET("/ws", transferSocket(l)) // this session's transfer events

	// Share links: /s/{token} is a shared file, or a shared folder's
	// root (redirected to /s/{token}/); below it, the folder's contents.
	// POST answers the password page.
	e.GET("/s/:token", serveShare(sg))
	e.HEAD("/s/:token", serveShare(sg))
	e.GET("/s/:token/*", serveShare(sg))
	e.HEAD("/s/:token/*", serveShare(sg))
	e.POST("/s/:token", unlockShare(sg))
	e.POST("/s/:token/", unlockShare(sg))
	e.GET("/shares", listShares(sg))              // this session's shares
	e.DELETE("/shares/:id", revokeShare(sg))      // ends one
	e.POST("/shares/:id/revoke", revokeShare(sg)) // the same, for forms

	e.GET("/healthz", healthz())
	e.GET("/readyz", readyz(l.stopping, l.ready))

	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", staticFiles(static.FS))))
	e.GET("/static/v/:version/*", versionedFiles(static.FS, static.Version)) // the pages' script and styles

	for _, scheme := range []string{"ftp", "ftpes", "ftps"} {
		// A site without the trailing slash is its root folder.
		e.GET("/"+scheme+"/:site", addSlash)
		e.HEAD("/"+scheme+"/:site", addSlash)
		// Folders end in "/" and list (?op=count tallies them); anything
		// else is a file.
		e.GET("/"+scheme+"/:site/*", browseOrDownload(f))
		e.HEAD("/"+scheme+"/:site/*", browseOrDownload(f))
		e.PUT("/"+scheme+"/:site/*", put(f))           // raw body upload
		e.POST("/"+scheme+"/:site/*", post(f, sg))     // ?op=mkdir|rename|delete|move|copy|share, else a multipart upload
		e.DELETE("/"+scheme+"/:site/*", deleteItem(f)) // as ?op=delete
	}
}

// addDAVRoutes mounts the WebDAV front (package webdav): every WebDAV
// method on /dav/{scheme}/{site}/{path}, and OPTIONS and PROPFIND on "/",
// which the Windows mini-redirector asks before it mounts anything.
func addDAVRoutes(e *echo.Echo, dav http.Handler) {
	h := echo.WrapHandler(dav)
	e.Match(webdav.Methods, "/dav", h)
	e.Match(webdav.Methods, "/dav/*", h)
	e.OPTIONS("/", h)
	e.Add("PROPFIND", "/", h) // an empty collection, for clients that look above what they mount
}
