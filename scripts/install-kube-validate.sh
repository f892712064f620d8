#!/usr/bin/env bash
# Creates the venv of kubernetes-validate (pinned in versions.sh) at $1, by default
# <cache dir>/kube-validate-venv, unless it is complete. The package ships the Kubernetes
# JSON schemas of every release it knows, so validating needs no network once installed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.sh
. "$here/versions.sh"
# shellcheck source=venv.sh
. "$here/venv.sh"
cache="${AMPFED_CACHE_DIR:-$(cd "$here/.." && pwd)/target/ampfed-cache}"
pinned_venv kubernetes-validate "${1:-$cache/kube-validate-venv}" "$KUBE_VALIDATE_PINS" \
    kubernetes-validate kubernetes-validate --version
