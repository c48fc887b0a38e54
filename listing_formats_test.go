package main

import (
	"testing"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/fakeftp"
)

// TestListingFormats: a server replays a listing captured from each kind
// of server the bridge meets besides the Debian ones, and the folder's
// JSON has every entry, by its exact name (spaces at either end kept),
// with the type and size the listing says (a folder's size is 0 in the
// JSON, an unknown size -1), and a line nobody can read by its text.
func TestListingFormats(t *testing.T) {
	type entry struct {
		name, typ string
		size      int64
		target    string
	}
	b := startBridge(t, "-allow-hosts", "127.0.0.1")
	for _, tc := range []struct {
		name string
		list []string // what LIST sends
		mlsd []string // what MLSD sends; nil: the server has no MLSD
		want []entry
	}{
		{
			name: "IIS",
			list: []string{
				"01-02-24  03:04PM       <DIR>          aspnet_client",
				"01-02-24  03:04PM       <DIR>            spaced folder",
				"01-02-24  03:04PM                 1234 default.htm",
				"01-02-24  03:04PM                    0   leading.txt",
				"01-02-24  03:04PM                   17 trailing.txt  ",
				"01-02-24  03:04PM                    5 a -> b.txt",
			},
			want: []entry{
				{"aspnet_client", "dir", 0, ""},
				{"  spaced folder", "dir", 0, ""},
				{"default.htm", "file", 1234, ""},
				{"  leading.txt", "file", 0, ""},
				{"trailing.txt  ", "file", 17, ""},
				{"a -> b.txt", "file", 5, ""},
			},
		},
		{
			name: "IIS with four-digit years",
			list: []string{
				"01-02-2024  15:04       <DIR>          Folder",
				"01-02-2024  03:04PM                 1234 file.txt",
			},
			want: []entry{{"Folder", "dir", 0, ""}, {"file.txt", "file", 1234, ""}},
		},
		{
			name: "FileZilla Server LIST",
			list: []string{
				"drwxr-xr-x 1 ftp ftp              0 Dec 24  2023 folder",
				"-rw-r--r-- 1 ftp ftp           1234 Jan 02 03:04 file.txt",
				"-rw-r--r-- 1 ftp ftp     5368709120 Jan 02 03:04 five gig.bin",
			},
			want: []entry{{"folder", "dir", 0, ""}, {"file.txt", "file", 1234, ""}, {"five gig.bin", "file", 5368709120, ""}},
		},
		{
			name: "FileZilla Server MLSD",
			list: []string{"this LIST is not asked for"},
			mlsd: []string{
				"type=dir;modify=20240102030405; folder",
				"type=file;modify=20240102030405;size=1234; file.txt",
			},
			want: []entry{{"folder", "dir", 0, ""}, {"file.txt", "file", 1234, ""}},
		},
		{
			name: "Serv-U LIST",
			list: []string{
				"drw-rw-rw-   1 user     group           0 Jan 02 03:04 .",
				"drw-rw-rw-   1 user     group           0 Jan 02 03:04 ..",
				"drw-rw-rw-   1 user     group           0 Dec 24  2023 Archive",
				"-rw-rw-rw-   1 user     group        1234 Jan 02 03:04 report.pdf",
			},
			want: []entry{{"Archive", "dir", 0, ""}, {"report.pdf", "file", 1234, ""}},
		},
		{
			name: "Serv-U MLSD",
			list: []string{"this LIST is not asked for"},
			mlsd: []string{
				"type=cdir;modify=20240102030405;perm=flcdmpe;UNIX.mode=0755; .",
				"type=pdir;modify=20240102030405;perm=flcdmpe;UNIX.mode=0755; ..",
				"type=dir;modify=20240102030405;perm=flcdmpe;UNIX.mode=0755; Archive",
				"type=file;size=1234;modify=20240102030405;perm=rwdaf;UNIX.mode=0644; report.pdf",
			},
			want: []entry{{"Archive", "dir", 0, ""}, {"report.pdf", "file", 1234, ""}},
		},
		{
			name: "ls without the group column",
			list: []string{
				"-rw-r--r--   1 owner    1234 Jan 02 03:04 name.txt",
				"drwxr-xr-x   2 owner    4096 Dec 24  2023 folder",
				"lrwxrwxrwx   1 owner       8 Jan 02 03:04 link -> name.txt",
			},
			want: []entry{{"name.txt", "file", 1234, ""}, {"folder", "dir", 0, ""}, {"link", "link", -1, "name.txt"}},
		},
		{
			name: "ls names with spaces and arrows",
			list: []string{
				"total 12",
				"-rw-r--r--    1 ftp      ftp             5 Jan 02 03:04   leading.txt",
				"-rw-r--r--    1 ftp      ftp             5 Jan 02 03:04 trailing.txt  ",
				"-rw-r--r--    1 ftp      ftp             5 Jan 02 03:04 a -> b.txt",
				"drwxr-xr-x.   2 ftp      ftp          4096 Dec 24  2023 selinux folder",
				"nobody reads this line",
			},
			want: []entry{
				{"  leading.txt", "file", 5, ""},
				{"trailing.txt  ", "file", 5, ""},
				{"a -> b.txt", "file", 5, ""},
				{"selinux folder", "dir", 0, ""},
				{"nobody reads this line", "file", -1, ""},
			},
		},
		{
			// Only jlaffaye reads a line of facts in a LIST: the bridge
			// hands it that line, and reads the ls line beside it itself.
			name: "facts in a LIST",
			list: []string{
				"type=file;size=5;modify=20240102030405; facts.txt",
				"-rw-r--r--    1 ftp      ftp             5 Jan 02 03:04   spaced.txt",
				"type=dir;modify=20240102030405; folder",
			},
			want: []entry{{"facts.txt", "file", 5, ""}, {"  spaced.txt", "file", 5, ""}, {"folder", "dir", 0, ""}},
		},
		{
			name: "MLSD with unusual facts",
			list: []string{"this LIST is not asked for"},
			mlsd: []string{
				"Type=cdir;Perm=el; /",
				"TYPE=pdir; ..",
				"TYPE=FILE;SIZE=42;MODIFY=20240102030405.5; upper.txt",
				"type=file;size=7;x.unknown=1;unique=801U2; unknown facts.txt",
				"type=OS.unix=slink:/x;modify=20240102030405; slink",
				"type=file;modify=20240102030405; no size.txt",
				"type=file;size=12 no trailing semicolon.txt",
				"type=DIR;sizd=4096; DIR",
				"type=file;size=1;   leading.txt",
				"type=file;size=1; trailing.txt  ",
				"type=file;size=1; a -> b",
				"not an MLSD line",
			},
			want: []entry{
				{"upper.txt", "file", 42, ""},
				{"unknown facts.txt", "file", 7, ""},
				{"slink", "link", -1, "/x"},
				{"no size.txt", "file", -1, ""},
				{"no trailing semicolon.txt", "file", 12, ""},
				{"DIR", "dir", 0, ""},
				{"  leading.txt", "file", 1, ""},
				{"trailing.txt  ", "file", 1, ""},
				{"a -> b", "file", 1, ""},
				{"not an MLSD line", "file", -1, ""},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fakeftp.Start(t)
			srv.List, srv.MLSD = tc.list, tc.mlsd
			l := listJSON(t, nil, addrURL(b, "ftp", "", srv.Addr(), "/", true)+"?format=json")
			verb := "LIST"
			if tc.mlsd != nil {
				verb = "MLSD"
			}
			if srv.Count(verb) != 1 {
				t.Fatalf("the bridge did not read the listing by %s; commands: %q", verb, srv.Commands())
			}
			got := make(map[string]entry, len(l.Entries))
			for _, e := range l.Entries {
				got[e.Name] = entry{e.Name, e.Type, e.Size, e.Target}
			}
			if len(l.Entries) != len(tc.want) || len(got) != len(tc.want) {
				t.Errorf("%d entries %+v, want %d", len(l.Entries), l.Entries, len(tc.want))
			}
			for _, w := range tc.want {
				if g, ok := got[w.name]; !ok {
					t.Errorf("no entry named %q in %+v", w.name, l.Entries)
				} else if g != w {
					t.Errorf("entry %+v, want %+v", g, w)
				}
			}
		})
	}
}
