#!/usr/bin/env bash
# Creates .venv with pinned dependencies and installs Debian's libLLVM 19 (for Mitsuba's fast
# llvm variant) where apt-get is available. Idempotent: a second run only checks.
#   bash scripts/setup.sh --cycles     (or NEURECON_CYCLES=1) also installs Blender as a module
#   (bpy==4.5.4, ~950 MB) for Cycles renders: `neurecon render --renderer cycles`, `--blend FILE`.
set -euo pipefail
CYCLES=${NEURECON_CYCLES:-0}
for arg in "$@"; do
  case "$arg" in
    --cycles) CYCLES=1 ;;
    *) echo "setup: unknown option $arg (known: --cycles)" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
if command -v apt-get >/dev/null 2>&1 && ! ls /usr/lib/*/libLLVM-19.so* >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  ($SUDO apt-get update -qq && $SUDO apt-get install -y -qq libllvm19) >/dev/null 2>&1 \
    || echo "setup: libllvm19 not installed; Mitsuba will fall back to its slower scalar variant" >&2
fi
# Debian's Chromium for the report pages' browser tests (Playwright drives /usr/bin/chromium; it never
# downloads a browser of its own). Without it those tests skip, saying why.
if command -v apt-get >/dev/null 2>&1 && ! [ -x /usr/bin/chromium ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  ($SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium) >/dev/null 2>&1 \
    || echo "setup: chromium not installed; the browser tests will be skipped" >&2
fi
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e . 2>&1 | grep -v "^WARNING: Location" || true
if [ "$CYCLES" = 1 ]; then
  # --no-deps: bpy's metadata pins numpy<2, which would downgrade the numpy torch needs; bpy renders
  # with numpy 2 (pyproject.toml, extra `cycles`)
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps bpy==4.5.4 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -c "import importlib.util as u; assert u.find_spec('bpy'), 'bpy not installed'; print('setup: bpy 4.5.4 (Cycles) installed')"
fi
.venv/bin/python -c "import neurecon, torch; print('setup: neurecon', neurecon.__version__, 'torch', torch.__version__)"
