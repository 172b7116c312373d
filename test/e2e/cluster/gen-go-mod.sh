#!/usr/bin/env bash
# Writes go.mod for building kube-apiserver and etcd from the Go module proxy.
# k8s.io/kubernetes requires its staging modules at v0.0.0 and resolves them with replace
# lines that only apply inside its own repository, so a consumer must map each one to its
# published version.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
out=${1:-$here/build}
mkdir -p "$out"
staging=(api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider
  cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api
  cri-client csi-translation-lib dynamic-resource-allocation endpointslice externaljwt kms
  kube-aggregator kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics
  mount-utils pod-security-admission sample-apiserver sample-cli-plugin sample-controller)
{
  echo "module storage-policy-webhook/e2e-cluster"
  echo
  echo "go 1.23"
  echo
  echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
  echo
  echo "replace ("
  for m in "${staging[@]}"; do echo "	k8s.io/$m => k8s.io/$m $KUBERNETES_STAGING_VERSION"; done
  echo ")"
} >"$out/go.mod"
cat >"$out/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
GO
