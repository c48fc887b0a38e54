package handlers

import (
	"net/http/httptest"
	"testing"
)

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
