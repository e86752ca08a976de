#!/usr/bin/env bash
# Run a recipe end to end (default: the offline synth_digits recipe). Arguments go to Snakemake, e.g.
#   ./run.sh --cores 2 --configfile conf/yesno.yaml --config corpus_dir=../shared/corpora/yesno
set -euo pipefail
cd "$(dirname "$0")"
tools/setup_env.sh
if [[ " $* " != *" --cores "* && " $* " != *" -c "* ]]; then
  set -- --cores "$(nproc)" "$@"
fi
exec .venv/bin/snakemake "$@"
