package access

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
)

// Names shows a site's file names as text and turns names people type
// into the server's bytes. Most servers use UTF-8 (the zero value); older
// ones keep names in a legacy encoding such as windows-1251 or shift_jis,
// which the person names on the connect form or with ?encoding=. Only what
// people read and type is converted: URLs carry the server's raw bytes,
// so every name round-trips whatever the encoding.
type Names struct {
	enc  encoding.Encoding // nil for UTF-8
	name string            // the encoding's IANA name, "" for UTF-8
}

// NamesFor looks an encoding up by any of its IANA names or aliases
// ("windows-1251", "Shift_JIS", "gbk", "latin1").
func NamesFor(name string) (Names, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return Names{}, nil
	}
	enc, err := ianaindex.IANA.Encoding(name)
	if err != nil || enc == nil {
		return Names{}, badRequest("The name encoding %q is not one the bridge knows. Use an IANA name such as windows-1251, iso-8859-1, shift_jis or gbk, or leave it empty for UTF-8.", name)
	}
	canonical, err := ianaindex.IANA.Name(enc)
	if err != nil {
		return Names{}, fmt.Errorf("name of encoding %q: %w", name, err)
	}
	if enc == unicode.UTF8 {
		return Names{}, nil
	}
	if !asciiSafe(enc) {
		return Names{}, badRequest("The name encoding %q cannot be used for file names: it does not keep ASCII as it is (\"/\", \".\" and control characters could come out of other bytes). Use an encoding such as windows-1251, iso-8859-1, shift_jis, gbk or big5.", name)
	}
	return Names{enc: enc, name: canonical}, nil
}

// multiByteNames are the encodings of more than one byte a character that
// keep every ASCII byte as it is and carry no state from name to name.
var multiByteNames = []encoding.Encoding{japanese.ShiftJIS, japanese.EUCJP, korean.EUCKR,
	simplifiedchinese.GBK, simplifiedchinese.GB18030, traditionalchinese.Big5}

// asciiSafe reports an encoding in which bytes that are not ASCII never
// decode to ASCII and ASCII stays ASCII: the separators and dots that
// CheckName judges on the server's bytes mean the same once decoded.
// EBCDIC code pages, UTF-16 and the stateful ones (HZ, ISO-2022-*) fail.
func asciiSafe(enc encoding.Encoding) bool {
	if _, single := enc.(*charmap.Charmap); !single && !slices.Contains(multiByteNames, enc) {
		return false
	}
	ascii := make([]byte, 0x80)
	for i := range ascii {
		ascii[i] = byte(i)
	}
	got, err := enc.NewDecoder().Bytes(ascii)
	return err == nil && string(got) == string(ascii)
}

// Show makes a name (or path) of the server readable: decoded from the
// site's encoding, and bytes that are still not UTF-8 shown as U+FFFD.
func (n Names) Show(raw string) string {
	if n.enc != nil {
		if s, err := n.enc.NewDecoder().String(raw); err == nil {
			raw = s
		}
	}
	return strings.ToValidUTF8(raw, "\uFFFD")
}

// Quote names a file or folder in a message.
func (n Names) Quote(p string) string { return strconv.Quote(n.Show(path.Base(p))) }

// Name is the encoding's IANA name, "" for UTF-8.
func (n Names) Name() string { return n.name }

// Legacy reports an encoding other than UTF-8.
func (n Names) Legacy() bool { return n.enc != nil }

// Bytes turns a name a person typed (UTF-8) into the server's bytes.
func (n Names) Bytes(typed string) (string, error) {
	if n.enc == nil {
		return typed, nil
	}
	raw, err := n.enc.NewEncoder().String(typed)
	if err != nil {
		return "", badRequest("The name %q has characters that the server's name encoding (%s) cannot hold.", typed, n.name)
	}
	return raw, nil
}
