package servicetest

import (
	"bufio"
	"net"
	"strings"
	"testing"
)

// TestRedisStopAndStart checks that a stopped Redis refuses connections and
// answers again after Start, on the same address: the outage tests rely
// on both.
func TestRedisStopAndStart(t *testing.T) {
	ports := NewPorts(t)
	p, url := Redis(t, ports)
	if !strings.HasPrefix(url, "redis://"+p.Addr) {
		t.Fatalf("url %q does not name %s", url, p.Addr)
	}
	ping := func() (string, error) {
		c, err := net.Dial("tcp", p.Addr)
		if err != nil {
			return "", err
		}
		defer c.Close()
		if _, err := c.Write([]byte("PING\r\n")); err != nil {
			return "", err
		}
		return bufio.NewReader(c).ReadString('\n')
	}
	if got, err := ping(); err != nil || got != "+PONG\r\n" {
		t.Fatalf("PING: %q, %v", got, err)
	}
	p.Stop()
	if _, err := ping(); err == nil {
		t.Fatal("a stopped Redis still answers")
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	if got, err := ping(); err != nil || got != "+PONG\r\n" {
		t.Fatalf("PING after Start: %q, %v", got, err)
	}
}

// TestPostgresTakesLogins checks that the server answers the startup
// handshake on its URL's port once Postgres returns.
func TestPostgresTakesLogins(t *testing.T) {
	ports := NewPorts(t)
	p, url := Postgres(t, ports)
	if !strings.Contains(url, p.Addr) {
		t.Fatalf("url %q does not name %s", url, p.Addr)
	}
	c, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// SSLRequest: the server answers one byte, 'N' here (no TLS).
	if _, err := c.Write([]byte{0, 0, 0, 8, 4, 210, 22, 47}); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := c.Read(b); err != nil || b[0] != 'N' {
		t.Fatalf("SSLRequest answer %q, %v", b, err)
	}
}
