#!/usr/bin/env python
"""Every allocation rule at the same budget on a CNN that does not recover from anything: torchvision's ResNet18 trained
on Fashion-MNIST, three training seeds, scored on held-out test images right after compression, after BatchNorm
recalibration and after a real fine-tune.

Data (Debian's `apt-get install dataset-fashion-mnist`, read from /usr/share/datasets/fashion-mnist; not on PyPI, so a
benchmark and not a test): the 60,000 training images split once into 55,000 for training and 5,000 for validation;
the first `--test` images of the 10,000 test images score every rule and nothing else. Images are padded to 32x32 and
repeated to 3 channels.

Per seed (0, 1, 2): the model is trained (`--epochs` one-cycle AdamW epochs on the 55,000; cached); sweeps on 4
training batches of 128 (the calibration batches: they also recalibrate BatchNorm and are the search's fitness data);
then, at each budget, every rule:
- sparsity at 80, 90 and 95% of the Conv/Linear weights (magnitude): uniform, ERK, LAMP, knapsack (`allocate`),
  search (`allocate(search=...)`, from the knapsack, fitness: loss on the calibration batches), and 'search, BN'
  (the same with `recalibrate=`: each candidate's BatchNorm re-estimated on the calibration batches before scoring);
- quantization at a mean of 3 bits: uniform, knapsack, search, search with BN;
- structured pruning at 50% of the MACs and at 30% of the measured latency (the same rules; uniform: one channel ratio found by
  bisection on the MACs or the time; knapsack and search held on the measured latency by `allocate`).
The fine-tune is the same for every rule: AdamW, cosine decay to 0, `--tune-epochs` passes over `--tune-images`
training images (quantized models are quantized again after it, at their levels). Its learning rate is chosen per
budget from `--lrs`: on the first seed each rule but 'search, BN' is fine-tuned at each, and the rate with the best validation accuracy
averaged over the rules is the budget's, for every rule and seed.

Each row: what was removed (measured on the compressed copy), the rule's cost (evaluations and seconds, the sweep not
counted: it is shared), the allocation's predicted loss increase (sum of single-unit deltas) beside the increase
measured on the calibration batches, and test accuracy at the three stages. Rows are appended to
`--out`/rows.jsonl as they are made; a rerun skips what is there.

Usage: python benchmarks/fashion.py [--seeds 0 1 2] [--test 4000] [--out /tmp/fashion] [--threads 2]
Then:  python benchmarks/fashion.py --summary --out /tmp/fashion
"""
import argparse, copy, gzip, json, os, time
from pathlib import Path
import torch, torchvision
import torch.nn.functional as F
import pandas as pd

ROOT = Path('/usr/share/datasets/fashion-mnist')


def read_idx(path):
    "An IDX file (gzipped) as a uint8 tensor."
    with gzip.open(path) as f: raw = f.read()
    nd = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], 'big') for i in range(nd)]
    return torch.frombuffer(bytearray(raw[4 + 4 * nd:]), dtype=torch.uint8).reshape(dims)


def fashion_tensors(root=ROOT):
    if not (root / 'train-images-idx3-ubyte.gz').exists():
        raise SystemExit(f"Fashion-MNIST not found in {root}: apt-get install dataset-fashion-mnist")
    def prep(x): return ((F.pad(x.float()[:, None] / 255., (2, 2, 2, 2)) - 0.286) / 0.353).repeat(1, 3, 1, 1)
    x, y = prep(read_idx(root / 'train-images-idx3-ubyte.gz')), read_idx(root / 'train-labels-idx1-ubyte.gz').long()
    xt, yt = prep(read_idx(root / 't10k-images-idx3-ubyte.gz')), read_idx(root / 't10k-labels-idx1-ubyte.gz').long()
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    tr, va = perm[5000:], perm[:5000]
    return dict(train=(x[tr], y[tr]), valid=(x[va], y[va]), test=(xt, yt))


def batches(x, y, bs, n=None, seed=None):
    idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed)) if seed is not None else torch.arange(len(x))
    if n is not None: idx = idx[:n]
    return [(x[idx[i:i + bs]], y[idx[i:i + bs]]) for i in range(0, len(idx), bs)]


def train_model(data, seed, epochs, cache):
    path = cache / f'fashion_resnet18_e{epochs}_s{seed}.pt'
    model = torchvision.models.resnet18(num_classes=10)
    if path.exists():
        model.load_state_dict(torch.load(path)); return model.eval()
    torch.manual_seed(seed)
    x, y = data['train']
    steps = epochs * ((len(x) + 127) // 128)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    model.train()
    for e in range(epochs):
        for xb, yb in batches(x, y, 128, seed=1000 * seed + e):
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(); loss.backward(); opt.step(); sched.step()
    cache.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return model.eval()


@torch.no_grad()
def accuracy(model, bs):
    model.eval()
    return sum(int((model(x).argmax(1) == y).sum()) for x, y in bs) / sum(len(y) for _, y in bs)


@torch.no_grad()
def mean_loss(model, bs):
    model.eval()
    return sum(float(F.cross_entropy(model(x), y, reduction='sum')) for x, y in bs) / sum(len(y) for _, y in bs)


def tune(model, data, lr, epochs, images, seed):
    "The fine-tune every rule gets: AdamW, cosine decay to 0 over `epochs` passes over the first `images` of a seeded order."
    x, y = data['train']
    steps = [b for e in range(epochs) for b in batches(x, y, 128, n=images, seed=10_000 + seed)]
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=len(steps))
    model.train()
    for xb, yb in steps:
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad(); loss.backward(); opt.step(); sched.step()
    return model.eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    ap.add_argument('--epochs', type=int, default=3, help='training epochs of each model')
    ap.add_argument('--test', type=int, default=4000, help='test images scored')
    ap.add_argument('--tune-epochs', type=int, default=3)
    ap.add_argument('--tune-images', type=int, default=4096)
    ap.add_argument('--lrs', type=float, nargs='+', default=[1e-4, 3e-4, 1e-3, 3e-3])
    ap.add_argument('--generations', type=int, default=20)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--only', nargs='+', default=None, help='budgets to run (labels as in the table, e.g. sparsity-90)')
    ap.add_argument('--out', default='/tmp/fashion')
    ap.add_argument('--summary', action='store_true', help='print the tables of the rows in --out and stop')
    a = ap.parse_args()
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    if a.summary: return summary(out)
    torch.set_num_threads(a.threads)

    from layersens.analyzer import SensitivityAnalyzer
    from layersens.baselines import uniform, erk, lamp, weights_removed_pct
    from layersens.sparsifier import Sparsifier
    from layersens.pruner import Pruner
    from layersens.quantizer import Quantizer, recalibrate_bn
    from layersens.costs import UnitCosts, model_macs
    from layersens.latency import compare_latency

    data = fashion_tensors()
    test = batches(*data['test'], 500, n=a.test)
    valid = batches(*data['valid'], 500, n=2000)
    rows_path = out / 'rows.jsonl'
    rows = [json.loads(l) for l in rows_path.read_text().splitlines()] if rows_path.exists() else []
    done = {(r['seed'], r['budget'], r['method']) for r in rows}
    search = dict(generations=a.generations, offspring=8, fidelity=[(1, 3), (4, 1)], seed=0)

    for seed in a.seeds:
        t = time.perf_counter()
        model = train_model(data, seed, a.epochs, Path(os.environ.get('XDG_CACHE_HOME', Path.home() / '.cache')) / 'layersens')
        calib = batches(*data['train'], 128, n=512, seed=seed)
        x = calib[0][0][:16]
        dense = dict(test=accuracy(model, test), loss=mean_loss(model, calib))
        print(f"seed {seed}: model ready in {time.perf_counter() - t:.0f} s, test accuracy {dense['test']:.4f}", flush=True)
        def time_saved(model, m):
            return float(compare_latency({'dense': model, 'pruned': m}, x, warmup=5, repeats=60).loc['pruned', 'saved_pct'])
        def macs_removed(m): return 100 * (1 - model_macs(m, x) / model_macs(model, x))
        an = SensitivityAnalyzer(model, data=calib, metric='loss', verbose=False)
        sweeps, costs = {}, {}
        def sweep(kind):
            if kind not in sweeps:
                t = time.perf_counter()
                sweeps[kind] = an.sweep(kind, dict(sparsity=[50, 70, 80, 90, 95, 98, 99], quantization=[2, 3, 4, 8], pruning=[25, 50, 75])[kind])
                print(f"  {kind} sweep: {time.perf_counter() - t:.0f} s", flush=True)
            return sweeps[kind]

        def finish(label, method, m, removed, requant=None, alloc=None, secs=0., evals=0):
            "Score m at the three stages and append the row."
            row = dict(seed=seed, budget=label, method=method, removed=removed, seconds=secs, evaluations=evals,
                       dense=dense['test'], after=accuracy(m, test))
            row['calib_delta'] = mean_loss(m, calib) - dense['loss']
            if alloc is not None: row['predicted_delta'] = alloc.predicted_delta
            recalibrate_bn(m, calib); row['after BN recalibration'] = accuracy(m, test)
            if seed == a.seeds[0] and method in CHOOSERS:   # the seed that chooses the learning rates: these rules fine-tuned at every one
                row['tuned'] = {}
                for lr in a.lrs:
                    c = tune(copy.deepcopy(m), data, lr, a.tune_epochs, a.tune_images, seed)
                    if requant: requant(c)
                    row['tuned'][repr(lr)] = (accuracy(c, valid), accuracy(c, test))
                lr = choose(rows, label, a.seeds[0], extra=row)
                row['after fine-tuning'] = row['tuned'][repr(lr)][1]   # provisional: the choice is made on every rule (see `summary`)
            else:
                lr = choose(rows, label, a.seeds[0])
                tune(m, data, lr, a.tune_epochs, a.tune_images, seed)
                if requant: requant(m)
                row['after fine-tuning'] = accuracy(m, test)
            row['lr'] = lr
            rows.append(row)
            with rows_path.open('a') as f: f.write(json.dumps(row) + '\n')
            done.add((seed, label, method))
            print(f"  {label:>14} {method:>9}: removed {removed:6.2f}, after {row['after']:.4f}, BN {row['after BN recalibration']:.4f}, "
                  f"tuned {row['after fine-tuning']:.4f} ({secs:.0f} s, {evals} evaluations)", flush=True)

        def allocations(label, kind, budget, cost, apply, removed, requant=None, **kw):
            for method, extra in (('knapsack', {}), ('search', dict(search=search)), ('search, BN', dict(search=dict(search, recalibrate=calib)))):
                if (seed, label, method) in done: continue
                sw = sweep(kind)   # built before the clock starts: the sweep is shared by every budget and both rules
                t = time.perf_counter()
                al = sw.allocate(budget, cost, model=model, data=calib, **kw, **extra)
                secs = time.perf_counter() - t
                evals = al.search['history'][-1]['evaluations'] if al.search else 0
                m = copy.deepcopy(model); apply(al, m)
                finish(label, method, m, removed(m, al), (lambda c, al=al: requant(al, c)) if requant else None, al, secs, evals)

        def sparse(targets):
            m = copy.deepcopy(model); Sparsifier(m).sparsify_model({k: v for k, v in targets.items() if v}); return m
        for b in (80, 90, 95):
            label = f'sparsity-{b}'
            if a.only and label not in a.only: continue
            for method, rule in (('uniform', uniform), ('erk', erk), ('lamp', lamp)):
                if (seed, label, method) in done: continue
                t = time.perf_counter(); targets = rule(model, b); secs = time.perf_counter() - t
                finish(label, method, sparse(targets), weights_removed_pct(model, targets), secs=secs)
            allocations(label, 'sparsity', b, 'params', lambda al, m: al.apply(m), lambda m, al: weights_removed_pct(model, al.targets))

        label = 'bits-3'
        if not a.only or label in a.only:
            q = lambda m: Quantizer(m, 3).quantize_model()
            if (seed, label, 'uniform') not in done:
                m = copy.deepcopy(model); q(m); finish(label, 'uniform', m, 3., q)
            allocations(label, 'quantization', 3, 'params', lambda al, m: al.apply(m), lambda m, al: al.cost['params'],
                        requant=lambda al, m: al.apply(m))

        for label, cost, budget in (('macs-50', 'macs', 50), ('latency-30', 'latency', 30)):
            if a.only and label not in a.only: continue
            removed = macs_removed if cost == 'macs' else (lambda m: time_saved(model, m))
            if (seed, label, 'uniform') not in done:
                t, lo, hi = time.perf_counter(), 0., 90.
                for _ in range(12 if cost == 'macs' else 7):
                    mid = (lo + hi) / 2; m = copy.deepcopy(model); Pruner(m, mid, x).prune_model()
                    lo, hi = (mid, hi) if removed(m) < budget else (lo, mid)
                m = copy.deepcopy(model); Pruner(m, hi, x).prune_model()
                finish(label, 'uniform', m, removed(m), secs=time.perf_counter() - t)
            kw = {}
            if cost == 'latency':
                if 'latency' not in costs: costs['latency'] = UnitCosts(sweep('pruning'), model, x, latency=True, warmup=5, repeats=30)
                kw = dict(costs=costs['latency'], latency_fn=time_saved)
            allocations(label, 'pruning', budget, cost, lambda al, m: al.apply(m, x), lambda m, al: removed(m), **kw)
    summary(out)


CHOOSERS = ('uniform', 'erk', 'lamp', 'knapsack', 'search')   # the rules whose mean chooses a budget's learning rate

def choose(rows, label, seed, extra=None):
    "The learning rate of a budget: the best mean validation accuracy over every rule of the choosing seed."
    tuned = [r['tuned'] for r in rows + ([extra] if extra else []) if r['seed'] == seed and r['budget'] == label and 'tuned' in r]
    if not tuned: raise RuntimeError(f"{label}: seed {seed} chooses the learning rate and has not run it")
    lrs = list(tuned[0])
    return float(max(lrs, key=lambda lr: sum(t[lr][0] for t in tuned) / len(tuned)))


def summary(out):
    raw = [json.loads(l) for l in (out / 'rows.jsonl').read_text().splitlines()]
    first, chosen = min(r['seed'] for r in raw if 'tuned' in r), {}
    for r in raw:
        if 'tuned' in r:
            lr = chosen.setdefault(r['budget'], choose(raw, r['budget'], first))
            r['after fine-tuning'], r['lr'] = r['tuned'][repr(lr)][1], lr
    rows = pd.DataFrame(raw)
    def spread(s): return '' if s.isna().all() else f"{s.mean():.3f} ± {s.std():.3f}"
    cols = ['after', 'after BN recalibration', 'after fine-tuning']
    g = rows.groupby(['budget', 'method'], sort=False)
    t = g[cols].agg(spread)
    t.insert(0, 'removed', g.removed.agg(lambda s: f"{s.min():.1f}-{s.max():.1f}"))
    t['seeds'] = g.seed.nunique()
    t['evaluations'] = g.evaluations.mean().round(0).astype(int)
    t['seconds'] = g.seconds.mean().round(1)
    if 'predicted_delta' in rows:
        t['predicted / measured delta loss'] = g.apply(lambda d: '' if d.predicted_delta.isna().all() else
                                                       f"{d.predicted_delta.mean():.3f} / {d.calib_delta.mean():.3f}")
    pd.set_option('display.width', 250); pd.set_option('display.max_columns', 20)
    print(f"dense test accuracy: {spread(rows.groupby('seed').dense.first())}; learning rates (chosen on seed {first}): {chosen}")
    vt = pd.DataFrame({(r['budget'], r['method']): {lr: v for lr, (v, _) in r['tuned'].items()} for r in raw if 'tuned' in r}).T
    print('validation accuracy after fine-tuning, by learning rate (choosing seed):'); print(vt.round(4).to_string())
    print(t.to_string())
    wins = rows.pivot_table(index=['budget', 'seed'], columns='method', values=cols[-1])
    for rule in ('search', 'search, BN'):
        if rule not in wins: continue
        print(f'\nafter fine-tuning, {rule} minus the best of the other rules, per seed:')
        print((wins[rule] - wins.drop(columns=[c for c in wins if c.startswith('search')]).max(axis=1)).unstack().round(4).to_string())


if __name__ == '__main__': main()
