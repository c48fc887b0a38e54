package ftppool

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"
	"unicode/utf8"
)

// Put stores src at p. The bytes go to a hidden temporary name beside p,
// which is renamed into place only after the server confirmed the whole
// file (226): a failed, cancelled or oversized upload never leaves a
// partial file and never touches an existing one. An existing p is
// ErrExists unless overwrite is set; replaced says whether it was there.
// progress hears of every chunk as it is handed to the server.
func (h *Handle) Put(ctx context.Context, p string, src io.Reader, overwrite bool, progress func(int64)) (replaced bool, err error) {
	return h.PutIf(ctx, p, src, overwrite, progress, nil)
}

// PutIf is Put with a check of what is at p (exists says whether anything
// is; e is it then), made before any byte goes up and again just before
// the rename into place: an error from check ends the upload with nothing
// written, and comes back wrapped. Between the last check and the rename
// another client may still write p: FTP has no conditional rename.
func (h *Handle) PutIf(ctx context.Context, p string, src io.Reader, overwrite bool, progress func(int64), check func(e Entry, exists bool) error) (replaced bool, err error) {
	defer h.wrote()
	c, err := h.hold(ctx, func(c *conn) error {
		e, err := lookup(c.sc, p)
		if check != nil && (err == nil || absent(err)) {
			if cerr := check(e, err == nil); cerr != nil {
				return cerr
			}
		}
		switch {
		case err == nil && e.Type == TypeDir:
			return ErrIsDir
		case err == nil && !overwrite:
			return ErrExists
		case err == nil:
			replaced = true
		case !absent(err):
			return err
		}
		return nil
	})
	if err != nil {
		return false, uploadError(ctx, p, err)
	}
	tmp := tempName(p, "part")
	stop := c.cutOnCancel(ctx)
	c.uploading.Store(true)
	err = c.sc.Stor(tmp, &meter{ctx: ctx, src: src, progress: progress})
	c.uploading.Store(false)
	stop()
	if err == nil && check != nil {
		// The file may have changed while the bytes went up.
		e, lerr := lookup(c.sc, p)
		if lerr == nil || absent(lerr) {
			if cerr := check(e, lerr == nil); cerr != nil {
				// The connection is in step: clear up on it.
				if derr := c.sc.Delete(tmp); derr != nil && !absent(derr) {
					h.p.cfg.Logger.Warn("could not remove a partial upload", "server", h.key.ep, "path", tmp, "err", derr)
				}
				h.p.release(c, true)
				return false, fmt.Errorf("upload %s: %w", p, cerr)
			}
		} else {
			err = lerr
		}
	}
	if err == nil {
		err = h.commit(c, tmp, p, overwrite)
	}
	if err == nil {
		h.p.release(c, true)
		return replaced, nil
	}
	if inStep(err) {
		if derr := c.sc.Delete(tmp); derr != nil && !absent(derr) { // absent: STOR never created it
			h.p.cfg.Logger.Warn("could not remove a partial upload", "server", h.key.ep, "path", tmp, "err", derr)
		}
		h.p.release(c, true)
	} else {
		h.p.release(c, false)
		h.removeTemp(ctx, tmp)
	}
	return false, uploadError(ctx, p, err)
}

// wrote drops what the pool remembers of the server's files (meta.go):
// the bridge changed some. Deferred by every write, it also keeps out a
// lookup that ran while the write did.
func (h *Handle) wrote() { h.p.meta.forget(h.key) }

// uploadError wraps a failed upload's error. When ctx ended, that is the
// cause, whatever broke on the way (a cut data connection, a wait for a
// connection slot given up).
func uploadError(ctx context.Context, p string, err error) error {
	if ctx.Err() != nil {
		err = &SourceError{Err: context.Cause(ctx)}
	}
	return fmt.Errorf("upload %s: %w", p, err)
}

// commit renames the finished temporary file into place.
func (h *Handle) commit(c *conn, tmp, p string, overwrite bool) error {
	if !overwrite {
		// Someone may have created p while the bytes went up.
		if _, err := lookup(c.sc, p); err == nil {
			return ErrExists
		} else if !absent(err) {
			return err
		}
	}
	err := c.sc.Rename(tmp, p)
	if err == nil || !overwrite || !inStep(err) {
		return err
	}
	// Some servers refuse to rename onto an existing file. Move the old
	// one aside, and delete it only once the new one is in place; put it
	// back if that fails.
	old := tempName(p, "old")
	if c.sc.Rename(p, old) != nil {
		return err
	}
	if err := c.sc.Rename(tmp, p); err != nil {
		if berr := c.sc.Rename(old, p); berr != nil {
			// The old bytes are safe, under a hidden name: say where.
			h.p.cfg.Logger.Error("could not put a file back after a failed replace", "server", h.key.ep, "path", p, "kept_as", old, "err", berr)
		}
		return err
	}
	if derr := c.sc.Delete(old); derr != nil {
		h.p.cfg.Logger.Warn("could not remove the replaced file", "server", h.key.ep, "path", old, "err", derr)
	}
	return nil
}

// removeTemp deletes a partial upload on a connection of its own, when the
// one that carried the upload is not fit for another command. It runs even
// when ctx was cancelled: a cancelled upload must leave nothing behind.
func (h *Handle) removeTemp(ctx context.Context, tmp string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.p.cfg.DialTimeout+h.p.cfg.IOTimeout)
	defer cancel()
	err := h.do(ctx, func(c *conn) error { return c.sc.Delete(tmp) })
	if err != nil && !absent(err) {
		h.p.cfg.Logger.Warn("could not remove a partial upload", "server", h.key.ep, "path", tmp, "err", err)
	}
}

// tempName is a hidden name beside p that no person would choose, such as
// ".report.pdf.ftpbridge-3f9a….part".
func tempName(p, suffix string) string {
	dir, base := path.Split(p)
	// Keep the name within what servers accept, cut on a character edge.
	if len(base) > 100 {
		cut := 100
		for cut > 0 && !utf8.RuneStart(base[cut]) {
			cut--
		}
		base = base[:cut]
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand never fails on Linux
	return dir + "." + base + ".ftpbridge-" + hex.EncodeToString(b) + "." + suffix
}

// copyBuffers are the chunks uploads move in: larger than io.Copy's 32 KiB
// so a fast link needs fewer system calls, pooled so memory stays flat.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// meter feeds an upload to the data connection, counting what the server
// was handed and stopping when ctx ends. Source failures are SourceErrors.
type meter struct {
	ctx      context.Context
	src      io.Reader
	progress func(int64)
}

func (m *meter) Read(b []byte) (int, error) {
	return 0, errors.New("meter is only copied with WriteTo")
}

// WriteTo is what io.Copy uses, so every chunk is counted after the
// server's side took it.
func (m *meter) WriteTo(w io.Writer) (int64, error) {
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	var total int64
	for {
		if m.ctx.Err() != nil {
			return total, &SourceError{Err: context.Cause(m.ctx)}
		}
		n, rerr := fill(m.src, *bp)
		if n > 0 {
			wn, werr := w.Write((*bp)[:n])
			total += int64(wn)
			if wn > 0 && m.progress != nil {
				m.progress(int64(wn))
			}
			if werr != nil {
				return total, werr
			}
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, &SourceError{Err: rerr}
		}
	}
}

// fill reads until buf is full or r fails: readers such as a multipart
// part hand out a few KiB at a time.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Mkdir makes one folder; ErrExists if something has that name already.
func (h *Handle) Mkdir(ctx context.Context, p string) error {
	err := h.do(ctx, func(c *conn) error {
		if _, err := lookup(c.sc, p); err == nil {
			return ErrExists
		} else if !absent(err) {
			return err
		}
		return c.sc.MakeDir(p)
	})
	if err != nil {
		return fmt.Errorf("make folder %s: %w", p, err)
	}
	return nil
}

// MkdirAll makes p and any missing parents, as a folder upload needs, and
// returns the folders it made, parents first.
func (h *Handle) MkdirAll(ctx context.Context, p string) ([]string, error) {
	var made []string
	err := h.do(ctx, func(c *conn) error {
		made = nil // a retry on another connection starts over
		if e, err := lookup(c.sc, p); err == nil && e.Type == TypeDir {
			return nil
		}
		at := "/"
		for _, seg := range strings.Split(p, "/") {
			if seg == "" {
				continue
			}
			at = path.Join(at, seg)
			if err := c.sc.MakeDir(at); err != nil {
				if !inStep(err) {
					return err
				}
				// Most servers refuse MKD of an existing folder.
				if e, lerr := lookup(c.sc, at); lerr != nil || e.Type != TypeDir {
					return err
				}
				continue
			}
			made = append(made, at)
		}
		return nil
	})
	if err != nil {
		return made, fmt.Errorf("make folder %s: %w", p, err)
	}
	return made, nil
}

// RemoveEmptyDirs takes back folders an upload made, deepest first, when
// the upload failed: RMD refuses a folder that is not empty, so one that
// holds a file that did arrive (or anyone else's) stays. Like removeTemp it
// runs even when ctx was cancelled.
func (h *Handle) RemoveEmptyDirs(ctx context.Context, dirs []string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.p.cfg.DialTimeout+h.p.cfg.IOTimeout)
	defer cancel()
	_ = h.do(ctx, func(c *conn) error {
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := c.sc.RemoveDir(dirs[i]); err != nil && !inStep(err) {
				return err
			}
		}
		return nil
	})
}

// Rename moves from to to within the server; ErrExists if to is taken.
func (h *Handle) Rename(ctx context.Context, from, to string) error {
	defer h.wrote()
	err := h.do(ctx, func(c *conn) error {
		if _, err := lookup(c.sc, to); err == nil {
			return ErrExists
		} else if !absent(err) {
			return err
		}
		return c.sc.Rename(from, to)
	})
	if err != nil {
		return fmt.Errorf("rename %s to %s: %w", from, to, err)
	}
	return nil
}

// Tally counts what a folder holds, below it.
type Tally struct {
	Files   int   `json:"files"` // files and links
	Folders int   `json:"folders"`
	Bytes   int64 `json:"bytes"`
}

// Count tallies the folder p recursively. Links are counted, not followed.
// A folder over the walk budget is a WalkLimitError, not a tally of part
// of it: the tally says what deleting the folder would remove.
func (h *Handle) Count(ctx context.Context, p string) (Tally, error) {
	ctx, done := h.walkBudget(ctx)
	defer done()
	var t Tally
	err := h.walk(ctx, p, false, func(_ string, _ int, e Entry) error {
		if e.Type == TypeDir {
			t.Folders++
			return nil
		}
		t.Files++
		if e.Size > 0 {
			t.Bytes += e.Size
		}
		return nil
	})
	if err != nil {
		return t, fmt.Errorf("count %s: %w", p, h.walkLimited(ctx, err))
	}
	return t, nil
}

// Remove deletes p: a file, or a folder, which must be empty unless
// recursive is set. It returns how many entries went, p included. A
// recursive delete is a walk, and stops at its budget with a
// WalkLimitError: whole listings are deleted up to it, the rest stays.
// Links in the folder go as themselves, never what they lead to.
func (h *Handle) Remove(ctx context.Context, p string, recursive bool) (int, error) {
	defer h.wrote()
	ctx, done := h.walkBudget(ctx)
	defer done()
	e, err := h.Stat(ctx, p)
	if err != nil {
		return 0, fmt.Errorf("delete %s: %w", p, err)
	}
	remove := func(full string, e Entry) error {
		return h.do(ctx, func(c *conn) error {
			if e.Type == TypeDir {
				return c.sc.RemoveDir(full)
			}
			return c.sc.Delete(full) // a link goes, not what it points to
		})
	}
	if e.Type != TypeDir {
		if err := remove(p, e); err != nil {
			return 0, fmt.Errorf("delete %s: %w", p, err)
		}
		return 1, nil
	}
	if !recursive {
		entries, err := h.List(ctx, p)
		if err == nil && len(entries) > 0 {
			err = ErrNotEmpty
		}
		if err != nil {
			return 0, fmt.Errorf("delete %s: %w", p, err)
		}
	}
	n := 0
	err = h.walk(ctx, p, false, func(full string, _ int, e Entry) error {
		if err := remove(full, e); err != nil {
			return err
		}
		n++
		return nil
	})
	if err == nil {
		err = remove(p, e)
	}
	if err != nil {
		return n, fmt.Errorf("delete %s: %w", p, h.walkLimited(ctx, err))
	}
	return n + 1, nil
}
