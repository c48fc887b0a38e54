package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/realftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
)

// TestFileOps makes, renames, counts and deletes folders and files through
// the JSON API, against the embedded server, vsftpd and proftpd, and checks
// the server's disk after every step.
func TestFileOps(t *testing.T) {
	type server struct {
		root, addr, user, pass string
	}
	for _, start := range []struct {
		name string
		fn   func(t *testing.T) server
	}{
		{"embedded", func(t *testing.T) server {
			s := testftp.Start(t, embedftp.Options{})
			return server{s.Root, s.Addr(), testftp.User, testftp.Password}
		}},
		{"vsftpd", func(t *testing.T) server {
			root := t.TempDir()
			s := realftp.StartVsftpd(t, realftp.Options{Root: root, Writable: true})
			return server{s.Root, s.Addr, s.User, s.Password}
		}},
		{"proftpd", func(t *testing.T) server {
			root := t.TempDir()
			s := realftp.StartProFTPD(t, realftp.Options{Root: root, Writable: true})
			return server{s.Root, s.Addr, s.User, s.Password}
		}},
	} {
		t.Run(start.name, func(t *testing.T) {
			srv := start.fn(t)
			b := startBridge(t, "-allow-hosts", "127.0.0.1")
			client := &http.Client{Transport: basicAuth{srv.user, srv.pass}}
			u := func(p string) string { return addrURL(b, "ftp", srv.user, srv.addr, p, strings.HasSuffix(p, "/")) }
			disk := func(p string) string { return filepath.Join(srv.root, filepath.FromSlash(p)) }
			exists := func(p string) bool { _, err := os.Lstat(disk(p)); return err == nil }

			type step struct {
				name, method, url string
				form              url.Values
				status            int
				check             func(t *testing.T, body map[string]any)
			}
			steps := []step{
				{"mkdir", "POST", u("/") + "?op=mkdir", url.Values{"name": {"work"}}, 201, func(t *testing.T, body map[string]any) {
					if !exists("/work") || body["path"] != "/work/" {
						t.Errorf("folder made: %v, answer %v", exists("/work"), body)
					}
				}},
				{"mkdir again", "POST", u("/") + "?op=mkdir", url.Values{"name": {"work"}}, 409, nil},
				{"mkdir with a slash", "POST", u("/") + "?op=mkdir", url.Values{"name": {"a/b"}}, 400, nil},
				{"mkdir nested", "POST", u("/work/") + "?op=mkdir", url.Values{"name": {"deep er"}}, 201, nil},
				{"put a file", "PUT", u("/work/deep er/f.txt"), nil, 201, nil},
				{"put another", "PUT", u("/work/g.txt"), nil, 201, nil},
				{"rename a file", "POST", u("/work/g.txt") + "?op=rename", url.Values{"to": {"h.txt"}}, 200, func(t *testing.T, _ map[string]any) {
					if exists("/work/g.txt") || !exists("/work/h.txt") {
						t.Error("g.txt was not renamed to h.txt")
					}
				}},
				{"rename onto an existing file", "POST", u("/work/h.txt") + "?op=rename", url.Values{"to": {"deep er/f.txt"}}, 409, func(t *testing.T, _ map[string]any) {
					if b, _ := os.ReadFile(disk("/work/deep er/f.txt")); string(b) != "/work/deep er/f.txt" {
						t.Errorf("the existing file was touched: %q", b)
					}
				}},
				{"move a file up by a relative path", "POST", u("/work/deep er/f.txt") + "?op=rename", url.Values{"to": {"../f2.txt"}}, 200, func(t *testing.T, _ map[string]any) {
					if !exists("/work/f2.txt") || exists("/work/deep er/f.txt") {
						t.Error("f.txt was not moved to /work/f2.txt")
					}
				}},
				{"rename a folder by an absolute path", "POST", u("/work/deep er/") + "?op=rename", url.Values{"to": {"/work/deeper"}}, 200, func(t *testing.T, body map[string]any) {
					if !exists("/work/deeper") || body["path"] != "/work/deeper/" {
						t.Errorf("folder renamed: %v, answer %v", exists("/work/deeper"), body)
					}
				}},
				{"count", "GET", u("/work/") + "?op=count", nil, 200, func(t *testing.T, body map[string]any) {
					if body["files"] != 2.0 || body["folders"] != 1.0 {
						t.Errorf("count: %v, want 2 files and 1 folder", body)
					}
				}},
				{"delete a full folder without recursive", "DELETE", u("/work/"), nil, 409, func(t *testing.T, _ map[string]any) {
					if !exists("/work/h.txt") {
						t.Error("a refused delete removed something")
					}
				}},
				{"delete a file", "POST", u("/work/h.txt") + "?op=delete", nil, 200, func(t *testing.T, body map[string]any) {
					if exists("/work/h.txt") || body["deleted"] != 1.0 {
						t.Errorf("h.txt still there: %v, answer %v", exists("/work/h.txt"), body)
					}
				}},
				{"delete recursively", "DELETE", u("/work/") + "?recursive=1", nil, 200, func(t *testing.T, body map[string]any) {
					// /work, /work/deeper, /work/f2.txt
					if exists("/work") || body["deleted"] != 3.0 {
						t.Errorf("work still there: %v, answer %v", exists("/work"), body)
					}
				}},
				{"delete what is gone", "DELETE", u("/work/h.txt"), nil, 404, nil},
				{"delete the root", "DELETE", u("/") + "?recursive=1", nil, 400, nil},
			}
			for _, s := range steps {
				var body io.Reader
				if s.form != nil {
					body = strings.NewReader(s.form.Encode())
				}
				if s.method == "PUT" {
					p, _ := url.PathUnescape(strings.SplitN(strings.TrimPrefix(s.url, b.URL+"/"), "/", 3)[2])
					body = strings.NewReader("/" + p)
				}
				req, _ := http.NewRequest(s.method, s.url, body)
				if s.form != nil {
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				}
				req.Header.Set("Accept", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != s.status {
					t.Fatalf("%s: %d %s, want %d", s.name, resp.StatusCode, raw, s.status)
				}
				var answer map[string]any
				if err := json.Unmarshal(raw, &answer); err != nil {
					t.Fatalf("%s: answer is not JSON: %s", s.name, raw)
				}
				if resp.StatusCode >= 400 && answer["error"] == "" {
					t.Errorf("%s: error without words: %s", s.name, raw)
				}
				if s.check != nil {
					t.Run(s.name, func(t *testing.T) { s.check(t, answer) })
				}
			}
		})
	}
}

// TestMetrics: /metrics on -metrics-listen shows a finished download, its
// bytes, the pooled connection a listing left, how long the FTP operations
// took, and a refused login, in the Prometheus text format.
func TestMetrics(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{}, "-metrics-listen", "127.0.0.1:0")
	want := srv.Files["/big.bin"]
	if resp, body := get(t, nil, siteURL(b, "ftp", "", srv, "/big.bin", false)); resp.StatusCode != 200 || len(body) != len(want) {
		t.Fatalf("download: %d", resp.StatusCode)
	}
	listJSON(t, nil, siteURL(b, "ftp", "", srv, "/", true)) // leaves an idle connection
	if resp, _ := get(t, &http.Client{Transport: basicAuth{testftp.User, "wrong"}}, siteURL(b, "ftp", testftp.User, srv, "/", true)); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	resp, body := get(t, nil, b.Metrics)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	value := func(series string) float64 {
		for line := range strings.Lines(string(body)) {
			if name, v, ok := strings.Cut(strings.TrimSpace(line), " "); ok && name == series {
				f, err := strconv.ParseFloat(v, 64)
				if err == nil {
					return f
				}
			}
		}
		t.Errorf("no series %s in:\n%s", series, body)
		return -1
	}
	host := srv.Addr()
	for series, ok := range map[string]func(float64) bool{
		`ftpbridge_transfers_total{op="download",state="done"}`: func(v float64) bool { return v == 1 },
		`ftpbridge_transfers_active{op="download"}`:             func(v float64) bool { return v == 0 },
		`ftpbridge_transfer_bytes_total{direction="down"}`:      func(v float64) bool { return v == float64(len(want)) },
		`ftpbridge_pool_open_connections{host="` + host + `"}`:  func(v float64) bool { return v >= 1 },
		`ftpbridge_pool_busy_connections{host="` + host + `"}`:  func(v float64) bool { return v == 0 },
		`ftpbridge_ftp_operation_seconds_count{result="ok"}`:    func(v float64) bool { return v >= 2 },
		`ftpbridge_ftp_login_failures_total`:                    func(v float64) bool { return v == 1 },
		`ftpbridge_pool_waiting_requests{host="` + host + `"}`:  func(v float64) bool { return v == 0 },
	} {
		if v := value(series); v >= 0 && !ok(v) {
			t.Errorf("%s = %v", series, v)
		}
	}
}

// TestProfiler: -pprof serves Go's profiler on its own loopback address,
// never on the bridge's port, and refuses any other address.
func TestProfiler(t *testing.T) {
	err := run(t.Context(), []string{"ftpbridge", "-listen", "127.0.0.1:0", "-data-dir", t.TempDir(), "-pprof", "0.0.0.0:0"},
		func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("-pprof on all interfaces: %v, want a refusal", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // a free port for the profiler
	b := startBridge(t, "-pprof", addr)
	if resp, _ := get(t, nil, "http://"+addr+"/debug/pprof/"); resp.StatusCode != 200 {
		t.Errorf("profiler: %d", resp.StatusCode)
	}
	if resp, _ := get(t, nil, b.URL+"/debug/pprof/"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("profiler on the bridge's own port: %d, want 404", resp.StatusCode)
	}
}

// TestMetricsOffTheMainPort: the scrape names the FTP servers in use, so
// it is never on the bridge's own port, and off unless -metrics-listen
// asks; on its own listener it answers to IP addresses and -hosts names,
// not to a name some page pointed at it.
func TestMetricsOffTheMainPort(t *testing.T) {
	for _, args := range [][]string{nil, {"-metrics-listen", "127.0.0.1:0"}} {
		b := startBridge(t, args...)
		if resp, body := get(t, nil, b.URL+"/metrics"); resp.StatusCode != http.StatusNotFound || strings.Contains(string(body), "ftpbridge_") {
			t.Errorf("%v: /metrics on the main port: %d %.200s, want 404", args, resp.StatusCode, body)
		}
		if args == nil {
			if b.Metrics != "" {
				t.Errorf("metrics served at %s without -metrics-listen", b.Metrics)
			}
			continue
		}
		if resp, body := get(t, nil, b.Metrics); resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "ftpbridge_") {
			t.Errorf("%s: %d %.200s", b.Metrics, resp.StatusCode, body)
		}
		for host, want := range map[string]int{"localhost": http.StatusOK, "rebind.attacker.example": http.StatusMisdirectedRequest} {
			req := mustRequest(http.MethodGet, b.Metrics)
			req.Host = host
			if resp, body := doReq(t, http.DefaultClient, req); resp.StatusCode != want {
				t.Errorf("%s as %s: %d %.200s, want %d", b.Metrics, host, resp.StatusCode, body, want)
			}
		}
	}
}
