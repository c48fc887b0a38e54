package ftppool

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
)

// reconcile is the folder listFolder makes of a raw listing, given what
// jlaffaye parsed of the lines left to it.
func reconcile(parsed []*ftp.Entry, raw []byte, mlsd bool, now time.Time) Folder {
	return readListing(raw, 0, mlsd, now).finish(parsed)
}

// TestReconcileKeepsUnparsedLines: jlaffaye is given only the lines the
// bridge cannot read itself, and its entries go where their lines were; a
// line nobody could parse still shows up by name; "total", "." and ".."
// do not.
func TestReconcileKeepsUnparsedLines(t *testing.T) {
	when := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		raw    string
		unread string       // what jlaffaye is given
		parsed []*ftp.Entry // what it makes of that
		mlsd   bool
		want   []Entry
	}{
		{
			name: "LIST with an unparseable line",
			raw: "total 12\r\n" +
				"-rw-r--r--    1 0        0               5 May 01 10:00 good.txt\r\n" +
				"-rw-r--r--    1 0        0               5 2024-05-01 10:00 odd date.txt\r\n" +
				"drwxr-xr-x    2 0        0            4096 May 01 10:00 dir\r\n" +
				"lrwxrwxrwx    1 0        0               8 May 01 10:00 ln -> good.txt\r\n" +
				"type=dir;modify=20240501100000; facts\r\n" +
				"garbage\r\n",
			unread: "type=dir;modify=20240501100000; facts\ngarbage\n",
			parsed: []*ftp.Entry{{Name: "facts", Type: ftp.EntryTypeFolder, Time: when}},
			want: []Entry{
				{Name: "good.txt", Type: TypeFile, Size: 5, Modified: when},
				// jlaffaye drops the ISO date; parseLs reads it.
				{Name: "odd date.txt", Type: TypeFile, Size: 5, Modified: when},
				{Name: "dir", Type: TypeDir, Size: -1, Modified: when},
				{Name: "ln", Type: TypeLink, Size: -1, Modified: when, Target: "good.txt"},
				{Name: "facts", Type: TypeDir, Size: -1, Modified: when},
				{Name: "garbage", Type: TypeFile, Size: -1},
			},
		},
		{
			name: "MLSD with cdir, pdir, a symlink and a broken line",
			raw: "type=cdir;modify=20240501100000; .\r\n" +
				"type=pdir;modify=20240501100000; ..\r\n" +
				"type=file;size=5;modify=20240501100000; a file\r\n" +
				"type=OS.unix=slink:/etc/X;modify=20240501100000; link\r\n" +
				"type=file;size=oops; broken\r\n",
			mlsd: true,
			want: []Entry{
				{Name: "a file", Type: TypeFile, Size: 5, Modified: when},
				{Name: "link", Type: TypeLink, Size: -1, Modified: when, Target: "/etc/X"},
				{Name: "broken", Type: TypeFile, Size: -1},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := readListing([]byte(tc.raw), 0, tc.mlsd, when)
			if u := string(l.unreadText()); u != tc.unread {
				t.Errorf("jlaffaye is given %q, want %q", u, tc.unread)
			}
			got := l.finish(tc.parsed).Entries
			if len(got) != len(tc.want) {
				t.Fatalf("got %d entries %+v, want %d", len(got), got, len(tc.want))
			}
			for i := range got {
				got[i].Mode = "" // TestReconcileModes
				if got[i] != tc.want[i] {
					t.Errorf("entry %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// TestReconcileFormats: the listing styles of servers other than the
// Debian ones, as they print them, are read whole: every line is an entry,
// named by its exact bytes (spaces at either end kept), with the type,
// size, time and perm its format says. The lines go in without jlaffaye's
// reading of them, as these parsers need none.
func TestReconcileFormats(t *testing.T) {
	now := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	jan2 := time.Date(2024, 1, 2, 3, 4, 0, 0, time.UTC)    // "Jan 02 03:04", dated by now
	jan2pm := time.Date(2024, 1, 2, 15, 4, 0, 0, time.UTC) // "01-02-24  03:04PM"
	dec24 := time.Date(2023, 12, 24, 0, 0, 0, 0, time.UTC) // "Dec 24  2023"
	mod := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)     // MLSD's modify=20240102030405
	file := func(name string, size int64, at time.Time) Entry {
		return Entry{Name: name, Type: TypeFile, Size: size, Modified: at}
	}
	dir := func(name string, at time.Time) Entry { return Entry{Name: name, Type: TypeDir, Size: -1, Modified: at} }
	withPerm := func(e Entry, perm string) Entry { e.Perm = perm; return e }
	for _, tc := range []struct {
		name     string
		lines    []string
		mlsd     bool
		want     []Entry
		wantPerm string // the folder's own
	}{
		{
			name: "IIS, two-digit years",
			lines: []string{
				"01-02-24  03:04PM       <DIR>          aspnet_client",
				"01-02-24  03:04PM       <DIR>            spaced folder",
				"01-02-24  03:04PM                 1234 default.htm",
				"01-02-24  03:04PM                    0   leading.txt",
				"01-02-24  03:04PM                   17 trailing.txt  ",
				"01-02-24  03:04PM                    5 a -> b.txt",
				"01-02-24  03:04PM         123456789012 big.iso",
			},
			want: []Entry{
				dir("aspnet_client", jan2pm),
				dir("  spaced folder", jan2pm),
				file("default.htm", 1234, jan2pm),
				file("  leading.txt", 0, jan2pm),
				file("trailing.txt  ", 17, jan2pm),
				file("a -> b.txt", 5, jan2pm),
				file("big.iso", 123456789012, jan2pm),
			},
		},
		{
			name: "IIS, four-digit years",
			lines: []string{
				"01-02-2024  15:04       <DIR>          Folder",
				"01-02-2024  03:04PM                 1234 file.txt",
				"12-24-2023  00:00                      7  leading.txt",
			},
			want: []Entry{
				dir("Folder", jan2pm),
				file("file.txt", 1234, jan2pm),
				file(" leading.txt", 7, dec24),
			},
		},
		{
			name: "FileZilla Server, LIST",
			lines: []string{
				"drwxr-xr-x 1 ftp ftp              0 Dec 24  2023 folder",
				"-rw-r--r-- 1 ftp ftp           1234 Jan 02 03:04 file.txt",
				"-rw-r--r-- 1 ftp ftp     5368709120 Jan 02 03:04 five gig.bin",
			},
			want: []Entry{
				dir("folder", dec24),
				file("file.txt", 1234, jan2),
				file("five gig.bin", 5368709120, jan2),
			},
		},
		{
			name: "FileZilla Server, MLSD",
			lines: []string{
				"type=dir;modify=20240102030405; folder",
				"type=file;modify=20240102030405;size=1234; file.txt",
			},
			mlsd: true,
			want: []Entry{dir("folder", mod), file("file.txt", 1234, mod)},
		},
		{
			name: "Serv-U, LIST",
			lines: []string{
				"drw-rw-rw-   1 user     group           0 Jan 02 03:04 .",
				"drw-rw-rw-   1 user     group           0 Jan 02 03:04 ..",
				"drw-rw-rw-   1 user     group           0 Dec 24  2023 Archive",
				"-rw-rw-rw-   1 user     group        1234 Jan 02 03:04 report.pdf",
			},
			want: []Entry{dir("Archive", dec24), file("report.pdf", 1234, jan2)},
		},
		{
			name: "Serv-U, MLSD",
			lines: []string{
				"type=cdir;modify=20240102030405;perm=flcdmpe;UNIX.mode=0755; .",
				"type=pdir;modify=20240102030405;perm=flcdmpe;UNIX.mode=0755; ..",
				"type=dir;modify=20240102030405;perm=flcdmpe;UNIX.mode=0755; Archive",
				"type=file;size=1234;modify=20240102030405;perm=rwdaf;UNIX.mode=0644; report.pdf",
			},
			mlsd: true,
			want: []Entry{
				withPerm(dir("Archive", mod), "flcdmpe"),
				withPerm(file("report.pdf", 1234, mod), "rwdaf"),
			},
			wantPerm: "flcdmpe",
		},
		{
			name: "ls without the group column",
			lines: []string{
				"-rw-r--r--   1 owner    1234 Jan 02 03:04 name.txt",
				"drwxr-xr-x   2 owner    4096 Dec 24  2023 folder",
				"lrwxrwxrwx   1 owner       8 Jan 02 03:04 link -> name.txt",
			},
			want: []Entry{
				file("name.txt", 1234, jan2),
				dir("folder", dec24),
				{Name: "link", Type: TypeLink, Size: -1, Modified: jan2, Target: "name.txt"},
			},
		},
		{
			name: "ls names with spaces and arrows, marked modes, devices",
			lines: []string{
				"total 20",
				"-rw-r--r--    1 ftp      ftp             5 Jan 02 03:04   leading.txt",
				"-rw-r--r--    1 ftp      ftp             5 Jan 02 03:04 trailing.txt  ",
				"-rw-r--r--    1 ftp      ftp             5 Jan 02 03:04 a -> b.txt",
				"lrwxrwxrwx    1 ftp      ftp             5 Jan 02 03:04 ln -> a -> b.txt",
				"drwxr-xr-x.   2 ftp      ftp          4096 Dec 24  2023 selinux folder",
				"-rw-r--r--+   1 ftp      ftp             5 Jan 02 03:04 acl.txt",
				"crw-rw-rw-    1 root     root       1,   3 Dec 24  2023 null",
				"-rw-r--r--    1 ftp      ftp             5 Jan 02 03:04 Jan 02 03:04 dated.txt",
			},
			want: []Entry{
				file("  leading.txt", 5, jan2),
				file("trailing.txt  ", 5, jan2),
				file("a -> b.txt", 5, jan2),
				{Name: "ln", Type: TypeLink, Size: -1, Modified: jan2, Target: "a -> b.txt"},
				dir("selinux folder", dec24),
				file("acl.txt", 5, jan2),
				file("null", -1, dec24),
				file("Jan 02 03:04 dated.txt", 5, jan2),
			},
		},
		{
			name: "a year-less ls date ahead of now is last year's",
			lines: []string{
				"-rw-r--r--    1 ftp      ftp             5 Jun 02 10:00 tomorrow.txt",
				"-rw-r--r--    1 ftp      ftp             5 Jun 03 10:00 later.txt",
			},
			want: []Entry{
				file("tomorrow.txt", 5, time.Date(2024, 6, 2, 10, 0, 0, 0, time.UTC)),
				file("later.txt", 5, time.Date(2023, 6, 3, 10, 0, 0, 0, time.UTC)),
			},
		},
		{
			name: "MLSD with unusual facts",
			lines: []string{
				"Type=cdir;Perm=EL;Modify=20240102030405; /pub",
				"TYPE=pdir; ..",
				"TYPE=FILE;SIZE=42;MODIFY=20240102030405.5; upper.txt",
				"type=file;size=7;x.unknown=1;unique=801U2; unknown facts.txt",
				"type=OS.unix=slink:/Some/Target;modify=20240102030405; slink",
				"type=OS.unix=symlink:rel;modify=20240102030405; symlink",
				"type=file;modify=20240102030405; no size.txt",
				"type=file;size=12 no trailing semicolon.txt",
				"type=dir;sizd=4096;modify=20240102030405;perm=flcdmpe; DIR",
				"type=file;size=3;;junk;perm=r; odd pieces.txt",
				"type=OS.unix=chr-13/29;modify=20240102030405; device",
				"type=file;size=1;   leading.txt",
				"type=file;size=1; trailing.txt  ",
				"type=file;size=1; a -> b",
				"type=file;size=oops;modify=never; bad values",
				"type=file;size=1;perm=; empty perm.txt",
				" no facts.txt",
				"not an MLSD line",
			},
			mlsd: true,
			want: []Entry{
				file("upper.txt", 42, mod.Add(500*time.Millisecond)),
				file("unknown facts.txt", 7, time.Time{}),
				{Name: "slink", Type: TypeLink, Size: -1, Modified: mod, Target: "/Some/Target"},
				{Name: "symlink", Type: TypeLink, Size: -1, Modified: mod, Target: "rel"},
				file("no size.txt", -1, mod),
				file("no trailing semicolon.txt", 12, time.Time{}),
				withPerm(dir("DIR", mod), "flcdmpe"),
				withPerm(file("odd pieces.txt", 3, time.Time{}), "r"),
				file("device", -1, mod),
				file("  leading.txt", 1, time.Time{}),
				file("trailing.txt  ", 1, time.Time{}),
				file("a -> b", 1, time.Time{}),
				file("bad values", -1, time.Time{}),
				file("empty perm.txt", 1, time.Time{}),
				file("no facts.txt", -1, time.Time{}),
				file("not an MLSD line", -1, time.Time{}),
			},
			wantPerm: "el",
		},
		{
			name:  "a line nobody reads is shown whole",
			lines: []string{"?rw-r--r-- something odd", "-rw-r--r-- 1 ftp ftp 5 Jan 02 03:04 fine.txt"},
			want:  []Entry{file("?rw-r--r-- something odd", -1, time.Time{}), file("fine.txt", 5, jan2)},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := reconcile(nil, []byte(strings.Join(tc.lines, "\r\n")+"\r\n"), tc.mlsd, now)
			if len(got.Entries) != len(tc.want) {
				t.Fatalf("got %d entries %+v, want %d", len(got.Entries), got.Entries, len(tc.want))
			}
			for i := range got.Entries {
				got.Entries[i].Mode = "" // TestReconcileModes
				if got.Entries[i] != tc.want[i] {
					t.Errorf("entry %d = %+v, want %+v", i, got.Entries[i], tc.want[i])
				}
			}
			if got.Perm != tc.wantPerm {
				t.Errorf("folder perm %q, want %q", got.Perm, tc.wantPerm)
			}
		})
	}
}

// TestReconcileModes: an entry's unix mode, as ls lists it or from MLSD's
// UNIX.mode fact; none from a style that has none.
func TestReconcileModes(t *testing.T) {
	for _, tc := range []struct {
		line string
		mlsd bool
		want string
	}{
		{"-rw-r--r-- 1 ftp ftp 5 Jan 02 03:04 a.txt", false, "rw-r--r--"},
		{"drwxr-x--- 2 ftp ftp 4096 Dec 24  2023 folder", false, "rwxr-x---"},
		{"-rwsr-xr-T+ 1 ftp ftp 5 Jan 02 03:04 marked", false, "rwsr-xr-T"},
		{"lrwxrwxrwx 1 owner 8 Jan 02 03:04 link -> a.txt", false, "rwxrwxrwx"},
		{"01-02-24  03:04PM                 1234 dos.htm", false, ""},
		{"type=file;size=1;UNIX.mode=0640; m.txt", true, "rw-r-----"},
		{"type=dir;unix.mode=755; d", true, "rwxr-xr-x"},
		{"type=dir;UNIX.mode=2775; shared", true, "rwxrwsr-x"},
		{"type=dir;UNIX.mode=1777; tmp", true, "rwxrwxrwt"},
		{"type=file;UNIX.mode=0604; o", true, "rw----r--"},
		{"type=file;UNIX.mode=0999; bad", true, ""},
		{"type=file;UNIX.mode=rw-r--r--; words", true, ""},
		{"type=file;size=1; none", true, ""},
	} {
		got := reconcile(nil, []byte(tc.line+"\r\n"), tc.mlsd, time.Now()).Entries
		if len(got) != 1 || got[0].Mode != tc.want {
			t.Errorf("%q: %+v, want mode %q", tc.line, got, tc.want)
		}
	}
}

// FuzzReconcile: whatever a server sends as a listing, reconcile does not
// panic, and every entry it keeps has a name of one line that is not "."
// or "..". (A lone CR may be part of a name: the server's word, shown
// escaped, and refused by every path check before it could go back to the
// server in a command.)
func FuzzReconcile(f *testing.F) {
	f.Add([]byte("-rw-r--r-- 1 0 0 5 May 01 10:00 good.txt\r\ngarbage\r\n"), false)
	f.Add([]byte("type=file;size=5; a file\r\ntype=cdir; .\r\nbroken\r\n"), true)
	f.Add([]byte("01-02-24  03:04PM       <DIR>            spaced\r\n01-02-24  03:04PM    1 x\r\n"), false)
	f.Add([]byte("-rw-r--r-- 1 owner 5 Jan 02 03:04  a -> b\r\ncrw-rw-rw- 1 r r 1, 3 Dec 24 2023 null\r\n"), false)
	f.Add([]byte("Type=cdir;Perm=EL; /\r\nTYPE=OS.unix=slink:/x;size=1 l\r\n no facts\r\n"), true)
	f.Fuzz(func(t *testing.T, raw []byte, mlsd bool) {
		// What jlaffaye would have parsed of the lines it is given: here,
		// each line's last word.
		l := readListing(raw, 0, mlsd, time.Now())
		var parsed []*ftp.Entry
		for line := range strings.Lines(string(l.unreadText())) {
			line = strings.TrimSuffix(line, "\n")
			if i := strings.LastIndexByte(line, ' '); i >= 0 {
				parsed = append(parsed, &ftp.Entry{Name: line[i+1:]})
			}
		}
		for _, e := range l.finish(parsed).Entries {
			if e.Name == "" || e.Name == "." || e.Name == ".." || strings.Contains(e.Name, "\n") {
				t.Fatalf("entry %+v from %q", e, raw)
			}
		}
	})
}

// BenchmarkReadListing10k reads a 10,000-line LIST as vsftpd writes it,
// the bench's big folder (bench/run.sh).
func BenchmarkReadListing10k(b *testing.B) {
	var raw []byte
	for i := range 10000 {
		raw = fmt.Appendf(raw, "-rw-r--r--    1 1000     1000         %4d Dec 01 21:%02d f%05d.txt\r\n", i, i%60, i)
	}
	now := time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)
	for b.Loop() {
		if l := readListing(raw, 10000, false, now); len(l.f.Entries) != 10000 || len(l.unread) != 0 {
			b.Fatalf("%d entries, %d unread", len(l.f.Entries), len(l.unread))
		}
	}
}

// TestLsDate: ls's dates, with and without a year, and the days and times
// no calendar has.
func TestLsDate(t *testing.T) {
	at := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, time.UTC) }
	for _, tc := range []struct {
		now  time.Time
		date string
		want time.Time // zero: not a date
	}{
		{at(2026, 12, 1, 22, 0), "Dec 01 21:50", at(2026, 12, 1, 21, 50)},
		{at(2026, 12, 1, 22, 0), "dec 02 3:04", at(2026, 12, 2, 3, 4)}, // within a day ahead: clocks differ
		{at(2026, 12, 1, 22, 0), "Dec 03 03:04", at(2025, 12, 3, 3, 4)},
		{at(2026, 1, 1, 0, 30), "Dec 31 23:59", at(2025, 12, 31, 23, 59)},
		{at(2026, 12, 1, 22, 0), "Feb 29 2024", at(2024, 2, 29, 0, 0)},
		{at(2026, 12, 1, 22, 0), "Feb 29 2023", time.Time{}},
		{at(2024, 3, 1, 12, 0), "Feb 29 12:00", at(2024, 2, 29, 12, 0)},
		{at(2025, 3, 1, 12, 0), "Feb 29 12:00", time.Time{}},
		{at(2026, 12, 1, 22, 0), "Feb 31 12:00", time.Time{}},
		{at(2026, 12, 1, 22, 0), "Apr 00 2024", time.Time{}},
		{at(2026, 12, 1, 22, 0), "Apr 31 2024", time.Time{}},
		{at(2026, 12, 1, 22, 0), "Jun 01 24:00", time.Time{}},
		{at(2026, 12, 1, 22, 0), "Jun 01 1:60", time.Time{}},
		{at(2026, 12, 1, 22, 0), "Jun 01 15:4", time.Time{}},
		{at(2026, 12, 1, 22, 0), "Jun 01 123:45", time.Time{}},
		{at(2026, 12, 1, 22, 0), "Jun 01 1a:45", time.Time{}},
		{at(2026, 12, 1, 22, 0), "Jun 01 :45", time.Time{}},
		{at(2026, 12, 1, 22, 0), "Jux 01 2024", time.Time{}},
		{at(2026, 12, 1, 22, 0), "1000 01 2024", time.Time{}},
	} {
		line := tc.date + " name"
		got, used, ok := lsDate(line, fieldSpans(line), yearOf(tc.now))
		if ok != !tc.want.IsZero() || !got.Equal(tc.want) || ok && used != 3 {
			t.Errorf("%q at %v: %v, %d fields, %v; want %v", tc.date, tc.now, got, used, ok, tc.want)
		}
	}
}
