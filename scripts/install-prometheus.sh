#!/usr/bin/env bash
# Installs Debian's prometheus package when no prometheus binary is on PATH, and leaves no
# system Prometheus service running or enabled: the package's service listens on every
# interface without authentication, and the harness starts its own Prometheus on 127.0.0.1.
# Needs root (or sudo) and apt-get; otherwise prints the command to run and fails.
#
# During the install a policy-rc.d denies every service start (invoke-rc.d and
# deb-systemd-invoke ask it); a policy-rc.d the host had is put back afterwards. Where systemd
# runs, the package's units are then stopped and disabled, also when Prometheus was installed
# before. Tests point the system paths elsewhere: AMPFED_POLICY_RC_D, AMPFED_SYSTEMD_DIR.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.sh
. "$here/versions.sh"

policy_rc_d="${AMPFED_POLICY_RC_D:-/usr/sbin/policy-rc.d}"
saved_policy="$policy_rc_d.ampfed-saved"
systemd_dir="${AMPFED_SYSTEMD_DIR:-/run/systemd/system}"
# The package's unit, and the node exporter it recommends (not installed here, as recommends
# are off, but stopped too if an earlier install brought it).
units=(prometheus.service prometheus-node-exporter.service)
policy_marker="# ampfed: deny service starts while install-prometheus.sh installs"

sudo=""
need_root() {
    if [ "$(id -u)" = 0 ]; then
        return 0
    fi
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo="sudo"
        return 0
    fi
    return 1
}

as_root() {
    if [ -n "$sudo" ]; then
        "$sudo" "$@"
    else
        "$@"
    fi
}

# Like sd_booted(3), or systemctl answering for a running manager ("offline" means none).
has_systemd() {
    if [ -d "$systemd_dir" ]; then
        return 0
    fi
    command -v systemctl >/dev/null 2>&1 || return 1
    local state
    state="$(systemctl is-system-running 2>/dev/null || true)"
    case "$state" in
    "" | offline | unknown) return 1 ;;
    *) return 0 ;;
    esac
}

# Stops and disables every package unit that runs or is enabled, and says so.
disable_system_services() {
    has_systemd || return 0
    local unit active enabled
    for unit in "${units[@]}"; do
        active="$(systemctl is-active "$unit" 2>/dev/null || true)"
        enabled="$(systemctl is-enabled "$unit" 2>/dev/null || true)"
        case "$active" in active | activating | reloading) ;; *) active="" ;; esac
        case "$enabled" in enabled* | linked*) ;; *) enabled="" ;; esac
        if [ -z "$active" ] && [ -z "$enabled" ]; then
            continue
        fi
        if ! need_root; then
            echo "warning: the system service $unit is ${active:-inactive} and ${enabled:-not enabled}; it listens on every interface without authentication. Run as root: systemctl disable --now $unit" >&2
            continue
        fi
        as_root systemctl disable --now "$unit"
        echo "stopped and disabled $unit (it was ${active:-inactive}, ${enabled:-not enabled}): the harness runs its own Prometheus on 127.0.0.1" >&2
    done
}

# Puts back the host's policy-rc.d (or none) in place of ours.
restore_policy() {
    if [ -f "$policy_rc_d" ] && grep -qF "$policy_marker" "$policy_rc_d"; then
        as_root rm -f "$policy_rc_d"
    fi
    if [ -e "$saved_policy" ] || [ -L "$saved_policy" ]; then
        if [ -e "$policy_rc_d" ] || [ -L "$policy_rc_d" ]; then
            echo "warning: $policy_rc_d was replaced since ampfed saved it as $saved_policy; keeping both" >&2
        else
            as_root mv "$saved_policy" "$policy_rc_d"
        fi
    fi
}

# Makes invoke-rc.d and deb-systemd-invoke refuse every start until restore_policy runs.
deny_service_starts() {
    # A run killed during its install left its policy (and maybe the host's, saved) behind.
    restore_policy
    if [ -e "$policy_rc_d" ] || [ -L "$policy_rc_d" ]; then
        as_root mv "$policy_rc_d" "$saved_policy"
    fi
    trap restore_policy EXIT
    trap 'exit 129' HUP
    trap 'exit 130' INT
    trap 'exit 143' TERM
    printf '#!/bin/sh\n%s\nexit 101\n' "$policy_marker" | as_root tee "$policy_rc_d" >/dev/null
    as_root chmod 755 "$policy_rc_d"
}

if command -v prometheus >/dev/null 2>&1; then
    disable_system_services
    exit 0
fi
install_cmd="apt-get update && apt-get install -y --no-install-recommends prometheus"
if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: prometheus is not installed and this machine has no apt-get." >&2
    echo "  install Prometheus >= $PROMETHEUS_MIN_MAJOR_MINOR so that 'prometheus' is on PATH, then run again" >&2
    exit 1
fi
if ! need_root; then
    echo "error: prometheus is not installed; run as root: $install_cmd" >&2
    exit 1
fi
echo "installing Prometheus: $install_cmd (service starts denied meanwhile)" >&2
export DEBIAN_FRONTEND=noninteractive
deny_service_starts
as_root apt-get update -qq
as_root apt-get install -y -qq --no-install-recommends prometheus >/dev/null
restore_policy
trap - EXIT HUP INT TERM
# The package enabled its unit even though nothing started it.
disable_system_services
command -v prometheus >/dev/null
prometheus --version 2>&1 | head -n 1 >&2
