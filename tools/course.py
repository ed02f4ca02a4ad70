#!/usr/bin/env python
"""The tutorials as a class works through them: their exercises, folded solutions, and clean copies (`make clean-copies`).

How a tutorial ends (the convention; nbs/course.ipynb explains it to students):

- `## Exercises`: a numbered list of questions the page can answer in seconds. The text asks; it never answers.
- After the list, one folded solution per exercise, in three kinds of cell: a markdown cell that opens a collapsed
  callout titled by the exercise's number and may say in words how the solution goes,

      ::: {.callout-tip collapse="true"}
      ## Show the solution to exercise 1
      ...

  then the solution's code cell(s) — ordinary cells with their outputs, never `#| slow`, so the default tests
  (`nbdev_test`) run every solution — then a markdown cell that closes the callout (`:::` on its first line). Quarto
  renders the notebook as one document, so the callout folds the code *and* its output; the offline preview
  (tools/docs.py) draws the same `<details>`, closed.
- Questions that need new training runs have no solution on the page: they are *Further research*, the last part of
  the page's `## Questionnaire` (short questions whose answers are on the page).

Clean copies: `python tools/course.py` (`make clean-copies`) writes every tutorial into _course/ with every output
stripped and every solution replaced by an empty cell to fill in; the copies are generated, never edited, and not
committed (git-ignored, like _proc/ and _preview/): the notebook is the one source, and a copy that was committed would
need a check to stay in step with it.
"""
from __future__ import annotations
import argparse, copy, hashlib, json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/'tools'))
from docs import cell_spans, _div_attrs, _DIV_OPEN, _HEADING   # noqa: E402

SOLUTION = re.compile(r'^Show the solution to exercise (\d+)$')
PLACEHOLDER = '# your solution here'
OUT = '_course'


def tutorials(root: Path = ROOT) -> list[Path]:
    "The tutorial notebooks (nbs/tutorials/*.ipynb)."
    return sorted((root/'nbs'/'tutorials').glob('*.ipynb'))


def _src(c) -> str: return c['source'] if isinstance(c['source'], str) else ''.join(c['source'])


def _opening(md: str) -> tuple[list[str], dict, str | None]:
    "Classes, attributes and title of the callout a markdown cell opens on its first line ([] if it opens none)."
    lines = md.splitlines()
    m = _DIV_OPEN.match(lines[0]) if lines else None
    if not m: return [], {}, None
    classes, _, kv = _div_attrs(m.group(2) if m.group(2) is not None else '.' + m.group(3))
    title = kv.get('title')
    if title is None:
        h = next((_HEADING.match(l) for l in lines[1:] if l.strip()), None)
        title = h.group(1) if h else None
    return classes, kv, title


def solutions(nb: dict) -> list[dict]:
    """The folded solutions of a notebook: collapsed callouts (`collapse="true"`) titled "Show the solution to exercise
    N" that span cells. Each: the exercise's number, the opening and closing cells' indices and the code cells'."""
    out = []
    for a, b in cell_spans(nb['cells']):
        classes, kv, title = _opening(_src(nb['cells'][a]))
        m = SOLUTION.match(title or '')
        if not m: continue
        out.append(dict(exercise=int(m.group(1)), open=a, close=b, collapsed=kv.get('collapse', '').lower() == 'true',
                        callout=any(c.startswith('callout-') for c in classes),
                        code=[i for i in range(a + 1, b) if nb['cells'][i]['cell_type'] == 'code']))
    return out


def exercises(nb: dict) -> list[int]:
    "The numbers of the items of the `## Exercises` list (empty if the page has no such section)."
    nums, inside = [], False
    for c in nb['cells']:
        if c['cell_type'] != 'markdown': continue
        for line in _src(c).splitlines():
            if re.match(r'^#{1,2}\s', line): inside = bool(re.match(r'^##\s+Exercises\s*$', line))
            elif inside and (m := re.match(r'^(\d+)\.\s', line)): nums.append(int(m.group(1)))
    return nums


def _id(*parts) -> str: return hashlib.sha1('/'.join(map(str, parts)).encode()).hexdigest()[:8]


def clean_copy(nb: dict, name: str) -> dict:
    """A tutorial for a class to fill in: every output stripped, every folded solution (its prose and code) replaced by
    a heading and an empty code cell, and a note saying where the copy comes from."""
    nb = copy.deepcopy(nb)
    cells = nb['cells']
    for s in reversed(solutions(nb)):
        n = s['exercise']
        cells[s['open']:s['close'] + 1] = [
            dict(cell_type='markdown', id=_id(name, n, 'md'), metadata={}, source=f"**Your solution to exercise {n}**"),
            dict(cell_type='code', id=_id(name, n, 'code'), metadata={}, execution_count=None, outputs=[],
                 source=f"{PLACEHOLDER} (exercise {n})")]
    for c in cells:
        if c['cell_type'] == 'code': c['outputs'], c['execution_count'] = [], None
    note = dict(cell_type='markdown', id=_id(name, 'note'), metadata={},
                source=f"*A clean copy of `nbs/tutorials/{name}` for working through it: outputs and solutions removed. "
                       f"Generated by `make clean-copies` (tools/course.py); edit the tutorial, never this copy.*")
    cells.insert(1 if cells and cells[0]['cell_type'] == 'markdown' else 0, note)
    return nb


def write_clean_copies(root: Path = ROOT, out: Path | None = None, names: list[str] | None = None) -> list[Path]:
    "Write the clean copy of every tutorial (or of those named, by file name or its number: `85b`) into `out` (_course/)."
    out = Path(out or root/OUT); out.mkdir(parents=True, exist_ok=True)
    done = []
    for p in tutorials(root):
        if names and not any(p.name == n or p.stem == n or p.name.startswith(f"{n}_") for n in names): continue
        nb = json.loads(p.read_text(encoding='utf-8'))
        dst = out/p.name
        dst.write_text(json.dumps(clean_copy(nb, p.name), indent=1, ensure_ascii=False) + '\n', encoding='utf-8')
        done.append(dst)
    if names and not done: raise SystemExit(f"no tutorial matches {' '.join(names)}")
    return done


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('names', nargs='*', help='tutorials to copy (file name or number, e.g. 85b); default: all')
    ap.add_argument('--out', default=None, help=f'folder for the copies (default {OUT}/)')
    a = ap.parse_args()
    for p in write_clean_copies(ROOT, a.out and Path(a.out), a.names):
        print(f"wrote {p.relative_to(ROOT) if p.is_relative_to(ROOT) else p}")


if __name__ == '__main__':
    main()
