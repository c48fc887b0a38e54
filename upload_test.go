package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"maps"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/realftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
)

// uploadFile is one file of a test upload: small ones are held as bytes,
// large ones generated and hashed on the fly (see genReader).
type uploadFile struct {
	name string // relative to the folder it goes in
	data []byte
	size int64 // for generated files
	seed uint64
}

func (f uploadFile) len() int64 {
	if f.data != nil {
		return int64(len(f.data))
	}
	return f.size
}

func (f uploadFile) reader() (io.Reader, *genReader) {
	if f.data != nil {
		return bytes.NewReader(f.data), nil
	}
	g := newGenReader(f.seed, f.size)
	return g, g
}

// multipartBody streams files as one multipart/form-data body, each in a
// part named "file" preceded by its "size"; the returned function waits
// for the writer and gives the generators, to check the bytes after.
func multipartBody(files []uploadFile) (io.Reader, string, func() ([]*genReader, error)) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	gens := make([]*genReader, len(files))
	errc := make(chan error, 1)
	go func() {
		var err error
		for i, f := range files {
			r, g := f.reader()
			gens[i] = g
			if err = mw.WriteField("size", strconv.FormatInt(f.len(), 10)); err != nil {
				break
			}
			var part io.Writer
			if part, err = mw.CreateFormFile("file", f.name); err != nil {
				break
			}
			if _, err = io.Copy(part, r); err != nil {
				break
			}
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
		errc <- err
	}()
	return pr, mw.FormDataContentType(), func() ([]*genReader, error) { return gens, <-errc }
}

// checkUploaded compares each file on the server's disk with what was sent.
func checkUploaded(t *testing.T, root string, files []uploadFile, gens []*genReader) {
	t.Helper()
	for i, f := range files {
		disk := filepath.Join(root, filepath.FromSlash(f.name))
		if gens[i] == nil {
			if got, err := os.ReadFile(disk); err != nil || !bytes.Equal(got, f.data) {
				t.Errorf("%s: on disk %q (%v), sent %q", f.name, got, err, f.data)
			}
			continue
		}
		size, sum := fileDigest(t, disk)
		if size != f.size || !bytes.Equal(sum, gens[i].sum()) {
			t.Errorf("%s: on disk %d bytes sha256 %x; sent %d bytes sha256 %x", f.name, size, sum, f.size, gens[i].sum())
		}
	}
	checkNoTemp(t, root)
}

// checkNoTemp fails if an upload's temporary file is anywhere under root.
func checkNoTemp(t *testing.T, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".ftpbridge-") {
			t.Errorf("temporary file left behind: %s", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestUploadsArriveWhole sends three files in one multipart request, one of
// them 200 MiB, into folders that do not exist yet, then the same files one
// by one with PUT, to the embedded server, vsftpd and proftpd; every file must
// arrive byte-identical, with nothing left beside it.
func TestUploadsArriveWhole(t *testing.T) {
	if testing.Short() {
		t.Skip("uploads 800 MiB; skipped with -short")
	}
	odd := make([]byte, 1<<20)
	rand.Read(odd)
	files := []uploadFile{
		{name: "small.txt", data: []byte("small\n")},
		{name: `odd #?%&;"'<> name.bin`, data: odd},
		{name: "big.bin", size: 200 << 20, seed: 7},
	}
	inFolders := func(prefix string) []uploadFile {
		out := make([]uploadFile, len(files))
		for i, f := range files {
			f.name = prefix + f.name
			out[i] = f
		}
		return out
	}
	for _, start := range []struct {
		name string
		fn   func(t *testing.T) (root, addr, user, pass string)
	}{
		{"embedded", func(t *testing.T) (string, string, string, string) {
			s := testftp.Start(t, embedftp.Options{})
			return s.Root, s.Addr(), testftp.User, testftp.Password
		}},
		{"vsftpd", func(t *testing.T) (string, string, string, string) {
			s := realftp.StartVsftpd(t, realftp.Options{Root: t.TempDir(), Writable: true})
			return s.Root, s.Addr, s.User, s.Password
		}},
		{"proftpd", func(t *testing.T) (string, string, string, string) {
			s := realftp.StartProFTPD(t, realftp.Options{Root: t.TempDir(), Writable: true})
			return s.Root, s.Addr, s.User, s.Password
		}},
	} {
		t.Run(start.name, func(t *testing.T) {
			root, addr, user, pass := start.fn(t)
			b := startBridge(t, "-allow-hosts", "127.0.0.1")
			client := &http.Client{Transport: basicAuth{user, pass}}

			t.Run("multipart", func(t *testing.T) {
				files := inFolders("multi/deep er/")
				body, ctype, wait := multipartBody(files)
				req, _ := http.NewRequest(http.MethodPost, addrURL(b, "ftp", user, addr, "/", true), body)
				req.Header.Set("Content-Type", ctype)
				resp, answer := doReq(t, client, req)
				gens, werr := wait()
				if resp.StatusCode != http.StatusCreated || werr != nil {
					t.Fatalf("POST: %d %s (writer: %v)", resp.StatusCode, answer, werr)
				}
				var got struct{ Uploaded []struct{ Size int64 } }
				if err := json.Unmarshal(answer, &got); err != nil || len(got.Uploaded) != len(files) || got.Uploaded[2].Size != files[2].size {
					t.Errorf("answer %s, want %d files, the last of %d bytes", answer, len(files), files[2].size)
				}
				checkUploaded(t, root, files, gens)
			})

			t.Run("put", func(t *testing.T) {
				files := inFolders("put-")
				gens := make([]*genReader, len(files))
				for i, f := range files {
					r, g := f.reader()
					gens[i] = g
					req, _ := http.NewRequest(http.MethodPut, addrURL(b, "ftp", user, addr, "/"+f.name, false), r)
					req.ContentLength = f.len()
					if resp, answer := doReq(t, client, req); resp.StatusCode != http.StatusCreated {
						t.Fatalf("PUT %s: %d %s", f.name, resp.StatusCode, answer)
					}
				}
				checkUploaded(t, root, files, gens)
			})
		})
	}
}

// TestUploadCancelLeavesNothing stops uploads part-way, by the transfers
// panel's cancel (POST and WebSocket) and by the client hanging up. The
// server must end exactly as it was: the file being replaced keeps its old
// bytes, no temporary file stays, folders made for the stopped file go, and
// only a file that arrived whole before the stop remains. A cancelled
// upload's client gets 499.
func TestUploadCancelLeavesNothing(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{AnonymousWritable: true})
	old := []byte("the old bytes, which must survive\n")
	if err := os.WriteFile(filepath.Join(srv.Root, "victim.bin"), old, 0o644); err != nil {
		t.Fatal(err)
	}
	before := srv.Files
	before["/victim.bin"] = old
	c := sessionClient(t, b, siteURL(b, "ftp", "", srv, "/", true))
	ws, _, err := dialEvents(t, b, c, b.URL)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	chunk := make([]byte, 1<<20)
	rand.Read(chunk)
	ended := map[string]bool{} // transfers of earlier cases

	stops := map[string]func(t *testing.T, id string, body *io.PipeWriter){
		"cancel by POST": func(t *testing.T, id string, _ *io.PipeWriter) {
			req, _ := http.NewRequest(http.MethodPost, b.URL+"/transfers/"+id+"/cancel", nil)
			if resp, body := doReq(t, c, req); resp.StatusCode != http.StatusAccepted {
				t.Fatalf("cancel: %d %s", resp.StatusCode, body)
			}
		},
		"cancel on the socket": func(t *testing.T, id string, _ *io.PipeWriter) {
			if err := ws.WriteJSON(map[string]string{"type": "cancel", "id": id}); err != nil {
				t.Fatal(err)
			}
		},
		"client hangs up": func(t *testing.T, _ string, body *io.PipeWriter) {
			body.CloseWithError(io.ErrUnexpectedEOF) // the transport drops the connection
		},
	}
	for _, tc := range []struct {
		upload, stop string
		// path is the file being stopped, as events name it.
		path string
		// arrived is what a multipart upload stored before the stop.
		arrived map[string][]byte
	}{
		{"PUT", "cancel by POST", "/victim.bin", nil},
		{"PUT", "cancel on the socket", "/victim.bin", nil},
		{"PUT", "client hangs up", "/victim.bin", nil},
		{"multipart", "cancel by POST", "/fresh/sub/victim.bin", map[string][]byte{"/arrived/a.txt": []byte("a\n")}},
		{"multipart", "client hangs up", "/fresh/sub/victim.bin", map[string][]byte{"/arrived/a.txt": []byte("a\n")}},
	} {
		t.Run(tc.upload+", "+tc.stop, func(t *testing.T) {
			pr, pw := io.Pipe()
			defer pw.Close()
			var req *http.Request
			// send writes the body as a client would, without pause: the
			// stopped file's bytes flow until the bridge stops taking them.
			var send func() error
			const size = 256 << 20
			flow := func(w io.Writer) error {
				for range size / len(chunk) {
					if _, err := w.Write(chunk); err != nil {
						return err
					}
				}
				return nil
			}
			if tc.upload == "PUT" {
				req, _ = http.NewRequest(http.MethodPut, siteURL(b, "ftp", "", srv, "/victim.bin", false)+"?overwrite=1", pr)
				req.ContentLength = size
				send = func() error { return flow(pw) }
			} else {
				mw := multipart.NewWriter(pw)
				req, _ = http.NewRequest(http.MethodPost, siteURL(b, "ftp", "", srv, "/", true)+"?overwrite=1", pr)
				req.Header.Set("Content-Type", mw.FormDataContentType())
				send = func() error {
					for name, data := range tc.arrived {
						part, err := mw.CreateFormFile("file", strings.TrimPrefix(name, "/"))
						if err == nil {
							_, err = part.Write(data)
						}
						if err != nil {
							return err
						}
					}
					part, err := mw.CreateFormFile("file", strings.TrimPrefix(tc.path, "/"))
					if err != nil {
						return err
					}
					return flow(part)
				}
			}
			type answer struct {
				status int
				err    error
			}
			answered := make(chan answer, 1)
			go func() {
				resp, err := c.Do(req)
				if err != nil {
					answered <- answer{err: err}
					return
				}
				resp.Body.Close()
				answered <- answer{status: resp.StatusCode}
			}()
			go func() { _ = send() }() // ends when the pipe is closed

			// The stopped file's first event that shows bytes handed to
			// the FTP server; events of earlier cases are skipped.
			ev := readEvent(t, ws)
			for ended[ev.ID] || ev.Path != tc.path || ev.State != "running" {
				if !ended[ev.ID] && (ev.State == "failed" || ev.State == "canceled") {
					t.Fatalf("a transfer ended before the stop: %+v", ev)
				}
				ev = readEvent(t, ws)
			}
			id := ev.ID
			ended[id] = true
			stops[tc.stop](t, id, pw)
			for ev.ID != id || (ev.State != "canceled" && ev.State != "failed") {
				ev = readEvent(t, ws)
			}
			want := "canceled"
			if tc.stop == "client hangs up" {
				want = "failed"
			}
			if ev.State != want {
				t.Errorf("final event %+v, want %s", ev, want)
			}
			if tc.stop != "client hangs up" {
				select {
				case a := <-answered:
					if a.status != 499 {
						t.Errorf("the cancelled upload's client got %d (%v), want 499", a.status, a.err)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("the cancelled upload's client got no answer")
				}
			}
			wantDisk := maps.Clone(before)
			maps.Copy(wantDisk, tc.arrived)
			checkDiskTree(t, srv.Root, wantDisk)
			if _, err := os.Stat(filepath.Join(srv.Root, "fresh")); !os.IsNotExist(err) {
				t.Errorf("the folder made for the stopped file stays (%v)", err)
			}
			for k := range tc.arrived { // for the next case
				os.RemoveAll(filepath.Join(srv.Root, strings.Split(k, "/")[1]))
			}
		})
	}
}

// TestUploadRefusals: an existing file is 409 without overwrite=1 and
// replaced with it; a body over -max-upload-bytes is 413, at once when
// Content-Length says so and mid-stream when it does not. Every refusal
// leaves the server's disk exactly as it was.
func TestUploadRefusals(t *testing.T) {
	const limit = 1 << 20
	srv, b := startFTP(t, embedftp.Options{AnonymousWritable: true}, "-max-upload-bytes", strconv.Itoa(limit))
	before := srv.Files
	existing := "/with space.txt"
	tooBig := make([]byte, 2*limit)
	rand.Read(tooBig)

	multipartOf := func(name string, data []byte) (io.Reader, string) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		part, _ := mw.CreateFormFile("file", name)
		part.Write(data)
		mw.Close()
		return &buf, mw.FormDataContentType()
	}
	// chunked hides a body's length, so only reading it tells the size.
	chunked := func(r io.Reader) io.Reader { return io.MultiReader(r) }

	for _, tc := range []struct {
		name   string
		req    func() *http.Request
		status int
	}{
		{"PUT onto an existing file", func() *http.Request {
			req, _ := http.NewRequest(http.MethodPut, siteURL(b, "ftp", "", srv, existing, false), strings.NewReader("new"))
			return req
		}, http.StatusConflict},
		{"large chunked PUT onto an existing file, still sending when refused", func() *http.Request {
			req, _ := http.NewRequest(http.MethodPut, siteURL(b, "ftp", "", srv, existing, false), chunked(newGenReader(1, 64<<20)))
			return req
		}, http.StatusConflict},
		{"multipart onto an existing file", func() *http.Request {
			body, ctype := multipartOf(strings.TrimPrefix(existing, "/"), []byte("new"))
			req, _ := http.NewRequest(http.MethodPost, siteURL(b, "ftp", "", srv, "/", true), body)
			req.Header.Set("Content-Type", ctype)
			return req
		}, http.StatusConflict},
		{"PUT whose Content-Length is over the limit", func() *http.Request {
			// The body never comes: the answer must not wait for it.
			pr, _ := io.Pipe()
			req, _ := http.NewRequest(http.MethodPut, siteURL(b, "ftp", "", srv, "/big.new", false), pr)
			req.ContentLength = 2 * limit
			return req
		}, http.StatusRequestEntityTooLarge},
		{"chunked PUT that runs over the limit", func() *http.Request {
			req, _ := http.NewRequest(http.MethodPut, siteURL(b, "ftp", "", srv, "/big.new", false), chunked(bytes.NewReader(tooBig)))
			return req
		}, http.StatusRequestEntityTooLarge},
		{"chunked multipart that runs over the limit, into a new folder", func() *http.Request {
			body, ctype := multipartOf("new folder/big.new", tooBig)
			req, _ := http.NewRequest(http.MethodPost, siteURL(b, "ftp", "", srv, "/", true), chunked(body))
			req.Header.Set("Content-Type", ctype)
			return req
		}, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req()
			req.Header.Set("Accept", "application/json")
			resp, body := doReq(t, http.DefaultClient, req)
			var answer struct{ Error string }
			if resp.StatusCode != tc.status || json.Unmarshal(body, &answer) != nil || answer.Error == "" {
				t.Errorf("%d %s, want %d with an error in words", resp.StatusCode, body, tc.status)
			}
			checkDiskTree(t, srv.Root, before)
			if _, err := os.Stat(filepath.Join(srv.Root, "new folder")); !os.IsNotExist(err) {
				t.Errorf("the folder made for the refused file stays (%v)", err)
			}
		})
	}

	t.Run("PUT with overwrite=1 replaces", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPut, siteURL(b, "ftp", "", srv, existing, false)+"?overwrite=1", strings.NewReader("new"))
		if resp, body := doReq(t, http.DefaultClient, req); resp.StatusCode != http.StatusOK {
			t.Errorf("%d %s, want 200", resp.StatusCode, body)
		}
		want := maps.Clone(before)
		want[existing] = []byte("new")
		checkDiskTree(t, srv.Root, want)
	})
}

// FTPS uploads to vsftpd, passive: vsftpd speaks TLS 1.3 and sends session
// tickets on the data connection that an upload never reads; the bridge
// must still end the data connection so that vsftpd keeps the file (a
// reset made it answer 426 "Failure reading network stream").
func TestFTPSUploadToVsftpd(t *testing.T) {
	caFile, certFile, keyFile, _ := testCAFiles(t)
	for _, implicit := range []bool{false, true} {
		scheme := "ftpes"
		if implicit {
			scheme = "ftps"
		}
		t.Run(scheme, func(t *testing.T) {
			root := t.TempDir()
			srv := realftp.StartVsftpd(t, realftp.Options{Root: root, Writable: true, TLSCertFile: certFile, TLSKeyFile: keyFile, ImplicitTLS: implicit, RequireSessionReuse: true})
			b := startBridge(t, "-allow-hosts", "127.0.0.1", "-ftp-ca-file", caFile)
			client := &http.Client{Transport: basicAuth{srv.User, srv.Password}}
			big := make([]byte, 700001)
			if _, err := rand.Read(big); err != nil {
				t.Fatal(err)
			}
			for name, body := range map[string][]byte{"big.bin": big, "empty.bin": {}} {
				req, err := http.NewRequest(http.MethodPut, addrURL(b, scheme, srv.User, srv.Addr, "/"+name, false)+"?mode=passive", bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				msg, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					t.Fatalf("upload of %s: %d %s, want 201", name, resp.StatusCode, msg)
				}
				if got, err := os.ReadFile(filepath.Join(root, name)); err != nil || !bytes.Equal(got, body) {
					t.Fatalf("%s on the server: %d bytes, %v; want the %d sent", name, len(got), err, len(body))
				}
			}
		})
	}
}
