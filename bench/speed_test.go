package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/ftpbridge/ftpbridge/internal/procstat"
)

// sizeName is how a measure names a size.
func sizeName(n int64) string {
	if n >= gib {
		return fmt.Sprintf("%d GiB", n/gib)
	}
	return fmt.Sprintf("%d MiB", n/mib)
}

// figures turns the medians of a race into a measure's rows, each with
// its ratio to the first contender's.
func figures(s *site, what, unit string, cs []contender, medians []time.Duration, value func(time.Duration) float64) []figure {
	var out []figure
	for i, c := range cs {
		v := value(medians[i])
		out = append(out, figure{mode: s.mode, what: what, who: c.name, value: v, unit: unit, ratio: v / value(medians[0]), base: cs[0].name})
	}
	return out
}

func millis(d time.Duration) float64 { return d.Seconds() * 1000 }

// cpuMeter adds up CPU time over the runs it wraps: the bridge's
// (bridgeCPU) or the whole machine's (machineCPU).
type cpuMeter struct {
	read func(t *testing.T) float64 // CPU seconds so far
	skip int                        // first runs not counted
	secs float64
	runs int
}

func bridgeCPU(pid int) *cpuMeter {
	return &cpuMeter{read: func(t *testing.T) float64 { return cpuSeconds(t, pid) }}
}

// machineCPU counts every process's and the kernel's work, the network
// stack's included: a way that needs C CPU seconds cannot take less than
// C / cores, however its processes share the cores.
func machineCPU() *cpuMeter {
	return &cpuMeter{read: func(t *testing.T) float64 {
		s, err := procstat.MachineBusySeconds()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}}
}

func (m *cpuMeter) wrap(run func(t *testing.T) time.Duration) func(t *testing.T) time.Duration {
	return func(t *testing.T) time.Duration {
		if m.skip > 0 {
			m.skip--
			return run(t)
		}
		before := m.read(t)
		took := run(t)
		m.secs += m.read(t) - before
		m.runs++
		return took
	}
}

// perGiB is the CPU time per GiB moved, n bytes a run.
func (m *cpuMeter) perGiB(n int64) float64 { return m.secs / float64(m.runs) * gib / float64(n) }

// machineFigures wraps each contender in a machine CPU meter, where the
// measure is of a gibibyte at loopback (what shows why a gateway cannot
// keep up with direct curl), and gives its rows once the race has run.
// empty are the same ways moving nothing: their CPU (a login for direct
// curl, curl's own start for all) is taken off, so that a row is what
// moving the bytes costs.
func machineFigures(t *testing.T, s *site, n int64, what string, cs, empty []contender) func() []figure {
	if n < gib || s.relay == "" {
		return func() []figure { return nil }
	}
	meters := make([]*cpuMeter, len(cs))
	for i := range cs {
		// Not race's unmeasured round: the first gibibyte written to
		// tmpfs took direct curl 3.1 s and 3.8 CPU s, against 0.4 s and
		// 1.0 CPU s each time after.
		meters[i] = machineCPU()
		meters[i].skip = 1
		cs[i].run = meters[i].wrap(cs[i].run)
	}
	return func() []figure {
		perGiB := make([]float64, len(cs))
		for i := range empty {
			idle := machineCPU()
			run := idle.wrap(empty[i].run)
			for range 3 {
				run(t)
				if empty[i].after != nil {
					empty[i].after()
				}
			}
			perGiB[i] = (meters[i].secs/float64(meters[i].runs) - idle.secs/float64(idle.runs)) * gib / float64(n)
		}
		out := make([]figure, len(cs))
		for i, c := range cs {
			out[i] = figure{mode: s.mode, what: what, who: c.name, value: perGiB[i], unit: "CPU s", ratio: perGiB[i] / perGiB[0], base: cs[0].name}
		}
		return out
	}
}

// downloads: a file of n bytes, by each way, and the bridge's CPU time per
// GiB downloaded.
func (e *env) downloads(s *site, n int64, runs int) []figure {
	file := map[int64]string{gib: "/big.bin", 100 * mib: "/100m.bin"}[n]
	ways := func(file string) []contender {
		cs := []contender{
			{"direct curl ftp://", moved(s.ftpURL(file)), nil},
			{"ftpbridge", moved("-u", s.auth(), s.bridgeURL(e.bridge.url, file)), nil},
			{"rclone serve http", moved(s.rcloneHTTP + file), nil},
		}
		if s.relay != "" {
			cs = append(cs, contender{"direct curl through a splice relay", moved(s.ftpURLVia(s.relay, file)), nil})
		}
		return cs
	}
	cs := ways(file)
	cpu := bridgeCPU(e.bridge.pid)
	cs[1].run = cpu.wrap(cs[1].run)
	what := sizeName(n) + " download" + s.where
	machine := machineFigures(e.t, s, n, "machine CPU per GiB downloaded (all processes and the kernel)"+s.where, cs, ways("/empty.bin"))
	out := figures(s, what, "MB/s", cs, race(e.t, cs, runs), func(d time.Duration) float64 { return float64(n) / d.Seconds() / 1e6 })
	if n < gib {
		return out
	}
	out = append(out, figure{mode: s.mode, what: "bridge CPU per GiB downloaded" + s.where, who: "ftpbridge", value: cpu.perGiB(n), unit: "CPU s"})
	return append(out, machine()...)
}

// uploads: a file of n bytes up, by each way, and the bridge's CPU time
// per GiB uploaded. Each makes a new file, which is removed after it,
// untimed: replacing one would make some contenders free a gigabyte of
// tmpfs inside their time and others not (the bridge writes beside the
// old file and renames over it; curl truncates it).
func (e *env) uploads(s *site, n int64, runs int) []figure {
	local := map[int64]string{gib: e.upload, 100 * mib: e.upload100}[n]
	removed := func(name string) func() {
		return func() {
			if err := os.Remove(filepath.Join(s.root, name)); err != nil {
				e.t.Error(err)
			}
		}
	}
	ways := func(local string) []contender {
		cs := []contender{
			{"direct curl -T ftp://", moved("-T", local, s.ftpURL("/up-direct.bin")), removed("up-direct.bin")},
			{"ftpbridge PUT", moved("-u", s.auth(), "-T", local, s.bridgeURL(e.bridge.url, "/up-put.bin")), removed("up-put.bin")},
			{"ftpbridge multipart", moved("-u", s.auth(), "-F", "file=@"+local+";filename=up-multipart.bin", s.bridgeURL(e.bridge.url, "/")),
				removed("up-multipart.bin")},
			{"rclone serve webdav PUT", moved("-T", local, s.rcloneDAV+"/up-rclone.bin"), removed("up-rclone.bin")},
		}
		if s.relay != "" {
			cs = append(cs, contender{"direct curl -T through a splice relay", moved("-T", local, s.ftpURLVia(s.relay, "/up-relay.bin")), removed("up-relay.bin")})
		}
		return cs
	}
	cs := ways(local)
	put, multipart := bridgeCPU(e.bridge.pid), bridgeCPU(e.bridge.pid)
	cs[1].run, cs[2].run = put.wrap(cs[1].run), multipart.wrap(cs[2].run)
	what := sizeName(n) + " upload" + s.where
	machine := machineFigures(e.t, s, n, "machine CPU per GiB uploaded (all processes and the kernel)"+s.where, cs, ways(e.empty))
	out := figures(s, what, "MB/s", cs, race(e.t, cs, runs), func(d time.Duration) float64 { return float64(n) / d.Seconds() / 1e6 })
	if n < gib {
		return out
	}
	out = append(out,
		figure{mode: s.mode, what: "bridge CPU per GiB uploaded" + s.where, who: "ftpbridge PUT", value: put.perGiB(n), unit: "CPU s"},
		figure{mode: s.mode, what: "bridge CPU per GiB uploaded" + s.where, who: "ftpbridge multipart", value: multipart.perGiB(n), unit: "CPU s"})
	return append(out, machine()...)
}

// listings: a folder of 10,000 entries, each measured after its
// connection (and direct curl's login) is made. rclone answers from its directory cache after its first listing, which
// is timed alone, before the others: that is what its first visitor waits.
func (e *env) listings(s *site) []figure {
	dir := "/tenk/"
	rcloneFirst := moved(s.rcloneHTTP + dir)(e.t)
	cs := []contender{
		{"direct curl LIST", moved(s.ftpURL(dir)), nil},
		{"ftpbridge HTML", moved("-u", s.auth(), "-H", "Accept: text/html", s.bridgeURL(e.bridge.url, dir)), nil},
		{"ftpbridge JSON", moved("-u", s.auth(), s.bridgeURL(e.bridge.url, dir)+"?format=json"), nil},
		{"rclone serve http (from its cache)", moved(s.rcloneHTTP + dir), nil},
	}
	out := figures(s, "10,000-entry listing", "ms", cs, race(e.t, cs, 5), millis)
	return append(out, figure{mode: s.mode, what: "10,000-entry listing", who: "rclone serve http, first time (nothing cached)",
		value: millis(rcloneFirst), unit: "ms", ratio: millis(rcloneFirst) / out[0].value, base: out[0].who})
}

// ttfbRuns is how many first bytes each contender's median is of.
const ttfbRuns = 9

// ttfb: the time to the first byte of a 1 KiB file, as curl sees it: (a)
// with a warm pool, files of a folder already visited, one after another;
// (b) the first visit of a folder, one nobody has listed. Direct curl has
// no pool: it connects and logs in for each file ("cold login"), so its
// two figures are alike.
func (e *env) ttfb(s *site) []figure {
	var i int
	warm := func(url func(p string) string, args ...string) func(t *testing.T) time.Duration {
		return func(t *testing.T) time.Duration {
			i++
			return curl(t, append(args, url(fmt.Sprintf("/small/s%02d.txt", i%64)))...).firstByte
		}
	}
	first := func(url func(p string) string, args ...string) func(t *testing.T) time.Duration {
		return func(t *testing.T) time.Duration {
			if s.visited == visitFolders {
				t.Fatalf("more than %d first visits: make more folders", visitFolders)
			}
			p := fmt.Sprintf("/%s/d%02d/f.txt", visitDir(s.mode), s.visited)
			s.visited++
			return curl(t, append(args, url(p))...).firstByte
		}
	}
	bridgeURL := func(p string) string { return s.bridgeURL(e.bridge.url, p) }
	rcloneURL := func(p string) string { return s.rcloneHTTP + p }
	var out []figure
	for _, m := range []struct {
		what string
		run  func(url func(string) string, args ...string) func(t *testing.T) time.Duration
	}{
		{"1 KiB file, time to first byte, warm pool", warm},
		{"1 KiB file, time to first byte, first visit of a folder", first},
	} {
		// rclone first: the target compares with it.
		cs := []contender{
			{"rclone serve http", m.run(rcloneURL), nil},
			{"ftpbridge", m.run(bridgeURL, "-u", s.auth()), nil},
			{"direct curl ftp:// (cold login)", m.run(s.ftpURL), nil},
		}
		out = append(out, figures(s, m.what, "ms", cs, race(e.t, cs, ttfbRuns), millis)...)
	}
	return out
}

// smallFiles: GET requests per second of 1 KiB files at concurrency 8,
// keep-alive and a warm pool, bridge against rclone; and, as the ceiling
// both work under, the least any FTP client must do per file: a RETR (with
// its EPSV) on a logged-in connection per worker. The loads alternate, and
// each figure is the median of smallRuns: one load of each alone moved by
// a tenth from run to run, which is all the gap there is to see.
func (e *env) smallFiles(s *site) []figure {
	const conc = 8
	small := func(i int) string { return fmt.Sprintf("/small/s%02d.txt", i%64) }
	// A load's time per request, so that race can take the median.
	perRequest := func(load func() float64) func(*testing.T) time.Duration {
		return func(*testing.T) time.Duration { return time.Duration(float64(time.Second) / load()) }
	}
	rclone := func(i int) string { return s.rcloneHTTP + small(i) }
	bridge := func(i int) string { return s.bridgeURL(e.bridge.url, small(i)) }
	cs := []contender{
		{"rclone serve http", perRequest(func() float64 { return e.load(conc, rclone, nil) }), nil},
		{"ftpbridge", perRequest(func() float64 { return e.load(conc, bridge, s) }), nil},
		{"direct FTP, RETR only (the ceiling)", perRequest(func() float64 { return e.loadFTP(s, conc, small) }), nil},
	}
	// The ratios are to rclone: the target compares with it.
	return figures(s, "1 KiB GETs, concurrency 8", "req/s", cs, race(e.t, cs, smallRuns), func(d time.Duration) float64 { return float64(time.Second) / float64(d) })
}

// smallRuns is how many loads of each the small-file figures are medians of.
const smallRuns = 3

// loadDuration is how long each small-file load runs.
const loadDuration = 5 * time.Second

// loadFTP runs conc workers, each on its own FTP connection, retrieving
// path(i), and returns files per second.
func (e *env) loadFTP(s *site, conc int, path func(i int) string) float64 {
	t := e.t
	conns := make([]*ftp.ServerConn, conc)
	for w := range conns {
		c, err := ftp.Dial(s.addr)
		if err == nil {
			err = c.Login(s.srv.User, s.srv.Password)
		}
		if err != nil {
			t.Fatalf("direct FTP login: %v", err)
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
	return rate(conc, func(w, i int) { get(conns[w], i) })
}

// rate calls do(worker, i) from conc workers for loadDuration, after a
// warm-up of 4 calls each, and returns calls per second.
func rate(conc int, do func(w, i int)) float64 {
	for w := range conc {
		for i := range 4 {
			do(w, w+i*conc) // warm: connections made, logins done
		}
	}
	var n atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), loadDuration)
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

// load runs conc workers getting url(i), with the site's login when
// login is not nil, and returns requests per second.
func (e *env) load(conc int, url func(i int) string, login *site) float64 {
	t := e.t
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc}}
	get := func(i int) {
		req, err := http.NewRequest(http.MethodGet, url(i), nil)
		if err != nil {
			t.Fatal(err)
		}
		if login != nil {
			req.SetBasicAuth(login.srv.User, login.srv.Password)
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
	return rate(conc, func(_, i int) { get(i) })
}

// concurrent: 50 downloads of 100 MiB at once through the bridge, under
// its per-login cap of 16 connections.
func (e *env) concurrent(s *site) figure {
	t := e.t
	var wg sync.WaitGroup
	start := time.Now()
	for i := range 50 {
		wg.Go(func() {
			curl(t, "-u", s.auth(), s.bridgeURL(e.bridge.url, fmt.Sprintf("/many100/f%02d.bin", i)))
		})
	}
	wg.Wait()
	mbs := float64(50*100*mib) / time.Since(start).Seconds() / 1e6
	return figure{mode: s.mode, what: "50 × 100 MiB at once (cap 16)", who: "ftpbridge", value: mbs, unit: "MB/s aggregate"}
}
