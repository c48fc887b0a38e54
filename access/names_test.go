package access

import (
	"strings"
	"testing"
)

// TestNamesForTakesOnlyASCIISafeEncodings: an encoding in which other
// bytes decode to "/", "." or control characters would let a name that
// passed the checks on the server's bytes become "../x" once shown (in a
// zip's entry names, say), so such encodings are refused.
func TestNamesForTakesOnlyASCIISafeEncodings(t *testing.T) {
	for _, name := range []string{"windows-1251", "KOI8-R", "IBM866", "latin1", "ISO-8859-2", "Shift_JIS", "EUC-JP", "GBK", "GB18030", "Big5", "EUC-KR"} {
		if n, err := NamesFor(name); err != nil || n.enc == nil {
			t.Errorf("NamesFor(%q) = %+v, %v; want it usable", name, n, err)
		}
	}
	for _, name := range []string{"IBM037", "IBM1047", "HZ-GB-2312", "ISO-2022-JP", "UTF-16", "UTF-16BE", "klingon"} {
		if _, err := NamesFor(name); err == nil {
			t.Errorf("NamesFor(%q) accepted", name)
		}
	}
	if n, err := NamesFor("utf-8"); err != nil || n.enc != nil {
		t.Errorf("utf-8: %+v %v, want the default", n, err)
	}
	// What passes shows no separator that the server's bytes did not have.
	n, _ := NamesFor("Shift_JIS")
	if got := n.Show("\x83\x5c.txt"); strings.Contains(got, "\\") {
		t.Errorf("Shift_JIS's second byte 0x5C came out as a backslash: %q", got)
	}
}
