package main

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
)

func TestDownloadRangeAndConditionals(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	u := siteURL(b, "ftp", "", srv, "/big.bin", false)
	want := srv.Files["/big.bin"]

	resp, body := get(t, nil, u, "Range", "bytes=1000-1999")
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, want[1000:2000]) {
		t.Fatalf("range: status %d, %d bytes, identical=%v", resp.StatusCode, len(body), bytes.Equal(body, want[1000:2000]))
	}
	if cr := resp.Header.Get("Content-Range"); cr != fmt.Sprintf("bytes 1000-1999/%d", len(want)) {
		t.Errorf("Content-Range = %q", cr)
	}
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Last-Modified") == "" {
		t.Fatalf("no ETag or Last-Modified: %v", resp.Header)
	}

	tests := []struct {
		name   string
		header []string
		status int
		body   []byte
	}{
		{"suffix range", []string{"Range", "bytes=-10"}, 206, want[len(want)-10:]},
		{"open range", []string{"Range", fmt.Sprintf("bytes=%d-", len(want)-5)}, 206, want[len(want)-5:]},
		{"unsatisfiable", []string{"Range", fmt.Sprintf("bytes=%d-", len(want)+10)}, 416, nil},
		{"if-range matches", []string{"Range", "bytes=0-9", "If-Range", etag}, 206, want[:10]},
		{"if-range stale", []string{"Range", "bytes=0-9", "If-Range", `"stale"`}, 200, want},
		{"if-none-match", []string{"If-None-Match", etag}, 304, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, nil, u, tc.header...)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.body != nil && !bytes.Equal(body, tc.body) {
				t.Errorf("body: %d bytes, want %d, identical=%v", len(body), len(tc.body), bytes.Equal(body, tc.body))
			}
		})
	}

	head, err := http.Head(u)
	if err != nil {
		t.Fatal(err)
	}
	head.Body.Close()
	if head.StatusCode != 200 || head.ContentLength != int64(len(want)) {
		t.Errorf("HEAD: %d, length %d", head.StatusCode, head.ContentLength)
	}
	for h, want := range map[string]string{
		"Content-Disposition":     "attachment; filename=big.bin",
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "sandbox",
		"Accept-Ranges":           "bytes",
	} {
		if got := head.Header.Get(h); !strings.HasPrefix(got, want) {
			t.Errorf("HEAD %s = %q, want %q...", h, got, want)
		}
	}
}

// TestHeadOpensNoDataConnection: HEAD and a 304 answer from SIZE and MDTM
// on the control connection; the FTP server sees no PASV, EPSV or RETR.
func TestHeadOpensNoDataConnection(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	u := siteURL(b, "ftp", "", srv, "/big.bin", false)
	req, _ := http.NewRequest(http.MethodHead, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || resp.ContentLength != int64(len(srv.Files["/big.bin"])) || etag == "" {
		t.Fatalf("HEAD: %d, Content-Length %d, ETag %q", resp.StatusCode, resp.ContentLength, etag)
	}
	if resp, _ := get(t, nil, u, "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", resp.StatusCode)
	}
	cmds := srv.Commands()
	if len(cmds) == 0 {
		t.Fatal("the server recorded no command")
	}
	for _, cmd := range cmds {
		verb, _, _ := strings.Cut(strings.ToUpper(cmd), " ")
		if verb == "PASV" || verb == "EPSV" || verb == "RETR" || verb == "PORT" || verb == "EPRT" {
			t.Errorf("HEAD or 304 made the server see %q; all commands: %q", cmd, cmds)
		}
	}
}

func TestDownloadHeaders(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	for _, tc := range []struct {
		path, query, ctype, disposition string
	}{
		{"/日本語.txt", "", "text/plain; charset=utf-8", `attachment; filename*=utf-8''%E6%97%A5%E6%9C%AC%E8%AA%9E.txt`},
		{"/with space.txt", "?inline=1", "text/plain; charset=utf-8", `inline; filename="with space.txt"`},
		{"/big.bin", "?inline=1", "application/octet-stream", `attachment; filename=big.bin`},
		{`/a #?%&;"'<> b.txt`, "", "text/plain; charset=utf-8", `attachment; filename="a #?%&;\"'<> b.txt"`},
	} {
		resp, _ := get(t, nil, siteURL(b, "ftp", "", srv, tc.path, false)+tc.query)
		if got := resp.Header.Get("Content-Type"); got != tc.ctype {
			t.Errorf("%s: Content-Type %q, want %q", tc.path, got, tc.ctype)
		}
		if got := resp.Header.Get("Content-Disposition"); got != tc.disposition {
			t.Errorf("%s: Content-Disposition %q, want %q", tc.path, got, tc.disposition)
		}
	}
}

// TestAbortedDownloadsLeakNothing aborts 200 downloads mid-stream; the
// bridge must end up with no extra goroutines, files or FTP connections,
// and serve the next request. The FTP server runs in this process too, so
// pooled connections count twice in the fd total; a short idle timeout
// lets the pool close them, and what remains above the baseline is a leak.
func TestAbortedDownloadsLeakNothing(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{}, "-idle-timeout", "1s")
	// Large enough that socket buffers cannot swallow it: the bridge must
	// see the client go away mid-transfer.
	if err := os.Truncate(filepath.Join(srv.Root, "big.bin"), 256<<20); err != nil {
		t.Fatal(err)
	}
	u := siteURL(b, "ftp", "", srv, "/big.bin", false)
	get(t, nil, siteURL(b, "ftp", "", srv, "/", true)) // warm up
	http.DefaultClient.CloseIdleConnections()
	baseG, baseFD := runtime.NumGoroutine(), openSockets(t)

	for i := 0; i < 200; i++ {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.CopyN(io.Discard, resp.Body, 64<<10); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close() // closes the TCP connection mid-body
	}
	http.DefaultClient.CloseIdleConnections()

	if clients := srv.Clients(); clients > 16 {
		t.Errorf("FTP server sees %d control connections after the aborts; the per-host cap is 16", clients)
	}
	resp, body := get(t, nil, siteURL(b, "ftp", "", srv, "/with space.txt", false))
	if resp.StatusCode != 200 || !bytes.Equal(body, srv.Files["/with space.txt"]) {
		t.Fatalf("request after the aborts: %d", resp.StatusCode)
	}
	http.DefaultClient.CloseIdleConnections()
	// The handlers finish asynchronously after the client hangs up and the
	// reaper closes idle connections: wait for the counts to settle, and
	// fail if they do not.
	deadline := time.Now().Add(10 * time.Second)
	for {
		g, fd := runtime.NumGoroutine(), openSockets(t)
		if g <= baseG+5 && fd <= baseFD+2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 200 aborted downloads: %d goroutines (was %d), %d sockets (was %d)", g, baseG, fd, baseFD)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func openSockets(t testing.TB) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd on this system")
	}
	n := 0
	for _, e := range ents {
		// Only sockets: what a download leaks. Pipes of subprocesses that
		// earlier tests started (browsers, daemons) close on their own
		// time and say nothing about this test.
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(target, "socket:") {
			n++
		}
	}
	return n
}

// TestDownloadsReuseTheConnection: a finished download gives its FTP
// connection back whole, so the next one logs in no more. The pool may
// open one spare beside it (for the next download's lookup): six
// downloads one after the other log in at most twice.
func TestDownloadsReuseTheConnection(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	for _, p := range []string{"/big.bin", "/with space.txt", "/big.bin", "/with space.txt", "/big.bin", "/big.bin"} {
		if resp, body := get(t, nil, siteURL(b, "ftp", "", srv, p, false)); resp.StatusCode != 200 || !bytes.Equal(body, srv.Files[p]) {
			t.Fatalf("%s: %d", p, resp.StatusCode)
		}
	}
	logins := 0
	for _, cmd := range srv.Commands() {
		if strings.HasPrefix(cmd, "USER ") {
			logins++
		}
	}
	if logins > 2 {
		t.Errorf("six downloads one after the other logged in %d times, want at most twice: %q", logins, srv.Commands())
	}
}

// TestMultiRangeDownload: several ranges come back as multipart/byteranges,
// each part its bytes. http.ServeContent reads those from a goroutine it
// may leave running when the client goes; the file then takes turns with
// the handler's Close (before, they raced on the FTP connection, which
// could crash the bridge), and the next download is whole.
func TestMultiRangeDownload(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	u := siteURL(b, "ftp", "", srv, "/big.bin", false)
	want := srv.Files["/big.bin"]

	resp, body := get(t, nil, u, "Range", "bytes=0-9,1000-1099")
	mediaType, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != http.StatusPartialContent || err != nil || mediaType != "multipart/byteranges" {
		t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for _, r := range [][2]int{{0, 10}, {1000, 1100}} {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(p)
		if !bytes.Equal(got, want[r[0]:r[1]]) {
			t.Errorf("part %v: %d bytes, identical=%v", r, len(got), bytes.Equal(got, want[r[0]:r[1]]))
		}
	}

	var ranges []string
	for i := range 300 {
		ranges = append(ranges, fmt.Sprintf("%d-%d", i*1000, i*1000))
	}
	for range 5 {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Range", "bytes="+strings.Join(ranges, ","))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.CopyN(io.Discard, resp.Body, 300)
		resp.Body.Close() // gone before the last ranges
	}
	if resp, body := get(t, nil, u); resp.StatusCode != http.StatusOK || !bytes.Equal(body, want) {
		t.Errorf("the next download: status %d, %d bytes, identical=%v", resp.StatusCode, len(body), bytes.Equal(body, want))
	}
}
