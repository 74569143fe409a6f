#!/usr/bin/env python
"""Check the layersens explorers in a real browser.

Builds one explorer of each kind (a result, a sweep with its budget controls, an allocation, a metric report) on the
digits ResNet18, exports each one's widget state to a standalone HTML page (`ipywidgets.embed.embed_minimal_html`),
opens the page in headless Chromium, takes a screenshot and checks that the widgets rendered:
  - the explorer's title is in the rendered page's text (outside the embedded widget state and the scripts),
  - every control's label is there, and the figure is an <img> of the rendered Image widget,
  - no widget failed ('Error displaying widget') and the browser's console logged no uncaught error,
  - the screenshot is not blank (more than 0.5% of its pixels differ from the white background).
Prints what it checked and the screenshots' paths; exits with status 1 when a check fails.

Offline: the embed page loads the widget manager from a CDN by default. This script points it at a local copy of
@jupyter-widgets/html-manager (BSD-3-Clause, the version matching ipywidgets 8) fetched once with `npm pack` from the
npm registry into the layersens cache folder (LAYERSENS_CACHE, default ~/.cache/layersens). Chromium: Debian's
`chromium` package (`apt-get install chromium`), or --chromium PATH.

    python tools/browser_check.py [--out DIR] [--chromium PATH]
"""
import argparse, html, os, re, shutil, subprocess, sys, tarfile, tempfile
from pathlib import Path

HTML_MANAGER = '@jupyter-widgets/html-manager@1.0.15'


def html_manager(cache:Path)->Path:
    "The local widget manager bundle (dist/embed.js), unpacked from `npm pack` into `cache` the first time."
    folder = cache/('html-manager-' + HTML_MANAGER.rsplit('@', 1)[1])
    embed = folder/'dist'/'embed.js'
    if embed.exists(): return embed
    if shutil.which('npm') is None: sys.exit(f"npm is needed once, to fetch {HTML_MANAGER} into {folder}")
    with tempfile.TemporaryDirectory() as d:
        tgz = subprocess.run(['npm', 'pack', HTML_MANAGER, '--silent'], cwd=d, capture_output=True, text=True, check=True).stdout.split()[-1]
        with tarfile.open(Path(d)/tgz) as t:
            members = [m for m in t.getmembers() if m.name.startswith('package/dist/') and not m.name.endswith('.map')
                       or m.name == 'package/package.json']
            t.extractall(d, members=members, filter='data')
        tmp = cache/(folder.name + '.tmp')
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.move(str(Path(d)/'package'), str(tmp))
        tmp.rename(folder)
    return embed


def explorers()->dict:
    "{kind: explorer} on the digits ResNet18 (two validation batches, so that it takes well under a minute)."
    from layersens.data import digits_resnet18, digits_loaders, digits_sample
    from layersens.analyzer import SensitivityAnalyzer
    from layersens.compare import compare_metrics
    from layersens.explorer import explore
    model, batches = digits_resnet18(), list(digits_loaders()[1])[:2]
    sweep = SensitivityAnalyzer(model, data=batches, metric='loss', verbose=False).sweep('sparsity', [50, 80, 95])
    result = explore(sweep.at(80))
    result.order.value = 'most sensitive'
    sweeps = explore(sweep, model=model, example_inputs=digits_sample())
    sweeps.method.value = 'allocate'
    sweeps.budget.value = 75
    alloc = sweeps.allocation()
    allocation = explore(alloc, costs=sweeps.unit_costs(), measured=alloc.measure(model, batches))
    report = compare_metrics(model, batches, 'sparsity', 80, metrics=['l1_norm', 'grad_norm', 'fisher_sum'], seeds=[0, 1],
                             batches_per_seed=1, verbose=False)
    return dict(result=result, sweep=sweeps, allocation=allocation, metrics=explore(report))


def export(ex, path:Path, embed:Path):
    "A standalone page of the explorer's widget state that loads the widget manager from `embed`."
    from ipywidgets.embed import embed_minimal_html
    embed_minimal_html(str(path), views=[ex], title=ex.heading(), embed_url=embed.as_uri(), requirejs=False, cors=False)


def chromium(exe:str, page:Path, *args)->subprocess.CompletedProcess:
    "Run headless Chromium on `page`, giving its scripts 10 s of virtual time to render the widgets."
    cmd = [exe, '--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--enable-logging=stderr', '--v=0',
           '--virtual-time-budget=10000', *args, page.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


def page_text(dom:str)->str:
    "The visible text of a dumped DOM: the head, scripts (the embedded widget state among them) and styles removed, tags stripped."
    dom = re.sub(r'<(head|script|style)\b.*?</\1>', ' ', dom, flags=re.S | re.I)
    return re.sub(r'\s+', ' ', html.unescape(re.sub(r'<[^>]+>', ' ', dom)))


def nonwhite(png:Path)->float:
    "Fraction of the screenshot's pixels that differ from a white background."
    import numpy as np
    from PIL import Image
    a = np.asarray(Image.open(png).convert('L'), dtype=float)
    return float((a < 235).mean())


def check(ex, page:Path, shot:Path, exe:str)->list:
    "(what, passed, detail) for each check of one explorer's page."
    dump = chromium(exe, page, '--dump-dom')
    dom = dump.stdout
    shot_run = chromium(exe, page, f'--screenshot={shot}', '--window-size=1400,1800')
    text = page_text(dom)
    body = re.sub(r'<(script|style)\b.*?</\1>', ' ', dom, flags=re.S | re.I)
    imgs = re.findall(r'<img[^>]+src="(blob:|data:image)', body)
    labels = [c.description for c in ex.controls if c.layout.display != 'none']
    console = [l for l in (dump.stderr + shot_run.stderr).splitlines() if 'CONSOLE' in l and re.search(r'Uncaught|Error', l)]
    frac = nonwhite(shot) if shot.exists() else 0.
    return [('title in the rendered page', ex.heading() in text, repr(ex.heading())),
            ('control labels rendered', all(l in text for l in labels), ', '.join(labels)),
            ('figure rendered as <img>', len(imgs) >= 1, f"{len(imgs)} img"),
            ('no widget error', 'Error displaying widget' not in text and not console, '; '.join(console)[:300] or 'none'),
            ('screenshot not blank', frac > .005, f"{100 * frac:.1f}% of pixels not white: {shot}")]


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--out', type=Path, default=Path(tempfile.gettempdir())/'layersens_browser_check', help='folder of the pages and screenshots')
    p.add_argument('--chromium', default=shutil.which('chromium') or shutil.which('chromium-browser'), help='the Chromium binary')
    a = p.parse_args()
    if not a.chromium: sys.exit("Chromium not found: apt-get install chromium, or pass --chromium PATH")
    from layersens.data import cache_dir
    embed = html_manager(cache_dir())
    a.out.mkdir(parents=True, exist_ok=True)
    print(f"widget manager: {embed}\nchromium: {subprocess.run([a.chromium, '--version'], capture_output=True, text=True).stdout.strip()}")
    failed = 0
    for kind, ex in explorers().items():
        page, shot = a.out/f"explorer_{kind}.html", a.out/f"explorer_{kind}.png"
        export(ex, page, embed)
        print(f"\n{kind}: {page}")
        for what, ok, detail in check(ex, page, shot, a.chromium):
            failed += not ok
            print(f"  [{'ok' if ok else 'FAIL'}] {what}: {detail}")
    print(f"\n{'all checks passed' if not failed else f'{failed} checks failed'}; screenshots in {a.out}")
    sys.exit(1 if failed else 0)


if __name__ == '__main__': main()
