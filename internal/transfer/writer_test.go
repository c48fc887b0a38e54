package transfer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
)

// source is a Source that moves at most what it is asked, records the
// sizes asked for, and fails as told once its bytes are out.
type source struct {
	data  []byte
	end   error // after the data: io.EOF, or a failure to read
	asked []int64
}

func (s *source) CopyTo(w io.Writer, n int64, buf []byte) (int64, error) {
	s.asked = append(s.asked, n)
	if len(s.data) == 0 {
		return 0, s.end
	}
	k := min(n, int64(len(s.data)), int64(len(buf)))
	m, err := w.Write(s.data[:k])
	s.data = s.data[m:]
	if err != nil {
		return int64(m), &wrote{err}
	}
	return int64(m), nil
}

// Read makes source an io.Reader, as ftppool.File is; ReadFrom must not
// use it.
func (s *source) Read([]byte) (int, error) { return 0, errors.New("read instead of CopyTo") }

// wrote is source's word for a failure of the writer (ftppool.WriteError).
type wrote struct{ err error }

func (e *wrote) Error() string { return "write: " + e.err.Error() }
func (e *wrote) Unwrap() error { return e.err }

func isWrote(err error) bool { return errors.As(err, new(*wrote)) }

// sink takes at most room bytes, then fails.
type sink struct {
	bytes.Buffer
	room int
}

var errFull = errors.New("sink full")

func (s *sink) Write(p []byte) (int, error) {
	if len(p) > s.room {
		n, _ := s.Buffer.Write(p[:s.room])
		s.room = 0
		return n, errFull
	}
	s.room -= len(p)
	return s.Buffer.Write(p)
}

// TestWriterDownloads: a download through a Writer counts what the
// receiver took, moves a Source in chunks of at most 1 MiB within the
// limit ServeContent sets, and ends done, short, or failed on the right
// side.
func TestWriterDownloads(t *testing.T) {
	const size = 3<<20 + 5
	errRead := errors.New("connection reset")
	describe := func(err error) string {
		switch {
		case errors.As(err, new(*SendError)):
			return "send"
		case errors.Is(err, ErrShort):
			return "short"
		}
		return "source: " + err.Error()
	}
	for _, c := range []struct {
		name      string
		data      int   // bytes the source has
		end       error // after them
		limit     int64 // what ServeContent asks for; 0: no io.LimitedReader
		room      int   // what the receiver takes
		plain     bool  // an io.Reader that is no Source
		wantBytes int64
		wantState State
		wantMsg   string
	}{
		{name: "whole", data: size, end: io.EOF, limit: size, room: size, wantBytes: size, wantState: Done},
		{name: "a range", data: size, end: io.EOF, limit: 2<<20 + 1, room: size, wantBytes: 2<<20 + 1, wantState: Done},
		{name: "unknown size", data: size, end: io.EOF, room: size, wantBytes: size, wantState: Done},
		{name: "plain reader", data: size, limit: size, room: size, plain: true, wantBytes: size, wantState: Done},
		{name: "source stops short", data: 1 << 20, end: errRead, limit: size, room: size, wantBytes: 1 << 20, wantState: Failed, wantMsg: "short"},
		{name: "receiver goes away", data: size, end: io.EOF, limit: size, room: 1<<20 + 7, wantBytes: 1<<20 + 7, wantState: Failed, wantMsg: "send"},
		{name: "receiver goes away, plain", data: size, limit: size, room: 7, plain: true, wantBytes: 7, wantState: Failed, wantMsg: "send"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := newTracker(Hooks{})
			x := tr.Begin(context.Background(), "o", "download", "ftp://h", "/f")
			total := c.limit
			if total == 0 {
				total = -1
			}
			x.Start(total, nil)
			data := bytes.Repeat([]byte("abcdefg"), c.data/7+1)[:c.data]
			src := &source{data: data, end: c.end}
			var r io.Reader = src
			if c.plain {
				r = bytes.NewReader(data)
			}
			if c.limit > 0 {
				r = &io.LimitedReader{R: r, N: c.limit}
			}
			dst := &sink{room: c.room}
			w := x.Writer(dst, isWrote)
			n, err := w.ReadFrom(r)

			if n != c.wantBytes || w.Written() != c.wantBytes || int64(dst.Len()) != c.wantBytes {
				t.Errorf("moved %d, Written %d, received %d; want %d", n, w.Written(), dst.Len(), c.wantBytes)
			}
			if !bytes.Equal(dst.Bytes(), data[:dst.Len()]) {
				t.Error("the receiver got other bytes than the source's")
			}
			for _, a := range src.asked {
				if a <= 0 || a > chunk {
					t.Errorf("CopyTo asked for %d bytes, want 1 to a chunk (%d)", a, chunk)
				}
			}
			// ServeContent drops the copy's error; the unknown-size path
			// passes it on.
			copyErr := err
			if c.limit > 0 {
				copyErr = nil
			}
			w.End(copyErr, describe)
			ev := x.Event()
			if ev.Bytes != c.wantBytes || ev.State != c.wantState || ev.Error != c.wantMsg {
				t.Errorf("final event: %d bytes, %s, %q; want %d, %s, %q", ev.Bytes, ev.State, ev.Error, c.wantBytes, c.wantState, c.wantMsg)
			}
			if sent := c.wantMsg == "send"; errors.Is(w.Err(), errFull) != sent || (w.Err() == nil) == sent {
				t.Errorf("Err: %v, want the receiver's failure: %v", w.Err(), sent)
			}
		})
	}
}

// TestWriterWriteCounts: plain writes count as the transfer's bytes, and a
// failure of the receiver is kept as the first one.
func TestWriterWriteCounts(t *testing.T) {
	tr := newTracker(Hooks{})
	x := tr.Begin(context.Background(), "o", "zip", "ftp://h", "/d")
	x.Start(-1, nil)
	dst := &sink{room: 10}
	w := x.Writer(dst, isWrote)
	for i, want := range []error{nil, nil, errFull, errFull} {
		if _, err := fmt.Fprint(w, "abcd"); !errors.Is(err, want) {
			t.Fatalf("write %d: %v, want %v", i, err, want)
		}
	}
	if w.Written() != 10 || x.Event().Bytes != 10 || !errors.Is(w.Err(), errFull) {
		t.Errorf("Written %d, event bytes %d, Err %v; want 10, 10, %v", w.Written(), x.Event().Bytes, w.Err(), errFull)
	}
}
