package ftppool

import (
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
