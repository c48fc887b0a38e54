package handlers

import (
	"fmt"
	"io/fs"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/ftpbridge/ftpbridge/access"
	"github.com/ftpbridge/ftpbridge/ftppool"
)

// chmod answers POST {path}?op=chmod: the form's "mode", three or four
// octal digits ("640", "0640", "2775"), set with SITE CHMOD; recursive=1
// on a folder's address sets it on everything below too (a walk, under the
// walk budget, following no links). JSON {"path","mode","changed"}, or for
// a browser's form a redirect back to the folder.
func (f *files) chmod(c echo.Context, t *access.Target) error {
	form, err := opForm(c)
	if err != nil {
		return err
	}
	mode, err := parseMode(form.Get("mode"))
	if err != nil {
		return err
	}
	recursive := form.Get("recursive") == "1"
	if recursive && !t.Dir {
		return badRequest("recursive=1 is for folders: send it to the folder's address, ending in /.")
	}
	if recursive {
		release, err := f.startWalk(c)
		if err != nil {
			return err
		}
		defer release()
	}
	n, err := t.Handle.Chmod(c.Request().Context(), t.Path, mode, recursive)
	if err != nil && ftppool.ErrorKind(err) == ftppool.KindWalkLimit {
		he := ftpError(err, t.Quote(t.Path))
		he.Msg += fmt.Sprintf(" The permissions of %d files and folders were changed before the bridge stopped; the rest are as they were.", n)
		return he
	}
	if err != nil {
		return ftpFailure(t, err, t.Quote(t.Path))
	}
	shown := t.Show(t.Path)
	if t.Dir && !strings.HasSuffix(shown, "/") {
		shown += "/"
	}
	return opDone(c, t, http.StatusOK, map[string]any{"path": shown, "mode": fmt.Sprintf("%04o", modeBits(mode)), "changed": n})
}

// parseMode reads a mode of three or four octal digits; anything else is
// 400.
func parseMode(s string) (fs.FileMode, error) {
	bad := badRequest("The permissions must be three or four octal digits, such as 644 or 0750 (owner, group, others: read 4, write 2, open 1); %q is not.", s)
	if len(s) != 3 && len(s) != 4 {
		return 0, bad
	}
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || strings.ContainsAny(s, "+-") {
		return 0, bad
	}
	mode := fs.FileMode(n & 0o777)
	if n&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if n&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if n&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	return mode, nil
}

// modeBits is parseMode backwards.
func modeBits(mode fs.FileMode) uint32 {
	n := uint32(mode.Perm())
	for bit, m := range map[uint32]fs.FileMode{0o4000: fs.ModeSetuid, 0o2000: fs.ModeSetgid, 0o1000: fs.ModeSticky} {
		if mode&m != 0 {
			n |= bit
		}
	}
	return n
}

// octalOf writes nine ls letters ("rw-r-----") as octal digits ("640"),
// for a form to start from; "" when they are not nine such letters.
func octalOf(rwx string) string {
	if len(rwx) != 9 {
		return ""
	}
	var n, special uint32
	for i := 0; i < 9; i++ {
		ch := rwx[i]
		want := "rwx"[i%3]
		switch {
		case ch == want:
			n |= 1 << (8 - i)
		case ch == '-':
		case i%3 == 2 && (ch == 's' || ch == 't'):
			n |= 1 << (8 - i)
			special |= 1 << (2 - i/3)
		case i%3 == 2 && (ch == 'S' || ch == 'T'):
			special |= 1 << (2 - i/3)
		default:
			return ""
		}
	}
	if special != 0 {
		return fmt.Sprintf("%o%03o", special, n)
	}
	return fmt.Sprintf("%03o", n)
}
