package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
)

// transferEvent is the WebSocket's event, as the README describes it.
type transferEvent struct {
	Type  string `json:"type"`
	ID    string `json:"id"`
	Op    string `json:"op"`
	Site  string `json:"site"`
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
	Total int64  `json:"total"`
	Rate  int64  `json:"rate"`
	State string `json:"state"`
	Error string `json:"error"`
}

// sessionClient is a browser with a bridge session, as a listing page
// gets one, also on an anonymous site: the page itself starts none, its
// script's transfer socket does.
func sessionClient(t *testing.T, b *bridge, listing string) *http.Client {
	t.Helper()
	c := newJarClient(t)
	if resp, _ := get(t, c, listing, "Accept", "text/html"); resp.StatusCode != http.StatusOK {
		t.Fatalf("listing page: %d", resp.StatusCode)
	}
	if cookie(c, b.URL) != "" {
		t.Fatal("viewing a listing page started a session")
	}
	ws, _, err := dialEvents(t, b, c, b.URL)
	if err != nil {
		t.Fatalf("the page's socket: %v", err)
	}
	ws.Close()
	if cookie(c, b.URL) == "" {
		t.Fatal("opening the page's socket started no session")
	}
	return c
}

// dialEvents opens the session's event socket as a page of the bridge would.
func dialEvents(t *testing.T, b *bridge, c *http.Client, origin string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{Jar: c.Jar, HandshakeTimeout: 10 * time.Second}
	ws, resp, err := d.Dial("ws"+strings.TrimPrefix(b.URL, "http")+"/ws", http.Header{"Origin": {origin}})
	if err == nil {
		t.Cleanup(func() { ws.Close() })
	}
	return ws, resp, err
}

func readEvent(t *testing.T, ws *websocket.Conn) transferEvent {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	var ev transferEvent
	if err := ws.ReadJSON(&ev); err != nil {
		t.Fatalf("reading an event: %v", err)
	}
	if ev.Type != "transfer" || ev.ID == "" {
		t.Fatalf("event without type or id: %+v", ev)
	}
	return ev
}

// TestTransferEventsOverWebSocket: a download and an upload each show up on
// the session's socket as running events whose byte counts grow, then one
// done event whose bytes are the file's size. The client moves the bytes in
// steps and reads an event after each, so every event reports progress
// that really happened in between.
func TestTransferEventsOverWebSocket(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{AnonymousWritable: true})
	const size = 24 << 20
	content := make([]byte, size)
	rand.Read(content)
	if err := os.WriteFile(filepath.Join(srv.Root, "big24.bin"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	c := sessionClient(t, b, siteURL(b, "ftp", "", srv, "/", true))
	ws, _, err := dialEvents(t, b, c, b.URL)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}

	// follow reads events of one transfer, calling step after each running
	// one, until the final event, and checks the counts along the way.
	follow := func(t *testing.T, op, path string, step func()) transferEvent {
		var last int64 = -1
		running := 0
		for {
			ev := readEvent(t, ws)
			if ev.Op != op || ev.Path != path {
				t.Fatalf("event of another transfer: %+v", ev)
			}
			switch ev.State {
			case "queued":
			case "running":
				if ev.Bytes <= last {
					t.Fatalf("running event %d: bytes %d after %d, want growing", running, ev.Bytes, last)
				}
				if ev.Total != size {
					t.Errorf("running event total %d, want %d", ev.Total, size)
				}
				last = ev.Bytes
				running++
				step()
			case "done":
				if running < 2 {
					t.Errorf("saw %d running events before done, want several", running)
				}
				if ev.Bytes != size || ev.Total != size {
					t.Errorf("done event: bytes %d total %d, want %d", ev.Bytes, ev.Total, size)
				}
				return ev
			default:
				t.Fatalf("transfer ended %q: %s", ev.State, ev.Error)
			}
		}
	}

	t.Run("download", func(t *testing.T) {
		resp, err := c.Get(siteURL(b, "ftp", "", srv, "/big24.bin", false))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got bytes.Buffer
		follow(t, "download", "/big24.bin", func() {
			// Taking 2 MiB makes room in the socket buffers, so the
			// bridge moves on and the next report shows more bytes.
			if _, err := io.CopyN(&got, resp.Body, 2<<20); err != nil && err != io.EOF {
				t.Fatal(err)
			}
		})
		if _, err := io.Copy(&got, resp.Body); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), content) {
			t.Error("downloaded bytes differ from the file")
		}
	})

	t.Run("upload", func(t *testing.T) {
		pr, pw := io.Pipe()
		req, _ := http.NewRequest(http.MethodPut, siteURL(b, "ftp", "", srv, "/up24.bin", false), pr)
		req.ContentLength = size
		status := make(chan int, 1)
		go func() {
			resp, err := c.Do(req)
			if err != nil {
				status <- 0
				return
			}
			resp.Body.Close()
			status <- resp.StatusCode
		}()
		rest := content
		feed := func(n int) {
			n = min(n, len(rest))
			if _, err := pw.Write(rest[:n]); err != nil {
				t.Fatal(err)
			}
			if rest = rest[n:]; len(rest) == 0 {
				pw.Close()
			}
		}
		feed(2 << 20) // the first bytes make it running
		follow(t, "upload", "/up24.bin", func() { feed(2 << 20) })
		if s := <-status; s != http.StatusCreated {
			t.Fatalf("PUT: %d, want 201", s)
		}
		if got, err := os.ReadFile(filepath.Join(srv.Root, "up24.bin")); err != nil || !bytes.Equal(got, content) {
			t.Errorf("uploaded file differs (%v)", err)
		}
	})

	t.Run("list", func(t *testing.T) {
		resp, body := get(t, c, b.URL+"/transfers")
		var l struct{ Transfers []transferEvent }
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &l) != nil {
			t.Fatalf("GET /transfers: %d %s", resp.StatusCode, body)
		}
		if len(l.Transfers) != 2 || l.Transfers[0].Op != "upload" || l.Transfers[1].Op != "download" {
			t.Fatalf("GET /transfers: %s, want the upload then the download", body)
		}
		for _, ev := range l.Transfers {
			if ev.State != "done" || ev.Bytes != size {
				t.Errorf("listed %+v, want done with %d bytes", ev, size)
			}
		}
	})
}

// TestTransferSocketRefusals: the socket needs a session and an Origin of
// this bridge; another session sees nothing of this one's transfers.
func TestTransferSocketRefusals(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	c := sessionClient(t, b, siteURL(b, "ftp", "", srv, "/", true))
	if _, resp, err := dialEvents(t, b, c, "https://evil.example"); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin socket: err=%v resp=%v, want 403", err, resp)
	}
	if resp, _ := get(t, nil, b.URL+"/ws"); resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Errorf("GET /ws without a session or a handshake: %d with cookies %v, want 401 and none", resp.StatusCode, resp.Cookies())
	}
	// A socket without a session starts one of its own, which sees
	// nothing of c's (checked below, once c has a transfer).
	stranger := newJarClient(t)
	if _, resp, err := dialEvents(t, b, stranger, b.URL); err != nil || cookie(stranger, b.URL) == "" || cookie(stranger, b.URL) == cookie(c, b.URL) {
		t.Errorf("socket without a session: err=%v resp=%v, want it open with a session of its own", err, resp)
	}

	// A download by one session is invisible to another.
	other := sessionClient(t, b, siteURL(b, "ftp", "", srv, "/", true))
	if resp, _ := get(t, c, siteURL(b, "ftp", "", srv, "/with space.txt", false)); resp.StatusCode != http.StatusOK {
		t.Fatalf("download: %d", resp.StatusCode)
	}
	for name, o := range map[string]*http.Client{"another session": other, "the socket's own session": stranger} {
		resp, body := get(t, o, b.URL+"/transfers")
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"transfers":[]`) {
			t.Errorf("%s's /transfers: %d %s, want an empty list", name, resp.StatusCode, body)
		}
	}
	_, mine := get(t, c, b.URL+"/transfers")
	var l struct{ Transfers []transferEvent }
	if json.Unmarshal(mine, &l) != nil || len(l.Transfers) != 1 {
		t.Fatalf("own /transfers: %s", mine)
	}
	req, _ := http.NewRequest(http.MethodPost, b.URL+"/transfers/"+l.Transfers[0].ID+"/cancel", nil)
	if resp, err := other.Do(req); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("cancelling another session's transfer: %v %v, want 404", resp, err)
	}

	// Cancelling another session's transfer on one's own socket does
	// nothing to it; a message over the read limit closes the socket with
	// 1009.
	ws, _, err := dialEvents(t, b, other, b.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.WriteJSON(map[string]string{"type": "cancel", "id": l.Transfers[0].ID}); err != nil {
		t.Fatal(err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"cancel","id":"`+strings.Repeat("x", 64<<10)+`"}`)); err != nil {
		t.Fatalf("sending the oversized message: %v (the bridge must read it out before it closes)", err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err = ws.ReadMessage(); err != nil {
			break
		}
	}
	if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Errorf("after an oversized message: %v, want close 1009", err)
	}
	_, mine = get(t, c, b.URL+"/transfers")
	if json.Unmarshal(mine, &l) != nil || len(l.Transfers) != 1 || l.Transfers[0].State != "done" {
		t.Errorf("own transfer after another session's cancel: %s, want it done as it was", mine)
	}
}

// TestStateChangesRefuseCrossSite: every state-changing route is 403 for a
// request the browser marks as cross-site, and nothing changes on the
// server; a GET with an operation in its query changes nothing either.
func TestStateChangesRefuseCrossSite(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{AnonymousWritable: true})
	file := siteURL(b, "ftp", "", srv, "/with space.txt", false)
	dir := siteURL(b, "ftp", "", srv, "/sub/", true)
	multipart := "--X\r\nContent-Disposition: form-data; name=\"file\"; filename=\"evil.txt\"\r\n\r\nevil\r\n--X--\r\n"
	cases := []struct {
		method, url, ctype, body string
	}{
		{http.MethodPut, siteURL(b, "ftp", "", srv, "/evil.txt", false), "", "evil"},
		{http.MethodPut, file + "?overwrite=1", "", "evil"},
		{http.MethodPost, dir, "multipart/form-data; boundary=X", multipart},
		{http.MethodPost, dir + "?op=mkdir", "application/x-www-form-urlencoded", "name=evil"},
		{http.MethodPost, file + "?op=rename", "application/x-www-form-urlencoded", "to=evil.txt"},
		{http.MethodPost, file + "?op=delete", "", ""},
		{http.MethodDelete, dir + "?recursive=1", "", ""},
		{http.MethodPost, b.URL + "/transfers/x/cancel", "", ""},
		{http.MethodPost, b.URL + "/disconnect", "", ""},
		{http.MethodPost, b.URL + "/connect", "application/x-www-form-urlencoded", "scheme=ftp&host=127.0.0.1"}, // login CSRF
		{http.MethodPost, file + "?op=share", "", ""},
		{http.MethodPost, b.URL + "/shares/AAAAAAAAAAAAAAAAAAAAAA/revoke", "", ""},
		{http.MethodDelete, b.URL + "/shares/AAAAAAAAAAAAAAAAAAAAAA", "", ""},
		{http.MethodPost, b.URL + "/s/AAAAAAAAAAAAAAAAAAAAAA", "application/x-www-form-urlencoded", "password=guess"},
	}
	before := srv.Files
	for _, tc := range cases {
		for _, h := range [][2]string{{"Sec-Fetch-Site", "cross-site"}, {"Origin", "https://evil.example"}} {
			req, _ := http.NewRequest(tc.method, tc.url, strings.NewReader(tc.body))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			req.Header.Set(h[0], h[1])
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s %s with %s: %s: %d, want 403", tc.method, tc.url, h[0], h[1], resp.StatusCode)
			}
			// The refusal is a page of the bridge like any other.
			if resp.Header.Get("Content-Security-Policy") == "" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%s %s with %s: the refusal lacks the security headers: %v", tc.method, tc.url, h[0], resp.Header)
			}
		}
	}
	for _, u := range []string{file + "?op=delete&recursive=1", dir + "?op=delete&recursive=1", dir + "?op=mkdir&name=evil"} {
		get(t, nil, u)
	}
	checkDiskTree(t, srv.Root, before)
}

// checkDiskTree fails unless the files under root are exactly want, byte
// for byte: nothing added, removed or changed.
func checkDiskTree(t *testing.T, root string, want map[string][]byte) {
	t.Helper()
	got := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Type()&os.ModeSymlink != 0 {
			return err
		}
		b, err := os.ReadFile(p)
		got["/"+filepath.ToSlash(strings.TrimPrefix(p, root+string(filepath.Separator)))] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range want {
		if g, ok := got[name]; !ok || !bytes.Equal(g, b) {
			t.Errorf("%s changed or went missing", name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s appeared", name)
		}
	}
}
