package ftppool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/jlaffaye/ftp"
)

// File is an open remote file. It holds its control connection until
// Close, and starts the transfer (RETR, with REST for an offset) only when
// read, so a HEAD request or a 304 never opens a data connection.
type File struct {
	Size    int64     // -1 when the server would not say
	ModTime time.Time // zero when the server would not say

	h     *Handle
	c     *conn
	path  string
	pos   int64 // where the next Read reads
	at    int64 // where the running transfer is, when resp is set
	resp  *ftp.Response
	heard time.Time // when the running transfer last brought bytes
	// announced is the size the server's reply to a RETR from the start
	// named, -1 if it named none (see announcedSize).
	announced int64
	broken    bool // the connection may be out of step: do not reuse it
	// stopCut ends the watch that cuts the data connection when the
	// request's context ends (a cancelled download).
	stopCut func()
	ctx     context.Context // the request's: once it ended, a failed send is its side's

	// mu makes the methods take turns: for a request of several ranges,
	// http.ServeContent reads the file from a goroutine that it may leave
	// running when it returns, while the handler closes the file.
	mu sync.Mutex
}

var errClosed = errors.New("the file is closed")

// Open finds path's size and time and holds a connection for reading it.
// A folder gives ErrIsDir.
func (h *Handle) Open(ctx context.Context, path string) (*File, error) {
	f := &File{h: h, path: path, Size: -1}
	c, err := h.hold(ctx, func(c *conn) error { return f.stat(c) })
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	f.c, f.ctx = c, ctx
	f.stopCut = c.cutOnCancel(ctx)
	return f, nil
}

// Retrieve is Open with the transfer begun, for a download of the whole
// file. Where the session has a second idle connection, the size and time
// are asked on it while the first runs EPSV and RETR: against vsftpd,
// which has no MLST, the first byte then comes three round trips after the
// request instead of five (SIZE, MDTM, EPSV, connect, RETR), which is most
// of a small file's time on a distant server. Both answers are in before
// Retrieve returns, so headers never go out on half of them.
func (h *Handle) Retrieve(ctx context.Context, path string) (*File, error) {
	f := &File{h: h, path: path, Size: -1, ctx: ctx}
	c, err := h.hold(ctx, func(c *conn) error {
		f.c = c
		if err := f.statAndStart(); err != nil {
			f.c, f.resp = nil, nil
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	f.stopCut = c.cutOnCancel(ctx)
	return f, nil
}

// errOutOfStep marks a failure after which the connection is not reused
// though the error itself is a plain refusal: the transfer it had begun
// could not be ended cleanly.
var errOutOfStep = errors.New("the connection is out of step after an aborted transfer")

// statAndStart finds the file's size and time and starts the transfer
// from the beginning, on two connections at once where the pool has a
// spare one. The lookup decides what the file is: a folder is ErrIsDir
// whatever RETR said.
func (f *File) statAndStart() error {
	meta := &f.h.p.meta
	// Only a connection whose replies the pool reads (ctl) can see the
	// size a RETR's reply names.
	if e, ok := meta.fresh(f.h.key, f.path); ok && f.c.ctl != nil {
		// Known a moment ago: RETR alone, its reply saying the size.
		err := f.start()
		if err == nil && f.announced == e.size {
			f.Size, f.ModTime = e.size, e.mod
			return nil
		}
		if err != nil && !inStep(err) {
			return err
		}
		// Changed, gone or a folder now: ask as if unknown, on another
		// connection if stopping this transfer put this one out of step.
		meta.forgetFile(f.h.key, f.path)
		if f.abort(); f.broken {
			return errRetryFresh
		}
	}
	gen := meta.generation(f.h.key)
	if err := f.lookupAndStart(); err != nil {
		return err
	}
	if f.announced >= 0 && f.announced == f.Size {
		meta.remember(f.h.key, f.path, gen, f.Size, f.ModTime)
	}
	return nil
}

// lookupAndStart is statAndStart without what is remembered.
func (f *File) lookupAndStart() error {
	spare := f.h.p.spare(f.h.key)
	if spare == nil {
		f.h.p.addSpare(f.h.key, f.h.login)
		return f.statThenStart()
	}
	var (
		e        Entry
		statErr  error
		spareLow bool // the server had dropped the spare
		looked   = make(chan struct{})
	)
	go func() {
		defer close(looked)
		if !f.h.p.healthy(spare) {
			spareLow = true
			return
		}
		e, statErr = lookup(spare.sc, f.path)
		spareLow = dropped(statErr)
	}()
	startErr := f.start()
	<-looked
	f.h.p.release(spare, !spareLow && (statErr == nil || inStep(statErr)))
	if spareLow {
		// Ask on this connection instead, once its transfer is stopped.
		if f.abort(); f.broken {
			return errors.Join(startErr, errOutOfStep)
		}
		return f.statThenStart()
	}
	if statErr == nil && e.Type == TypeDir {
		statErr = ErrIsDir
	}
	if statErr == nil {
		f.Size, f.ModTime = e.Size, e.Modified
		return startErr
	}
	if f.abort(); f.broken {
		return errors.Join(statErr, errOutOfStep)
	}
	return statErr
}

// statThenStart is statAndStart on one connection, one after the other.
func (f *File) statThenStart() error {
	if err := f.stat(f.c); err != nil {
		return err
	}
	return f.start()
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

func (f *File) start() error {
	if f.c == nil {
		return errClosed
	}
	if f.resp != nil && f.at == f.pos {
		return nil
	}
	// A transfer running elsewhere in the file is of no use.
	f.abort()
	var said []byte
	if f.c.ctl != nil {
		f.c.ctl.tap = &said
	}
	resp, err := f.c.sc.RetrFrom(f.path, uint64(f.pos))
	if f.c.ctl != nil {
		f.c.ctl.tap = nil
	}
	f.announced = -1
	if err == nil && f.pos == 0 {
		f.announced = announcedSize(said, f.path)
	}
	if err != nil {
		if !inStep(err) {
			f.broken = true
		}
		return fmt.Errorf("retrieve %s: %w", f.path, err)
	}
	f.resp, f.at, f.heard = resp, f.pos, time.Now()
	return nil
}

// Read reads from the current position.
func (f *File) Read(b []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.read(b)
}

func (f *File) read(b []byte) (int, error) {
	if err := f.start(); err != nil {
		return 0, err
	}
	n, err := f.resp.Read(b)
	f.pos += int64(n)
	f.at = f.pos
	if n > 0 {
		f.heard = time.Now() // CopyTo may splice the rest
	}
	if err == io.EOF {
		return n, f.ended()
	}
	if err != nil {
		f.abort()
		return n, fmt.Errorf("retrieve %s: %w", f.path, err)
	}
	return n, nil
}

// ended closes a transfer the server finished, and gives io.EOF once the
// server confirms it sent everything.
func (f *File) ended() error {
	err := f.resp.Close()
	f.resp = nil
	if err != nil {
		f.broken = true
		return fmt.Errorf("retrieve %s: the server did not confirm the end: %w", f.path, err)
	}
	return io.EOF
}

// WriteError is a failure on the receiving side of CopyTo: the FTP server
// was fine, whoever took the bytes stopped.
type WriteError struct{ Err error }

func (e *WriteError) Error() string { return "send: " + e.Err.Error() }
func (e *WriteError) Unwrap() error { return e.Err }

// spliceAbove is the least CopyTo splices: a small file is a read and a
// write through the process, where a splice takes net/http's first read
// of 512 bytes, then two splices through a pipe.
const spliceAbove = 32 << 10

// copyTick is the longest one CopyTo call waits for the server, so that
// its caller can report the progress of a slow transfer.
const copyTick = time.Second

// CopyTo moves up to n bytes from the current position to w and says how
// many it moved; it may move fewer, even none, and is called again until
// it returns an error, io.EOF at the end of the file. A failure of w comes
// back as a *WriteError.
//
// When the data connection is plain TCP and w takes readers itself
// (io.ReaderFrom, as net/http's response over TCP does), the kernel moves
// the bytes from socket to socket (splice(2)) and they never pass through
// the process; otherwise, and for the last few kilobytes, they go through
// buf.
func (f *File) CopyTo(w io.Writer, n int64, buf []byte) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.start(); err != nil {
		return 0, err
	}
	rf, canTake := w.(io.ReaderFrom)
	data, plain := (*f.c.data.Load()).(*net.TCPConn)
	if !canTake || !plain || f.c.dataTLS || n <= spliceAbove {
		return f.copyThrough(w, n, buf)
	}
	// The deadline comes soon, so that the call returns often; silence
	// fails the transfer only once it lasts IOTimeout, counted from the
	// last bytes, across calls.
	deadline := time.Now().Add(copyTick)
	if silenceEnds := f.heard.Add(f.h.p.cfg.IOTimeout); silenceEnds.Before(deadline) {
		deadline = silenceEnds
	}
	if err := data.SetReadDeadline(deadline); err != nil {
		f.abort()
		return 0, fmt.Errorf("retrieve %s: %w", f.path, err)
	}
	src := &io.LimitedReader{R: data, N: n}
	moved, err := rf.ReadFrom(src)
	f.pos += moved
	f.at = f.pos
	if moved > 0 {
		f.heard = time.Now()
	}
	timedOut := errors.Is(err, os.ErrDeadlineExceeded)
	switch {
	case err == nil && src.N > 0:
		return moved, f.ended() // the server closed the data connection
	case err == nil:
		return moved, nil
	case f.ctx.Err() != nil, errors.Is(err, syscall.EPIPE), timedOut && time.Now().Before(deadline):
		// The request ended (cancelled, or its client went), the send
		// failed, or a deadline came that was not the read's: the
		// sending side's. Bytes may have been lost on the way: abort.
		f.abort()
		return moved, &WriteError{Err: err}
	case timedOut && time.Since(f.heard) < f.h.p.cfg.IOTimeout:
		return moved, nil // only the read's deadline: no bytes lost
	case timedOut || !stillOpen(data):
		f.abort()
		return moved, fmt.Errorf("retrieve %s: %w", f.path, err)
	default:
		f.abort()
		return moved, &WriteError{Err: err}
	}
}

// copyThrough is CopyTo through a buffer, one read at a time.
func (f *File) copyThrough(w io.Writer, n int64, buf []byte) (int64, error) {
	got, rerr := f.read(buf[:min(n, int64(len(buf)))])
	sent, werr := w.Write(buf[:got])
	if werr != nil {
		f.abort()
		return int64(sent), &WriteError{Err: werr}
	}
	return int64(sent), rerr
}

// stillOpen tells, after a splice failed, whether its data connection
// still stands, and so whether the failure was on the other side: a read
// that hardly waits finds more data, or nothing yet, rather than an end
// or an error. (A deadline already past would fail the read unread.)
func stillOpen(c *net.TCPConn) bool {
	if err := c.SetReadDeadline(time.Now().Add(time.Millisecond)); err != nil {
		return false
	}
	var one [1]byte
	n, err := c.Read(one[:])
	return n > 0 || errors.Is(err, os.ErrDeadlineExceeded)
}

// Seek moves the position. It sends nothing: http.ServeContent seeks to
// the end and back to learn the size, which must not cost a transfer. The
// next Read restarts the transfer with REST if the position moved.
func (f *File) Seek(offset int64, whence int) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
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
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.c == nil {
		return nil
	}
	f.stopCut()
	if f.resp != nil && f.at == f.Size {
		// Every byte was read (http.ServeContent reads no further than the
		// size, so never sees the end): the transfer is over, not to be
		// aborted, which would cost a NOOP to get back in step. The
		// server's answer is awaited no longer than an abort's.
		f.c.control.limit(time.Now().Add(abortWait), controlBudget)
		_ = f.ended()
		f.c.control.limit(time.Time{}, controlBudget)
	}
	f.abort()
	f.h.p.release(f.c, !f.broken)
	f.c = nil
	return nil
}
