package webdav

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	xdav "golang.org/x/net/webdav"

	"github.com/ftpbridge/ftpbridge/access"
	"github.com/ftpbridge/ftpbridge/ftppool"
	"github.com/ftpbridge/ftpbridge/internal/httpfile"
	"github.com/ftpbridge/ftpbridge/internal/urlpath"
)

// PROPFIND is answered here rather than by x/net/webdav, which for each
// entry of a folder opens it twice (allprop asks its names, then their
// values) and encodes the answer through a reflection-based XML encoder:
// for a 10,000-entry folder that cost more than twice the pages' listing of
// the same folder. This writes the same multistatus (the same live
// properties, hrefs and statuses) from the one listing, with plain string
// building. Depth must be 0 or 1 (ServeHTTP refuses infinity).

// propfindBodyLimit bounds a PROPFIND's body: a request names a few
// properties, never megabytes of them.
const propfindBodyLimit = 1 << 20

// davName is a name in the DAV: namespace.
func davName(local string) xml.Name { return xml.Name{Space: "DAV:", Local: local} }

// liveProp is a property the bridge computes; files only unless dir.
type liveProp struct {
	dir   bool
	value func(name string, fi fileInfo) string // the XML inside the element
}

// liveProps are x/net/webdav's live properties with a value: the same
// set, so both answer alike. creationdate, getcontentlanguage and
// lockdiscovery have none there either and are 404 when asked for.
var liveProps = map[xml.Name]liveProp{
	davName("resourcetype"): {dir: true, value: func(_ string, fi fileInfo) string {
		if fi.IsDir() {
			return `<D:collection/>`
		}
		return ""
	}},
	davName("displayname"): {dir: true, value: func(name string, fi fileInfo) string {
		if name == "/" {
			return "" // x/net/webdav names the root nothing
		}
		return escapeXML(fi.Name())
	}},
	davName("getcontentlength"): {value: func(_ string, fi fileInfo) string { return strconv.FormatInt(fi.Size(), 10) }},
	davName("getlastmodified"): {dir: true, value: func(_ string, fi fileInfo) string {
		return fi.ModTime().UTC().Format(http.TimeFormat)
	}},
	davName("getcontenttype"): {value: func(_ string, fi fileInfo) string { return escapeXML(httpfile.ContentType(fi.Name())) }},
	davName("getetag"): {value: func(_ string, fi fileInfo) string {
		if tag := httpfile.ETag(fi.e.Size, fi.e.Modified); tag != "" {
			return escapeXML(tag)
		}
		// x/net/webdav's own, for a server that says no size or time.
		return escapeXML(fmt.Sprintf(`"%x%x"`, fi.ModTime().UnixNano(), fi.Size()))
	}},
	davName("supportedlock"): {dir: true, value: func(string, fileInfo) string {
		return `<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>`
	}},
}

// allpropOrder is the order allprop and propname list them in.
var allpropOrder = []xml.Name{
	davName("resourcetype"), davName("displayname"), davName("getcontentlength"), davName("getlastmodified"),
	davName("getcontenttype"), davName("getetag"), davName("supportedlock"),
}

// propfindRequest is what a PROPFIND body asks: all properties (also an
// empty body), their names only, or the ones listed.
type propfindRequest struct {
	allprop, propname bool
	props             []xml.Name // prop, or allprop's include
}

var errBadPropfind = errors.New("the PROPFIND body is not a DAV:propfind of allprop, propname or prop")

// readPropfind reads a PROPFIND body (RFC 4918 14.20).
func readPropfind(body io.Reader) (propfindRequest, error) {
	var req propfindRequest
	dec := xml.NewDecoder(io.LimitReader(body, propfindBodyLimit))
	depth, seen := 0, 0
	inProp := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return req, fmt.Errorf("%w: %v", errBadPropfind, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			depth++
			switch {
			case depth == 1 && tok.Name != davName("propfind"):
				return req, errBadPropfind
			case depth == 2:
				seen++
				switch tok.Name {
				case davName("allprop"):
					req.allprop = true
				case davName("propname"):
					req.propname = true
				case davName("prop"), davName("include"):
					inProp = true
				}
			case depth == 3 && inProp:
				req.props = append(req.props, tok.Name)
			}
		case xml.EndElement:
			if depth == 2 {
				inProp = false
			}
			depth--
		}
	}
	if seen == 0 && depth == 0 && dec.InputOffset() == 0 {
		return propfindRequest{allprop: true}, nil // no body: allprop
	}
	n := 0
	for _, b := range []bool{req.allprop, req.propname, len(req.props) > 0 && !req.allprop} {
		if b {
			n++
		}
	}
	if n != 1 {
		return req, errBadPropfind
	}
	return req, nil
}

// propfind answers a PROPFIND of name, Depth 0 or 1.
func (d *Handler) propfind(w http.ResponseWriter, r *http.Request, t *access.Target, fsys *fileSystem, prefix, name string) {
	depth := strings.TrimSpace(r.Header.Get("Depth"))
	if depth != "0" && depth != "1" {
		plain(w, http.StatusBadRequest, "Depth must be 0 or 1.")
		return
	}
	ctx := r.Context()
	e, err := fsys.stat(ctx, name)
	if err != nil {
		if os.IsNotExist(err) {
			plain(w, http.StatusNotFound, "Not found on the FTP server.")
			return
		}
		d.fail(w, r, t, err)
		return
	}
	req, err := readPropfind(r.Body)
	if err != nil {
		plain(w, http.StatusBadRequest, err.Error())
		return
	}
	entries := []fileInfo{{e}}
	names := []string{name}
	if depth == "1" && e.Type == ftppool.TypeDir {
		dir := &dirFile{fs: fsys, ctx: ctx, name: name, e: e}
		children, err := dir.Readdir(0)
		if os.IsNotExist(err) {
			plain(w, http.StatusNotFound, "Not found on the FTP server.")
			return
		}
		if err != nil {
			d.fail(w, r, t, err)
			return
		}
		for _, c := range children {
			entries = append(entries, c.(fileInfo))
			names = append(names, path.Join(name, c.Name()))
		}
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(xdav.StatusMulti)
	// One buffer for the whole answer's writes: an entry is a few hundred
	// bytes, and a write each would be a system call each.
	bw := bufio.NewWriterSize(w, 64<<10)
	defer bw.Flush()
	_, _ = bw.WriteString(`<?xml version="1.0" encoding="UTF-8"?><D:multistatus xmlns:D="DAV:">`)
	var sb strings.Builder
	for i, fi := range entries {
		sb.Reset()
		writeResponse(&sb, prefix, names[i], fi, req)
		if _, err := bw.WriteString(sb.String()); err != nil {
			return // the client went away
		}
	}
	_, _ = bw.WriteString(`</D:multistatus>`)
}

// writeResponse writes one entry's D:response.
func writeResponse(sb *strings.Builder, prefix, name string, fi fileInfo, req propfindRequest) {
	href := path.Join(prefix, name)
	if fi.IsDir() && href != "/" {
		href += "/"
	}
	sb.WriteString(`<D:response><D:href>`)
	sb.WriteString(escapeXML((&url.URL{Path: href}).EscapedPath()))
	sb.WriteString(`</D:href>`)
	asked := req.props
	if req.allprop || req.propname {
		asked = nil
		for _, pn := range allpropOrder {
			if p := liveProps[pn]; p.dir || !fi.IsDir() {
				asked = append(asked, pn)
			}
		}
		if req.allprop {
			asked = append(asked, req.props...) // include
		}
	}
	var missing []xml.Name
	wroteOK := false
	for _, pn := range asked {
		p, ok := liveProps[pn]
		if !ok || (fi.IsDir() && !p.dir) {
			missing = append(missing, pn)
			continue
		}
		if !wroteOK {
			sb.WriteString(`<D:propstat><D:prop>`)
			wroteOK = true
		}
		sb.WriteString(`<D:` + pn.Local + `>`)
		if !req.propname {
			sb.WriteString(p.value(name, fi))
		}
		sb.WriteString(`</D:` + pn.Local + `>`)
	}
	if wroteOK {
		sb.WriteString(`</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>`)
	}
	if len(missing) > 0 {
		sb.WriteString(`<D:propstat><D:prop>`)
		for _, pn := range missing {
			writeEmpty(sb, pn)
		}
		sb.WriteString(`</D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>`)
	}
	sb.WriteString(`</D:response>`)
}

// writeEmpty writes an empty element of any namespace.
func writeEmpty(sb *strings.Builder, n xml.Name) {
	switch n.Space {
	case "DAV:":
		sb.WriteString(`<D:` + escapeXML(n.Local) + `/>`)
	case "":
		sb.WriteString(`<` + escapeXML(n.Local) + ` xmlns=""/>`)
	default:
		sb.WriteString(`<R:` + escapeXML(n.Local) + ` xmlns:R="` + escapeXML(n.Space) + `"/>`)
	}
}

// escapeXML escapes text for an element or attribute; bytes that are not
// UTF-8 become U+FFFD, as encoding/xml does.
func escapeXML(s string) string {
	var sb strings.Builder
	_ = xml.EscapeText(&sb, []byte(s))
	return sb.String()
}

// above reports a path above any site: "/", "/dav", "/dav/{scheme}".
// Some clients (the Windows mini-redirector among them) PROPFIND the
// folders above the one they mount before they mount it.
func above(escaped string) bool {
	p := strings.Trim(escaped, "/")
	if p == "" || p == strings.Trim(Prefix, "/") {
		return true
	}
	scheme, ok := strings.CutPrefix(p, strings.Trim(Prefix, "/")+"/")
	return ok && urlpath.ValidScheme(scheme)
}

// started is when this process started: the time the folders above the
// sites say they were modified.
var started = time.Now()

// propfindAbove answers a PROPFIND of a folder above the sites: an empty
// collection, since the sites a bridge reaches are not listed anywhere.
func propfindAbove(w http.ResponseWriter, r *http.Request, escaped string) {
	depth := strings.TrimSpace(r.Header.Get("Depth"))
	if depth != "0" && depth != "1" {
		refuseInfinity(w)
		return
	}
	req, err := readPropfind(r.Body)
	if err != nil {
		plain(w, http.StatusBadRequest, err.Error())
		return
	}
	name, err := url.PathUnescape(escaped)
	if err != nil {
		plain(w, http.StatusBadRequest, "The address is not valid.")
		return
	}
	name = "/" + strings.Trim(name, "/")
	var sb strings.Builder
	sb.WriteString(`<?xml version="1.0" encoding="UTF-8"?><D:multistatus xmlns:D="DAV:">`)
	writeResponse(&sb, "", name, fileInfo{ftppool.Entry{Name: path.Base(name), Type: ftppool.TypeDir, Size: -1, Modified: started}}, req)
	sb.WriteString(`</D:multistatus>`)
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(xdav.StatusMulti)
	_, _ = io.WriteString(w, sb.String())
}
