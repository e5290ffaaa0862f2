#!/usr/bin/env bash
# Install AutoRSA (PyPI package auto-rsa-bot) in its own virtual environment,
# beside tradefleet, and print the AUTORSA_BIN to set.
#
# AutoRSA is a separate tool run as a subprocess, never imported: it pins many
# dependencies and declares Python >= 3.12. On Python 3.11 it still runs when
# installed in three steps (shared/reference/autorsa.md, section 6):
#   1. the wheel alone, --no-deps --ignore-requires-python;
#   2. its pinned direct requirements the same way;
#   3. those requirements again with a plain `pip install -r`, so their own
#      dependencies resolve normally.
#
# Usage: scripts/install_autorsa.sh [VENV_DIR]
#   VENV_DIR            default ./var/autorsa-venv (or $AUTORSA_VENV)
#   AUTORSA_PYTHON      interpreter to build the venv with (default: python3.12,
#                       else python3.11, else python3)
#   AUTORSA_VERSION     package version (default 2.2.0, the version tradefleet parses)
#
# Browser brokerages (Chase, Fidelity, Schwab, SoFi, Tornado, Vanguard, Wells
# Fargo) also need Firefox/Chromium for Playwright or Selenium on the worker
# that runs them, e.g. "$VENV_DIR/bin/playwright install firefox".
# AutoRSA's start-up version check must reach pypi.org, or every run exits 1.
set -euo pipefail

# Everything but the final AUTORSA_BIN line goes to stderr, so
# `eval "$(scripts/install_autorsa.sh)"` or `>> .env` captures just that line.
exec 3>&1 1>&2

VENV_DIR="${1:-${AUTORSA_VENV:-./var/autorsa-venv}}"
VERSION="${AUTORSA_VERSION:-2.2.0}"
PACKAGE="auto-rsa-bot==${VERSION}"

pick_python() {
    if [[ -n "${AUTORSA_PYTHON:-}" ]]; then
        echo "$AUTORSA_PYTHON"
        return
    fi
    local candidate
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return
        fi
    done
    echo "install_autorsa: no Python >= 3.11 found (set AUTORSA_PYTHON)" >&2
    exit 1
}

PYTHON="$(pick_python)"
echo "install_autorsa: creating $VENV_DIR with $("$PYTHON" --version 2>&1)" >&2
"$PYTHON" -m venv "$VENV_DIR"
PIP=("$VENV_DIR/bin/python" -m pip --disable-pip-version-check)
"${PIP[@]}" install --quiet --upgrade pip wheel

if "$VENV_DIR/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then
    "${PIP[@]}" install "$PACKAGE"
else
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    # 1. The wheel alone: it declares Requires-Python >= 3.12.
    "${PIP[@]}" download --quiet --no-deps --ignore-requires-python -d "$work" "$PACKAGE"
    wheel="$(ls "$work"/*.whl)"
    "${PIP[@]}" install --no-deps --ignore-requires-python "$wheel"
    # 2. Its pinned direct requirements, read from the wheel's metadata
    #    (extras-only requirements are left out).
    "$VENV_DIR/bin/python" - "$wheel" > "$work/requirements.txt" <<'PY'
import sys
import zipfile

with zipfile.ZipFile(sys.argv[1]) as wheel:
    name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    metadata = wheel.read(name).decode()
for line in metadata.splitlines():
    if line.startswith("Requires-Dist:"):
        requirement = line.split(":", 1)[1].strip()
        if "extra ==" not in requirement:
            print(requirement)
PY
    echo "install_autorsa: $(wc -l < "$work/requirements.txt") direct requirements" >&2
    "${PIP[@]}" install --no-deps --ignore-requires-python -r "$work/requirements.txt"
    # 3. The same requirements again, so their own dependencies resolve normally.
    "${PIP[@]}" install -r "$work/requirements.txt"
fi

BIN="$(cd "$VENV_DIR/bin" && pwd)/auto_rsa_bot"
if [[ ! -x "$BIN" ]]; then
    echo "install_autorsa: $BIN was not installed" >&2
    exit 1
fi
echo "install_autorsa: installed; set this for the workers:" >&2
echo "AUTORSA_BIN=$BIN" >&3
