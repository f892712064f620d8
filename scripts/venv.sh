# The one way the install scripts make a pinned Python venv; sourced, not run.
#
# pinned_venv LABEL VENV PINS EXECUTABLE CHECK...
#   Leaves VENV alone when it was made from exactly PINS and VENV/bin/EXECUTABLE exists;
#   otherwise (re)creates it with $AMPFED_PYTHON (default python3), installing python3-venv
#   with apt-get when run as root on Debian and the venv module is missing, pip-installs PINS,
#   runs CHECK (a command, relative names resolved in VENV/bin) and records PINS.
pinned_venv() {
    local label="$1" venv="$2" pins="$3" executable="$4"
    shift 4
    local stamp="$venv/.ampfed-pins"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$pins" ] && [ -x "$venv/bin/$executable" ]; then
        return 0
    fi
    local python="${AMPFED_PYTHON:-python3}"
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
    echo "creating the $label venv in $venv (pinned: $pins)" >&2
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    "$python" -m venv "$venv"
    # shellcheck disable=SC2086
    "$venv/bin/pip" install --quiet --disable-pip-version-check $pins
    local check="$1"
    shift
    "$venv/bin/$check" "$@" >/dev/null
    echo "$pins" > "$stamp"
    echo "$label venv ready" >&2
}
