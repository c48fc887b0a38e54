#!/usr/bin/env bash
# The side-by-side benchmark in one command (as root, on a Debian machine
# with Go): installs vsftpd and rclone, then measures direct FTP, the bridge
# and rclone's gateways, at loopback and 20 ms from the FTP server (through
# internal/ftptest/delayproxy), and writes BENCHMARKS.md and BENCHMARKS.png.
# About 15 to 20 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=auto # the toolchain go.mod names
bash .ci/install-servers.sh
for tool in rclone curl; do
	command -v "$tool" >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool"
done
FTPBRIDGE_BENCH=1 go test ./bench -run '^TestSideBySide$' -count=1 -v -timeout 60m
echo "wrote BENCHMARKS.md"
