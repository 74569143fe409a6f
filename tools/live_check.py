#!/usr/bin/env python
"""Check layersens in a live JupyterLab, driven like a person drives it, in a real browser.

Starts JupyterLab (from this environment, on a free local port, with a random token) on a temporary copy of the
notebooks, drives Debian's Chromium through Playwright, and checks:
  1. tutorial: the tutorial opens in JupyterLab, 'Run All Cells' from the Run menu runs it to the end in the kernel,
     no cell shows an error, and its figures render as images (on the page and in the saved notebook);
  2. progress: a sweep run in a notebook cell shows a progress bar while it runs, and it is gone when the sweep is done;
  3. level: on `explore(sweep)`, moving the level slider with the keyboard redraws the figure and changes the level
     the table is at;
  4. targets: switching the targets' method with a click, and moving the budget slider with the keyboard, change the
     per-layer targets table on the page;
  5. cost: choosing another cost in the dropdown changes the allocation's table.
Each step writes a screenshot to --out; one line per check is printed; the exit status is 1 if any check failed.

Needs: the dev install plus the `live` extra (`pip install -e ".[dev,live]"`: jupyterlab, playwright) and Chromium
(`apt-get install chromium`; Playwright's own browser download is not used). Without Chromium it prints why and exits 0.

    python tools/live_check.py [--out live_check] [--chromium PATH] [--notebook tutorials/sensitivity.ipynb] [--timeout 600]
"""
import argparse, json, os, secrets, shutil, socket, subprocess, sys, tempfile, time, urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

EXPLORER_NB = [
    "from layersens.analyzer import SensitivityAnalyzer\n"
    "from layersens.data import digits_resnet18, digits_loaders\n"
    "from layersens.explorer import explore\n"
    "model = digits_resnet18()\n"
    "valid = list(digits_loaders()[1])[:2]\n"
    "x = valid[0][0][:8]",
    "sweep = SensitivityAnalyzer(model, data=valid, metric='loss', verbose=True).sweep('sparsity', [50, 80, 95, 99])",
    "ex = explore(sweep, model=model, example_inputs=x)\nex",
]


def find_chromium(given):
    for c in ([given] if given else []) + ['chromium', 'chromium-browser', '/usr/bin/chromium', '/usr/lib/chromium/chromium']:
        p = shutil.which(c) or (c if os.path.exists(c) else None)
        if p: return p
    return None


def free_port()->int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def api(base, token, path):
    with urllib.request.urlopen(f"{base}/api/{path}?token={token}", timeout=10) as r: return json.loads(r.read())


def start_lab(root:Path, port:int, token:str, log):
    cmd = [sys.executable, '-m', 'jupyterlab', '--no-browser', f'--port={port}', '--ip=127.0.0.1', f'--IdentityProvider.token={token}',
           f'--ServerApp.root_dir={root}', '--LabApp.news_url=', '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate']
    if hasattr(os, 'geteuid') and os.geteuid() == 0: cmd.append('--allow-root')   # a container's root user
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    base = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try: api(base, token, 'status'); return proc, base
        except Exception: time.sleep(.5)
        if proc.poll() is not None: break
    proc.terminate()
    raise SystemExit(f"JupyterLab did not start on port {port}: see {log.name}")


class Checks:
    def __init__(self, out:Path): self.out, self.rows, self.n = out, [], 0
    def shot(self, page, name:str)->Path:
        self.n += 1
        p = self.out/f"{self.n:02d}_{name}.png"
        page.screenshot(path=str(p), full_page=False)
        return p
    def record(self, name:str, ok:bool, detail:str, shot:Path|None=None):
        self.rows.append((name, ok))
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}" + (f"  [{shot}]" if shot else ''), flush=True)


def open_notebook(page, base, token, path):
    page.goto(f"{base}/lab/tree/{path}?token={token}")
    page.locator('.jp-Notebook').first.wait_for(timeout=120_000)
    page.wait_for_function("() => document.querySelectorAll('.jp-Notebook .jp-Cell').length > 0", timeout=60_000)
    wait_idle(page, base, token, 120)


def wait_idle(page, base, token, timeout, quiet=3):
    "Until every kernel has been idle for `quiet` polls in a row and no cell prompt shows [*]."
    t0, calm = time.time(), 0
    while time.time() - t0 < timeout:
        ks = api(base, token, 'kernels')
        busy = any(k['execution_state'] != 'idle' for k in ks) or page.locator('.jp-InputPrompt', has_text='[*]').count() > 0
        calm = 0 if busy else calm + 1
        if ks and calm >= quiet: return True
        time.sleep(1)
    return False


def run_all(page):
    page.locator('.lm-MenuBar-itemLabel', has_text='Run').first.click()
    page.locator('.lm-Menu-itemLabel', has_text='Run All Cells').first.click()


def save(page):
    page.locator('.jp-Notebook').first.click()
    page.keyboard.press('Control+s')
    time.sleep(2)


def outputs_of(path:Path)->list:
    return [o for c in json.loads(path.read_text())['cells'] if c['cell_type'] == 'code' for o in c.get('outputs', [])]


def explorer_text(page)->str:
    "The explorer's visible text: headings, labels and its tables."
    return page.locator('.jp-OutputArea-output .widget-vbox').last.inner_text()


def image_src(page)->str:
    imgs = page.locator('.jp-OutputArea-output .widget-vbox img')
    return imgs.last.get_attribute('src') if imgs.count() else ''


def check_tutorial(page, base, token, root, nb, checks, timeout):
    open_notebook(page, base, token, nb)
    t = time.time()
    run_all(page)
    time.sleep(3)
    done = wait_idle(page, base, token, timeout)
    save(page)
    shot = checks.shot(page, 'tutorial_done')
    shutil.copy(root/nb, checks.out/('executed_' + Path(nb).name))   # the notebook as the kernel left it, outputs and all
    outs = outputs_of(root/nb)
    errors = [o for o in outs if o['output_type'] == 'error']
    pngs = sum('image/png' in o.get('data', {}) for o in outs)
    on_page = page.locator('.jp-RenderedImage img').count()
    cells = [c for c in json.loads((root/nb).read_text())['cells'] if c['cell_type'] == 'code']
    unrun = sum(c.get('execution_count') is None for c in cells if ''.join(c['source']).strip())
    ok = done and not errors and pngs > 0 and on_page > 0 and unrun == 0
    detail = (f"{nb}: {len(cells)} code cells run in {time.time() - t:.0f} s, {unrun} not run, {len(errors)} errors"
              + (f" ({errors[0]['ename']}: {errors[0]['evalue'][:120]})" if errors else '') + f", {pngs} figures saved as PNG, {on_page} images on the page")
    checks.record('tutorial', ok, detail, shot)


def check_explorer(page, base, token, root, checks, timeout):
    nb = root/'live_explorer.ipynb'
    nb.write_text(json.dumps(dict(cells=[dict(cell_type='code', execution_count=None, id=f'c{i}', metadata={}, outputs=[], source=s)
                                         for i, s in enumerate(EXPLORER_NB)],
                                  metadata={'kernelspec': {'display_name': 'Python 3', 'language': 'python', 'name': 'python3'}},
                                  nbformat=4, nbformat_minor=5)))
    open_notebook(page, base, token, nb.name)
    run_all(page)
    # 2. progress: a bar while the sweep runs, none once it is done
    seen, t0 = None, time.time()
    bar = page.locator('.jp-OutputArea-output progress, .jp-OutputArea-output .widget-hprogress, .jp-OutputArea-output .progress')
    while time.time() - t0 < timeout and seen is None:
        if bar.count() > 0 and bar.first.is_visible():
            seen = checks.shot(page, 'progress_running'); break
        if page.locator('.jp-OutputArea-output .widget-vbox img').count(): break   # the explorer is there: the sweep is over
        time.sleep(.2)
    done = wait_idle(page, base, token, timeout)
    page.locator('.jp-OutputArea-output .widget-vbox img').last.wait_for(timeout=60_000)
    after = bar.count()
    shot = checks.shot(page, 'progress_done')
    checks.record('progress', bool(seen) and done and after == 0,
                  f"a progress bar {'showed' if seen else 'did not show'} while the sweep ran; {after} left after it finished", seen or shot)
    # 3. level slider: keyboard on its handle
    text0, img0 = explorer_text(page), image_src(page)
    handle = page.locator('.widget-vbox .widget-hslider .noUi-handle, .widget-vbox .widget-slider .noUi-handle').first
    handle.click(); page.keyboard.press('ArrowLeft'); page.keyboard.press('ArrowLeft')
    time.sleep(3); wait_idle(page, base, token, 60)
    text1, img1 = explorer_text(page), image_src(page)
    shot = checks.shot(page, 'level_moved')
    checks.record('level', text1 != text0 and img1 != img0 and '95' in text1.split('\n', 3)[0] + text1,
                  f"level slider moved two steps with the keyboard: text {'changed' if text1 != text0 else 'unchanged'}, "
                  f"figure {'redrawn' if img1 != img0 else 'the same'}", shot)
    # 4. targets: the method toggle by a click, then the budget slider by the keyboard
    page.locator('.widget-toggle-buttons button', has_text='allocate').first.click()
    time.sleep(3); wait_idle(page, base, token, 120)
    text2 = explorer_text(page)
    budget = page.locator('.widget-hslider', has_text='budget %').locator('.noUi-handle').first
    budget.click()
    for _ in range(10): page.keyboard.press('ArrowRight')
    time.sleep(5); wait_idle(page, base, token, 120)
    text3 = explorer_text(page)
    shot = checks.shot(page, 'budget_moved')
    checks.record('targets', text2 != text1 and text3 != text2,
                  f"'allocate' clicked: text {'changed' if text2 != text1 else 'unchanged'}; budget slider +10 steps: "
                  f"targets {'changed' if text3 != text2 else 'unchanged'}", shot)
    # 5. cost dropdown
    sel = page.locator('.widget-dropdown select').first
    options = sel.locator('option').all_inner_texts()
    other = next((o for o in options if o.strip() != 'params'), None)
    if other is None: checks.record('cost', False, f"the cost dropdown offers only {options}"); return
    sel.select_option(label=other)
    time.sleep(5); wait_idle(page, base, token, 120)
    text4 = explorer_text(page)
    shot = checks.shot(page, 'cost_changed')
    checks.record('cost', text4 != text3, f"cost set to {other!r} in the dropdown: table {'changed' if text4 != text3 else 'unchanged'}", shot)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default='live_check', help='folder for the screenshots and the JupyterLab log (default: ./live_check)')
    ap.add_argument('--chromium', default=None, help='the Chromium executable (default: chromium on the PATH)')
    ap.add_argument('--notebook', default='tutorials/sensitivity.ipynb', help='the tutorial to run, relative to nbs/')
    ap.add_argument('--timeout', type=float, default=600, help='seconds a notebook may run (default 600)')
    ap.add_argument('--only', choices=['tutorial', 'explorer'], default=None, help='run one of the two parts (default: both)')
    a = ap.parse_args()
    chromium = find_chromium(a.chromium)
    if chromium is None:
        print("SKIP  live check: no Chromium found (apt-get install chromium, or --chromium PATH)"); return 0
    try:
        from playwright.sync_api import sync_playwright
        import jupyterlab  # noqa: F401
    except ImportError as e:
        print(f"SKIP  live check: {e.name} is not installed (pip install -e \".[dev,live]\")"); return 0
    out = Path(a.out).resolve(); out.mkdir(parents=True, exist_ok=True)
    checks = Checks(out)
    with tempfile.TemporaryDirectory(prefix='layersens_live_') as tmp:
        root = Path(tmp)/'nbs'
        shutil.copytree(ROOT/'nbs', root, ignore=shutil.ignore_patterns('.ipynb_checkpoints', '_proc'))
        token, port = secrets.token_hex(16), free_port()
        with open(out/'jupyterlab.log', 'w') as log:
            lab, base = start_lab(root, port, token, log)
            try:
                with sync_playwright() as p:
                    browser = p.chromium.launch(executable_path=chromium, args=['--no-sandbox'])
                    page = browser.new_page(viewport=dict(width=1400, height=1000))
                    errors = []
                    page.on('pageerror', lambda e: errors.append(str(e)))
                    parts = dict(tutorial=lambda: check_tutorial(page, base, token, root, a.notebook, checks, a.timeout),
                                 explorer=lambda: check_explorer(page, base, token, root, checks, a.timeout))
                    for name, check in parts.items():
                        if a.only not in (None, name): continue
                        try: check()
                        except Exception as e: checks.record(name, False, f"{type(e).__name__}: {e}", checks.shot(page, 'failed'))
                    checks.record('console', not errors, f"{len(errors)} uncaught errors in the page" + (f": {errors[0][:200]}" if errors else ''))
                    browser.close()
            finally:
                lab.terminate()
                try: lab.wait(20)
                except subprocess.TimeoutExpired: lab.kill()
    failed = [n for n, ok in checks.rows if not ok]
    print(f"{len(checks.rows) - len(failed)} of {len(checks.rows)} checks passed; screenshots in {out}")
    return 1 if failed else 0


if __name__ == '__main__': sys.exit(main())
