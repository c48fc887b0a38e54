package bench

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/realftp"
	"github.com/ftpbridge/ftpbridge/internal/procstat"
)

const (
	idleSessions  = 1000
	slowTransfers = 200
	// loginsAtOnce: the bridge allows a client five login tries at once
	// for one user of a server (a try is given back when the login
	// succeeds).
	loginsAtOnce = 4
	// downloadsAtOnce: vsftpd picks each passive port at random among
	// 31, so that many listening together would meet.
	downloadsAtOnce = 8
	// downloadsPerServer: a vsftpd of realftp has 31 passive ports, and
	// each download in flight holds one (vsftpd cannot listen on a port
	// a data connection still uses); it tries 10 random ports for each
	// PASV, so with 10 of 31 busy it practically never fails.
	downloadsPerServer = 10
)

// failures reports the first few of many errors from concurrent work, so
// that one cause does not print a thousand lines.
type failures struct {
	t *testing.T
	n atomic.Int32
}

func (f *failures) add(format string, args ...any) {
	if f.n.Add(1) <= 3 {
		f.t.Errorf(format, args...)
	}
}

// check ends the test if anything failed.
func (f *failures) check(of int) {
	if n := f.n.Load(); n > 0 {
		f.t.Fatalf("%d of %d failed", n, of)
	}
}

// peakRSS: the bridge's peak RSS during a 4 GiB download and a 4 GiB
// upload at the same time.
func (e *env) peakRSS(s *site) figure {
	t := e.t
	sparse(t, filepath.Join(s.root, "big4.bin"), 4*gib)
	up := filepath.Join(t.TempDir(), "up4.bin")
	sparse(t, up, 4*gib)
	// Count the peak from now (Linux 4.0+): writing 5 resets VmHWM.
	_ = procstat.ResetPeak(e.bridge.pid)
	var wg sync.WaitGroup
	wg.Go(func() { curl(t, "-u", s.auth(), s.bridgeURL(e.bridge.url, "/big4.bin")) })
	wg.Go(func() { curl(t, "-u", s.auth(), "-T", up, s.bridgeURL(e.bridge.url, "/up4.bin")+"?overwrite=1") })
	wg.Wait()
	peak, err := procstat.StatusBytes(e.bridge.pid, "VmHWM")
	if err != nil {
		t.Fatal(err)
	}
	return figure{mode: s.mode, what: "peak RSS, 4 GiB down + 4 GiB up at once", who: "ftpbridge", value: float64(peak) / mib, unit: "MiB"}
}

// inTurns runs do(0..n-1), atOnce at a time.
func inTurns(n, atOnce int, do func(i int)) {
	turn := make(chan struct{}, atOnce)
	var wg sync.WaitGroup
	for i := range n {
		turn <- struct{}{}
		wg.Go(func() {
			defer func() { <-turn }()
			do(i)
		})
	}
	wg.Wait()
}

// idleSessions: the RSS of a bridge of its own as 1,000 browser sessions
// log in through the connect form, each with a cookie of its own, and keep
// the FTP connection the login made in the pool. The bridge's limits are
// raised so that none is refused or closed: connections per FTP server
// (16 by default, across all sessions) and the idle timeout.
func (e *env) idleSessions(srv *realftp.Server) []figure {
	t := e.t
	b := e.startBridge("-max-conns-per-host", strconv.Itoa(2*idleSessions), "-idle-timeout", "30m")
	defer b.stop()
	host, port, err := net.SplitHostPort(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"scheme": {"ftp"}, "host": {host}, "port": {port}, "user": {srv.User}, "password": {srv.Password}}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	failed := &failures{t: t}
	login := func(int) {
		resp, err := noRedirect.PostForm(b.url+"/connect", form)
		if err != nil {
			failed.add("connect: %v", err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) == 0 {
			failed.add("connect: %s, %d cookies; want 303 and a session cookie", resp.Status, len(resp.Cookies()))
		}
	}
	login(0) // the bridge's first login pages in its code: not a session's cost
	ftpPort, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	before, heldBefore := rssBytes(t, b.pid), connectionsTo(t, b.pid, ftpPort)
	inTurns(idleSessions, loginsAtOnce, login)
	after, held := rssBytes(t, b.pid), connectionsTo(t, b.pid, ftpPort)-heldBefore
	failed.check(idleSessions)
	if held != idleSessions {
		t.Fatalf("%d sessions hold %d more FTP connections: each should hold one", idleSessions, held)
	}
	return []figure{
		{mode: "0 ms", what: "RSS per idle browser session with a pooled FTP connection", who: "ftpbridge", value: float64(after-before) / idleSessions / 1024, unit: "KiB"},
		{mode: "0 ms", what: fmt.Sprintf("RSS with %d idle sessions, each holding an FTP connection", idleSessions), who: "ftpbridge", value: float64(after) / mib, unit: "MiB"},
	}
}

// slowDownloads: the RSS of a bridge of its own with 200 downloads in
// flight at once, each read by a client that took its first 64 KiB and
// then stopped reading, so that all stay open until they are measured.
// They come from 20 vsftpds serving the same tree (see
// downloadsPerServer).
func (e *env) slowDownloads(srv *realftp.Server) []figure {
	t := e.t
	b := e.startBridge("-max-conns-per-session", strconv.Itoa(2*downloadsPerServer))
	defer b.stop()
	sites := make([]*site, slowTransfers/downloadsPerServer)
	for i := range sites {
		more := realftp.StartVsftpd(t, realftp.Options{Root: srv.Root})
		sites[i] = &site{srv: more, addr: more.Addr}
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: slowTransfers}}
	failed := &failures{t: t}
	get := func(i int) io.ReadCloser {
		s := sites[i%len(sites)]
		req, err := http.NewRequest(http.MethodGet, s.bridgeURL(b.url, fmt.Sprintf("/many100/f%02d.bin", i%50)), nil)
		if err != nil {
			failed.add("download %d: %v", i, err)
			return nil
		}
		req.SetBasicAuth(s.srv.User, s.srv.Password)
		resp, err := client.Do(req)
		if err != nil {
			failed.add("download %d: %v", i, err)
			return nil
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			failed.add("download %d: %s", i, resp.Status)
			return nil
		}
		if _, err := io.ReadFull(resp.Body, make([]byte, 64<<10)); err != nil {
			resp.Body.Close()
			failed.add("download %d: %v", i, err)
			return nil
		}
		return resp.Body
	}
	if body := get(0); body != nil { // pages in the download path: not a transfer's cost
		body.Close()
	}
	before := rssBytes(t, b.pid)
	bodies := make([]io.ReadCloser, slowTransfers)
	inTurns(slowTransfers, downloadsAtOnce, func(i int) { bodies[i] = get(i) })
	during := rssBytes(t, b.pid)
	for _, body := range bodies {
		if body != nil {
			body.Close()
		}
	}
	failed.check(slowTransfers)
	return []figure{
		{mode: "0 ms", what: "RSS per download in flight (a slow reader)", who: "ftpbridge", value: float64(during-before) / slowTransfers / 1024, unit: "KiB"},
		{mode: "0 ms", what: fmt.Sprintf("RSS with %d downloads in flight", slowTransfers), who: "ftpbridge", value: float64(during) / mib, unit: "MiB"},
	}
}
