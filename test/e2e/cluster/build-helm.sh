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
. "$here/cache-root.sh"
# shellcheck source=go-tool.sh
. "$here/go-tool.sh"
go_tool helm "$version" "helm.sh/helm/v4/cmd/helm@$version" "-s -w -X helm.sh/helm/v4/internal/version.version=$version"
