package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/ftpbridge/ftpbridge/static"
)

// addRoutes lists every URL the bridge answers. The README's URL table is the
// contract; keep the two in step.
func addRoutes(e *echo.Echo, d *Deps) {
	e.GET("/", home(d))
	e.POST("/connect", connect(d))
	e.POST("/disconnect", disconnect(d))
	e.POST("/open", openURL(d)) // the "paste an ftp:// URL" box

	e.GET("/transfers", listTransfers(d))
	e.POST("/transfers/:id/cancel", cancelTransfer(d))
	e.GET("/ws", transferSocket(d)) // this session's transfer events

	// Share links: /s/{token} is a shared file, or a shared folder's
	// root (redirected to /s/{token}/); below it, the folder's contents.
	// POST answers the password page.
	e.GET("/s/:token", serveShare(d))
	e.HEAD("/s/:token", serveShare(d))
	e.GET("/s/:token/*", serveShare(d))
	e.HEAD("/s/:token/*", serveShare(d))
	e.POST("/s/:token", unlockShare(d))
	e.POST("/s/:token/", unlockShare(d))
	e.GET("/shares", listShares(d))              // this session's shares
	e.DELETE("/shares/:id", revokeShare(d))      // ends one
	e.POST("/shares/:id/revoke", revokeShare(d)) // the same, for forms

	e.GET("/healthz", healthz())
	e.GET("/readyz", readyz(d))

	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", staticFiles(static.FS))))
	e.GET("/static/v/:version/*", versionedFiles(static.FS, static.Version)) // the pages' script and styles

	for _, scheme := range []string{"ftp", "ftpes", "ftps"} {
		// A site without the trailing slash is its root folder.
		e.GET("/"+scheme+"/:site", addSlash)
		e.HEAD("/"+scheme+"/:site", addSlash)
		// Folders end in "/" and list (?op=count tallies them); anything
		// else is a file.
		e.GET("/"+scheme+"/:site/*", browseOrDownload(d))
		e.HEAD("/"+scheme+"/:site/*", browseOrDownload(d))
		e.PUT("/"+scheme+"/:site/*", put(d))           // raw body upload
		e.POST("/"+scheme+"/:site/*", post(d))         // ?op=mkdir|rename|delete|share, else a multipart upload
		e.DELETE("/"+scheme+"/:site/*", deleteItem(d)) // as ?op=delete
	}
}
