package realftp

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// pureFTPdDir is where .ci/install-servers.sh unpacks Debian's pure-ftpd,
// which cannot be installed as a package next to vsftpd.
const pureFTPdDir = "/opt/ftpbridge-pureftpd"

// findPureFTPd locates pure-ftpd: $FTPBRIDGE_PUREFTPD, else the unpacked
// package, else $PATH.
func findPureFTPd() (string, error) {
	if p := os.Getenv("FTPBRIDGE_PUREFTPD"); p != "" {
		if !isExecutable(p) {
			return "", fmt.Errorf("FTPBRIDGE_PUREFTPD=%s is not an executable file", p)
		}
		return p, nil
	}
	if p := filepath.Join(pureFTPdDir, "usr/sbin/pure-ftpd"); isExecutable(p) {
		return p, nil
	}
	return exec.LookPath("pure-ftpd")
}

// findPurePw locates pure-pw, shipped in the same package as pure-ftpd
// (usr/bin next to usr/sbin), falling back to $PATH.
func findPurePw(daemon string) (string, error) {
	dir := filepath.Dir(daemon)
	for _, p := range []string{filepath.Join(dir, "../bin/pure-pw"), filepath.Join(dir, "pure-pw")} {
		if isExecutable(p) {
			return filepath.Clean(p), nil
		}
	}
	return exec.LookPath("pure-pw")
}

// StartPureFTPd starts a pure-ftpd serving o.Root and stops it when the
// test ends.
//
// The local user is a PureDB virtual user, not a PAM/unix login: PureDB
// is the only pure-ftpd backend whose home directory can be chosen per
// daemon (in a database file private to this daemon), where unix/PAM logins
// take the home from /etc/passwd, shared by every test on the machine. The
// virtual user carries the system account's uid/gid (so files it writes
// belong to the same user as with vsftpd) and the system account's password
// hash, copied from /etc/shadow: pure-pw would hash with argon2id tuned so
// slowly that each login takes seconds.
//
// Anonymous is harder: pure-ftpd always chroots it into the home directory
// of the "ftp" account. The daemon therefore runs in a private mount
// namespace in which Root is bind-mounted, read-only, over that home. The
// read-only mount also keeps anonymous (and the local user when not
// Writable, who is then given the same mount as home) from changing
// anything, whatever the file ownership. With o.NonChroot the local user
// is not chrooted and starts in Root itself, which is then, when not
// Writable, bind-mounted read-only over itself in that namespace.
func StartPureFTPd(t testing.TB, o Options) *Server {
	t.Helper()
	requireRoot(t, "pure-ftpd")
	bin, err := findPureFTPd()
	if err != nil {
		SkipOrFail(t, "pure-ftpd not installed (%v): run .ci/install-servers.sh", err)
	}
	purePw, err := findPurePw(bin)
	if err != nil {
		SkipOrFail(t, "pure-pw (from the pure-ftpd package) not found next to %s (%v): run .ci/install-servers.sh", bin, err)
	}
	shell, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("realftp: pure-ftpd: %v", err)
	}
	mountBin, err := exec.LookPath("mount")
	if err != nil {
		SkipOrFail(t, "pure-ftpd: mount(8) not found (%v); it is needed to give anonymous its root", err)
	}
	if o.ActiveOnly {
		t.Fatal("realftp: pure-ftpd: Options.ActiveOnly is only supported by vsftpd")
	}
	if o.ImplicitTLS {
		// Debian builds pure-ftpd without --with-implicittls.
		t.Skip("realftp: pure-ftpd (Debian build) does not support implicit FTPS")
	}
	root := checkOptions(t, o)
	var tlsArg string
	if o.TLSCertFile != "" {
		tlsArg = absFile(t, "TLS certificate", o.TLSCertFile) + "," + absFile(t, "TLS key", o.TLSKeyFile)
	}
	acct, err := systemAccount()
	if err != nil {
		t.Fatalf("realftp: pure-ftpd: setting up system accounts: %v", err)
	}
	if err := prepareTree(root, acct.uid, acct.gid, o.Writable); err != nil {
		t.Fatalf("realftp: pure-ftpd: %v", err)
	}
	hash, err := shadowHash(acct.name)
	if err != nil || !usableHash(hash) {
		t.Fatalf("realftp: pure-ftpd: no usable password hash for %s (%q, %v)", acct.name, hash, err)
	}

	inst := t.TempDir()
	home := acct.anonHome
	if o.Writable || o.NonChroot {
		home = root
	}
	// Unchrooted, the local user must be in Root itself, so a read-only
	// Root is bind-mounted read-only over itself (in the daemon's private
	// namespace only).
	rootMode := "rw"
	if o.NonChroot && !o.Writable {
		rootMode = "ro"
	}
	pdb := filepath.Join(inst, "pureftpd.pdb")
	if err := makePureDB(purePw, inst, pdb, acct, hash, home, !o.NonChroot); err != nil {
		t.Fatalf("realftp: pure-ftpd: %v", err)
	}
	xferLog := filepath.Join(inst, "transfers.log")
	perIP := 200
	if o.MaxPerIP > 0 {
		perIP = o.MaxPerIP
	}

	spec := daemonSpec{
		name: "pure-ftpd",
		build: func(ports portBlock) (*exec.Cmd, []string, error) {
			args := []string{
				// Foreground (no -B), IPv4 loopback only.
				"-S", fmt.Sprintf("127.0.0.1,%d", ports.control),
				"-4",
				"-g", filepath.Join(inst, "pure-ftpd.pid"),
				// Passive data connections on our reserved ports, always
				// announced as loopback.
				"-p", fmt.Sprintf("%d:%d", ports.pasvLo, ports.pasvHi),
				"-P", "127.0.0.1",
				"-l", "puredb:" + pdb,
				// The local user is a system account with a low uid; only
				// root stays refused.
				"-u", "1",
				// Anonymous cannot upload.
				"-i",
				// List dot files even without "LIST -a", and let anonymous
				// download them.
				"-D", "-z",
				// No reverse DNS: the sandbox may have none.
				"-H",
				// The default client limits are low when every client,
				// from every parallel test, is 127.0.0.1.
				"-c", "200", "-C", fmt.Sprint(perIP),
				// Uploads 0644 and new directories 0755: readable by anonymous.
				"-U", "133:022",
				// Do not truncate big recursive listings.
				"-L", "100000:64",
				// No syslog (there is usually no syslogd in CI to read it);
				// transfers go to a file shown on failure instead.
				"-f", "none",
				"-O", "clf:" + xferLog,
			}
			if !o.NonChroot {
				// Chroot everyone, not only anonymous.
				args = append(args, "-A")
			}
			if tlsArg != "" {
				// 1: accept both plain and TLS sessions.
				args = append(args, "-Y", "1", "-2", tlsArg)
			}
			// Bind Root over the anonymous home read-only (and, when
			// rootMode is ro, over itself), then become the daemon. Go
			// makes the new namespace's mounts private before running
			// this, so nothing leaks to the host.
			script := `set -e
"$1" --bind "$2" "$3"
"$1" -o remount,bind,ro "$3"
if [ "$4" = ro ]; then
	"$1" --bind "$2" "$2"
	"$1" -o remount,bind,ro "$2"
fi
shift 4
exec "$@"`
			cmdArgs := append([]string{"-c", script, "realftp-pure-ftpd", mountBin, root, acct.anonHome, rootMode, bin}, args...)
			cmd := exec.Command(shell, cmdArgs...)
			cmd.Dir = inst
			cmd.Env = daemonEnv()
			cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
			return cmd, []string{xferLog}, nil
		},
	}
	ports, logs := launch(t, inst, spec)
	return newServer("pure-ftpd", ports, acct, root, o, tlsArg != "", logs)
}

// makePureDB writes a one-user PureDB file. The text form is pure-pw's
// passwd format (18 colon-separated fields); "/./" at the end of the home
// makes pure-ftpd chroot the user there.
func makePureDB(purePw, dir, pdb string, a account, hash, home string, chroot bool) error {
	if strings.ContainsAny(hash, ":\n") {
		return errors.New("password hash contains a colon or newline")
	}
	fields := make([]string, 18)
	fields[0] = a.name
	fields[1] = hash
	fields[2] = fmt.Sprint(a.uid)
	fields[3] = fmt.Sprint(a.gid)
	fields[5] = strings.TrimSuffix(home, "/")
	if chroot {
		fields[5] += "/./"
	}
	txt := filepath.Join(dir, "pureftpd.passwd")
	if err := os.WriteFile(txt, []byte(strings.Join(fields, ":")+"\n"), 0o600); err != nil {
		return fmt.Errorf("writing user file: %w", err)
	}
	out, err := exec.Command(purePw, "mkdb", pdb, "-f", txt).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pure-pw mkdb: %w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}
