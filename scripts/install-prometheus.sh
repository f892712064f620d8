#!/usr/bin/env bash
# Installs Debian's prometheus package when no prometheus binary is on PATH.
# Needs root (or sudo) and apt-get; otherwise prints the command to run and fails.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.sh
. "$here/versions.sh"

if command -v prometheus >/dev/null 2>&1; then
    exit 0
fi
install_cmd="apt-get update && apt-get install -y --no-install-recommends prometheus"
if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: prometheus is not installed and this machine has no apt-get." >&2
    echo "  install Prometheus >= $PROMETHEUS_MIN_MAJOR_MINOR so that 'prometheus' is on PATH, then run again" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo="sudo"
    else
        echo "error: prometheus is not installed; run as root: $install_cmd" >&2
        exit 1
    fi
fi
echo "installing Prometheus: $install_cmd" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null
# The package registers a service; no init system runs it here, and the harness starts its own.
command -v prometheus >/dev/null
prometheus --version 2>&1 | head -n 1 >&2
