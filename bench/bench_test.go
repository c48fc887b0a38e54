// Package bench measures the bridge side by side with a direct FTP client
// (curl) and rclone's FTP gateways, against Debian's vsftpd, on this
// machine, at loopback speed and 20 ms from the FTP server (through
// internal/ftptest/delayproxy), and writes BENCHMARKS.md. It is a test only
// so that it can start vsftpd through internal/ftptest/realftp; it runs
// when FTPBRIDGE_BENCH=1 (see bench/run.sh).
package bench

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/delayproxy"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/realftp"
	"github.com/ftpbridge/ftpbridge/internal/procstat"
)

const (
	gib = 1 << 30
	mib = 1 << 20
	// farRTT is the round trip of the latency mode: a server in the same
	// region, as most users' are.
	farRTT = 20 * time.Millisecond
	// visitFolders is how many never-listed folders each site has for the
	// first-visit measure: more than its contenders × rounds.
	visitFolders = 64
)

// contender is one way of doing the same thing.
type contender struct {
	name string
	run  func(t *testing.T) time.Duration // one run; returns what it measured
	// after, if set, runs after each run, untimed.
	after func()
}

// figure is one row of a table.
type figure struct {
	mode      string // which table: "0 ms" or "20 ms" (the RTT to the FTP server)
	what, who string
	value     float64 // median
	unit      string
	ratio     float64 // to the base's figure of the same measure; 0 = none
	base      string  // who the ratio is to
}

// measure is a part of the benchmark that FTPBRIDGE_BENCH_ONLY can name.
type measure struct {
	name string
	run  func() []figure
}

func TestSideBySide(t *testing.T) {
	if os.Getenv("FTPBRIDGE_BENCH") != "1" {
		t.Skip("the side-by-side benchmark runs with FTPBRIDGE_BENCH=1: bash bench/run.sh")
	}
	for _, tool := range []string{"curl", "rclone"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed: bash bench/run.sh installs it (%v)", tool, err)
		}
	}
	e := &env{t: t}
	e.buildBridge()
	flags := []string{
		// As many FTP connections per login as rclone is given (its
		// --ftp-concurrency): the default of 4 is for browser sessions.
		"-max-conns-per-session", "16",
		// Three sites (loopback, 20 ms, disk) of 16 each, and the peak
		// RSS measure's two transfers.
		"-max-conns-per-host", "64",
	}
	if addr := os.Getenv("FTPBRIDGE_BENCH_PPROF"); addr != "" {
		flags = append(flags, "-pprof", addr) // to profile the bridge while a measure runs
	}
	e.bridge = e.startBridge(flags...)

	root := servedRoot(t)
	srv := realftp.StartVsftpd(t, realftp.Options{Root: root, Writable: true})
	prepare(t, root, true)
	srv.FixPermissions(t)
	near := e.site(srv, "0 ms", 0)
	far := e.site(srv, "20 ms", farRTT)
	disk := e.diskSite()

	e.upload = filepath.Join(t.TempDir(), "upload.bin")
	sparse(t, e.upload, gib)
	e.upload100 = filepath.Join(t.TempDir(), "upload100.bin")
	sparse(t, e.upload100, 100*mib)
	e.empty = filepath.Join(t.TempDir(), "empty.bin")
	sparse(t, e.empty, 0)

	var measures []measure
	for _, s := range []*site{near, far} {
		// At 20 ms, 1 GiB takes a few times longer; three runs keep the
		// whole benchmark within its 20 minutes.
		bigRuns := 5
		if s.rtt > 0 {
			bigRuns = 3
		}
		measures = append(measures,
			measure{"ttfb", func() []figure { return e.ttfb(s) }},
			measure{"small", func() []figure { return e.smallFiles(s) }},
			measure{"download", func() []figure { return e.downloads(s, 100*mib, 5) }},
			measure{"download", func() []figure { return e.downloads(s, gib, bigRuns) }},
			measure{"upload", func() []figure { return e.uploads(s, 100*mib, 5) }},
			measure{"upload", func() []figure { return e.uploads(s, gib, bigRuns) }},
			measure{"listing", func() []figure { return e.listings(s) }},
		)
	}
	measures = append(measures,
		measure{"disk", func() []figure { return append(e.downloads(disk, gib, 3), e.uploads(disk, gib, 3)...) }},
		measure{"concurrent", func() []figure { return []figure{e.concurrent(near)} }},
		measure{"rss", func() []figure { return []figure{e.peakRSS(near)} }},
		measure{"sessions", func() []figure { return e.idleSessions(srv) }},
		measure{"transfers", func() []figure { return e.slowDownloads(srv) }},
	)
	// FTPBRIDGE_BENCH_ONLY=download,listing runs those measures alone and
	// prints them, leaving BENCHMARKS.md as it is: for working on one.
	only := os.Getenv("FTPBRIDGE_BENCH_ONLY")
	var figures []figure
	for _, m := range measures {
		if only == "" || slices.Contains(strings.Split(only, ","), m.name) {
			start := time.Now()
			figures = append(figures, m.run()...)
			t.Logf("%s: %v", m.name, time.Since(start).Round(time.Second))
		}
	}
	if only != "" {
		for _, mode := range modes(figures) {
			t.Logf("\n%s RTT\n%s", mode, table(figures, mode))
		}
		t.Log("\n" + targets(figures))
		return
	}
	if err := writeReport(figures); err != nil {
		t.Fatal(err)
	}
	if err := writeChart("../BENCHMARKS.png", figures); err != nil {
		t.Fatal(err)
	}
}

// servedRoot is where vsftpd's files live: in memory (tmpfs) where the
// machine has /dev/shm, so that the disk does not set the pace of the
// uploads (on this machine it did, by 10 to 20% from run to run), and the
// figures measure the FTP paths alone. The disk has a site of its own.
func servedRoot(t *testing.T) string {
	dir, err := os.MkdirTemp("/dev/shm", "ftpbridge-bench-")
	if err != nil {
		t.Logf("no tmpfs at /dev/shm (%v): serving from the disk", err)
		return t.TempDir()
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// prepare makes the served tree: a 1 GiB file, a 100 MiB one, an empty one, 50 files of
// 100 MiB, a folder of 10,000 entries, small files, and folders nobody
// has listed yet, each with a small file; sparse, so that making them
// costs no disk writes and every contender reads the same page cache.
// Without all, only the big files.
func prepare(t *testing.T, root string, all bool) {
	mk := func(rel string, size int64) { sparse(t, filepath.Join(root, rel), size) }
	mk("big.bin", gib)
	mk("100m.bin", 100*mib)
	mk("empty.bin", 0) // what a way costs beside the bytes it moves
	if !all {
		return
	}
	for i := range 50 {
		mk(fmt.Sprintf("many100/f%02d.bin", i), 100*mib)
	}
	for i := range 10000 {
		mk(fmt.Sprintf("tenk/entry-%05d.txt", i), 0)
	}
	for i := range 64 {
		mk(fmt.Sprintf("small/s%02d.txt", i), 1024)
	}
	for _, mode := range []string{"0 ms", "20 ms"} {
		for i := range visitFolders {
			mk(fmt.Sprintf("%s/d%02d/f.txt", visitDir(mode), i), 1024)
		}
	}
}

// visitDir is the folder of a mode's first-visit folders: each site visits
// its own.
func visitDir(mode string) string { return "visit-" + strings.ReplaceAll(mode, " ", "") }

// env is what the measures share.
type env struct {
	t         *testing.T
	bin       string // the bridge, built
	bridge    bridge // the one the speed measures use
	upload    string // a local 1 GiB file to upload
	upload100 string // and one of 100 MiB
	empty     string // and an empty one
}

// site is one way to reach an FTP server: directly, or through a delay
// proxy, with rclone's gateways on the same path.
type site struct {
	mode  string // the table its figures go in
	where string // added to a measure's name: "" or ", disk"
	rtt   time.Duration
	srv   *realftp.Server
	addr  string // vsftpd's address, or the proxy's in front of it
	// relay is a splice relay's address in front of vsftpd, at 0 ms: a
	// direct client through it pays what any process in the path costs
	// this machine, the floor under any gateway's figure.
	relay                 string
	root                  string
	rcloneHTTP, rcloneDAV string
	visited               int // first-visit folders used so far
}

// site reaches srv at rtt: through a delay proxy when rtt > 0.
func (e *env) site(srv *realftp.Server, mode string, rtt time.Duration) *site {
	s := &site{mode: mode, rtt: rtt, srv: srv, addr: srv.Addr, root: srv.Root}
	p, err := delayproxy.New(srv.Addr, rtt/2, true)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { p.Close() })
	if rtt > 0 {
		s.addr = p.Addr()
	} else {
		s.relay = p.Addr()
	}
	s.rcloneHTTP, s.rcloneDAV = e.startRclone(s)
	return s
}

// diskSite is a second vsftpd, at loopback, serving a folder on the disk
// (/var/tmp, which is not tmpfs where /tmp may be).
func (e *env) diskSite() *site {
	t := e.t
	root, err := os.MkdirTemp("/var/tmp", "ftpbridge-bench-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	prepare(t, root, false)
	// A real file, not a sparse one, so that downloads read what was
	// written (from the page cache once it is read).
	if err := os.WriteFile(filepath.Join(root, "big.bin"), make([]byte, gib), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := realftp.StartVsftpd(t, realftp.Options{Root: root, Writable: true})
	s := e.site(srv, "0 ms", 0)
	s.where = ", disk"
	return s
}

// buildBridge builds the bridge, to run it as a process of its own, so
// that its RSS and CPU time are its own. FTPBRIDGE_BENCH_BRIDGE names a
// binary built already instead: an earlier commit's, to measure a change
// before and after it (bench/changes.md).
func (e *env) buildBridge() {
	if bin := os.Getenv("FTPBRIDGE_BENCH_BRIDGE"); bin != "" {
		e.bin = bin
		return
	}
	e.bin = filepath.Join(e.t.TempDir(), "ftpbridge")
	if out, err := exec.Command("go", "build", "-o", e.bin, "..").CombinedOutput(); err != nil {
		e.t.Fatalf("go build: %v\n%s", err, out)
	}
}

// bridge is a running bridge process.
type bridge struct {
	url  string // http://127.0.0.1:port
	pid  int
	stop func() // ends it (also done when the test ends)
}

// startBridge runs the bridge with these flags besides the common ones.
func (e *env) startBridge(flags ...string) bridge {
	t := e.t
	cmd := exec.Command(e.bin, append([]string{"-listen", "127.0.0.1:0", "-allow-hosts", "127.0.0.1", "-log-level", "warn",
		"-data-dir", t.TempDir(), "-conn-wait", "120s"}, flags...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop := sync.OnceFunc(func() { cmd.Process.Kill(); cmd.Wait() })
	t.Cleanup(stop)
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	_, addr, ok := strings.Cut(strings.TrimSpace(line), "listening on ")
	if !ok {
		t.Fatalf("bridge said %q", line)
	}
	go io.Copy(io.Discard, stdout)
	return bridge{url: strings.TrimSuffix(addr, "/"), pid: cmd.Process.Pid, stop: stop}
}

// startRclone runs rclone serve http and webdav over the site's path to
// the FTP server.
func (e *env) startRclone(s *site) (httpURL, davURL string) {
	t := e.t
	obscured, err := exec.Command("rclone", "obscure", s.srv.Password).Output()
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(s.addr)
	remote := fmt.Sprintf(":ftp,host=%s,port=%s,user=%s,pass=%s:", host, port, s.srv.User, strings.TrimSpace(string(obscured)))
	serve := func(kind string) string {
		addr := freeAddr(t)
		// One RETR per download, as the others do: rclone's default
		// chunked reading restarts the transfer at every chunk. At most
		// 16 FTP connections, as the bridge's per-login cap here: with no
		// cap, rclone at high concurrency collapses to a few requests a
		// second, which measures nothing.
		cmd := exec.Command("rclone", "serve", kind, remote, "--addr", addr, "--config", "/dev/null",
			"--vfs-read-chunk-size", "0", "--ftp-concurrency", "16", "--log-level", "ERROR")
		// rclone logs an error for each upload (vsftpd cannot set a
		// file's time): its log is shown only if the benchmark fails.
		logPath := filepath.Join(t.TempDir(), "rclone.log")
		log, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
			log.Close()
			if b, err := os.ReadFile(logPath); t.Failed() && err == nil && len(b) > 0 {
				t.Logf("rclone serve %s on %s said:\n%s", kind, s.addr, b)
			}
		})
		waitListening(t, addr)
		return "http://" + addr
	}
	return serve("http"), serve("webdav")
}

// sparse makes (or resizes) a file of size bytes that takes no disk space:
// making it costs nothing, and every reader gets the same zeros from the
// page cache.
func sparse(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err == nil {
		err = f.Truncate(size)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitListening waits for a server process to accept connections.
func waitListening(t *testing.T, addr string) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond) // polling a process that is starting
	}
}

// ftpURL is a direct ftp:// URL with the login.
func (s *site) ftpURL(p string) string { return s.ftpURLVia(s.addr, p) }

// ftpURLVia is the ftp:// URL of a path of the site through addr.
func (s *site) ftpURLVia(addr, p string) string {
	return "ftp://" + url.UserPassword(s.srv.User, s.srv.Password).String() + "@" + addr + p
}

// bridgeURL is the address, on a bridge, of an FTP path of the site.
func (s *site) bridgeURL(bridge, p string) string {
	return bridge + "/ftp/" + s.srv.User + "@" + s.addr + p
}

// auth is the site's login for curl's -u.
func (s *site) auth() string { return s.srv.User + ":" + s.srv.Password }

// curlTimes are curl's own timings of one run, from its start.
type curlTimes struct {
	// connect is when the connection was made; for ftp:// curl counts
	// its login in it (USER, PASS).
	connect time.Duration
	// firstByte is when the first byte of the answer came (for HTTP, of
	// the response's headers).
	firstByte time.Duration
	total     time.Duration
}

// afterConnect is the time of the run without the connection and, for
// ftp://, the login: what the bridge and rclone, whose pools keep
// connections logged in, never pay for a request, and what the first-byte
// rows show.
func (c curlTimes) afterConnect() time.Duration { return c.total - c.connect }

// curl runs curl quietly, fails the test on any error, and returns its
// timings.
func curl(t *testing.T, args ...string) curlTimes {
	t.Helper()
	cmd := exec.Command("curl", append([]string{"-sS", "--fail", "-o", "/dev/null",
		"-w", "%{time_connect} %{time_starttransfer} %{time_total}"}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("curl %q: %v\n%s", args, err, stderr.String())
	}
	var secs [3]float64
	if _, err := fmt.Sscan(string(out), &secs[0], &secs[1], &secs[2]); err != nil {
		t.Fatalf("curl %q: timings %q: %v", args, out, err)
	}
	d := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	return curlTimes{connect: d(secs[0]), firstByte: d(secs[1]), total: d(secs[2])}
}

// moved is a contender's run of curl with these arguments, measured after
// the connection is made (see afterConnect).
func moved(args ...string) func(t *testing.T) time.Duration {
	return func(t *testing.T) time.Duration { return curl(t, args...).afterConnect() }
}

// race runs each contender n times, taking turns so that a busy moment of
// the machine touches them all alike, and returns the medians of what the
// runs measured. One unmeasured round goes first: logins, caches and the
// machine warm up.
func race(t *testing.T, contenders []contender, n int) []time.Duration {
	run := func(c contender) time.Duration {
		took := c.run(t)
		if c.after != nil {
			c.after()
		}
		return took
	}
	for _, c := range contenders {
		run(c)
	}
	times := make([][]time.Duration, len(contenders))
	for range n {
		for i, c := range contenders {
			times[i] = append(times[i], run(c))
		}
	}
	medians := make([]time.Duration, len(contenders))
	for i, ts := range times {
		slices.Sort(ts)
		medians[i] = ts[len(ts)/2]
	}
	return medians
}

// cpuSeconds is a process's CPU time so far.
func cpuSeconds(t *testing.T, pid int) float64 {
	s, err := procstat.CPUSeconds(pid)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rssBytes is a process's resident set now.
func rssBytes(t *testing.T, pid int) int64 {
	n, err := procstat.StatusBytes(pid, "VmRSS")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// connectionsTo counts a process's established TCP connections to a port
// (of IPv4 loopback, where every server here listens): its socket inodes,
// looked up in the kernel's table of TCP sockets.
func connectionsTo(t *testing.T, pid, port int) int {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if inode, ok := strings.CutPrefix(target, "socket:["); err == nil && ok {
			inodes[strings.TrimSuffix(inode, "]")] = true
		}
	}
	table, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/tcp", pid))
	if err != nil {
		t.Fatal(err)
	}
	// sl local_address rem_address st ... inode: addresses are hex
	// IP:port, state 01 is ESTABLISHED.
	remote := fmt.Sprintf(":%04X", port)
	n := 0
	for line := range strings.Lines(string(table)) {
		f := strings.Fields(line)
		if len(f) > 9 && strings.HasSuffix(f[2], remote) && f[3] == "01" && inodes[f[9]] {
			n++
		}
	}
	return n
}
