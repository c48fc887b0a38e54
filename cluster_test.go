package main

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
	"github.com/ftpbridge/ftpbridge/internal/servicetest"
)

// The cluster suite: three bridges, real processes built from this
// package, on one PostgreSQL, one Redis and one key file, behind a real
// HAProxy that balances round robin with no stickiness, so that any
// request may land on any bridge.

// bridgeBinary builds the bridge once per test binary.
var bridgeBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "ftpbridge-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "ftpbridge")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// node is one bridge process of the cluster.
type node struct {
	*servicetest.Process
	URL string // http://127.0.0.1:port, straight to this bridge
}

// start runs the bridge and waits until it listens.
func (n *node) start(t testing.TB) {
	t.Helper()
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
}

// signal sends sig and waits for the bridge to end.
func (n *node) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := n.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// cluster is the whole of it: the FTP server the bridges reach, the
// engines, three bridges and the load balancer in front.
type cluster struct {
	FTP     *testftp.Server
	PG      *servicetest.Process
	Redis   *servicetest.Process
	Nodes   []*node // A, B, C
	LB      string  // http://127.0.0.1:port, through HAProxy
	HAProxy *servicetest.Process
}

// drainDelay is the bridges' -drain-delay here: ten of HAProxy's 100 ms
// health checks.
const drainDelay = time.Second

func startCluster(t *testing.T) *cluster {
	t.Helper()
	ports := servicetest.NewPorts(t)
	c := &cluster{FTP: testftp.Start(t, embedftp.Options{})}
	var pgURL, redisURL string
	c.PG, pgURL = servicetest.Postgres(t, ports)
	c.Redis, redisURL = servicetest.Redis(t, ports)
	// Made once, as an operator would: a named key file must exist.
	keyFile := filepath.Join(t.TempDir(), "cluster.key")
	key := make([]byte, 32)
	rand.Read(key)
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	bin, err := bridgeBinary()
	if err != nil {
		t.Fatal(err)
	}
	var servers strings.Builder
	for _, name := range []string{"A", "B", "C"} {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports.Take(t)))
		n := &node{URL: "http://" + addr, Process: servicetest.NewProcess(name, addr, bin,
			"-listen", addr, "-allow-hosts", "127.0.0.1", "-log-level", "warn",
			"-data-dir", t.TempDir(), "-key-file", keyFile,
			"-database", pgURL, "-redis", redisURL,
			"-drain-delay", drainDelay.String(), "-shutdown-timeout", "20s")}
		c.Nodes = append(c.Nodes, n)
		fmt.Fprintf(&servers, "\tserver %s %s check\n", name, addr)
	}
	for _, n := range c.Nodes {
		n.start(t)
		t.Cleanup(func() {
			n.Stop()
			if t.Failed() {
				t.Logf("bridge %s's log:\n%s", n.Name, n.Log())
			}
		})
	}
	lb := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports.Take(t)))
	c.LB = "http://" + lb
	c.HAProxy = servicetest.HAProxy(t, lb, fmt.Sprintf(haproxyConfig, lb, servers.String()))
	for _, n := range c.Nodes {
		c.waitServedBy(t, n)
	}
	return c
}

// haproxyConfig balances round robin with no stickiness. Health checks
// ask /readyz ten times a second, so a draining bridge is out within
// 100 ms; a request that finds a bridge gone (refused, or a keep-alive
// connection closed under it) is sent to another. The response names the
// bridge that answered.
const haproxyConfig = `global
	maxconn 2000
defaults
	mode http
	timeout connect 2s
	timeout client 60s
	timeout server 60s
	timeout tunnel 60s
	retries 3
	option redispatch 1
	retry-on conn-failure empty-response
frontend bridges
	bind %s
	default_backend bridges
backend bridges
	balance roundrobin
	option httpchk
	http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host 127.0.0.1
	default-server inter 100ms fall 1 rise 1
	http-response set-header X-Bridge %%s
%s`

// waitServedBy waits until HAProxy sends requests to n again.
func (c *cluster) waitServedBy(t testing.TB, n *node) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(c.LB + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.Header.Get("X-Bridge") == n.Name {
				return
			}
		}
	}
	t.Fatalf("HAProxy sent no request to bridge %s in 30 s", n.Name)
}

// node returns the bridge named name.
func (c *cluster) node(name string) *node {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	panic("no bridge " + name)
}

// login connects c to the cluster's FTP server through base (the load
// balancer or one bridge) with password.
func (c *cluster) login(t *testing.T, client *http.Client, base, password string) *http.Response {
	t.Helper()
	host, port, _ := net.SplitHostPort(c.FTP.Addr())
	resp := postForm(t, client, base+"/connect", url.Values{"scheme": {"ftp"}, "host": {host}, "port": {port},
		"user": {testftp.User}, "password": {password}})
	resp.Body.Close()
	return resp
}

// site is the address of an FTP path of the cluster's server, on base.
func (c *cluster) site(base, ftpPath string, dir bool) string {
	return addrURL(&bridge{URL: base}, "ftp", testftp.User, c.FTP.Addr(), ftpPath, dir)
}

// TestClusterSessionOnEveryBridge: a session made through one bridge
// browses through all three, with no stickiness in the load balancer; a
// disconnect through one ends it on every one, and closes its transfer
// socket on another.
func TestClusterSessionOnEveryBridge(t *testing.T) {
	c := startCluster(t)
	client := newJarClient(t)
	if resp := c.login(t, client, c.node("A").URL, testftp.Password); resp.StatusCode != http.StatusOK {
		t.Fatalf("connect through A: %d", resp.StatusCode)
	}
	served := map[string]int{}
	for range 9 {
		resp, body := get(t, client, c.site(c.LB, "/", true), "Accept", "application/json")
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"big.bin"`) {
			t.Fatalf("listing through %s: %d %s", resp.Header.Get("X-Bridge"), resp.StatusCode, body)
		}
		served[resp.Header.Get("X-Bridge")]++
	}
	if len(served) != 3 {
		t.Errorf("the listings were served by %v, want all three bridges", served)
	}
	b := &bridge{URL: c.node("C").URL}
	ws, _, err := dialEvents(t, b, client, b.URL)
	if err != nil {
		t.Fatalf("the session's socket on C: %v", err)
	}
	old := cookie(client, c.LB)
	for _, n := range c.Nodes {
		resp, _ := get(t, http.DefaultClient, c.site(n.URL, "/", true), "Accept", "application/json", "Cookie", "ftpbridge="+old)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("bridge %s answers the session's cookie with %d", n.Name, resp.StatusCode)
		}
	}
	if resp := postForm(t, client, c.node("B").URL+"/disconnect", url.Values{}); resp.StatusCode != http.StatusOK {
		t.Fatalf("disconnect through B: %d", resp.StatusCode)
	}
	for _, n := range c.Nodes {
		// The jar dropped the cookie; the old one is what a thief would hold.
		resp, _ := get(t, http.DefaultClient, c.site(n.URL, "/", true), "Accept", "application/json", "Cookie", "ftpbridge="+old)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("after the disconnect, bridge %s answers the session with %d, want 401", n.Name, resp.StatusCode)
		}
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err = ws.ReadMessage(); err != nil {
			break
		}
	}
	if !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
		t.Errorf("the socket on C after the disconnect on B: %v, want close 1008", err)
	}
}

// TestClusterShareSurvivesRestart: a share made on A downloads through C,
// counts its downloads once across bridges, and still works on A after
// A's restart.
func TestClusterShareSurvivesRestart(t *testing.T) {
	c := startCluster(t)
	a := c.node("A")
	link := makeShare(t, aliceClient(), c.site(a.URL, "/big.bin", false), url.Values{"expires": {"1h"}, "max_downloads": {"2"}})
	token := link.URL[strings.LastIndex(link.URL, "/s/")+3:]
	want := c.FTP.Files["/big.bin"]
	resp, body := get(t, nil, c.node("C").URL+"/s/"+token)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, want) {
		t.Fatalf("the share through C: %d, identical %v", resp.StatusCode, bytes.Equal(body, want))
	}
	a.signal(t, syscall.SIGTERM)
	a.start(t)
	resp, body = get(t, nil, a.URL+"/s/"+token)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, want) {
		t.Fatalf("the share through A after its restart: %d, identical %v", resp.StatusCode, bytes.Equal(body, want))
	}
	// Two downloads allowed, two made (on C and on A): B refuses a third.
	if resp, _ := get(t, nil, c.node("B").URL+"/s/"+token); resp.StatusCode != http.StatusGone {
		t.Errorf("a third download through B: %d, want 410", resp.StatusCode)
	}
}

// TestClusterLoginLimitAcrossBridges: wrong passwords from one client for
// one user, spread over A, B and C, meet one limit (five a minute,
// access.LoginGate): the sixth is refused with 429 and Retry-After by
// whichever bridge gets it, as is the right password then, on every
// bridge. Counted per bridge, it would take fifteen.
func TestClusterLoginLimitAcrossBridges(t *testing.T) {
	c := startCluster(t)
	try := func(n *node, password string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, c.site(n.URL, "/", true), nil)
		req.SetBasicAuth(testftp.User, password)
		req.Header.Set("Accept", "application/json")
		resp, _ := doReq(t, http.DefaultClient, req)
		return resp
	}
	for i := range 5 {
		n := c.Nodes[i%3]
		if resp := try(n, "wrong"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password %d through %s: %d, want 401", i+1, n.Name, resp.StatusCode)
		}
	}
	for _, n := range c.Nodes {
		resp := try(n, "wrong")
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Errorf("a sixth wrong password through %s: %d, Retry-After %q; want 429 with one", n.Name, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		if resp := try(n, testftp.Password); resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("past the limit, bridge %s answers the right password with %d, want 429", n.Name, resp.StatusCode)
		}
	}
}

// bigFile puts a file of size random bytes on the cluster's FTP server.
func (c *cluster) bigFile(t *testing.T, name string, size int) []byte {
	t.Helper()
	content := make([]byte, size)
	rand.Read(content)
	if err := os.WriteFile(filepath.Join(c.FTP.Root, name), content, 0o644); err != nil {
		t.Fatal(err)
	}
	return content
}

// TestClusterKillMidDownload: three downloads run at once, one on each
// bridge; B is killed in the middle of its own. Only B's fails (short);
// A's and C's arrive whole.
func TestClusterKillMidDownload(t *testing.T) {
	c := startCluster(t)
	const size = 64 << 20
	want := c.bigFile(t, "huge.bin", size)
	client := aliceClient()
	bodies := map[string]io.ReadCloser{}
	for _, n := range c.Nodes {
		resp, err := client.Get(c.site(n.URL, "/huge.bin", false))
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("download through %s: %v %v", n.Name, resp, err)
		}
		defer resp.Body.Close()
		// A first MiB, so each download is surely under way; the rest
		// waits in the sockets' buffers, the bridges blocked on us.
		if _, err := io.ReadFull(resp.Body, make([]byte, 1<<20)); err != nil {
			t.Fatalf("the first MiB through %s: %v", n.Name, err)
		}
		bodies[n.Name] = resp.Body
	}
	c.node("B").signal(t, syscall.SIGKILL)
	for _, n := range c.Nodes {
		rest, err := io.ReadAll(bodies[n.Name])
		whole := err == nil && bytes.Equal(rest, want[1<<20:])
		if n.Name == "B" {
			if whole || len(rest) >= size-1<<20 {
				t.Errorf("the download from the killed bridge arrived whole (%d bytes, %v)", len(rest), err)
			}
			continue
		}
		if !whole {
			t.Errorf("the download through %s: %d more bytes, %v, identical %v", n.Name, len(rest), err, whole)
		}
	}
}

// TestClusterUploadSeenAndCanceledElsewhere: a session's upload running
// on B shows its progress on the session's socket on A, and a cancel sent
// to A stops it on B: the upload fails and leaves no file.
func TestClusterUploadSeenAndCanceledElsewhere(t *testing.T) {
	c := startCluster(t)
	a, b := c.node("A"), c.node("B")
	client := newJarClient(t)
	if resp := c.login(t, client, a.URL, testftp.Password); resp.StatusCode != http.StatusOK {
		t.Fatalf("connect through A: %d", resp.StatusCode)
	}
	ws, _, err := dialEvents(t, &bridge{URL: a.URL}, client, a.URL)
	if err != nil {
		t.Fatalf("the socket on A: %v", err)
	}
	body, feed := io.Pipe()
	req, _ := http.NewRequest(http.MethodPut, c.site(b.URL, "/up.bin", false), body)
	req.ContentLength = 8 << 20
	answered := make(chan *http.Response, 1)
	go func() {
		resp, err := client.Do(req)
		if err != nil {
			answered <- nil
			return
		}
		resp.Body.Close()
		answered <- resp
	}()
	chunk := make([]byte, 1<<20)
	var id string
	for sent := 1; sent <= 2; sent++ {
		if _, err := feed.Write(chunk); err != nil {
			t.Fatalf("upload chunk %d: %v", sent, err)
		}
		// Events until the upload reports this chunk, as A's socket
		// hears them from B.
		for {
			ev := readEvent(t, ws)
			if ev.Op != "upload" || ev.Path != "/up.bin" {
				continue
			}
			if ev.State != "queued" && ev.State != "running" {
				t.Fatalf("the upload's event on A: %+v", ev)
			}
			id = ev.ID
			if ev.Bytes >= int64(sent)<<20 {
				break
			}
		}
	}
	req, _ = http.NewRequest(http.MethodPost, a.URL+"/transfers/"+id+"/cancel", nil)
	if resp, _ := doReq(t, client, req); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("cancel on A of B's upload: %d", resp.StatusCode)
	}
	for {
		ev := readEvent(t, ws)
		if ev.ID != id || ev.State == "running" {
			continue
		}
		if ev.State != "canceled" {
			t.Errorf("the upload's last event on A: %+v, want canceled", ev)
		}
		break
	}
	feed.CloseWithError(errors.New("the test stops feeding"))
	if resp := <-answered; resp != nil && resp.StatusCode < 400 {
		t.Errorf("the canceled upload was answered %d", resp.StatusCode)
	}
	if _, err := os.Stat(filepath.Join(c.FTP.Root, "up.bin")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the canceled upload left a file: %v", err)
	}
}

// TestClusterRollingRestart: all three bridges restart one after another
// (SIGTERM, drain, start again) under a steady load of downloads through
// the load balancer. No request fails: each bridge leaves HAProxy's
// rotation before it stops taking requests, and finishes those it took.
func TestClusterRollingRestart(t *testing.T) {
	c := startCluster(t)
	want := c.FTP.Files["/big.bin"]
	file := c.site(c.LB, "/big.bin", false)
	type result struct {
		began  time.Time
		bridge string
		err    error
	}
	var mu sync.Mutex
	var results []result
	stop, loaded := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			client := aliceClient()
			for {
				select {
				case <-stop:
					return
				default:
				}
				r := result{began: time.Now()}
				resp, err := client.Get(file)
				if err == nil {
					r.bridge = resp.Header.Get("X-Bridge")
					var body []byte
					body, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					switch {
					case err != nil:
					case resp.StatusCode != http.StatusOK:
						err = fmt.Errorf("status %d: %.200s", resp.StatusCode, body)
					case !bytes.Equal(body, want):
						err = fmt.Errorf("%d bytes, not the file's", len(body))
					}
				}
				r.err = err
				mu.Lock()
				results = append(results, r)
				if len(results) == 20 { // the load is on
					once.Do(func() { close(loaded) })
				}
				mu.Unlock()
			}
		})
	}
	<-loaded
	rollBegan := time.Now()
	for _, n := range c.Nodes {
		n.signal(t, syscall.SIGTERM)
		n.start(t)
		c.waitServedBy(t, n)
	}
	close(stop)
	wg.Wait()
	after, by := 0, map[string]int{}
	for _, r := range results {
		if r.began.Before(rollBegan) {
			continue
		}
		after++
		by[r.bridge]++
		if r.err != nil {
			t.Errorf("a download begun %v into the rolling restart failed (through %q): %v", r.began.Sub(rollBegan), r.bridge, r.err)
		}
	}
	t.Logf("%d downloads during the rolling restart, by bridge: %v", after, by)
	if after < 30 || len(by) < 3 {
		t.Errorf("%d downloads during the restart, by %v: not a steady load over all three", after, by)
	}
}

// TestClusterStoresDown: while PostgreSQL is down every bridge says it
// is not ready, answers a session's requests and share links with 503 (it
// cannot read them) and a script's Basic-auth requests as ever, and is ready again once
// the database is back. While Redis is down the bridges stay ready and serve, on
// per-process limits, and each says so once in its log.
func TestClusterStoresDown(t *testing.T) {
	c := startCluster(t)
	readyz := func(n *node) int {
		resp, err := http.Get(n.URL + "/readyz")
		if err != nil {
			t.Fatalf("/readyz of %s: %v", n.Name, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitReady := func(n *node, want int) {
		deadline := time.Now().Add(30 * time.Second)
		for readyz(n) != want {
			if time.Now().After(deadline) {
				t.Fatalf("/readyz of %s is not %d 30 s after the change", n.Name, want)
			}
		}
	}
	client := newJarClient(t)
	if resp := c.login(t, client, c.node("A").URL, testftp.Password); resp.StatusCode != http.StatusOK {
		t.Fatalf("connect: %d", resp.StatusCode)
	}
	link := makeShare(t, aliceClient(), c.site(c.node("A").URL, "/big.bin", false), url.Values{"expires": {"1h"}})
	token := link.URL[strings.LastIndex(link.URL, "/s/")+3:]
	c.PG.Stop()
	for _, n := range c.Nodes {
		waitReady(n, http.StatusServiceUnavailable)
		// The session cannot be read: 503, not a login form.
		resp, _ := get(t, client, c.site(n.URL, "/", true), "Accept", "application/json")
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("a session's request to %s with the database down: %d, Retry-After %q; want 503 with one",
				n.Name, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		if resp, _ := get(t, nil, n.URL+"/s/"+token); resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("a share link through %s with the database down: %d, want 503", n.Name, resp.StatusCode)
		}
		// A script's Basic auth needs no session.
		if l := listJSON(t, aliceClient(), c.site(n.URL, "/", true)); len(l.Entries) == 0 {
			t.Errorf("bridge %s listed nothing for Basic auth with the database down", n.Name)
		}
	}
	if err := c.PG.Start(); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Nodes {
		waitReady(n, http.StatusOK)
	}

	c.Redis.Stop()
	for _, n := range c.Nodes {
		if got := readyz(n); got != http.StatusOK {
			t.Errorf("/readyz of %s with Redis down: %d, want 200", n.Name, got)
		}
		// Logins are still limited, in this process: a wrong password is
		// refused by the server, not by the bridge for Redis' sake, and
		// the right one gets in.
		for _, tc := range []struct {
			password string
			want     int
		}{{"wrong", http.StatusUnauthorized}, {testftp.Password, http.StatusOK}, {"wrong again", http.StatusUnauthorized}} {
			req, _ := http.NewRequest(http.MethodGet, c.site(n.URL, "/", true), nil)
			req.SetBasicAuth(testftp.User, tc.password)
			req.Header.Set("Accept", "application/json")
			if resp, _ := doReq(t, &http.Client{}, req); resp.StatusCode != tc.want {
				t.Errorf("bridge %s with Redis down, password %q: %d, want %d", n.Name, tc.password, resp.StatusCode, tc.want)
			}
		}
	}
	if err := c.Redis.Start(); err != nil {
		t.Fatal(err)
	}
	// Once per outage, not per request: each bridge asked Redis for
	// three logins meanwhile.
	outage := regexp.MustCompile(`(?m)^.*level=WARN.*redis.*$`)
	for _, n := range c.Nodes {
		if warned := outage.FindAllString(n.Log(), -1); len(warned) != 1 {
			t.Errorf("bridge %s warned of the Redis outage %d times, want once: %q", n.Name, len(warned), warned)
		}
	}
}
