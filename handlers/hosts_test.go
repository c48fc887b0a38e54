package handlers

import "testing"

// TestHostNames: Hosts compare without the port, in any case, with or
// without the trailing dot and IPv6 brackets; nothing else gets through,
// not even a name that merely ends or starts like an allowed one.
func TestHostNames(t *testing.T) {
	h, err := ParseHostNames("Files.Example.com, 127.0.0.1, [::1], bridge.internal:8443")
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"files.example.com":               true,
		"FILES.example.COM:8080":          true,
		"files.example.com.":              true,
		"files.example.com.:443":          true,
		"127.0.0.1:8080":                  true,
		"[::1]:8080":                      true,
		"[::1]":                           true,
		"[0:0::1]":                        true,
		"bridge.internal":                 true,
		"bridge.internal:1":               true,
		"":                                false,
		"localhost":                       false,
		"127.0.0.2":                       false,
		"evil.files.example.com":          false,
		"files.example.com.evil.example":  false,
		"files.example.com:80:90":         false,
		"files.example.com@evil.example":  false,
		"[::ffff:127.0.0.1]:80":           true, // the same address, as the kernel sees it
		"2130706433":                      false,
		"files.example.com\x00.evil.test": false,
	} {
		if got := h.Allows(host); got != want {
			t.Errorf("Allows(%q) = %v, want %v", host, got, want)
		}
	}
	for _, bad := range []string{"*", "files.example.com/x", "a b", "user@host"} {
		if _, err := ParseHostNames(bad); err == nil {
			t.Errorf("-hosts %q was accepted", bad)
		}
	}
	var none *HostNames
	if none.Allows("localhost") {
		t.Error("no names allow localhost")
	}
}
