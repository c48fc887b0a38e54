// Package servicetest starts the real engines a cluster of bridges runs
// on (Debian's PostgreSQL, Redis and HAProxy) on loopback ports of the
// test's own, as realftp does for FTP servers. Each is this test's alone
// and is stopped when the test ends. A missing engine skips the test, or
// fails it under FTPBRIDGE_REQUIRE_REAL=1 (realftp.SkipOrFail).
package servicetest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/realftp"
	"github.com/ftpbridge/ftpbridge/internal/logtest"
)

// Ports hands out loopback ports no other test uses until t ends.
type Ports struct {
	next, hi int
}

// NewPorts reserves a block of ports for t (see realftp.ReservePorts).
func NewPorts(t testing.TB) *Ports {
	lo, hi := realftp.ReservePorts(t)
	return &Ports{next: lo, hi: hi}
}

// Take returns the next free port of the block.
func (p *Ports) Take(t testing.TB) int {
	t.Helper()
	if p.next > p.hi {
		t.Fatal("servicetest: the port block is used up")
	}
	p.next++
	return p.next - 1
}

// Process is a server process of a test's: an engine started by this
// package, or a program of the test's own (NewProcess).
type Process struct {
	Name   string
	Addr   string // 127.0.0.1:port
	cmd    *exec.Cmd
	exited chan struct{}  // closed when cmd has been waited for
	log    logtest.Buffer // what it printed, over all its starts
	argv   []string
	cred   *syscall.Credential
}

// NewProcess is argv, to be run by Start as a server on addr; it is not
// started yet, and the test stops it (Stop, Signal).
func NewProcess(name, addr string, argv ...string) *Process {
	return &Process{Name: name, Addr: addr, argv: argv}
}

// start runs argv as cred (nil: as we are) and waits until addr takes
// connections.
func start(t testing.TB, name, addr string, cred *syscall.Credential, argv ...string) *Process {
	t.Helper()
	p := &Process{Name: name, Addr: addr, argv: argv, cred: cred}
	if err := p.Start(); err != nil {
		t.Fatalf("servicetest: %v", err)
	}
	t.Cleanup(p.Stop)
	return p
}

// Start starts the process (again after Stop, on the same port and data)
// and waits until its address takes connections.
func (p *Process) Start() error {
	p.cmd = exec.Command(p.argv[0], p.argv[1:]...)
	p.cmd.Stdout, p.cmd.Stderr = &p.log, &p.log
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: p.cred}
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	exited := make(chan struct{})
	p.exited = exited
	go func(cmd *exec.Cmd) { _ = cmd.Wait(); close(exited) }(p.cmd)
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", p.Addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%s exited at start: %s", p.Name, p.Log())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.Stop()
			return fmt.Errorf("%s did not listen on %s in 30 s: %s", p.Name, p.Addr, p.Log())
		}
	}
}

// Stop kills the process and waits for its end, so that its port is free
// when Stop returns.
func (p *Process) Stop() { _ = p.Signal(syscall.SIGKILL) }

// Signal sends sig to the process (and what it started) and waits up to a
// minute for its end.
func (p *Process) Signal(sig syscall.Signal) error {
	if p.cmd == nil || p.cmd.Process == nil {
		return nil
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	select {
	case <-p.exited:
	case <-time.After(time.Minute):
		return fmt.Errorf("%s did not end a minute after %v", p.Name, sig)
	}
	p.cmd = nil
	return nil
}

// Log is what the process printed.
func (p *Process) Log() string { return p.log.String() }

// lookPath finds an engine's binary, or skips (fails under
// FTPBRIDGE_REQUIRE_REAL=1) naming the Debian package to install.
func lookPath(t testing.TB, pkg string, candidates ...string) string {
	t.Helper()
	for _, c := range candidates {
		if matches, _ := filepath.Glob(c); len(matches) > 0 {
			sort.Strings(matches)
			return matches[len(matches)-1]
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	realftp.SkipOrFail(t, "%s is not installed: apt-get install %s", candidates[0], pkg)
	return ""
}

// Postgres starts an empty PostgreSQL server (trust login on loopback
// only, no fsync: tests do not outlive a crash) and returns its URL, for
// the database "postgres" as the user "postgres".
func Postgres(t testing.TB, ports *Ports) (*Process, string) {
	t.Helper()
	initdb := lookPath(t, "postgresql", "/usr/lib/postgresql/*/bin/initdb", "initdb")
	bin := filepath.Dir(initdb)
	// PostgreSQL refuses to run as root; the package's own user runs it.
	var cred *syscall.Credential
	dir, err := os.MkdirTemp("", "ftpbridge-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			realftp.SkipOrFail(t, "PostgreSQL cannot run as root and there is no postgres user: apt-get install postgresql")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(dir, "data")
	cmd := exec.Command(initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("servicetest: initdb: %v\n%s", err, out)
	}
	port := ports.Take(t)
	p := start(t, "postgres", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cred,
		filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off")
	// The port opens before the server takes logins; pg_isready says when.
	ready := filepath.Join(bin, "pg_isready")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for exec.CommandContext(ctx, ready, "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(port)).Run() != nil {
		if ctx.Err() != nil {
			t.Fatalf("servicetest: postgres not ready in 30 s: %s", p.Log())
		}
		time.Sleep(50 * time.Millisecond) // polling readiness
	}
	return p, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
}

// Redis starts an empty Redis server that keeps nothing on disk and
// returns it with its URL.
func Redis(t testing.TB, ports *Ports) (*Process, string) {
	t.Helper()
	bin := lookPath(t, "redis-server", "redis-server")
	port := ports.Take(t)
	p := start(t, "redis-server", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil,
		bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", t.TempDir(), "--protected-mode", "no")
	return p, fmt.Sprintf("redis://127.0.0.1:%d/0", port)
}

// HAProxy starts haproxy with config, whose frontend must bind to addr.
func HAProxy(t testing.TB, addr, config string) *Process {
	t.Helper()
	bin := lookPath(t, "haproxy", "haproxy")
	file := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return start(t, "haproxy", addr, nil, bin, "-db", "-f", file)
}

// RedisClient is a client of its own for the Redis at url, as each bridge
// has one, with context deadlines honoured as the bridge's are. It is
// closed when the test ends, after what the test set up on it later.
func RedisClient(t testing.TB, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opts.ContextTimeoutEnabled = true
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}
