#!/usr/bin/env bash
# Builds promtool (github.com/prometheus/prometheus/cmd/promtool) from the Go module proxy into
# ${STORAGE_POLICY_CACHE:-~/.cache/storage-policy-webhook}/promtool/<version>/ once per version; a rerun with the
# binary present takes no time. Prints the binary's path on its last line.
# Usage: build-promtool.sh [VERSION]   (default: PROMTOOL_VERSION from versions.env; Prometheus v3.x is module v0.3xx)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
version=${1:-$PROMTOOL_VERSION}
# shellcheck source=cache-root.sh
. "$here/cache-root.sh"
bin="$cache_root/promtool/$version/promtool"
if [ -x "$bin" ]; then
  echo "promtool $version: cached in $bin" >&2
  echo "$bin"
  exit 0
fi
command -v go >/dev/null || { echo "go is required to build promtool" >&2; exit 1; }
started=$(date +%s)
mkdir -p "$(dirname "$bin")"
echo "building promtool $version from the Go module proxy (first run only)" >&2
GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 GOBIN="$(dirname "$bin").partial" go install -trimpath -ldflags "-s -w" "github.com/prometheus/prometheus/cmd/promtool@$version"
mv "$(dirname "$bin").partial/promtool" "$bin"
rmdir "$(dirname "$bin").partial"
echo "promtool $version built in $(( $(date +%s) - started ))s" >&2
echo "$bin"
