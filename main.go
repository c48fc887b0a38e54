// Command ftpbridge puts FTP and FTPS servers in the browser. run() builds
// each part once and wires them; docs/ARCHITECTURE.md says what each is.
package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ftpbridge/ftpbridge/access"
	"github.com/ftpbridge/ftpbridge/ftppool"
	"github.com/ftpbridge/ftpbridge/handlers"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/metrics"
	"github.com/ftpbridge/ftpbridge/internal/netpolicy"
	"github.com/ftpbridge/ftpbridge/internal/session"
	"github.com/ftpbridge/ftpbridge/internal/share"
	"github.com/ftpbridge/ftpbridge/internal/transfer"
	"github.com/ftpbridge/ftpbridge/webdav"
)

func main() {
	if err := run(context.Background(), os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "ftpbridge:", err)
		os.Exit(1)
	}
}

type config struct {
	listen          string
	allowHosts      string
	allowPorts      string
	demo            bool
	maxConnsSession int
	maxConnsHost    int
	idleTimeout     time.Duration
	connWait        time.Duration
	ioTimeout       time.Duration
	sessionTTL      time.Duration
	maxSessions     int
	maxSockets      int
	shutdownTimeout time.Duration
	trustedProxies  string
	ftpCAFile       string
	maxListBytes    int64
	maxListEntries  int
	maxUploadBytes  int64
	zipMaxEntries   int
	zipMaxBytes     int64
	zipMaxDepth     int
	walkMaxEntries  int
	walkTimeout     time.Duration
	walksPerClient  int
	dataDir         string
	keyFile         string
	database        string
	redis           string
	drainDelay      time.Duration
	baseURL         string
	hosts           string
	shareMaxExpiry  time.Duration
	sharesPerOwner  int
	sharesPerClient int
	sharesPerMinute int
	headerTimeout   time.Duration
	pprof           string
	metricsListen   string
	logLevel        string
	activePorts     string
	activeAddress   string
}

// parseFlags reads the flags; each may also come from FTPBRIDGE_<NAME>
// (-max-conns-per-host is FTPBRIDGE_MAX_CONNS_PER_HOST), and a flag on the
// command line wins over its variable.
func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.listen, "listen", "127.0.0.1:8080", "address to serve HTTP on")
	fs.StringVar(&c.allowHosts, "allow-hosts", "", "comma list of extra FTP hosts to allow (names, IPs, CIDRs, each optionally :port); public addresses are allowed on FTP ports (see -allow-ports)")
	fs.StringVar(&c.allowPorts, "allow-ports", "", "comma list of ports and ranges (2121,10000-10100) public addresses may be dialled on, besides 21, 990 and the ports named in -allow-hosts")
	fs.BoolVar(&c.demo, "demo", false, "also run an embedded FTP server with sample files on loopback")
	fs.IntVar(&c.maxConnsSession, "max-conns-per-session", 4, "FTP connections per browser session and site")
	fs.IntVar(&c.maxConnsHost, "max-conns-per-host", 16, "FTP connections per FTP server, across all sessions")
	fs.DurationVar(&c.idleTimeout, "idle-timeout", 2*time.Minute, "close FTP connections idle this long")
	fs.DurationVar(&c.connWait, "conn-wait", 10*time.Second, "how long a request waits for a free FTP connection before 503")
	fs.DurationVar(&c.ioTimeout, "io-timeout", 30*time.Second, "longest silence accepted from an FTP server")
	fs.DurationVar(&c.sessionTTL, "session-ttl", 12*time.Hour, "a browser session unused this long ends")
	fs.IntVar(&c.maxSessions, "max-sessions", 10000, "most browser sessions kept; past it the least recently used without logins goes first (0: no limit)")
	fs.IntVar(&c.maxSockets, "max-sockets-per-session", 8, "most transfer sockets (/ws) one browser session may hold open (0: no limit)")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGTERM, how long running transfers may go on")
	fs.StringVar(&c.trustedProxies, "trusted-proxies", "", "comma list of proxy IPs or CIDRs whose X-Forwarded-Proto is believed")
	fs.StringVar(&c.ftpCAFile, "ftp-ca-file", "", "PEM file of extra certificate authorities for FTPS servers")
	fs.Int64Var(&c.maxListBytes, "max-list-bytes", 64<<20, "largest folder listing accepted from an FTP server, in bytes")
	fs.IntVar(&c.maxListEntries, "max-list-entries", 200000, "most entries accepted in one folder listing")
	fs.Int64Var(&c.maxUploadBytes, "max-upload-bytes", 0, "largest upload request body accepted, in bytes (0: no limit beyond the FTP server's)")
	fs.IntVar(&c.zipMaxEntries, "zip-max-entries", 10000, "most files and folders in one folder download as zip")
	fs.Int64Var(&c.zipMaxBytes, "zip-max-bytes", 16<<30, "largest total size of the files in one folder download as zip, in bytes")
	fs.IntVar(&c.zipMaxDepth, "zip-max-depth", 32, "most folder levels below the zipped folder")
	fs.IntVar(&c.walkMaxEntries, "walk-max-entries", 100000, "most files and folders one recursive walk (count, delete, zip) goes through")
	fs.DurationVar(&c.walkTimeout, "walk-timeout", 5*time.Minute, "longest one recursive walk (count, delete, zip before its first byte) may take")
	fs.IntVar(&c.walksPerClient, "walks-per-client", 2, "recursive walks one client address may run at once")
	fs.StringVar(&c.dataDir, "data-dir", defaultDataDir(), "folder for share links and their key")
	fs.StringVar(&c.keyFile, "key-file", "", "the key that seals FTP passwords and signs session cookies; every bridge of a cluster reads the same file, which must exist (default: share.key in -data-dir, made on first run without -database)")
	fs.StringVar(&c.database, "database", "", "postgres:// URL: keep shares and sessions in PostgreSQL, shared by every bridge that names it, instead of the -data-dir file and this process's memory")
	fs.StringVar(&c.redis, "redis", "", "redis:// URL: share transfer events, login and share limits, the per-server connection budget and WebDAV locks with every bridge that names it (Redis down: each bridge goes on alone)")
	fs.DurationVar(&c.drainDelay, "drain-delay", 0, "on SIGTERM, how long the bridge still takes new requests while /readyz says 503, so that a load balancer stops sending them first")
	fs.StringVar(&c.baseURL, "base-url", "", "the bridge's public address for share links, such as https://files.example.com (default: from each request)")
	fs.StringVar(&c.hosts, "hosts", "", "comma list of the host names the bridge answers to; any other Host is refused (421) (default: the -base-url host, plus localhost, 127.0.0.1 and [::1] when -listen is loopback)")
	fs.DurationVar(&c.shareMaxExpiry, "share-max-expiry", 30*24*time.Hour, "the longest a share link may live")
	fs.IntVar(&c.sharesPerOwner, "max-shares-per-owner", 1000, "most share links not yet expired that one session or login may hold (0: no limit)")
	fs.IntVar(&c.sharesPerClient, "max-shares-per-client", 5000, "most share links not yet expired made from one client address (0: no limit)")
	fs.IntVar(&c.sharesPerMinute, "shares-per-minute", 30, "most share links one client address may make in a minute (0: no limit)")
	fs.DurationVar(&c.headerTimeout, "header-timeout", 10*time.Second, "how long a client may take to send a request's headers (slow clients are dropped)")
	fs.StringVar(&c.pprof, "pprof", "", "serve Go's profiler (net/http/pprof) on this loopback address, such as 127.0.0.1:6060; off when empty")
	fs.StringVar(&c.metricsListen, "metrics-listen", "", "serve Prometheus /metrics on this address of its own, such as 127.0.0.1:9090; off when empty (never on -listen)")
	fs.StringVar(&c.activePorts, "active-ports", "", "port range LO-HI to listen on for active-mode (PORT/EPRT) data connections, such as 50000-50100; active mode is off when empty")
	fs.StringVar(&c.activeAddress, "active-address", "", "the IP announced to FTP servers in active mode (default: the local address of the control connection)")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")

	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := "FTPBRIDGE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" {
			if err := fs.Set(f.Name, v); err != nil && envErr == nil {
				envErr = fmt.Errorf("%s: %w", name, err)
			}
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	if err := fs.Parse(args[1:]); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return c, nil
}

// run is the whole program, with its environment passed in so tests can
// start the real server.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg, err := parseFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	policy, err := netpolicy.Parse(cfg.allowHosts)
	if err != nil {
		return err
	}
	if err := policy.OpenPorts(cfg.allowPorts); err != nil {
		return err
	}
	proxies, err := parsePrefixes(cfg.trustedProxies)
	if err != nil {
		return fmt.Errorf("-trusted-proxies: %w", err)
	}
	hosts, err := hostNames(cfg.hosts, cfg.baseURL, cfg.listen)
	if err != nil {
		return err
	}
	roots, err := loadRoots(cfg.ftpCAFile)
	if err != nil {
		return err
	}
	activePorts, err := parsePortRange(cfg.activePorts)
	if err != nil {
		return fmt.Errorf("-active-ports: %w", err)
	}
	var activeAddr netip.Addr
	if cfg.activeAddress != "" {
		if activeAddr, err = netip.ParseAddr(cfg.activeAddress); err != nil || activeAddr.Zone() != "" {
			return fmt.Errorf("-active-address: %q is not an IP address", cfg.activeAddress)
		}
		activeAddr = activeAddr.Unmap()
	}

	demoSite := ""
	if cfg.demo {
		srv, site, cleanup, err := startDemo(policy, logger)
		if err != nil {
			return err
		}
		defer cleanup()
		defer srv.Close()
		demoSite = site
	}

	// Opened before the pool and closed after it: the pool hands its
	// connection slots back to the shared budget as it closes.
	st, err := openShared(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	shares, sealer := st.shares, st.sealer

	dialer := &netpolicy.Dialer{Policy: policy}
	mx := metrics.New()
	logins := access.NewSharedLoginGate(st.sharedLimits())
	logins.OnRefused = mx.LoginRefused
	pool := ftppool.New(ftppool.Config{
		MaxConnsPerSession: cfg.maxConnsSession,
		MaxConnsPerHost:    cfg.maxConnsHost,
		IdleTimeout:        cfg.idleTimeout,
		WaitTimeout:        cfg.connWait,
		IOTimeout:          cfg.ioTimeout,
		DialTimeout:        cfg.ioTimeout,
		NoopAfter:          5 * time.Second,
		MaxListBytes:       cfg.maxListBytes,
		MaxListEntries:     cfg.maxListEntries,
		WalkMaxEntries:     cfg.walkMaxEntries,
		WalkTimeout:        cfg.walkTimeout,
		Dial:               dialer.DialContext,
		DialData:           dialer.DialDataContext,
		RootCAs:            roots,
		Logger:             logger,
		Logins:             logins,
		ObserveOp:          mx.ObserveOp,
		ActivePorts:        activePorts,
		ActiveAddress:      activeAddr,
		Budget:             st.budget(),
	})
	defer pool.Close()
	mx.WatchPool(func() []metrics.HostStats {
		per := pool.PerHost()
		out := make([]metrics.HostStats, len(per))
		for i, h := range per {
			// The same fields: one the pool adds fails to compile here
			// until someone decides whether it is a metric.
			out[i] = metrics.HostStats(h)
		}
		return out
	})

	sessions := session.NewStore(sealer, session.Options{
		Limits:  session.Limits{TTL: cfg.sessionTTL, Max: cfg.maxSessions},
		Records: st.records,
		Secure:  access.Proxies(proxies).IsHTTPS,
		OnExpire: func(owner string) {
			pool.ForgetOwner(owner)
			if st.bus != nil {
				st.bus.EndSession(owner)
			}
		},
		Logger: logger,
	})
	if st.bus != nil {
		// Another bridge ended it: its record is gone already. The bus's
		// receiver must not wait on FTP servers saying goodbye.
		st.bus.OnSessionEnd(func(owner string) {
			sessions.EndedElsewhere(owner)
			go pool.ForgetOwner(owner)
		})
	}
	if hook, ok := ctx.Value(sessionsHook{}).(func(*session.Store)); ok {
		hook(sessions)
	}
	transfers := transfer.NewShared(mx.TransferHooks(), st.transferBus())
	defer transfers.Close()
	stopping, closing := make(chan struct{}), make(chan struct{})
	resolver := access.NewResolver(pool, sessions, sealer, access.Proxies(proxies))
	h, err := handlers.New(handlers.Config{
		Pool:           pool,
		Sessions:       sessions,
		Transfers:      transfers,
		Access:         resolver,
		Logger:         logger,
		DemoSite:       demoSite,
		MaxUploadBytes: cfg.maxUploadBytes,
		IOTimeout:      cfg.ioTimeout,
		ZipLimits:      handlers.ZipLimits{Entries: cfg.zipMaxEntries, Bytes: cfg.zipMaxBytes, Depth: cfg.zipMaxDepth},
		WalksPerClient: cfg.walksPerClient,
		Shares: handlers.ShareConfig{Store: shares, Sealer: sealer, BaseURL: cfg.baseURL,
			DefaultExpiry: min(7*24*time.Hour, cfg.shareMaxExpiry), MaxExpiry: cfg.shareMaxExpiry,
			PerOwner: cfg.sharesPerOwner, PerClient: cfg.sharesPerClient, PerMinute: cfg.sharesPerMinute},
		Stopping: stopping,
		Closing:  closing,
		Ready:    st.ready,
		Limits:   st.sharedLimits(),

		MaxSocketsPerSession: cfg.maxSockets,
		Hosts:                hosts,
		DAV:                  webdav.New(webdav.Config{Access: resolver, Transfers: transfers, Logger: logger, MaxUploadBytes: cfg.maxUploadBytes, Locks: st.davLocks()}),
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	server := &http.Server{
		Handler: h,
		// Header and idle limits only: a whole-request timeout would cut
		// a long download or upload.
		ReadHeaderTimeout: cfg.headerTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	// Before the line that says the bridge is up: whoever reads it may use
	// the profiler at once.
	if cfg.pprof != "" {
		stopProfiler, err := startProfiler(cfg.pprof, logger)
		if err != nil {
			ln.Close()
			return err
		}
		defer stopProfiler()
	}
	var metricsServer *http.Server
	if cfg.metricsListen != "" {
		mln, err := net.Listen("tcp", cfg.metricsListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("-metrics-listen: %w", err)
		}
		metricsServer = &http.Server{Handler: metricsHandler(mx.Handler(), hosts), ReadHeaderTimeout: cfg.headerTimeout,
			ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
		defer metricsServer.Close()
		go func() { _ = metricsServer.Serve(mln) }()
		fmt.Fprintf(stdout, "ftpbridge metrics on http://%s/metrics\n", mln.Addr())
	}

	fmt.Fprintf(stdout, "ftpbridge listening on http://%s/\n", ln.Addr())
	if demoSite != "" {
		fmt.Fprintf(stdout, "demo FTP server: http://%s%s\n", ln.Addr(), demoSite)
	}

	served := make(chan error, 1)
	go func() { served <- server.Serve(ln) }()
	go expireSessions(ctx, sessions, logger)
	go purgeShares(ctx, shares, logger)

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	close(stopping)
	// Draining: /readyz says 503 and responses say Connection: close, but
	// requests are still taken until the load balancer has seen it and
	// sends them elsewhere; only then does the listener close.
	server.SetKeepAlivesEnabled(false)
	if cfg.drainDelay > 0 {
		logger.Info("draining: /readyz fails, requests still taken", "for", cfg.drainDelay)
		t := time.NewTimer(cfg.drainDelay)
		select {
		case <-t.C:
		case err := <-served:
			t.Stop()
			return fmt.Errorf("serve: %w", err)
		}
	}
	logger.Info("shutting down: refusing new requests, letting transfers finish", "timeout", cfg.shutdownTimeout)
	close(closing)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	if err := server.Shutdown(sctx); err != nil {
		logger.Warn("transfers still running at the shutdown deadline were cut", "err", err)
		server.Close()
	}
	if metricsServer != nil {
		_ = metricsServer.Shutdown(sctx)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// sessionsHook is the context key under which a test hands run a
// func(*session.Store), to count the sessions a running bridge keeps.
type sessionsHook struct{}

// hostNames is what -hosts allows: the names listed, the -base-url host,
// and on loopback (when -hosts names nothing) the loopback names. A bridge
// reachable from other machines with neither flag would answer to no name
// at all, so it does not start: answering to every name instead would let
// any page whose name resolves to the bridge use it as its own site.
func hostNames(spec, baseURL, listen string) (*handlers.HostNames, error) {
	hosts, err := handlers.ParseHostNames(spec)
	if err != nil {
		return nil, err
	}
	if baseURL != "" {
		u, err := url.Parse(baseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("-base-url %q: give the bridge's public address, such as https://files.example.com", baseURL)
		}
		if err := hosts.Add(u.Host); err != nil {
			return nil, fmt.Errorf("-base-url: %w", err)
		}
	}
	if spec == "" && listensOnLoopback(listen) {
		for _, n := range []string{"localhost", "127.0.0.1", "[::1]"} {
			_ = hosts.Add(n)
		}
	}
	if hosts.Len() == 0 {
		return nil, fmt.Errorf("-listen %s is reachable from other machines: name the host names browsers use to reach the bridge with -hosts (such as -hosts files.example.com), or set -base-url; requests for any other name are refused, so that no other site can pass for the bridge (DNS rebinding)", listen)
	}
	return hosts, nil
}

// listensOnLoopback reports a -listen address only this machine can reach.
func listensOnLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// metricsHandler serves the scrape at /metrics, to a Host that is an IP
// address or one of -hosts: a scraper names its target either way, while
// a page whose name was pointed at this listener (DNS rebinding) could
// otherwise read which FTP servers the bridge talks to.
func metricsHandler(scrape http.Handler, hosts *handlers.HostNames) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if _, ok := netpolicy.ParseLooseIP(host); !ok && !hosts.Allows(r.Host) {
			http.Error(w, "This listener does not answer to that host name: scrape it by IP address or by a name in -hosts.", http.StatusMisdirectedRequest)
			return
		}
		scrape.ServeHTTP(w, r)
	})
	return mux
}

// startProfiler serves net/http/pprof on a loopback address of its own:
// profiles reveal much about the process, so never on the bridge's port
// and never beyond this machine.
func startProfiler(addr string, logger *slog.Logger) (stop func(), err error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("-pprof: %w", err)
	}
	if ip, perr := netip.ParseAddr(host); perr != nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("-pprof %s: the profiler listens on a loopback address only (127.0.0.1 or [::1])", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	logger.Info("profiler listening", "addr", ln.Addr().String())
	return func() { srv.Close() }, nil
}

func expireSessions(ctx context.Context, s *session.Store, logger *slog.Logger) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Expire(ctx); err != nil {
				logger.Error("session store", "err", err)
			}
		}
	}
}

// sharesKeptAfterExpiry is how long an expired share stays in the store,
// so that its link says "expired" (410) rather than "no such link" (404).
const sharesKeptAfterExpiry = 30 * 24 * time.Hour

// purgeShares deletes long-expired shares, at start and then hourly, so the
// store does not grow for ever.
func purgeShares(ctx context.Context, store share.Store, logger *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		n, err := store.Purge(time.Now().Add(-sharesKeptAfterExpiry))
		switch {
		case err != nil:
			logger.Warn("purging expired shares", "err", err)
		case n > 0:
			logger.Info("purged expired shares", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func parsePrefixes(spec string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(spec, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			ip, err := netip.ParseAddr(s)
			if err != nil {
				return nil, err
			}
			out = append(out, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// loadRoots returns the system roots plus -ftp-ca-file, or nil (system
// roots) when no file is given.
func loadRoots(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("-ftp-ca-file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("-ftp-ca-file %s: no PEM certificate in it", file)
	}
	return pool, nil
}

// startDemo writes the sample tree to a temporary folder and serves it on
// loopback, writable by anonymous, and allowed by the policy (that port only).
func startDemo(policy *netpolicy.Policy, logger *slog.Logger) (*embedftp.Server, string, func(), error) {
	dir, err := os.MkdirTemp("", "ftpbridge-demo-")
	if err != nil {
		return nil, "", nil, fmt.Errorf("demo: %w", err)
	}
	cleanup := func() { os.RemoveAll(dir) }
	if err := embedftp.WriteSampleTree(dir); err != nil {
		cleanup()
		return nil, "", nil, fmt.Errorf("demo: %w", err)
	}
	srv, err := embedftp.Start(embedftp.Options{Root: dir, Anonymous: true, AnonymousWritable: true, Logger: logger.With("component", "demo-ftp")})
	if err != nil {
		cleanup()
		return nil, "", nil, fmt.Errorf("demo: %w", err)
	}
	if err := policy.Allow(srv.Addr()); err != nil {
		srv.Close()
		cleanup()
		return nil, "", nil, fmt.Errorf("demo: %w", err)
	}
	return srv, "/ftp/" + srv.Addr() + "/", cleanup, nil
}

// defaultDataDir is where shares live unless -data-dir says otherwise:
// the user's configuration folder ($XDG_CONFIG_HOME or ~/.config).
func defaultDataDir() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "ftpbridge-data"
	}
	return filepath.Join(dir, "ftpbridge")
}

// parsePortRange reads LO-HI (or one port); "" is no range.
func parsePortRange(s string) ([2]int, error) {
	if s == "" {
		return [2]int{}, nil
	}
	los, his, found := strings.Cut(s, "-")
	if !found {
		his = los
	}
	lo, err1 := strconv.Atoi(strings.TrimSpace(los))
	hi, err2 := strconv.Atoi(strings.TrimSpace(his))
	if err1 != nil || err2 != nil || lo < 1 || hi > 65535 || lo > hi {
		return [2]int{}, fmt.Errorf("%q is not a port range LO-HI within 1-65535", s)
	}
	return [2]int{lo, hi}, nil
}
