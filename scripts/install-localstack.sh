#!/usr/bin/env bash
# Creates the LocalStack venv at $1 (pinned versions from versions.sh) unless it is complete.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.sh
. "$here/versions.sh"
venv="${1:?usage: install-localstack.sh <venv dir>}"
stamp="$venv/.ampfed-pins"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$LOCALSTACK_PINS" ] && [ -x "$venv/bin/localstack" ]; then
    exit 0
fi
python="${AMPFED_PYTHON:-python3}"
if ! command -v "$python" >/dev/null 2>&1; then
    echo "error: $python not found; install Python 3.11 (Debian: apt-get install -y python3 python3-venv)" >&2
    exit 1
fi
if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing python3-venv (apt-get)" >&2
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    else
        echo "error: $python has no venv module; run as root: apt-get install -y python3-venv" >&2
        exit 1
    fi
fi
echo "creating the LocalStack venv in $venv (pinned: $LOCALSTACK_PINS); this takes 1-2 minutes" >&2
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
"$python" -m venv "$venv"
# shellcheck disable=SC2086
"$venv/bin/pip" install --quiet --disable-pip-version-check $LOCALSTACK_PINS
"$venv/bin/python" -c 'import localstack.runtime.main' 
echo "$LOCALSTACK_PINS" > "$stamp"
echo "LocalStack venv ready" >&2
