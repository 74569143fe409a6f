"""Incremental sensitivity scans vs the naive (L+1) x evaluation bound, measured side by side in one run.

Run: python benchmarks/engine_speed.py [--images 32] [--bs 16] [--size 224] [--device cpu] [--skip-digits]

Part 1: torchvision ResNet18 with random weights (seed 0) on random images at --size, metric: cross-entropy loss.
  For sparsity (50%), structured pruning (30%) and 4-bit weight quantization it times
  - one full evaluation of the data (median of 5, after a warm-up) and the naive bound (L+1) x that time,
  - the analyzer with a black-box eval_fn (the naive scan, what the bound describes),
  - the analyzer owning the data with the incremental engine,
  and prints the ratios, whether the deltas are identical, and the memory the engine keeps.
Part 2: the trained digits ResNet18 at 32x32 on its 359 validation images (accuracy), same comparison.
"""
import argparse, resource, statistics, time
import torch, torchvision
from layersens.analyzer import SensitivityAnalyzer
from layersens.core import compressible_layers
from layersens.data import make_eval_fn, digits_resnet18, digits_loaders
from layersens.evaluation import evaluate
from layersens.engine import IncrementalForward

def timed(fn, repeats=1):
    ts, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter(); out = fn(); ts.append(time.perf_counter() - t0)
    return statistics.median(ts), out

def peak_rss_mib(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def compare(title, model, batches, metric, higher, jobs, device):
    L = len(compressible_layers(model))
    sample = batches[0][0][:8]
    ev = make_eval_fn(batches, metric)
    if device == 'cuda': torch.cuda.synchronize()
    evaluate(model, batches, [metric])  # warm-up: the first pass pays for allocations
    t_eval, _ = timed(lambda: evaluate(model, batches, [metric]), 5)
    inc = IncrementalForward(model)
    with torch.no_grad(): inc.run(batches[0][0])
    cache = inc.cache_bytes / 2**20
    del inc
    n_img = sum(len(y) for _, y in batches)
    print(f"\n{title}: {L} layers, {len(batches)} batches, {n_img} images, one evaluation {t_eval:.3f}s, "
          f"naive bound (L+1) x eval = {(L + 1) * t_eval:.2f}s")
    print(f"engine keeps one batch's intermediates: {cache:.1f} MiB")
    print(f"{'compression':18s} {'naive scan s':>12s} {'incremental s':>13s} {'inc/bound':>10s} {'inc/naive':>10s} "
          f"{'naive/bound':>11s} {'max|d delta|':>12s} identical")
    for comp, level in jobs:
        if device == 'cuda': torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats()
        t_naive, r_naive = timed(lambda: SensitivityAnalyzer(model, sample, ev, higher_is_better=higher, metric_name=metric,
                                                              verbose=False).analyze(comp, level))
        if device == 'cuda': torch.cuda.synchronize(); naive_peak = torch.cuda.max_memory_allocated(); torch.cuda.reset_peak_memory_stats()
        rss0 = peak_rss_mib()
        t_inc, r_inc = timed(lambda: SensitivityAnalyzer(model, sample, data=batches, metric=metric, verbose=False).analyze(comp, level))
        if device == 'cuda': torch.cuda.synchronize(); inc_peak = torch.cuda.max_memory_allocated()
        assert r_inc.settings['engine'] in ('fx', 'blocks')
        a = torch.tensor([l.delta for l in r_naive], dtype=torch.float64)
        b = torch.tensor([l.delta for l in r_inc], dtype=torch.float64)
        both = ~(a.isnan() & b.isnan())
        diff = (a[both] - b[both]).abs().max().item() if both.any() else 0.
        same = all((x == y) or (x != x and y != y) for x, y in zip(a.tolist(), b.tolist()))
        bound = (L + 1) * t_eval
        print(f"{comp + '@' + format(level, 'g'):18s} {t_naive:12.2f} {t_inc:13.2f} {t_inc / bound:10.3f} {t_inc / t_naive:10.3f} "
              f"{t_naive / bound:11.3f} {diff:12.2e} {same}")
        if device == 'cuda':
            print(f"{'':18s} GPU peak memory: naive {naive_peak / 2**20:.0f} MiB, incremental {inc_peak / 2**20:.0f} MiB "
                  f"(+{(inc_peak - naive_peak) / 2**20:.0f} MiB)")
        else:
            print(f"{'':18s} process peak RSS after the incremental scan: {peak_rss_mib():.0f} MiB (before it: {rss0:.0f} MiB)")

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--images', type=int, default=32); ap.add_argument('--bs', type=int, default=16)
    ap.add_argument('--size', type=int, default=224); ap.add_argument('--device', default='cpu')
    ap.add_argument('--skip-digits', action='store_true')
    a = ap.parse_args()
    dev = torch.device(a.device)
    print(f"torch {torch.__version__}, device {a.device}, threads {torch.get_num_threads()}")
    torch.manual_seed(0)
    model = torchvision.models.resnet18().eval().to(dev)
    g = torch.Generator().manual_seed(0)
    batches = [(torch.randn(a.bs, 3, a.size, a.size, generator=g).to(dev), torch.randint(0, 1000, (a.bs,), generator=g).to(dev))
               for _ in range(a.images // a.bs)]
    jobs = [('sparsity', 50), ('pruning', 30), ('quantization', 4)]
    compare(f"ResNet18, random weights, {a.size}x{a.size}", model, batches, 'loss', False, jobs, a.device)
    if not a.skip_digits:
        dm = digits_resnet18().to(dev)
        valid = [(x.to(dev), y.to(dev)) for x, y in digits_loaders(bs=64)[1]]
        compare("digits ResNet18 (trained), 32x32", dm, valid, 'accuracy', True, jobs, a.device)

if __name__ == '__main__': main()
