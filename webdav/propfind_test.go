package webdav

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/ftpbridge/ftpbridge/ftppool"
	"github.com/ftpbridge/ftpbridge/internal/httpfile"
)

func TestReadPropfind(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       propfindRequest
		bad        bool
	}{
		{"empty body is allprop", "", propfindRequest{allprop: true}, false},
		{"allprop", `<?xml version="1.0"?><propfind xmlns="DAV:"><allprop/></propfind>`, propfindRequest{allprop: true}, false},
		{"propname", `<D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>`, propfindRequest{propname: true}, false},
		{"prop", `<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/><x:a xmlns:x="urn:x"/></D:prop></D:propfind>`,
			propfindRequest{props: []xml.Name{davName("getetag"), {Space: "urn:x", Local: "a"}}}, false},
		{"allprop with include", `<propfind xmlns="DAV:"><allprop/><include><x xmlns="urn:y"/></include></propfind>`,
			propfindRequest{allprop: true, props: []xml.Name{{Space: "urn:y", Local: "x"}}}, false},
		{"not well-formed", `<D:propfind xmlns:D="DAV:"><D:prop>`, propfindRequest{}, true},
		{"another root", `<foo/>`, propfindRequest{}, true},
		{"nothing asked", `<propfind xmlns="DAV:"></propfind>`, propfindRequest{}, true},
		{"two kinds", `<propfind xmlns="DAV:"><allprop/><propname/></propfind>`, propfindRequest{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readPropfind(strings.NewReader(tc.body))
			if (err != nil) != tc.bad {
				t.Fatalf("err = %v, want an error: %v", err, tc.bad)
			}
			if tc.bad {
				return
			}
			if got.allprop != tc.want.allprop || got.propname != tc.want.propname || len(got.props) != len(tc.want.props) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i := range got.props {
				if got.props[i] != tc.want.props[i] {
					t.Errorf("prop %d: %v, want %v", i, got.props[i], tc.want.props[i])
				}
			}
		})
	}
}

func TestWriteResponse(t *testing.T) {
	mod := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	file := fileInfo{ftppool.Entry{Name: "a <b>.txt", Size: 5, Modified: mod}}
	dir := fileInfo{ftppool.Entry{Name: "d", Type: ftppool.TypeDir, Size: -1, Modified: mod}}
	for _, tc := range []struct {
		name string
		path string
		fi   fileInfo
		req  propfindRequest
		want []string // in this order
		not  []string
	}{
		{"file, allprop", "/x/a <b>.txt", file, propfindRequest{allprop: true}, []string{
			`<D:href>/dav/ftp/h/x/a%20%3Cb%3E.txt</D:href>`, `<D:resourcetype></D:resourcetype>`,
			`<D:displayname>a &lt;b&gt;.txt</D:displayname>`, `<D:getcontentlength>5</D:getcontentlength>`,
			`<D:getlastmodified>Tue, 01 Dec 2026 10:00:00 GMT</D:getlastmodified>`, `<D:getcontenttype>text/plain; charset=utf-8</D:getcontenttype>`,
			`<D:getetag>&#34;` + httpfile.ETag(5, mod)[1:len(httpfile.ETag(5, mod))-1] + `&#34;</D:getetag>`, `HTTP/1.1 200 OK`}, []string{"404"}},
		{"folder, allprop", "/d", dir, propfindRequest{allprop: true}, []string{
			`<D:href>/dav/ftp/h/d/</D:href>`, `<D:resourcetype><D:collection/></D:resourcetype>`},
			[]string{"getcontentlength", "getetag", "getcontenttype", "404"}},
		{"propname has no values", "/d", dir, propfindRequest{propname: true}, []string{`<D:getlastmodified></D:getlastmodified>`}, []string{"GMT"}},
		{"unknown and file-only props of a folder are 404", "/d", dir,
			propfindRequest{props: []xml.Name{davName("getetag"), {Space: "urn:x", Local: "p"}, {Local: "bare"}, davName("displayname")}},
			[]string{`<D:displayname>d</D:displayname>`, `200 OK`, `<D:getetag/><R:p xmlns:R="urn:x"/><bare xmlns=""/>`, `404 Not Found`}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sb strings.Builder
			writeResponse(&sb, "/dav/ftp/h", tc.path, tc.fi, tc.req)
			out := sb.String()
			if err := xml.Unmarshal([]byte(`<m xmlns:D="DAV:">`+out+`</m>`), new(struct{})); err != nil {
				t.Errorf("not well-formed: %v\n%s", err, out)
			}
			at := 0
			for _, w := range tc.want {
				i := strings.Index(out[at:], w)
				if i < 0 {
					t.Fatalf("%q missing (or out of order) in\n%s", w, out)
				}
				at += i + len(w)
			}
			for _, n := range tc.not {
				if strings.Contains(out, n) {
					t.Errorf("%q should not be in\n%s", n, out)
				}
			}
		})
	}
}
