package webdav

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	xdav "golang.org/x/net/webdav"

	"github.com/ftpbridge/ftpbridge/ftppool"
	"github.com/ftpbridge/ftpbridge/internal/httpfile"
	"github.com/ftpbridge/ftpbridge/internal/transfer"
)

// errRandomWrite is a write that is not the next byte of the file: FTP
// stores a file from start to end (STOR), so the bridge does too.
var errRandomWrite = errors.New("FTP cannot write inside a file: the bridge writes files from start to end only (save the whole file again)")

// errHome is a delete or move of the login folder every address of the
// mount starts from.
var errHome = errors.New("the folder this drive is mounted on cannot be deleted or moved through it")

// conflictError is a failure RFC 4918 answers with 409: a parent folder
// that is not there.
type conflictError struct{ msg string }

func (e *conflictError) Error() string { return e.msg }

// aLongTimeAgo is a deadline that has passed, to wake blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

// fileSystem is one request's view of an FTP site for x/net/webdav. Names
// are slash paths below root, the login folder. It lives as long as its
// request, so what the listings of the request told it (known) stands in
// for a round trip per entry: a PROPFIND of a folder is one LIST, whatever
// x/net/webdav asks of each child after it.
type fileSystem struct {
	h     *ftppool.Handle
	root  string
	begin func(ctx context.Context, op, abs string) *transfer.Transfer
	cut   func() // wakes a blocked read of the request body
	// putSize is the PUT body's length, -1 when unknown or not a PUT.
	putSize int64
	// check, if set, vets what is at a PUT's path before the upload and
	// again just before the rename into place (If-Match, If-None-Match).
	check func(e ftppool.Entry, exists bool) error

	mu      sync.Mutex
	known   map[string]ftppool.Entry // absolute path -> entry, from this request's listings
	failure error                    // the FTP failure that decides the answer's status
}

// abs is the FTP path of a name. Clean of a rooted name cannot climb
// above "/", so no name leaves the login folder.
func (f *fileSystem) abs(name string) string {
	return path.Join(f.root, path.Clean("/"+name))
}

// fail keeps err as the request's failure, for statusRewriter, and
// returns it. Not-found and exists are not kept: x/net/webdav already
// answers those right, from os.ErrNotExist and os.ErrExist.
func (f *fileSystem) fail(err error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failure == nil {
		f.failure = err
	}
	return err
}

func (f *fileSystem) failed() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failure
}

// forget drops what the listings said, after a change.
func (f *fileSystem) forget() {
	f.mu.Lock()
	clear(f.known)
	f.mu.Unlock()
}

// osError turns ftppool's not-found and exists into the os errors
// x/net/webdav tests for; anything else is kept as the request's failure.
func (f *fileSystem) osError(op, name string, err error) error {
	switch ftppool.ErrorKind(err) {
	case ftppool.KindNotFound:
		return &os.PathError{Op: op, Path: name, Err: os.ErrNotExist}
	case ftppool.KindExists:
		return &os.PathError{Op: op, Path: name, Err: os.ErrExist}
	}
	if errors.Is(err, ftppool.ErrNotFolder) {
		return &os.PathError{Op: op, Path: name, Err: os.ErrNotExist}
	}
	return f.fail(err)
}

// Stat is what name is: from what this request already learnt (a listing,
// an earlier Stat) when it can, else one MLST (or SIZE, MDTM, CWD) on the
// control connection.
func (f *fileSystem) Stat(ctx context.Context, name string) (os.FileInfo, error) {
	e, err := f.stat(ctx, name)
	if err != nil {
		return nil, err
	}
	return fileInfo{e}, nil
}

func (f *fileSystem) stat(ctx context.Context, name string) (ftppool.Entry, error) {
	p := f.abs(name)
	f.mu.Lock()
	e, ok := f.known[p]
	f.mu.Unlock()
	if ok {
		return e, nil
	}
	e, err := f.h.Stat(ctx, p)
	if err != nil {
		return e, f.osError("stat", name, err)
	}
	if p == f.root {
		e.Type = ftppool.TypeDir // the login folder, whatever MLST says of a link to it
	}
	e.Name = path.Base(p)
	if e.Type == ftppool.TypeLink {
		// MLST reports the link itself; a link is shown as what it leads
		// to, which CWD tells.
		e.Type = ftppool.TypeFile
		if dir, _ := f.h.IsFolder(ctx, p); dir {
			e.Type = ftppool.TypeDir
		}
	}
	// x/net/webdav asks again and again (a PROPFIND stats the folder,
	// opens it, stats the open file): once is enough until a change.
	f.mu.Lock()
	f.known[p] = e
	f.mu.Unlock()
	return e, nil
}

// Mkdir makes one folder. A missing parent is os.ErrNotExist (409).
func (f *fileSystem) Mkdir(ctx context.Context, name string, _ os.FileMode) error {
	defer f.forget()
	p := f.abs(name)
	err := f.h.Mkdir(ctx, p)
	if err == nil {
		return nil
	}
	if ftppool.ErrorKind(err) == ftppool.KindExists {
		return &os.PathError{Op: "mkdir", Path: name, Err: os.ErrExist}
	}
	// Servers refuse a MKD below a missing folder as if it were a matter
	// of permission (553): say which it is.
	if pe, perr := f.h.Stat(ctx, path.Dir(p)); (perr != nil && ftppool.ErrorKind(perr) == ftppool.KindNotFound) || (perr == nil && pe.Type != ftppool.TypeDir) {
		return &os.PathError{Op: "mkdir", Path: name, Err: os.ErrNotExist}
	}
	return f.osError("mkdir", name, err)
}

// RemoveAll deletes a file, or a folder with all it holds (a walk under
// the request's budget; links go as themselves).
func (f *fileSystem) RemoveAll(ctx context.Context, name string) error {
	defer f.forget()
	p := f.abs(name)
	if p == f.root {
		return f.fail(errHome)
	}
	if _, err := f.h.Remove(ctx, p, true); err != nil {
		return f.osError("remove", name, err)
	}
	return nil
}

// Rename is MOVE, with RNFR and RNTO. A missing target folder is a
// conflict (409), which x/net/webdav would call 403.
func (f *fileSystem) Rename(ctx context.Context, oldName, newName string) error {
	defer f.forget()
	from, to := f.abs(oldName), f.abs(newName)
	if from == f.root {
		return f.fail(errHome)
	}
	err := f.h.Rename(ctx, from, to)
	if err == nil {
		return nil
	}
	if _, perr := f.h.Stat(ctx, path.Dir(to)); perr != nil && ftppool.ErrorKind(perr) == ftppool.KindNotFound {
		return f.fail(&conflictError{msg: "The folder to move into is not there."})
	}
	return f.osError("rename", oldName, err)
}

// OpenFile opens name for x/net/webdav. Opening to read costs nothing but
// a Stat (none for a listed entry): the RETR waits for the first Read, so
// PROPFIND, which opens every entry, never opens a data connection. A
// create (PUT, COPY, LOCK of a new name) returns a file whose bytes stream
// into one STOR of a temporary name, renamed into place on Close.
func (f *fileSystem) OpenFile(ctx context.Context, name string, flag int, _ os.FileMode) (xdav.File, error) {
	if flag&os.O_CREATE == 0 {
		// Read, or PROPPATCH's O_RDWR, which writes no bytes.
		e, err := f.stat(ctx, name)
		if err != nil {
			return nil, err
		}
		if e.Type == ftppool.TypeDir {
			return &dirFile{fs: f, ctx: ctx, name: name, e: e}, nil
		}
		return &readFile{fs: f, ctx: ctx, name: name, e: e}, nil
	}
	p := f.abs(name)
	if p == f.root {
		return nil, f.fail(ftppool.ErrIsDir)
	}
	// A COPY onto a folder names it with a slash at the end.
	parent, err := f.stat(ctx, path.Dir(path.Clean("/"+name)))
	if err != nil || parent.Type != ftppool.TypeDir {
		if err == nil || os.IsNotExist(err) {
			// RFC 4918 9.7.1: a PUT into a missing folder is 409.
			return nil, &os.PathError{Op: "open", Path: name, Err: os.ErrNotExist}
		}
		return nil, err
	}
	if flag&os.O_EXCL != 0 {
		if _, err := f.stat(ctx, name); err == nil {
			return nil, &os.PathError{Op: "open", Path: name, Err: os.ErrExist}
		}
	}
	return &writeFile{fs: f, ctx: ctx, name: name, abs: p}, nil
}

// put stores src at abs as a transfer (op "upload" for a PUT, "copy" for
// a COPY), through ftppool's temporary name and rename.
func (f *fileSystem) put(ctx context.Context, abs string, src io.Reader) (int64, error) {
	defer f.forget()
	op, total, cut := "upload", f.putSize, f.cut
	if rf, ok := src.(*readFile); ok {
		op, total, cut = "copy", rf.e.Size, nil
	}
	x := f.begin(ctx, op, abs)
	x.Start(total, cut)
	check := f.check
	if op != "upload" {
		check = nil // a COPY's target: If-Match is about the PUT's
	}
	_, err := f.h.PutIf(x.Context(), abs, src, true, x.Add, check)
	n := x.Event().Bytes
	x.End(err, func(err error) string { return "The upload failed: " + err.Error() })
	if err != nil {
		return n, f.fail(err)
	}
	return n, nil
}

// fileInfo is a listing entry as os.FileInfo. It knows its content type
// (from the name: reading the file to sniff it would be a RETR per file)
// and ETag (from size and time), so a PROPFIND asks the server nothing
// more per entry.
type fileInfo struct{ e ftppool.Entry }

var (
	_ xdav.ContentTyper = fileInfo{}
	_ xdav.ETager       = fileInfo{}
)

func (i fileInfo) Name() string { return i.e.Name }

func (i fileInfo) Size() int64 { return max(i.e.Size, 0) } // a size the server would not say reads 0

func (i fileInfo) Mode() fs.FileMode {
	if i.IsDir() {
		return fs.ModeDir | 0o755
	}
	return 0o644
}

func (i fileInfo) ModTime() time.Time { return i.e.Modified }
func (i fileInfo) IsDir() bool        { return i.e.Type == ftppool.TypeDir }
func (i fileInfo) Sys() any           { return nil }

// ContentType is the type the file's extension says.
func (i fileInfo) ContentType(context.Context) (string, error) {
	return httpfile.ContentType(i.e.Name), nil
}

// ETag is the one the pages' downloads send (httpfile.ETag), so a
// file has one ETag on either front; ErrNotImplemented when the server
// does not tell size and time, and x/net/webdav makes one of what it has.
func (i fileInfo) ETag(context.Context) (string, error) {
	if tag := httpfile.ETag(i.e.Size, i.e.Modified); tag != "" {
		return tag, nil
	}
	return "", xdav.ErrNotImplemented
}

// dirFile is an open folder: Readdir is one listing.
type dirFile struct {
	fs   *fileSystem
	ctx  context.Context
	name string
	e    ftppool.Entry
	read bool
}

func (d *dirFile) Close() error                   { return nil }
func (d *dirFile) Read([]byte) (int, error)       { return 0, ftppool.ErrIsDir }
func (d *dirFile) Write([]byte) (int, error)      { return 0, ftppool.ErrIsDir }
func (d *dirFile) Seek(int64, int) (int64, error) { return 0, ftppool.ErrIsDir }
func (d *dirFile) Stat() (os.FileInfo, error)     { return fileInfo{d.e}, nil }

// Readdir lists the folder once; every entry is then known to the
// request's Stat and OpenFile. Links are asked about one by one (a CWD on
// the control connection) to show a link to a folder as a folder.
func (d *dirFile) Readdir(count int) ([]fs.FileInfo, error) {
	if d.read {
		if count > 0 {
			return nil, io.EOF
		}
		return nil, nil
	}
	d.read = true
	p := d.fs.abs(d.name)
	entries, err := d.fs.h.List(d.ctx, p)
	if err != nil {
		return nil, d.fs.osError("readdir", d.name, err)
	}
	out := make([]fs.FileInfo, 0, len(entries))
	learnt := make(map[string]ftppool.Entry, len(entries))
	for _, e := range entries {
		if e.Name == "" || e.Name == "." || e.Name == ".." || strings.Contains(e.Name, "/") {
			continue
		}
		full := path.Join(p, e.Name)
		if e.Type == ftppool.TypeLink {
			e.Type = ftppool.TypeFile
			if dir, _ := d.fs.h.IsFolder(d.ctx, full); dir {
				e.Type = ftppool.TypeDir
			}
		}
		learnt[full] = e
		out = append(out, fileInfo{e})
	}
	d.fs.mu.Lock()
	for k, v := range learnt {
		d.fs.known[k] = v
	}
	d.fs.mu.Unlock()
	return out, nil
}

// readFile is a file opened to read. The RETR starts at the first Read,
// from where Seek left the position (REST), on a connection held from
// then until Close.
type readFile struct {
	fs   *fileSystem
	ctx  context.Context
	name string
	e    ftppool.Entry
	f    *ftppool.File
	pos  int64
}

func (r *readFile) open() error {
	if r.f != nil {
		return nil
	}
	f, err := r.fs.h.Open(r.ctx, r.fs.abs(r.name))
	if err != nil {
		return r.fs.fail(err)
	}
	if _, err := f.Seek(r.pos, io.SeekStart); err != nil {
		f.Close()
		return err
	}
	r.f = f
	return nil
}

func (r *readFile) Read(b []byte) (int, error) {
	if err := r.open(); err != nil {
		return 0, err
	}
	n, err := r.f.Read(b)
	r.pos += int64(n)
	if err != nil && err != io.EOF {
		return n, r.fs.fail(err)
	}
	return n, err
}

func (r *readFile) Seek(offset int64, whence int) (int64, error) {
	if r.f != nil {
		pos, err := r.f.Seek(offset, whence)
		r.pos = pos
		return pos, err
	}
	switch whence {
	case io.SeekCurrent:
		offset += r.pos
	case io.SeekEnd:
		if r.e.Size < 0 {
			return 0, errors.New("seek from end: the server does not say the size")
		}
		offset += r.e.Size
	}
	if offset < 0 {
		return 0, errors.New("seek before start")
	}
	r.pos = offset
	return offset, nil
}

func (r *readFile) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

func (r *readFile) Write([]byte) (int, error)          { return 0, errRandomWrite }
func (r *readFile) Readdir(int) ([]fs.FileInfo, error) { return nil, ftppool.ErrNotFolder }
func (r *readFile) Stat() (os.FileInfo, error)         { return fileInfo{r.e}, nil }

// writeFile is a file being written: its bytes go, in order, into one
// STOR of a temporary name (ftppool's Put), renamed into place once the
// server has them all. io.Copy, which is how x/net/webdav writes a PUT's
// body and a COPY's source, hands the reader itself to ReadFrom, so the
// body streams into the STOR with nothing in between; plain Writes go
// through a pipe into the same Put. Nothing is buffered whole, and a write
// anywhere but at the end is errRandomWrite.
type writeFile struct {
	fs   *fileSystem
	ctx  context.Context
	name string
	abs  string

	started bool
	n       int64 // bytes written
	pw      *io.PipeWriter
	done    chan struct{}
	err     error // the Put's, once done is closed
	stored  bool  // the file is on the server
	broken  error // a write that FTP cannot do was asked for: nothing is stored
}

// ReadFrom stores everything src holds.
func (w *writeFile) ReadFrom(src io.Reader) (int64, error) {
	if w.started {
		// Writes came first: keep to the pipe, in order.
		return io.Copy(writerOnly{w}, src)
	}
	w.started = true
	n, err := w.fs.put(w.ctx, w.abs, src)
	w.n, w.stored, w.err = n, err == nil, err
	return n, err
}

func (w *writeFile) Write(b []byte) (int, error) {
	if w.broken != nil {
		return 0, w.broken
	}
	if !w.started {
		w.started = true
		pr, pw := io.Pipe()
		w.pw, w.done = pw, make(chan struct{})
		go func() {
			_, err := w.fs.put(w.ctx, w.abs, pr)
			w.err = err
			pr.CloseWithError(err)
			close(w.done)
		}()
	}
	if w.pw == nil {
		return 0, errors.New("the file was already written")
	}
	n, err := w.pw.Write(b)
	w.n += int64(n)
	if err != nil {
		<-w.done
		if w.err != nil {
			return n, w.err
		}
	}
	return n, err
}

// Seek allows only where the next byte goes anyway (io.Copy and http
// code ask where they are).
func (w *writeFile) Seek(offset int64, whence int) (int64, error) {
	pos := offset
	switch whence {
	case io.SeekCurrent:
		pos = w.n + offset
	case io.SeekEnd:
		pos = w.n + offset
	}
	if pos != w.n {
		// What went up so far must not become the file: the upload is
		// abandoned (its temporary name removed) now, and Close says why.
		w.broken = errRandomWrite
		if w.pw != nil {
			w.pw.CloseWithError(errRandomWrite)
		}
		return w.n, w.fs.fail(errRandomWrite)
	}
	return pos, nil
}

// Close ends the upload: the temporary file is renamed into place. A file
// opened to write and never written (LOCK of a new name, an empty PUT)
// becomes an empty file.
func (w *writeFile) Close() error {
	switch {
	case w.broken != nil:
		if w.pw != nil {
			<-w.done
			w.pw = nil
		}
		w.started = true
		return w.broken
	case !w.started:
		w.started = true
		_, w.err = w.fs.put(w.ctx, w.abs, strings.NewReader(""))
		w.stored = w.err == nil
	case w.pw != nil:
		w.pw.Close()
		<-w.done
		w.pw = nil
		w.stored = w.err == nil
	}
	return w.err
}

// Stat is what the server now holds, for the ETag of the answer to a PUT;
// before the rename, what has been written so far.
func (w *writeFile) Stat() (os.FileInfo, error) {
	if w.stored {
		if e, err := w.fs.h.Stat(w.ctx, w.abs); err == nil {
			e.Name = path.Base(w.abs)
			return fileInfo{e}, nil
		}
	}
	return fileInfo{ftppool.Entry{Name: path.Base(w.abs), Size: w.n, Modified: time.Now()}}, nil
}

func (w *writeFile) Read([]byte) (int, error)           { return 0, errors.New("the file is open for writing") }
func (w *writeFile) Readdir(int) ([]fs.FileInfo, error) { return nil, ftppool.ErrNotFolder }

// writerOnly hides ReadFrom from io.Copy.
type writerOnly struct{ io.Writer }
