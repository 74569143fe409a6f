#!/usr/bin/env python
"""Benchmark layersens' exact incremental engine against full evaluation on two real transformers.

A 50% sparsity scan (the 50% smallest |w| of one Linear layer zeroed in place, evaluated, restored; every Linear
layer in turn) on SmolLM2-135M (211 Linear layers, 2 sequences of 128 tokens of the Lee corpus) and on
all-MiniLM-L6-v2 (37 Linear layers, 8 documents of the Lee test corpus, up to 128 tokens each). For each layer the
incremental rerun and a full forward pass are timed side by side in the same process (their order alternates),
and their outputs compared. Reported: the time of the incremental scan (1 clean run + L reruns) as a ratio of
(L+1) full forward passes, the largest absolute difference of the outputs, the memory the engine keeps
(`cache_bytes`, and the resident memory the clean run leaves behind) and the resident-memory peak of one clean run,
one rerun and one full forward pass (each above the memory before the call).

Usage: OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python benchmarks/transformer_engine.py [--models smollm2 minilm] [--threads 1]
Needs the `hf` extra and the two model packages (see layersens.hf).
"""
import argparse, json, time
import torch
from torch import nn
from layersens.engine import make_engine
from layersens.perturb import forward
from layersens.hf import minilm, smollm2, lee_texts, token_batches, sentence_batches


def rss_mib(field='VmRSS'):
    "Resident memory of this process in MiB (VmRSS: now; VmHWM: peak since the last reset_peak)."
    for line in open('/proc/self/status'):
        if line.startswith(field + ':'): return int(line.split()[1]) / 1024
    return float('nan')

def reset_peak():
    "Reset VmHWM to the current resident memory (Linux; harmless where not allowed)."
    try:
        with open('/proc/self/clear_refs', 'w') as f: f.write('5')
    except OSError: pass

def output(o): return o if isinstance(o, torch.Tensor) else o[0]   # logits / last_hidden_state

def sparsify_(w:torch.Tensor):
    "Zero the 50% smallest |w| in place."
    flat = w.view(-1)
    flat[torch.topk(flat.abs(), flat.numel() // 2, largest=False).indices] = 0

def data(name):
    if name == 'smollm2':
        model, tok = smollm2()
        return model, token_batches(tok, lee_texts(), seq_len=128, batch_size=2, n_batches=1)[0], 'lm_head'
    model, tok = minilm()
    return model, sentence_batches(tok, lee_texts('test')[:8], batch_size=8, max_length=128)[0], 'pooler'

def tail_seconds(model, tail:str, x, reps=5)->float:
    "Median time of the modules after the last block (the language-model head / the pooler) on this batch."
    mod, box = model.get_submodule(tail), {}
    h = mod.register_forward_pre_hook(lambda m, a: box.setdefault('in', a))
    with torch.no_grad(): forward(model, x)
    h.remove()
    ts = []
    with torch.no_grad():
        for _ in range(reps):
            t = time.perf_counter(); mod(*box['in']); ts.append(time.perf_counter() - t)
    return sorted(ts)[reps // 2]

def peak_over(fn):
    "(result of fn(), seconds, peak resident memory during the call above the memory before it, MiB)."
    reset_peak(); before = rss_mib()
    t = time.perf_counter(); out = fn(); s = time.perf_counter() - t
    return out, s, rss_mib('VmHWM') - before

@torch.no_grad()
def bench(name:str)->dict:
    model, x, tail = data(name)
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    forward(model, x)   # warm-up
    ref, t_full0, peak_full = peak_over(lambda: forward(model, x))
    before = rss_mib()
    eng, t_make, _ = peak_over(lambda: make_engine(model))
    clean, t_run, peak_run = peak_over(lambda: eng.run(x))
    assert torch.equal(output(clean), output(ref))
    del clean   # the caller's copy of the output, not the engine's
    kept = rss_mib() - before
    t_rerun, t_full, p_rerun, p_full, diffs, same, recomputed = [], [t_full0], [], [peak_full], [], 0, []
    inner = eng.engine
    for i, (n, m) in enumerate(layers):
        saved = m.weight.detach().clone()
        sparsify_(m.weight)
        for first in ((0, 1) if i % 2 == 0 else (1, 0)):
            if first == 0:
                inc, s, p = peak_over(lambda: eng.rerun((m,))); t_rerun.append(s); p_rerun.append(p)
            else:
                full, s, p = peak_over(lambda: forward(model, x)); t_full.append(s); p_full.append(p)
        a, b = output(inc), output(full)
        diffs.append((a - b).abs().max().item()); same += torch.equal(a, b)
        if hasattr(inner, 'reused'):
            blocks = set(inner.blocks)
            recomputed.append(len(inner.blocks) - sum(c.module in blocks for c in inner._schedule((m,))[1]))
        m.weight.copy_(saved)
        del inc, full
    t_tail = tail_seconds(model, tail, x)
    L, inc_s, full_s = len(layers), t_run + sum(t_rerun), sum(t_full)
    n_tail = L + 1   # the tail runs in every pass
    return dict(model=name, layers=L, engine=eng.kind, why_not_fx=eng.reasons.get('fx', ''),
                threads=torch.get_num_threads(), full_forward_s=full_s / (L + 1),
                full_scan_s=full_s, incremental_scan_s=inc_s, ratio=inc_s / full_s,
                make_engine_s=t_make, clean_run_s=t_run,
                tail_s=t_tail, ratio_without_tail=(inc_s - n_tail * t_tail) / (full_s - n_tail * t_tail),
                mean_blocks_recomputed=sum(recomputed) / len(recomputed) if recomputed else float('nan'),
                n_blocks=len(getattr(inner, 'blocks', [])),
                max_abs_diff=max(diffs), identical=same,
                cache_mib=eng.cache_bytes / 2**20, rss_kept_after_run_mib=kept,
                peak_clean_run_mib=peak_run, peak_rerun_mib=max(p_rerun), peak_full_forward_mib=max(p_full))

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--models', nargs='+', default=['smollm2', 'minilm'], choices=['smollm2', 'minilm'])
    ap.add_argument('--threads', type=int, default=None, help='torch threads (default: as torch chose)')
    ap.add_argument('--json', default=None, help='also write the results to this file')
    args = ap.parse_args()
    if args.threads: torch.set_num_threads(args.threads)
    rows = [bench(m) for m in args.models]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    hdr = f"{'model':8} {'L':>4} {'engine':6} {'full fwd s':>10} {'full scan s':>11} {'incr scan s':>11} {'ratio':>6} " \
          f"{'w/o tail':>8} {'identical':>9} {'max|diff|':>9} {'cache MiB':>9} {'RSS kept':>8} {'peak run':>8} {'peak rerun':>10} {'peak full':>9}"
    print(hdr); print('-' * len(hdr))
    for r in rows:
        print(f"{r['model']:8} {r['layers']:4d} {r['engine']:6} {r['full_forward_s']:10.3f} {r['full_scan_s']:11.1f} "
              f"{r['incremental_scan_s']:11.1f} {r['ratio']:6.3f} {r['ratio_without_tail']:8.3f} "
              f"{r['identical']:4d}/{r['layers']:<4d} {r['max_abs_diff']:9.2g} {r['cache_mib']:9.1f} {r['rss_kept_after_run_mib']:8.1f} "
              f"{r['peak_clean_run_mib']:8.1f} {r['peak_rerun_mib']:10.1f} {r['peak_full_forward_mib']:9.1f}")
    print("memory in MiB: cache = tensors the engine keeps; RSS kept = resident growth from make_engine + run; "
          "peak run / rerun / full = largest resident peak of one call above the memory before it")
    for r in rows:
        print(f"{r['model']}: fx not used ({r['why_not_fx']}); make_engine {r['make_engine_s']:.3f} s, clean run "
              f"{r['clean_run_s']:.3f} s; tail ({'lm_head' if r['model'] == 'smollm2' else 'pooler'}) {r['tail_s']:.3f} s "
              f"= {r['tail_s'] / r['full_forward_s']:.0%} of a forward; blocks recomputed per rerun "
              f"{r['mean_blocks_recomputed']:.1f} of {r['n_blocks']}")
    if args.json:
        with open(args.json, 'w') as f: json.dump(rows, f, indent=1)

if __name__ == '__main__': main()
