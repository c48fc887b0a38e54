package formparts

import (
	"bytes"
	"errors"
	"io"
	"mime/multipart"
	"net/textproto"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// part is what a reader made of one part.
type part struct {
	header textproto.MIMEHeader
	body   []byte
}

// readAll reads every part with next, and says whether the body was read
// to its end without error.
func readAll(next func() (textproto.MIMEHeader, io.Reader, error)) ([]part, bool) {
	var parts []part
	for {
		h, r, err := next()
		if err == io.EOF {
			return parts, true
		}
		if err != nil {
			return parts, false
		}
		body, err := io.ReadAll(r)
		parts = append(parts, part{h, body})
		if err != nil {
			return parts, false
		}
	}
}

func ours(body io.Reader, boundary string) ([]part, bool) {
	r := NewReader(body, boundary)
	return readAll(func() (textproto.MIMEHeader, io.Reader, error) {
		p, err := r.NextPart()
		if err != nil {
			return nil, nil, err
		}
		return p.Header, p, nil
	})
}

func stdlib(body io.Reader, boundary string) ([]part, bool) {
	r := multipart.NewReader(body, boundary)
	return readAll(func() (textproto.MIMEHeader, io.Reader, error) {
		p, err := r.NextRawPart()
		if err != nil {
			return nil, nil, err
		}
		return p.Header, p, nil
	})
}

// FuzzSameAsMime: a body written by mime/multipart's Writer, whatever its
// names and contents (the boundary's text inside a body, line breaks,
// dashes), and however the reads are cut, reads back part for part and
// byte for byte as mime/multipart reads it (or fails where it fails: a
// name with a control character makes a header neither accepts). Bodies of any bytes at all:
// where mime/multipart reads the whole without error, so does this reader,
// with the same parts.
func FuzzSameAsMime(f *testing.F) {
	f.Add("file", "a.txt", []byte("hello\r\n--notit\r\n"), []byte("x"), uint8(0))
	f.Add("size", "", []byte("\r\n\r\n--"), []byte{}, uint8(1))
	f.Add("file", "z.bin", make([]byte, 300<<10), []byte("\r"), uint8(2))
	f.Fuzz(func(t *testing.T, name, filename string, first, second []byte, cut uint8) {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		// The boundary inside the contents: the reader must not stop there.
		first = bytes.ReplaceAll(first, []byte("BOUND"), []byte("\r\n--"+w.Boundary()+"x"))
		for _, p := range []struct {
			filename string
			body     []byte
		}{{filename, first}, {"", second}} {
			var pw io.Writer
			var err error
			if p.filename != "" {
				pw, err = w.CreateFormFile(name, p.filename)
			} else {
				pw, err = w.CreateFormField(name)
			}
			if err != nil {
				t.Fatal(err)
			}
			pw.Write(p.body)
		}
		w.Close()
		body := buf.Bytes()
		chunked := func() io.Reader {
			switch {
			case cut%3 == 1 && len(body) < 16<<10: // byte by byte is slow on large bodies
				return iotest.OneByteReader(bytes.NewReader(body))
			case cut%3 != 0:
				return iotest.HalfReader(bytes.NewReader(body))
			}
			return bytes.NewReader(body)
		}
		want, wantOK := stdlib(bytes.NewReader(body), w.Boundary())
		got, gotOK := ours(chunked(), w.Boundary())
		if gotOK != wantOK || wantOK && !reflect.DeepEqual(got, want) {
			t.Fatalf("read %+v (whole %v), mime/multipart read %+v (whole %v)", got, gotOK, want, wantOK)
		}

		// The same bytes, any of them changed: no panic, and agreement
		// wherever mime/multipart reads the body whole.
		mangled := bytes.Clone(body)
		if len(mangled) > 0 {
			mangled[int(cut)%len(mangled)] ^= second0(second)
		}
		want, wantOK = stdlib(bytes.NewReader(mangled), w.Boundary())
		got, gotOK = ours(bytes.NewReader(mangled), w.Boundary())
		if wantOK && (!gotOK || !reflect.DeepEqual(got, want)) {
			t.Fatalf("mangled: read %+v (whole %v), mime/multipart read %+v", got, gotOK, want)
		}
	})
}

func second0(b []byte) byte {
	if len(b) == 0 {
		return '\n'
	}
	return b[0]
}

// TestRefusals: what is not a form body is an error, not a hang or a
// part: no boundary at all, a body cut short, a header block too large.
func TestRefusals(t *testing.T) {
	for name, body := range map[string]string{
		"no boundary":     "just text\r\n",
		"cut short":       "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nhalf a fi",
		"no end":          "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\ndata\r\n",
		"header too long": "--b\r\nX: " + strings.Repeat("a", MaxHeaderBytes) + "\r\n\r\nx\r\n--b--\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			parts, ok := ours(strings.NewReader(body), "b")
			if ok {
				t.Errorf("read %d parts without error", len(parts))
			}
		})
	}
}

// TestFormName reads the field name from Content-Disposition.
func TestFormName(t *testing.T) {
	body := "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a/b.txt\"\r\n\r\nx\r\n--b--\r\n"
	p, err := NewReader(strings.NewReader(body), "b").NextPart()
	if err != nil {
		t.Fatal(err)
	}
	if p.FormName() != "file" {
		t.Errorf("FormName %q, want file", p.FormName())
	}
	if _, err := NewReader(strings.NewReader(""), "b").NextPart(); err == nil || errors.Is(err, io.EOF) {
		t.Errorf("empty body: %v, want an error", err)
	}
}
