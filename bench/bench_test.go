// Package bench measures the bridge side by side with a direct FTP client
// (curl) and rclone's FTP gateways, against Debian's vsftpd, on this
// machine, and writes BENCHMARKS.md. It is a test only so that it can start
// vsftpd through internal/ftptest/realftp; it runs when FTPBRIDGE_BENCH=1 (see
// bench/run.sh), and takes a few minutes.
package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/realftp"
	"github.com/ftpbridge/ftpbridge/internal/procstat"
)

const (
	gib     = 1 << 30
	repeats = 5 // each figure is the median of this many runs
)

// contender is one way of moving the same bytes.
type contender struct {
	name  string
	run   func(t *testing.T) // one timed run
	after func()             // if set, runs after each run, untimed
}

// figure is one row of the table.
type figure struct {
	what, who string
	value     float64 // median
	unit      string
	ratio     float64 // to the direct figure of the same measure; 0 = none
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
	root := servedRoot(t)
	srv := realftp.StartVsftpd(t, realftp.Options{Root: root, Writable: true})
	e := &env{t: t, srv: srv, root: root}
	e.prepare()
	e.startBridge()
	e.startRclone()

	measures := []struct {
		name string
		run  func() []figure
	}{
		{"download", e.downloads},
		{"upload", e.uploads},
		{"listing", e.listings},
		{"small", e.smallFiles},
		{"concurrent", func() []figure { return []figure{e.concurrent()} }},
		{"rss", func() []figure { return []figure{e.peakRSS()} }},
	}
	// FTPBRIDGE_BENCH_ONLY=download,listing runs those measures alone and
	// prints them, leaving BENCHMARKS.md as it is: for working on one.
	only := os.Getenv("FTPBRIDGE_BENCH_ONLY")
	var figures []figure
	for _, m := range measures {
		if only == "" || slices.Contains(strings.Split(only, ","), m.name) {
			figures = append(figures, m.run()...)
		}
	}
	if only != "" {
		t.Log("\n" + table(figures))
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
// figures measure the FTP paths alone.
func servedRoot(t *testing.T) string {
	dir, err := os.MkdirTemp("/dev/shm", "ftpbridge-bench-")
	if err != nil {
		t.Logf("no tmpfs at /dev/shm (%v): serving from the disk", err)
		return t.TempDir()
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// env is what the measures share.
type env struct {
	t                     *testing.T
	srv                   *realftp.Server
	root                  string
	bridge                string // http://127.0.0.1:port
	bridgePID             int
	rcloneHTTP, rcloneDAV string
	upload                string // a local 1 GiB file to upload
}

// prepare makes the served tree: a 1 GiB file, 50 files of 100 MiB, a
// folder of 10,000 entries and small files; sparse, so that making them
// costs no disk writes and every contender reads the same page cache.
func (e *env) prepare() {
	t := e.t
	mk := func(rel string, size int64) { sparse(t, filepath.Join(e.root, rel), size) }
	mk("big.bin", gib)
	for i := range 50 {
		mk(fmt.Sprintf("many100/f%02d.bin", i), 100<<20)
	}
	for i := range 10000 {
		mk(fmt.Sprintf("tenk/entry-%05d.txt", i), 0)
	}
	for i := range 64 {
		mk(fmt.Sprintf("small/s%02d.txt", i), 1024)
	}
	e.srv.FixPermissions(t)
	e.upload = filepath.Join(t.TempDir(), "upload.bin")
	sparse(t, e.upload, gib)
}

// startBridge builds and runs the bridge as a process of its own, so that
// its RSS and CPU time are its own.
func (e *env) startBridge() {
	t := e.t
	bin := filepath.Join(t.TempDir(), "ftpbridge")
	if out, err := exec.Command("go", "build", "-o", bin, "..").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// As many FTP connections per login as rclone is given (its
	// --ftp-concurrency below): the default of 4 is for browser sessions.
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-allow-hosts", "127.0.0.1", "-log-level", "warn",
		"-data-dir", t.TempDir(), "-conn-wait", "120s", "-max-conns-per-session", "16")
	if addr := os.Getenv("FTPBRIDGE_BENCH_PPROF"); addr != "" {
		cmd.Args = append(cmd.Args, "-pprof", addr) // to profile the bridge while a measure runs
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	_, addr, ok := strings.Cut(strings.TrimSpace(line), "listening on ")
	if !ok {
		t.Fatalf("bridge said %q", line)
	}
	go io.Copy(io.Discard, stdout)
	e.bridge, e.bridgePID = strings.TrimSuffix(addr, "/"), cmd.Process.Pid
}

// startRclone runs rclone serve http and webdav over the same vsftpd.
func (e *env) startRclone() {
	t := e.t
	obscured, err := exec.Command("rclone", "obscure", e.srv.Password).Output()
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(e.srv.Addr)
	remote := fmt.Sprintf(":ftp,host=%s,port=%s,user=%s,pass=%s:", host, port, e.srv.User, strings.TrimSpace(string(obscured)))
	serve := func(kind string) string {
		addr := freeAddr(t)
		// One RETR per download, as the others do: rclone's default
		// chunked reading restarts the transfer at every chunk. At most
		// 16 FTP connections, as the bridge's per-host cap: with no cap,
		// rclone meets vsftpd's 50 per address at concurrency 64 and
		// collapses to a few requests a second, which measures nothing.
		cmd := exec.Command("rclone", "serve", kind, remote, "--addr", addr, "--config", "/dev/null",
			"--vfs-read-chunk-size", "0", "--ftp-concurrency", "16", "--log-level", "ERROR")
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		waitListening(t, addr)
		return "http://" + addr
	}
	e.rcloneHTTP, e.rcloneDAV = serve("http"), serve("webdav")
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
func (e *env) ftpURL(p string) string {
	return "ftp://" + url.UserPassword(e.srv.User, e.srv.Password).String() + "@" + e.srv.Addr + p
}

// bridgeURL is the bridge address of an FTP path.
func (e *env) bridgeURL(p string) string {
	return e.bridge + "/ftp/" + e.srv.User + "@" + e.srv.Addr + p
}

// curl runs curl quietly and fails on any error.
func curl(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command("curl", append([]string{"-sS", "--fail", "-o", "/dev/null"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("curl %q: %v\n%s", args, err, out)
	}
}

// race times each contender repeats times, taking turns so that a busy
// moment of the machine touches them all alike, and returns the medians.
// One untimed round goes first: logins, caches and the machine warm up.
func race(t *testing.T, contenders []contender) []time.Duration {
	timed := func(c contender) time.Duration {
		start := time.Now()
		c.run(t)
		took := time.Since(start)
		if c.after != nil {
			c.after()
		}
		return took
	}
	for _, c := range contenders {
		timed(c)
	}
	times := make([][]time.Duration, len(contenders))
	for range repeats {
		for i, c := range contenders {
			times[i] = append(times[i], timed(c))
		}
	}
	medians := make([]time.Duration, len(contenders))
	for i, ts := range times {
		slices.Sort(ts)
		medians[i] = ts[len(ts)/2]
	}
	return medians
}

// throughput turns medians of moving n bytes into MB/s figures, each with
// its ratio to the first (direct) contender.
func throughput(what string, contenders []contender, medians []time.Duration, n int64) []figure {
	var out []figure
	for i, c := range contenders {
		mbs := float64(n) / medians[i].Seconds() / 1e6
		out = append(out, figure{what: what, who: c.name, value: mbs, unit: "MB/s", ratio: mbs / (float64(n) / medians[0].Seconds() / 1e6)})
	}
	return out
}

// downloads: (a) a 1 GiB file, and (g) the bridge's CPU time per GiB.
func (e *env) downloads() []figure {
	t := e.t
	cpuBefore := e.cpuSeconds()
	cs := []contender{
		{"direct curl ftp://", func(t *testing.T) { curl(t, e.ftpURL("/big.bin")) }, nil},
		{"ftpbridge", func(t *testing.T) { curl(t, "-u", e.srv.User+":"+e.srv.Password, e.bridgeURL("/big.bin")) }, nil},
		{"rclone serve http", func(t *testing.T) { curl(t, e.rcloneHTTP+"/big.bin") }, nil},
	}
	m := race(t, cs)
	cpu := (e.cpuSeconds() - cpuBefore) / repeats // per GiB: one GiB per run
	return append(throughput("1 GiB download", cs, m, gib),
		figure{what: "bridge CPU per GiB downloaded", who: "ftpbridge", value: cpu, unit: "CPU s"})
}

// uploads: (b) a 1 GiB file up, by each way. Each makes a new file, which
// is removed after it, untimed: replacing one would make some contenders
// free a gigabyte of tmpfs inside their time and others not (the bridge
// writes beside the old file and renames over it; curl truncates it).
func (e *env) uploads() []figure {
	auth := e.srv.User + ":" + e.srv.Password
	removed := func(name string) func() {
		return func() {
			if err := os.Remove(filepath.Join(e.root, name)); err != nil {
				e.t.Error(err)
			}
		}
	}
	cs := []contender{
		{"direct curl -T ftp://", func(t *testing.T) { curl(t, "-T", e.upload, e.ftpURL("/up-direct.bin")) }, removed("up-direct.bin")},
		{"ftpbridge PUT", func(t *testing.T) { curl(t, "-u", auth, "-T", e.upload, e.bridgeURL("/up-put.bin")) }, removed("up-put.bin")},
		{"ftpbridge multipart", func(t *testing.T) {
			curl(t, "-u", auth, "-F", "file=@"+e.upload+";filename=up-multipart.bin", e.bridgeURL("/"))
		}, removed("up-multipart.bin")},
		{"rclone serve webdav PUT", func(t *testing.T) { curl(t, "-T", e.upload, e.rcloneDAV+"/up-rclone.bin") }, removed("up-rclone.bin")},
	}
	return throughput("1 GiB upload", cs, race(e.t, cs), gib)
}

// listings: (d) a folder of 10,000 entries.
func (e *env) listings() []figure {
	auth := e.srv.User + ":" + e.srv.Password
	cs := []contender{
		{"direct curl LIST", func(t *testing.T) { curl(t, e.ftpURL("/tenk/")) }, nil},
		{"ftpbridge HTML", func(t *testing.T) { curl(t, "-u", auth, "-H", "Accept: text/html", e.bridgeURL("/tenk/")) }, nil},
		{"ftpbridge JSON", func(t *testing.T) { curl(t, "-u", auth, e.bridgeURL("/tenk/")+"?format=json") }, nil},
		{"rclone serve http", func(t *testing.T) { curl(t, e.rcloneHTTP+"/tenk/") }, nil},
	}
	m := race(e.t, cs)
	var out []figure
	for i, c := range cs {
		out = append(out, figure{what: "10,000-entry listing", who: c.name, value: m[i].Seconds() * 1000, unit: "ms", ratio: m[i].Seconds() / m[0].Seconds()})
	}
	return out
}

// smallFiles: (c) GET requests per second of 1 KiB files, keep-alive and a
// warm pool, at concurrency 8 and 64, bridge against rclone; and, as the
// ceiling both work under, the least any FTP client must do per file: a
// RETR (with its EPSV) on a logged-in connection per worker.
func (e *env) smallFiles() []figure {
	small := func(i int) string { return fmt.Sprintf("/small/s%02d.txt", i%64) }
	var out []figure
	for _, conc := range []int{8, 64} {
		what := fmt.Sprintf("1 KiB GETs, concurrency %d", conc)
		rclone := e.load(conc, 5*time.Second, func(i int) string { return e.rcloneHTTP + small(i) }, false)
		bridge := e.load(conc, 5*time.Second, func(i int) string { return e.bridgeURL(small(i)) }, true)
		out = append(out,
			figure{what: what, who: "rclone serve http", value: rclone, unit: "req/s"},
			// The ratios are to rclone: the target compares with it.
			figure{what: what, who: "ftpbridge", value: bridge, unit: "req/s", ratio: bridge / rclone})
		if conc == 8 {
			direct := e.loadFTP(conc, 5*time.Second, small)
			out = append(out, figure{what: what, who: "direct FTP, RETR only (the ceiling)", value: direct, unit: "req/s", ratio: direct / rclone})
		}
	}
	return out
}

// loadFTP runs conc workers, each on its own FTP connection, retrieving
// path(i) for d after a warm-up, and returns files per second.
func (e *env) loadFTP(conc int, d time.Duration, path func(i int) string) float64 {
	t := e.t
	conns := make([]*ftp.ServerConn, conc)
	for w := range conns {
		c, err := ftp.Dial(e.srv.Addr)
		if err == nil {
			err = c.Login(e.srv.User, e.srv.Password)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer c.Quit()
		conns[w] = c
	}
	get := func(c *ftp.ServerConn, i int) {
		r, err := c.Retr(path(i))
		if err == nil {
			_, err = io.Copy(io.Discard, r)
			if cerr := r.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			t.Errorf("RETR %s: %v", path(i), err)
		}
	}
	return rate(conc, d, func(w, i int) { get(conns[w], i) })
}

// rate calls do(worker, i) from conc workers for d, after a warm-up of 4
// calls each, and returns calls per second.
func rate(conc int, d time.Duration, do func(w, i int)) float64 {
	for w := range conc {
		for i := range 4 {
			do(w, w+i*conc) // warm: connections made, logins done
		}
	}
	var n atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	for w := range conc {
		wg.Go(func() {
			for i := w; ctx.Err() == nil; i += conc {
				do(w, i)
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}

// load runs conc workers getting url(i) for d, after a warm-up, and returns
// requests per second.
func (e *env) load(conc int, d time.Duration, url func(i int) string, auth bool) float64 {
	t := e.t
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc}}
	get := func(i int) {
		req, _ := http.NewRequest(http.MethodGet, url(i), nil)
		if auth {
			req.SetBasicAuth(e.srv.User, e.srv.Password)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", url(i), resp.StatusCode)
		}
	}
	return rate(conc, d, func(_, i int) { get(i) })
}

// concurrent: (e) 50 downloads of 100 MiB at once through the bridge, under
// its per-host cap of 16 connections.
func (e *env) concurrent() figure {
	t := e.t
	var wg sync.WaitGroup
	start := time.Now()
	for i := range 50 {
		wg.Go(func() {
			curl(t, "-u", e.srv.User+":"+e.srv.Password, e.bridgeURL(fmt.Sprintf("/many100/f%02d.bin", i)))
		})
	}
	wg.Wait()
	mbs := float64(50*100<<20) / time.Since(start).Seconds() / 1e6
	return figure{what: "50 × 100 MiB at once (cap 16)", who: "ftpbridge", value: mbs, unit: "MB/s aggregate"}
}

// peakRSS: (f) the bridge's peak RSS during a 4 GiB download and a 4 GiB
// upload at the same time.
func (e *env) peakRSS() figure {
	t := e.t
	sparse(t, filepath.Join(e.root, "big.bin"), 4*gib)
	up := filepath.Join(t.TempDir(), "up4.bin")
	sparse(t, up, 4*gib)
	// Count the peak from now (Linux 4.0+): writing 5 resets VmHWM.
	_ = procstat.ResetPeak(e.bridgePID)
	auth := e.srv.User + ":" + e.srv.Password
	var wg sync.WaitGroup
	wg.Go(func() { curl(t, "-u", auth, e.bridgeURL("/big.bin")) })
	wg.Go(func() { curl(t, "-u", auth, "-T", up, e.bridgeURL("/up4.bin")+"?overwrite=1") })
	wg.Wait()
	peak, err := procstat.StatusBytes(e.bridgePID, "VmHWM")
	if err != nil {
		t.Fatal(err)
	}
	return figure{what: "peak RSS, 4 GiB down + 4 GiB up at once", who: "ftpbridge", value: float64(peak) / (1 << 20), unit: "MiB"}
}

// cpuSeconds is the bridge's CPU time so far.
func (e *env) cpuSeconds() float64 {
	s, err := procstat.CPUSeconds(e.bridgePID)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// writeReport writes BENCHMARKS.md beside go.mod.
func writeReport(figures []figure) error {
	var b strings.Builder
	cpu := "unknown CPU"
	if info, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(info)) {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	fmt.Fprintf(&b, "# Benchmarks\n\nMade by `bash bench/run.sh` on %s: %d cores (%s), %s, vsftpd on loopback.\n",
		time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), cpu, runtime.Version())
	fmt.Fprintf(&b, "Each figure is the median of %d runs after one untimed round, the contenders taking turns. Ratios are to the first row of each measure (direct FTP; rclone for the small-file rows): for rates, higher is better; for times (ms), lower is.\n\n", repeats)
	b.WriteString(table(figures))
	b.WriteString("\n![Speed against direct FTP](BENCHMARKS.png)\n\n")
	b.WriteString(targets(figures))
	// What the figures came from, kept by hand beside this file.
	changes, err := os.ReadFile("changes.md")
	if err != nil {
		return err
	}
	b.Write(changes)
	return os.WriteFile("../BENCHMARKS.md", []byte(b.String()), 0o644)
}

// targets checks the figures against issue 6's targets, as a Markdown
// table: each target, the figure it is judged by, and whether it holds.
func targets(figures []figure) string {
	find := func(what, who string) (figure, bool) {
		for _, f := range figures {
			if f.what == what && f.who == who {
				return f, true
			}
		}
		return figure{}, false
	}
	var b strings.Builder
	b.WriteString("## Targets, from this run\n\n| target | figure | holds |\n|---|---|---|\n")
	row := func(target, what, who string, holds func(f figure) bool, show func(f figure) string) {
		f, ok := find(what, who)
		if !ok {
			return
		}
		verdict := "no"
		if holds(f) {
			verdict = "yes"
		}
		fmt.Fprintf(&b, "| %s | %s, %s: %s | %s |\n", target, what, who, show(f), verdict)
	}
	ratio := func(f figure) string { return fmt.Sprintf("%.2f×", f.ratio) }
	atLeast := func(r float64) func(figure) bool { return func(f figure) bool { return f.ratio >= r } }
	row("download ≥ 0.9× direct curl", "1 GiB download", "ftpbridge", atLeast(0.9), ratio)
	for _, who := range []string{"ftpbridge PUT", "ftpbridge multipart"} {
		row("upload ≥ 0.9× direct curl -T", "1 GiB upload", who, atLeast(0.9), ratio)
	}
	for _, what := range []string{"1 KiB GETs, concurrency 8", "1 KiB GETs, concurrency 64"} {
		row("small-file GETs ≥ 1.5× rclone", what, "ftpbridge", atLeast(1.5), ratio)
	}
	row("(the ceiling of any FTP client, for comparison)", "1 KiB GETs, concurrency 8", "direct FTP, RETR only (the ceiling)", atLeast(1.5), ratio)
	row("10,000-entry HTML listing within 2× direct LIST", "10,000-entry listing", "ftpbridge HTML",
		func(f figure) bool { return f.ratio <= 2 }, ratio)
	row("peak RSS < 64 MiB", "peak RSS, 4 GiB down + 4 GiB up at once", "ftpbridge",
		func(f figure) bool { return f.value < 64 }, func(f figure) string { return fmt.Sprintf("%.1f MiB", f.value) })
	b.WriteString("\n")
	return b.String()
}

// table is the figures as a Markdown table.
func table(figures []figure) string {
	var b strings.Builder
	b.WriteString("| measure | who | median | ratio |\n|---|---|---|---|\n")
	for _, f := range figures {
		ratio := ""
		if f.ratio > 0 {
			ratio = fmt.Sprintf("%.2f×", f.ratio)
		}
		fmt.Fprintf(&b, "| %s | %s | %.1f %s | %s |\n", f.what, f.who, f.value, f.unit, ratio)
	}
	return b.String()
}
