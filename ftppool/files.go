package ftppool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jlaffaye/ftp"
)

// File is an open remote file. It holds its control connection until
// Close, and starts the transfer (RETR, with REST for an offset) only when
// read, so a HEAD request or a 304 never opens a data connection.
type File struct {
	Size    int64     // -1 when the server would not say
	ModTime time.Time // zero when the server would not say

	h      *Handle
	c      *conn
	path   string
	pos    int64 // where the next Read reads
	at     int64 // where the running transfer is, when resp is set
	resp   *ftp.Response
	broken bool // the connection may be out of step: do not reuse it
	// stopCut ends the watch that cuts the data connection when the
	// request's context ends (a cancelled download).
	stopCut func()
}

// Open finds path's size and time and holds a connection for reading it.
// A folder gives ErrIsDir.
func (h *Handle) Open(ctx context.Context, path string) (*File, error) {
	f := &File{h: h, path: path, Size: -1}
	c, err := h.hold(ctx, func(c *conn) error { return f.stat(c) })
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	f.c = c
	f.stopCut = c.cutOnCancel(ctx)
	return f, nil
}

// stat reads the file's size and time; a folder is ErrIsDir.
func (f *File) stat(c *conn) error {
	e, err := lookup(c.sc, f.path)
	if err != nil {
		return err
	}
	if e.Type == TypeDir {
		return ErrIsDir
	}
	f.Size, f.ModTime = e.Size, e.Modified
	return nil
}

// Start begins the transfer now, so that a refusal (no permission) becomes
// an error the caller can still report before sending anything.
func (f *File) Start() error {
	if f.resp != nil && f.at == f.pos {
		return nil
	}
	// A transfer running elsewhere in the file is of no use.
	f.abort()
	resp, err := f.c.sc.RetrFrom(f.path, uint64(f.pos))
	if err != nil {
		if !inStep(err) {
			f.broken = true
		}
		return fmt.Errorf("retrieve %s: %w", f.path, err)
	}
	f.resp, f.at = resp, f.pos
	return nil
}

// Read reads from the current position.
func (f *File) Read(b []byte) (int, error) {
	if err := f.Start(); err != nil {
		return 0, err
	}
	n, err := f.resp.Read(b)
	f.pos += int64(n)
	f.at = f.pos
	if err == io.EOF {
		cerr := f.resp.Close()
		f.resp = nil
		if cerr != nil {
			f.broken = true
			return n, fmt.Errorf("retrieve %s: the server did not confirm the end: %w", f.path, cerr)
		}
		return n, io.EOF
	}
	if err != nil {
		f.abort()
		return n, fmt.Errorf("retrieve %s: %w", f.path, err)
	}
	return n, nil
}

// Seek moves the position. It sends nothing: http.ServeContent seeks to
// the end and back to learn the size, which must not cost a transfer. The
// next Read restarts the transfer with REST if the position moved.
func (f *File) Seek(offset int64, whence int) (int64, error) {
	var pos int64
	switch whence {
	case io.SeekStart:
		pos = offset
	case io.SeekCurrent:
		pos = f.pos + offset
	case io.SeekEnd:
		if f.Size < 0 {
			return 0, errors.New("seek from end: size unknown")
		}
		pos = f.Size + offset
	}
	if pos < 0 {
		return 0, errors.New("seek before start")
	}
	f.pos = pos
	return pos, nil
}

// abortWait bounds how long an aborted transfer waits for the server's
// reply. Some servers (pure-ftpd over TLS) do not answer until their own
// timeout; a connection that slow to recover is cheaper to redial than to
// keep the request waiting for.
const abortWait = 2 * time.Second

// abort ends a transfer early. Closing the data connection makes the server
// answer 426 (or 226); a NOOP then proves the replies are back in step, and
// if anything is off, or the server takes longer than abortWait, the
// connection is not reused.
func (f *File) abort() {
	if f.resp == nil {
		return
	}
	f.c.control.limit(time.Now().Add(abortWait), controlBudget)
	defer f.c.control.limit(time.Time{}, controlBudget)
	err := f.resp.Close()
	f.resp = nil
	if err != nil && !inStep(err) {
		f.broken = true
		return
	}
	if err := f.c.sc.NoOp(); err != nil {
		f.broken = true
	}
}

// Close aborts any transfer and gives the connection back.
func (f *File) Close() error {
	if f.c == nil {
		return nil
	}
	f.stopCut()
	f.abort()
	f.h.p.release(f.c, !f.broken)
	f.c = nil
	return nil
}
