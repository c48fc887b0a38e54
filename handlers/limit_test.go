package handlers

import (
	"net/http/httptest"
	"testing"
	"time"
)

func TestFailures(t *testing.T) {
	f := newFailures(2, time.Hour)
	for i := range 2 {
		if wait := f.take("k"); wait != 0 {
			t.Fatalf("try %d: wait %v", i+1, wait)
		}
	}
	if wait := f.take("k"); wait <= 0 || wait > time.Hour {
		t.Fatalf("third try: wait %v, want up to an hour", wait)
	}
	if wait := f.take("other"); wait != 0 {
		t.Errorf("another key waits %v", wait)
	}
	f.giveBack("k")
	if wait := f.take("k"); wait != 0 {
		t.Errorf("after a try was given back: wait %v", wait)
	}
}

func TestClientKey(t *testing.T) {
	for ip, want := range map[string]string{
		"192.0.2.7":            "192.0.2.7",
		"::ffff:192.0.2.7":     "192.0.2.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
		"not an address":       "not an address",
	} {
		if got := clientKey(ip); got != want {
			t.Errorf("clientKey(%q) = %q, want %q", ip, got, want)
		}
	}
}

func TestLoggedPathHidesSecrets(t *testing.T) {
	for path, want := range map[string]string{
		"/s/u21_BCnrKue2uMIYN7IHng/deeper/leaf.txt": "/s/u21_BC…/deeper/leaf.txt",
		"/ftp/alice:secret@host/pub/":               "/ftp/alice:REDACTED@host/pub/",
		"/ftp/host/s/abcdefghijkl":                  "/ftp/host/s/abcdefghijkl",
	} {
		if got := loggedPath(httptest.NewRequest("GET", path, nil)); got != want {
			t.Errorf("loggedPath(%q) = %q, want %q", path, got, want)
		}
	}
}
