#!/usr/bin/env bash
# Creates the venv of kubernetes-validate (pinned in versions.sh) at $1, by default
# <cache dir>/kube-validate-venv, unless it is complete. The package ships the Kubernetes
# JSON schemas of every release it knows, so validating needs no network once installed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.sh
. "$here/versions.sh"
cache="${AMPFED_CACHE_DIR:-$(cd "$here/.." && pwd)/target/ampfed-cache}"
venv="${1:-$cache/kube-validate-venv}"
stamp="$venv/.ampfed-pins"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$KUBE_VALIDATE_PINS" ] && [ -x "$venv/bin/kubernetes-validate" ]; then
    exit 0
fi
python="${AMPFED_PYTHON:-python3}"
if ! command -v "$python" >/dev/null 2>&1; then
    echo "error: $python not found; install Python 3 (Debian: apt-get install -y python3 python3-venv)" >&2
    exit 1
fi
if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "error: $python has no venv module; run as root: apt-get install -y python3-venv" >&2
    exit 1
fi
echo "creating the kubernetes-validate venv in $venv (pinned: $KUBE_VALIDATE_PINS)" >&2
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
"$python" -m venv "$venv"
# shellcheck disable=SC2086
"$venv/bin/pip" install --quiet --disable-pip-version-check $KUBE_VALIDATE_PINS
"$venv/bin/kubernetes-validate" --version >/dev/null
echo "$KUBE_VALIDATE_PINS" > "$stamp"
echo "kubernetes-validate venv ready" >&2
