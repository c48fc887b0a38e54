package transfer

import (
	"errors"
	"io"
	"math"
	"sync"
)

// Source is a download's source that moves itself to a writer, a chunk per
// call: ftppool.File, which has the kernel move the bytes socket to socket
// (splice) when the writer takes readers itself (io.ReaderFrom). CopyTo
// moves at most n bytes, maybe fewer, even none, and is called again until
// it fails; io.EOF is the end. buf is for the bytes that go through the
// process.
type Source interface {
	CopyTo(w io.Writer, n int64, buf []byte) (int64, error)
}

// chunk is the most a Source moves between two counts: one splice(2) of
// Go's (its pipes hold 1 MiB). Larger would let a slow reader see no
// progress for long; smaller costs throughput.
const chunk = 1 << 20

// buffers are the chunks that go through the process, pooled so memory
// stays flat; at these sizes the system calls, not the bytes, are what a
// download costs, so they are larger than io.Copy's 32 KiB.
var buffers = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// ErrShort is a download whose source ended, without a word, before the
// size it announced (http.ServeContent does not report a failed read).
var ErrShort = errors.New("the source ended before its size")

// SendError is a failure of whoever takes a download's bytes: the source
// was fine.
type SendError struct{ Err error }

func (e *SendError) Error() string { return "send: " + e.Err.Error() }
func (e *SendError) Unwrap() error { return e.Err }

// Writer is the sending side of a download or a zip: what w takes is
// counted as the transfer's bytes, and w's first failure is kept apart
// from the source's.
type Writer struct {
	t          *Transfer
	w          io.Writer
	sendFailed func(error) bool
	n          int64
	err        error
}

// Writer writes to w for the transfer. sendFailed tells which errors of a
// Source's CopyTo are w's (ftppool.File says so with a WriteError); every
// error of w.Write is.
func (t *Transfer) Writer(w io.Writer, sendFailed func(error) bool) *Writer {
	return &Writer{t: t, w: w, sendFailed: sendFailed}
}

func (w *Writer) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	w.count(int64(n), err)
	return n, err
}

// ReadFrom is what io.Copy uses (and so http.ServeContent). A Source, also
// inside the io.LimitedReader ServeContent wraps it in, moves itself in
// chunks, each counted; anything else goes through a pooled buffer.
func (w *Writer) ReadFrom(src io.Reader) (int64, error) {
	bp := buffers.Get().(*[]byte)
	defer buffers.Put(bp)
	limit := &io.LimitedReader{R: src, N: math.MaxInt64}
	if lr, ok := src.(*io.LimitedReader); ok {
		limit = lr
	}
	s, ok := limit.R.(Source)
	if !ok {
		return io.CopyBuffer(writerOnly{w}, src, *bp)
	}
	var total int64
	for limit.N > 0 {
		n, err := s.CopyTo(w.w, min(limit.N, chunk), *bp)
		limit.N -= n
		total += n
		var sendErr error
		if err != nil && err != io.EOF && w.sendFailed(err) {
			sendErr = err
		}
		w.count(n, sendErr)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// count counts n bytes w took, and keeps its first failure (err nil: none).
func (w *Writer) count(n int64, err error) {
	w.n += n
	w.t.Add(n)
	if err != nil && w.err == nil {
		w.err = err
	}
}

// Written is how many bytes w took.
func (w *Writer) Written() int64 { return w.n }

// Err is w's first failure, nil if none.
func (w *Writer) Err() error { return w.err }

// End ends a download written through w; err is its source's failure.
// A failure of w's comes first, as a SendError: the source's error after
// it is only its echo. A source that stopped short without one is ErrShort.
func (w *Writer) End(err error, describe func(error) string) {
	ev := w.t.Event()
	switch {
	case w.err != nil:
		err = &SendError{Err: w.err}
	case err == nil && ev.Total >= 0 && ev.Bytes < ev.Total:
		err = ErrShort
	}
	w.t.End(err, describe)
}

// writerOnly hides ReadFrom, so that io.CopyBuffer does the copying.
type writerOnly struct{ io.Writer }
