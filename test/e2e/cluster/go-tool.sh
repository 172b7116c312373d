# Sourced by the build scripts of Go tools: installs a command from the Go module proxy into the cache, by tool and
# version, once; a rerun with the binary present takes no time. Prints the binary's path on its last line.
# Usage (after setting cache_root): go_tool NAME VERSION PACKAGE@VERSION [LDFLAGS]
# shellcheck shell=bash
go_tool() {
  local name=$1 version=$2 package=$3 ldflags=${4:-"-s -w"}
  local bin="$cache_root/$name/$version/$name"
  if [ -x "$bin" ]; then
    echo "$name $version: cached in $bin" >&2
    echo "$bin"
    return 0
  fi
  command -v go >/dev/null || { echo "go is required to build $name" >&2; return 1; }
  local started
  started=$(date +%s)
  mkdir -p "$(dirname "$bin")"
  echo "building $name $version from the Go module proxy (first run only)" >&2
  GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 GOBIN="$(dirname "$bin").partial" go install -trimpath -ldflags "$ldflags" "$package"
  mv "$(dirname "$bin").partial/$name" "$bin"
  rmdir "$(dirname "$bin").partial"
  echo "$name $version built in $(( $(date +%s) - started ))s" >&2
  echo "$bin"
}
