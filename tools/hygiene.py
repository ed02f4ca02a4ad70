#!/usr/bin/env python
"""Hygiene checks of the mammo_nb repository (part of `make test`).

Each check returns a list of problems (empty = OK); every problem names the file and what is wrong.
  python tools/hygiene.py                  # all checks on this checkout
  python tools/hygiene.py --root DIR sync  # selected checks on another copy
  python tools/hygiene.py --write-readme   # regenerate README.md from nbs/index.ipynb
"""
from __future__ import annotations
import argparse, ast, json, os, re, shutil, subprocess, sys, tempfile, warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NB_BUDGET = 1_500_000      # bytes per notebook (outputs included)
TOTAL_BUDGET = 20_000_000  # bytes for all notebooks together
# DICOM attributes that identify a person; none may appear in notebook outputs or manifests.
PHI_KEYWORDS = ['PatientName', 'PatientBirthDate', 'PatientBirthTime', 'PatientAddress', 'PatientTelephoneNumbers',
                'PatientMotherBirthName', 'OtherPatientNames', 'OtherPatientIDs', 'AccessionNumber',
                'ReferringPhysicianName', 'PerformingPhysicianName', 'OperatorsName', 'InstitutionAddress',
                'MilitaryRank', 'MedicalRecordLocator', "Patient's Name", "Patient's Birth Date", 'Accession Number',
                '(0010,0010)', '(0010, 0010)', '(0010,0030)', '(0010, 0030)', '(0008,0050)', '(0008, 0050)']
ABS_PATH = re.compile(r'''(?<![\w.~/-])(?:/(?:home|root|tmp|work|Users|mnt|var|opt|private|usr/local)/[^\s'"]*|[A-Za-z]:\\\\?[^\s'"]+)''')
DIRECTIVE = re.compile(r'^\s*#\|\s*([\w-]+)(.*)$')


def notebooks(root: Path) -> list[Path]:
    "Every notebook under nbs/ (not the docs cache or checkpoints)."
    return sorted(p for p in (root/'nbs').rglob('*.ipynb')
                  if not any(part.startswith(('.', '_')) for part in p.relative_to(root/'nbs').parts))


def _nb(p: Path) -> dict: return json.loads(p.read_text(encoding='utf-8'))
def _src(c) -> str: return c['source'] if isinstance(c['source'], str) else ''.join(c['source'])
def _rel(p: Path, root: Path) -> str: return p.relative_to(root).as_posix()


def directives(cell) -> dict:
    "The `#| name args` directives at the top of a code cell."
    out = {}
    for line in _src(cell).splitlines():
        m = DIRECTIVE.match(line)
        if m: out[m.group(1)] = m.group(2).strip()
        elif line.strip(): break
    return out


def default_exp(nb: dict) -> str | None:
    for c in nb['cells']:
        if c['cell_type'] == 'code':
            d = directives(c)
            if 'default_exp' in d: return d['default_exp']
    return None


def band(p: Path) -> tuple[int, str] | None:
    "The number band of a notebook from its file name: `12a_x.ipynb` -> (12, 'a')."
    m = re.match(r'^(\d+)([a-z]?)_', p.name)
    return (int(m.group(1)), m.group(2)) if m else None


# --------------------------------------------------------------------------------------------- checks
def _copy(root: Path, dst: Path, names=('settings.ini', 'nbs', 'mammo_nb', 'setup.py', 'pyproject.toml')):
    for n in names:
        s = root/n
        if s.is_dir(): shutil.copytree(s, dst/n, symlinks=True, ignore=shutil.ignore_patterns('__pycache__', '_proc', '.ipynb_checkpoints'))
        elif s.exists(): shutil.copy2(s, dst/n)


def _nbdev(cmd: str, cwd: Path) -> subprocess.CompletedProcess:
    exe = shutil.which(cmd) or str(Path(sys.executable).parent/cmd)
    return subprocess.run([exe], cwd=cwd, capture_output=True, text=True)


def check_sync(root: Path) -> list[str]:
    "mammo_nb/ is exactly what `nbdev_export` makes of the notebooks."
    with tempfile.TemporaryDirectory() as d:
        d = Path(d); _copy(root, d)
        for f in (d/'mammo_nb').rglob('*.py'):  # export from scratch; keep only the hand-written package markers
            if f.name != '__init__.py': f.unlink()
        r = _nbdev('nbdev_export', d)
        if r.returncode: return [f"nbdev_export failed: {r.stderr.strip()[-800:]}"]
        probs = []
        a, b = root/'mammo_nb', d/'mammo_nb'
        fa = {p.relative_to(a).as_posix() for p in a.rglob('*.py') if '__pycache__' not in p.parts}
        fb = {p.relative_to(b).as_posix() for p in b.rglob('*.py') if '__pycache__' not in p.parts}
        for f in sorted(fa | fb):
            if f not in fa: probs.append(f"mammo_nb/{f}: missing — a notebook exports it; run `make export` and commit")
            elif f not in fb: continue  # checked by the orphan rule below
            elif (a/f).read_bytes() != (b/f).read_bytes():
                probs.append(f"mammo_nb/{f}: differs from what the notebooks export (edit the notebook, never the "
                             "generated module; then `make export`)")
        exported = {m.replace('.', '/') for m in (default_exp(_nb(p)) for p in notebooks(root)) if m}
        packages = {'', *{'/'.join(e.split('/')[:i]) for e in exported for i in range(1, e.count('/') + 1)}}
        for f in sorted(fa - fb):
            stem = f[:-3]
            if f.endswith('__init__.py') and (stem[:-len('/__init__')] if stem != '__init__' else '') in packages:
                continue  # package markers (of every package and subpackage that holds exported modules)
            probs.append(f"mammo_nb/{f}: no notebook exports this module (orphan; delete it or add its notebook)")
        # the command index (mammo_nb/_cli.json) must match these sources, or the console script starts slowly
        r = subprocess.run([sys.executable, '-c', 'import sys; sys.path.insert(0, sys.argv[1]); import mammo_nb.cli as c; '
                            'sys.exit(0 if c.read_index() is not None else 3)', str(root)], capture_output=True, text=True)
        if r.returncode: probs.append("mammo_nb/_cli.json: the command index does not match the package's sources "
                                      "(run `make export`, which regenerates it, and commit)" + (f": {r.stderr.strip()[-300:]}" if r.returncode != 3 else ''))
        return probs


def check_clean(root: Path) -> list[str]:
    "`nbdev_clean` leaves every notebook unchanged."
    with tempfile.TemporaryDirectory() as d:
        d = Path(d); _copy(root, d, ('settings.ini', 'nbs'))
        r = _nbdev('nbdev_clean', d)
        if r.returncode: return [f"nbdev_clean failed: {r.stderr.strip()[-800:]}"]
        return [f"{_rel(p, root)}: not clean (run `make clean-nbs` and commit)" for p in notebooks(root)
                if p.read_bytes() != (d/p.relative_to(root)).read_bytes()]


def _output_texts(nb: dict):
    for i, c in enumerate(nb['cells']):
        for o in c.get('outputs', []):
            parts = []
            if 'text' in o: parts.append(o['text'] if isinstance(o['text'], str) else ''.join(o['text']))
            for mime, v in (o.get('data') or {}).items():
                if mime.startswith('image/') and mime != 'image/svg+xml': continue
                parts.append(v if isinstance(v, str) else ''.join(v) if isinstance(v, list) else json.dumps(v))
            if 'traceback' in o: parts.append('\n'.join(o['traceback']))
            yield i, '\n'.join(parts)


def _phi_hits(text: str) -> list[str]:
    hits = [k for k in PHI_KEYWORDS if k in text]
    hits += [f"absolute path {m.group(0)[:60]!r}" for m in ABS_PATH.finditer(text)]
    return hits


def check_phi(root: Path) -> list[str]:
    "No notebook output, notebook metadata or committed manifest carries PHI-like DICOM fields or absolute paths."
    probs = []
    for p in notebooks(root):
        nb = _nb(p)
        for i, text in _output_texts(nb):
            for h in _phi_hits(text): probs.append(f"{_rel(p, root)}, cell {i} output: {h}")
        for h in _phi_hits(json.dumps(nb.get('metadata', {}))): probs.append(f"{_rel(p, root)} metadata: {h}")
    man = root/'data_manifests'
    if man.exists():
        for f in sorted(man.rglob('*')):
            if f.is_file() and f.suffix.lower() in ('.csv', '.json', '.yaml', '.yml', '.tsv', '.txt', '.md'):
                for h in _phi_hits(f.read_text(encoding='utf-8', errors='replace')): probs.append(f"{_rel(f, root)}: {h}")
    return probs


def check_size(root: Path) -> list[str]:
    "Every notebook within its size budget, and all of them together."
    probs, total = [], 0
    for p in notebooks(root):
        n = p.stat().st_size; total += n
        if n > NB_BUDGET: probs.append(f"{_rel(p, root)}: {n/1e6:.2f} MB exceeds the {NB_BUDGET/1e6:.1f} MB notebook budget (smaller figures, fewer outputs)")
    if total > TOTAL_BUDGET: probs.append(f"nbs/: {total/1e6:.1f} MB of notebooks exceeds the {TOTAL_BUDGET/1e6:.0f} MB budget")
    return probs


def _parse(src: str) -> ast.AST:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # e.g. invalid escape sequences in notebook code
        return ast.parse(src)


def _imports_of(tree: ast.AST, module: str) -> set[str]:
    "Absolute names of the mammo_nb modules imported by `tree` (relative imports resolved from `module`)."
    pkg = module.split('.')[:-1]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split('.')[0] == 'mammo_nb'}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[:len(pkg) - (node.level - 1)] if node.level > 1 else pkg
                mod = '.'.join(base + ([node.module] if node.module else []))
            else: mod = node.module or ''
            if mod.split('.')[0] != 'mammo_nb': continue
            out.add(mod)
            for a in node.names: out.add(f"{mod}.{a.name}")  # `from mammo_nb.data import dicom`
    return out


def check_layering(root: Path) -> list[str]:
    "Modules and notebooks import only from notebooks of lower bands; tutorials export nothing; one notebook per module."
    probs, owner = [], {}
    nbs = notebooks(root)
    for p in nbs:
        mod = default_exp(_nb(p))
        if mod is None: continue
        full = f"mammo_nb.{mod}"
        if full in owner: probs.append(f"{_rel(p, root)}: exports {full}, already exported by {_rel(owner[full], root)}")
        owner[full] = p
        if band(p) is None: probs.append(f"{_rel(p, root)}: exports a module but has no number band in its name")
        if band(p) and band(p)[0] >= 80: probs.append(f"{_rel(p, root)}: tutorials (band 80+) must not export a module")
    known = {m: band(p) for m, p in owner.items() if band(p)}
    def target_band(name):
        while name:
            if name in known: return name, known[name]
            name = name.rpartition('.')[0]
        return None, None
    def check(src_name, src_band, imported, where):
        for imp in sorted(imported):
            tgt, tb = target_band(imp)
            if tgt is None or tgt == src_name: continue
            if tb >= src_band:
                probs.append(f"{where}: imports {tgt} (band {tb[0]}{tb[1]}) from band {src_band[0]}{src_band[1]}; "
                             "a module may only import from lower bands")
    for mod, p in owner.items():
        f = root/(mod.replace('.', '/') + '.py')
        if f.exists() and band(p):
            check(mod, band(p), _imports_of(_parse(f.read_text(encoding='utf-8')), mod), _rel(f, root))
    for p in nbs:
        b = band(p)
        if b is None: continue
        nb = _nb(p); me = default_exp(nb)
        for i, c in enumerate(nb['cells']):
            if c['cell_type'] != 'code': continue
            src = '\n'.join(l for l in _src(c).splitlines() if not l.lstrip().startswith(('%', '!')))
            try: tree = _parse(src)
            except SyntaxError: continue
            check(f"mammo_nb.{me}" if me else None, b, _imports_of(tree, 'mammo_nb.__nb__'), f"{_rel(p, root)}, cell {i}")
    return probs


def check_notebooks(root: Path) -> list[str]:
    "Each notebook opens with `# Title` + `> subtitle`, carries tests, keeps imports in import-only cells, is in the sidebar."
    probs = []
    side = _sidebar(root)
    for p in notebooks(root):
        nb, rel = _nb(p), _rel(p, root)
        first = nb['cells'][0] if nb['cells'] else None
        lines = [l for l in _src(first).splitlines() if l.strip()] if first else []
        if not first or first['cell_type'] != 'markdown' or not lines or not re.match(r'^# \S', lines[0]) \
           or not any(l.startswith('> ') for l in lines[1:3]):
            probs.append(f"{rel}: must open with a markdown cell `# Title` followed by `> one-line subtitle`")
        code = [c for c in nb['cells'] if c['cell_type'] == 'code']
        if p.name != 'index.ipynb' and not any(re.search(r'\b(test_eq|test_close|test_fail|test_ne|test_is|test_eq_type|assert)\b', _src(c))
                                               for c in code if 'export' not in directives(c)):
            probs.append(f"{rel}: carries no tests (test_eq/test_close/test_fail/assert)")
        for i, c in enumerate(nb['cells']):
            if c['cell_type'] != 'code': continue
            d = directives(c)
            if d.keys() & {'export', 'exports', 'exporti', 'exec_doc'} or d.get('eval:') == 'false': continue
            if 'nbdev_export()' in _src(c): continue  # nbdev never executes this cell during docs processing
            kind = _import_mix(_src(c))
            if kind and 'slow' in d:
                probs.append(f"{rel}, cell {i}: a `#| slow` cell imports (the docs build executes every cell that "
                             "imports, which would run the slow work); move the import to the imports cell")
            elif kind == 'mixed':
                probs.append(f"{rel}, cell {i}: imports mixed with other code (nbdev's docs build executes every cell "
                             "that imports, out of context); move the import to the imports cell")
        rel_nb = p.relative_to(root/'nbs').as_posix()
        if side is not None and rel_nb not in side: probs.append(f"{rel}: not listed in the sidebar of _quarto.yml")
    if side is not None:
        for s in side:
            if not (root/'nbs'/s).exists(): probs.append(f"_quarto.yml: sidebar lists {s}, which does not exist")
    return probs


def _import_mix(src: str) -> str | None:
    "'mixed' if a cell has imports (anywhere) and other statements, 'imports' if only imports, else None."
    src = '\n'.join(l for l in src.splitlines() if not l.lstrip().startswith(('%', '!')))
    try: tree = _parse(src)
    except SyntaxError: return None
    if not any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(tree)): return None
    return 'imports' if all(isinstance(n, (ast.Import, ast.ImportFrom)) for n in tree.body) else 'mixed'


def _sidebar(root: Path) -> list[str] | None:
    "Pages of the sidebar in `_quarto.yml`, in order."
    import yaml
    q = root/'_quarto.yml'
    if not q.exists(): return None
    cfg = yaml.safe_load(q.read_text())
    out = []
    def walk(items):
        for it in items or []:
            if isinstance(it, str): out.append(it)
            elif isinstance(it, dict):
                if 'href' in it: out.append(it['href'])
                walk(it.get('contents'))
    walk(((cfg.get('website') or {}).get('sidebar') or {}).get('contents'))
    return out


_MD_TARGET = re.compile(r'(\]\()([^)\s]+)(\))')   # the target of a markdown link or image: `](target)`
_FENCE = re.compile(r'^ {0,3}(`{3,}|~{3,})')


def _md_lines(md: str):
    "The lines of markdown (ends kept), each with whether it belongs to a fenced code block."
    fence = None
    for line in md.splitlines(keepends=True):
        f = _FENCE.match(line)
        if f and fence is None: fence = f.group(1)[0]; yield line, True
        elif f and f.group(1)[0] == fence: fence = None; yield line, True
        else: yield line, fence is not None


def md_targets(md: str) -> list[str]:
    "The targets of the links and images of markdown, outside fenced code."
    return [m.group(2) for line, code in _md_lines(md) if not code for m in _MD_TARGET.finditer(line)]


def _from_root(md: str) -> str:
    "Relative link and image targets of a page in nbs/ made relative to the repository root (for README.md)."
    def fix(m):
        u = m.group(2)
        return m.group(0) if re.match(r'^([a-z][\w+.-]*:|#|/)', u) else f"{m.group(1)}nbs/{u}{m.group(3)}"
    return ''.join(line if code else _MD_TARGET.sub(fix, line) for line, code in _md_lines(md))


def readme_text(root: Path) -> str:
    """README.md as generated from nbs/index.ipynb: markdown cells as they are (with their relative links and figures
    pointed into nbs/, so that they work from the repository's top), visible code cells fenced."""
    nb = _nb(root/'nbs'/'index.ipynb')
    parts = []
    for c in nb['cells']:
        src = _src(c).rstrip()
        if c['cell_type'] == 'markdown': parts.append(_from_root(src))
        elif c['cell_type'] == 'code':
            d = directives(c)
            if 'hide' in d or 'export' in d or 'exporti' in d or d.get('echo') == 'false': continue
            code = '\n'.join(l for l in src.splitlines() if not DIRECTIVE.match(l)).strip()
            if code: parts.append(f"```python\n{code}\n```")
    return '\n\n'.join(parts) + '\n\n<!-- generated from nbs/index.ipynb by `make readme`; edit the notebook, not this file -->\n'


def check_readme(root: Path) -> list[str]:
    "README.md is in step with nbs/index.ipynb."
    r = root/'README.md'
    if not r.exists(): return ["README.md: missing (run `make readme`)"]
    return [] if r.read_text(encoding='utf-8') == readme_text(root) else \
        ["README.md: out of step with nbs/index.ipynb (edit the notebook, then `make readme`)"]


def check_home(root: Path) -> list[str]:
    "The home page (nbs/index.ipynb) links every tutorial and shows a figure; settings.ini's description is its subtitle."
    import configparser
    nb, probs = _nb(root/'nbs'/'index.ipynb'), []
    md = [_src(c) for c in nb['cells'] if c['cell_type'] == 'markdown']
    targets = {t.split('#')[0] for m in md for t in md_targets(m)}
    for p in notebooks(root):
        rel = p.relative_to(root/'nbs').as_posix()
        if rel.startswith('tutorials/') and rel not in targets:
            probs.append(f"nbs/index.ipynb: the home page does not link the tutorial {rel} (add it to its list of tutorials)")
    figures = [t for m in md for t in re.findall(r'!\[[^\]]*\]\(([^)\s]+)\)', m)]
    outputs = any(k.startswith('image/') for c in nb['cells'] for o in c.get('outputs', []) for k in (o.get('data') or {}))
    if not outputs and not any((root/'nbs'/f).is_file() for f in figures):
        probs.append("nbs/index.ipynb: the home page shows no figure (an image of the phantom that exists, "
                     f"e.g. ![caption](systems/NAME/reference.png)){' — missing: ' + ', '.join(figures) if figures else ''}")
    first = [l for l in _src(nb['cells'][0]).splitlines() if l.startswith('> ')] if nb['cells'] else []
    cfg = configparser.ConfigParser(interpolation=None); cfg.read(root/'settings.ini')
    desc = cfg['DEFAULT'].get('description', '').strip()
    if first and desc != first[0][2:].strip():
        probs.append("settings.ini: description differs from the home page's subtitle (the `> ...` line of nbs/index.ipynb); "
                     "nbdev copies it into the site (nbs/nbdev.yml) and the package metadata — keep the two the same")
    return probs


CHECKS = {'sync': check_sync, 'clean': check_clean, 'phi': check_phi, 'size': check_size,
          'layering': check_layering, 'notebooks': check_notebooks, 'readme': check_readme, 'home': check_home}


def run(root: Path, names=None) -> int:
    failed = 0
    for n in names or CHECKS:
        probs = CHECKS[n](root)
        if probs:
            failed += 1
            print(f"FAIL {n}: {CHECKS[n].__doc__}")
            for p in probs: print(f"  - {p}")
        else: print(f"ok   {n}: {CHECKS[n].__doc__}")
    return 1 if failed else 0


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('checks', nargs='*', choices=[[], *CHECKS], help='checks to run (default: all)')
    ap.add_argument('--root', default=str(ROOT))
    ap.add_argument('--write-readme', action='store_true')
    a = ap.parse_args()
    root = Path(a.root).resolve()
    if a.write_readme:
        (root/'README.md').write_text(readme_text(root), encoding='utf-8'); print("README.md written from nbs/index.ipynb")
        sys.exit(0)
    sys.exit(run(root, a.checks or None))
