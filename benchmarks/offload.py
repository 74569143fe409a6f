"""A sensitivity scan of a Llama-architecture model with and without `offload='cpu'`, side by side in one run.

Run: python benchmarks/offload.py [--layers 16] [--hidden 2048] [--device cuda] [--out results.json]

The model is a `LlamaForCausalLM` built from a config (TinyLlama-1.1B's shape by default, 16 blocks: about 0.9B
parameters, 3.6 GB in float32), with random weights drawn from a fixed seed: enough for memory and speed. Each
configuration runs in its own fresh process (so that its peak memory is its own) and scans the same four Linear
layers (the MLP down-projections of blocks 0, 5, 10 and 15) at 50% sparsity with Wanda (statistics collected block by
block) on two batches of 64 random tokens, KL to the dense outputs. Printed per configuration: the wall time of the
scan, the peak process memory (ru_maxrss), the weight bytes on the analysis device at peak (without offload: the whole
model, which is moved there; with it: the offload's ledger; on CUDA, `torch.cuda.max_memory_allocated` as well), and
whether the deltas are identical. The stored output of a run on the 2-core CPU machine is in results/offload.txt.

On a machine without a GPU the device is the CPU: the offloaded scan copies each block to the CPU it already lives on,
so its process memory is higher, not lower; the figure that carries over to a GPU is the ledger's peak of weight bytes
on the device (one piece at a time against the whole model).
"""
import argparse, json, os, resource, subprocess, sys, time

def child(a):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    from layersens.analyzer import SensitivityAnalyzer
    cfg = LlamaConfig(vocab_size=32000, hidden_size=a.hidden, intermediate_size=int(a.hidden * 2.75), num_hidden_layers=a.layers,
                      num_attention_heads=a.hidden // 64, num_key_value_heads=max(1, a.hidden // 512), tie_word_embeddings=False)
    torch.manual_seed(0)
    with torch.device('meta'): model = LlamaForCausalLM(cfg)
    model = model.to_empty(device='cpu').eval()
    with torch.no_grad():
        for n, p in model.named_parameters(): p.normal_(0, 0.02) if p.dim() > 1 else p.fill_(1.)
    model.model.rotary_emb = type(model.model.rotary_emb)(config=cfg)   # its inv_freq buffer, left empty by to_empty
    weights = sum(p.nbytes for p in model.parameters())
    g = torch.Generator().manual_seed(1)
    data = [dict(input_ids=torch.randint(0, cfg.vocab_size, (1, 64), generator=g)) for _ in range(2)]
    layers = [f'model.layers.{i}.mlp.down_proj' for i in (0, a.layers // 3, 2 * a.layers // 3, a.layers - 1)]
    dev = a.device
    if dev == 'cuda': torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    an = SensitivityAnalyzer(model, data=data, metric='kl', device=dev, verbose=False, offload='cpu' if a.mode == 'offload' else None)
    r = an.analyze('sparsity', 50, method='wanda', layers=layers)
    secs = time.perf_counter() - t
    out = dict(mode=a.mode, seconds=secs, params=sum(p.numel() for p in model.parameters()), weight_bytes=weights,
               device_weight_peak=r.settings.get('offload_peak_bytes', weights), maxrss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
               cuda_peak=torch.cuda.max_memory_allocated() if dev == 'cuda' else None, engine=r.settings.get('engine'),
               deltas={l.name: l.delta for l in r}, block_bytes=sum(p.nbytes for p in model.model.layers[0].parameters()))
    print('RESULT ' + json.dumps(out))

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--layers', type=int, default=16, help='decoder blocks (default 16: about 0.9B parameters at hidden 2048)')
    ap.add_argument('--hidden', type=int, default=2048, help='hidden size (default 2048)')
    ap.add_argument('--device', default=None, help="where the scan runs (default: 'cuda' when there is one, else 'cpu')")
    ap.add_argument('--mode', default=None, help=argparse.SUPPRESS)
    ap.add_argument('--out', default=None, help='also write the results as JSON here')
    a = ap.parse_args()
    if a.device is None:
        import torch
        a.device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if a.mode: return child(a)
    runs = {}
    for mode in ('plain', 'offload'):
        cmd = [sys.executable, __file__, '--mode', mode, '--layers', str(a.layers), '--hidden', str(a.hidden), '--device', a.device]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode: raise SystemExit(f"{mode} failed ({p.returncode}):\n{p.stderr[-3000:]}")
        runs[mode] = json.loads(next(l for l in p.stdout.splitlines() if l.startswith('RESULT '))[7:])
    gb = lambda b: f"{b / 2**30:6.2f} GB" if b is not None else '      -'
    pl, of = runs['plain'], runs['offload']
    print(f"LlamaForCausalLM from a config: {pl['params'] / 1e9:.2f}B parameters, {a.layers} blocks, weights {gb(pl['weight_bytes'])}, "
          f"one block {gb(pl['block_bytes'])}; device {a.device}; os.cpu_count() {os.cpu_count()}")
    print(f"{'':10s} {'scan':>8s} {'process peak':>13s} {'weights on device at peak':>26s} {'cuda peak':>10s}  engine")
    for m, r in runs.items():
        print(f"{m:10s} {r['seconds']:7.1f}s {gb(r['maxrss_bytes']):>13s} {gb(r['device_weight_peak']):>26s} {gb(r['cuda_peak']):>10s}  {r['engine']}")
    print(f"offload / plain: scan time {of['seconds'] / pl['seconds']:.2f}x, weights on the device {of['device_weight_peak'] / pl['device_weight_peak']:.3f}x, "
          f"process peak {of['maxrss_bytes'] / pl['maxrss_bytes']:.2f}x"
          + (f", cuda peak {of['cuda_peak'] / pl['cuda_peak']:.3f}x" if pl['cuda_peak'] else ''))
    shown = ', '.join(f"block {k.split('.')[2]}: {v:.4g}" for k, v in of['deltas'].items())
    print(f"deltas identical: {pl['deltas'] == of['deltas']}  ({shown})")
    if a.out: open(a.out, 'w').write(json.dumps(runs, indent=1))

if __name__ == '__main__': main()
