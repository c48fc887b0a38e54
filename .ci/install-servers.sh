#!/usr/bin/env bash
# Installs the real FTP daemons that internal/ftptest/realftp drives in integration
# tests: Debian's vsftpd (installed normally), pure-ftpd (unpacked into
# /opt/ftpbridge-pureftpd) and proftpd (proftpd-core, plus
# proftpd-mod-crypto for mod_tls, unpacked into /opt/ftpbridge-proftpd),
# because the Debian packages conflict through "ftp-server" and we want all
# three on one machine.
#
# Idempotent: a second run with everything in place touches nothing and does
# not even refresh the apt lists. Prints nothing on success (apt's own noise
# goes to a log that is shown only when something fails).
set -euo pipefail

PUREFTPD_DIR=/opt/ftpbridge-pureftpd
PUREFTPD_BIN="$PUREFTPD_DIR/usr/sbin/pure-ftpd"
# Libraries pure-ftpd links against (see `apt-cache show pure-ftpd`). They are
# installed as ordinary packages since, unlike pure-ftpd itself, they do not
# conflict with vsftpd.
PUREFTPD_LIBS=(libc6 libcap2 libcrypt1 libpam0g libsodium23 libssl3)

PROFTPD_DIR=/opt/ftpbridge-proftpd
PROFTPD_BIN="$PROFTPD_DIR/usr/sbin/proftpd"
# mod_tls is not built into Debian's proftpd: it is a loadable module in
# proftpd-mod-crypto, which must be the same version as proftpd-core.
PROFTPD_MODS=("$PROFTPD_DIR/usr/lib/proftpd/mod_tls.so")
PROFTPD_PKGS=(proftpd-core proftpd-mod-crypto)
# Libraries of both (see `apt-cache show proftpd-core proftpd-mod-crypto`).
PROFTPD_LIBS=(libacl1 libc6 libcap2 libcrypt1 libhiredis0.14 libidn2-0 libmemcached11
	libmemcachedutil2 libncursesw6 libpam0g libpcre2-8-0 libpcre2-posix3 libsodium23 libssl3
	libtinfo6 zlib1g)

if [[ $(id -u) -ne 0 ]]; then
	echo "install-servers.sh: must run as root" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Wait for a concurrent apt/dpkg run (another job on the machine) instead of
# failing at once on its lock.
APT=(apt-get -o DPkg::Lock::Timeout=300)
log=$(mktemp /tmp/install-servers.XXXXXX.log)
tmp=$(mktemp -d /tmp/install-servers.XXXXXX)
cleanup_policy=""
cleanup() {
	rm -rf "$tmp"
	if [[ -n $cleanup_policy ]]; then
		rm -f /usr/sbin/policy-rc.d
	fi
}
trap cleanup EXIT

# Runs a command quietly; on failure dumps everything it said and aborts.
quiet() {
	if ! "$@" >>"$log" 2>&1; then
		echo "install-servers.sh: failed: $*" >&2
		cat "$log" >&2
		exit 1
	fi
}

pkg_installed() {
	[[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true) == installed ]]
}

pureftpd_ok() {
	[[ -x $PUREFTPD_BIN && -x $PUREFTPD_DIR/usr/bin/pure-pw ]] || return 1
	# A missing shared library shows up as "not found" in ldd output.
	! ldd "$PUREFTPD_BIN" 2>/dev/null | grep -q 'not found'
}

proftpd_ok() {
	[[ -x $PROFTPD_BIN ]] || return 1
	local f
	for f in "$PROFTPD_BIN" "${PROFTPD_MODS[@]}"; do
		[[ -f $f ]] || return 1
		! ldd "$f" 2>/dev/null | grep -q 'not found' || return 1
	done
}

# Downloads Debian packages and unpacks them, without installing them, into
# a fresh directory swapped in atomically so that a concurrently starting
# test never sees a half-unpacked tree.
unpack() {
	local dir=$1 deb
	shift
	rm -rf "$tmp"/*.deb "$dir.new"
	# _apt downloads into a directory it owns; otherwise apt warns about
	# an unsandboxed download.
	chown _apt "$tmp" 2>/dev/null || true
	(cd "$tmp" && quiet "${APT[@]}" download "$@")
	mkdir -p "$dir.new"
	for deb in "$tmp"/*.deb; do
		dpkg -x "$deb" "$dir.new"
	done
	rm -rf "$dir.old"
	if [[ -e $dir ]]; then
		mv "$dir" "$dir.old"
	fi
	mv "$dir.new" "$dir"
	rm -rf "$dir.old"
}

need_vsftpd=1
pkg_installed vsftpd && need_vsftpd=0
need_libs=()
for p in $(printf '%s\n' "${PUREFTPD_LIBS[@]}" "${PROFTPD_LIBS[@]}" | sort -u); do
	pkg_installed "$p" || need_libs+=("$p")
done
need_pureftpd=1
pureftpd_ok && need_pureftpd=0
need_proftpd=1
proftpd_ok && need_proftpd=0

if ((need_vsftpd || need_pureftpd || need_proftpd || ${#need_libs[@]})); then
	quiet "${APT[@]}" update

	if ((need_vsftpd)); then
		# The package's postinst would start a stock daemon on port 21. Our tests
		# use their own ports, but a stray daemon is still unwanted, so deny
		# service starts for the duration of the install (the Docker-style
		# policy-rc.d convention) unless the machine already has such a policy.
		if [[ ! -e /usr/sbin/policy-rc.d ]]; then
			printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
			chmod 0755 /usr/sbin/policy-rc.d
			cleanup_policy=1
		fi
		quiet "${APT[@]}" install -y --no-install-recommends vsftpd
		if [[ -n $cleanup_policy ]]; then
			rm -f /usr/sbin/policy-rc.d
			cleanup_policy=""
		fi
	fi

	if ((${#need_libs[@]})); then
		quiet "${APT[@]}" install -y --no-install-recommends "${need_libs[@]}"
	fi

	if ((need_pureftpd)); then
		unpack "$PUREFTPD_DIR" pure-ftpd
		if ! pureftpd_ok; then
			echo "install-servers.sh: unpacked pure-ftpd does not run:" >&2
			ldd "$PUREFTPD_BIN" >&2 || true
			exit 1
		fi
	fi

	if ((need_proftpd)); then
		unpack "$PROFTPD_DIR" "${PROFTPD_PKGS[@]}"
		if ! proftpd_ok; then
			echo "install-servers.sh: unpacked proftpd does not run:" >&2
			ldd "$PROFTPD_BIN" "${PROFTPD_MODS[@]}" >&2 || true
			exit 1
		fi
	fi
fi

# Without systemd nothing creates vsftpd's default secure_chroot_dir; the test
# helper uses its own, but an admin running vsftpd by hand expects this one.
mkdir -p /var/run/vsftpd/empty

# A stock vsftpd may have been started by an earlier install on a machine
# without a deny policy. Stop it through its init script, which stops only
# the process named in its pidfile, never our test daemons (the script's
# "status" is not used as it falls back to pidof, which would see them).
if [[ -x /etc/init.d/vsftpd && -s /var/run/vsftpd/vsftpd.pid ]]; then
	/etc/init.d/vsftpd stop >>"$log" 2>&1 || true
fi

rm -f "$log"
