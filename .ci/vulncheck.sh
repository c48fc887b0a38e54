#!/usr/bin/env bash
# govulncheck, with its database built from the golang.org/x/vulndb module
# (the Go module proxy is reachable here, vuln.go.dev is not). Fails on any
# finding that is not triaged in the code by a comment of the form
#   // vuln-triaged: GO-YYYY-NNNN <why it is safe>
# Versions are pinned so a run is repeatable; raise them to learn of newer
# advisories.
set -euo pipefail
cd "$(dirname "$0")/.."

VULNDB_VERSION=v0.0.0-20261105234957-e22db6528018
GOVULNCHECK_VERSION=v1.9.0

db=/tmp/ftpbridge-vulndb-$VULNDB_VERSION
if [[ ! -f $db/index/db.json ]]; then
	src=$(go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	rm -rf "$db.tmp"
	go run "golang.org/x/vulndb/cmd/indexdb@$VULNDB_VERSION" -vulns "$src/data/osv" -out "$db.tmp"
	mv "$db.tmp" "$db"
fi

# Installed, not "go run": go run turns the exit status 3 into 1.
tools=/tmp/ftpbridge-tools
GOBIN=$tools go install "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION"
out=$(mktemp)
status=0
"$tools/govulncheck" -db "file://$db" ./... >"$out" 2>&1 || status=$?
# 0: nothing found; 3: vulnerabilities found; anything else: it failed.
if [[ $status -ne 0 && $status -ne 3 ]]; then
	cat "$out"
	exit 1
fi
found=$(grep -oE '^Vulnerability #[0-9]+: GO-[0-9]+-[0-9]+' "$out" | awk '{print $3}' | sort -u)
triaged=$(grep -rhoE 'vuln-triaged: GO-[0-9]+-[0-9]+' --include='*.go' . | awk '{print $2}' | sort -u)
untriaged=$(comm -23 <(echo "$found") <(echo "$triaged") | sed '/^$/d')
if [[ -n $untriaged ]]; then
	cat "$out"
	echo "govulncheck: not triaged: $untriaged" >&2
	exit 1
fi
echo "govulncheck: $(echo "$found" | sed '/^$/d' | wc -l) finding(s), all triaged in the code"
