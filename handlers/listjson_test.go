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
// encoding/json's Encoder (c.JSON's) writes for l.
func sameAsEncodingJSON(t *testing.T, l *listing) {
	t.Helper()
	var want, got bytes.Buffer
	if err := json.NewEncoder(&want).Encode(l); err != nil {
		t.Fatal(err)
	}
	if err := writeListingJSON(&got, l); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Errorf("writeListingJSON:\n%q\nencoding/json:\n%q", got.String(), want.String())
	}
}

// TestListingJSONOddNames: a listing as buildListing makes it, of the
// test server's odd names (not UTF-8, HTML characters) and more than
// one buffer's worth of entries.
func TestListingJSONOddNames(t *testing.T) {
	es := entries(1000)
	for i, name := range append(testftp.OddNames(), "\u2028\u2029", "tab\there", "\x7f\x01", "a\\b\"c") {
		es = append(es, ftppool.Entry{Name: name, Target: name, Type: ftppool.TypeLink, Perm: "r\xff", Mode: "rw-r--r--", Modified: time.Unix(int64(i), 0)})
	}
	l := buildListing(siteLinks{Site: site, home: "/home/alice"}, "/home/alice/\xe9<&>", es, url.Values{})
	l.FolderPerm = "elc"
	sameAsEncodingJSON(t, l)
	l.Entries = nil
	sameAsEncodingJSON(t, l)
}

// FuzzListingJSON gives every string of the JSON any bytes, and checks
// writeListingJSON's output against encoding/json's.
func FuzzListingJSON(f *testing.F) {
	for _, s := range []string{"", "plain", "<&>", "\xe9t\xe9", "\u2028\u2029", "\x00\x1f\x7f", `"\`, "\b\f\n\r\t", "\xf0\x9f\x98", "日本"} {
		f.Add(s, s, s, int64(len(s)), uint8(len(s)))
	}
	f.Fuzz(func(t *testing.T, s1, s2, s3 string, size int64, n uint8) {
		it := item{Name: s1, Href: s2, Type: s3, Size: size, Modified: s3, Target: s2, Perm: s1, Mode: s3}
		l := &listing{Path: s1, Home: s2, FolderPerm: s3}
		// No entries (nil), or up to three, the fuzzed one among
		// plain ones.
		for i := range int(n % 5) {
			if i == 1 {
				l.Entries = append(l.Entries, it)
			} else {
				l.Entries = append(l.Entries, item{Name: strings.Repeat("x", i), Type: "file"})
			}
		}
		if n%5 == 1 {
			l.Entries = []item{}
		}
		sameAsEncodingJSON(t, l)
	})
}
