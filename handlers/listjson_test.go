package handlers

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ftpbridge/ftpbridge/ftppool"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
)

// sameAsEncodingJSON fails unless writeListingJSON writes what
// encoding/json's Encoder (c.JSON's) writes for l once its rows are made.
func sameAsEncodingJSON(t *testing.T, l *listing) {
	t.Helper()
	var want, got bytes.Buffer
	if err := writeListingJSON(&got, l); err != nil {
		t.Fatal(err)
	}
	l.makeRows()
	if err := json.NewEncoder(&want).Encode(l); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Errorf("writeListingJSON:\n%q\nencoding/json:\n%q", got.String(), want.String())
	}
}

// TestListingJSONOddNames: a listing as buildListing makes it, of the
// test server's odd names (not UTF-8, HTML characters) and more than
// one buffer's worth of entries; a share's, without perms; and an empty
// one.
func TestListingJSONOddNames(t *testing.T) {
	es := entries(1000)
	for i, name := range append(testftp.OddNames(), "\u2028\u2029", "tab\there", "\x7f\x01", "a\\b\"c") {
		es = append(es, ftppool.Entry{Name: name, Target: name, Type: ftppool.TypeLink, Perm: "r\xff", Mode: "rw-r--r--", Modified: time.Unix(int64(i), 0)})
	}
	for _, hidePerms := range []bool{false, true} {
		l := buildListing(siteLinks{Site: site, home: "/home/alice"}, "/home/alice/\xe9<&>", es, url.Values{})
		l.FolderPerm, l.hidePerms = "elc", hidePerms
		sameAsEncodingJSON(t, l)
	}
	sameAsEncodingJSON(t, buildListing(siteLinks{Site: site, home: "/"}, "/empty", nil, url.Values{}))
}

// FuzzListingJSON gives every string of a listing's entry and folder any
// bytes, and checks writeListingJSON's output against encoding/json's.
func FuzzListingJSON(f *testing.F) {
	for _, s := range []string{"", "plain", "<&>", "\xe9t\xe9", "\u2028\u2029", "\x00\x1f\x7f", `"\`, "\b\f\n\r\t", "\xf0\x9f\x98", "日本"} {
		f.Add(s, s, s, int64(len(s)), uint8(len(s)))
	}
	f.Fuzz(func(t *testing.T, s1, s2, s3 string, size int64, n uint8) {
		e := ftppool.Entry{Name: s1, Type: ftppool.EntryType(n % 3), Size: size, Target: s2, Perm: s3, Mode: s3}
		if n&4 != 0 {
			e.Modified = time.Unix(size, 0)
		}
		// Up to three entries, the fuzzed one among plain ones.
		var es []ftppool.Entry
		for i := range int(n>>3) % 4 {
			if i == 1 {
				es = append(es, e)
			} else {
				es = append(es, ftppool.Entry{Name: strings.Repeat("x", i+1)})
			}
		}
		l := buildListing(siteLinks{Site: site, home: "/"}, "/"+s2, es, url.Values{})
		l.Home, l.FolderPerm, l.hidePerms = s3, s3, n&128 != 0
		sameAsEncodingJSON(t, l)
	})
}
