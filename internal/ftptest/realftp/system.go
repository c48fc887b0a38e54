package realftp

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

const (
	// localUser is the system account the daemons let log in with a
	// password. It is a --system account with no login shell: it exists only
	// to own uploaded files and to authenticate.
	localUser = "ftpbridgetest"
	// stateDir keeps machine-wide state shared by every test binary: the
	// local user's password, the port block locks, the setup lock.
	stateDir = "/var/lib/ftpbridge-realftp"
	// pamService is the PAM service vsftpd authenticates through. The stock
	// "vsftpd" service also applies /etc/ftpusers and pam_shells; with our
	// own service the account can keep a nologin shell, and an admin's
	// edits to the stock file cannot break the tests.
	pamService = "ftpbridge-realftp"
	// anonUser is the account the daemons run anonymous sessions as; the
	// name is hard-coded in pure-ftpd.
	anonUser = "ftp"
)

const pamConfig = `# Written by the ftpbridge test helper (internal/ftptest/realftp) for the vsftpd
# daemons it starts: a plain password check of local accounts.
auth	required	pam_unix.so
account	required	pam_unix.so
session	required	pam_unix.so
`

type account struct {
	name     string
	password string
	uid, gid int
	// anonHome is the home directory of the anonymous account, which
	// pure-ftpd always chroots anonymous sessions into.
	anonHome string
}

var (
	accountOnce sync.Once
	accountVal  account
	accountErr  error
)

// systemAccount makes sure the accounts and PAM service the daemons need
// exist, once per test binary.
func systemAccount() (account, error) {
	accountOnce.Do(func() {
		accountVal, accountErr = setupAccounts()
	})
	return accountVal, accountErr
}

// setupAccounts is idempotent and runs under a machine-wide lock, because
// test binaries of several packages may run it at the same moment and
// useradd/chpasswd are not safe to race.
func setupAccounts() (account, error) {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return account{}, fmt.Errorf("creating %s: %w", stateDir, err)
	}
	lock, err := os.OpenFile(filepath.Join(stateDir, "setup.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return account{}, fmt.Errorf("opening setup lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return account{}, fmt.Errorf("taking setup lock: %w", err)
	}

	anon, _, err := ensureUser(anonUser, "/srv/ftp")
	if err != nil {
		return account{}, err
	}
	if anon.HomeDir == "" || anon.HomeDir == "/" || anon.HomeDir == "/nonexistent" {
		return account{}, fmt.Errorf("the %q account's home %q cannot serve as anonymous root", anonUser, anon.HomeDir)
	}
	if err := os.MkdirAll(anon.HomeDir, 0o755); err != nil {
		return account{}, fmt.Errorf("creating anonymous home: %w", err)
	}

	home := filepath.Join(stateDir, "home")
	u, created, err := ensureUser(localUser, home)
	if err != nil {
		return account{}, err
	}
	// vsftpd and pure-ftpd never use this directory (each daemon is told
	// the root to serve), but a home that exists keeps PAM and tools quiet.
	if err := os.MkdirAll(home, 0o755); err != nil {
		return account{}, fmt.Errorf("creating %s: %w", home, err)
	}
	if err := os.Chmod(stateDir, 0o755); err != nil {
		return account{}, fmt.Errorf("chmod %s: %w", stateDir, err)
	}

	pw, err := ensurePassword(created)
	if err != nil {
		return account{}, err
	}
	if err := writeIfChanged(filepath.Join("/etc/pam.d", pamService), []byte(pamConfig), 0o644); err != nil {
		return account{}, fmt.Errorf("installing PAM service: %w", err)
	}

	a := account{name: localUser, password: pw, anonHome: anon.HomeDir}
	if a.uid, err = strconv.Atoi(u.Uid); err != nil {
		return account{}, fmt.Errorf("uid of %s: %w", localUser, err)
	}
	if a.gid, err = strconv.Atoi(u.Gid); err != nil {
		return account{}, fmt.Errorf("gid of %s: %w", localUser, err)
	}
	return a, nil
}

// ensureUser creates a system account without a login shell if missing.
func ensureUser(name, home string) (*user.User, bool, error) {
	u, err := user.Lookup(name)
	if err == nil {
		return u, false, nil
	}
	var unknown user.UnknownUserError
	if !errors.As(err, &unknown) {
		return nil, false, fmt.Errorf("looking up user %s: %w", name, err)
	}
	args := []string{"--system", "--home-dir", home, "--no-create-home", "--shell", noLoginShell()}
	if _, err := user.LookupGroup(name); err == nil {
		args = append(args, "--gid", name)
	} else {
		args = append(args, "--user-group")
	}
	args = append(args, name)
	if out, err := exec.Command("useradd", args...).CombinedOutput(); err != nil {
		return nil, false, fmt.Errorf("useradd %s: %w: %s", name, err, bytes.TrimSpace(out))
	}
	u, err = user.Lookup(name)
	if err != nil {
		return nil, false, fmt.Errorf("looking up user %s after creating it: %w", name, err)
	}
	return u, true, nil
}

func noLoginShell() string {
	for _, s := range []string{"/usr/sbin/nologin", "/sbin/nologin"} {
		if _, err := os.Stat(s); err == nil {
			return s
		}
	}
	return "/bin/false"
}

// ensurePassword returns the local user's password, setting a fresh random
// one when the account is new, has no usable password hash, or its password
// was never recorded. The password is kept in a root-only file so that every
// test binary on the machine can log in without resetting it under the feet
// of one already running.
func ensurePassword(created bool) (string, error) {
	pwFile := filepath.Join(stateDir, "password")
	if !created {
		data, err := os.ReadFile(pwFile)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("reading stored password: %w", err)
		}
		pw := strings.TrimSpace(string(data))
		if hash, err := shadowHash(localUser); err == nil && pw != "" && usableHash(hash) {
			return pw, nil
		}
	}
	pw := randomPassword()
	cmd := exec.Command("chpasswd")
	cmd.Stdin = strings.NewReader(localUser + ":" + pw + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("chpasswd: %w: %s", err, bytes.TrimSpace(out))
	}
	if err := writeIfChanged(pwFile, []byte(pw+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("storing password: %w", err)
	}
	return pw, nil
}

func usableHash(h string) bool {
	return h != "" && h[0] != '!' && h[0] != '*'
}

func randomPassword() string {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 24)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// shadowHash returns the crypt(3) hash of name's password from /etc/shadow.
func shadowHash(name string) (string, error) {
	data, err := os.ReadFile("/etc/shadow")
	if err != nil {
		return "", fmt.Errorf("reading /etc/shadow: %w", err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		fields := strings.Split(line, ":")
		if len(fields) >= 2 && fields[0] == name {
			return fields[1], nil
		}
	}
	return "", fmt.Errorf("no /etc/shadow entry for %s", name)
}

// writeIfChanged replaces path atomically (via rename) when its content
// differs, so concurrent readers see either the old or the new file.
func writeIfChanged(path string, data []byte, mode os.FileMode) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
