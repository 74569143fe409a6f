"""Cost of layer metrics vs a measured sensitivity scan, as multiples of one forward+backward pass per batch.

Run: python benchmarks/metrics_cost.py [--batches 4] [--bs 64] [--repeats 3]
Everything is measured in one run on the same batches: the trained digits ResNet18 (21 layers, 32x32 inputs).
"""
import argparse, time, statistics
import torch, torch.nn.functional as F
from layersens.data import digits_resnet18, digits_loaders, make_eval_fn
from layersens.metrics import layer_metrics, LAYER_METRICS
from layersens.analyzer import SensitivityAnalyzer

def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter(); fn(); times.append(time.perf_counter() - t0)
    return statistics.median(times)

def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--batches', type=int, default=4); ap.add_argument('--bs', type=int, default=64)
    ap.add_argument('--repeats', type=int, default=3); ap.add_argument('--threads', type=int, default=0)
    a = ap.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    model = digits_resnet18().eval()
    batches = [b for _, b in zip(range(a.batches), digits_loaders(bs=a.bs)[1])]
    weights = [m.weight for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    def fwd_bwd():
        for x, y in batches: torch.autograd.grad(F.cross_entropy(model(x), y), weights)
    def fwd():
        with torch.no_grad():
            for x, _ in batches: model(x)
    fwd_bwd(); unit = timed(fwd_bwd, a.repeats); t_fwd = timed(fwd, a.repeats)
    groups = {
        'magnitude (7 metrics)': [n for n, m in LAYER_METRICS.items() if m.needs == 'weights'],
        'gradient family (6: grad_norm, fisher_*, taylor_*, mixed)': [n for n, m in LAYER_METRICS.items() if m.needs == 'grad'],
        'hessian_trace (8 probes)': ['hessian_trace'],
        'sipp (8 images per batch)': ['sipp'],
        'all 15 metrics': list(LAYER_METRICS),
    }
    rows = [('one forward per batch (no grad)', t_fwd), ('one forward+backward per batch (the unit)', unit)]
    for label, names in groups.items():
        rows.append((label, timed(lambda: layer_metrics(model, batches, names), a.repeats)))
    ev = make_eval_fn(batches, 'loss')
    sample = batches[0][0][:16]
    for comp, level in (('sparsity', 80), ('pruning', 30), ('quantization', 4)):
        an = SensitivityAnalyzer(model, sample, ev, higher_is_better=False, metric_name='loss', verbose=False)
        rows.append((f'measured scan: {comp}@{level} (21 layers)', timed(lambda: an.analyze(comp, level), max(1, a.repeats - 2))))
    print(f"digits ResNet18, {a.batches} batches x {a.bs} images, torch threads {torch.get_num_threads()}, median of {a.repeats}")
    print(f"{'what':62s} {'seconds':>9s} {'x fwd+bwd':>10s}")
    for label, t in rows: print(f"{label:62s} {t:9.3f} {t / unit:10.2f}")

if __name__ == '__main__': main()
