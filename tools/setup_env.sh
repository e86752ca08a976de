#!/usr/bin/env bash
# Create .venv with the pinned toolchain if it is absent (idempotent; safe to rerun).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
stamp="$venv/.asrflow-installed"
if [[ -f "$stamp" && "$stamp" -nt "$root/pyproject.toml" ]]; then
  exit 0
fi
py="${PYTHON:-python3.11}"
command -v "$py" >/dev/null || { echo "error: $py not found; asrflow needs Python 3.11" >&2; exit 1; }
echo "[setup] creating $venv (torch 1.13.1 + k2 + Kaldi wheels; ~4 GB, a few minutes)" >&2
[[ -d "$venv" ]] || "$py" -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
# newer pip rejects k2's wheel file names
"${pip[@]}" install -q 'pip<26.3'
"${pip[@]}" install -q -r "$root/requirements/base.txt"
"${pip[@]}" install -q --no-deps -r "$root/requirements/k2.txt"
"${pip[@]}" install -q -e "$root[dev]"
touch "$stamp"
echo "[setup] done" >&2
