// Package realftp starts real FTP daemons (Debian's vsftpd, pure-ftpd and
// proftpd) on loopback so that integration tests exercise our client code
// against the servers people actually run, with their quirks, rather than
// against a Go server written with the same assumptions as the client.
//
// The daemons need root (they chroot and switch users) and the binaries
// installed by .ci/install-servers.sh. When either is missing, tests are
// skipped, unless FTPBRIDGE_REQUIRE_REAL=1 is set, in which case they fail:
// set it in CI so that a broken install cannot turn into a silent green run.
//
// The helper changes machine state once, idempotently and under a lock:
// it creates the system accounts "ftp" (if missing) and "ftpbridgetest"
// with a random password kept in /var/lib/ftpbridge-realftp, and the PAM
// service /etc/pam.d/ftpbridge-realftp. Everything else is per daemon.
package realftp

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// AnonymousUser is the login name every daemon treats as anonymous; any
// password is accepted for it.
const AnonymousUser = "anonymous"

// Options configures one daemon.
type Options struct {
	// Root is the directory to serve. Both anonymous and the local user see
	// exactly this tree as "/" (chrooted: absolute symlinks resolve inside
	// it), unless NonChroot. The helper makes Root's parents traversable
	// and everything under it world-readable, and when Writable chowns it
	// all to the local user.
	Root string
	// Writable lets the local user upload, mkdir, rename and delete.
	// Anonymous is always read-only.
	Writable bool
	// TLSCertFile and TLSKeyFile, when both set, enable FTPS with this PEM
	// certificate and key. TLS is offered, never required, so plain clients
	// keep working against the same daemon.
	TLSCertFile, TLSKeyFile string
	// ImplicitTLS makes the control port speak TLS from the first byte
	// (port-990 style) instead of waiting for AUTH TLS. vsftpd and proftpd
	// support it; StartPureFTPd skips the test when it is set.
	ImplicitTLS bool
	// RequireSessionReuse keeps vsftpd's stock require_ssl_reuse=YES: data
	// connections must resume the control connection's TLS session, which
	// a Go client only does with a tls.Config.ClientSessionCache. Off by
	// default so that a plain tls.Config works; pure-ftpd never requires
	// reuse and ignores it.
	RequireSessionReuse bool
	// NonChroot leaves the local user unchrooted: after login it is in
	// Root, named by its absolute path (Server.Home), and it sees the
	// machine's whole filesystem, as on a server that gives its users
	// shell-like access. Anonymous stays chrooted into Root. Writable
	// still governs writes for vsftpd and proftpd; pure-ftpd has no
	// read-only switch for logged-in users, so there only Root is made
	// read-only and the user may write wherever unix permissions let it.
	NonChroot bool
	// MaxPerIP limits the simultaneous sessions from one client address
	// (vsftpd's max_per_ip, pure-ftpd's -C, proftpd's MaxClientsPerHost);
	// 0 leaves it unlimited (vsftpd, proftpd) or generous (200, pure-ftpd).
	// vsftpd and pure-ftpd count connections and refuse the one too many
	// with a 421 greeting. proftpd counts logged-in sessions only, refuses
	// with 530 after PASS, and for an anonymous login counts only the
	// anonymous sessions.
	MaxPerIP int
	// ActiveOnly makes the daemon refuse passive mode and open data
	// connections to the client (PORT/EPRT) instead: vsftpd's
	// pasv_enable=NO with port_enable=YES. Only vsftpd supports it here.
	ActiveOnly bool
}

// Server describes a running daemon.
type Server struct {
	Name     string // "vsftpd", "pure-ftpd" or "proftpd"
	Addr     string // "127.0.0.1:port" of the control connection
	User     string // local user that logs in with Password
	Password string
	Root     string // absolute path of the served tree
	// Home is the working directory (PWD) the local user is in after
	// login: "/" when chrooted, Root's absolute path when NonChroot.
	Home string
	// PassivePorts is the inclusive port range the daemon uses for data
	// connections; it is reserved for this daemon alone.
	PassivePorts [2]int
	// TLS reports whether FTPS is enabled, and ImplicitTLS whether it is the
	// implicit kind.
	TLS, ImplicitTLS bool

	uid, gid int
	logFiles []string
}

// Daemon is one kind of real server and how to start it.
type Daemon struct {
	Name  string
	Start func(testing.TB, Options) *Server
}

// Daemons are every real server the suite runs against.
var Daemons = []Daemon{
	{"vsftpd", StartVsftpd},
	{"pure-ftpd", StartPureFTPd},
	{"proftpd", StartProFTPD},
}

// newServer describes a daemon that launch started.
func newServer(name string, ports portBlock, acct account, root string, o Options, tls bool, logs []string) *Server {
	return &Server{
		Name:         name,
		Addr:         fmt.Sprintf("127.0.0.1:%d", ports.control),
		User:         acct.name,
		Password:     acct.password,
		Root:         root,
		Home:         startDir(o, root),
		PassivePorts: [2]int{ports.pasvLo, ports.pasvHi},
		TLS:          tls,
		ImplicitTLS:  o.ImplicitTLS,
		uid:          ownerUID(o.Writable, acct.uid),
		gid:          acct.gid,
		logFiles:     logs,
	}
}

// Logs returns what the daemon has written so far to its stdout/stderr and
// log files, for diagnosing a failing test.
func (s *Server) Logs() string {
	return readLogs(s.logFiles)
}

// FixPermissions re-applies the ownership and mode changes done at start to
// everything now under Root. Call it after creating files or directories
// under Root while the daemon runs, if the daemon must be able to read them
// (or, for Writable, the local user to modify them).
func (s *Server) FixPermissions(t testing.TB) {
	t.Helper()
	if err := prepareTree(s.Root, s.uid, s.gid, s.uid >= 0); err != nil {
		t.Fatalf("realftp: %v", err)
	}
}

// SkipOrFail skips the test with the formatted message, or fails it when the
// environment variable FTPBRIDGE_REQUIRE_REAL is "1". Use it for every
// "the real thing is not available here" condition (missing binaries,
// missing privileges, missing browser), so that CI, which sets the variable,
// never passes by skipping everything.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("FTPBRIDGE_REQUIRE_REAL") == "1" {
		t.Fatal(msg + " (failing instead of skipping because FTPBRIDGE_REQUIRE_REAL=1)")
	}
	t.Skip(msg)
}

// requireRoot skips or fails when the daemons cannot be run at all.
func requireRoot(t testing.TB, name string) {
	t.Helper()
	if os.Geteuid() != 0 {
		SkipOrFail(t, "%s tests need root (the daemon chroots and switches users): run them as root", name)
	}
}

// startupTimeout bounds how long a daemon may take to greet its first
// client. Generous because -race test binaries on a loaded 2-core CI machine
// can be slow to even get scheduled.
const startupTimeout = 10 * time.Second

// startAttempts is how many times a daemon that dies during startup is retried
// with fresh ports: another test process can grab a port between our check
// and the daemon's bind.
const startAttempts = 3

// daemonSpec is what a flavour-specific starter hands to launch.
type daemonSpec struct {
	name        string
	implicitTLS bool
	// build returns the command for the given ports; it may write config
	// files and returns the log files worth showing on failure.
	build func(ports portBlock) (*exec.Cmd, []string, error)
}

// launch starts the daemon, waits for its greeting and registers cleanup.
// It returns the ports in use and the files holding the daemon's output.
func launch(t testing.TB, instDir string, spec daemonSpec) (portBlock, []string) {
	t.Helper()
	var lastErr error
	var lastLogs []string
	for attempt := 1; attempt <= startAttempts; attempt++ {
		ports, err := reservePorts()
		if err != nil {
			t.Fatalf("realftp: %s: %v", spec.name, err)
		}
		cmd, logs, err := spec.build(ports)
		if err != nil {
			ports.release()
			t.Fatalf("realftp: %s: %v", spec.name, err)
		}
		outPath := filepath.Join(instDir, fmt.Sprintf("%s-%d.out", spec.name, attempt))
		out, err := os.OpenFile(outPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			ports.release()
			t.Fatalf("realftp: %s: creating output file: %v", spec.name, err)
		}
		logs = append([]string{outPath}, logs...)
		// A file rather than a pipe: with a pipe, Wait would also wait for
		// every forked session process still holding it open.
		cmd.Stdout, cmd.Stderr = out, out
		if cmd.SysProcAttr == nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{}
		}
		// Own process group, so cleanup can signal the daemon and what it
		// forks without touching the test binary; Pdeathsig so a crashed
		// test binary does not leave a listening daemon behind (its
		// sessions end when the dead binary's connections close).
		cmd.SysProcAttr.Setpgid = true
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
		if err := cmd.Start(); err != nil {
			out.Close()
			ports.release()
			if errors.Is(err, syscall.EPERM) && cmd.SysProcAttr.Unshareflags != 0 {
				SkipOrFail(t, "%s: cannot create a private mount namespace (needs CAP_SYS_ADMIN): %v", spec.name, err)
			}
			t.Fatalf("realftp: %s: starting %s: %v", spec.name, cmd.Path, err)
		}
		out.Close()
		p := &process{cmd: cmd, done: make(chan struct{})}
		go func() {
			p.err = cmd.Wait()
			close(p.done)
		}()

		addr := fmt.Sprintf("127.0.0.1:%d", ports.control)
		err = waitGreeting(addr, spec.implicitTLS, p.done, startupTimeout)
		if err == nil {
			// The greeting probes were sessions too. vsftpd and pure-ftpd
			// count sessions per address (Options.MaxPerIP) by their child
			// processes, and forget one only when they reap it: until
			// then a probe would take the test's first session's place.
			err = waitReaped(cmd.Process.Pid, p.done, startupTimeout)
		}
		if err == nil {
			t.Cleanup(func() {
				exitedEarly := p.exited()
				p.kill()
				ports.release()
				if exitedEarly {
					t.Errorf("realftp: %s exited while the test was running (%v); its output:\n%s",
						spec.name, p.exitErr(), readLogs(logs))
				}
			})
			return ports, logs
		}
		p.kill()
		ports.release()
		if errors.Is(err, errDaemonExited) {
			// vsftpd in particular exits with status 2 and no message on a
			// config line it does not know.
			err = fmt.Errorf("%w (%v)", err, p.exitErr())
		}
		lastErr, lastLogs = err, logs
		if !errors.Is(err, errDaemonExited) {
			// Alive but not greeting properly is a configuration problem that
			// fresh ports will not cure.
			break
		}
	}
	t.Fatalf("realftp: %s did not start: %v; its output:\n%s", spec.name, lastErr, readLogs(lastLogs))
	return portBlock{}, nil
}

type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	once sync.Once
}

// exitErr is Wait's result once the daemon has exited.
func (p *process) exitErr() error {
	if !p.exited() {
		return errors.New("still running")
	}
	return p.err
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill stops the daemon and every session process it forked.
func (p *process) kill() {
	p.once.Do(func() {
		if !p.exited() {
			killTree(p.cmd.Process.Pid)
		}
		// Sessions forked before the leader died may survive it; those
		// still in its process group are reached this way.
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
		}
	})
}

var errDaemonExited = errors.New("daemon exited during startup")

// waitReaped polls until the daemon pid has no child processes left (its
// sessions have ended and it has reaped them), the daemon exits, or the
// timeout passes.
func waitReaped(pid int, done <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for hasChildren(pid) {
		select {
		case <-done:
			return errDaemonExited
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the sessions of the greeting probes did not end within %v", timeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return nil
}

// waitGreeting polls until a connection to addr yields the final line of a
// 220 greeting, the daemon exits, or the timeout passes.
func waitGreeting(addr string, implicitTLS bool, done <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		select {
		case <-done:
			return errDaemonExited
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no 220 greeting on %s within %v (last error: %v)", addr, timeout, lastErr)
		}
		ok, err := readGreeting(addr, implicitTLS, deadline)
		if ok {
			return nil
		}
		lastErr = err
		var ge *greetingError
		if errors.As(err, &ge) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// greetingError is a greeting that arrived but was not a 220: the daemon is
// up and refusing, so polling longer will not help.
type greetingError struct{ line string }

func (e *greetingError) Error() string { return fmt.Sprintf("unexpected greeting %q", e.line) }

func readGreeting(addr string, implicitTLS bool, deadline time.Time) (bool, error) {
	conn, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	if err := conn.SetDeadline(minTime(deadline, time.Now().Add(3*time.Second))); err != nil {
		return false, fmt.Errorf("setting deadline: %w", err)
	}
	var rw io.ReadWriter = conn
	if implicitTLS {
		// An implicit-FTPS daemon greets only after the handshake. This
		// probe only asks "is it up", so the certificate is not checked here;
		// tests verify it with their own client.
		tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true})
		if err := tc.Handshake(); err != nil {
			return false, fmt.Errorf("TLS handshake: %w", err)
		}
		rw = tc
	}
	r := bufio.NewReader(rw)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return false, fmt.Errorf("reading greeting: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case strings.HasPrefix(line, "220 "):
			_, _ = rw.Write([]byte("QUIT\r\n"))
			return true, nil
		case strings.HasPrefix(line, "220-"), len(line) > 3 && line[3] == '-' && strings.HasPrefix(line, "220"):
			continue
		default:
			return false, &greetingError{line: line}
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func readLogs(files []string) string {
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				fmt.Fprintf(&b, "--- %s: %v\n", f, err)
			}
			continue
		}
		fmt.Fprintf(&b, "--- %s\n%s", f, data)
		if len(data) > 0 && data[len(data)-1] != '\n' {
			b.WriteByte('\n')
		}
	}
	if b.Len() == 0 {
		return "(no output)\n"
	}
	return b.String()
}

// checkOptions validates what every flavour needs and resolves Root.
func checkOptions(t testing.TB, o Options) string {
	t.Helper()
	if o.Root == "" {
		t.Fatal("realftp: Options.Root is empty")
	}
	root, err := filepath.Abs(o.Root)
	if err != nil {
		t.Fatalf("realftp: resolving root %q: %v", o.Root, err)
	}
	// Both config formats are line based and pure-ftpd's user database is
	// colon separated; refuse paths that would be cut short rather than
	// serve the wrong directory.
	if strings.ContainsAny(root, "\n\r:") {
		t.Fatalf("realftp: root %q contains a newline or colon, which the daemon configs cannot express", root)
	}
	st, err := os.Stat(root)
	if err != nil {
		t.Fatalf("realftp: root: %v", err)
	}
	if !st.IsDir() {
		t.Fatalf("realftp: root %s is not a directory", root)
	}
	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		t.Fatal("realftp: set both TLSCertFile and TLSKeyFile, or neither")
	}
	if o.ImplicitTLS && o.TLSCertFile == "" {
		t.Fatal("realftp: ImplicitTLS needs TLSCertFile and TLSKeyFile")
	}
	if o.MaxPerIP < 0 {
		t.Fatalf("realftp: MaxPerIP %d is negative", o.MaxPerIP)
	}
	return root
}

func absFile(t testing.TB, what, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatalf("realftp: resolving %s %q: %v", what, p, err)
	}
	if _, err := os.Stat(a); err != nil {
		t.Fatalf("realftp: %s: %v", what, err)
	}
	if strings.ContainsAny(a, "\n\r,") {
		t.Fatalf("realftp: %s path %q contains a newline or comma", what, a)
	}
	return a
}

// startDir is Server.Home: where the local user starts.
func startDir(o Options, root string) string {
	if o.NonChroot {
		return root
	}
	return "/"
}
