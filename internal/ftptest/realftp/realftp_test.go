package realftp_test

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/realftp"
)

// Names chosen to break anything that is not byte-exact: shell and URL
// metacharacters, quotes, a name near NAME_MAX, bytes that are not UTF-8,
// and a dot file that listings hide by default.
var (
	oddName    = `odd name #?%&;"'<>.txt`
	longName   = strings.Repeat("L", 196) + ".txt"
	latin1Name = "latin1-\xe9t\xe9.txt"
	hiddenName = ".hidden"
	nestedDir  = "nested dir"
	deepFile   = "deep #1.txt"
	linkName   = "link-to-hello"
)

// mtime is set on every file so MDTM and listings can be checked exactly.
var mtime = time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)

func makeTree(t *testing.T) (string, map[string][]byte) {
	t.Helper()
	root := t.TempDir()
	files := map[string][]byte{
		"hello.txt":                           []byte("hello, world\n"),
		oddName:                               []byte("odd content\n"),
		longName:                              []byte("long name content\n"),
		latin1Name:                            []byte("latin-1 \xe9 content\n"),
		hiddenName:                            []byte("hidden\n"),
		nestedDir + "/inner/" + deepFile:      []byte("deep\n"),
		nestedDir + "/inner/" + latin1Name:    []byte("deep latin-1\n"),
		nestedDir + "/" + oddName + ".nested": []byte("nested odd\n"),
	}
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("hello.txt", filepath.Join(root, linkName)); err != nil {
		t.Fatal(err)
	}
	return root, files
}

func dial(t *testing.T, srv *realftp.Server, opts ...ftp.DialOption) *ftp.ServerConn {
	t.Helper()
	opts = append([]ftp.DialOption{ftp.DialWithTimeout(10 * time.Second)}, opts...)
	c, err := ftp.Dial(srv.Addr, opts...)
	if err != nil {
		t.Fatalf("dial %s: %v\n%s", srv.Name, err, srv.Logs())
	}
	t.Cleanup(func() { _ = c.Quit() })
	return c
}

func login(t *testing.T, srv *realftp.Server, anonymous bool, opts ...ftp.DialOption) *ftp.ServerConn {
	t.Helper()
	c := dial(t, srv, opts...)
	user, pass := srv.User, srv.Password
	if anonymous {
		user, pass = realftp.AnonymousUser, "test@example.com"
	}
	if err := c.Login(user, pass); err != nil {
		t.Fatalf("login %s as %s: %v\n%s", srv.Name, user, err, srv.Logs())
	}
	return c
}

func retr(t *testing.T, c *ftp.ServerConn, path string) []byte {
	t.Helper()
	r, err := c.Retr(path)
	if err != nil {
		t.Fatalf("RETR %q: %v", path, err)
	}
	data, err := io.ReadAll(r)
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("RETR %q: reading: %v", path, err)
	}
	return data
}

func listNames(t *testing.T, c *ftp.ServerConn, path string) map[string]*ftp.Entry {
	t.Helper()
	entries, err := c.List(path)
	if err != nil {
		t.Fatalf("LIST %q: %v", path, err)
	}
	m := map[string]*ftp.Entry{}
	for _, e := range entries {
		m[e.Name] = e
	}
	return m
}

func wantNames(t *testing.T, got map[string]*ftp.Entry, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, ok := got[n]; !ok {
			keys := make([]string, 0, len(got))
			for k := range got {
				keys = append(keys, strconv.Quote(k))
			}
			slices.Sort(keys)
			t.Errorf("listing lacks %q; has %s", n, strings.Join(keys, ", "))
		}
	}
}

// checkReadable is what both anonymous and the local user must be able to do.
func checkReadable(t *testing.T, c *ftp.ServerConn, files map[string][]byte) {
	t.Helper()
	if dir, err := c.CurrentDir(); err != nil || dir != "/" {
		t.Errorf("PWD = %q, %v; want /", dir, err)
	}
	top := listNames(t, c, "/")
	wantNames(t, top, "hello.txt", oddName, longName, latin1Name, hiddenName, nestedDir, linkName)
	if e := top[nestedDir]; e != nil && e.Type != ftp.EntryTypeFolder {
		t.Errorf("%q listed as %v, want folder", nestedDir, e.Type)
	}
	if e := top[oddName]; e != nil && e.Size != uint64(len(files[oddName])) {
		t.Errorf("%q listed with size %d, want %d", oddName, e.Size, len(files[oddName]))
	}
	wantNames(t, listNames(t, c, "/"+nestedDir+"/inner"), deepFile, latin1Name)

	for name, want := range files {
		if got := retr(t, c, "/"+name); !bytes.Equal(got, want) {
			t.Errorf("RETR %q = %q, want %q", name, got, want)
		}
	}
	if got := retr(t, c, "/"+linkName); !bytes.Equal(got, files["hello.txt"]) {
		t.Errorf("RETR through symlink = %q", got)
	}

	// SIZE, MDTM and REST, which resuming clients depend on.
	if n, err := c.FileSize("/" + latin1Name); err != nil || n != int64(len(files[latin1Name])) {
		t.Errorf("SIZE %q = %d, %v; want %d", latin1Name, n, err, len(files[latin1Name]))
	}
	if mt, err := c.GetTime("/" + oddName); err != nil || !mt.Equal(mtime) {
		t.Errorf("MDTM %q = %v, %v; want %v", oddName, mt, err, mtime)
	}
	r, err := c.RetrFrom("/hello.txt", 7)
	if err != nil {
		t.Fatalf("REST 7 + RETR: %v", err)
	}
	rest, err := io.ReadAll(r)
	r.Close()
	if err != nil || string(rest) != "world\n" {
		t.Errorf("REST 7 + RETR = %q, %v; want %q", rest, err, "world\n")
	}
}

func TestServers(t *testing.T) {
	for _, s := range realftp.Daemons {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			t.Run("Writable", func(t *testing.T) { testWritable(t, s) })
			t.Run("ReadOnly", func(t *testing.T) { testReadOnly(t, s) })
			t.Run("RawListings", func(t *testing.T) { testRawListings(t, s) })
			t.Run("ExplicitTLS", func(t *testing.T) { testTLS(t, s, false) })
			t.Run("ImplicitTLS", func(t *testing.T) { testTLS(t, s, true) })
			t.Run("Large", func(t *testing.T) { testLarge(t, s) })
		})
	}
}

func testWritable(t *testing.T, s realftp.Daemon) {
	root, files := makeTree(t)
	srv := s.Start(t, realftp.Options{Root: root, Writable: true})

	t.Run("anonymous", func(t *testing.T) {
		c := login(t, srv, true)
		checkReadable(t, c, files)
		if err := c.Stor("/anon-upload.txt", strings.NewReader("x")); err == nil {
			t.Error("anonymous STOR succeeded; anonymous must be read-only")
		}
		if err := c.Delete("/hello.txt"); err == nil {
			t.Error("anonymous DELE succeeded; anonymous must be read-only")
		}
		if err := c.MakeDir("/anon-dir"); err == nil {
			t.Error("anonymous MKD succeeded; anonymous must be read-only")
		}
	})

	t.Run("user", func(t *testing.T) {
		c := login(t, srv, false)
		checkReadable(t, c, files)

		up := "up " + oddName + "-\xff.bin"
		content := []byte("uploaded \x00\xff bytes\r\n")
		if err := c.Stor("/"+up, bytes.NewReader(content)); err != nil {
			t.Fatalf("STOR %q: %v", up, err)
		}
		onDisk := filepath.Join(root, up)
		if got, err := os.ReadFile(onDisk); err != nil || !bytes.Equal(got, content) {
			t.Fatalf("uploaded file on disk = %q, %v; want %q", got, err, content)
		}
		st, err := os.Stat(onDisk)
		if err != nil {
			t.Fatal(err)
		}
		if mode := st.Mode().Perm(); mode&0o004 == 0 {
			t.Errorf("uploaded file mode %v is not world-readable", mode)
		}
		if sys, ok := st.Sys().(*syscall.Stat_t); !ok || sys.Uid == 0 {
			t.Errorf("uploaded file owned by root, want the local user")
		}
		if got := retr(t, c, "/"+up); !bytes.Equal(got, content) {
			t.Errorf("RETR of upload = %q", got)
		}

		if err := c.MakeDir("/made " + latin1Name); err != nil {
			t.Fatalf("MKD: %v", err)
		}
		if err := c.Rename("/"+up, "/made "+latin1Name+"/renamed"); err != nil {
			t.Fatalf("RNFR/RNTO: %v", err)
		}
		if _, err := os.Stat(filepath.Join(root, "made "+latin1Name, "renamed")); err != nil {
			t.Errorf("renamed file not on disk: %v", err)
		}
		if err := c.Delete("/made " + latin1Name + "/renamed"); err != nil {
			t.Errorf("DELE: %v", err)
		}
		if err := c.RemoveDir("/made " + latin1Name); err != nil {
			t.Errorf("RMD: %v", err)
		}

		// A file the test adds while the daemon runs is still readable.
		late := filepath.Join(root, "late.txt")
		if err := os.WriteFile(late, []byte("late\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := retr(t, c, "/late.txt"); string(got) != "late\n" {
			t.Errorf("RETR late file = %q", got)
		}
	})
}

func testReadOnly(t *testing.T, s realftp.Daemon) {
	root, files := makeTree(t)
	srv := s.Start(t, realftp.Options{Root: root})
	c := login(t, srv, false)
	checkReadable(t, c, files)
	if err := c.Stor("/user-upload.txt", strings.NewReader("x")); err == nil {
		t.Error("STOR succeeded on a read-only server")
	}
	if err := c.Delete("/hello.txt"); err == nil {
		t.Error("DELE succeeded on a read-only server")
	}
	if _, err := os.Stat(filepath.Join(root, "hello.txt")); err != nil {
		t.Errorf("hello.txt: %v", err)
	}
	checkReadable(t, login(t, srv, true), files)
}

// testRawListings bypasses the client library's parser to check that the
// daemon's own output carries every name byte for byte, and logs it (run
// with -v) to document each daemon's listing format.
func testRawListings(t *testing.T, s realftp.Daemon) {
	root, _ := makeTree(t)
	srv := s.Start(t, realftp.Options{Root: root})
	cmds := []string{"LIST", "LIST -a", "NLST", "MLSD"}
	for _, cmd := range cmds {
		out, code, err := rawList(srv.Addr, cmd)
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		t.Logf("%s %s -> %d:\n%s", srv.Name, cmd, code, out)
		if code >= 500 {
			if cmd == "MLSD" {
				t.Logf("%s does not support MLSD", srv.Name)
				continue
			}
			t.Fatalf("%s failed with %d", cmd, code)
		}
		for _, n := range []string{oddName, longName, latin1Name, nestedDir, linkName} {
			if !bytes.Contains(out, []byte(n)) {
				t.Errorf("%s output lacks %q", cmd, n)
			}
		}
	}
}

// rawList runs one listing command as anonymous over a hand-rolled client and
// returns the data connection's bytes and the final reply code.
func rawList(addr, cmd string) ([]byte, int, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, 0, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(conn)
	send := func(line string) (int, string, error) {
		if line != "" {
			if _, err := fmt.Fprintf(conn, "%s\r\n", line); err != nil {
				return 0, "", err
			}
		}
		return readReply(r)
	}
	if code, msg, err := send(""); err != nil || code != 220 {
		return nil, code, fmt.Errorf("greeting %d %q: %v", code, msg, err)
	}
	code, msg, err := send("USER " + realftp.AnonymousUser)
	if err != nil {
		return nil, 0, err
	}
	if code == 331 {
		if code, msg, err = send("PASS test@example.com"); err != nil {
			return nil, 0, err
		}
	}
	if code != 230 {
		return nil, code, fmt.Errorf("login: %d %s", code, msg)
	}
	if code, msg, err = send("TYPE I"); err != nil || code != 200 {
		return nil, code, fmt.Errorf("TYPE I: %d %s %v", code, msg, err)
	}
	code, msg, err = send("PASV")
	if err != nil || code != 227 {
		return nil, code, fmt.Errorf("PASV: %d %s %v", code, msg, err)
	}
	dataAddr, err := parsePASV(msg)
	if err != nil {
		return nil, 0, err
	}
	data, err := net.DialTimeout("tcp", dataAddr, 5*time.Second)
	if err != nil {
		return nil, 0, err
	}
	defer data.Close()
	if code, msg, err = send(cmd); err != nil {
		return nil, 0, err
	}
	if code >= 400 {
		return []byte(msg), code, nil
	}
	out, err := io.ReadAll(data)
	if err != nil {
		return nil, 0, err
	}
	// Close before reading the final reply, as clients do: proftpd sends
	// it only once the client has closed its end (or after TimeoutLinger,
	// 10 s, with it left open).
	data.Close()
	code, msg, err = readReply(r)
	if err != nil || code != 226 {
		return out, code, fmt.Errorf("after %s: %d %s %v", cmd, code, msg, err)
	}
	return out, code, nil
}

func readReply(r *bufio.Reader) (int, string, error) {
	var all []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return 0, strings.Join(all, "\n"), err
		}
		line = strings.TrimRight(line, "\r\n")
		all = append(all, line)
		if len(line) >= 4 && line[3] == ' ' {
			code, err := strconv.Atoi(line[:3])
			return code, strings.Join(all, "\n"), err
		}
	}
}

func parsePASV(msg string) (string, error) {
	i, j := strings.Index(msg, "("), strings.Index(msg, ")")
	if i < 0 || j < i {
		return "", fmt.Errorf("bad PASV reply %q", msg)
	}
	parts := strings.Split(msg[i+1:j], ",")
	if len(parts) != 6 {
		return "", fmt.Errorf("bad PASV reply %q", msg)
	}
	p1, _ := strconv.Atoi(parts[4])
	p2, _ := strconv.Atoi(parts[5])
	return net.JoinHostPort(strings.Join(parts[:4], "."), strconv.Itoa(p1*256+p2)), nil
}

// writeCert creates a self-signed ECDSA certificate for 127.0.0.1 and
// returns the cert and key file paths and a pool trusting it.
func writeCert(t *testing.T) (string, string, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "realftp test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func testTLS(t *testing.T, s realftp.Daemon, implicit bool) {
	root, files := makeTree(t)
	certFile, keyFile, pool := writeCert(t)
	srv := s.Start(t, realftp.Options{Root: root, Writable: true, TLSCertFile: certFile, TLSKeyFile: keyFile, ImplicitTLS: implicit})
	cfg := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	opt := ftp.DialWithExplicitTLS(cfg)
	if implicit {
		opt = ftp.DialWithTLS(cfg)
	}
	for _, anonymous := range []bool{true, false} {
		t.Run(fmt.Sprintf("anonymous=%v", anonymous), func(t *testing.T) {
			c := login(t, srv, anonymous, opt)
			wantNames(t, listNames(t, c, "/"), oddName, latin1Name, nestedDir)
			for _, name := range []string{oddName, latin1Name} {
				if got := retr(t, c, "/"+name); !bytes.Equal(got, files[name]) {
					t.Errorf("RETR %q over TLS = %q", name, got)
				}
			}
			if anonymous {
				return
			}
			if err := c.Stor("/tls-upload.txt", strings.NewReader("over tls\n")); err != nil {
				t.Fatalf("STOR over TLS: %v\n%s", err, srv.Logs())
			}
			if got, err := os.ReadFile(filepath.Join(root, "tls-upload.txt")); err != nil || string(got) != "over tls\n" {
				t.Errorf("TLS upload on disk = %q, %v", got, err)
			}
		})
	}
	// The same daemon still serves plain FTP when not implicit.
	if !implicit {
		wantNames(t, listNames(t, login(t, srv, true), "/"), oddName)
	}
}

// TestSessionReuse documents what a client must do to talk FTPS to a
// vsftpd or proftpd left at its default (vsftpd's require_ssl_reuse=YES,
// mod_tls without NoSessionReuseRequired), as most installations are:
// resume the control session on data connections, which Go's TLS client
// does only with a session cache. Without one, vsftpd refuses the data
// connection with 522, proftpd with 425.
func TestSessionReuse(t *testing.T) {
	for _, s := range []struct {
		realftp.Daemon
		refusal string
	}{
		{realftp.Daemon{Name: "vsftpd", Start: realftp.StartVsftpd}, "522 SSL connection failed: session reuse required"},
		{realftp.Daemon{Name: "proftpd", Start: realftp.StartProFTPD}, "425 Unable to build data connection: Operation not permitted"},
	} {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			root, files := makeTree(t)
			certFile, keyFile, pool := writeCert(t)
			srv := s.Start(t, realftp.Options{Root: root, TLSCertFile: certFile, TLSKeyFile: keyFile, RequireSessionReuse: true})

			plain := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
			c := login(t, srv, true, ftp.DialWithExplicitTLS(plain))
			var tp *textproto.Error
			if _, err := c.List("/"); !errors.As(err, &tp) || fmt.Sprintf("%d %s", tp.Code, tp.Msg) != s.refusal {
				t.Errorf("LIST without session cache: err = %v, want %q", err, s.refusal)
			}

			cached := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", ClientSessionCache: tls.NewLRUClientSessionCache(4)}
			c = login(t, srv, false, ftp.DialWithExplicitTLS(cached))
			wantNames(t, listNames(t, c, "/"), oddName, latin1Name)
			if got := retr(t, c, "/"+oddName); !bytes.Equal(got, files[oddName]) {
				t.Errorf("RETR with session reuse = %q", got)
			}
		})
	}
}

// testLarge checks that big transfers run at loopback speed in both
// directions, i.e. that nothing in the configuration throttles them.
func testLarge(t *testing.T, s realftp.Daemon) {
	if testing.Short() {
		t.Skip("large transfer skipped in -short mode")
	}
	const size = 256 << 20
	const minRate = 20 << 20 // bytes/s; loopback does hundreds of MiB/s, this only catches throttling
	root := t.TempDir()
	srv := s.Start(t, realftp.Options{Root: root, Writable: true})
	// Created after the start, as a file a test adds while the daemon
	// runs would be: root-owned and 0644, which must still be servable.
	big := filepath.Join(root, "big.bin")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 1<<20)
	_, _ = rand.Read(head)
	if _, err := f.Write(head); err != nil {
		t.Fatal(err)
	}
	// Sparse middle: creating it costs nothing, serving it still reads it.
	if _, err := f.WriteAt(head, size-int64(len(head))); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	wantSum := fileSum(t, big)

	c := login(t, srv, false)
	start := time.Now()
	r, err := c.Retr("/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, r)
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("RETR big: %v", err)
	}
	elapsed := time.Since(start)
	if n != size || !bytes.Equal(h.Sum(nil), wantSum) {
		t.Fatalf("RETR big: got %d bytes, checksum match %v", n, bytes.Equal(h.Sum(nil), wantSum))
	}
	rate := float64(n) / elapsed.Seconds()
	t.Logf("%s: downloaded %d MiB in %v (%.0f MiB/s)", srv.Name, n>>20, elapsed.Round(time.Millisecond), rate/(1<<20))
	if rate < minRate {
		t.Errorf("download ran at %.1f MiB/s; something throttles transfers", rate/(1<<20))
	}

	in, err := os.Open(big)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	start = time.Now()
	if err := c.Stor("/big-copy.bin", in); err != nil {
		t.Fatalf("STOR big: %v", err)
	}
	elapsed = time.Since(start)
	if got := fileSum(t, filepath.Join(root, "big-copy.bin")); !bytes.Equal(got, wantSum) {
		t.Fatal("uploaded big file differs")
	}
	rate = float64(size) / elapsed.Seconds()
	t.Logf("%s: uploaded %d MiB in %v (%.0f MiB/s)", srv.Name, size>>20, elapsed.Round(time.Millisecond), rate/(1<<20))
	if rate < minRate {
		t.Errorf("upload ran at %.1f MiB/s; something throttles transfers", rate/(1<<20))
	}
}

func fileSum(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return h.Sum(nil)
}

// TestSkipOrFail runs the test binary itself as a child, since a test that
// fails on purpose would fail its parent too.
func TestSkipOrFail(t *testing.T) {
	if os.Getenv("REALFTP_SKIPORFAIL_CHILD") == "1" {
		realftp.SkipOrFail(t, "not available: %s", "reason")
		t.Error("SkipOrFail returned")
		return
	}
	run := func(require string) (string, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSkipOrFail$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "REALFTP_SKIPORFAIL_CHILD=1", "FTPBRIDGE_REQUIRE_REAL="+require)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("")
	if err != nil || !strings.Contains(out, "--- SKIP: TestSkipOrFail") || !strings.Contains(out, "not available: reason") {
		t.Errorf("without FTPBRIDGE_REQUIRE_REAL: err=%v, output:\n%s", err, out)
	}
	out, err = run("1")
	if err == nil || !strings.Contains(out, "--- FAIL: TestSkipOrFail") || !strings.Contains(out, "FTPBRIDGE_REQUIRE_REAL=1") {
		t.Errorf("with FTPBRIDGE_REQUIRE_REAL=1: err=%v, output:\n%s", err, out)
	}
}

// TestCleanupEndsSessions checks that a client connection left open by a
// test does not keep a session process alive after the test: vsftpd puts
// each session in its own process group, out of reach of a group kill.
func TestCleanupEndsSessions(t *testing.T) {
	for _, s := range realftp.Daemons {
		t.Run(s.Name, func(t *testing.T) {
			var open []*ftp.ServerConn
			t.Run("server", func(t *testing.T) {
				srv := s.Start(t, realftp.Options{Root: t.TempDir()})
				for _, user := range []string{realftp.AnonymousUser, srv.User} {
					// Not login(): its cleanup would close the connection
					// before the daemon's cleanup runs.
					c, err := ftp.Dial(srv.Addr, ftp.DialWithTimeout(10*time.Second))
					if err != nil {
						t.Fatal(err)
					}
					if err := c.Login(user, srv.Password); err != nil {
						t.Fatalf("login as %s: %v", user, err)
					}
					open = append(open, c)
				}
			})
			for i, c := range open {
				done := make(chan error, 1)
				go func() { done <- c.NoOp() }()
				select {
				case err := <-done:
					if err == nil {
						t.Errorf("connection %d still served after cleanup", i)
					}
				case <-time.After(10 * time.Second):
					t.Errorf("connection %d neither served nor closed after cleanup", i)
				}
				_ = c.Quit()
			}
		})
	}
}

// TestNonChroot: the unchrooted local user starts in Root, named by its
// absolute path, and sees the whole filesystem; anonymous stays chrooted.
func TestNonChroot(t *testing.T) {
	for _, s := range realftp.Daemons {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			for _, writable := range []bool{false, true} {
				t.Run(fmt.Sprintf("writable=%v", writable), func(t *testing.T) {
					root, files := makeTree(t)
					srv := s.Start(t, realftp.Options{Root: root, Writable: writable, NonChroot: true})
					if srv.Home != srv.Root {
						t.Errorf("Home = %q, want Root %q", srv.Home, srv.Root)
					}
					c := login(t, srv, false)
					if dir, err := c.CurrentDir(); err != nil || dir != srv.Home {
						t.Errorf("user PWD = %q, %v; want %q", dir, err, srv.Home)
					}
					wantNames(t, listNames(t, c, srv.Home), "hello.txt", oddName, latin1Name, hiddenName, nestedDir)
					if got := retr(t, c, "hello.txt"); !bytes.Equal(got, files["hello.txt"]) {
						t.Errorf("RETR relative to Home = %q", got)
					}
					if got := retr(t, c, srv.Home+"/"+oddName); !bytes.Equal(got, files[oddName]) {
						t.Errorf("RETR by absolute path = %q", got)
					}
					// The whole filesystem.
					wantNames(t, listNames(t, c, "/"), "etc", "tmp")
					if err := c.ChangeDir("/etc"); err != nil {
						t.Errorf("CWD /etc: %v", err)
					}
					err := c.Stor(srv.Home+"/up.txt", strings.NewReader("up\n"))
					if writable {
						if err != nil {
							t.Errorf("STOR into Home: %v", err)
						} else if got, err := os.ReadFile(filepath.Join(root, "up.txt")); err != nil || string(got) != "up\n" {
							t.Errorf("uploaded file on disk = %q, %v", got, err)
						}
					} else if err == nil {
						t.Error("STOR succeeded on a read-only server")
					}

					a := login(t, srv, true)
					if dir, err := a.CurrentDir(); err != nil || dir != "/" {
						t.Errorf("anonymous PWD = %q, %v; want /", dir, err)
					}
					wantNames(t, listNames(t, a, "/"), "hello.txt", oddName, nestedDir)
				})
			}
		})
	}
}

// TestChrootHome: chrooted, the local user's Home is "/".
func TestChrootHome(t *testing.T) {
	for _, s := range realftp.Daemons {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			srv := s.Start(t, realftp.Options{Root: t.TempDir()})
			if srv.Home != "/" {
				t.Errorf("Home = %q, want /", srv.Home)
			}
			if dir, err := login(t, srv, false).CurrentDir(); err != nil || dir != srv.Home {
				t.Errorf("user PWD = %q, %v; want %q", dir, err, srv.Home)
			}
		})
	}
}

// TestMaxPerIP: sessions beyond the limit from one address are refused
// while the one under it keeps working. A limit of 1 also checks that the
// helper's own greeting probe is not still counted when the test begins.
func TestMaxPerIP(t *testing.T) {
	for _, s := range realftp.Daemons {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			root, files := makeTree(t)
			srv := s.Start(t, realftp.Options{Root: root, MaxPerIP: 1})
			first := login(t, srv, false)
			c, err := ftp.Dial(srv.Addr, ftp.DialWithTimeout(10*time.Second))
			if err == nil {
				// The local user: proftpd counts only anonymous sessions
				// against an anonymous login.
				err = c.Login(srv.User, srv.Password)
				if err == nil {
					_, err = c.List("/")
				}
				_ = c.Quit()
			}
			if err == nil {
				t.Fatalf("a second session was served with MaxPerIP 1\n%s", srv.Logs())
			}
			t.Logf("%s refuses the second session: %v", srv.Name, err)
			if got := retr(t, first, "/hello.txt"); !bytes.Equal(got, files["hello.txt"]) {
				t.Errorf("RETR under the limit = %q", got)
			}
		})
	}
}
