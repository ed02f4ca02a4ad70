#!/usr/bin/env bash
# Create or refresh the project's virtual environment (.venv) with the pinned stack.
# Idempotent: on an up-to-date environment every step is a no-op. TORCH_CPU=1 installs the CPU build of torch
# from the PyTorch index instead of the default (CUDA) wheels, for machines without local wheels or a GPU. Called by `make` when
# requirements.lock, settings.ini, setup.py or this script changed (see the Makefile's .venv/.stamp).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
ver=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$ver" != "3.11" ]; then
  echo "mammo_nb needs Python 3.11 (found $ver at $PY); set PYTHON=/path/to/python3.11" >&2; exit 1
fi
pip_() { # run pip; show its output only when it fails (minus warnings about missing local index folders)
  local log; log=$(mktemp)
  if ! "$VENV/bin/python" -m pip --disable-pip-version-check "$@" >"$log" 2>&1; then
    grep -v '^WARNING: Location' "$log" >&2; rm -f "$log"; echo "setup failed: pip $*" >&2; exit 1
  fi
  rm -f "$log"
}
pin() { grep -i -m1 "^$1==" requirements.lock || { echo "no pin for $1 in requirements.lock" >&2; exit 1; }; }

[ -x "$VENV/bin/python" ] || { echo "creating $VENV with $PY"; "$PY" -m venv "$VENV"; }
echo "installing the pinned stack into $VENV (first run: a few minutes; afterwards: seconds)"
pip_ install -q "pip==26.3"
# 1. torch first (local wheels on the project's machines), 2. numpy + build tools, 3. pyradiomics, whose
#    setup imports numpy, without build isolation, 4. everything else at its exact pin, 5. this package.
LOCK=requirements.lock
if [ "${TORCH_CPU:-0}" = "1" ]; then
  # CPU-only torch from the PyTorch CPU index (e.g. GitHub runners): drop the CUDA runtime pins.
  export PIP_EXTRA_INDEX_URL="https://download.pytorch.org/whl/cpu ${PIP_EXTRA_INDEX_URL:-}"
  LOCK=$(mktemp); grep -v -i -E '^(nvidia-|triton==|cuda-)' requirements.lock > "$LOCK"
fi
pip_ install -q "$(pin torch)" "$(pin torchvision)"
pip_ install -q "$(pin numpy)" "setuptools==84.2.1" "wheel==0.48.0"
pip_ install -q --no-build-isolation "pyradiomics==3.0.1"
pip_ install -q -r "$LOCK"
pip_ install -q --no-build-isolation --no-deps -e .
pip_ check
# A Jupyter kernel for this environment, inside it (`make lab` sees it; another clone has its own, and a deleted clone
# leaves no kernel behind that points at it; named apart from the per-user `mammo_nb` kernel that older set-ups
# registered, which would shadow it). Another Jupyter can register it per user with a name of its own:
#   .venv/bin/python -m ipykernel install --user --name mammo_nb-NAME
"$VENV/bin/python" -m ipykernel install --sys-prefix --name mammo_nb-venv --display-name "Python 3 (mammo_nb: $(pwd))" >/dev/null
echo "environment ready: $VENV ($("$VENV/bin/python" -c 'import mammo_nb; print("mammo_nb", mammo_nb.__version__)'))"
