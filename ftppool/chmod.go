package ftppool

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/textproto"
)

// ErrNoChmod: the server does not change permissions. It answered SITE
// CHMOD as a command it lacks (500, 502, 504: no SITE, no CHMOD, or
// CHMOD turned off), or the connection is one the bridge cannot send SITE
// on (explicit FTPS where jlaffaye holds the TLS layer: see chmodOn).
var ErrNoChmod = errors.New("the FTP server does not change permissions (no SITE CHMOD)")

// Chmod sets the unix permissions of p to mode (its lower twelve bits)
// with SITE CHMOD, and with recursive those of everything below the
// folder p too, the same mode for all, as chmod -R does. A recursive
// chmod is a walk, under the walk budget: each folder's contents are done
// before the folder, so a mode that shuts its owner out still lets the
// walk through. Links are left alone, never followed (SITE CHMOD would
// change what one leads to). It returns how many entries it changed.
func (h *Handle) Chmod(ctx context.Context, p string, mode fs.FileMode, recursive bool) (int, error) {
	bits := uint32(mode.Perm())
	if mode&fs.ModeSetuid != 0 {
		bits |= 0o4000
	}
	if mode&fs.ModeSetgid != 0 {
		bits |= 0o2000
	}
	if mode&fs.ModeSticky != 0 {
		bits |= 0o1000
	}
	if !recursive {
		if err := h.chmod(ctx, p, bits); err != nil {
			return 0, fmt.Errorf("chmod %s: %w", p, err)
		}
		return 1, nil
	}
	ctx, done := h.walkBudget(ctx)
	defer done()
	n := 0
	err := h.walk(ctx, p, false, func(full string, _ int, e Entry) error {
		if e.Type == TypeLink {
			return nil
		}
		if err := h.chmod(ctx, full, bits); err != nil {
			return err
		}
		n++
		return nil
	})
	if err == nil {
		err = h.chmod(ctx, p, bits)
		if err == nil {
			n++
		}
	}
	if err != nil {
		return n, fmt.Errorf("chmod %s: %w", p, h.walkLimited(ctx, err))
	}
	return n, nil
}

// chmod sends one SITE CHMOD.
func (h *Handle) chmod(ctx context.Context, p string, bits uint32) error {
	return h.do(ctx, func(c *conn) error {
		return chmodOn(c, p, bits)
	})
}

// chmodOn sends SITE CHMOD on c's control connection, between two of
// jlaffaye's commands (it has no way to send SITE): jlaffaye has read
// every reply it asked for, so the next bytes are this command's reply.
// With explicit FTPS and active mode off, jlaffaye puts TLS on the control
// connection itself, out of the bridge's reach.
func chmodOn(c *conn, p string, bits uint32) error {
	if c.ctl == nil {
		return fmt.Errorf("%w: the bridge cannot send SITE commands on this FTPS connection", ErrNoChmod)
	}
	code, reply, err := c.ctl.command(fmt.Sprintf("SITE CHMOD %04o %s", bits, p))
	if err != nil {
		return err
	}
	replyErr := &textproto.Error{Code: code, Msg: replyText(reply)}
	switch {
	case code >= 200 && code < 300:
		return nil
	case code == 500 || code == 502 || code == 504:
		return fmt.Errorf("%w: %w", ErrNoChmod, replyErr)
	}
	return replyErr
}
