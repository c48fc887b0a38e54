package realftp

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// proFTPdDir is where .ci/install-servers.sh unpacks Debian's proftpd-core
// and proftpd-mod-crypto, which cannot be installed as packages next to
// vsftpd.
const proFTPdDir = "/opt/ftpbridge-proftpd"

// findProFTPd locates proftpd: $FTPBRIDGE_PROFTPD, else the unpacked
// package, else $PATH. It also returns the directory of its loadable
// modules (mod_tls lives there, not in the binary).
func findProFTPd() (bin, modDir string, err error) {
	bin = os.Getenv("FTPBRIDGE_PROFTPD")
	switch {
	case bin != "":
		if !isExecutable(bin) {
			return "", "", fmt.Errorf("FTPBRIDGE_PROFTPD=%s is not an executable file", bin)
		}
	case isExecutable(filepath.Join(proFTPdDir, "usr/sbin/proftpd")):
		bin = filepath.Join(proFTPdDir, "usr/sbin/proftpd")
	default:
		if bin, err = exec.LookPath("proftpd"); err != nil {
			return "", "", err
		}
	}
	// usr/sbin/proftpd -> usr/lib/proftpd, as Debian lays it out.
	modDir = filepath.Join(filepath.Dir(bin), "../lib/proftpd")
	return bin, filepath.Clean(modDir), nil
}

// StartProFTPD starts a proftpd serving o.Root and stops it when the test
// ends.
//
// Anonymous is an <Anonymous> section on Root (the "ftp" account, chrooted,
// downloads only). The local user authenticates against an AuthUserFile
// private to this daemon, which carries the system account's uid/gid and
// its password hash copied from /etc/shadow, and Root as its home: as with
// pure-ftpd's PureDB, that is the one way to give the user a per-daemon
// home, which NonChroot needs (proftpd puts the user in its home). It is
// chrooted there (DefaultRoot ~) unless o.NonChroot, and may write only when
// o.Writable. FTPS is mod_tls: explicit (AUTH TLS), or implicit with
// TLSOptions UseImplicitSSL when o.ImplicitTLS.
//
// Timing: whenever a session process exits, the SIGCHLD interrupts the
// master's select and it sleeps 200 ms (PR_TUNABLE_EINTR_RETRY_INTERVAL,
// compiled in) before accepting again, so a connection opened just after
// another closed can wait that long for its greeting.
func StartProFTPD(t testing.TB, o Options) *Server {
	t.Helper()
	requireRoot(t, "proftpd")
	bin, modDir, err := findProFTPd()
	if err != nil {
		SkipOrFail(t, "proftpd not installed (%v): run .ci/install-servers.sh", err)
	}
	root := checkOptions(t, o)
	var certDirective, cert, key string
	if o.TLSCertFile != "" {
		if _, err := os.Stat(filepath.Join(modDir, "mod_tls.so")); err != nil {
			SkipOrFail(t, "proftpd: mod_tls (package proftpd-mod-crypto) not found (%v): run .ci/install-servers.sh", err)
		}
		cert = absFile(t, "TLS certificate", o.TLSCertFile)
		key = absFile(t, "TLS key", o.TLSKeyFile)
		if certDirective, err = tlsCertKind(cert); err != nil {
			t.Fatalf("realftp: proftpd: %v", err)
		}
	}
	acct, err := systemAccount()
	if err != nil {
		t.Fatalf("realftp: proftpd: setting up system accounts: %v", err)
	}
	if err := prepareTree(root, acct.uid, acct.gid, o.Writable); err != nil {
		t.Fatalf("realftp: proftpd: %v", err)
	}
	hash, err := shadowHash(acct.name)
	if err != nil || !usableHash(hash) {
		t.Fatalf("realftp: proftpd: no usable password hash for %s (%q, %v)", acct.name, hash, err)
	}
	anonGroup, err := primaryGroup(anonUser)
	if err != nil {
		t.Fatalf("realftp: proftpd: %v", err)
	}
	// The configuration quotes paths; a quote or backslash would end the
	// string early. checkOptions already refused newlines.
	for _, p := range []string{root, cert, key} {
		if strings.ContainsAny(p, "\"\\") {
			t.Fatalf("realftp: proftpd: path %q contains a quote or backslash, which the config cannot express", p)
		}
	}

	if o.ActiveOnly {
		t.Fatal("realftp: proftpd: Options.ActiveOnly is only supported by vsftpd")
	}
	inst := t.TempDir()
	// The passwd-format user file: user:hash:uid:gid:gecos:home:shell.
	if strings.ContainsAny(hash, ":\n") {
		t.Fatal("realftp: proftpd: password hash contains a colon or newline")
	}
	passwd := filepath.Join(inst, "ftpd.passwd")
	line := fmt.Sprintf("%s:%s:%d:%d::%s:%s\n", acct.name, hash, acct.uid, acct.gid, root, noLoginShell())
	if err := os.WriteFile(passwd, []byte(line), 0o600); err != nil {
		t.Fatalf("realftp: proftpd: writing user file: %v", err)
	}
	conf := filepath.Join(inst, "proftpd.conf")
	sysLog := filepath.Join(inst, "proftpd.log")
	cmdLog := filepath.Join(inst, "commands.log")
	tlsLog := filepath.Join(inst, "tls.log")

	spec := daemonSpec{
		name:        "proftpd",
		implicitTLS: o.ImplicitTLS,
		build: func(ports portBlock) (*exec.Cmd, []string, error) {
			text := proFTPdConfig(proFTPdParams{
				port: ports.control, pasvLo: ports.pasvLo, pasvHi: ports.pasvHi,
				root: root, inst: inst, passwd: passwd, modDir: modDir,
				anonGroup: anonGroup, writable: o.Writable, nonChroot: o.NonChroot,
				maxPerIP: o.MaxPerIP, sysLog: sysLog, cmdLog: cmdLog, tlsLog: tlsLog,
				certDirective: certDirective, cert: cert, key: key,
				requireReuse: o.RequireSessionReuse, implicitTLS: o.ImplicitTLS,
			})
			if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
				return nil, nil, fmt.Errorf("writing config: %w", err)
			}
			// -n: foreground; -4: IPv4 only; -c: our config, not /etc/proftpd.
			cmd := exec.Command(bin, "-n", "-4", "-c", conf)
			cmd.Dir = inst
			cmd.Env = daemonEnv()
			return cmd, []string{sysLog, cmdLog, tlsLog}, nil
		},
	}
	ports, logs := launch(t, inst, spec)
	return newServer("proftpd", ports, acct, root, o, cert != "", logs)
}

// primaryGroup returns the name of the user's primary group, which
// proftpd's Group directive wants.
func primaryGroup(name string) (string, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return "", fmt.Errorf("looking up user %s: %w", name, err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		return "", fmt.Errorf("looking up group %s of %s: %w", u.Gid, name, err)
	}
	return g.Name, nil
}

// tlsCertKind names the mod_tls directive pair for the certificate's key
// type: mod_tls keeps RSA, DSA and EC certificates apart.
func tlsCertKind(certFile string) (string, error) {
	data, err := os.ReadFile(certFile)
	if err != nil {
		return "", fmt.Errorf("reading TLS certificate: %w", err)
	}
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return "", errors.New("TLS certificate file holds no CERTIFICATE block")
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return "", fmt.Errorf("parsing TLS certificate: %w", err)
		}
		switch c.PublicKeyAlgorithm {
		case x509.RSA:
			return "TLSRSACertificate", nil
		case x509.ECDSA:
			return "TLSECCertificate", nil
		case x509.DSA:
			return "TLSDSACertificate", nil
		default:
			return "", fmt.Errorf("mod_tls cannot use a %v certificate", c.PublicKeyAlgorithm)
		}
	}
}

type proFTPdParams struct {
	port, pasvLo, pasvHi   int
	root, inst, passwd     string
	modDir, anonGroup      string
	writable, nonChroot    bool
	maxPerIP               int
	sysLog, cmdLog, tlsLog string
	certDirective          string
	cert, key              string
	requireReuse           bool
	implicitTLS            bool
}

func proFTPdConfig(p proFTPdParams) string {
	var b strings.Builder
	set := func(k string, v ...any) {
		b.WriteString(k)
		for _, x := range v {
			fmt.Fprintf(&b, " %v", x)
		}
		b.WriteByte('\n')
	}
	q := strconv.Quote

	// One standalone daemon in the foreground on loopback; its state files
	// in the instance directory rather than /run (the Debian defaults).
	set("ServerType", "standalone")
	set("ServerName", q("ftpbridge realftp"))
	set("DefaultServer", "on")
	set("UseIPv6", "off")
	set("DefaultAddress", "127.0.0.1")
	set("SocketBindTight", "on")
	set("Port", p.port)
	set("PidFile", q(filepath.Join(p.inst, "proftpd.pid")))
	set("ScoreboardFile", q(filepath.Join(p.inst, "proftpd.scoreboard")))
	set("User", "nobody")
	set("Group", "nogroup")
	// mod_delay would keep its table in /run/proftpd and slow failed
	// logins down on purpose; mod_ctrls would open a socket in /run.
	set("DelayEngine", "off")
	set("ControlsEngine", "off")
	set("WtmpLog", "off")
	set("UseLastlog", "off")
	set("UseReverseDNS", "off")
	// Parallel tests all come from 127.0.0.1.
	set("MaxInstances", "none")
	if p.maxPerIP > 0 {
		set("MaxClientsPerHost", p.maxPerIP)
	}

	// Passive data connections on our reserved ports; bound to 127.0.0.1,
	// proftpd announces that address.
	set("PassivePorts", p.pasvLo, p.pasvHi)

	// Logins: the local user from our file only (mod_auth_unix still
	// resolves "ftp" for anonymous and names for listings), no PAM, no
	// /etc/ftpusers, and a nologin shell is fine.
	set("AuthOrder", "mod_auth_file.c", "mod_auth_unix.c")
	set("AuthUserFile", q(p.passwd))
	set("AuthPAM", "off")
	set("UseFtpUsers", "off")
	set("RequireValidShell", "off")
	if !p.nonChroot {
		set("DefaultRoot", "~")
	}

	// Uploads 0644 and directories 0755: readable by anonymous. Stock
	// Debian allows overwriting.
	set("Umask", "022", "022")
	set("AllowOverwrite", "on")
	// Listings: dot files even without "LIST -a", numeric ids (names would
	// be looked up inside the chroot: uid 0 shows as "ftp" in MLSD's
	// UNIX.ownername), symlinks shown as such, times in UTC.
	set("ListOptions", q("-an"))
	set("FactsOptions", "NoNames")
	set("ShowSymlinks", "on")
	set("TimesGMT", "on")
	// Names: mod_lang converts paths from the locale's charset to UTF-8
	// and drops from listings any name that does not convert, which under
	// LANG=C is every non-ASCII one. With both charsets UTF-8 it converts
	// nothing (names pass through as bytes, as on a stock install under a
	// UTF-8 locale) and still accepts OPTS UTF8 ON; "UseEncoding off"
	// would also pass names through but refuse OPTS UTF8 ON with a 451.
	set("UseEncoding", "UTF-8", "UTF-8")
	if !p.writable {
		b.WriteString("<Limit WRITE SITE_CHMOD>\n  DenyAll\n</Limit>\n")
	}

	set("SystemLog", q(p.sysLog))
	// Every command and reply, for diagnosing a failing test.
	set("LogFormat", "commands", q(`%{iso8601} [%P] %u "%r" %s %S`))
	set("ExtendedLog", q(p.cmdLog), "ALL", "commands")
	set("TransferLog", "none")

	if p.cert != "" {
		set("ModulePath", q(p.modDir))
		set("LoadModule", "mod_tls.c")
		set("TLSEngine", "on")
		set("TLSLog", q(p.tlsLog))
		set("TLSProtocol", "TLSv1.2", "TLSv1.3")
		set(p.certDirective+"File", q(p.cert))
		set(p.certDirective+"KeyFile", q(p.key))
		// Offered, never required, so plain clients share the daemon.
		set("TLSRequired", "off")
		set("TLSVerifyClient", "off")
		set("TLSRenegotiate", "none")
		// Like vsftpd, mod_tls by default requires data connections to
		// resume the control connection's TLS session, which a Go client
		// does only with a ClientSessionCache; Options.RequireSessionReuse
		// keeps that default.
		var opts []any
		if !p.requireReuse {
			opts = append(opts, "NoSessionReuseRequired")
		}
		if p.implicitTLS {
			opts = append(opts, "UseImplicitSSL")
		}
		if len(opts) > 0 {
			set("TLSOptions", opts...)
		}
	}

	// Anonymous: "anonymous" (or "ftp") with any password, chrooted into
	// Root, read-only.
	fmt.Fprintf(&b, "<Anonymous %s>\n", q(p.root))
	fmt.Fprintf(&b, "  User %s\n  Group %s\n", anonUser, p.anonGroup)
	fmt.Fprintf(&b, "  UserAlias %s %s\n", AnonymousUser, anonUser)
	b.WriteString("  RequireValidShell off\n  <Limit WRITE SITE_CHMOD>\n    DenyAll\n  </Limit>\n</Anonymous>\n")
	return b.String()
}
