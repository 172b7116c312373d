#!/usr/bin/env bash
# Builds helm from the Go module proxy into ${STORAGE_POLICY_CACHE:-~/.cache/storage-policy-webhook}/helm/<version>/
# once per version; a rerun with the binary present takes no time. Prints the binary's path on its last line.
# Usage: build-helm.sh [VERSION]   (default: HELM_VERSION from versions.env)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
version=${1:-$HELM_VERSION}
# shellcheck source=cache-root.sh
. "$(dirname "$0")/cache-root.sh"
bin="$cache_root/helm/$version/helm"
if [ -x "$bin" ]; then
  echo "helm $version: cached in $bin" >&2
  echo "$bin"
  exit 0
fi
command -v go >/dev/null || { echo "go is required to build helm" >&2; exit 1; }
started=$(date +%s)
mkdir -p "$(dirname "$bin")"
echo "building helm $version from the Go module proxy (first run only)" >&2
GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 GOBIN="$(dirname "$bin").partial" go install -trimpath -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$version" "helm.sh/helm/v4/cmd/helm@$version"
mv "$(dirname "$bin").partial/helm" "$bin"
rmdir "$(dirname "$bin").partial"
echo "helm $version built in $(( $(date +%s) - started ))s" >&2
echo "$bin"
