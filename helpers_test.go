package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
	"github.com/ftpbridge/ftpbridge/internal/session"
	"github.com/ftpbridge/ftpbridge/internal/urlpath"
)

// bridge is a running ftpbridge, started through run() as main does.
type bridge struct {
	URL     string
	Metrics string // the scrape's URL, with -metrics-listen
	cancel  context.CancelFunc
	done    chan error
	stopped sync.Once

	Sessions *session.Store // the bridge's own, to count what it keeps
}

// stop shuts the bridge down as SIGTERM would and waits for run to return;
// the test's cleanup does it too, so calling it is needed only to restart.
func (b *bridge) stop(t testing.TB) {
	b.stopped.Do(func() {
		b.cancel()
		if err := <-b.done; err != nil {
			t.Errorf("bridge exited with %v", err)
		}
	})
}

// startBridge runs the real server on a free loopback port with the given
// extra flags and stops it when the test ends.
func startBridge(t testing.TB, args ...string) *bridge {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	b := &bridge{cancel: cancel, done: make(chan error, 1)}
	// Set before the line that says the bridge is up, so read after it.
	ctx = context.WithValue(ctx, sessionsHook{}, func(s *session.Store) { b.Sessions = s })
	// A data folder of its own; a later -data-dir in args wins.
	argv := append([]string{"ftpbridge", "-listen", "127.0.0.1:0", "-log-level", "warn", "-data-dir", t.TempDir()}, args...)
	go func() {
		err := run(ctx, argv, func(string) string { return "" }, pw, testLog{t})
		pw.CloseWithError(io.EOF)
		b.done <- err
	}()
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		cancel()
		t.Fatalf("bridge did not start: %v", <-b.done)
	}
	line := sc.Text()
	if u, ok := strings.CutPrefix(line, "ftpbridge metrics on "); ok {
		b.Metrics = u
		if !sc.Scan() {
			cancel()
			t.Fatalf("bridge did not start: %v", <-b.done)
		}
		line = sc.Text()
	}
	b.URL = strings.TrimSuffix(line[strings.Index(line, "http://"):], "/")
	go func() {
		for sc.Scan() {
		}
	}()
	t.Cleanup(func() { b.stop(t) })
	return b
}

// testLog sends the bridge's log lines to the test's log.
type testLog struct{ t testing.TB }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// startFTP runs the embedded FTP server and a bridge that may reach it.
func startFTP(t testing.TB, o embedftp.Options, bridgeArgs ...string) (*testftp.Server, *bridge) {
	t.Helper()
	srv := testftp.Start(t, o)
	b := startBridge(t, append([]string{"-allow-hosts", "127.0.0.1"}, bridgeArgs...)...)
	return srv, b
}

// siteURL is the bridge URL of an FTP path on srv.
func siteURL(b *bridge, scheme, user string, srv *testftp.Server, ftpPath string, dir bool) string {
	return addrURL(b, scheme, user, srv.Addr(), ftpPath, dir)
}

// addrURL is the bridge URL of an FTP path on the server at addr, for a
// login whose folder is the server's root (chroot, anonymous).
func addrURL(b *bridge, scheme, user, addr, ftpPath string, dir bool) string {
	return homeURL(b, scheme, user, addr, "/", ftpPath, dir)
}

// homeURL is the bridge URL of the absolute FTP path ftpPath on the server
// at addr, for a login whose folder is home.
func homeURL(b *bridge, scheme, user, addr, home, ftpPath string, dir bool) string {
	host, ps, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(ps)
	s := urlpath.Site{Scheme: scheme, User: user, Host: host, Port: port}
	return b.URL + s.URL(home, ftpPath, dir)
}

func get(t testing.TB, c *http.Client, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return resp, body
}

type jsonListing struct {
	Path    string      `json:"path"`
	Home    string      `json:"home"`
	Entries []jsonEntry `json:"entries"`
}

type jsonEntry struct {
	Name     string `json:"name"`
	Href     string `json:"href"`
	Type     string `json:"type"`
	Size     int64  `json:"size"`
	Modified string `json:"modified"`
	Target   string `json:"target"`
}

func listJSON(t testing.TB, c *http.Client, url string) jsonListing {
	t.Helper()
	resp, body := get(t, c, url, "Accept", "application/json")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	var l jsonListing
	if err := json.Unmarshal(body, &l); err != nil {
		t.Fatalf("listing JSON: %v: %s", err, body)
	}
	return l
}

func newJarClient(t testing.TB) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

// checkTree walks the listing from the root and compares every file.
func checkTree(t *testing.T, client *http.Client, b *bridge, scheme, user, addr string, files map[string][]byte) {
	t.Helper()
	seen := map[string]bool{}
	var walk func(dir string)
	walk = func(dir string) {
		l := listJSON(t, client, addrURL(b, scheme, user, addr, dir, true))
		for _, e := range l.Entries {
			full := strings.TrimSuffix(dir, "/") + "/" + e.Name
			if e.Type == "dir" {
				walk(full)
				continue
			}
			want, ok := files[full]
			if !ok {
				// The listing shows names for display; find the exact
				// bytes through the href instead.
				u, _ := url.Parse(b.URL + e.Href)
				full = strings.SplitN(u.EscapedPath(), "/", 4)[3]
				full, _ = url.PathUnescape("/" + full)
				want, ok = files[full]
			}
			if !ok {
				t.Errorf("listing has %q (href %s), which is not in the fixture", e.Name, e.Href)
				continue
			}
			seen[full] = true
			if e.Size != int64(len(want)) {
				t.Errorf("%q: listed size %d, want %d", full, e.Size, len(want))
			}
			resp, body := get(t, client, b.URL+e.Href)
			if resp.StatusCode != http.StatusOK || !bytes.Equal(body, want) {
				t.Errorf("GET %s: status %d, %d bytes, identical=%v", e.Href, resp.StatusCode, len(body), bytes.Equal(body, want))
			}
		}
	}
	walk("/")
	for p := range files {
		if !seen[p] {
			t.Errorf("%q is missing from the listings", p)
		}
	}
}

type basicAuth struct{ user, pass string }

func (a basicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth(a.user, a.pass)
	return http.DefaultTransport.RoundTrip(r)
}

func postForm(t testing.TB, c *http.Client, u string, form url.Values) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func cookie(c *http.Client, base string) string {
	for _, ck := range c.Jar.Cookies(mustURL(base)) {
		if ck.Name == "ftpbridge" {
			return ck.Value
		}
	}
	return ""
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// testCA makes a CA and a server certificate for 127.0.0.1, and returns
// the CA's PEM file and the server's TLS config.
func testCA(t testing.TB) (string, *tls.Config) {
	caFile, _, _, conf := testCAFiles(t)
	return caFile, conf
}

// testCAFiles also writes the server's certificate and key as PEM files,
// for the real daemons.
func testCAFiles(t testing.TB) (caFile, certFile, keyFile string, conf *tls.Config) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ftpbridge test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	caFile, certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for file, block := range map[string]*pem.Block{
		caFile:   {Type: "CERTIFICATE", Bytes: caDER},
		certFile: {Type: "CERTIFICATE", Bytes: der},
		keyFile:  {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return caFile, certFile, keyFile, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
}

func doReq(t *testing.T, c *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", req.Method, req.URL, err)
	}
	return resp, body
}

func mustRequest(method, u string) *http.Request {
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		panic(err)
	}
	return req
}
