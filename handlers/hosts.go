package handlers

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/labstack/echo/v4"
)

// HostNames is the set of names the bridge answers to (-hosts). A page
// on some other name that resolves to the bridge (DNS rebinding) would
// otherwise be same-origin with it, and a share link would carry
// whatever Host the request named.
type HostNames struct {
	names map[string]bool
}

// ParseHostNames reads a comma list of host names or IP literals; a port
// on an entry is allowed and ignored, since the check compares names only.
func ParseHostNames(spec string) (*HostNames, error) {
	h := &HostNames{names: map[string]bool{}}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if err := h.Add(item); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// Add allows one more name.
func (h *HostNames) Add(name string) error {
	n := hostName(name)
	if n == "" || strings.ContainsAny(n, "/ *@:") && !isIP(n) {
		return errors.New("-hosts: " + name + " is not a host name or IP address")
	}
	h.names[n] = true
	return nil
}

// Len is how many names are allowed.
func (h *HostNames) Len() int { return len(h.names) }

// Allows reports whether a request's Host (with or without its port) is
// one of the names.
func (h *HostNames) Allows(host string) bool {
	return h != nil && h.names[hostName(host)]
}

// hostName is the comparable form of a Host: no port, no IPv6 brackets,
// lower case, no trailing dot, an IP in its canonical spelling.
func hostName(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.WithZone("").Unmap().String()
	}
	return host
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// checkHost answers 421 to a request for a name the bridge does not
// answer to, before anything else looks at it: no session, no FTP
// connection, no share.
func checkHost(hosts *HostNames) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !hosts.Allows(c.Request().Host) {
				return &httpError{Status: http.StatusMisdirectedRequest, bare: true,
					Msg: "This bridge does not answer to the address in this request (its Host is not one of the names the operator set with -hosts). Open the bridge at its own address."}
			}
			return next(c)
		}
	}
}
