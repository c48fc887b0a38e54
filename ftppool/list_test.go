package ftppool

import (
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
)

// TestReconcileKeepsUnparsedLines: a line jlaffaye could not parse still
// shows up by name; "total", "." and ".." do not.
func TestReconcileKeepsUnparsedLines(t *testing.T) {
	when := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		raw    string
		parsed []*ftp.Entry
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
				"garbage\r\n",
			parsed: []*ftp.Entry{
				{Name: "good.txt", Type: ftp.EntryTypeFile, Size: 5, Time: when},
				{Name: "dir", Type: ftp.EntryTypeFolder, Time: when},
				{Name: "ln", Type: ftp.EntryTypeLink, Target: "good.txt", Time: when},
			},
			want: []Entry{
				{Name: "good.txt", Type: TypeFile, Size: 5, Modified: when},
				{Name: "odd date.txt", Type: TypeFile, Size: -1},
				{Name: "dir", Type: TypeDir, Size: -1, Modified: when},
				{Name: "ln", Type: TypeLink, Size: -1, Modified: when, Target: "good.txt"},
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
			parsed: []*ftp.Entry{
				{Name: ".", Type: ftp.EntryTypeFolder},
				{Name: "..", Type: ftp.EntryTypeFolder},
				{Name: "a file", Type: ftp.EntryTypeFile, Size: 5, Time: when},
				{Name: "link", Type: ftp.EntryTypeFile, Time: when},
			},
			mlsd: true,
			want: []Entry{
				{Name: "broken", Type: TypeFile, Size: -1},
				{Name: "a file", Type: TypeFile, Size: 5, Modified: when},
				{Name: "link", Type: TypeLink, Size: -1, Modified: when, Target: "/etc/X"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := reconcile(tc.parsed, []byte(tc.raw), tc.mlsd)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d entries %+v, want %d", len(got), got, len(tc.want))
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("entry %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
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
	f.Fuzz(func(t *testing.T, raw []byte, mlsd bool) {
		// What jlaffaye would have parsed: here, each line's last word.
		var parsed []*ftp.Entry
		for _, line := range rawLines(raw) {
			if i := strings.LastIndexByte(line, ' '); i >= 0 {
				parsed = append(parsed, &ftp.Entry{Name: line[i+1:]})
			}
		}
		for _, e := range reconcile(parsed, raw, mlsd) {
			if e.Name == "" || e.Name == "." || e.Name == ".." || strings.Contains(e.Name, "\n") {
				t.Fatalf("entry %+v from %q", e, raw)
			}
		}
	})
}
