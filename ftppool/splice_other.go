//go:build !linux

package ftppool

import (
	"errors"
	"net"
)

// canSplice: only Linux has splice(2); elsewhere uploads are copied.
const canSplice = false

type pipe struct{}

func newPipe() (*pipe, error) { return nil, errors.New("splice: not on this system") }

func (p *pipe) close() {}

func (p *pipe) move(dst, src *net.TCPConn, n int64) (moved int64, readErr, writeErr error) {
	return 0, nil, errors.New("splice: not on this system")
}
