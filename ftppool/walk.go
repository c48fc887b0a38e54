package ftppool

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/ftpbridge/ftpbridge/internal/urlpath"
)

// MaxWalkDepth bounds every walk, against servers that report endless
// folders (a link loop listed as a folder).
const MaxWalkDepth = 64

// ErrTooDeep ends a walk that went below MaxWalkDepth.
var ErrTooDeep = fmt.Errorf("the folder tree is deeper than %d levels", MaxWalkDepth)

// WalkLimitError ends a walk that went past its budget (Config's
// WalkMaxEntries and WalkTimeout, and walkListBytes a listing): a tree too
// large to go through, or a server too slow to, which a hostile server can
// make of any folder.
type WalkLimitError struct {
	Entries   int           // the entry budget, when that ran out
	Timeout   time.Duration // the time budget, when that ran out
	ListBytes int64         // the bound of one listing, when one was longer
}

func (e *WalkLimitError) Error() string {
	switch {
	case e.Timeout > 0:
		return fmt.Sprintf("going through the folder took longer than %s, the most one walk may take", e.Timeout)
	case e.ListBytes > 0:
		return fmt.Sprintf("a folder below has a listing longer than %d bytes, the most one walk reads at once", e.ListBytes)
	}
	return fmt.Sprintf("the folder holds more than %d files and folders, the most one walk may go through", e.Entries)
}

// walkListBytes bounds each listing a walk reads, below -max-list-bytes:
// parsed, a listing costs three to four times its bytes, and a client may
// run walks side by side (handlers limit how many). Honest lines are 60 to
// 170 bytes, so a folder of 100,000 entries still fits.
const walkListBytes = 16 << 20

// Walk calls visit for every entry below dir, each folder before what it
// holds, as an archive lists them; depth is 0 for dir's own entries. Links
// are reported, not followed, also those a server lists as folders (see
// walker.linked). visit may return fs.SkipDir for a folder to leave its
// contents out; from any other entry it means nothing more than nil, as a
// file never ends a walk. The walk is bounded by the pool's walk budget.
func (h *Handle) Walk(ctx context.Context, dir string, visit func(full string, depth int, e Entry) error) error {
	ctx, done := h.walkBudget(ctx)
	defer done()
	if err := h.walk(ctx, dir, true, visit); err != nil {
		return fmt.Errorf("walk %s: %w", dir, h.walkLimited(ctx, err))
	}
	return nil
}

// walkBudget gives a walk its time budget. Every FTP command of the walk,
// and of what its visits do, runs under the returned context.
func (h *Handle) walkBudget(ctx context.Context) (context.Context, context.CancelFunc) {
	if d := h.p.cfg.WalkTimeout; d > 0 {
		return context.WithTimeoutCause(ctx, d, &WalkLimitError{Timeout: d})
	}
	return context.WithCancel(ctx)
}

// walkLimited names the time budget as the cause of a walk's failure when
// that is what ended it: the failure itself is whatever the cut command
// said (a deadline, a closed connection).
func (h *Handle) walkLimited(ctx context.Context, err error) error {
	var limit *WalkLimitError
	if err != nil && errors.As(context.Cause(ctx), &limit) && !errors.As(err, &limit) {
		return fmt.Errorf("%w (%w)", limit, err)
	}
	return err
}

// pending is a folder the walk has yet to go through. It keeps its own name
// and its parent, not its path: the walk's memory is then the names still
// to visit, however deep the tree, and no listing outlives its turn.
type pending struct {
	parent *pending
	entry  Entry // as listed, with its Name alone kept from the line
	depth  int   // of the listing it is in; the walked folder is -1
	// done: contents first, and what the folder holds is gone through;
	// the folder itself is visited next.
	done bool
}

// walker is one walk's state.
type walker struct {
	h            *Handle
	root         string
	foldersFirst bool
	visit        func(full string, depth int, e Entry) error
	// real is where the server says the walked folder is (its PWD inside
	// it); "" when its PWD is of no use, and links are then known from the
	// listing alone.
	real string
	// left is what the entry budget still allows; unlimited when the
	// budget is 0.
	left, budget int
}

// walk visits the entries below dir: with foldersFirst a folder before its
// contents, otherwise after them, so that visit may delete as it goes. It
// goes depth first with a stack of the folders still to visit, and each
// listing is done with before the next one is read.
func (h *Handle) walk(ctx context.Context, dir string, foldersFirst bool, visit func(full string, depth int, e Entry) error) error {
	w := &walker{h: h, root: path.Clean("/" + dir), foldersFirst: foldersFirst, visit: visit, budget: h.p.cfg.WalkMaxEntries}
	w.left = w.budget
	// A walked folder the server will not say where it is (no CWD into it,
	// a PWD reply without a path) is still listed: links are then known by
	// the listing alone. A connection that failed fails the listing too.
	if at, err := h.whereIs(ctx, w.root); err == nil {
		w.real = at
	} else if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	stack := []*pending{{depth: -1, entry: Entry{Type: TypeDir}}}
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		p := stack[len(stack)-1]
		stack[len(stack)-1] = nil // the stack's array must not keep p alive after its turn
		stack = stack[:len(stack)-1]
		full := w.path(p)
		if p.done {
			if err := visit(full, p.depth, p.entry); err != nil {
				return err
			}
			continue
		}
		if p.parent != nil {
			link, err := w.linked(ctx, p, full)
			if err != nil {
				return err
			}
			if link {
				e := p.entry
				e.Type = TypeLink
				if err := visit(full, p.depth, e); err != nil && !errors.Is(err, fs.SkipDir) {
					return err
				}
				continue
			}
			if foldersFirst {
				err := visit(full, p.depth, p.entry)
				if errors.Is(err, fs.SkipDir) {
					continue
				}
				if err != nil {
					return err
				}
			}
		}
		if p.depth+1 >= MaxWalkDepth {
			return ErrTooDeep
		}
		dirs, err := w.through(ctx, p, full)
		if err != nil {
			return err
		}
		if !foldersFirst && p.parent != nil {
			p.done = true
			stack = append(stack, p)
		}
		// Reversed, so that folders come off the stack in listing order.
		for i := len(dirs) - 1; i >= 0; i-- {
			stack = append(stack, dirs[i])
		}
	}
	return nil
}

// through lists the folder p, visits its files and links, and returns its
// folders, to be visited in their turn.
func (w *walker) through(ctx context.Context, p *pending, full string) ([]*pending, error) {
	entries, err := w.list(ctx, full)
	if err != nil {
		return nil, err
	}
	if w.budget > 0 {
		if len(entries) > w.left {
			return nil, &WalkLimitError{Entries: w.budget}
		}
		w.left -= len(entries)
	}
	var dirs []*pending
	for _, e := range entries {
		if strings.Contains(e.Name, "/") || urlpath.HasControl(e.Name) {
			// Not one name: joined to dir it would name another file,
			// perhaps outside dir ("../x"), or, with a CR in it, carry a
			// second command. List already drops "." and "..".
			continue
		}
		if e.Type == TypeDir {
			// Only what the folder's own visit needs: the rest of the
			// listing line may go.
			kept := Entry{Name: strings.Clone(e.Name), Type: TypeDir, Size: -1, Modified: e.Modified}
			dirs = append(dirs, &pending{parent: p, entry: kept, depth: p.depth + 1})
			continue
		}
		if err := w.visit(path.Join(full, e.Name), p.depth+1, e); err != nil && !errors.Is(err, fs.SkipDir) {
			return nil, err
		}
	}
	return dirs, nil
}

// listSlack is lines a listing may hold beyond its entries: ls's "total",
// MLSD's lines for the folder itself and its parent, "." and "..".
const listSlack = 4

// list reads one folder of the walk. A listing longer than the entry
// budget still allows is cut as it arrives, before it costs the memory of
// its parsing.
func (w *walker) list(ctx context.Context, dir string) ([]Entry, error) {
	maxLines := w.h.p.cfg.MaxListEntries
	byBudget := false
	if w.budget > 0 && (maxLines <= 0 || w.left+listSlack < maxLines) {
		maxLines, byBudget = w.left+listSlack, true
	}
	maxBytes := min(w.h.p.cfg.MaxListBytes, walkListBytes)
	f, err := w.h.listFolder(ctx, dir, maxLines, maxBytes)
	switch {
	case err == nil:
		return f.Entries, nil
	case byBudget && errors.Is(err, errTooManyLines):
		return nil, &WalkLimitError{Entries: w.budget}
	case maxBytes < w.h.p.cfg.MaxListBytes && errors.Is(err, errListingTooLarge) && !errors.Is(err, errTooManyLines):
		return nil, &WalkLimitError{ListBytes: maxBytes}
	}
	return nil, err
}

// path is p's FTP path.
func (w *walker) path(p *pending) string {
	return path.Join(w.root, w.rel(p))
}

// rel is p's path below the walked folder.
func (w *walker) rel(p *pending) string {
	var names []string
	for ; p.parent != nil; p = p.parent {
		names = append(names, p.entry.Name)
	}
	slices.Reverse(names)
	return strings.Join(names, "/")
}

// linked tells whether the folder p, listed as a folder, is a link to one:
// some servers list a link to a folder as the folder (MLSD's type=dir), and
// a link to "/" or ".." would take the walk out of the walked folder.
// Inside a link the server's PWD names where the link leads, not the path
// the walk took: a folder whose PWD is not the walked folder's, joined with
// the names below it, is not where the walk thinks it is. It costs a CWD
// and a PWD per folder, never per file. Servers whose PWD repeats the path
// given (ftpserverlib) cannot be asked this way; they list links as what
// they are, or as files.
func (w *walker) linked(ctx context.Context, p *pending, full string) (bool, error) {
	if w.real == "" {
		return false, nil
	}
	at, err := w.h.whereIs(ctx, full)
	if err != nil {
		return false, err
	}
	return at != path.Join(w.real, w.rel(p)), nil
}

// errNoPWD: the server's PWD reply names no usable path.
var errNoPWD = errors.New("the server's PWD reply names no usable folder")

// whereIs changes into dir and returns the server's PWD there.
func (h *Handle) whereIs(ctx context.Context, dir string) (string, error) {
	var at string
	err := h.do(ctx, func(c *conn) error {
		if err := c.sc.ChangeDir(dir); err != nil {
			return err
		}
		pwd, err := c.sc.CurrentDir()
		if err != nil {
			return err
		}
		var ok bool
		if at, ok = pwdPath(pwd); !ok {
			return errNoPWD
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("find %s: %w", dir, err)
	}
	return at, nil
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
