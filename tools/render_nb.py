#!/usr/bin/env python
"""Execute notebooks and keep the outputs that teach (figures, tables, printed results) for the docs site.

  python tools/render_nb.py nbs/data/12b_phantom.ipynb ...   # default cells only
  python tools/render_nb.py --slow nbs/tutorials/82_x.ipynb   # also the `#| slow` cells (long training)
  python tools/render_nb.py --slow --no-clean NB               # on a machine without nbdev; run nbdev_clean --fname NB later

Outputs of hidden cells, stderr and progress bars are dropped; errors stop the run and nothing is written.
The notebook is then cleaned with nbdev_clean, so `make test`'s hygiene checks apply to what is kept.
"""
from __future__ import annotations
import argparse, os, re, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/'tools'))
from hygiene import directives  # noqa: E402

KEEP_MIME = ('image/png', 'image/svg+xml', 'text/html', 'text/markdown', 'text/plain', 'text/latex')


def _skip(cell, slow: bool) -> bool:
    if cell.cell_type != 'code': return True
    if 'nbdev_export()' in cell.source: return True
    d = directives(cell)
    if d.get('eval:') == 'false': return True
    return 'slow' in d and not slow


MAX_PNG_WIDTH, MAX_PNG_BYTES = 900, 100_000    # a figure above 100 kB is re-encoded with a 256-colour palette (no visible change on plots)


def _shrink_png(b64: str) -> str:
    "Keep figures docs-sized: at most 900 px wide, re-encoded (palette if still big)."
    import base64, io
    from PIL import Image
    raw = base64.b64decode(b64)
    im = Image.open(io.BytesIO(raw))
    if im.width <= MAX_PNG_WIDTH and len(raw) <= MAX_PNG_BYTES: return b64
    if im.width > MAX_PNG_WIDTH:
        im = im.resize((MAX_PNG_WIDTH, round(im.height * MAX_PNG_WIDTH / im.width)), Image.LANCZOS)
    buf = io.BytesIO(); im.save(buf, 'PNG', optimize=True)
    if buf.tell() > MAX_PNG_BYTES:
        buf = io.BytesIO(); im.convert('RGB').quantize(256).save(buf, 'PNG', optimize=True)
    return base64.b64encode(buf.getvalue()).decode()


def _filter(cell):
    d = directives(cell)
    if 'hide' in d or 'export' in d or 'exporti' in d:
        cell.outputs = []; return
    keep = []
    for o in cell.get('outputs', []):
        t = o.get('output_type')
        if t == 'stream':
            if o.get('name') != 'stdout': continue
            text = ''.join(o['text']) if isinstance(o['text'], list) else o['text']
            text = '\n'.join(l.rsplit('\r', 1)[-1] for l in text.split('\n'))  # progress bars: keep the final state
            if text.strip(): o['text'] = text; keep.append(o)
        elif t in ('display_data', 'execute_result'):
            data = {k: v for k, v in o.get('data', {}).items() if k in KEEP_MIME}
            if 'image/png' in data:
                png = data['image/png']; data['image/png'] = _shrink_png(''.join(png) if isinstance(png, list) else png)
            if data: o['data'] = data; o['metadata'] = {}; keep.append(o)
    cell.outputs = keep


def render(path: Path, slow: bool = False, clean: bool = True):
    from execnb.nbio import read_nb, write_nb
    from execnb.shell import CaptureShell
    os.environ.setdefault('MPLBACKEND', 'Agg')
    nb = read_nb(path)
    sh = CaptureShell(path)
    sh.run_cell('%matplotlib inline')
    sh.run_cell("import matplotlib as _m; _m.rcParams['figure.dpi'] = 72; _m.rcParams['savefig.dpi'] = 72")
    cwd = os.getcwd(); os.chdir(path.parent)
    try:
        t0 = time.time()
        sh.run_all(nb, exc_stop=True, preproc=lambda c: _skip(c, slow))
    except Exception:
        sys.stderr.write(sh.prettytb(fname=path) + '\n'); return False
    finally: os.chdir(cwd)
    for c in nb.cells:
        if c.cell_type == 'code':
            if _skip(c, slow) and not c.get('outputs'): c.outputs = []
            _filter(c); c.execution_count = None
    write_nb(nb, path)
    if clean:
        exe = Path(sys.executable).parent/'nbdev_clean'
        subprocess.run([str(exe), '--fname', str(path)], cwd=ROOT, check=True)
    print(f"rendered {path.relative_to(ROOT)} in {time.time() - t0:.0f} s ({path.stat().st_size/1e3:.0f} kB)")
    return True


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('notebooks', nargs='+')
    ap.add_argument('--slow', action='store_true', help='also run `#| slow` cells')
    ap.add_argument('--no-clean', action='store_true', help='skip nbdev_clean (a machine without nbdev: clean the notebook afterwards)')
    a = ap.parse_args()
    ok = all([render(Path(p).resolve(), a.slow, not a.no_clean) for p in a.notebooks])
    sys.exit(0 if ok else 1)
