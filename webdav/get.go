package webdav

import (
	"errors"
	"io"
	"net/http"

	"github.com/ftpbridge/ftpbridge/access"
	"github.com/ftpbridge/ftpbridge/ftppool"
	"github.com/ftpbridge/ftpbridge/internal/httpfile"
	"github.com/ftpbridge/ftpbridge/internal/transfer"
)

// get answers GET and HEAD of a file, as the pages' downloads do: the
// file is an ftppool.File, whose seeks are REST, so http.ServeContent does
// Range, If-Range and the conditional requests; the bytes move socket to
// socket (splice) where the connection allows, and a body is a transfer of
// the login. A HEAD or a 304 never opens a data connection. It is not left
// to x/net/webdav, which would sniff a type from the first bytes when the
// name says none (a RETR more) and knows nothing of transfers.
func (d *Handler) get(w http.ResponseWriter, r *http.Request, t *access.Target, fsys *fileSystem, name string) {
	abs := fsys.abs(name)
	x := d.begin(r.Context(), t, "download", abs)
	// A whole-file GET starts the transfer at once, its size and time
	// asked meanwhile (ftppool's Retrieve), as the pages' downloads do.
	open := t.Handle.Open
	if httpfile.Whole(r) {
		open = t.Handle.Retrieve
	}
	file, err := open(x.Context(), abs)
	if err != nil {
		x.End(nil, nil) // no transfer: only its context to release
		if ftppool.ErrorKind(err) == ftppool.KindIsDir {
			// As x/net/webdav answers a GET of a collection.
			w.Header().Set("Allow", "OPTIONS, LOCK, DELETE, PROPPATCH, COPY, MOVE, UNLOCK, PROPFIND")
			plain(w, http.StatusMethodNotAllowed, "This is a folder: list it with PROPFIND, or open it in the bridge's pages.")
			return
		}
		d.fail(w, r, t, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", httpfile.ContentType(name))
	// Never run as a page of the bridge's origin, whatever it holds.
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, no-cache")
	if tag := httpfile.ETag(file.Size, file.ModTime); tag != "" {
		h.Set("ETag", tag)
	}
	m := httpfile.NewResponse(w, r, x, bodyWriter(w), sendFailed)
	copyErr := m.Serve(r, file, file.Size, file.ModTime)
	m.Body.End(copyErr, func(err error) string {
		switch {
		case errors.As(err, new(*transfer.SendError)):
			return "The WebDAV client stopped the download."
		case errors.Is(err, transfer.ErrShort):
			return "The FTP server stopped sending the file before its end."
		}
		return "The download failed: " + err.Error()
	})
}

// bodyWriter is where a download's bytes go: the innermost response
// writer that takes readers itself (net/http's, which splices from a TCP
// socket), past the router's wrapper, which hides io.ReaderFrom. The
// status and headers still go through the wrapper, which logs them.
func bodyWriter(w http.ResponseWriter) io.Writer {
	for inner := w; ; {
		if _, ok := inner.(io.ReaderFrom); ok {
			return inner
		}
		u, ok := inner.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return w
		}
		inner = u.Unwrap()
	}
}

// sendFailed tells a failure of the client from one of the FTP server.
func sendFailed(err error) bool { return errors.As(err, new(*ftppool.WriteError)) }
