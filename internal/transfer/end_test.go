package transfer

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// TestEnd: End decides the final state, tells the metrics hooks once, and
// releases the context in every case.
func TestEnd(t *testing.T) {
	errBroke := errors.New("broke")
	for _, c := range []struct {
		name    string
		start   bool
		cancel  bool
		err     error
		want    State // "" for no transfer at all
		wantMsg string
	}{
		{name: "done", start: true, want: Done},
		{name: "failed", start: true, err: errBroke, want: Failed, wantMsg: "words for broke"},
		{name: "canceled", start: true, cancel: true, err: errBroke, want: Canceled},
		{name: "done though canceled at the end", start: true, cancel: true, want: Done},
		{name: "never started", err: errBroke},
	} {
		t.Run(c.name, func(t *testing.T) {
			var starts, ends []string
			tr := newTracker(Hooks{
				Start: func(op string) { starts = append(starts, op) },
				End:   func(op string, s State) { ends = append(ends, op+" "+string(s)) },
			})
			sub := tr.Subscribe("o")
			defer sub.Close()
			x := tr.Begin(context.Background(), "o", "upload", "ftp://h", "/f")
			if c.start {
				x.Start(10, nil)
			}
			if c.cancel && !tr.Cancel("o", x.ID()) {
				t.Fatal("Cancel found no running transfer")
			}
			x.End(c.err, func(err error) string { return "words for " + err.Error() })
			x.End(errBroke, nil) // a second End changes nothing

			if x.Context().Err() == nil {
				t.Error("the context is not released")
			}
			list := tr.List("o")
			if c.want == "" {
				if len(list) != 0 || len(starts)+len(ends) != 0 || len(sub.Take()) != 0 {
					t.Errorf("a transfer that never started left a trace: list %+v, hooks %v %v", list, starts, ends)
				}
				return
			}
			if len(list) != 1 || list[0].State != c.want || list[0].Error != c.wantMsg {
				t.Fatalf("list: %+v, want one %s transfer with error %q", list, c.want, c.wantMsg)
			}
			if want := "upload " + string(c.want); len(starts) != 1 || len(ends) != 1 || ends[0] != want {
				t.Errorf("hooks heard starts %v, ends %v; want one start and %q", starts, ends, want)
			}
		})
	}
}

// TestBytesBeforeStartAreNotCounted: what goes out before Start (an error
// page) is no transfer's, for the events and the metrics alike.
func TestBytesBeforeStartAreNotCounted(t *testing.T) {
	var hooked int64
	tr := newTracker(Hooks{Bytes: func(_ string, n int64) { hooked += n }})
	x := tr.Begin(context.Background(), "o", "download", "ftp://h", "/f")
	x.Add(100)
	x.Start(50, nil)
	x.Add(50)
	if ev := x.Event(); ev.Bytes != 50 || ev.State != Running || hooked != 50 {
		t.Errorf("event %+v, hook heard %d bytes; want 50 bytes running, 50 heard", ev, hooked)
	}
}

// TestCancelWakesBlockedRead: a cancel ends the context with ErrCanceled
// first, then its cut wakes a read that waits for a silent peer.
func TestCancelWakesBlockedRead(t *testing.T) {
	tr := newTracker(Hooks{})
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	x := tr.Begin(context.Background(), "o", "upload", "ftp://h", "/f")
	var causeAtCut error
	x.Start(-1, func() {
		causeAtCut = context.Cause(x.Context())
		_ = server.SetReadDeadline(time.Unix(1, 0))
	})
	read := make(chan error)
	go func() {
		_, err := server.Read(make([]byte, 1)) // the peer never writes
		read <- err
	}()
	if !tr.Cancel("o", x.ID()) {
		t.Fatal("Cancel found no running transfer")
	}
	err := <-read
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the blocked read returned %v, want a deadline", err)
	}
	if !errors.Is(causeAtCut, ErrCanceled) {
		t.Errorf("when cut ran, the context's cause was %v, want ErrCanceled", causeAtCut)
	}
	x.End(err, nil)
	if ev := x.Event(); ev.State != Canceled {
		t.Errorf("final event %+v, want canceled", ev)
	}
}
