// Package httpfile is what both HTTP fronts, the pages (handlers) and the
// WebDAV front (webdav), do alike when they send a file: its ETag and type,
// and a response that counts the body as a transfer. They must agree: an
// ETag from a GET of one is checked by a PUT's If-Match through the other.
package httpfile

import (
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/ftpbridge/ftpbridge/internal/transfer"
)

// ETag is a file's ETag, "" when the server does not say its size and
// time: both together change whenever the content does, for all practical
// purposes (two writes of the same size within one second of the server's
// clock are the exception); either alone does not.
func ETag(size int64, mod time.Time) string {
	if size < 0 || mod.IsZero() {
		return ""
	}
	return fmt.Sprintf(`"%x-%x"`, mod.Unix(), size)
}

// ContentType is a type from the name alone: sniffing would cost a RETR.
func ContentType(name string) string {
	if t := mime.TypeByExtension(strings.ToLower(path.Ext(name))); t != "" {
		return t
	}
	return "application/octet-stream"
}

// Response is a download's response: the transfer starts only once a body
// does (a HEAD, a 304 or an error is no transfer), and the body goes
// through the transfer's Writer, which counts it as the client takes it.
type Response struct {
	http.ResponseWriter // for the status and headers
	x                   *transfer.Transfer
	Body                *transfer.Writer
	head                bool   // a HEAD request sends no body, so it is no transfer
	cut                 func() // wakes a blocked write to the client on cancel
}

// NewResponse meters w for x; body is where the bytes go (w itself, or the
// writer under it that takes readers, for splice). sendFailed tells the
// client's failure from the file's.
func NewResponse(w http.ResponseWriter, r *http.Request, x *transfer.Transfer, body io.Writer, sendFailed func(error) bool) *Response {
	rc := http.NewResponseController(w)
	return &Response{ResponseWriter: w, x: x, head: r.Method == http.MethodHead,
		Body: x.Writer(body, sendFailed), cut: func() { _ = rc.SetWriteDeadline(time.Unix(1, 0)) }}
}

func (m *Response) WriteHeader(status int) {
	if (status == http.StatusOK || status == http.StatusPartialContent) && !m.head {
		total, err := strconv.ParseInt(m.Header().Get("Content-Length"), 10, 64)
		if err != nil {
			total = -1
		}
		m.x.Start(total, m.cut)
	}
	m.ResponseWriter.WriteHeader(status)
}

func (m *Response) Write(b []byte) (int, error) { return m.Body.Write(b) }

// ReadFrom keeps io.ReaderFrom visible to io.Copy, so that a file can move
// itself to the client (see transfer.Writer.ReadFrom).
func (m *Response) ReadFrom(src io.Reader) (int64, error) { return m.Body.ReadFrom(src) }

func (m *Response) Unwrap() http.ResponseWriter { return m.ResponseWriter }

// Whole reports a GET of the whole file with no condition: its transfer
// may start before any header goes out (ftppool's Retrieve), since the
// answer will be the file itself or an error page.
func Whole(r *http.Request) bool {
	return r.Method == http.MethodGet && r.Header.Get("Range") == "" &&
		r.Header.Get("If-None-Match") == "" && r.Header.Get("If-Modified-Since") == ""
}

// Serve answers r with file, of size bytes (-1 when the server will not
// say) and time mod: http.ServeContent does Range and the conditional
// requests; without a size the bytes stream without ranges. It closes the
// file once the client has every byte, since closing waits a round trip
// for the server's 226, which the client need not. The error is the
// file's failure while streaming without a size.
func (m *Response) Serve(r *http.Request, file io.ReadSeekCloser, size int64, mod time.Time) error {
	var copyErr error
	switch {
	case size >= 0:
		http.ServeContent(m, r, "", mod, file)
	case r.Method == http.MethodHead:
		m.WriteHeader(http.StatusOK)
	default:
		m.WriteHeader(http.StatusOK)
		_, copyErr = io.Copy(m, file)
	}
	_ = http.NewResponseController(m).Flush()
	// The file gives its connection back before the transfer's context
	// ends: ending it cuts the data connection (how a cancel works),
	// which would cost the control connection too.
	file.Close()
	return copyErr
}
