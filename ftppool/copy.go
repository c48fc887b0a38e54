package ftppool

import (
	"context"
	"fmt"
	"io"
)

// Copy copies the open file src to the path to, on the same server. FTP
// has no command for that, so the bytes go through the bridge: src's RETR
// on its connection feeds Put's STOR on another, into a temporary name
// renamed into place once the server has it whole. Nothing is held whole.
// An existing to is ErrExists unless overwrite is set; replaced says
// whether it was there. progress hears of every chunk the server took.
//
// A failure to read src is the server's error, as for a download, not
// the SourceError of an upload whose client went away: the person is
// told what the server said about the file copied.
func (h *Handle) Copy(ctx context.Context, src *File, to string, overwrite bool, progress func(int64)) (replaced bool, err error) {
	r := &copySource{f: src}
	replaced, err = h.Put(ctx, to, r, overwrite, progress)
	if err != nil && r.err != nil && ctx.Err() == nil {
		err = r.err
	}
	if err != nil {
		return false, fmt.Errorf("copy %s to %s: %w", src.path, to, err)
	}
	return replaced, nil
}

// copySource reads a copy's source, keeping its failure apart from the
// upload's own.
type copySource struct {
	f   *File
	err error
}

func (s *copySource) Read(b []byte) (int, error) {
	n, err := s.f.Read(b)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// RemoveLink deletes the link p itself with DELE, never what it leads to:
// Remove, which asks the server what p is, would take a link to a folder
// for the folder (SIZE and CWD follow links) and delete its contents.
func (h *Handle) RemoveLink(ctx context.Context, p string) error {
	defer h.wrote()
	if err := h.do(ctx, func(c *conn) error { return c.sc.Delete(p) }); err != nil {
		return fmt.Errorf("delete %s: %w", p, err)
	}
	return nil
}

// WalkBudget gives the walks of one request (a delete or copy of several
// folders) one time budget between them: a walk under the returned
// context ends when its own budget or this one runs out, whichever is
// first. cancel releases it.
func (h *Handle) WalkBudget(ctx context.Context) (walks context.Context, cancel context.CancelFunc) {
	return h.walkBudget(ctx)
}
