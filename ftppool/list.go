package ftppool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/jlaffaye/ftp"
)

// EntryType is what a listing entry is.
type EntryType int

// Entry types; names match the JSON contract.
const (
	TypeFile EntryType = iota
	TypeDir
	TypeLink
)

func (t EntryType) String() string { return [...]string{"file", "dir", "link"}[t] }

// Entry is one row of a folder listing. Name holds the server's bytes.
type Entry struct {
	Name     string
	Type     EntryType
	Size     int64     // -1 when unknown
	Modified time.Time // zero when unknown
	Target   string    // symlink target, when the server says
}

// List reads a folder. It uses MLSD where the server offers it and LIST
// otherwise (also when MLSD turns out to be refused). jlaffaye silently
// drops lines it cannot parse; the raw data is kept alongside so that such
// a line still shows up by name instead of vanishing.
func (h *Handle) List(ctx context.Context, dir string) ([]Entry, error) {
	var out []Entry
	err := h.do(ctx, func(c *conn) error {
		cp := &capture{limit: h.p.cfg.MaxListBytes, maxLines: h.p.cfg.MaxListEntries}
		c.listing.Store(cp)
		defer c.listing.Store(nil)
		mlsd := c.sc.IsTimePreciseInList()
		parsed, err := c.sc.List(dir)
		if err != nil {
			if mlsd && ErrorKind(err) == KindNotSupported {
				h.p.disableMLSD(h.key.ep)
				return errRetryFresh
			}
			if !inStep(err) {
				return err
			}
			return folderOr(c, dir, err)
		}
		out = reconcile(parsed, cp.buf.Bytes(), mlsd)
		if ambiguous(dir, out) {
			return folderOr(c, dir, nil)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	return out, nil
}

// ErrNotFolder is a folder address that names no folder: nothing, or a file.
var ErrNotFolder = errors.New("there is no such folder")

// ambiguous reports a listing that may not be of a folder at all: servers
// answer LIST of a missing path with nothing (vsftpd), and LIST of a file
// with that one file. Any other listing is of a folder, and costs no
// round trip more.
func ambiguous(dir string, out []Entry) bool {
	base := path.Base(dir)
	return len(out) == 0 || len(out) == 1 && out[0].Type != TypeDir && (out[0].Name == base || out[0].Name == dir)
}

// folderOr settles whether dir is a folder by changing into it (paths are
// always absolute, so the connection's working folder matters to nothing
// else). A folder gives listErr, the listing's own failure (nil for an
// ambiguous listing that is right after all); a path the server will not
// enter for lack of permission gives that refusal; anything else is
// ErrNotFolder, whatever the listing said ("550 Can't check for file
// existence" on pure-ftpd, an empty list on vsftpd).
func folderOr(c *conn, dir string, listErr error) error {
	err := c.sc.ChangeDir(dir)
	switch {
	case err == nil:
		return listErr
	case !inStep(err):
		return err
	case ErrorKind(err) == KindPermission:
		return err
	case listErr != nil && ErrorKind(listErr) == KindPermission:
		return listErr
	}
	return ErrNotFolder
}

// reconcile turns jlaffaye's entries into ours and adds a bare entry for
// each raw line that it could not parse.
func reconcile(parsed []*ftp.Entry, raw []byte, mlsd bool) []Entry {
	lines := rawLines(raw)
	out := make([]Entry, 0, len(lines))
	add := func(e Entry) {
		if e.Name != "" && e.Name != "." && e.Name != ".." {
			out = append(out, e)
		}
	}
	if mlsd {
		seen := make(map[string]int, len(parsed))
		for _, e := range parsed {
			seen[e.Name]++
		}
		types := make(map[string]string, len(lines)) // name -> type fact
		for _, line := range lines {
			facts, name, ok := strings.Cut(line, " ")
			if !ok {
				add(unparsed(line))
				continue
			}
			types[name] = factType(facts)
			if typ := strings.ToLower(types[name]); typ == "cdir" || typ == "pdir" {
				continue
			}
			if seen[name] > 0 {
				seen[name]--
				continue
			}
			add(unparsed(name))
		}
		for _, e := range parsed {
			add(fromMLSD(e, types[e.Name]))
		}
		return out
	}
	j := 0
	for _, line := range lines {
		if j < len(parsed) && lineHolds(line, parsed[j]) {
			add(convert(parsed[j]))
			j++
			continue
		}
		if isTotalLine(line) {
			continue
		}
		add(unparsed(lsName(line)))
	}
	for ; j < len(parsed); j++ {
		add(convert(parsed[j]))
	}
	return out
}

func rawLines(raw []byte) []string {
	var lines []string
	for _, l := range bytes.Split(raw, []byte("\n")) {
		l = bytes.TrimSuffix(l, []byte("\r"))
		if len(bytes.TrimSpace(l)) > 0 {
			lines = append(lines, string(l))
		}
	}
	return lines
}

func convert(e *ftp.Entry) Entry {
	out := Entry{Name: e.Name, Size: int64(e.Size), Modified: e.Time, Target: e.Target}
	switch e.Type {
	case ftp.EntryTypeFolder:
		out.Type, out.Size = TypeDir, -1
	case ftp.EntryTypeLink:
		out.Type, out.Size = TypeLink, -1
	}
	return out
}

// fromMLSD also reads the symlink facts jlaffaye ignores
// ("type=OS.unix=slink:/target"); typ is the entry's type fact.
func fromMLSD(e *ftp.Entry, typ string) Entry {
	out := convert(e)
	lt := strings.ToLower(typ)
	if out.Type != TypeFile || !strings.HasPrefix(lt, "os.unix=slink") && !strings.HasPrefix(lt, "os.unix=symlink") {
		return out
	}
	out.Type, out.Size = TypeLink, -1
	if i := strings.Index(lt, "slink:"); i >= 0 {
		out.Target = typ[i+len("slink:"):]
	}
	return out
}

// factType returns the value of the type fact, as the server wrote it
// (a symlink's target keeps its case).
func factType(facts string) string {
	for _, f := range strings.Split(facts, ";") {
		k, v, _ := strings.Cut(f, "=")
		if strings.EqualFold(k, "type") {
			return v
		}
	}
	return ""
}

func unparsed(name string) Entry { return Entry{Name: name, Type: TypeFile, Size: -1} }

// lineHolds reports whether a LIST line is the one jlaffaye parsed into e.
func lineHolds(line string, e *ftp.Entry) bool {
	if e.Type == ftp.EntryTypeLink && e.Target != "" {
		return strings.HasSuffix(line, e.Name+" -> "+e.Target)
	}
	return strings.HasSuffix(line, e.Name)
}

func isTotalLine(line string) bool {
	f := strings.Fields(line)
	return len(f) == 2 && f[0] == "total"
}

// lsName guesses the name in an ls-style line: what follows the date,
// which is either three fields ("May 01 10:00") or, with --time-style=iso
// and friends, two ("2024-05-01 10:00"). Anything else is shown whole,
// which beats hiding it.
func lsName(line string) string {
	rest := line
	field := func() string {
		rest = strings.TrimLeft(rest, " ")
		f, after, _ := strings.Cut(rest, " ")
		rest = after
		return f
	}
	for i := 0; i < 5; i++ {
		field() // mode, links, owner, group, size
	}
	date := 3
	if f := field(); len(f) == 10 && f[4] == '-' && f[7] == '-' {
		date = 2
	}
	for i := 1; i < date; i++ {
		field()
	}
	if name := rest; strings.TrimSpace(name) != "" {
		return name
	}
	return strings.TrimSpace(line)
}
