package ftppool

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/ftpbridge/ftpbridge/internal/urlpath"
)

// MaxWalkDepth bounds every walk, against servers that report endless
// folders (a link loop listed as a folder).
const MaxWalkDepth = 64

// ErrTooDeep ends a walk that went below MaxWalkDepth.
var ErrTooDeep = fmt.Errorf("the folder tree is deeper than %d levels", MaxWalkDepth)

// Walk calls visit for every entry below dir, each folder before what it
// holds, as an archive lists them; depth is 0 for dir's own entries. Links
// are reported, not followed. visit may return fs.SkipDir for a folder to
// leave its contents out; from any other entry it means nothing more than
// nil, as a file never ends a walk.
func (h *Handle) Walk(ctx context.Context, dir string, visit func(full string, depth int, e Entry) error) error {
	return h.walk(ctx, dir, 0, true, visit)
}

// walk visits the entries below dir: with foldersFirst a folder before its
// contents, otherwise after them, so that visit may delete as it goes.
func (h *Handle) walk(ctx context.Context, dir string, depth int, foldersFirst bool, visit func(full string, depth int, e Entry) error) error {
	if depth >= MaxWalkDepth {
		return ErrTooDeep
	}
	entries, err := h.List(ctx, dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.Contains(e.Name, "/") || urlpath.HasControl(e.Name) {
			// Not one name: joined to dir it would name another file,
			// perhaps outside dir ("../x"), or, with a CR in it, carry a
			// second command. List already drops "." and "..".
			continue
		}
		full := path.Join(dir, e.Name)
		if foldersFirst {
			err := visit(full, depth, e)
			if errors.Is(err, fs.SkipDir) {
				continue
			}
			if err != nil {
				return err
			}
		}
		if e.Type == TypeDir {
			if err := h.walk(ctx, full, depth+1, foldersFirst, visit); err != nil {
				return err
			}
		}
		if !foldersFirst {
			if err := visit(full, depth, e); err != nil {
				return err
			}
		}
	}
	return nil
}

// ErrLink is returned by NoLinksBelow for a path that goes through a link.
var ErrLink = errors.New("the path goes through a link")

// NoLinksBelow checks that no segment of p below the folder root is a
// link, by listing each segment's folder: a link inside a shared folder
// could lead out of it ("up -> .."), and SIZE, MDTM and CWD all follow
// links without saying so. A server that lists links as plain files or
// folders cannot be checked this way.
func (h *Handle) NoLinksBelow(ctx context.Context, root, p string) error {
	rel, ok := strings.CutPrefix(p, strings.TrimSuffix(root, "/")+"/")
	if !ok || rel == "" {
		return nil // p is root itself
	}
	dir := strings.TrimSuffix(root, "/")
	for _, seg := range strings.Split(rel, "/") {
		entries, err := h.List(ctx, dir+"/")
		if err != nil {
			return err
		}
		i := slices.IndexFunc(entries, func(e Entry) bool { return e.Name == seg })
		switch {
		case i < 0:
			return fmt.Errorf("%s/%s: %w", dir, seg, errNotListed)
		case entries[i].Type == TypeLink:
			return fmt.Errorf("%s/%s: %w", dir, seg, ErrLink)
		}
		dir += "/" + seg
	}
	return nil
}

// errNotListed: the name is not in its folder's listing.
var errNotListed = errors.New("not in its folder's listing")
