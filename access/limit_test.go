package access

import (
	"testing"
	"time"
)

func TestTries(t *testing.T) {
	f := NewTries(2, time.Hour)
	for i := range 2 {
		if wait := f.Take("k"); wait != 0 {
			t.Fatalf("try %d: wait %v", i+1, wait)
		}
	}
	if wait := f.Take("k"); wait <= 0 || wait > time.Hour {
		t.Fatalf("third try: wait %v, want up to an hour", wait)
	}
	if wait := f.Take("other"); wait != 0 {
		t.Errorf("another key waits %v", wait)
	}
	f.GiveBack("k")
	if wait := f.Take("k"); wait != 0 {
		t.Errorf("after a try was given back: wait %v", wait)
	}
}

func TestClientKey(t *testing.T) {
	for ip, want := range map[string]string{
		"192.0.2.7":            "192.0.2.7",
		"::ffff:192.0.2.7":     "192.0.2.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
		"not an address":       "not an address",
	} {
		if got := ClientKey(ip); got != want {
			t.Errorf("ClientKey(%q) = %q, want %q", ip, got, want)
		}
	}
}
