// Package testftp starts the embedded FTP server for tests, on 127.0.0.1
// with a port of its own, over a fixture tree of awkward names.
package testftp

import (
	"context"
	"crypto/rand"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
)

// User and Password log in with write access.
const (
	User     = "alice"
	Password = "s3cret pass"
)

// OddNames are file names that break naive bridges: reserved URL and HTML
// characters, spaces, a 200-byte name, bytes that are not UTF-8, and text
// in other scripts.
func OddNames() []string {
	return []string{
		"with space.txt",
		`a #?%&;"'<> b.txt`,
		"latin1-\xe9t\xe9.txt",
		strings.Repeat("n", 196) + ".txt",
		"日本語.txt",
		"percent%20literal.txt",
		"-dash-start.txt",
		"semi;colon.txt",
	}
}

// Tree writes a fixture tree under root and returns each file's FTP path
// and content: the odd names at the top, nested folders, and a 3 MiB file.
func Tree(t testing.TB, root string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{
		"/sub/deeper/leaf.txt": []byte("leaf\n"),
		"/sub/odd #dir/x.txt":  []byte("inside an odd folder\n"),
		"/.hidden":             []byte("hidden\n"),
	}
	for i, name := range OddNames() {
		files["/"+name] = []byte(strings.Repeat(string(rune('a'+i)), 100+i))
	}
	big := make([]byte, 3<<20)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	files["/big.bin"] = big
	for p, data := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// Server is a running test server with its fixture.
type Server struct {
	*embedftp.Server
	Root     string
	Files    map[string][]byte
	commands *commandLog
}

// Commands returns every command line the server received so far, in
// order, from all clients (passwords included: test servers only).
func (s *Server) Commands() []string {
	s.commands.mu.Lock()
	defer s.commands.mu.Unlock()
	return slices.Clone(s.commands.lines)
}

// commandLog is a slog handler that keeps the lines ftpserverlib reports
// receiving (its "Received line" debug record).
type commandLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *commandLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *commandLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *commandLog) WithGroup(string) slog.Handler            { return l }

func (l *commandLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "Received line" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "line" {
			l.mu.Lock()
			l.lines = append(l.lines, a.Value.String())
			l.mu.Unlock()
			return false
		}
		return true
	})
	return nil
}

// Start runs the embedded server over a fresh fixture tree. Options may
// set TLS, timeouts and the like; Root, Users and Anonymous get defaults.
func Start(t testing.TB, o embedftp.Options) *Server {
	t.Helper()
	if o.Root == "" {
		o.Root = t.TempDir()
	}
	if o.Users == nil {
		o.Users = map[string]string{User: Password}
	}
	o.Anonymous = true
	s := &Server{Root: o.Root, Files: Tree(t, o.Root), commands: &commandLog{}}
	if o.Logger == nil {
		o.Logger = slog.New(s.commands)
		o.LogCommands = true
	}
	srv, err := embedftp.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	s.Server = srv
	t.Cleanup(func() { s.Server.Close() })
	return s
}

// Restart replaces the server with a new one on the same port, as an FTP
// daemon restart would: every existing connection is gone.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	srv, err := s.Server.Restart()
	if err != nil {
		t.Fatal(err)
	}
	s.Server = srv
}
