package handlers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ftpbridge/ftpbridge/access"
	"github.com/ftpbridge/ftpbridge/ftppool"
	"github.com/ftpbridge/ftpbridge/internal/formparts"
	"github.com/ftpbridge/ftpbridge/internal/httpfile"
	"github.com/ftpbridge/ftpbridge/internal/urlpath"
)

// Uploads stream from the request body straight into STOR: nothing is
// kept in memory or on the bridge's disk. That is why these routes never
// call FormValue, FormFile, Bind or ParseMultipartForm, which would spill
// the upload to temporary files; cross-site requests are refused by the
// Origin and Sec-Fetch-Site checks wrapped around every route (handlers.go).

// uploaded is one file an upload stored.
type uploaded struct {
	Name     string `json:"name"`
	Path     string `json:"path"`
	Href     string `json:"href"`
	Size     int64  `json:"size"`
	Replaced bool   `json:"replaced"`
}

// put answers PUT on a file address: the raw body becomes the file, as
// `curl -T` sends it. 201 for a new file, 200 for a replaced one.
func put(f *files) echo.HandlerFunc {
	return func(c echo.Context) error {
		t, err := f.access.Resolve(c.Request())
		if err != nil {
			return err
		}
		if t.Dir {
			return badRequest("PUT needs a file's address (no trailing slash). To upload into a folder, PUT to the folder's address plus the file name.")
		}
		body, err := f.uploadBody(c)
		if err != nil {
			return err
		}
		r := c.Request()
		check := ifMatch(t, r)
		if check != nil {
			// Checked once before the upload is a transfer: a stale save
			// is answered at once, and is no failed upload in the panel.
			e, err := t.Handle.Stat(r.Context(), t.Path)
			if err != nil && ftppool.ErrorKind(err) != ftppool.KindNotFound {
				return refuseUpload(c, body, uploadFailed(t, err, t.Quote(t.Path), nil))
			}
			if err := check(e, err == nil); err != nil {
				return refuseUpload(c, body, err)
			}
		}
		up, err := f.store(c, t, upload{body: body, path: t.Path, src: body, total: r.ContentLength,
			overwrite: r.URL.Query().Get("overwrite") == "1", check: check})
		if he, ok := errors.AsType[*httpError](err); ok && he.Status == http.StatusPreconditionFailed {
			return refuseUpload(c, body, he)
		}
		if err != nil {
			what := t.Quote(t.Path)
			if k := ftppool.ErrorKind(err); k == ftppool.KindPermission || k == ftppool.KindNotFound {
				// Servers refuse a STOR into a missing folder as if it were
				// a matter of permission (553): say which it is.
				if ferr := folderThere(r.Context(), t, path.Dir(t.Path)); ferr != nil {
					err, what = ferr, "The folder to upload into"
				}
			}
			return refuseUpload(c, body, uploadFailed(t, err, what, nil))
		}
		status := http.StatusCreated
		if up.Replaced {
			status = http.StatusOK
		}
		c.Response().Header().Set("Location", up.Href)
		return c.JSON(status, up)
	}
}

// ifMatch is the check of a PUT's If-Match, nil without one: the file
// must be there and, unless the header is "*", have one of the ETags
// given (as a GET of it said: httpfile.ETag), else 412 and nothing is written.
// It is made before the upload and again just before the rename; what
// another client writes between that and the rename cannot be caught, FTP
// having no conditional rename. A matching If-Match replaces the file
// without overwrite=1: it names the version to replace.
func ifMatch(t *access.Target, r *http.Request) func(ftppool.Entry, bool) error {
	header := strings.TrimSpace(r.Header.Get("If-Match"))
	if header == "" {
		return nil
	}
	return func(e ftppool.Entry, exists bool) error {
		switch {
		case !exists:
			return preconditionFailed(t.Quote(t.Path) + " is no longer there: it was deleted or renamed since you opened it. Nothing was written.")
		case e.Type == ftppool.TypeDir:
			return nil // Put says it is a folder
		case header == "*":
			return nil
		}
		current := httpfile.ETag(e.Size, e.Modified)
		for tag := range strings.SplitSeq(header, ",") {
			// Strong comparison (RFC 9110 13.1.1): a weak tag never matches.
			if tag = strings.TrimSpace(tag); current != "" && tag == current {
				return nil
			}
		}
		if current == "" {
			return preconditionFailed("The FTP server does not tell the size and time of " + t.Quote(t.Path) + ", so the bridge cannot check that it did not change since you opened it. Nothing was written; save without If-Match to replace it anyway.")
		}
		return preconditionFailed(t.Quote(t.Path) + " changed on the server since you opened it. Nothing was written: load it again, or save without If-Match to replace it.")
	}
}

// uploadForm answers a multipart POST to a folder: every part named
// "file" is stored in the folder, in order, each as its own transfer. A
// file name may be a relative path ("photos/2024/a.jpg", as a folder upload
// sends it); missing folders are made. A part named "size" before a file
// gives its size, for progress; "overwrite" set to 1 replaces existing files.
func (f *files) uploadForm(c echo.Context, t *access.Target) error {
	if !t.Dir {
		return badRequest("Upload with POST to a folder's address (ending in /), or with PUT to the file's address.")
	}
	body, err := f.uploadBody(c)
	if err != nil {
		return err
	}
	r := c.Request()
	mr, err := multipartReader(r, body)
	if err != nil {
		return err
	}
	// The folder must be there: a file would fail on its own, but a
	// folder upload's MkdirAll would make the missing folder.
	if err := folderThere(r.Context(), t, t.Path); err != nil {
		return refuseUpload(c, body, offerParent(t, ftpFailure(t, err, "The folder to upload into")))
	}
	overwrite := r.URL.Query().Get("overwrite") == "1"
	size := int64(-1)
	var done []uploaded
	var made []string // folders this request made
	// Folders made for files that never arrived go again; those holding a
	// file that did arrive stay, as that file does.
	undoFolders := func() {
		if len(made) > 0 {
			t.Handle.RemoveEmptyDirs(r.Context(), made)
			made = nil
		}
	}
	fail := func(err error, what string) error {
		undoFolders()
		return refuseUpload(c, body, uploadFailed(t, err, what, done))
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(&ftppool.SourceError{Err: err}, "The upload")
		}
		switch part.FormName() {
		case "overwrite":
			overwrite = overwrite || smallField(part) == "1"
		case "size":
			if size, err = strconv.ParseInt(smallField(part), 10, 64); err != nil {
				size = -1
			}
		case "file":
			rel, err := t.Names.Bytes(partFileName(part))
			if err != nil {
				return fail(err, "")
			}
			if rel == "" {
				continue // a file input left empty
			}
			p, err := uploadPath(t.Path, rel)
			if err != nil {
				return fail(err, "")
			}
			if dir := path.Dir(p); dir != path.Clean(t.Path) {
				dirs, err := t.Handle.MkdirAll(r.Context(), dir)
				made = append(made, dirs...)
				if err != nil {
					return fail(err, t.Quote(dir))
				}
			}
			up, err := f.store(c, t, upload{body: body, path: p, src: part, total: size, overwrite: overwrite, undo: undoFolders})
			if err != nil {
				return fail(err, t.Quote(p))
			}
			done = append(done, up)
			size = -1
		}
		// Other fields are skipped: NextPart discards what was not read.
	}
	if len(done) == 0 {
		return badRequest("The upload held no file: send the files in fields named \"file\".")
	}
	if wantsHTML(r) {
		return c.Redirect(http.StatusSeeOther, t.URL(t.Path, true))
	}
	return c.JSON(http.StatusCreated, map[string]any{"uploaded": done})
}

// folderThere tells whether dir is missing or a file: ErrNotFolder then,
// else nil. Any other failure says nothing about it, and the upload's own
// answer is the better one to give; a link may lead to a folder, which
// the upload itself will tell.
func folderThere(ctx context.Context, t *access.Target, dir string) error {
	e, err := t.Handle.Stat(ctx, dir)
	if err == nil && e.Type == ftppool.TypeFile || ftppool.ErrorKind(err) == ftppool.KindNotFound {
		return ftppool.ErrNotFolder
	}
	return nil
}

// uploadFailed reports a failed upload, naming the files of the same
// request that did arrive (they stay).
func uploadFailed(t *access.Target, err error, what string, done []uploaded) error {
	var he *httpError
	switch err.(type) {
	case *httpError, *access.BadRequestError:
		he = httpErrorOf(err)
	default:
		fe := ftpFailure(t, err, what)
		var ok bool
		if he, ok = fe.(*httpError); !ok {
			return fe // a login to ask for
		}
	}
	if ftppool.ErrorKind(err) == ftppool.KindExists {
		he.Msg += " To replace it, upload again with overwrite=1."
	}
	if len(done) > 0 {
		names := make([]string, len(done))
		for i, u := range done {
			names[i] = u.Name
		}
		he.Msg += " These files of the same upload did arrive: " + strings.Join(names, ", ") + "."
	}
	return he
}

// upload is one file of an upload request, to be stored.
type upload struct {
	body      *clientBody // the request's body, which src reads from
	path      string      // where the file goes
	src       io.Reader   // the file's bytes: the body, or one part of it
	total     int64       // the file's size, -1 if unknown
	overwrite bool        // replace a file already there
	// check, if set, vets what is at path before the upload and before
	// the rename into place (ftppool's PutIf); an If-Match check passing
	// means the file is to be replaced.
	check func(ftppool.Entry, bool) error
	// undo, if set, runs when the upload failed, before the transfer's
	// final event: once a person sees "canceled", the server is as it was.
	undo func()
}

// store uploads one file through a temporary name and tracks it as a
// transfer of the session.
func (f *files) store(c echo.Context, t *access.Target, up upload) (uploaded, error) {
	body, p := up.body, up.path
	x := f.tracked(c, "upload", t, p)
	// A cancel wakes a read that waits for a silent client, a moment
	// later: a client that is sending meets the cancelled context at its
	// next read instead, so the chunked-body reader never sees a timeout,
	// an error it keeps for good, which would leave refuseUpload nothing
	// to drain and the client a reset instead of the answer.
	x.Start(up.total, func() { _ = body.rc.SetReadDeadline(time.Now().Add(cancelWake)) })
	body.ctx = x.Context()
	defer func() { body.ctx = c.Request().Context() }()
	// Put counts each chunk as the server takes it.
	replaced, err := t.Handle.PutIf(x.Context(), p, up.src, up.overwrite || up.check != nil, x.Add, up.check)
	if err != nil && up.undo != nil {
		up.undo()
	}
	x.End(err, failure(t.Quote(p)))
	if err != nil {
		return uploaded{}, err
	}
	return uploaded{Name: t.Show(path.Base(p)), Path: t.Show(p), Href: t.URL(p, false), Size: x.Event().Bytes, Replaced: replaced}, nil
}

// clientBody is an upload's request body. Each read has a deadline, so a
// client that stalls cannot hold an FTP connection forever; cancelling the
// transfer moves the deadline close (cancelWake), which wakes a blocked read.
type clientBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
	ctx     context.Context // of the file being stored now
}

// cancelWake is how long after a cancel a read waiting for a silent
// client is woken.
const cancelWake = 100 * time.Millisecond

// Bounds of refuseUpload's reading after the answer.
const (
	drainTime  = 2 * time.Second
	drainBytes = 16 << 20
)

// refuseUpload answers an upload that failed or was cancelled while its
// client may still be sending. The answer goes out first; then the rest of
// the body is read and dropped for a while, so that the client reads the
// answer (and stops) instead of meeting a reset when the connection closes
// on bytes it sent: net/http's own wait before that close is half a
// second, too short for a busy client.
func refuseUpload(c echo.Context, body *clientBody, err error) error {
	c.Error(err)
	_ = body.rc.Flush()
	_ = body.rc.SetReadDeadline(time.Now().Add(drainTime))
	_, _ = io.CopyN(io.Discard, body.ReadCloser, drainBytes)
	return nil
}

func (b *clientBody) Read(p []byte) (int, error) {
	// Deadline first, then the check: a cancel in between still ends the
	// read soon (see store).
	_ = b.rc.SetReadDeadline(time.Now().Add(b.timeout))
	if b.ctx.Err() != nil {
		return 0, context.Cause(b.ctx)
	}
	return b.ReadCloser.Read(p)
}

// uploadBody refuses at once a body that says it is too large, and limits
// one that does not say.
func (f *files) uploadBody(c echo.Context) (*clientBody, error) {
	r := c.Request()
	if f.maxUploadBytes > 0 && r.ContentLength > f.maxUploadBytes {
		return nil, &httpError{Status: http.StatusRequestEntityTooLarge,
			Msg: fmt.Sprintf("This upload is %d bytes (%s); the bridge accepts at most %d bytes (%s) per request. Nothing was sent to the FTP server.",
				r.ContentLength, humanSize(r.ContentLength), f.maxUploadBytes, humanSize(f.maxUploadBytes))}
	}
	rb := r.Body
	if f.maxUploadBytes > 0 {
		rb = http.MaxBytesReader(c.Response(), r.Body, f.maxUploadBytes)
	}
	// r.Body stays as it is: net/http looks at it, after the handler, to
	// decide whether to linger before closing (see refuseUpload).
	return &clientBody{ReadCloser: rb, rc: http.NewResponseController(c.Response()), timeout: f.ioTimeout, ctx: r.Context()}, nil
}

// multipartReader reads a multipart/form-data body part by part, through
// body (r.MultipartReader would read r.Body, without body's deadlines),
// with internal/formparts: mime/multipart is several times slower.
func multipartReader(r *http.Request, body io.Reader) (*formparts.Reader, error) {
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/form-data" || params["boundary"] == "" {
		return nil, badRequest("An upload by POST must be multipart/form-data, with the files in fields named \"file\".")
	}
	return formparts.NewReader(body, params["boundary"]), nil
}

// partFileName is the name the browser gave a file part, with its folders,
// read raw by mime.ParseMediaType (mime/multipart's Part.FileName keeps
// only the last segment, which would lose a folder upload's structure).
func partFileName(part *formparts.Part) string {
	_, params, err := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
	if err != nil {
		return ""
	}
	return params["filename"]
}

// uploadPath joins a file's relative name to the folder it goes in, each
// segment checked as a name on its own.
func uploadPath(dir, rel string) (string, error) {
	for _, seg := range strings.Split(rel, "/") {
		if err := urlpath.CheckName(seg); err != nil {
			return "", badRequest("The file name %q cannot be used: %v.", display(rel), err)
		}
	}
	return path.Join(dir, rel), nil
}

// smallField reads a short text field of a form.
func smallField(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 64))
	return strings.TrimSpace(string(b))
}
