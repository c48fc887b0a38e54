package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/fakeftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/realftp"
)

// TestConnLimitRealVsftpd: vsftpd serves three connections per client
// address (max_per_ip=3) and greets a fourth with 421, and every user of
// the bridge comes from the bridge's one address. 24 downloads at once
// all succeed, byte-identical: the bridge learns the limit, and the
// requests it could not give a connection of their own wait for the three.
// /metrics shows the learned limit.
func TestConnLimitRealVsftpd(t *testing.T) {
	const perIP, downloads = 3, 24
	root := t.TempDir()
	files := map[string][]byte{}
	for i := range 6 {
		b := make([]byte, 256<<10+i)
		rand.Read(b)
		name := fmt.Sprintf("/f%d.bin", i)
		if err := os.WriteFile(filepath.Join(root, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		files[name] = b
	}
	srv := realftp.StartVsftpd(t, realftp.Options{Root: root, MaxPerIP: perIP})
	// Both caps far above vsftpd's limit, so that only what the bridge
	// learns keeps it at three.
	b := startBridge(t, "-allow-hosts", "127.0.0.1", "-max-conns-per-session", "64", "-max-conns-per-host", "64", "-metrics-listen", "127.0.0.1:0")
	client := &http.Client{Transport: basicAuth{srv.User, srv.Password}}

	type result struct {
		name   string
		status int
		body   []byte
		err    error
	}
	results := make(chan result, downloads)
	for i := range downloads {
		name := fmt.Sprintf("/f%d.bin", i%len(files))
		go func() {
			r := result{name: name}
			resp, err := client.Get(addrURL(b, "ftp", srv.User, srv.Addr, name, false))
			if err != nil {
				r.err = err
				results <- r
				return
			}
			defer resp.Body.Close()
			r.status = resp.StatusCode
			var buf bytes.Buffer
			_, r.err = buf.ReadFrom(resp.Body)
			r.body = buf.Bytes()
			results <- r
		}()
	}
	for range downloads {
		r := <-results
		switch {
		case r.err != nil:
			t.Errorf("%s: %v", r.name, r.err)
		case r.status != http.StatusOK:
			t.Errorf("%s: %d %s", r.name, r.status, r.body)
		case !bytes.Equal(r.body, files[r.name]):
			t.Errorf("%s: %d bytes, not the file's %d", r.name, len(r.body), len(files[r.name]))
		}
	}
	if t.Failed() {
		t.Log(logsOf(srv))
	}

	_, body := get(t, nil, b.Metrics)
	host := regexp.QuoteMeta(srv.Addr)
	limit := metricValue(t, body, `ftpbridge_pool_connection_limit\{host="`+host+`"\}`)
	t.Logf("learned connection limit: %d", limit)
	// Three, or fewer: vsftpd counts every connection until its process
	// is reaped, the ones it refused too, so in the first burst it may
	// refuse one while only two are ours.
	if limit < 1 || limit > perIP {
		t.Errorf("learned connection limit %d, want 1 to %d", limit, perIP)
	}
	if open := metricValue(t, body, `ftpbridge_pool_open_connections\{host="`+host+`"\}`); open > perIP {
		t.Errorf("%d connections open, over vsftpd's %d", open, perIP)
	}
}

// metricValue reads one gauge from a scrape.
func metricValue(t *testing.T, scrape []byte, series string) int {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + series + ` (\d+)$`).FindSubmatch(scrape)
	if m == nil {
		t.Fatalf("no %s in /metrics:\n%s", series, scrape)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// TestConnLimitWithNoneOpenIs503: a server that refuses the bridge's
// only connection for too many from its address is busy: 503 with
// Retry-After, quoting the server, not 502.
func TestConnLimitWithNoneOpenIs503(t *testing.T) {
	srv := fakeftp.Start(t)
	srv.Greeting = func(c *fakeftp.Conn) {
		c.Reply(421, "There are too many connections from your internet address.")
		c.Close()
	}
	b := startBridge(t, "-allow-hosts", "127.0.0.1")
	resp, body := get(t, nil, addrURL(b, "ftp", "", srv.Addr(), "/", true), "Accept", "application/json")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("%d, Retry-After %q: %s; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if !strings.Contains(string(body), "too many connections from your internet address") {
		t.Errorf("the answer does not quote the server: %s", body)
	}
}

// TestPerHostCap: with one connection allowed and held by a download, a
// listing waits, then gets 503 with Retry-After.
func TestPerHostCap(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{}, "-max-conns-per-host", "1", "-conn-wait", "200ms")
	if err := os.Truncate(filepath.Join(srv.Root, "big.bin"), 256<<20); err != nil {
		t.Fatal(err)
	}
	held, err := http.Get(siteURL(b, "ftp", "", srv, "/big.bin", false))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Body.Close()
	resp, body := get(t, nil, siteURL(b, "ftp", "", srv, "/", true))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("second request: %d Retry-After=%q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
}
