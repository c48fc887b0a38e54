package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/realftp"
)

// lookTool finds a client program, or skips (fails under
// FTPBRIDGE_REQUIRE_REAL=1, as CI sets) when it is not installed.
func lookTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		realftp.SkipOrFail(t, "%s is not installed (apt-get install -y %s): %v", name, pkg, err)
	}
	return p
}

// litmusSuites are the litmus suites the WebDAV front is held to.
var litmusSuites = []string{"basic", "copymove", "props", "locks", "http"}

// litmusExpected are the litmus tests that fail against the bridge, by
// suite and number (names repeat within a suite), each with its reason;
// the README's WebDAV section says the same. Any other failure fails
// TestDavLitmus, and so does one of these passing: the list must stay
// true.
var litmusExpected = map[string]string{
	"props/3 propfind_invalid2":      "Go's encoding/xml, which reads PROPFIND bodies, does not check namespace declarations, so a body using an undeclared prefix gets 207, not 400 (litmus's FAQ: a parser matter, not the server's)",
	"props/6 propset":                "dead properties are refused with 403: FTP has nowhere to keep them beside a file, and a copy in the bridge's memory would vanish on restart and not follow renames made over FTP",
	"props/26 propmanyns":            "dead properties are refused (see propset)",
	"props/27 propget":               "reads the dead properties propmanyns would have set",
	"locks/11 owner_modify":          "its PROPPATCH sets a dead property, refused (see props/propset); its PUT under the lock passes",
	"locks/33 owner_modify":          "the same as locks/11, in a locked folder",
	"locks/20 fail_complex_cond_put": "x/net/webdav ignores the ETags in an If header's conditions, so a PUT with a bogus ETag beside a valid lock token is taken",
	"locks/23 lock_shared":           "x/net/webdav's lock system grants exclusive locks only (501 for shared); litmus then skips the 7 shared-lock tests after it",
}

// litmusLine is one test's result: " 4. put_get.......... pass".
var litmusLine = regexp.MustCompile(`^\s*(\d+)\.\s+(\S+?)\.*\s+(pass|FAIL|SKIPPED|skipped|WARNING)(.*)$`)

// TestDavLitmus runs Debian's litmus WebDAV suites against vsftpd through
// the bridge, and holds every result to litmusExpected.
func TestDavLitmus(t *testing.T) {
	lookTool(t, "litmus", "litmus")
	srv := realftp.StartVsftpd(t, realftp.Options{Root: t.TempDir(), Writable: true})
	b := startBridge(t, "-allow-hosts", "127.0.0.1")
	checkLitmus(t, davURL(b, srv.User, srv.Addr, "/"), srv.User, srv.Password, litmusSuites)
}

// checkLitmus runs litmus's suites on the WebDAV folder u, and holds every
// result to litmusExpected.
func checkLitmus(t *testing.T, u, user, password string, suites []string) {
	t.Helper()
	litmus := lookTool(t, "litmus", "litmus")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, litmus, "--keep-going", u, user, password)
	cmd.Dir = t.TempDir() // litmus writes debug.log and child.log here
	cmd.Env = append(os.Environ(), "TESTS="+strings.Join(suites, " "))
	out, err := cmd.CombinedOutput()
	t.Logf("litmus output:\n%s", out)
	if ctx.Err() != nil {
		t.Fatalf("litmus did not finish in time: %v", err)
	}

	results := map[string]string{} // suite/test -> pass, FAIL (...)
	suite := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		// A test's line is written twice, the second time after a \r.
		line := sc.Text()
		if i := strings.LastIndexByte(line, '\r'); i >= 0 {
			line = line[i+1:]
		}
		if s, ok := strings.CutPrefix(line, "-> running `"); ok {
			suite, _, _ = strings.Cut(s, "'")
			continue
		}
		if m := litmusLine.FindStringSubmatch(line); m != nil && suite != "" {
			results[suite+"/"+m[1]+" "+m[2]] = m[3] + m[4]
		}
	}
	ran := map[string]bool{}
	for k := range results {
		s, _, _ := strings.Cut(k, "/")
		ran[s] = true
	}
	for _, s := range suites {
		passed, failed, skipped := 0, 0, 0
		for k, res := range results {
			switch {
			case !strings.HasPrefix(k, s+"/"):
			case strings.HasPrefix(res, "pass"), strings.HasPrefix(res, "WARNING"):
				// A warning's line is the test's; its "pass (with 1
				// warning)" follows on an unnumbered line.
				passed++
			case strings.HasPrefix(res, "FAIL"):
				failed++
			default:
				skipped++
			}
		}
		t.Logf("litmus %s: %d passed, %d failed, %d skipped", s, passed, failed, skipped)
		if !ran[s] {
			t.Errorf("litmus suite %s did not run", s)
		}
	}
	for name, res := range results {
		why, expected := litmusExpected[name]
		failed := strings.HasPrefix(res, "FAIL")
		switch {
		case failed && !expected:
			t.Errorf("litmus %s: %s", name, res)
		case !failed && expected:
			t.Errorf("litmus %s now gives %q, but litmusExpected says it fails (%s): take it off the list", name, res, why)
		}
	}
	for name := range litmusExpected {
		suite, _, _ := strings.Cut(name, "/")
		if _, ok := results[name]; !ok && slices.Contains(suites, suite) {
			t.Errorf("litmus %s is listed as an expected failure but did not run", name)
		}
	}
}

// TestDavRclone: rclone's WebDAV backend copies a folder up through the
// bridge to vsftpd and back down, byte-identical, and lists it.
func TestDavRclone(t *testing.T) {
	rclone := lookTool(t, "rclone", "rclone")
	srv := realftp.StartVsftpd(t, realftp.Options{Root: t.TempDir(), Writable: true})
	b := startBridge(t, "-allow-hosts", "127.0.0.1")

	run := func(args ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, rclone, append([]string{"--config", "/dev/null", "--low-level-retries", "1", "--retries", "1"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("rclone %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	pass := strings.TrimSpace(string(run("obscure", srv.Password)))
	remote := ":webdav,url='" + davURL(b, srv.User, srv.Addr, "/") + "',user=" + srv.User + ",pass=" + pass + ":"

	up := t.TempDir()
	files := map[string][]byte{
		"a.txt":                 []byte("hello\n"),
		"sub/b.bin":             randomBytes(t, 5<<20+7),
		"sub/deeper/c d.txt":    []byte("a name with a space\n"),
		"sub/empty.txt":         {},
		"unicode-日本語/ä.txt":     []byte("ä\n"),
		"sub/deeper/ninety.bin": randomBytes(t, 90_000),
	}
	for name, data := range files {
		p := filepath.Join(up, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run("copy", up, remote+"tree")
	for name, data := range files {
		got, err := os.ReadFile(filepath.Join(srv.Root, "tree", filepath.FromSlash(name)))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("on the FTP server, tree/%s holds %d bytes (%v), want the %d sent", name, len(got), err, len(data))
		}
	}
	listed := string(run("lsf", "-R", remote+"tree"))
	for name := range files {
		if !strings.Contains(listed, name) {
			t.Errorf("rclone lsf does not list %s:\n%s", name, listed)
		}
	}
	down := t.TempDir()
	run("copy", remote+"tree", down)
	for name, data := range files {
		got, err := os.ReadFile(filepath.Join(down, filepath.FromSlash(name)))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("copied back, %s holds %d bytes (%v), want %d", name, len(got), err, len(data))
		}
	}
	// rclone check compares sizes and, by downloading, contents.
	run("check", "--download", up, remote+"tree")
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDavCadaver scripts cadaver, a command-line WebDAV client, against
// vsftpd through the bridge, logging in from ~/.netrc: every command must
// succeed and leave the FTP server's disk as said.
func TestDavCadaver(t *testing.T) {
	cadaver := lookTool(t, "cadaver", "cadaver")
	srv := realftp.StartVsftpd(t, realftp.Options{Root: t.TempDir(), Writable: true})
	b := startBridge(t, "-allow-hosts", "127.0.0.1")

	home, work := t.TempDir(), t.TempDir()
	netrc := "machine 127.0.0.1 login " + srv.User + " password " + srv.Password + "\n"
	if err := os.WriteFile(filepath.Join(home, ".netrc"), []byte(netrc), 0o600); err != nil {
		t.Fatal(err)
	}
	content := randomBytes(t, 200_000)
	if err := os.WriteFile(filepath.Join(work, "up.bin"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	commands := []string{
		"mkcol cad", "put up.bin cad/up.bin", "ls cad", "get cad/up.bin back.bin",
		"move cad/up.bin cad/moved.bin", "copy cad/moved.bin cad/copy.bin",
		"lock cad/copy.bin", "unlock cad/copy.bin", "delete cad/moved.bin", "ls cad", "quit",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cadaver, davURL(b, srv.User, srv.Addr, "/"))
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "HOME="+home)
	cmd.Stdin = strings.NewReader(strings.Join(commands, "\n") + "\n")
	out, err := cmd.CombinedOutput()
	t.Logf("cadaver:\n%s", out)
	if err != nil {
		t.Fatalf("cadaver: %v", err)
	}
	if n := strings.Count(string(out), "succeeded."); n != len(commands)-1 {
		t.Errorf("%d of %d cadaver commands succeeded", n, len(commands)-1)
	}
	if strings.Contains(string(out), "failed") {
		t.Error("a cadaver command failed")
	}
	if got, err := os.ReadFile(filepath.Join(work, "back.bin")); err != nil || !bytes.Equal(got, content) {
		t.Errorf("cadaver got back %d bytes (%v), want the %d it put", len(got), err, len(content))
	}
	for p, want := range map[string]bool{"cad/up.bin": false, "cad/moved.bin": false, "cad/copy.bin": true} {
		if _, err := os.Stat(filepath.Join(srv.Root, p)); (err == nil) != want {
			t.Errorf("%s on the FTP server: there %v, want %v", p, err == nil, want)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(srv.Root, "cad/copy.bin")); !bytes.Equal(got, content) {
		t.Errorf("the copy holds %d bytes, want %d", len(got), len(content))
	}
}
