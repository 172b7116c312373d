#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kubectl and etcd of one Kubernetes release from the Go module proxy into
# ${STORAGE_POLICY_CACHE:-~/.cache/storage-policy-webhook}/kubernetes/<version>/bin, once per version: a
# rerun with the binaries present takes no time, and a fresh clone on the same machine reuses them.
# Usage: build.sh VERSION   (prints the bin directory on its last line)
set -euo pipefail
version=${1:?usage: build.sh VERSION (e.g. v1.37.2)}
minor=${version#v1.}
minor=${minor%%.*}
staging_version="v0.${version#v1.}"
# shellcheck source=cache-root.sh
. "$(dirname "$0")/cache-root.sh"
cache="$cache_root/kubernetes/$version"
bin="$cache/bin"
tools="kube-apiserver kube-controller-manager kubectl etcd"
missing=""
for tool in $tools; do [ -x "$bin/$tool" ] || missing="$missing $tool"; done
if [ -z "$missing" ]; then
  echo "kubernetes $version: cached in $bin" >&2
  echo "$bin"
  exit 0
fi
command -v go >/dev/null || { echo "go is required to build$missing" >&2; exit 1; }
started=$(date +%s)
src="$cache/src"
mkdir -p "$bin" "$src"
cd "$src"

# k8s.io/kubernetes requires its staging modules at v0.0.0 and resolves them with replace lines that
# only apply inside its own repository. The list grows between minors, so read it from that release's
# go.mod rather than keeping it by hand, and map each module to its published v0.<minor>.<patch>.
gomod=$(go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
[ -n "$gomod" ] || { echo "k8s.io/kubernetes@$version: not served by the Go module proxy" >&2; exit 1; }
go_directive=$(awk '$1 == "go" {print $2; exit}' "$gomod")
staging=$(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$gomod")
{
  echo "module storage-policy-webhook/e2e-cluster"
  echo
  echo "go $go_directive"
  echo
  echo "require k8s.io/kubernetes $version"
  echo
  echo "replace ("
  for module in $staging; do echo "	$module => $module $staging_version"; done
  echo ")"
} >go.mod
cat >tools.go <<'GO'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
# The version the binaries report (and that kubectl checks for skew) is stamped at link time.
stamp="-X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
stamp="$stamp -X k8s.io/client-go/pkg/version.gitVersion=$version -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
echo "building$missing $version from the Go module proxy (first run only; several minutes)" >&2
export GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0
for tool in $missing; do
  case $tool in
    etcd) go build -trimpath -ldflags "-s -w" -o "$bin/etcd.partial" go.etcd.io/etcd/server/v3 ;;
    *) go build -trimpath -ldflags "-s -w $stamp" -o "$bin/$tool.partial" "k8s.io/kubernetes/cmd/$tool" ;;
  esac
  # Renamed only once built, so an interrupted build is never taken for a cached binary.
  mv "$bin/$tool.partial" "$bin/$tool"
done
echo "kubernetes $version built in $(( $(date +%s) - started ))s: $("$bin/kube-apiserver" --version), kubectl $("$bin/kubectl" version --client 2>/dev/null | head -1 | awk '{print $3}'), etcd $("$bin/etcd" --version | head -1 | awk '{print $3}')" >&2
echo "$bin"
