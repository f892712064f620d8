#!/usr/bin/env bash
# The supply-chain gate: installs cargo-deny (pinned in versions.sh) into
# <cache dir>/tools unless it is there, then checks licenses, bans and sources against
# deny.toml. `advisories` needs the advisory database, a git repository this machine cannot
# fetch; pass `advisories` as an argument where GitHub is reachable.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.sh
. "$here/versions.sh"
root="$(cd "$here/.." && pwd)"
cache="${AMPFED_CACHE_DIR:-$root/target/ampfed-cache}"
tools="$cache/tools"
deny="$tools/bin/cargo-deny"
if ! [ -x "$deny" ] || [ "$("$deny" --version 2>/dev/null)" != "cargo-deny $CARGO_DENY_VERSION" ]; then
    echo "installing cargo-deny $CARGO_DENY_VERSION into $tools (a few minutes, once)" >&2
    cargo install --quiet --locked --root "$tools" "cargo-deny@$CARGO_DENY_VERSION"
fi
cd "$root"
checks=("licenses" "bans" "sources" "$@")
exec "$deny" check "${checks[@]}"
