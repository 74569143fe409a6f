#!/usr/bin/env python
"""Check the notebooks as a reader of the rendered docs sees them.

Renders every notebook of nbs/, nbs/tutorials/ and nbs/explanations/ to HTML with nbconvert from its stored outputs (nothing is executed),
opens each page in headless Chromium, and reports:
  - errors: error outputs, tracebacks stored in any output, pages that fail to render or log uncaught script errors;
  - empty figures: a shown code cell that calls a plotting function (`.plot...(`, `plt.`, `.show(`), does not close
    the figure (`plt.close`), and stored no image;
  - machine paths in stored outputs (/root/, /home/USER/, /tmp/, /work/, /Users/USER/, C:\\Users\\);
  - widget outputs stored without widget state (they render as nothing in the docs: show a static view instead);
  - broken internal links: markdown links to .ipynb or .html pages of this project that do not exist (nbdev names
    `NN_name.ipynb`'s page `name.html`); anchors after '#' are not checked;
  - pages whose rendered text lacks the notebook's title, or that show fewer images than the notebook stores.
Exits with status 1 when it finds any. Quarto (the real docs renderer) cannot be installed offline here; nbconvert's
lab template is the stand-in, and the checks above are about the notebooks, not about the template.

    python tools/docs_check.py [--out DIR] [--chromium PATH] [notebooks ...]
"""
import argparse, html, json, re, shutil, subprocess, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT/'nbs'
PLOT_CALL = re.compile(r'\.plot\w*\(|\bplt\.(?!close)\w+\(|\.show\(\)')
HIDDEN = {'export', 'exports', 'exporti', 'hide', 'eval: false', 'eval:false', 'exec_doc'}
IMAGE_TYPES = ('image/png', 'image/svg+xml', 'image/jpeg')
MACHINE_PATH = re.compile(r'(?<![\w.])(/root/|/home/\w+/|/tmp/|/work/|/Users/\w+/|[A-Z]:\\Users\\)')
LINK = re.compile(r'\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)|href="([^"]+)"')


def notebooks(args:list)->list:
    if args: return [Path(a).resolve() for a in args]
    return sorted(p for d in (NBS, NBS/'tutorials', NBS/'explanations') for p in d.glob('*.ipynb') if not p.name.startswith('_'))


def directives(src:str)->set:
    "The cell's nbdev/Quarto directives (`#| hide`, `#| export`, `#| eval: false`, ...)."
    out = set()
    for line in src.splitlines():
        m = re.match(r'#\|\s*(.+?)\s*$', line)
        if not m: break
        out.add(m.group(1).lower())
    return out


def text_of(o:dict)->str:
    if o.get('output_type') == 'stream': return ''.join(o.get('text', ''))
    d = o.get('data', {})
    return ''.join(''.join(d.get(k, '')) for k in ('text/plain', 'text/html', 'text/markdown'))


def images_of(o:dict)->int:
    d = o.get('data', {})
    return sum(k in d for k in IMAGE_TYPES) + len(re.findall(r'<img\b', ''.join(d.get('text/html', ''))))


def page_exists(target:str, nb:Path)->bool:
    "True when a link target (relative to the notebook, or to nbs/ when it starts with '/') is a page of the project."
    path = target.split('#')[0].split('?')[0]
    base = NBS if path.startswith('/') else nb.parent
    p = (base/path.lstrip('/')).resolve()
    if p.suffix == '.ipynb': return p.exists()
    stem = p.stem
    return any(q.exists() for q in (p.with_suffix('.ipynb'), p.with_suffix('.qmd'), p.with_suffix('.md'))) or \
           any(re.fullmatch(r'\d+[a-z]?_' + re.escape(stem), q.stem) for q in p.parent.glob('*.ipynb'))


def check_notebook(nb:Path)->tuple:
    "(problems, title, stored images shown) from the notebook's cells and stored outputs."
    cells, probs, title, shown_imgs = json.loads(nb.read_text())['cells'], [], None, 0
    for n, c in enumerate(cells):
        src, i = ''.join(c['source']), f"{n} (id {c.get('id', '?')})"
        if c['cell_type'] == 'markdown':
            if title is None and (m := re.search(r'^#\s+(.+)$', src, re.M)): title = m.group(1).strip()
            for m in LINK.finditer(src):
                t = m.group(1) or m.group(2)
                if re.match(r'[a-z]+:', t) or t.startswith('#'): continue
                if re.search(r'\.(ipynb|html)(#|$|\?)', t) and not page_exists(t, nb):
                    probs.append((i, 'broken link', f"{t} (no such page)"))
            continue
        if c['cell_type'] != 'code': continue
        outs, dirs = c.get('outputs', []), directives(src)
        for o in outs:
            if o.get('output_type') == 'error':
                probs.append((i, 'error output', f"{o.get('ename')}: {o.get('evalue', '')[:200]}"))
            elif 'Traceback (most recent call last)' in text_of(o):
                probs.append((i, 'traceback in output', text_of(o).strip().splitlines()[-1][:200]))
            if (m := MACHINE_PATH.search(text_of(o))):
                probs.append((i, 'machine path in output', text_of(o)[max(0, m.start() - 60):m.end() + 60].replace('\n', ' ')))
            if 'application/vnd.jupyter.widget-view+json' in o.get('data', {}):
                probs.append((i, 'widget output without state', 'renders as nothing in the docs; store a static view'))
        if dirs & HIDDEN: continue
        n_img = sum(images_of(o) for o in outs)
        shown_imgs += n_img
        code = '\n'.join(l for l in src.splitlines() if not re.search(r'test_fail\(|lambda', l) and not l.lstrip().startswith('#'))
        if PLOT_CALL.search(code) and not n_img and 'plt.close(' not in code:  # a closed figure is meant not to show
            call = PLOT_CALL.search(code).group(0)
            probs.append((i, 'figure expected, none stored', f"calls {call} but stores no image"))
    return probs, title, shown_imgs


def _name(nb:Path)->Path: return nb.relative_to(NBS) if nb.is_relative_to(NBS) else Path(nb.name)


def render(nb:Path, out:Path)->Path:
    "The notebook rendered to HTML from its stored outputs (nbconvert, lab template, images embedded)."
    from nbconvert import HTMLExporter
    body, _ = HTMLExporter(template_name='lab', embed_images=True).from_filename(str(nb))
    page = out/_name(nb).with_suffix('.html')
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(body)
    return page


def browse(exe:str, page:Path)->tuple:
    "(visible text, rendered <img> count, uncaught script errors) of the page in headless Chromium."
    r = subprocess.run([exe, '--headless', '--no-sandbox', '--disable-gpu', '--enable-logging=stderr', '--v=0',
                        '--virtual-time-budget=5000', '--dump-dom', page.as_uri()], capture_output=True, text=True, timeout=180)
    dom = re.sub(r'<(head|script|style)\b.*?</\1>', ' ', r.stdout, flags=re.S | re.I)
    text = re.sub(r'\s+', ' ', html.unescape(re.sub(r'<[^>]+>', ' ', dom)))
    errors = [l for l in r.stderr.splitlines() if 'CONSOLE' in l and 'Uncaught' in l]
    return text, len(re.findall(r'<img\b', dom)), errors


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('notebooks', nargs='*', help='notebooks to check (default: nbs/*.ipynb, nbs/tutorials/*.ipynb and nbs/explanations/*.ipynb)')
    p.add_argument('--out', type=Path, default=Path(tempfile.gettempdir())/'layersens_docs_check', help='folder of the rendered pages')
    p.add_argument('--chromium', default=shutil.which('chromium') or shutil.which('chromium-browser'), help='the Chromium binary')
    a = p.parse_args()
    if not a.chromium: sys.exit("Chromium not found: apt-get install chromium, or pass --chromium PATH")
    found = []
    for nb in notebooks(a.notebooks):
        name = _name(nb)
        probs, title, n_img = check_notebook(nb)
        try:
            page = render(nb, a.out)
            text, shown, errors = browse(a.chromium, page)
            if title and re.sub(r'\s+', ' ', title.replace('`', '')) not in text: probs.append(('-', 'title not rendered', title))
            if shown < n_img: probs.append(('-', 'images missing in the page', f"{shown} rendered, {n_img} stored"))
            probs += [('-', 'script error', e[:200]) for e in errors]
        except Exception as e:
            page, probs = None, probs + [('-', 'render failed', f"{type(e).__name__}: {e}"[:300])]
        print(f"{'ok  ' if not probs else 'FAIL'} {name}: {page}")
        for cell, what, detail in probs:
            print(f"     cell {cell}: {what}: {detail}")
        found += probs
    print(f"\n{len(found)} problems in the notebooks; pages in {a.out}")
    sys.exit(1 if found else 0)


if __name__ == '__main__': main()
