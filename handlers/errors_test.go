package handlers

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/textproto"
	"os"
	"strings"
	"testing"

	"github.com/ftpbridge/ftpbridge/ftppool"
	"github.com/ftpbridge/ftpbridge/internal/transfer"
)

// TestFTPErrorStatuses: the server's refusals of a write, and the ways an
// upload's body can fail, become the statuses the README
// promises, with words that say what happened.
func TestFTPErrorStatuses(t *testing.T) {
	reply := func(code int, msg string) error {
		return fmt.Errorf("upload /a: %w", &textproto.Error{Code: code, Msg: msg})
	}
	source := func(err error) error { return fmt.Errorf("upload /a: %w", &ftppool.SourceError{Err: err}) }
	for _, tc := range []struct {
		name   string
		err    error
		status int
		words  string
	}{
		{"552 quota", reply(552, "Quota exceeded"), http.StatusInsufficientStorage, "no room"},
		{"452 disk full", reply(452, "Insufficient storage space"), http.StatusInsufficientStorage, "no room"},
		{"553 name refused", reply(553, "Could not create file."), http.StatusForbidden, "a name it does not accept"},
		{"550 permission", reply(550, "Permission denied."), http.StatusForbidden, "no permission"},
		{"a reply quoted as said", reply(530, "Login \"bob\" refused\r\nbye"), http.StatusUnauthorized, `The server said: “530 Login "bob" refused bye”.`},
		{"550 missing", reply(550, "No such file or directory"), http.StatusNotFound, "not found"},
		{"exists", fmt.Errorf("upload /a: %w", ftppool.ErrExists), http.StatusConflict, "already exists"},
		{"not empty", fmt.Errorf("delete /a: %w", ftppool.ErrNotEmpty), http.StatusConflict, "recursive=1"},
		{"too large", source(&http.MaxBytesError{Limit: 1 << 20}), http.StatusRequestEntityTooLarge, "1048576 bytes (1.0 MiB)"},
		{"canceled", source(transfer.ErrCanceled), statusCanceled, "canceled"},
		{"stalled", source(os.ErrDeadlineExceeded), http.StatusRequestTimeout, "stalled"},
		{"broken off", source(errors.New("unexpected EOF")), http.StatusBadRequest, "did not arrive whole"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			he := ftpError(tc.err, `"a"`)
			if he.Status != tc.status || !strings.Contains(he.Msg, tc.words) {
				t.Errorf("got %d %q, want %d and %q in the words", he.Status, he.Msg, tc.status, tc.words)
			}
		})
	}
}

// FuzzDispositionHeader: whatever a file is called, the Content-Disposition
// the bridge sends parses back with mime.ParseMediaType to one filename
// equal to the name as shown, or carries no filename at all; a name can
// never add a parameter of its own ("a\";filename=evil.exe").
func FuzzDispositionHeader(f *testing.F) {
	for _, s := range []string{"report.pdf", `a";filename=evil.exe;x=".txt`, "a\r\nX-Evil: 1", "日本語.txt", "latin1-\xe9", "", `\`, "a;b=c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		shown := display(name)
		h := dispositionHeader("attachment", shown)
		kind, params, err := mime.ParseMediaType(h)
		if err != nil || kind != "attachment" {
			t.Fatalf("%q gives %q, which does not parse: %v", name, h, err)
		}
		if h == "attachment" {
			return
		}
		if len(params) != 1 || params["filename"] != shown {
			t.Fatalf("%q gives %q, which parses to %q", name, h, params)
		}
	})
}
