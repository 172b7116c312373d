#!/usr/bin/env bash
# Fetches the Prometheus Operator's module from the Go module proxy (into the Go module cache, outside any clone) and
# prints the folder of its CRDs on the last line: monitoring.coreos.com_servicemonitors.yaml, ..._prometheusrules.yaml.
# Usage: prometheus-operator-crds.sh [VERSION]   (default: PROMETHEUS_OPERATOR_VERSION from versions.env)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
version=${1:-$PROMETHEUS_OPERATOR_VERSION}
command -v go >/dev/null || { echo "go is required to fetch the Prometheus Operator's CRDs" >&2; exit 1; }
dir=$(GOFLAGS=-mod=mod go mod download -json "github.com/prometheus-operator/prometheus-operator@$version" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
crds="$dir/example/prometheus-operator-crd"
[ -f "$crds/monitoring.coreos.com_prometheusrules.yaml" ] || { echo "no CRDs in $crds" >&2; exit 1; }
echo "$crds"
