#!/usr/bin/env bash
# Creates the AWS CLI v1 venv (pinned below, every dependency included) at $1, by default
# <cache dir>/awscli-venv, unless it is complete. The `cargo xtask up` tests run it against the
# mocks with nothing but the exported AWS_ENDPOINT_URL_<SERVICE> variables, which botocore
# reads since 1.31 (awscli 1.29): 1.33 has them and `aws amp`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.sh
. "$here/versions.sh"
# Pinned here until versions.sh (which this script sources) takes them over.
AWSCLI_PINS="${AWSCLI_PINS:-awscli==1.33.44 botocore==1.34.162 s3transfer==0.10.4 docutils==0.16 PyYAML==6.0.4 colorama==0.4.6 rsa==4.7.2 pyasn1==0.6.5 jmespath==1.1.0 python-dateutil==2.9.0.post0 six==1.17.0 urllib3==2.8.0}"
cache="${AMPFED_CACHE_DIR:-$(cd "$here/.." && pwd)/target/ampfed-cache}"
venv="${1:-$cache/awscli-venv}"
stamp="$venv/.ampfed-pins"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$AWSCLI_PINS" ] && [ -x "$venv/bin/aws" ]; then
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
echo "creating the AWS CLI venv in $venv (pinned: $AWSCLI_PINS)" >&2
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
"$python" -m venv "$venv"
# shellcheck disable=SC2086
"$venv/bin/pip" install --quiet --disable-pip-version-check $AWSCLI_PINS
"$venv/bin/aws" --version >/dev/null
echo "$AWSCLI_PINS" > "$stamp"
echo "AWS CLI venv ready" >&2
