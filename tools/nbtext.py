#!/usr/bin/env python
"""Edit notebooks as plain text: dump a notebook to a `.nb.py` text file and write the text back.

  python tools/nbtext.py dump nbs/data/12b_phantom.ipynb            # -> .nbtext/nbs/data/12b_phantom.nb.py (or --out F)
  python tools/nbtext.py load .nbtext/nbs/data/12b_phantom.nb.py    # -> nbs/data/12b_phantom.ipynb (or --out F)
  python tools/nbtext.py new  .nbtext/nbs/losses/34_x.nb.py         # text file -> new notebook nbs/losses/34_x.ipynb

The text format: each cell starts with a marker line `#%% md` or `#%% code`, followed by the cell's source exactly
as it is (no comment prefixes). `load` keeps the outputs of every code cell whose source did not change (matched
by source), so editing one cell does not drop the figures of the others; changed cells lose their outputs
(re-render with tools/render_nb.py). The result is cleaned with nbdev_clean. The text files are scratch files kept in
`.nbtext/` (a mirror of the repository's paths, ignored by git) and not beside the notebooks: nbdev's docs processing
reads every file under nbs/, and a `.nb.py` there would break `make test`. A text file elsewhere loads into the notebook
beside it.
"""
from __future__ import annotations
import argparse, hashlib, json, re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRATCH = ROOT/'.nbtext'
MARK = re.compile(r'^#%% (md|code|raw)\s*$')
KIND = {'markdown': 'md', 'code': 'code', 'raw': 'raw'}
BACK = {v: k for k, v in KIND.items()}


def _src(c) -> str: return c['source'] if isinstance(c['source'], str) else ''.join(c['source'])


def text_path(nb_path: Path) -> Path:
    "Where `dump` writes a notebook's text: its path mirrored under `.nbtext/` (beside it for a notebook outside the repository)."
    try: return SCRATCH/nb_path.resolve().relative_to(ROOT).with_suffix('.nb.py')
    except ValueError: return nb_path.with_suffix('.nb.py')


def notebook_path(txt_path: Path) -> Path:
    "The notebook a text file loads into: the mirrored path for a file under `.nbtext/`, else the notebook beside it."
    p = Path(str(txt_path.resolve()).removesuffix('.nb.py') + '.ipynb')
    try: return ROOT/p.relative_to(SCRATCH)
    except ValueError: return Path(str(txt_path).removesuffix('.nb.py') + '.ipynb')


def dump(nb_path: Path, out: Path | None = None) -> Path:
    nb = json.loads(nb_path.read_text(encoding='utf-8'))
    parts = [f"#%% {KIND[c['cell_type']]}\n{_src(c).rstrip()}\n" for c in nb['cells']]
    out = out or text_path(nb_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text('\n'.join(parts), encoding='utf-8')
    return out


def parse(text: str) -> list[tuple[str, str]]:
    cells, kind, buf = [], None, []
    for line in text.splitlines():
        m = MARK.match(line)
        if m:
            if kind is not None: cells.append((kind, '\n'.join(buf).strip('\n')))
            kind, buf = m.group(1), []
        elif kind is None:
            if line.strip(): raise SystemExit(f"text before the first '#%% md|code' marker: {line!r}")
        else: buf.append(line)
    if kind is not None: cells.append((kind, '\n'.join(buf).strip('\n')))
    return cells


def _lines(src: str) -> list[str]:
    "A cell source the way Jupyter stores it: a list of lines, each but the last ending in a newline."
    lines = src.split('\n')
    return [l + '\n' for l in lines[:-1]] + ([lines[-1]] if lines[-1] else [])


def _cell(kind: str, src: str, old: dict | None, used: set) -> dict:
    cid = old.get('id') if old is not None else None
    if cid is None or cid in used:  # a new cell: an id derived from its content, unique in the notebook
        n = 0
        while cid is None or cid in used:
            cid = hashlib.sha1(f'{kind}{n}{src}'.encode()).hexdigest()[:8]; n += 1
    used.add(cid)
    c = {'cell_type': BACK[kind], 'id': cid, 'metadata': {}, 'source': _lines(src)}
    if kind == 'code':
        c['execution_count'] = None
        c['outputs'] = old.get('outputs', []) if old is not None else []
    return c


def load(txt_path: Path, out: Path | None = None, new: bool = False) -> Path:
    out = out or notebook_path(txt_path)
    cells = parse(txt_path.read_text(encoding='utf-8'))
    if out.exists() and not new:
        nb = json.loads(out.read_text(encoding='utf-8'))
    else:
        nb = {'cells': [], 'metadata': {'kernelspec': {'display_name': 'python3', 'language': 'python', 'name': 'python3'}},
              'nbformat': 4, 'nbformat_minor': 5}
    old, used = {}, set()
    for c in nb['cells']: old.setdefault((KIND[c['cell_type']], _src(c).strip('\n')), c)
    nb['cells'] = [_cell(k, s, old.get((k, s)), used) for k, s in cells]
    out.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n', encoding='utf-8')
    exe = Path(sys.executable).parent/'nbdev_clean'
    if not exe.exists(): exe = ROOT/'.venv'/'bin'/'nbdev_clean'   # run by another Python than the project's
    if exe.exists(): subprocess.run([str(exe), '--fname', str(out)], check=False, capture_output=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('action', choices=['dump', 'load', 'new'])
    ap.add_argument('path')
    ap.add_argument('--out', default=None)
    a = ap.parse_args()
    p, out = Path(a.path), (Path(a.out) if a.out else None)
    if a.action == 'dump': print(dump(p, out))
    else: print(load(p, out, new=a.action == 'new'))


if __name__ == '__main__':
    main()
