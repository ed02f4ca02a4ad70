#!/usr/bin/env python
"""The docs pipeline (`make docs`; `--check` is part of `make test`).

With Quarto on PATH: `nbdev_docs` builds the full site into _docs/.
Without it: every notebook is processed exactly as nbdev processes it for Quarto (into _proc/), and an HTML
preview of every page, with the sidebar order of _quarto.yml, is written to _preview/.
"""
from __future__ import annotations
import argparse, html, json, os, re, shutil, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/'tools'))
from hygiene import notebooks, _sidebar  # noqa: E402


def process(root: Path = ROOT, n_workers: int = 2) -> list[Path]:
    "Run nbdev's docs processing (everything before the Quarto render) on every notebook; return the outputs."
    os.chdir(root)
    from nbdev.quarto import refresh_quarto_yml
    from nbdev.doclinks import _build_modidx
    from nbdev.serve import proc_nbs
    refresh_quarto_yml()   # writes nbs/nbdev.yml from settings.ini; nbs/_quarto.yml is the symlink to ../_quarto.yml
    _build_modidx()
    cache = proc_nbs(n_workers=n_workers, force=True)
    missing = [p for p in notebooks(root) if not (cache/p.relative_to(root/'nbs')).exists()]
    if missing: raise RuntimeError("docs processing produced no page for: " + ', '.join(str(p.relative_to(root)) for p in missing))
    return [cache/p.relative_to(root/'nbs') for p in notebooks(root)]


PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title} – mammo_nb</title>
<script type="text/x-mathjax-config">MathJax.Hub.Config({{tex2jax:{{inlineMath:[['$','$'],['\\\\(','\\\\)']],processEscapes:true}}}});</script>
<script src="{up}mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"></script>
<style>
body{{margin:0;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;line-height:1.5;color:#222;display:flex}}
nav{{width:250px;min-height:100vh;background:#f4f6f8;padding:1rem;box-sizing:border-box;font-size:.9rem;flex-shrink:0}}
nav a{{display:block;color:#2a5bd7;text-decoration:none;padding:2px 0}} nav a.here{{font-weight:bold;color:#111}}
nav .sec{{margin-top:.8rem;font-weight:600;color:#555;text-transform:uppercase;font-size:.75rem}}
main{{max-width:980px;padding:1.5rem 2.5rem;overflow-x:auto;flex-grow:1}}
pre{{background:#f7f7f9;padding:.6rem;overflow-x:auto;font-size:.85rem}} .jp-OutputArea-output pre{{background:#fff;border-left:2px solid lightsalmon}}
table{{border-collapse:collapse}} td,th{{border:1px solid #ddd;padding:3px 8px}} img{{max-width:100%}}
.jp-InputPrompt,.jp-OutputPrompt,.prompt{{display:none}} .preview-note{{color:#777;font-size:.8rem}}
</style></head><body><nav><b>mammo_nb</b><div class="preview-note">HTML preview (Quarto not installed)</div>{nav}</nav>
<main>{body}</main></body></html>"""


def _nav(items, here, root_cfg):
    out = []
    def walk(xs):
        for it in xs or []:
            if isinstance(it, str):
                href = it.replace('.ipynb', '.html')
                title = _titles.get(it, it)
                out.append(f'<a href="{"../" * here.count("/")}{href}" class="{"here" if it == here else ""}">{html.escape(title)}</a>')
            elif isinstance(it, dict):
                if 'section' in it: out.append(f'<div class="sec">{html.escape(it["section"])}</div>')
                walk(it.get('contents'))
    walk(root_cfg)
    return '\n'.join(out)


_titles: dict = {}


def mathjax_dir() -> Path:
    "The local MathJax 2.7 copy that the preview serves (the `jupyter-server-mathjax` package, a dev requirement): no CDN."
    try: import jupyter_server_mathjax
    except ImportError: raise SystemExit("the docs preview needs the dev requirement jupyter-server-mathjax (make venv installs it)")
    d = Path(jupyter_server_mathjax.__file__).parent/'static'
    if not (d/'MathJax.js').exists(): raise SystemExit(f"no MathJax.js in {d}")
    return d


def preview(root: Path = ROOT, pages: list[Path] | None = None) -> Path:
    "Write a static HTML preview of every processed page into _preview/, with the sidebar of _quarto.yml (equations by a local MathJax)."
    import yaml
    from nbconvert import HTMLExporter
    cfg = yaml.safe_load((root/'_quarto.yml').read_text())
    contents = cfg['website']['sidebar']['contents']
    order = _sidebar(root)
    out = root/'_preview'
    shutil.rmtree(out, ignore_errors=True); out.mkdir()
    shutil.copytree(mathjax_dir(), out/'mathjax')   # offline equations: the preview never fetches anything
    exp = HTMLExporter(template_name='basic')
    exp.exclude_input_prompt = exp.exclude_output_prompt = True
    proc = root/'_proc'
    def front_matter(nb):
        for c in nb['cells']:
            src = ''.join(c['source']) if isinstance(c['source'], list) else c['source']
            if c['cell_type'] in ('raw', 'markdown') and src.lstrip().startswith('---'):
                return c, (yaml.safe_load(src.strip().strip('-')) or {})
        return None, {}
    for rel in order:
        nb = json.loads((proc/rel).read_text())
        _titles[rel] = front_matter(nb)[1].get('title') or rel
    import nbformat
    from nbconvert.preprocessors import TagRemovePreprocessor
    exp.register_preprocessor(TagRemovePreprocessor(remove_input_tags={'remove_input'}, remove_cell_tags={'remove_cell'}), enabled=True)
    quarto_attr = re.compile(r'\{(?:target|style|\.)[^}]*\}')
    for rel in order:
        nb = nbformat.reads((proc/rel).read_text(), as_version=4)
        fm_cell, fm = front_matter(nb)
        if fm_cell is not None:  # nbdev turned the title cell into front matter; show it as a heading again
            fm_cell.cell_type, fm_cell.metadata = 'markdown', {}
            fm_cell.pop('outputs', None); fm_cell.pop('execution_count', None)
            fm_cell.source = f"# {fm.get('title', '')}\n\n*{fm.get('description', '')}*"
        for c in nb.cells:
            if c.cell_type != 'code': continue
            lines = c.source.splitlines()
            dirs = [l for l in lines if l.lstrip().startswith('#|')]
            c.source = '\n'.join(l for l in lines if not l.lstrip().startswith('#|')).strip()
            if any(re.search(r'echo:\s*false', d) for d in dirs): c.metadata.setdefault('tags', []).append('remove_input')
            if any(re.search(r'include:\s*false', d) for d in dirs): c.metadata.setdefault('tags', []).append('remove_cell')
            for o in c.get('outputs', []):
                for k in ('text/markdown', 'text/html'):
                    if k in o.get('data', {}): o['data'][k] = quarto_attr.sub('', o['data'][k])
        body, _ = exp.from_notebook_node(nb)
        dst = out/rel.replace('.ipynb', '.html'); dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text(PAGE.format(title=html.escape(_titles[rel]), nav=_nav(contents, rel, contents), body=body, up='../' * rel.count('/')))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--check', action='store_true', help='only process every notebook (the test gate)')
    ap.add_argument('--workers', type=int, default=2)
    a = ap.parse_args()
    t0 = time.time()
    if not a.check and shutil.which('quarto'):
        r = subprocess.run([shutil.which('nbdev_docs') or 'nbdev_docs'], cwd=ROOT)
        if r.returncode: sys.exit(r.returncode)
        print(f"docs site built into _docs/ ({time.time() - t0:.0f} s)")
        return
    pages = process(ROOT, a.workers)
    if a.check:
        print(f"docs processing ok: {len(pages)} notebooks processed ({time.time() - t0:.0f} s)")
        return
    out = preview(ROOT, pages)
    print(f"Quarto not found: processed {len(pages)} notebooks as nbdev does and wrote an HTML preview to "
          f"{out.relative_to(ROOT)}/index.html (install Quarto for the full site).")


if __name__ == '__main__':
    main()
