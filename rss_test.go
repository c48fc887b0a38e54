package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/realftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
	"github.com/ftpbridge/ftpbridge/internal/procstat"
)

// TestMemoryFlat moves 1 GiB through a bridge running as a process of its
// own: up as a raw PUT, up as a one-file multipart POST, and down as a
// GET. The bridge's peak RSS must stay far below the file's size: the bytes
// stream between the HTTP and FTP sides and are never held whole. A bridge
// that buffered would peak above 1 GiB.
func TestMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("uploads 2 GiB through a bridge process; skipped with -short")
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skipf("no /proc to read the bridge's RSS from: %v", err)
	}
	const (
		size  = 1 << 30  // per upload
		limit = 64 << 20 // peak RSS allowed, generous: buffering would need > size
	)

	srv := testftp.Start(t, embedftp.Options{}) // in this process; alice may write
	br, pid := runBridgeProcess(t, buildBridge(t))
	baseline, err := procstat.StatusBytes(pid, "VmRSS")
	if err != nil {
		t.Fatal(err)
	}
	startHWM, err := procstat.StatusBytes(pid, "VmHWM")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("bridge pid %d: RSS after start %s (peak so far %s)", pid, mib(baseline), mib(startHWM))

	client := &http.Client{}
	uploads := []struct {
		name string // on the FTP server, in its root
		send func(g *genReader) (*http.Request, func() error)
	}{
		{"flat-put.bin", func(g *genReader) (*http.Request, func() error) {
			u := addrURL(br, "ftp", testftp.User, srv.Addr(), "/flat-put.bin", false)
			req, err := http.NewRequest(http.MethodPut, u, g)
			if err != nil {
				t.Fatal(err)
			}
			req.ContentLength = size
			// The transport closes the body once it has sent it.
			return req, func() error { <-g.closed; return nil }
		}},
		{"flat-multipart.bin", func(g *genReader) (*http.Request, func() error) {
			u := addrURL(br, "ftp", testftp.User, srv.Addr(), "/", true)
			pr, pw := io.Pipe()
			mw := multipart.NewWriter(pw)
			errc := make(chan error, 1)
			go func() {
				part, err := mw.CreateFormFile("file", "flat-multipart.bin")
				if err == nil {
					_, err = io.Copy(part, g)
				}
				if err == nil {
					err = mw.Close()
				}
				pw.CloseWithError(err)
				errc <- err
			}()
			req, err := http.NewRequest(http.MethodPost, u, pr)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", mw.FormDataContentType())
			return req, func() error { return <-errc }
		}},
	}
	for i, up := range uploads {
		// Restart the peak count at the current RSS (Linux 4.0+), so each
		// upload has a peak of its own; without it the peak is since start.
		reset := procstat.ResetPeak(pid)
		if reset != nil {
			t.Logf("cannot reset the peak (%v): VmHWM below counts from the bridge's start", reset)
		}
		g := newGenReader(uint64(i+1), size)
		req, sent := up.send(g)
		req.SetBasicAuth(testftp.User, testftp.Password)

		sampler := sampleRSS(pid, 50*time.Millisecond)
		start := time.Now()
		resp, err := client.Do(req)
		var body []byte
		if err == nil {
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		elapsed := time.Since(start)
		maxRSS, samples := sampler.stop()
		if err != nil {
			t.Fatalf("%s %s: %v", req.Method, up.name, err)
		}
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("%s %s: %d %s", req.Method, up.name, resp.StatusCode, body)
		}
		if err := sent(); err != nil {
			t.Fatalf("%s %s: making the body: %v", req.Method, up.name, err)
		}
		if want := `"size":` + strconv.Itoa(size); !bytes.Contains(body, []byte(want)) {
			t.Errorf("%s %s: the bridge did not report %s: %s", req.Method, up.name, want, body)
		}
		peak, err := procstat.StatusBytes(pid, "VmHWM")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s %s: %s in %v = %.0f MB/s; bridge peak RSS (VmHWM) %s, highest of %d VmRSS samples %s",
			req.Method, up.name, mib(size), elapsed.Round(time.Millisecond),
			float64(size)/elapsed.Seconds()/1e6, mib(peak), samples, mib(maxRSS))
		if peak >= limit {
			t.Errorf("%s %s: bridge peak RSS %s, want under %s: is the upload buffered?", req.Method, up.name, mib(peak), mib(limit))
		}

		// The file arrived whole, and nothing else stays beside it.
		file := filepath.Join(srv.Root, up.name)
		gotSize, gotSum := fileDigest(t, file)
		if gotSize != size || !bytes.Equal(gotSum, g.sum()) {
			t.Errorf("%s on disk: %d bytes, sha256 %x; sent %d bytes, sha256 %x", up.name, gotSize, gotSum, size, g.sum())
		}
		if err := os.Remove(file); err != nil { // 1 GiB: do not wait for the end
			t.Error(err)
		}
		if left, _ := filepath.Glob(filepath.Join(srv.Root, ".*.part")); len(left) > 0 {
			t.Errorf("temporary files left behind: %q", left)
		}
	}

	// Down: a sparse 1 GiB file, so the FTP side costs no disk writes.
	if err := os.Truncate(filepath.Join(srv.Root, "big.bin"), size); err != nil {
		t.Fatal(err)
	}
	_ = procstat.ResetPeak(pid)
	start := time.Now()
	resp, err := client.Get(addrURL(br, "ftp", "", srv.Addr(), "/big.bin", false))
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	elapsed := time.Since(start)
	if err != nil || resp.StatusCode != http.StatusOK || n != size {
		t.Fatalf("GET big.bin: %d, %d bytes, %v", resp.StatusCode, n, err)
	}
	peak, err := procstat.StatusBytes(pid, "VmHWM")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("GET big.bin: %s in %v = %.0f MB/s; bridge peak RSS (VmHWM) %s",
		mib(size), elapsed.Round(time.Millisecond), float64(size)/elapsed.Seconds()/1e6, mib(peak))
	if peak >= limit {
		t.Errorf("GET big.bin: bridge peak RSS %s, want under %s: is the download buffered?", mib(peak), mib(limit))
	}
}

// buildBridge compiles this package into a binary of its own, with the go
// tool that runs the test.
func buildBridge(t *testing.T) string {
	t.Helper()
	goTool := "go"
	// The toolchain that built this test binary, not whichever go is first
	// on PATH; that one only when the build did not record its root
	// (-trimpath).
	//lint:ignore SA1019 a test binary runs on the machine that built it
	if root := runtime.GOROOT(); root != "" {
		goTool = filepath.Join(root, "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "ftpbridge")
	out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runBridgeProcess starts the bridge binary on a free loopback port, allowed
// to reach 127.0.0.1, with any further flags, and kills it when the test
// ends.
func runBridgeProcess(t *testing.T, bin string, args ...string) (*bridge, int) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-listen", "127.0.0.1:0", "-allow-hosts", "127.0.0.1", "-log-level", "warn", "-data-dir", t.TempDir()}, args...)...)
	// Only the flags above configure it, whatever this shell exports.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FTPBRIDGE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Stderr = testLog{t}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	drained := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-drained // stdout ends when the process does; Wait closes it
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(stdout)
	line := ""
	if sc.Scan() {
		line = sc.Text()
	}
	go func() {
		defer close(drained)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	_, addr, ok := strings.Cut(line, "ftpbridge listening on http://")
	if !ok {
		t.Fatalf("bridge did not start: stdout said %q (%v)", line, sc.Err())
	}
	return &bridge{URL: "http://" + strings.TrimSuffix(addr, "/")}, cmd.Process.Pid
}

// rssSampler polls a process's VmRSS, to show how memory moved during an
// upload (VmHWM gives the peak itself).
type rssSampler struct {
	done    chan struct{}
	quit    chan struct{}
	max     int64
	samples int
}

func sampleRSS(pid int, every time.Duration) *rssSampler {
	s := &rssSampler{done: make(chan struct{}), quit: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			if rss, err := procstat.StatusBytes(pid, "VmRSS"); err == nil {
				s.samples++
				s.max = max(s.max, rss)
			}
			select {
			case <-s.quit:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// stop ends the polling and returns the highest VmRSS seen and the number
// of samples.
func (s *rssSampler) stop() (int64, int) {
	close(s.quit)
	<-s.done
	return s.max, s.samples
}

// genReader produces n pseudo-random bytes from a seed, hashing them as it
// goes, so a large upload is never held in memory and can still be checked.
type genReader struct {
	src    *rand.ChaCha8
	left   int64
	h      hash.Hash
	once   sync.Once
	closed chan struct{}
}

func newGenReader(seed uint64, n int64) *genReader {
	var key [32]byte
	key[0] = byte(seed)
	return &genReader{src: rand.NewChaCha8(key), left: n, h: sha256.New(), closed: make(chan struct{})}
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	n, _ := g.src.Read(p) // never fails
	g.h.Write(p[:n])
	g.left -= int64(n)
	return n, nil
}

// Close lets an HTTP transport say it has finished with the body.
func (g *genReader) Close() error {
	g.once.Do(func() { close(g.closed) })
	return nil
}

// sum is the sha256 of what was read, once the reading is over.
func (g *genReader) sum() []byte { return g.h.Sum(nil) }

// fileDigest is a file's size and sha256.
func fileDigest(t *testing.T, name string) (int64, []byte) {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		t.Fatal(err)
	}
	return n, h.Sum(nil)
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// TestMemoryFlatActiveMode downloads 1 GiB from a vsftpd that only does
// active mode (the server connects back to the bridge) through a bridge
// process: every byte arrives, and the bridge's peak RSS stays flat.
func TestMemoryFlatActiveMode(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads 1 GiB through a bridge process; skipped with -short")
	}
	const size, limit = 1 << 30, 64 << 20
	srv, _ := activeOnlyVsftpd(t, realftp.Options{})
	// Sparse, so the FTP side reads no disk; a pattern at the end proves
	// the last bytes came too.
	big := filepath.Join(srv.Root, "big.bin")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("the end"), size-7); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	srv.FixPermissions(t)
	_, wantSum := fileDigest(t, big)

	br, pid := runBridgeProcess(t, buildBridge(t), "-active-ports", activePortsArg(t))
	_ = procstat.ResetPeak(pid)
	req, _ := http.NewRequest(http.MethodGet, addrURL(br, "ftp", srv.User, srv.Addr, "/big.bin", false)+"?mode=active", nil)
	req.SetBasicAuth(srv.User, srv.Password)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	resp.Body.Close()
	elapsed := time.Since(start)
	if err != nil || resp.StatusCode != http.StatusOK || n != size || !bytes.Equal(h.Sum(nil), wantSum) {
		t.Fatalf("GET big.bin in active mode: %d, %d bytes, identical=%v, %v", resp.StatusCode, n, bytes.Equal(h.Sum(nil), wantSum), err)
	}
	peak, err := procstat.StatusBytes(pid, "VmHWM")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("GET big.bin in active mode: %s in %v = %.0f MB/s; bridge peak RSS (VmHWM) %s",
		mib(size), elapsed.Round(time.Millisecond), float64(size)/elapsed.Seconds()/1e6, mib(peak))
	if peak >= limit {
		t.Errorf("bridge peak RSS %s, want under %s: is the download buffered?", mib(peak), mib(limit))
	}
}
