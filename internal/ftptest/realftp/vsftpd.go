package realftp

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// findVsftpd locates the vsftpd binary: $FTPBRIDGE_VSFTPD, else $PATH.
func findVsftpd() (string, error) {
	if p := os.Getenv("FTPBRIDGE_VSFTPD"); p != "" {
		if !isExecutable(p) {
			return "", fmt.Errorf("FTPBRIDGE_VSFTPD=%s is not an executable file", p)
		}
		return p, nil
	}
	return exec.LookPath("vsftpd")
}

// StartVsftpd starts a vsftpd serving o.Root and stops it when the test ends.
//
// Anonymous logs in as vsftpd's built-in anonymous (the "ftp" account,
// chrooted into Root, downloads only). The local user authenticates through
// PAM with its system password and is chrooted into Root as well (or,
// with o.NonChroot, starts in Root unchrooted); it may write only when
// o.Writable.
func StartVsftpd(t testing.TB, o Options) *Server {
	t.Helper()
	requireRoot(t, "vsftpd")
	bin, err := findVsftpd()
	if err != nil {
		SkipOrFail(t, "vsftpd not installed (%v): run .ci/install-servers.sh", err)
	}
	root := checkOptions(t, o)
	var cert, key string
	if o.TLSCertFile != "" {
		cert = absFile(t, "TLS certificate", o.TLSCertFile)
		key = absFile(t, "TLS key", o.TLSKeyFile)
	}
	acct, err := systemAccount()
	if err != nil {
		t.Fatalf("realftp: vsftpd: setting up system accounts: %v", err)
	}
	if err := prepareTree(root, acct.uid, acct.gid, o.Writable); err != nil {
		t.Fatalf("realftp: vsftpd: %v", err)
	}

	inst := t.TempDir()
	// vsftpd parks its unprivileged pre-login process in an empty directory
	// that must not be writable by that process; a private one avoids
	// depending on /var/run/vsftpd/empty, which nothing creates on a machine
	// without systemd.
	empty := filepath.Join(inst, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatalf("realftp: vsftpd: %v", err)
	}
	logFile := filepath.Join(inst, "vsftpd.log")
	conf := filepath.Join(inst, "vsftpd.conf")

	spec := daemonSpec{
		name:        "vsftpd",
		implicitTLS: o.ImplicitTLS,
		build: func(ports portBlock) (*exec.Cmd, []string, error) {
			text := vsftpdConfig(vsftpdParams{
				port: ports.control, pasvLo: ports.pasvLo, pasvHi: ports.pasvHi,
				root: root, writable: o.Writable, emptyDir: empty, logFile: logFile,
				cert: cert, key: key, implicitTLS: o.ImplicitTLS,
				requireReuse: o.RequireSessionReuse,
				nonChroot:    o.NonChroot, maxPerIP: o.MaxPerIP,
				activeOnly: o.ActiveOnly,
			})
			if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
				return nil, nil, fmt.Errorf("writing config: %w", err)
			}
			cmd := exec.Command(bin, conf)
			cmd.Dir = inst
			cmd.Env = daemonEnv()
			return cmd, []string{logFile}, nil
		},
	}
	ports, logs := launch(t, inst, spec)
	return newServer("vsftpd", ports, acct, root, o, cert != "", logs)
}

type vsftpdParams struct {
	port, pasvLo, pasvHi int
	root                 string
	writable             bool
	emptyDir, logFile    string
	cert, key            string
	implicitTLS          bool
	requireReuse         bool
	nonChroot            bool
	maxPerIP             int
	activeOnly           bool
}

func yesNo(b bool) string {
	if b {
		return "YES"
	}
	return "NO"
}

func vsftpdConfig(p vsftpdParams) string {
	var b strings.Builder
	set := func(k string, v any) { fmt.Fprintf(&b, "%s=%v\n", k, v) }

	// Foreground, one listener on loopback, so the test owns the process
	// and nothing is reachable from outside the machine.
	set("listen", "YES")
	set("listen_ipv6", "NO")
	set("background", "NO")
	set("listen_address", "127.0.0.1")
	set("listen_port", p.port)

	// Passive only, on our reserved ports, always announcing loopback: the
	// control connection comes from 127.0.0.1 and so must the data one.
	// ActiveOnly turns it round: the daemon connects to the client's
	// PORT/EPRT address and refuses PASV/EPSV.
	set("pasv_enable", yesNo(!p.activeOnly))
	set("port_enable", yesNo(p.activeOnly))
	set("connect_from_port_20", "NO")
	set("pasv_min_port", p.pasvLo)
	set("pasv_max_port", p.pasvHi)
	set("pasv_address", "127.0.0.1")
	set("pasv_addr_resolve", "NO")

	// Anonymous: read-only view of the root. anon_root is where vsftpd
	// chroots anonymous sessions; it must not be writable by "ftp", which
	// prepareTree guarantees.
	set("anonymous_enable", "YES")
	set("ftp_username", anonUser)
	set("anon_root", p.root)
	set("no_anon_password", "NO")
	set("anon_upload_enable", "NO")
	set("anon_mkdir_write_enable", "NO")
	set("anon_other_write_enable", "NO")
	set("anon_world_readable_only", "YES")

	// Local user: password via our PAM service, chrooted into the same root
	// regardless of its home directory (or, nonChroot, only starting
	// there). allow_writeable_chroot because the root is owned by, hence
	// writable by, the user when Writable.
	set("local_enable", "YES")
	set("pam_service_name", pamService)
	set("userlist_enable", "NO")
	set("tcp_wrappers", "NO")
	set("local_root", p.root)
	set("chroot_local_user", yesNo(!p.nonChroot))
	set("allow_writeable_chroot", "YES")
	set("passwd_chroot_enable", "NO")
	set("write_enable", yesNo(p.writable))
	// Uploads must stay downloadable by anonymous (the default 077 would
	// make them 0600).
	set("local_umask", "022")
	set("file_open_mode", "0666")

	// Listings: show dot files even without "LIST -a" so clients see the
	// whole tree, and numeric ids rather than looked-up names inside the
	// chroot. utf8_filesystem only makes vsftpd advertise UTF8 in FEAT and
	// accept OPTS UTF8 ON; vsftpd never converts names, so non-UTF-8 bytes
	// pass through as they are on disk.
	set("force_dot_files", "YES")
	set("hide_ids", "NO")
	set("utf8_filesystem", "YES")
	set("ls_recurse_enable", "YES")
	set("dirmessage_enable", "NO")
	set("use_localtime", "NO")
	set("mdtm_write", "YES")

	// 0 is vsftpd's own default: no limit.
	set("max_per_ip", p.maxPerIP)

	set("secure_chroot_dir", p.emptyDir)
	set("nopriv_user", "nobody")

	set("syslog_enable", "NO")
	set("xferlog_enable", "YES")
	set("xferlog_std_format", "NO")
	set("log_ftp_protocol", "YES")
	set("vsftpd_log_file", p.logFile)

	if p.cert == "" {
		set("ssl_enable", "NO")
		return b.String()
	}
	set("ssl_enable", "YES")
	set("rsa_cert_file", p.cert)
	set("rsa_private_key_file", p.key)
	set("implicit_ssl", yesNo(p.implicitTLS))
	// TLS is offered to everyone and forced on no one, so plain and TLS
	// clients can share one daemon.
	set("allow_anon_ssl", "YES")
	set("force_anon_logins_ssl", "NO")
	set("force_anon_data_ssl", "NO")
	set("force_local_logins_ssl", "NO")
	set("force_local_data_ssl", "NO")
	set("ssl_sslv2", "NO")
	set("ssl_sslv3", "NO")
	set("ssl_tlsv1", "YES")
	set("ssl_request_cert", "NO")
	// vsftpd defaults to requiring that each data connection resume the
	// control connection's TLS session (a guard against data-connection
	// hijacking). Go's crypto/tls client resumes nothing unless the
	// tls.Config has a ClientSessionCache; jlaffaye/ftp uses the caller's
	// config as is, and a plain config has none, so every LIST/RETR would
	// fail with "522 SSL connection failed: session reuse required".
	// With a ClientSessionCache, Go's data connections do pass the check;
	// Options.RequireSessionReuse lets a test insist on it.
	set("require_ssl_reuse", yesNo(p.requireReuse))
	set("ssl_ciphers", "HIGH")
	return b.String()
}

// ownerUID reports whose the tree is: the local user's when it was chowned
// to it, else -1 (left as the test created it).
func ownerUID(writable bool, uid int) int {
	if writable {
		return uid
	}
	return -1
}

// daemonEnv is a fixed environment: the daemons must not depend on whatever
// locale or variables the test runner happens to have.
func daemonEnv() []string {
	return []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C", "TZ=UTC"}
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}
