package main

import (
	"net/http"
	"testing"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/realftp"
)

// TestDavLocksAcrossBridges: WebDAV locks are the cluster's, not a
// bridge's. A lock taken on bridge A lets a PUT with its token through B,
// keeps a PUT without it out on C, and is gone everywhere once C unlocks
// it; then litmus's locks suite, through HAProxy's round robin (so its
// LOCK, PUT and UNLOCK land on different bridges), gives what it gives
// against one bridge (litmusExpected).
func TestDavLocksAcrossBridges(t *testing.T) {
	lookTool(t, "litmus", "litmus")
	c := startCluster(t)
	// vsftpd, as TestDavLitmus uses, so litmus's results compare.
	srv := realftp.StartVsftpd(t, realftp.Options{Root: t.TempDir(), Writable: true})
	at := func(name string) string { return davURL(&bridge{URL: c.node(name).URL}, srv.User, srv.Addr, "/f.txt") }
	client := &http.Client{Transport: basicAuth{srv.User, srv.Password}}
	do := func(method, u string, body []byte, header ...string) (*http.Response, []byte) {
		t.Helper()
		return davDo(t, client, method, u, body, header...)
	}

	resp, body := do("LOCK", at("A"), []byte(`<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>test</D:owner></D:lockinfo>`),
		"Timeout", "Second-600")
	token := resp.Header.Get("Lock-Token")
	if resp.StatusCode != http.StatusCreated || token == "" {
		t.Fatalf("LOCK on A: %s, Lock-Token %q: %s", resp.Status, token, body)
	}
	if resp, body := do(http.MethodPut, at("B"), []byte("from B"), "If", "("+token+")"); resp.StatusCode != http.StatusCreated {
		t.Errorf("PUT on B with A's lock token: %s, want 201 (x/net/webdav's for any PUT): %s", resp.Status, body)
	}
	if resp, body := do(http.MethodPut, at("C"), []byte("from C")); resp.StatusCode != http.StatusLocked {
		t.Errorf("PUT on C without the token: %s, want 423: %s", resp.Status, body)
	}
	if resp, body := do("UNLOCK", at("C"), nil, "Lock-Token", token); resp.StatusCode != http.StatusNoContent {
		t.Errorf("UNLOCK on C: %s: %s", resp.Status, body)
	}
	if resp, body := do(http.MethodPut, at("A"), []byte("from A")); resp.StatusCode != http.StatusCreated {
		t.Errorf("PUT on A after the UNLOCK on C: %s, want 201: %s", resp.Status, body)
	}
	if resp, got := do(http.MethodGet, at("B"), nil); resp.StatusCode != http.StatusOK || string(got) != "from A" {
		t.Errorf("GET on B: %s %q, want A's last PUT", resp.Status, got)
	}

	checkLitmus(t, davURL(&bridge{URL: c.LB}, srv.User, srv.Addr, "/"), srv.User, srv.Password, []string{"locks"})
}
