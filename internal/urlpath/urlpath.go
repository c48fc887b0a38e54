// Package urlpath maps FTP paths to bridge URLs and back.
//
// FTP names are bytes, not text: a server may hold names that are not UTF-8.
// Each path segment in a URL is therefore the percent-encoding of the name's
// bytes, and decoding gives back exactly those bytes.
package urlpath

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Scheme ports: explicit TLS starts in the clear on the usual port.
var defaultPorts = map[string]int{"ftp": 21, "ftpes": 21, "ftps": 990}

// ValidScheme reports whether s is one of the bridge's URL schemes.
func ValidScheme(s string) bool {
	_, ok := defaultPorts[s]
	return ok
}

// DefaultPort returns the usual port of a scheme.
func DefaultPort(scheme string) int { return defaultPorts[scheme] }

// ErrControl is returned for names and credentials that hold control bytes:
// CR and LF would inject FTP commands, the rest have no business in a name.
var ErrControl = errors.New("contains control characters")

// HasControl reports whether s holds a byte below 0x20 or DEL.
func HasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// Site is the "[user@]host[:port]" part of a bridge URL with its scheme.
type Site struct {
	Scheme string
	User   string // "" means anonymous
	Host   string // no brackets for IPv6
	Port   int
}

// Addr is host:port for dialing.
func (s Site) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Anonymous reports whether the site logs in as anonymous.
func (s Site) Anonymous() bool {
	return s.User == "" || strings.EqualFold(s.User, "anonymous") || strings.EqualFold(s.User, "ftp")
}

// String is the URL form "[user@]host[:port]", with the port left out when it
// is the scheme's default, so that one site has one spelling.
func (s Site) String() string {
	var b strings.Builder
	if s.User != "" {
		b.WriteString(EscapeSegment(s.User))
		b.WriteByte('@')
	}
	host := s.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	b.WriteString(host)
	if s.Port != defaultPorts[s.Scheme] {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(s.Port))
	}
	return b.String()
}

// Root is the URL of the site's login folder, "/{scheme}/{site}/".
func (s Site) Root() string { return "/" + s.Scheme + "/" + s.String() + "/" }

// URL is the bridge URL of the absolute FTP path abs on this site, whose
// login folder is home: relative to home when abs is home or below it, as
// an ftp:// URL would say it, else absolute (see EncodeSitePath).
func (s Site) URL(home, abs string, dir bool) string {
	return s.PathURL(Relative(home, abs), dir)
}

// EntryURLs returns the URL of each entry of the folder dir by name:
// s.URL(home, path.Join(dir, name), isDir), from the folder's URL made
// once (FolderEntries).
func (s Site) EntryURLs(home, dir string) func(name string, isDir bool) string {
	full := func(name string, isDir bool) string { return s.URL(home, path.Join(dir, name), isDir) }
	h := strings.TrimSuffix(home, "/")
	if h != "" && (h == "/" || path.Clean(h) != h) {
		// Relative compares home as it is: a login folder spelt oddly
		// ("//", "/a/../b") is left to it.
		return full
	}
	folder := s.URL(home, dir, true)
	if Relative(home, dir) == "/" {
		// The server's root away from the login folder is "%2F/", but
		// its entries are "%2Fname".
		folder = strings.TrimSuffix(folder, "/")
	}
	// The login folder's URL is the site's root, not its name below its
	// parent's.
	except := ""
	if h != "" && path.Dir(h) == dir {
		except = path.Base(h)
	}
	return FolderEntries(dir, folder, except, full)
}

// PathURL is the bridge URL of a site path as DecodeSitePath returns it.
func (s Site) PathURL(p string, dir bool) string {
	return "/" + s.Scheme + "/" + s.String() + EncodeSitePath(p, dir)
}

// ParseSite reads the {site} segment of a URL (still percent-encoded).
func ParseSite(scheme, raw string) (Site, error) {
	if !ValidScheme(scheme) {
		return Site{}, fmt.Errorf("unknown scheme %q: use ftp, ftpes or ftps", scheme)
	}
	s := Site{Scheme: scheme, Port: defaultPorts[scheme]}
	hostport := raw
	if i := strings.LastIndex(raw, "@"); i >= 0 {
		u, err := url.PathUnescape(raw[:i])
		if err != nil {
			return Site{}, fmt.Errorf("user name in %q: %w", raw, err)
		}
		if HasControl(u) {
			return Site{}, fmt.Errorf("user name: %w", ErrControl)
		}
		s.User = u
		hostport = raw[i+1:]
	}
	host := hostport
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Site{}, fmt.Errorf("bad port %q", p)
		}
		host, s.Port = h, n
	} else if strings.HasPrefix(hostport, "[") && strings.HasSuffix(hostport, "]") {
		host = hostport[1 : len(hostport)-1]
	}
	h, err := url.PathUnescape(host)
	if err != nil {
		return Site{}, fmt.Errorf("host %q: %w", host, err)
	}
	if h == "" || HasControl(h) || strings.ContainsAny(h, "/\\ @?#%") {
		return Site{}, fmt.Errorf("bad host name %q", h)
	}
	s.Host = strings.ToLower(h)
	return s, nil
}

// EncodePath percent-encodes each segment of an absolute FTP path.
func EncodePath(ftpPath string, dir bool) string {
	segs := Split(ftpPath)
	var b strings.Builder
	for _, seg := range segs {
		b.WriteByte('/')
		b.WriteString(EscapeSegment(seg))
	}
	if dir || len(segs) == 0 {
		b.WriteByte('/')
	}
	return b.String()
}

// EscapeSegment percent-encodes every byte of a name that is not an
// unreserved URL character, so the bytes (UTF-8 or not) survive exactly.
func EscapeSegment(name string) string {
	n := escapedLen(name)
	if n == len(name) {
		return name
	}
	var b strings.Builder
	b.Grow(n)
	writeEscaped(&b, name)
	return b.String()
}

// keep marks the bytes a segment keeps as they are: the unreserved URL
// characters, and the sub-delimiters that mean nothing inside a segment.
var keep = func() (t [256]bool) {
	for c := range 256 {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~!$'()*+,=", byte(c)) >= 0
	}
	return t
}()

// escapedLen is the length of name once escaped, so that its escape is
// written into one allocation of the right size.
func escapedLen(name string) int {
	n := len(name)
	for i := 0; i < len(name); i++ {
		if !keep[name[i]] {
			n += 2
		}
	}
	return n
}

func writeEscaped(b *strings.Builder, name string) {
	const hex = "0123456789ABCDEF"
	last := 0
	for i := 0; i < len(name); i++ {
		if c := name[i]; !keep[c] {
			b.WriteString(name[last:i])
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			last = i + 1
		}
	}
	b.WriteString(name[last:])
}

// FolderEntries returns the URL of each entry of the folder dir: its
// name's escape appended to folderURL, the folder's own URL made once,
// since a big listing asks for thousands. full makes the URL of a name
// that appending does not give: when dir is not a clean absolute path or
// the name not one plain segment (path.Join would clean either), and for
// the name except, whose URL is one of its own.
func FolderEntries(dir, folderURL, except string, full func(name string, dir bool) string) func(name string, dir bool) string {
	if dir == "" || dir[0] != '/' || path.Clean(dir) != dir {
		return full
	}
	return func(name string, isDir bool) string {
		if name == "" || name == "." || name == ".." || name == except || strings.IndexByte(name, '/') >= 0 {
			return full(name, isDir)
		}
		var b strings.Builder
		b.Grow(len(folderURL) + escapedLen(name) + 1)
		b.WriteString(folderURL)
		writeEscaped(&b, name)
		if isDir {
			b.WriteByte('/')
		}
		return b.String()
	}
}

// Split returns the segments of a slash-separated path, ignoring empty ones.
func Split(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// CheckName refuses what can never be one name on an FTP server: nothing,
// "." or "..", a slash, or control bytes (which could inject commands).
// Windows servers also take a backslash as a folder separator, so "..\x"
// or "a\..\b" would step up a folder there: refused too. A backslash in
// an ordinary name ("a\b.txt") is a name character on Unix servers and
// passes.
func CheckName(name string) error {
	switch {
	case name == "":
		return errors.New("the name is empty")
	case name == "." || name == "..":
		return fmt.Errorf("%q is not allowed as a name", name)
	case strings.Contains(name, "/"):
		return fmt.Errorf("%q holds a slash", name)
	case HasControl(name):
		return fmt.Errorf("%q: %w", name, ErrControl)
	case slices.Contains(strings.Split(name, "\\"), ".."):
		return fmt.Errorf("%q holds \"..\" between backslashes, which steps up a folder on Windows servers", name)
	}
	return nil
}

// DecodePath turns the escaped URL path below the site into an absolute FTP
// path. It refuses what could step out of the intended folder or inject
// commands: "." and ".." segments, encoded slashes and control bytes.
// dir reports a trailing slash.
func DecodePath(escaped string) (ftpPath string, dir bool, err error) {
	dir = escaped == "" || strings.HasSuffix(escaped, "/")
	var segs []string
	for _, raw := range strings.Split(escaped, "/") {
		if raw == "" {
			continue
		}
		seg, err := url.PathUnescape(raw)
		if err != nil {
			return "", false, fmt.Errorf("path segment %q: %w", raw, err)
		}
		if err := CheckName(seg); err != nil {
			return "", false, fmt.Errorf("path segment %q: %w", raw, err)
		}
		segs = append(segs, seg)
	}
	return "/" + strings.Join(segs, "/"), dir, nil
}

// encodedSlash starts the first segment of an absolute site path: "/" is
// never part of a name, so it cannot be mistaken for one, and curl reads
// ftp:// URLs the same way.
const encodedSlash = "%2F"

// DecodeSitePath reads the escaped path below a site in a bridge URL.
// Paths are relative to the login folder, as in an ftp:// URL (RFC 1738):
// "inbox/x" is returned as "inbox/x", the login folder itself as "". A
// first segment that starts with an encoded slash makes the path absolute:
// "%2Fsrv/data/" is "/srv/data", "%2F/" the server's root "/". Segments are
// checked as DecodePath does.
func DecodeSitePath(escaped string) (p string, dir bool, err error) {
	rest, abs := cutEncodedSlash(escaped)
	p, dir, err = DecodePath(rest)
	if err != nil {
		return "", false, err
	}
	if !abs {
		p = strings.TrimPrefix(p, "/")
	}
	return p, dir, nil
}

func cutEncodedSlash(escaped string) (string, bool) {
	if len(escaped) >= len(encodedSlash) && strings.EqualFold(escaped[:len(encodedSlash)], encodedSlash) {
		return escaped[len(encodedSlash):], true
	}
	return escaped, false
}

// EncodeSitePath is the escaped form of a site path (relative, or absolute
// with a leading "/"), from the "/" after the site on: "inbox/x" ->
// "/inbox/x", "/srv/data" -> "/%2Fsrv/data", "/" -> "/%2F/".
func EncodeSitePath(p string, dir bool) string {
	if !strings.HasPrefix(p, "/") {
		return EncodePath(p, dir)
	}
	enc := EncodePath(p, dir)
	if enc == "/" {
		return "/" + encodedSlash + "/"
	}
	return "/" + encodedSlash + enc[1:]
}

// Relative says the absolute path abs from the login folder home: below
// home without a leading slash ("" for home itself), elsewhere absolute.
func Relative(home, abs string) string {
	home = strings.TrimSuffix(home, "/")
	if abs == home || home == "" && abs == "/" {
		return ""
	}
	if rel, ok := strings.CutPrefix(abs, home+"/"); ok {
		return rel
	}
	return abs
}

// Resolve is the absolute path of a site path p for the login folder home.
func Resolve(home, p string) string {
	if strings.HasPrefix(p, "/") {
		return p
	}
	return path.Join(home, p)
}
