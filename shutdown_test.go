package main

import (
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
)

// TestDrain: on SIGTERM with -drain-delay, /readyz says 503 at once, but
// a request that arrives meanwhile is still served (with Connection:
// close, so its client reconnects, to another bridge behind a load
// balancer), and the bridge stops taking requests only after the delay.
// A page's transfer socket stays open through the drain (closed at its
// start, it would reconnect to this very bridge) and closes at its end.
func TestDrain(t *testing.T) {
	const delay = 3 * time.Second
	srv, b := startFTP(t, embedftp.Options{}, "-drain-delay", delay.String())
	folder := addrURL(b, "ftp", "", srv.Addr(), "/", true)
	if resp, _ := get(t, http.DefaultClient, b.URL+"/readyz"); resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz before SIGTERM: %d", resp.StatusCode)
	}
	// Two sockets: a read that timed out leaves a socket unusable, so the
	// first is for during the drain and the second for after it.
	client := sessionClient(t, b, folder)
	during, _, err := dialEvents(t, b, client, b.URL)
	if err != nil {
		t.Fatal(err)
	}
	after, _, err := dialEvents(t, b, client, b.URL)
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	b.cancel() // what SIGTERM does
	for {
		resp, err := http.Get(b.URL + "/readyz")
		if err != nil {
			t.Fatalf("/readyz during the drain: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
		if time.Since(began) > delay {
			t.Fatalf("/readyz still %d %v after SIGTERM", resp.StatusCode, time.Since(began))
		}
	}
	resp, _ := get(t, http.DefaultClient, folder)
	if resp.StatusCode != http.StatusOK || !resp.Close {
		t.Errorf("a request during the drain: %d, Connection: close %v", resp.StatusCode, resp.Close)
	}
	// Nothing to read yet: a socket closed at the drain's start would
	// have its close frame waiting.
	_ = during.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, _, err := during.ReadMessage(); !isTimeout(err) {
		t.Errorf("the page's socket during the drain: %v, want it open (a read timeout)", err)
	}
	if err := <-b.done; err != nil {
		t.Fatalf("bridge exited with %v", err)
	}
	b.stopped.Do(func() {}) // done is read; the cleanup must not read it again
	if took := time.Since(began); took < delay {
		t.Errorf("the bridge stopped %v after SIGTERM, before its %v drain", took, delay)
	}
	if resp, err := http.Get(folder); err == nil {
		resp.Body.Close()
		t.Errorf("after the drain a request still got %d", resp.StatusCode)
	}
	_ = after.SetReadDeadline(time.Now().Add(10 * time.Second))
	for err == nil {
		_, _, err = after.ReadMessage()
	}
	if isTimeout(err) {
		t.Error("the page's socket is still open after the bridge stopped")
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
