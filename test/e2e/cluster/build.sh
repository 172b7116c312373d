#!/usr/bin/env bash
# Builds kube-apiserver and etcd from the Go module proxy into .cache/e2e/<version>/bin, once per
# pinned version (versions.env); a rerun with the binaries present takes no time.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
cache="$root/.cache/e2e/$KUBERNETES_VERSION"
bin="$cache/bin"
if [ -x "$bin/kube-apiserver" ] && [ -x "$bin/etcd" ]; then
  echo "e2e cluster binaries: cached in $bin"
  exit 0
fi
command -v go >/dev/null || { echo "go is required to build kube-apiserver and etcd" >&2; exit 1; }
started=$(date +%s)
mkdir -p "$bin"
"$here/gen-go-mod.sh" "$cache/src"
cd "$cache/src"
minor=${KUBERNETES_VERSION#v1.}
minor=${minor%%.*}
# The version kube-apiserver reports (and that kubectl checks for skew) is stamped at link time.
ldflags="-s -w \
  -X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION \
  -X k8s.io/component-base/version.gitMajor=1 \
  -X k8s.io/component-base/version.gitMinor=$minor \
  -X k8s.io/client-go/pkg/version.gitVersion=$KUBERNETES_VERSION \
  -X k8s.io/client-go/pkg/version.gitMajor=1 \
  -X k8s.io/client-go/pkg/version.gitMinor=$minor"
echo "building kube-apiserver $KUBERNETES_VERSION and etcd from the Go module proxy (first run only; several minutes)"
GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$bin/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin/etcd" go.etcd.io/etcd/server/v3
echo "e2e cluster binaries built in $(( $(date +%s) - started ))s: $("$bin/kube-apiserver" --version), etcd $("$bin/etcd" --version | head -1 | awk '{print $3}')"
