#!/usr/bin/env bash
# Creates the pyarrow venv (pinned in versions.sh) at $1, by default <cache dir>/pyarrow-venv,
# unless it is complete. The API's pyarrow test (crates/api/tests/api/pyarrow.rs) runs
# scripts/pyarrow-bucket-totals.py with it against the embedded S3 server. pyarrow's wheel
# carries its S3 client (the AWS C++ SDK) and needs no other package: one wheel of about
# 55 MB, only from a binary wheel (never a source build), in about 10 seconds.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.sh
. "$here/versions.sh"
# shellcheck source=venv.sh
. "$here/venv.sh"
cache="${AMPFED_CACHE_DIR:-$(cd "$here/.." && pwd)/target/ampfed-cache}"
# Wheels only, and a bounded wait on a slow index.
export PIP_ONLY_BINARY=":all:" PIP_DEFAULT_TIMEOUT="${PIP_DEFAULT_TIMEOUT:-60}"
pinned_venv pyarrow "${1:-$cache/pyarrow-venv}" "$PYARROW_PINS" python \
    python -c 'import pyarrow.dataset, pyarrow.fs, pyarrow.parquet; pyarrow.fs.S3FileSystem'
