#!/usr/bin/env bash
# Creates the AWS CLI v1 venv (pinned in versions.sh, every dependency included) at $1, by
# default <cache dir>/awscli-venv, unless it is complete. The `cargo xtask up` tests run it
# against the mocks with nothing but the exported AWS_ENDPOINT_URL_<SERVICE> variables, which
# botocore reads since 1.31 (awscli 1.29): 1.33 has them and `aws amp`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.sh
. "$here/versions.sh"
# shellcheck source=venv.sh
. "$here/venv.sh"
cache="${AMPFED_CACHE_DIR:-$(cd "$here/.." && pwd)/target/ampfed-cache}"
pinned_venv "AWS CLI" "${1:-$cache/awscli-venv}" "$AWSCLI_PINS" aws aws --version
