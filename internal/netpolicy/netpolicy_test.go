package netpolicy

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"
)

func TestParseLooseIP(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"127.0.0.1", "127.0.0.1", true},
		{"127.1", "127.0.0.1", true},
		{"2130706433", "127.0.0.1", true},
		{"0x7f000001", "127.0.0.1", true},
		{"0177.0.0.1", "127.0.0.1", true},
		{"0x7f.1", "127.0.0.1", true},
		{"[::ffff:127.0.0.1]", "127.0.0.1", true},
		{"::1", "::1", true},
		{"10.1.2", "10.1.0.2", true},
		{"256.1.1.1", "", false},
		{"1.2.3.4.5", "", false},
		{"ftp.example.org", "", false},
		{"", "", false},
	} {
		got, ok := ParseLooseIP(tc.in)
		if ok != tc.ok || (ok && got.String() != tc.want) {
			t.Errorf("ParseLooseIP(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestDefaultPolicy(t *testing.T) {
	p, err := Parse("")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ip      string
		allowed bool
	}{
		{"8.8.8.8", true},
		{"2606:4700:4700::1111", true},
		{"127.0.0.1", false},
		{"::1", false},
		{"::ffff:127.0.0.1", false},
		{"::ffff:10.0.0.1", false},
		{"10.0.0.1", false},
		{"172.16.5.4", false},
		{"192.168.1.1", false},
		{"169.254.169.254", false},
		{"fe80::1", false},
		{"fc00::1", false},
		{"100.64.0.1", false},
		{"0.0.0.0", false},
		{"::", false},
		{"224.0.0.1", false},
		{"ff02::1", false},
		{"255.255.255.255", false},
		{"64:ff9b::7f00:1", false},
		{"2002:7f00:1::", false},
	} {
		err := p.Check("", netip.MustParseAddr(tc.ip), 21)
		if (err == nil) != tc.allowed {
			t.Errorf("%s: err=%v, want allowed=%v", tc.ip, err, tc.allowed)
		}
		if err != nil && !errors.Is(err, ErrRefused) {
			t.Errorf("%s: error does not wrap ErrRefused: %v", tc.ip, err)
		}
	}
}

func TestAllowRules(t *testing.T) {
	p, err := Parse("10.0.0.0/8, ftp.internal:2121, 127.0.0.1:21, [::1]")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		ip      string
		port    int
		allowed bool
	}{
		{"", "10.9.9.9", 21, true},
		{"", "11.0.0.1", 21, true}, // public
		{"ftp.internal", "192.168.0.5", 2121, true},
		{"ftp.internal", "192.168.0.5", 21, false},
		{"other.internal", "192.168.0.5", 2121, false},
		{"", "127.0.0.1", 21, true},
		{"", "127.0.0.1", 22, false},
		{"", "127.0.0.1", 0, true}, // a data connection: any port
		{"", "::1", 990, true},
	} {
		err := p.Check(tc.name, netip.MustParseAddr(tc.ip), tc.port)
		if (err == nil) != tc.allowed {
			t.Errorf("%s %s:%d: err=%v, want allowed=%v", tc.name, tc.ip, tc.port, err, tc.allowed)
		}
	}
	if _, err := Parse("10.0.0.0/99"); err == nil {
		t.Error("a bad CIDR was accepted")
	}
	if _, err := Parse("host:0"); err == nil {
		t.Error("port 0 was accepted")
	}
}

// rebinder answers with a public address first and loopback after, as a
// DNS rebinding attack does.
type rebinder struct{ calls int }

func (r *rebinder) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	r.calls++
	if r.calls == 1 {
		return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
	}
	return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
}

// TestDialChecksResolvedIP: each dial resolves once and checks that IP, so
// a name that turns into loopback is refused and nothing is dialled.
func TestDialChecksResolvedIP(t *testing.T) {
	canary, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer canary.Close()
	_, port, _ := net.SplitHostPort(canary.Addr().String())
	p, _ := Parse("")
	// The canary's port is no FTP port: open it, so that only the address
	// decides here.
	if err := p.OpenPorts(port); err != nil {
		t.Fatal(err)
	}
	r := &rebinder{}
	d := &Dialer{Policy: p, Resolver: r, Dialer: net.Dialer{Timeout: 200 * time.Millisecond}}
	// The first answer is public: the dial goes out (and fails or not; we
	// only care that the check passed).
	if _, err := d.DialContext(context.Background(), "tcp", "rebind.test:"+port); errors.Is(err, ErrRefused) {
		t.Fatalf("public answer refused: %v", err)
	}
	if _, err := d.DialContext(context.Background(), "tcp", "rebind.test:"+port); !errors.Is(err, ErrRefused) {
		t.Fatalf("rebound to loopback: err = %v, want ErrRefused", err)
	}
	canary.(*net.TCPListener).SetDeadline(time.Now())
	if c, err := canary.Accept(); err == nil {
		c.Close()
		t.Error("the dialer connected to loopback")
	}
}

// fixedResolver answers every name with the same addresses.
type fixedResolver []netip.Addr

func (r fixedResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return r, nil
}

// TestDialTriesEachAllowedAddress: a name whose first address has no
// listener (::1 while the server is on 127.0.0.1) still connects.
func TestDialTriesEachAllowedAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	p, err := Parse("ftp.test")
	if err != nil {
		t.Fatal(err)
	}
	// 127.0.0.2 is loopback too, and nothing listens on it at this port.
	d := &Dialer{Policy: p, Resolver: fixedResolver{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.1")}}
	c, err := d.DialContext(context.Background(), "tcp", "ftp.test:"+port)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	if got := c.RemoteAddr().String(); got != ln.Addr().String() {
		t.Errorf("connected to %s, want %s", got, ln.Addr())
	}
}

// TestDialDataByControlName: a data connection goes to an IP, and a name
// rule that admitted the control connection admits it too; without the
// name, the same IP is refused.
func TestDialDataByControlName(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p, err := Parse("ftp.test:2121")
	if err != nil {
		t.Fatal(err)
	}
	d := &Dialer{Policy: p}
	c, err := d.DialDataContext(context.Background(), "tcp", ln.Addr().String(), "ftp.test")
	if err != nil {
		t.Fatalf("data connection for an allowed name: %v", err)
	}
	c.Close()
	if _, err := d.DialDataContext(context.Background(), "tcp", ln.Addr().String(), "other.test"); !errors.Is(err, ErrRefused) {
		t.Errorf("data connection for another name: err = %v, want ErrRefused", err)
	}
	if _, err := d.DialDataContext(context.Background(), "tcp", "ftp.test:2121", "ftp.test"); err == nil || errors.Is(err, ErrRefused) {
		t.Errorf("data connection to a name instead of an IP: err = %v, want a parse error", err)
	}
}

// TestPublicPorts: public addresses are dialled on FTP's ports, the ports
// -allow-hosts entries name and -allow-ports; an entry without a port
// keeps allowing every port of its own hosts; data connections (port 0)
// go wherever the server says.
func TestPublicPorts(t *testing.T) {
	p, err := Parse("127.0.0.1, ftp.internal:2121, 10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.OpenPorts("8021, 10000-10100"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		ip      string
		port    int
		allowed bool
	}{
		{"", "8.8.8.8", 21, true},
		{"", "8.8.8.8", 990, true},
		{"", "2606:4700:4700::1111", 21, true},
		{"", "8.8.8.8", 2121, true}, // named in -allow-hosts
		{"", "8.8.8.8", 8021, true},
		{"", "8.8.8.8", 10000, true},
		{"", "8.8.8.8", 10100, true},
		{"", "8.8.8.8", 0, true}, // a data connection
		{"", "8.8.8.8", 22, false},
		{"", "8.8.8.8", 25, false},
		{"", "8.8.8.8", 80, false},
		{"", "8.8.8.8", 9999, false},
		{"", "8.8.8.8", 10101, false},
		{"", "2606:4700:4700::1111", 22, false},
		{"", "::ffff:8.8.8.8", 22, false},
		{"", "127.0.0.1", 22, true}, // listed without a port: any
		{"", "127.0.0.1", 54321, true},
		{"", "10.1.2.3", 6379, true},
		{"ftp.internal", "192.168.0.5", 2121, true},
		{"ftp.internal", "192.168.0.5", 22, false},
	} {
		err := p.Check(tc.name, netip.MustParseAddr(tc.ip), tc.port)
		if (err == nil) != tc.allowed {
			t.Errorf("%s %s:%d: err=%v, want allowed=%v", tc.name, tc.ip, tc.port, err, tc.allowed)
		}
		if err != nil && !errors.Is(err, ErrRefused) {
			t.Errorf("%s:%d: error does not wrap ErrRefused: %v", tc.ip, tc.port, err)
		}
	}
	for _, bad := range []string{"0", "65536", "22-21", "ssh", "1-", "-5"} {
		if err := p.OpenPorts(bad); err == nil {
			t.Errorf("-allow-ports %q was accepted", bad)
		}
	}
}

// TestPortRefusedWithoutDialling: a public name on port 22 is refused
// before any connection is tried, so the refusal says nothing about what
// listens there.
func TestPortRefusedWithoutDialling(t *testing.T) {
	p, err := Parse("")
	if err != nil {
		t.Fatal(err)
	}
	tried := 0
	d := &Dialer{Policy: p, Resolver: fixedResolver{netip.MustParseAddr("93.184.216.34")},
		Dialer: net.Dialer{Control: func(string, string, syscall.RawConn) error {
			tried++
			return errors.New("the test dials nothing")
		}}}
	for _, addr := range []string{"ftp.example.test:22", "ftp.example.test:3306", "93.184.216.34:22", "[2606:4700:4700::1111]:443"} {
		if _, err := d.DialContext(context.Background(), "tcp", addr); !errors.Is(err, ErrRefused) {
			t.Errorf("%s: err = %v, want ErrRefused", addr, err)
		}
	}
	if tried != 0 {
		t.Errorf("%d connections were tried to refused ports", tried)
	}
	if _, err := d.DialContext(context.Background(), "tcp", "ftp.example.test:21"); errors.Is(err, ErrRefused) || tried != 1 {
		t.Errorf("port 21: err = %v after %d tries, want the dial tried once", err, tried)
	}
}
