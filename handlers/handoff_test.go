package handlers

import (
	"testing"

	"github.com/ftpbridge/ftpbridge/ftppool"
)

// TestHandoff: a kept listing is given once, for its key only, and no more
// than handoffMax are kept.
func TestHandoff(t *testing.T) {
	var h handoff
	folder := ftppool.Folder{Entries: []ftppool.Entry{{Name: "a"}}}
	tok := h.put("k", folder)
	if _, ok := h.take(tok, "other"); ok {
		t.Error("a token was good for another key")
	}
	if f, ok := h.take(tok, "k"); !ok || len(f.Entries) != 1 || f.Entries[0].Name != "a" {
		t.Errorf("take = %+v, %v; want the listing kept", f, ok)
	}
	if _, ok := h.take(tok, "k"); ok {
		t.Error("a token was good twice")
	}
	if _, ok := h.take("", "k"); ok {
		t.Error("no token was good")
	}
	first := h.put("k", folder)
	for range handoffMax {
		h.put("k", folder)
	}
	if len(h.items) != handoffMax {
		t.Errorf("%d listings kept, want at most %d", len(h.items), handoffMax)
	}
	if _, ok := h.take(first, "k"); ok {
		t.Error("the oldest listing was kept past handoffMax")
	}
}
