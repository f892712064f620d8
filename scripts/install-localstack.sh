#!/usr/bin/env bash
# Creates the LocalStack venv at $1 (pinned versions from versions.sh) unless it is complete;
# creating it takes 1-2 minutes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.sh
. "$here/versions.sh"
# shellcheck source=venv.sh
. "$here/venv.sh"
venv="${1:?usage: install-localstack.sh <venv dir>}"
pinned_venv LocalStack "$venv" "$LOCALSTACK_PINS" localstack python -c 'import localstack.runtime.main'
