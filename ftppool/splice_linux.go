package ftppool

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// canSplice: this system can move bytes between two sockets in the kernel.
const canSplice = true

// pipe is the kernel buffer splice(2) moves bytes through: a socket's bytes
// go into it and out of it into the other socket without being copied into
// the process. Go's own TCPConn.ReadFrom does the same, but its errors do
// not say which socket failed; an upload must tell its client's failure
// (400, 408) from the FTP server's (502).
type pipe struct {
	r, w int
	size int
}

func newPipe() (*pipe, error) {
	var fds [2]int
	if err := syscall.Pipe2(fds[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		return nil, os.NewSyscallError("pipe2", err)
	}
	p := &pipe{r: fds[0], w: fds[1], size: 64 << 10}
	// A larger pipe means fewer system calls; Linux allows up to 1 MiB to
	// anyone by default, and keeps the 64 KiB if not.
	if n, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(p.w), syscall.F_SETPIPE_SZ, 1<<20); errno == 0 {
		p.size = int(n)
	}
	return p, nil
}

func (p *pipe) close() {
	syscall.Close(p.r)
	syscall.Close(p.w)
}

// move moves n bytes from src to dst, as far as they get: readErr is src's
// failure (io.ErrUnexpectedEOF if it ended early), writeErr dst's. Both
// sockets keep their deadlines: a wait past one fails with
// os.ErrDeadlineExceeded.
func (p *pipe) move(dst, src *net.TCPConn, n int64) (moved int64, readErr, writeErr error) {
	in, err := src.SyscallConn()
	if err != nil {
		return 0, err, nil
	}
	out, err := dst.SyscallConn()
	if err != nil {
		return 0, nil, err
	}
	for moved < n {
		got, err := splice(in.Read, func(fd int) (int64, error) {
			return syscall.Splice(fd, nil, p.w, nil, int(min(n-moved, int64(p.size))), spliceFlags)
		})
		if err != nil {
			return moved, err, nil
		}
		if got == 0 {
			return moved, io.ErrUnexpectedEOF, nil
		}
		for got > 0 {
			put, err := splice(out.Write, func(fd int) (int64, error) {
				return syscall.Splice(p.r, nil, fd, nil, int(got), spliceFlags)
			})
			if err != nil {
				return moved, nil, err
			}
			got -= put
			moved += put
		}
	}
	return moved, nil, nil
}

// spliceFlags: move pages rather than copy them where the kernel can, and
// never block on the pipe (the sockets are non-blocking already; Go's
// poller waits for them).
const spliceFlags = 0x1 | 0x2 // SPLICE_F_MOVE | SPLICE_F_NONBLOCK

// splice runs call on a socket's descriptor through wait (a RawConn's Read
// or Write), which waits for the socket to be ready, or for its deadline,
// while call says EAGAIN.
func splice(wait func(func(uintptr) bool) error, call func(fd int) (int64, error)) (int64, error) {
	var n int64
	var err error
	werr := wait(func(fd uintptr) bool {
		for {
			n, err = call(int(fd))
			if !errors.Is(err, syscall.EINTR) {
				return !errors.Is(err, syscall.EAGAIN)
			}
		}
	})
	if werr != nil {
		return 0, werr
	}
	if err != nil {
		return 0, os.NewSyscallError("splice", err)
	}
	return n, nil
}
