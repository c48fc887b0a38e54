package bench

import (
	"net"
	"os"
	"testing"
)

// TestConnectionsTo: the count is of this process's established
// connections to the port, the listener's own accepted ends not included
// (their remote port is the dialler's).
func TestConnectionsTo(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	for range 3 {
		c, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		accepted, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer accepted.Close()
	}
	if n := connectionsTo(t, os.Getpid(), port); n != 3 {
		t.Errorf("%d connections to port %d, want 3", n, port)
	}
}
