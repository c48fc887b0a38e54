package ftppool

import (
	"context"
	"fmt"
	"path"

	"github.com/jlaffaye/ftp"
)

// lookup finds what path is: MLST where the server has it (one round trip
// for type, size and time), else SIZE and MDTM, telling a folder by CWD.
// A missing path is the server's own error, of KindNotFound.
func lookup(sc *ftp.ServerConn, p string) (Entry, error) {
	e := Entry{Name: path.Base(p), Size: -1}
	if me, err := sc.GetEntry(p); err == nil {
		switch me.Type {
		case ftp.EntryTypeFolder:
			e.Type = TypeDir
		case ftp.EntryTypeLink:
			e.Type = TypeLink
		}
		e.Size, e.Modified = int64(me.Size), me.Time
		return e, nil
	} else if k := ErrorKind(err); k != KindNotSupported && k != KindProtocol {
		return e, err
	}
	size, err := sc.FileSize(p)
	if err != nil {
		if !inStep(err) {
			return e, err
		}
		// SIZE fails on folders too; CWD tells them apart.
		if sc.ChangeDir(p) == nil {
			e.Type = TypeDir
			return e, nil
		}
		if ErrorKind(err) != KindNotSupported {
			return e, err
		}
		size = -1
	}
	e.Size = size
	if sc.IsGetTimeSupported() {
		if t, err := sc.GetTime(p); err == nil {
			e.Modified = t
		}
	}
	return e, nil
}

// Stat returns what path is. A missing path is an error of KindNotFound.
func (h *Handle) Stat(ctx context.Context, p string) (Entry, error) {
	var e Entry
	err := h.do(ctx, func(c *conn) (err error) {
		e, err = lookup(c.sc, p)
		return err
	})
	if err != nil {
		return e, fmt.Errorf("stat %s: %w", p, err)
	}
	return e, nil
}

// absent reports whether lookup's error says the path does not exist, as
// opposed to a failure that says nothing about it.
func absent(err error) bool { return ErrorKind(err) == KindNotFound }
