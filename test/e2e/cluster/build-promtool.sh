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
# shellcheck source=go-tool.sh
. "$here/go-tool.sh"
go_tool promtool "$version" "github.com/prometheus/prometheus/cmd/promtool@$version"
