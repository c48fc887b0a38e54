package realftp

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Ports are handed out in fixed blocks: the first port of a block is the
// control port, the rest its passive range. Blocks lie below the kernel's
// ephemeral range so that outgoing connections (which take their source port
// from there) never sit on a port a daemon wants to listen on.
const (
	blockSize    = 32
	portsLow     = 20000
	defaultEphLo = 32768
)

// portLockDir holds one lock file per block. A block is owned by whoever
// holds the flock on its file, which coordinates test binaries of different
// packages running in parallel (and goroutines within one binary, since
// flock locks belong to the open file, not the process). The kernel drops
// the lock if the test binary dies, so nothing needs cleaning up.
var portLockDir = filepath.Join(stateDir, "ports")

type portBlock struct {
	control int
	pasvLo  int
	pasvHi  int
	lock    *os.File
}

func (b portBlock) release() {
	if b.lock != nil {
		b.lock.Close()
	}
}

// reservePorts claims a free block whose ports are all currently bindable on
// 127.0.0.1.
func reservePorts() (portBlock, error) {
	if err := os.MkdirAll(portLockDir, 0o700); err != nil {
		return portBlock{}, fmt.Errorf("creating port lock dir: %w", err)
	}
	hi := ephemeralLow()
	n := (hi - portsLow) / blockSize
	if n < 1 {
		return portBlock{}, fmt.Errorf("no room for port blocks below the ephemeral range (starts at %d)", hi)
	}
	start := int(randUint32() % uint32(n))
	for i := range n {
		idx := (start + i) % n
		base := portsLow + idx*blockSize
		f, err := os.OpenFile(filepath.Join(portLockDir, strconv.Itoa(base)), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return portBlock{}, fmt.Errorf("opening port lock: %w", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				continue
			}
			return portBlock{}, fmt.Errorf("locking port block %d: %w", base, err)
		}
		if !allBindable(base, base+blockSize-1) {
			// Someone outside our locking scheme uses a port here.
			f.Close()
			continue
		}
		return portBlock{control: base, pasvLo: base + 1, pasvHi: base + blockSize - 1, lock: f}, nil
	}
	return portBlock{}, errors.New("every port block is in use")
}

func allBindable(lo, hi int) bool {
	for p := lo; p <= hi; p++ {
		l, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			return false
		}
		l.Close()
	}
	return true
}

// ephemeralLow returns the first port of the kernel's ephemeral range.
func ephemeralLow() int {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return defaultEphLo
	}
	fields := strings.Fields(string(data))
	if len(fields) != 2 {
		return defaultEphLo
	}
	lo, err := strconv.Atoi(fields[0])
	if err != nil || lo <= portsLow+blockSize {
		return defaultEphLo
	}
	return lo
}

func randUint32() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return binary.LittleEndian.Uint32(b[:])
}

// ReservePorts claims a block of ports no daemon of this package will use
// until the test ends, for a client that listens itself (active mode's
// data connections). It returns the inclusive range.
func ReservePorts(t testing.TB) (lo, hi int) {
	t.Helper()
	b, err := reservePorts()
	if err != nil {
		t.Fatalf("realftp: %v", err)
	}
	t.Cleanup(b.release)
	return b.control, b.pasvHi
}
