#!/usr/bin/env python
"""The docs pipeline (`make docs`; `--check` is part of `make test`).

With Quarto on PATH: `nbdev_docs` builds the full site into _docs/.
Without it: every notebook is processed exactly as nbdev processes it for Quarto (into _proc/), and an HTML
preview of every page is written to _preview/, an offline site that works: each page where Quarto puts it
(nbdev's `output-file`), links to notebooks turned into links to their pages, nbdev's links to the published
API docs made local, the files pages refer to (figures) copied, Quarto callouts drawn as boxes (a folded one as a
`<details>` without `open`, also when it holds code cells and their outputs: the course's solutions), `code-fold`
as Quarto folds code, equations
typeset by a local MathJax (no CDN), the sidebar of _quarto.yml grouped by its sections, and (with its
`page-navigation`) links to the previous and the next page of the sidebar.

`--check` (part of `make test`) builds the preview too and fails on any broken local link (every `href` and
`src` of every page) and on any literal fenced-div markup (`:::`), naming the page, its notebook and the link.
"""
from __future__ import annotations
import argparse, configparser, html, os, posixpath, re, shutil, subprocess, sys, time
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/'tools'))
from hygiene import notebooks, _sidebar, _md_lines  # noqa: E402


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


# --------------------------------------------------------------------------------------------- callouts
CALLOUTS = ('note', 'tip', 'warning', 'caution', 'important')   # Quarto's five callout types
_DIV_OPEN = re.compile(r'^(:{3,})\s*(?:\{([^}]*)\}|([\w-]+))\s*$')
_DIV_CLOSE = re.compile(r'^:{3,}\s*$')
_HEADING = re.compile(r'^#{1,6}\s+(.*?)(?:\s+#+)?\s*$')
_KV = re.compile(r'''([\w-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"']+))''')


def _div_attrs(spec: str) -> tuple[list[str], str | None, dict]:
    "Classes, id and key=value attributes of a pandoc attribute block (`.callout-tip #id title=\"T\" collapse=true`)."
    kv = {m.group(1): next(g for g in m.groups()[1:] if g is not None) for m in _KV.finditer(spec)}
    rest = _KV.sub(' ', spec)
    ids = re.findall(r'(?:^|\s)#([\w:.-]+)', rest)
    return re.findall(r'(?:^|\s)\.([\w-]+)', rest), (ids[0] if ids else None), kv


def _inline(md: str) -> str:
    "Markdown of one line (a callout's title) as inline HTML."
    from nbconvert.filters.markdown_mistune import markdown2html_mistune
    h = markdown2html_mistune(md).strip()
    return h[3:-4] if h.startswith('<p>') and h.endswith('</p>') and h.count('<p>') == 1 else h


def _fenced(md: str) -> tuple[list[str], list[tuple[str, int]]]:
    "The lines of `fenced_divs`, and the divs left open at the end of `md`: (closing HTML, index of the opening line)."
    rows = [(line.rstrip('\r\n'), code) for line, code in _md_lines(md)]
    lines, out, closers, i = [line for line, _ in rows], [], [], 0
    while i < len(lines):
        line, code = rows[i]; i += 1
        if code: out.append(line); continue
        m = _DIV_OPEN.match(line)
        if m:
            classes, ident, kv = _div_attrs(m.group(2) if m.group(2) is not None else '.' + m.group(3))
            kind = next((c[len('callout-'):] for c in classes if c.startswith('callout-') and c[len('callout-'):] in CALLOUTS), None)
            if kind is None:
                attrs = (f' id="{html.escape(ident)}"' if ident else '') + (f' class="{html.escape(" ".join(classes))}"' if classes else '')
                out += [f'<div{attrs}>', '']; closers.append(('</div>', len(out) - 2))
                continue
            title = kv.get('title')
            if title is None:   # Quarto takes a heading on the callout's first line as its title
                j = i
                while j < len(lines) and not lines[j].strip(): j += 1
                h = _HEADING.match(lines[j]) if j < len(lines) else None
                if h: title, i = h.group(1), j + 1
            head, cls = (_inline(title) if title else kind.capitalize()), f'callout callout-{kind}'
            collapse = kv.get('collapse', '').lower()
            if collapse in ('true', 'false'):
                out += [f'<details class="{cls}"{" open" if collapse == "false" else ""}><summary class="callout-title">{head}</summary>'
                        '<div class="callout-body">', '']
                closers.append(('</div></details>', len(out) - 2))
            else:
                out += [f'<div class="{cls}"><div class="callout-title">{head}</div><div class="callout-body">', '']
                closers.append(('</div></div>', len(out) - 2))
            continue
        if closers and _DIV_CLOSE.match(line):
            out += ['', closers.pop()[0], '']
            continue
        out.append(line)
    return out, closers


def fenced_divs(md: str) -> str:
    """Quarto/pandoc fenced divs (`::: {.callout-note}` ... `:::`) as HTML blocks around their markdown.

    Callouts of the five types become boxes with their title (the `title` attribute, else a heading on the
    div's first line, else the type's name); `collapse="true"|"false"` makes them folded or foldable. Other
    divs become plain `<div>`s with their classes. Code blocks are left alone; the markdown inside still goes
    through the markdown converter (math included), because each HTML line stands between blank lines.
    A div the text leaves open is closed at its end (as pandoc does; across notebook cells see `cell_spans`)."""
    out, closers = _fenced(md)
    while closers: out += ['', closers.pop()[0], '']
    return '\n'.join(out) + ('\n' if md.endswith('\n') else '')


def _cell_src(c) -> str: return c['source'] if isinstance(c['source'], str) else ''.join(c['source'])


def _closes(md: str) -> bool:
    "Whether a markdown cell starts by closing a div (its first line that is not blank is a bare `:::`)."
    first = next((l for l in md.splitlines() if l.strip()), '')
    return bool(_DIV_CLOSE.match(first))


def cell_spans(cells) -> list[tuple[int, int]]:
    """Divs that span notebook cells, as (opening cell, closing cell): a markdown cell that leaves exactly one div open
    and the next markdown cell that starts with a bare `:::`. This is how a notebook puts code cells, with their
    outputs, inside a callout (the course's folded solutions): Quarto renders the notebook as one document, so the
    div holds the cells between; the preview draws the same box around them."""
    spans, k = [], 0
    while k < len(cells):
        c = cells[k]
        if c['cell_type'] == 'markdown' and len(_fenced(_cell_src(c))[1]) == 1:
            j = next((j for j in range(k + 1, len(cells)) if cells[j]['cell_type'] == 'markdown'
                      and (_closes(_cell_src(cells[j])) or _fenced(_cell_src(cells[j]))[1])), None)
            if j is not None and _closes(_cell_src(cells[j])):
                spans.append((k, j)); k = j + 1; continue
        k += 1
    return spans


# --------------------------------------------------------------------------------------------- links
_LINK_ATTR = re.compile(r'''(\s(?:href|src)\s*=\s*)(["'])(.*?)\2''', re.S | re.I)
_API = ' data-api="nbdev"'   # marks nbdev's links to the API docs: their anchors name symbols, not all of which have a heading


def links(page_html: str, api: bool = False) -> list:
    "Every `href` and `src` value of a page, unescaped (with `api`: pairs of the value and whether it is an nbdev API link)."
    return [(html.unescape(m.group(3)), m.start() >= len(_API) and page_html.startswith(_API, m.start() - len(_API))) if api else html.unescape(m.group(3))
            for m in _LINK_ATTR.finditer(page_html)]


def _local(u: str):
    "The split URL of a link to a file of this site (relative path), else None (external, or within the page)."
    s = urlsplit(u)
    return None if s.scheme or s.netloc or not s.path else s


def _with_fragment(path: str, s) -> str:
    return path + (f'?{s.query}' if s.query else '') + (f'#{s.fragment}' if s.fragment else '')


def rewrite_links(body: str, src: str, pages: dict, doc_url: str | None = None) -> str:
    """Links of the page made from notebook `src` (path under nbs/) that work offline, as Quarto makes them online.

    A relative link to a notebook of the site (`../contracts.ipynb#x`) goes to its page (`pages`: notebook ->
    page, both relative to the site root); an absolute link into the published site (`doc_url`, nbdev's links to
    the API docs) becomes relative. Anything else is left as it is (the link check reports what is broken)."""
    here = posixpath.dirname(pages[src]) or '.'
    def fix(m):
        pre, q, raw = m.group(1), m.group(2), html.unescape(m.group(3))
        if doc_url and raw.startswith(doc_url):
            s = urlsplit(raw[len(doc_url):].lstrip('/'))
            target = s.path + 'index.html' if s.path.endswith('/') or not s.path else s.path
            pre = _API + pre
        else:
            s = _local(raw)
            if s is None or not s.path.endswith('.ipynb') or s.path.startswith('/'): return m.group(0)
            target = pages.get(posixpath.normpath(posixpath.join(posixpath.dirname(src), unquote(s.path))))
            if target is None: return m.group(0)
        return pre + q + html.escape(_with_fragment(posixpath.relpath(target, here), s), quote=True) + q
    return _LINK_ATTR.sub(fix, body)


def copy_resources(page_html: str, page: Path, src_dir: Path, out: Path) -> None:
    "Copy the files a page refers to (figures beside its notebook) from the processed notebooks into the preview."
    for u in links(page_html):
        s = _local(u)
        if s is None or s.path.startswith('/') or s.path.endswith(('.html', '.ipynb')): continue
        dst, srcf = (page.parent/unquote(s.path)).resolve(), (src_dir/unquote(s.path)).resolve()
        if not dst.exists() and srcf.is_file() and out.resolve() in dst.parents:
            dst.parent.mkdir(parents=True, exist_ok=True); shutil.copy2(srcf, dst)


_HEADING_HTML = re.compile(r'<h([1-6])( id="[^"]*")?>(.*?)</h\1>', re.S)


def pandoc_id(text: str) -> str:
    "The identifier pandoc (so Quarto) gives a heading: lower case, only letters, digits, `_-.`, words joined by `-`."
    t = ''.join(c for c in text.lower() if c.isalnum() or c in '_-.' or c.isspace())
    t = '-'.join(t.split())
    return t[next((i for i, c in enumerate(t) if c.isalpha()), len(t)):] or 'section'


def heading_ids(body: str) -> str:
    "Give every heading the id Quarto gives it (nbconvert keeps the case: `#MammoInputError`), so links to anchors work."
    seen = set()
    def fix(m):
        level, inner = m.group(1), m.group(3)
        base = pandoc_id(html.unescape(re.sub(r'<a class="anchor-link".*?</a>|<[^>]+>', '', inner, flags=re.S)))
        new, k = base, 0
        while new in seen: k += 1; new = f'{base}-{k}'
        seen.add(new)
        inner = re.sub(r'(<a class="anchor-link" href=")#[^"]*"', rf'\g<1>#{new}"', inner)
        return f'<h{level} id="{html.escape(new)}">{inner}</h{level}>'
    return _HEADING_HTML.sub(fix, body)


_CODEISH = re.compile(r'<(pre|code|script|style)\b.*?</\1\s*>', re.S | re.I)
_LITERAL_DIV = re.compile(r'(?:^|>)[ \t]*(:{3,}[^\n<]*)', re.M)   # `:::` opening a line or a text node
_SOURCE = re.compile(r'<meta name="source" content="([^"]*)">')


def check_site(out: Path) -> tuple[list[str], int]:
    """Problems of a built preview and the number of links checked: every local href/src must resolve to a file of the
    site, every anchor to an id of its page (nbdev's API links excepted), and no literal `:::` markup may remain."""
    probs, n, root, ids = [], 0, out.resolve(), {}
    def has_id(page, frag):
        if page not in ids: ids[page] = {html.unescape(i) for i in re.findall(r'\sid="([^"]*)"', page.read_text(encoding='utf-8'))}
        return bool({frag, unquote(frag)} & ids[page])   # a browser tries the fragment as written, then decoded
    for page in sorted(out.rglob('*.html')):
        rel = page.relative_to(out).as_posix()
        if rel.startswith('mathjax/'): continue
        text = page.read_text(encoding='utf-8')
        m = _SOURCE.search(text)
        where = f"{rel} ({m.group(1)})" if m else rel
        for u, api in links(text, api=True):
            s = urlsplit(u)
            if s.scheme or s.netloc: continue
            n += 1
            p = unquote(s.path)
            target = page.resolve() if not p else None if p.startswith('/') else (page.parent/p).resolve()
            if target is not None and target.is_dir(): target = target/'index.html'
            if target is None or root not in target.parents or not target.is_file():
                probs.append(f"{where}: broken link {u!r}" + (" (an absolute path; links must be relative)" if p.startswith('/') else ''))
            elif s.fragment and not api and target.suffix == '.html' and not has_id(target, s.fragment):
                probs.append(f"{where}: broken link {u!r} (no anchor #{s.fragment} on {target.relative_to(root).as_posix()})")
        for lit in _LITERAL_DIV.findall(_CODEISH.sub('', text)):
            probs.append(f"{where}: literal markup {lit.strip()[:60]!r} (a callout or div the preview did not render)")
    return probs, n


# --------------------------------------------------------------------------------------------- pages
MATHJAX_CONFIG = """MathJax.Hub.Config({tex2jax: {inlineMath: [['$','$'], ['\\\\(','\\\\)']], displayMath: [['$$','$$'], ['\\\\[','\\\\]']],
  processEscapes: true, processEnvironments: true},
  "HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null}, SVG: {font: "STIX-Web"},
  messageStyle: "none"});"""   # the local copy ships the STIX-Web fonts only: without this, \\mathcal and friends fall back to plain letters

CSS = """
body{margin:0;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;line-height:1.5;color:#222;display:flex}
nav{width:260px;min-height:100vh;background:#f4f6f8;padding:1rem;box-sizing:border-box;font-size:.9rem;flex-shrink:0}
nav a{display:block;color:#2a5bd7;text-decoration:none;padding:2px 0} nav a.here{font-weight:bold;color:#111}
nav details{margin:.15rem 0} nav details details{margin-left:.7rem} nav details>a,nav details>details{margin-left:.7rem}
nav summary{cursor:pointer;font-weight:600;color:#444;padding:2px 0} nav summary a{display:inline;color:inherit}
nav .site{font-size:1.1rem;font-weight:bold;color:#111}
main{max-width:980px;padding:1.5rem 2.5rem;overflow-x:auto;flex-grow:1}
header.topnav{margin-bottom:1rem;font-size:.9rem} header.topnav a{margin-right:1.2rem;color:#2a5bd7;text-decoration:none}
pre{background:#f7f7f9;padding:.6rem;overflow-x:auto;font-size:.85rem} .jp-OutputArea-output pre{background:#fff;border-left:2px solid lightsalmon}
table{border-collapse:collapse} td,th{border:1px solid #ddd;padding:3px 8px} img{max-width:100%}
.jp-InputPrompt,.jp-OutputPrompt,.prompt{display:none} .preview-note{color:#777;font-size:.8rem}
.anchor-link{visibility:hidden;text-decoration:none;margin-left:.3rem;color:#999} :hover>.anchor-link{visibility:visible}
.callout{border:1px solid #dee2e6;border-left:5px solid var(--c);border-radius:4px;margin:1rem 0}
.callout-title{background:var(--bg);padding:.35rem .8rem;font-weight:600} .callout-body{padding:0 .8rem}
details.callout>summary{cursor:pointer} .callout-title::before{content:var(--icon);margin-right:.4rem}
.callout-note{--c:#0d6efd;--bg:#e7f0ff;--icon:"\\2139"} .callout-tip{--c:#198754;--bg:#e6f4ec;--icon:"\\2605"}
.callout-warning{--c:#e0a800;--bg:#fff7de;--icon:"\\26A0"} .callout-caution{--c:#fd7e14;--bg:#fff0e4;--icon:"\\26A0"}
.callout-important{--c:#dc3545;--bg:#fdecee;--icon:"\\0021"}
details.code-fold>summary{cursor:pointer;color:#555;font-size:.85rem}
nav.page-navigation{display:flex;justify-content:space-between;width:auto;min-height:0;background:none;margin-top:2rem;border-top:1px solid #ddd;padding:1rem 0}
"""


def page_html(title: str, body: str, nav: str, top: str, up: str, source: str) -> str:
    "One preview page: the sidebar, the top navigation and the page's body, equations by the local MathJax."
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)} – mammo_nb</title>\n'
            f'<meta name="source" content="{html.escape(source)}">\n'
            f'<script type="text/x-mathjax-config">{MATHJAX_CONFIG}</script>\n'
            f'<script src="{up}mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"></script>\n<style>{CSS}</style></head>\n'
            f'<body><nav><a class="site" href="{up}index.html">mammo_nb</a>'
            f'<div class="preview-note">HTML preview (Quarto not installed)</div>\n{nav}</nav>\n'
            f'<main>{top}{body}</main></body></html>\n')


def _entry(it) -> tuple[str | None, str | None]:
    "(href, text) of a sidebar or navbar entry: a path, or a dict with `href` and maybe `text`."
    if isinstance(it, str): return it, None
    if isinstance(it, dict) and 'href' in it and 'section' not in it: return it['href'], it.get('text')
    return None, None


def _href(target: str, pages: dict, up: str) -> str:
    "A link from a page `up` levels deep to a sidebar/navbar target (a notebook of the site, or an external URL)."
    if urlsplit(target).scheme: return target
    return up + pages.get(target, target)


def nav_html(items, here: str, pages: dict, titles: dict, up: str, collapse_level: int = 2, level: int = 1) -> tuple[str, bool]:
    """The sidebar from the `contents` of _quarto.yml: pages as links, sections as foldable groups (nested ones too).

    Like Quarto's `collapse-level`, sections above that level start open; the section holding the current page
    (`here`) always does. Returns the HTML and whether `here` is inside."""
    parts, inside = [], False
    for it in items or []:
        href, text = _entry(it)
        if href is not None:
            cls = ' class="here"' if href == here else ''
            parts.append(f'<a href="{html.escape(_href(href, pages, up))}"{cls}>{html.escape(text or titles.get(href, href))}</a>')
            inside |= href == here
        elif isinstance(it, dict) and 'section' in it:
            inner, has = nav_html(it.get('contents'), here, pages, titles, up, collapse_level, level + 1)
            head = html.escape(str(it['section']))
            if it.get('href'): head = f'<a href="{html.escape(_href(it["href"], pages, up))}">{head}</a>'
            parts.append(f'<details class="sec level{level}"{" open" if has or level < collapse_level else ""}>'
                         f'<summary>{head}</summary>\n{inner}\n</details>')
            inside |= has
    return '\n'.join(parts), inside


def _front_matter(nb) -> tuple[object, dict]:
    "nbdev's front-matter cell of a processed notebook and its fields."
    import yaml
    for c in nb['cells']:
        src = ''.join(c['source']) if isinstance(c['source'], list) else c['source']
        if c['cell_type'] in ('raw', 'markdown') and src.lstrip().startswith('---'):
            return c, (yaml.safe_load(src.strip().strip('-')) or {})
    return None, {}


def doc_url(root: Path) -> str | None:
    "The published site's address from settings.ini (doc_host + doc_baseurl, with a trailing slash), as nbdev links to it."
    cfg = configparser.ConfigParser(); cfg.read(root/'settings.ini')
    host, base = cfg['DEFAULT'].get('doc_host'), cfg['DEFAULT'].get('doc_baseurl', '').strip('/')
    return None if not host else host.rstrip('/') + '/' + (base + '/' if base else '')


def mathjax_dir() -> Path:
    "The local MathJax 2.7 copy that the preview serves (the `jupyter-server-mathjax` package, a dev requirement): no CDN."
    try: import jupyter_server_mathjax
    except ImportError: raise SystemExit("the docs preview needs the dev requirement jupyter-server-mathjax (make venv installs it)")
    d = Path(jupyter_server_mathjax.__file__).parent/'static'
    if not (d/'MathJax.js').exists(): raise SystemExit(f"no MathJax.js in {d}")
    return d


def _as_is(html_text): return html_text   # nbconvert's bleach pass over every code cell: a third of the time, for our own notebooks


_QUARTO_ATTR = re.compile(r'\{(?:target|style|\.)[^}]*\}')


def _sub_html(cells, nb, exp) -> str:
    "The HTML of some (prepared) cells of a notebook, as the page's exporter draws them."
    import nbformat
    return exp.from_notebook_node(nbformat.v4.new_notebook(cells=cells, metadata=nb.metadata))[0].strip()


def _raw_html(text: str):
    import nbformat
    return nbformat.v4.new_raw_cell(text, metadata={'format': 'text/html'})


def _prepare(c, nb, exp) -> list:
    """A cell made ready for the exporter, as one or more cells: Quarto's markup of markdown and of outputs drawn,
    a code cell's `#|` directives applied (`echo: false`, `include: false`; `code-fold: true|show` puts the code,
    not its output, in a `<details>` titled by `code-summary`, as Quarto does) and removed from the code."""
    import copy
    if c.cell_type == 'markdown': c.source = fenced_divs(c.source)
    if c.cell_type != 'code': return [c]
    lines = c.source.splitlines()
    dirs = [l for l in lines if l.lstrip().startswith('#|')]
    c.source = '\n'.join(l for l in lines if not l.lstrip().startswith('#|')).strip()
    if any(re.search(r'echo:\s*false', d) for d in dirs): c.metadata.setdefault('tags', []).append('remove_input')
    if any(re.search(r'include:\s*false', d) for d in dirs): c.metadata.setdefault('tags', []).append('remove_cell')
    for o in c.get('outputs', []):
        data = o.get('data', {})
        if 'text/markdown' in data: data['text/markdown'] = fenced_divs(data['text/markdown'])   # before its {.attrs} go
        for k in ('text/markdown', 'text/html'):
            if k in data: data[k] = _QUARTO_ATTR.sub('', data[k])
    fold = next((m.group(1).lower() for d in dirs for m in [re.search(r'code-fold:\s*(\w+)', d)] if m), None)
    tags = c.metadata.get('tags', [])
    if fold not in ('true', 'show') or 'remove_input' in tags or 'remove_cell' in tags: return [c]
    summary = next((m.group(1).strip().strip('"\'') for d in dirs for m in [re.search(r'code-summary:\s*(.*)$', d)] if m), 'Code')
    code = copy.deepcopy(c); code.outputs = []
    if c.get('id'): code.id = f'{c.id}-code'[:64]
    c.metadata.setdefault('tags', []).append('remove_input')
    return [_raw_html(f'<details class="code-fold"{" open" if fold == "show" else ""}><summary>{html.escape(summary)}</summary>\n'
                      f'{_sub_html([code], nb, exp)}\n</details>'), c]


def page_cells(nb, exp) -> list:
    """The cells of a processed notebook made ready for the exporter (`_prepare`), with every div that spans cells
    (`cell_spans`: e.g. a folded callout around a solution's code cell) drawn around the cells it holds, their
    outputs included: one raw HTML cell for the div, made by the same exporter."""
    import nbformat
    out, k = [], 0
    for a, b in cell_spans(nb.cells):
        for c in nb.cells[k:a]: out += _prepare(c, nb, exp)
        lines, ((closer, at),) = _fenced(nb.cells[a].source)
        before, head, inside = '\n'.join(lines[:at]), lines[at], '\n'.join(lines[at + 1:])
        close = nb.cells[b].source.splitlines()
        first = next(i for i, l in enumerate(close) if l.strip())
        after = '\n'.join(close[first + 1:])
        inner = ([nbformat.v4.new_markdown_cell(inside)] if inside.strip() else []) + \
                [x for c in nb.cells[a + 1:b] for x in _prepare(c, nb, exp)]
        if before.strip(): out.append(nbformat.v4.new_markdown_cell(before))
        out.append(_raw_html(f'{head}\n{_sub_html(inner, nb, exp)}\n{closer}'))
        if after.strip(): out += _prepare(nbformat.v4.new_markdown_cell(after), nb, exp)
        k = b + 1
    for c in nb.cells[k:]: out += _prepare(c, nb, exp)
    return out


def page_navigation(rel: str, order: list, pages: dict, titles: dict, up: str) -> str:
    "Links to the previous and the next page of the sidebar, as Quarto's `page-navigation` puts them under a page."
    k = order.index(rel)
    link = lambda r, cls, text: f'<a class="{cls}" href="{html.escape(up + pages[r])}">{text}</a>'
    prev = link(order[k - 1], 'prev', f'&larr; {html.escape(titles[order[k - 1]])}') if k > 0 else ''
    nxt = link(order[k + 1], 'next', f'{html.escape(titles[order[k + 1]])} &rarr;') if k + 1 < len(order) else ''
    return f'\n<nav class="page-navigation">{prev}{nxt}</nav>\n' if prev or nxt else ''


def preview(root: Path = ROOT, out: Path | None = None) -> Path:
    "Write the offline HTML preview of every processed page (in _proc/) into `out` (default _preview/)."
    import yaml, nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    cfg = yaml.safe_load((root/'_quarto.yml').read_text())
    site = cfg.get('website') or {}
    side = site.get('sidebar') or {}
    order = [r for r in _sidebar(root) if r.endswith('.ipynb')]   # the site's notebooks (a sidebar entry may be a URL)
    proc, out = root/'_proc', Path(out or root/'_preview')
    shutil.rmtree(out, ignore_errors=True); out.mkdir(parents=True)
    shutil.copytree(mathjax_dir(), out/'mathjax')   # offline equations: the preview never fetches anything
    nbs, pages, titles = {}, {}, {}
    for rel in order:   # every page goes where Quarto puts it: nbdev's `output-file` beside the notebook
        nb = nbformat.reads((proc/rel).read_text(encoding='utf-8'), as_version=4)
        fm = _front_matter(nb)[1]
        nbs[rel], titles[rel] = nb, fm.get('title') or rel
        pages[rel] = posixpath.join(posixpath.dirname(rel), fm.get('output-file') or posixpath.basename(rel)[:-len('.ipynb')] + '.html')
    clash = {p for p in pages.values() if list(pages.values()).count(p) > 1}
    if clash: raise SystemExit(f"two notebooks render to the same page: {', '.join(sorted(clash))}")
    top_items = [it for k in ('left', 'right') for it in ((site.get('navbar') or {}).get(k) or [])]
    exp = HTMLExporter(template_name='basic', filters={'clean_html': _as_is})
    exp.exclude_input_prompt = exp.exclude_output_prompt = True
    exp.register_preprocessor(TagRemovePreprocessor(remove_input_tags={'remove_input'}, remove_cell_tags={'remove_cell'}), enabled=True)
    url = doc_url(root)
    for rel in order:
        nb = nbs[rel]
        fm_cell, fm = _front_matter(nb)
        if fm_cell is not None:  # nbdev turned the title cell into front matter; show it as a heading again
            fm_cell.cell_type, fm_cell.metadata = 'markdown', {}
            fm_cell.pop('outputs', None); fm_cell.pop('execution_count', None)
            fm_cell.source = f"# {fm.get('title', '')}" + (f"\n\n*{fm['description']}*" if fm.get('description') else '')
        nb.cells = page_cells(nb, exp)
        body, _ = exp.from_notebook_node(nb)
        body = rewrite_links(heading_ids(body), rel, pages, url)
        up = '../' * pages[rel].count('/')
        nav = nav_html(side.get('contents'), rel, pages, titles, up, int(side.get('collapse-level', 2)))[0]
        if site.get('page-navigation'): body += page_navigation(rel, order, pages, titles, up)
        top = ''.join(f'<a href="{html.escape(_href(h, pages, up))}">{html.escape(t or titles.get(h, h))}</a>'
                      for h, t in map(_entry, top_items) if h)
        dst = out/pages[rel]; dst.parent.mkdir(parents=True, exist_ok=True)
        text = page_html(titles[rel], body, nav, f'<header class="topnav">{top}</header>' if top else '', up, f'nbs/{rel}')
        dst.write_text(text, encoding='utf-8')
        copy_resources(text, dst, (proc/rel).parent, out)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--check', action='store_true', help='process every notebook, build the preview and check its links (the test gate)')
    ap.add_argument('--workers', type=int, default=2)
    a = ap.parse_args()
    t0 = time.time()
    if not a.check and shutil.which('quarto'):
        r = subprocess.run([shutil.which('nbdev_docs') or 'nbdev_docs'], cwd=ROOT)
        if r.returncode: sys.exit(r.returncode)
        print(f"docs site built into _docs/ ({time.time() - t0:.0f} s)")
        return
    pages = process(ROOT, a.workers)
    out = preview(ROOT)
    probs, n = check_site(out)
    for p in probs: print(f"  - {p}")
    if probs:
        print(f"FAIL: {len(probs)} problem(s) in the HTML preview of {len(pages)} notebooks ({n} local links checked); "
              "fix the notebooks' markdown (links are relative to the notebook, to notebooks or files that exist)")
        sys.exit(1)
    if a.check:
        print(f"docs ok: {len(pages)} notebooks processed and previewed, {n} local links resolve, no literal callout markup "
              f"({time.time() - t0:.0f} s)")
        return
    print(f"Quarto not found: processed {len(pages)} notebooks as nbdev does and wrote an HTML preview to "
          f"{out.relative_to(ROOT)}/index.html ({n} local links checked; install Quarto for the full site).")


if __name__ == '__main__':
    main()
