package ftppool

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
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
	// Perm is MLSD's perm fact in lower case: what this login may do to
	// the entry (RFC 3659 7.5.5: a c d e f l m p r w). "" when the server
	// does not say, which grants nothing and denies nothing.
	Perm string
	// Mode is the unix permissions as nine rwx letters ("rw-r--r--"),
	// from an ls-style LIST line as listed (with s, S, t, T where set)
	// or MLSD's UNIX.mode fact; "" when the server does not say.
	Mode string
}

// Folder is a folder's listing.
type Folder struct {
	Entries []Entry
	// Perm is the folder's own perm fact, from the cdir line of MLSD;
	// "" when the server does not say.
	Perm string
}

// List reads a folder's entries; see ListFolder.
func (h *Handle) List(ctx context.Context, dir string) ([]Entry, error) {
	f, err := h.ListFolder(ctx, dir)
	return f.Entries, err
}

// ListFolder reads a folder. It uses MLSD where the server offers it and
// LIST otherwise (also when MLSD turns out to be refused). jlaffaye
// silently drops lines it cannot parse, and misreads some it can; the raw
// data is kept alongside and read here, so that every line shows up, by
// its exact name.
func (h *Handle) ListFolder(ctx context.Context, dir string) (Folder, error) {
	return h.listFolder(ctx, dir, h.p.cfg.MaxListEntries, h.p.cfg.MaxListBytes)
}

// listFolder is ListFolder with bounds of its own on the listing's lines
// (0: none but the bytes) and bytes.
func (h *Handle) listFolder(ctx context.Context, dir string, maxLines int, maxBytes int64) (Folder, error) {
	var out Folder
	err := h.do(ctx, func(c *conn) error {
		mlsd := c.sc.IsTimePreciseInList()
		cp := &capture{limit: maxBytes, maxLines: maxLines, mlsd: mlsd, now: time.Now()}
		c.listing.Store(cp)
		defer c.listing.Store(nil)
		// A listing ends with its request, or its walk's time budget,
		// not when a slow server is done trickling it.
		stop := c.cutOnCancel(ctx)
		parsed, err := c.sc.List(dir)
		stop()
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
		out = cp.read.finish(parsed)
		if ambiguous(dir, out.Entries) {
			return folderOr(c, dir, nil)
		}
		return nil
	})
	if err != nil {
		return Folder{}, fmt.Errorf("list %s: %w", dir, err)
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
	case err == nil && ErrorKind(listErr) == KindNotFound:
		return nil // "550 No files found": some servers' word for an empty folder
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

// listed is a listing as the bridge's own readers made it out: its
// entries in the server's order, with a place kept for each line they
// could not read, and those lines. Only those lines go to jlaffaye: its
// parsing of a 10,000-line LIST cost more than the rest of the listing
// together.
type listed struct {
	f      Folder
	unread []unreadLine
}

// unreadLine is a line the bridge could not read, and where its entry goes.
type unreadLine struct {
	at   int
	line string
}

// readListing reads the raw listing of about lines lines, one entry per
// line. MLSD lines are read here in full (jlaffaye's reading loses a fact
// when the last one lacks its ";", takes "type=DIR" for a file, a missing
// size for 0 and ignores perm), so none is left for jlaffaye. LIST lines
// in the ls and DOS styles are read here too, for their exact names
// (jlaffaye trims a DOS name's leading spaces) and for the variants
// jlaffaye drops (no group column, a "." after the mode, device files);
// the other lines are left for jlaffaye, which knows rarer ones (MLSD's
// facts in a LIST). now dates ls's "Jan 02 15:04", which has no year.
// The listing becomes one string, and every name a piece of it: a string
// per line was a tenth of a big folder's time, and growing the entries
// as they came another third. The room made beforehand is bounded: lines
// counts blank ones too, and an entry takes seventy times a blank line.
func readListing(raw []byte, lines int, mlsd bool, now time.Time) listed {
	l := listed{f: Folder{Entries: make([]Entry, 0, min(lines, 1<<15)+1)}}
	year := yearOf(now)
	for line := range strings.Lines(string(raw)) {
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if mlsd {
			e, typ := parseMLSD(line)
			switch typ {
			case "cdir":
				l.f.Perm = e.Perm
			case "pdir":
			default:
				l.f.Entries = append(l.f.Entries, e)
			}
			continue
		}
		if isTotalLine(line) {
			continue
		}
		e, ok := parseLs(line, year)
		if !ok {
			e, ok = parseDOS(line)
		}
		if !ok {
			l.unread = append(l.unread, unreadLine{at: len(l.f.Entries), line: line})
		}
		l.f.Entries = append(l.f.Entries, e)
	}
	return l
}

// unreadText is the lines left for jlaffaye, as a listing of their own.
func (l listed) unreadText() []byte {
	var b []byte
	for _, u := range l.unread {
		b = append(append(b, u.line...), '\n')
	}
	return b
}

// finish puts jlaffaye's entries, parsed from unreadText, in the places
// kept for their lines. jlaffaye drops the lines it cannot parse either:
// those become bare entries named by their best guess. "." and ".." and
// nameless entries go.
func (l listed) finish(parsed []*ftp.Entry) Folder {
	f := l.f
	j := 0
	for _, u := range l.unread {
		if j < len(parsed) && lineHolds(u.line, parsed[j]) {
			f.Entries[u.at] = convert(parsed[j])
			j++
		} else {
			f.Entries[u.at] = unparsed(lsName(u.line))
		}
	}
	for ; j < len(parsed); j++ {
		f.Entries = append(f.Entries, convert(parsed[j]))
	}
	f.Entries = slices.DeleteFunc(f.Entries, func(e Entry) bool { return e.Name == "" || e.Name == "." || e.Name == ".." })
	return f
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

// parseMLSD reads one MLSD line: facts, one space, the name (RFC 3659
// 7.2), and says which type fact it had, lower case. Facts are read
// leniently, as servers write them: names in any case, unknown facts and
// pieces without "=" skipped, the last ";" optional, a bad value leaving
// its field unknown. A line without a fact is no MLSD line: it is shown
// whole.
func parseMLSD(line string) (Entry, string) {
	facts, name, ok := strings.Cut(line, " ")
	if !ok || facts != "" && !strings.Contains(facts, "=") {
		return unparsed(line), ""
	}
	e := unparsed(name)
	var typ string
	for _, f := range strings.Split(facts, ";") {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		switch strings.ToLower(k) {
		case "type":
			typ = strings.ToLower(v)
			switch {
			case typ == "dir" || typ == "cdir" || typ == "pdir":
				e.Type = TypeDir
			case strings.HasPrefix(typ, "os.unix=slink") || strings.HasPrefix(typ, "os.unix=symlink"):
				e.Type = TypeLink
				// The target keeps the server's case.
				if _, target, ok := strings.Cut(v, ":"); ok {
					e.Target = target
				}
			}
		case "size":
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
				e.Size = n
			}
		case "modify":
			// RFC 3659's time-val is UTC, perhaps with a fraction, which
			// Go's parser accepts after the seconds.
			if t, err := time.ParseInLocation("20060102150405", v, time.UTC); err == nil {
				e.Modified = t
			}
		case "perm":
			e.Perm = strings.ToLower(v)
		case "unix.mode":
			e.Mode = octalMode(v)
		}
	}
	if e.Type != TypeFile {
		e.Size = -1
	}
	return e, typ
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
	// Every line is asked: most are not split at all.
	if !strings.Contains(line, "total") {
		return false
	}
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

// span is where one space-separated field of a line starts and ends.
type span struct{ start, end int }

// fieldSpans finds the space-separated fields of line, so that a name can
// be cut from the line by position, its own spaces kept.
func fieldSpans(line string) []span {
	out := make([]span, 0, 16)
	for i := 0; i < len(line); {
		if line[i] == ' ' {
			i++
			continue
		}
		j := i
		for j < len(line) && line[j] != ' ' {
			j++
		}
		out = append(out, span{i, j})
		i = j
	}
	return out
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isLsMode reports whether f is an ls mode: a type letter, nine
// permission letters, and perhaps a mark for an ACL ("+"), an SELinux
// context (".") or extended attributes ("@").
func isLsMode(f string) bool {
	if len(f) == 11 && strings.IndexByte("+.@", f[10]) >= 0 {
		f = f[:10]
	}
	if len(f) != 10 || strings.IndexByte("-dlbcpsD", f[0]) < 0 {
		return false
	}
	for i := 1; i < 10; i++ {
		if strings.IndexByte("-rwxsStTlL", f[i]) < 0 {
			return false
		}
	}
	return true
}

// parseLs reads an ls-style LIST line. The columns between the mode and
// the size vary (no group column on some servers, "folder" on others), so
// the date is found instead: a size, then "Jan 02 15:04", "Jan 02 2024"
// or "2024-01-02 15:04". The name is what follows the date's one space,
// byte for byte.
func parseLs(line string, year lsYear) (Entry, bool) {
	f := fieldSpans(line)
	field := func(i int) string { return line[f[i].start:f[i].end] }
	if len(f) < 5 || !isLsMode(field(0)) {
		return Entry{}, false
	}
	for k := 3; k+1 < len(f); k++ {
		if !isDigits(field(k - 1)) {
			continue
		}
		when, used, ok := lsDate(line, f[k:], year)
		if !ok || k+used >= len(f) {
			continue
		}
		e := Entry{Name: line[f[k+used-1].end+1:], Type: TypeFile, Size: -1, Modified: when, Mode: line[1:10]}
		switch line[0] {
		case 'd':
			e.Type = TypeDir
		case 'l':
			e.Type = TypeLink
			if name, target, ok := strings.Cut(e.Name, " -> "); ok {
				e.Name, e.Target = name, target
			}
		case 'b', 'c':
			// A device's "size" is its major and minor numbers.
		default:
			e.Size, _ = strconv.ParseInt(field(k-1), 10, 64)
		}
		return e, true
	}
	return Entry{}, false
}

// octalMode writes an octal mode ("0644", "755", "2775") as ls does
// ("rw-r--r--"); "" for anything else.
func octalMode(v string) string {
	n, err := strconv.ParseUint(v, 8, 32)
	if err != nil || len(v) > 5 || n > 0o7777 {
		return ""
	}
	b := []byte("rwxrwxrwx")
	for i := range b {
		if n&(1<<(8-i)) == 0 {
			b[i] = '-'
		}
	}
	// setuid, setgid and sticky, in the execute letters.
	for i, bit := range []uint64{0o4000, 0o2000, 0o1000} {
		if n&bit == 0 {
			continue
		}
		at, set, unset := 2+3*i, byte('s'), byte('S')
		if i == 2 {
			set, unset = 't', 'T'
		}
		if b[at] == 'x' {
			b[at] = set
		} else {
			b[at] = unset
		}
	}
	return string(b)
}

// lsYear dates ls's "Jan 02 15:04", which has no year: ls leaves it out
// within six months of now, so a date of this year more than a day
// ahead of now is last year's. Made once per listing: per line, finding
// the year and the day after now were a tenth of a 10,000-line LIST's
// reading.
type lsYear struct {
	year   int
	latest time.Time // now and a day
}

func yearOf(now time.Time) lsYear { return lsYear{now.UTC().Year(), now.AddDate(0, 0, 1)} }

// lsDate reads the date starting at the first of f and says how many
// fields it took. The common forms are read by hand: through
// time.Parse, every line's failed tries cost allocations, and a
// 10,000-entry folder noticeably more time.
func lsDate(line string, f []span, now lsYear) (time.Time, int, bool) {
	field := func(i int) string { return line[f[i].start:f[i].end] }
	if d := field(0); len(d) == 10 && d[4] == '-' && d[7] == '-' {
		if len(f) >= 2 {
			for _, layout := range []string{"2006-01-02 15:04", "2006-01-02 15:04:05"} {
				if t, err := time.ParseInLocation(layout, d+" "+field(1), time.UTC); err == nil {
					return t, 2, true
				}
			}
		}
		return time.Time{}, 0, false
	}
	if len(f) < 3 {
		return time.Time{}, 0, false
	}
	mon, day, last := lsMonth(field(0)), field(1), field(2)
	if mon == 0 || len(day) > 2 || !isDigits(day) {
		return time.Time{}, 0, false
	}
	d, _ := strconv.Atoi(day)
	var t time.Time
	y := now.year
	if len(last) == 4 && isDigits(last) {
		y, _ = strconv.Atoi(last)
		t = time.Date(y, mon, d, 0, 0, 0, 0, time.UTC)
	} else {
		h, m, ok := clock(last)
		if !ok {
			return time.Time{}, 0, false
		}
		if t = time.Date(y, mon, d, h, m, 0, 0, time.UTC); t.After(now.latest) {
			y--
			t = time.Date(y, mon, d, h, m, 0, 0, time.UTC)
		}
	}
	if d < 1 || d > daysIn(y, mon) { // time.Date made "Feb 31" into March
		return time.Time{}, 0, false
	}
	return t, 3, true
}

// daysIn is the number of days of a month: what time.Date's day would
// be within. Asking t.Day() instead was a tenth of reading a LIST.
func daysIn(year int, m time.Month) int {
	if m == time.February && year%4 == 0 && (year%100 != 0 || year%400 == 0) {
		return 29
	}
	return [...]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m-1]
}

// lsMonth reads a month's abbreviation in any case; 0 when it is none.
// The size column before the date is tried as a month first: a switch
// turns it down at once, where twelve EqualFolds took a sixth of a LIST's
// reading.
func lsMonth(s string) time.Month {
	if len(s) != 3 {
		return 0
	}
	const lower = 0x20 // ASCII letters' case bit
	switch string([]byte{s[0] | lower, s[1] | lower, s[2] | lower}) {
	case "jan":
		return time.January
	case "feb":
		return time.February
	case "mar":
		return time.March
	case "apr":
		return time.April
	case "may":
		return time.May
	case "jun":
		return time.June
	case "jul":
		return time.July
	case "aug":
		return time.August
	case "sep":
		return time.September
	case "oct":
		return time.October
	case "nov":
		return time.November
	case "dec":
		return time.December
	}
	return 0
}

// clock reads "15:04" or "3:04".
func clock(s string) (h, m int, ok bool) {
	colon := strings.IndexByte(s, ':')
	if colon < 1 || colon > 2 || len(s) != colon+3 {
		return 0, 0, false
	}
	for i := range len(s) {
		if i != colon && (s[i] < '0' || s[i] > '9') {
			return 0, 0, false
		}
		if i < colon {
			h = h*10 + int(s[i]-'0')
		}
	}
	m = int(s[colon+1]-'0')*10 + int(s[colon+2]-'0')
	return h, m, h < 24 && m < 60
}

// dosLayouts are the dates and times of DOS-style lines, as parseDOS
// joins the two fields: with one space, whatever the column width.
var dosLayouts = []string{
	"01-02-06 03:04PM", "01-02-06 15:04",
	"01-02-2006 03:04PM", "01-02-2006 15:04",
	"2006-01-02 03:04PM", "2006-01-02 15:04",
}

// parseDOS reads a LIST line in the style of MS-DOS's dir, as IIS writes
// it: "01-02-24  03:04PM       <DIR>          name" or
// "01-02-2024  15:04                 1234 name". A file's name follows its
// size's one space; IIS pads "<DIR>" with ten spaces, and any more belong
// to the name (other servers pad less, and their spaces are trimmed).
func parseDOS(line string) (Entry, bool) {
	f := fieldSpans(line)
	field := func(i int) string { return line[f[i].start:f[i].end] }
	if len(f) < 4 || f[0].start != 0 {
		return Entry{}, false
	}
	e := Entry{Type: TypeFile}
	parsed := false
	for _, layout := range dosLayouts {
		if t, err := time.ParseInLocation(layout, field(0)+" "+field(1), time.UTC); err == nil {
			e.Modified, parsed = t, true
			break
		}
	}
	if !parsed {
		return Entry{}, false
	}
	rest := line[f[2].end:]
	if field(2) == "<DIR>" {
		e.Type, e.Size = TypeDir, -1
		if pad := strings.Repeat(" ", 10); strings.HasPrefix(rest, pad) {
			rest = rest[len(pad):]
		} else {
			rest = strings.TrimLeft(rest, " ")
		}
	} else {
		n, err := strconv.ParseInt(strings.ReplaceAll(field(2), ",", ""), 10, 64)
		if err != nil || n < 0 || rest == "" {
			return Entry{}, false
		}
		e.Size, rest = n, rest[1:]
	}
	e.Name = rest
	return e, e.Name != ""
}
