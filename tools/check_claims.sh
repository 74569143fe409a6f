#!/usr/bin/env bash
# Run the notebooks against digits models trained with seeds 0, 1 and 2, each in its own cache folder, and with
# text samples 0, 1 and 2 (LAYERSENS_TEXT_SAMPLE, for the transformer tutorials), and report per seed and notebook.
# A notebook may only assert what holds for every model the recipe trains and every sample of the text.
#   tools/check_claims.sh                 # the notebooks that use the digits model or a text sample, seeds 0 1 2
#   tools/check_claims.sh --all           # every notebook
#   SEEDS="3 4" tools/check_claims.sh nbs/tutorials/prune.ipynb
# Cache folders: $LAYERSENS_CLAIMS_CACHE/seed<N> (default ~/.cache/layersens-claims). Exit status 1 if any fails.
set -uo pipefail
cd "$(dirname "$0")/.."
seeds=${SEEDS:-"0 1 2"}
root=${LAYERSENS_CLAIMS_CACHE:-$HOME/.cache/layersens-claims}
if [ "${1:-}" = "--all" ]; then shift; nbs=$(find nbs -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' -not -name '_*' | sort)
elif [ $# -gt 0 ]; then nbs="$*"
else nbs=$(grep -lE 'digits|text_sample' $(find nbs -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' -not -name '_*') | sort)
fi
report=$(mktemp)
for s in $seeds; do
  mkdir -p "$root/seed$s"
  # the converted SmolLM2 does not depend on the seed: share the default cache's copy when there is one
  hf=smollm2-135m-instruct-fp32; default=${LAYERSENS_CACHE:-$HOME/.cache/layersens}
  if [ -d "$default/$hf" ] && [ ! -e "$root/seed$s/$hf" ]; then ln -s "$default/$hf" "$root/seed$s/$hf"; fi
  echo "== seed $s (LAYERSENS_CACHE=$root/seed$s, LAYERSENS_TEXT_SAMPLE=$s)"
  # train (or load) the model once, in its own process: the process that forks the notebook workers must not
  # have started torch's thread pools (a forked worker can deadlock in them)
  LAYERSENS_DIGITS_SEED=$s LAYERSENS_CACHE="$root/seed$s" python -c "
from layersens.data import digits_resnet18, digits_loaders
from layersens.evaluation import evaluate
print(f'seed $s: digits model valid accuracy {evaluate(digits_resnet18(verbose=False), digits_loaders()[1])[\"accuracy\"]:.4f}', flush=True)" | tee -a "$report"
  IN_TEST=1 LAYERSENS_DIGITS_SEED=$s LAYERSENS_TEXT_SAMPLE=$s LAYERSENS_CACHE="$root/seed$s" python - "$s" $nbs <<'PY' | tee -a "$report"
import sys
from pathlib import Path
from fastcore.parallel import parallel
from nbdev.config import get_config
from nbdev.test import test_nb
seed, files = sys.argv[1], [Path(f).absolute() for f in sys.argv[2:]]
cfg = get_config()
res = parallel(test_nb, files, skip_flags=cfg.tst_flags.split(), force_flags=[], n_workers=min(2, len(files)),
               basepath=cfg.config_path, pause=0.01)
for f, (ok, t) in zip(files, res):
    print(f"seed {seed}  {'pass' if ok else 'FAIL'}  {t:6.0f}s  {f.relative_to(cfg.config_path)}", flush=True)
PY
done
echo; echo "== summary"; grep -E '^seed [0-9]+ ' "$report"
n_fail=$(grep -cE '^seed [0-9]+  FAIL' "$report"); n_pass=$(grep -cE '^seed [0-9]+  pass' "$report")
echo "$n_pass passed, $n_fail failed"
rm -f "$report"
[ "$n_fail" -eq 0 ]
