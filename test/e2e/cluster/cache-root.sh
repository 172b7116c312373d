# Sourced by the build scripts: where built tools are cached, outside any clone, by tool and version.
# STORAGE_POLICY_CACHE overrides it (test/e2e/harness.ts reads the same variables).
# shellcheck shell=bash
cache_root=${STORAGE_POLICY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/storage-policy-webhook}
