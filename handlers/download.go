package handlers

import (
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/ftpbridge/ftpbridge/access"
	"github.com/ftpbridge/ftpbridge/ftppool"
	"github.com/ftpbridge/ftpbridge/internal/httpfile"
)

// previewable are the types ?inline=1 shows in the browser: none of them
// can run script. Everything else is always an attachment.
var previewable = map[string]bool{
	"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true, "image/avif": true, "image/bmp": true,
	"text/plain": true,
	// PDF runs no script of the page: the browser's own viewer shows it,
	// in a frame of the bridge's pages (inlineFileCSP), sandboxed too.
	"application/pdf": true,
}

// download streams a file. Range, If-Range, ETag, Last-Modified and the
// conditional requests are left to http.ServeContent over a File that
// turns seeks into REST; HEAD and 304 never open a data connection.
func (f *files) download(c echo.Context, t *access.Target) error {
	r := c.Request()
	x := f.tracked(c, "download", t, t.Path)
	// A plain GET starts the transfer before any header goes out, so a
	// refusal (no read permission) is still a proper error page, and the
	// transfer overlaps the size and time questions (Retrieve).
	open := t.Handle.Open
	if httpfile.Whole(r) {
		open = t.Handle.Retrieve
	}
	file, err := open(x.Context(), t.Path)
	if err != nil {
		x.End(nil, nil) // no transfer: only its context to release
		switch {
		case ftppool.ErrorKind(err) == ftppool.KindIsDir && t.Share != nil:
			return &httpError{Status: http.StatusNotFound, Msg: "What this link shared is no longer a file. Ask the person who sent it for a new link."}
		case ftppool.ErrorKind(err) == ftppool.KindIsDir:
			return addSlash(c)
		}
		return ftpFailure(t, err, "The file")
	}
	defer file.Close()

	name := path.Base(t.Path)
	h := c.Response().Header()
	ctype := httpfile.ContentType(name)
	disposition := "attachment"
	if r.URL.Query().Get("inline") == "1" {
		if inlineSafe(ctype) {
			disposition = "inline"
		} else {
			// Asked to show something that could run script: hand it
			// over as opaque bytes instead.
			ctype = "application/octet-stream"
		}
	}
	h.Set("Content-Disposition", dispositionHeader(disposition, t.Show(name)))
	h.Set("Content-Type", ctype)
	h.Set("Content-Security-Policy", fileCSP)
	if disposition == "inline" {
		// The preview viewer frames a PDF; only the bridge's own pages may.
		h.Set("Content-Security-Policy", inlineFileCSP)
		h.Set("X-Frame-Options", "SAMEORIGIN")
	}
	h.Set("Cache-Control", "private, no-cache")
	etag := httpfile.ETag(file.Size, file.ModTime)
	if etag != "" {
		h.Set("ETag", etag)
	}
	if t.Share != nil {
		if err := countShareFile(f.shares, r, t.Share, t.Path, etag); err != nil {
			x.End(nil, nil)
			return err
		}
	}

	w := newMeteredResponse(c, x)
	copyErr := w.Serve(r, file, file.Size, file.ModTime)
	w.finish(copyErr)
	return copyErr
}

func inlineSafe(ctype string) bool {
	base, _, _ := strings.Cut(ctype, ";")
	base = strings.TrimSpace(base)
	return previewable[base] || strings.HasPrefix(base, "audio/") || strings.HasPrefix(base, "video/")
}

// dispositionHeader is a Content-Disposition of kind ("attachment" or
// "inline") for a file named name: mime.FormatMediaType quotes what needs
// it and uses filename* for names that are not ASCII.
func dispositionHeader(kind, name string) string {
	if cd := mime.FormatMediaType(kind, map[string]string{"filename": name}); cd != "" {
		return cd
	}
	return kind
}
