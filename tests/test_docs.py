"""The offline docs preview (tools/docs.py): callouts become boxes, links to notebooks become links to pages, and the
link check fails on a broken link, naming the page and the link (on small hand-made sites, not the whole docs build)."""
import json
from pathlib import Path
import nbformat
import pytest
from nbconvert.filters.markdown_mistune import markdown2html_mistune as md2html
import docs


@pytest.mark.parametrize('kind', docs.CALLOUTS)
def test_callout_renders_to_a_box(kind):
    md = (f"Before.\n\n::: {{.callout-{kind}}}\n## Rendered on $\\mathcal{{L}}_{{rad}}$\n"
          f"Body with **bold**, [a link](x.ipynb) and $\\mathcal{{L}}_{{a}}*b*_c$.\n:::\n\nAfter $x_1 * y_2$.")
    out = md2html(docs.fenced_divs(md))
    box = out[out.index(f'<div class="callout callout-{kind}">'):]
    assert '<div class="callout-title">Rendered on $\\mathcal{L}_{rad}$</div>' in box
    assert '<strong>bold</strong>' in box and '<a href="x.ipynb">a link</a>' in box
    assert '$\\mathcal{L}_{a}*b*_c$' in box          # the TeX survives the markdown conversion untouched
    assert box.index('<strong>bold</strong>') < box.index('</div></div>') < box.index('After $x_1 * y_2$')
    assert ':::' not in out


def test_callout_title_attribute_collapse_and_default_title():
    folded = md2html(docs.fenced_divs('::: {.callout-tip title="Solution" collapse="true"}\nHidden *text*.\n:::'))
    assert folded.startswith('<details class="callout callout-tip"><summary class="callout-title">Solution</summary>')
    assert '<em>text</em>' in folded and '</div></details>' in folded
    assert ' open' in docs.fenced_divs('::: {.callout-tip collapse="false"}\nx\n:::').splitlines()[0]
    assert '<div class="callout-title">Warning</div>' in md2html(docs.fenced_divs('::: {.callout-warning}\nCareful.\n:::'))


def test_code_blocks_nested_and_other_divs():
    md = '```\n::: {.callout-note}\n```\n\n:::: {.column-margin}\n::: {.callout-important}\nIn.\n:::\n::::'
    out = docs.fenced_divs(md)
    assert out.startswith('```\n::: {.callout-note}\n```')               # code is left alone
    h = md2html(out)
    assert '<div class="column-margin">' in h and '<div class="callout callout-important">' in h
    assert h.count('</div>') == 4 and ':::' not in h.replace('<code>::: {.callout-note}', '')


PAGES = {'index.ipynb': 'index.html', 'contracts.ipynb': 'contracts.html', 'data/10_dicom.ipynb': 'data/dicom.html',
         'train/60c_learnability.ipynb': 'train/learnability.html', 'train/60d_mechanisms.ipynb': 'train/mechanisms.html'}


def test_links_to_notebooks_become_links_to_pages():
    body = ('<a href="../contracts.ipynb#the-batch">c</a> <a href="60d_mechanisms.ipynb">m</a> <a href="81_missing.ipynb">x</a>'
            '<a href="https://example.org/site/data/dicom.html#read_mammogram">api</a> <a href="https://github.com/a/b.ipynb">gh</a>'
            '<img src="fig.png">')
    out = docs.rewrite_links(body, 'train/60c_learnability.ipynb', PAGES, 'https://example.org/site/')
    assert '<a href="../contracts.html#the-batch">' in out and '<a href="mechanisms.html">' in out
    assert '<a href="81_missing.ipynb">' in out              # not a page of the site: left for the link check to report
    assert '<a data-api="nbdev" href="../data/dicom.html#read_mammogram">' in out
    assert '<a href="https://github.com/a/b.ipynb">' in out and '<img src="fig.png">' in out


def test_headings_get_quartos_ids():
    h = docs.heading_ids('<h3 id="MammoInputError">MammoInputError<a class="anchor-link" href="#MammoInputError">¶</a></h3>'
                         '<h2 id="x">2. The <code>batch</code>, again!</h2><h2 id="y">2. The batch again</h2>')
    assert '<h3 id="mammoinputerror">MammoInputError<a class="anchor-link" href="#mammoinputerror">' in h
    assert '<h2 id="the-batch-again">' in h and '<h2 id="the-batch-again-1">' in h


def _page(path: Path, body: str, source='nbs/a.ipynb'):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'<html><head><meta name="source" content="{source}"></head><body>{body}</body></html>')


def test_link_check_names_page_and_link(tmp_path):
    _page(tmp_path/'b'/'b.html', '<h2 id="here">Here</h2>', 'nbs/b/01_b.ipynb')
    _page(tmp_path/'a.html', '<a href="b/b.html#here">ok</a> <a href="https://x.org/y">ext</a> <a href="#top">top</a>'
          '<a href="b/">dir</a> <a href="../contracts.ipynb">nb</a> <img src="fig.png"> <a href="b/b.html#gone">anchor</a>'
          '<a data-api="nbdev" href="b/b.html#some.method">api</a> <a href="/etc/passwd">abs</a> <p id="top">'
          '<pre>::: not markup</pre><p>::: {.callout-note}</p>')
    probs, n = docs.check_site(tmp_path)
    assert n == 8 and len(probs) == 6, probs   # the `dir` link needs b/index.html
    where = 'a.html (nbs/a.ipynb): broken link'
    for link in ("'../contracts.ipynb'", "'fig.png'", "'b/'", "'b/b.html#gone' (no anchor #gone on b/b.html)", "'/etc/passwd'"):
        assert any(p.startswith(f'{where} {link}') for p in probs), (link, probs)
    assert any(p == "a.html (nbs/a.ipynb): literal markup '::: {.callout-note}' (a callout or div the preview did not render)"
               for p in probs), probs


def _nb(path: Path, title: str, out_file: str, *markdown: str, output: str | None = None):
    "A notebook as nbdev's docs processing leaves it: a front-matter cell, markdown cells, maybe a cell showing markdown."
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_raw_cell(f"---\ntitle: {title}\noutput-file: {out_file}\n---\n")] + \
               [nbformat.v4.new_markdown_cell(m) for m in markdown]
    if output: nb.cells.append(nbformat.v4.new_code_cell('show()', outputs=[nbformat.v4.new_output('display_data', {'text/markdown': output})]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb))


@pytest.fixture
def site(tmp_path):
    "A tiny processed site: a home page, a course page and a tutorial in a section, a figure beside the tutorial."
    (tmp_path/'settings.ini').write_text('[DEFAULT]\ndoc_host = https://example.org\ndoc_baseurl = /site\n')
    (tmp_path/'_quarto.yml').write_text('website:\n  navbar:\n    left:\n      - course.ipynb\n  sidebar:\n    collapse-level: 1\n'
                                        '    contents:\n      - index.ipynb\n      - course.ipynb\n      - section: Tutorials\n'
                                        '        contents:\n          - tutorials/80_first.ipynb\n')
    proc = tmp_path/'_proc'
    _nb(proc/'index.ipynb', 'Home', 'index.html', '[first](tutorials/80_first.ipynb#a-heading), [course](course.ipynb)')
    _nb(proc/'course.ipynb', 'Course', 'course.html', '::: {.callout-tip}\n## Objectives\nLearn.\n:::',
        output='::: {.callout-caution collapse="true"}\nFrom a cell.\n:::')
    _nb(proc/'tutorials'/'80_first.ipynb', 'First', 'first.html', '## A heading\n\n![fig](fig.png) [home](../index.ipynb) '
        '[api](https://example.org/site/course.html#anything)')
    (proc/'tutorials'/'fig.png').write_bytes(b'\x89PNG')
    return tmp_path


def test_preview_of_a_small_site_has_no_broken_link(site):
    out = docs.preview(site, site/'_preview')
    assert docs.check_site(out)[0] == []
    page = (out/'tutorials'/'first.html').read_text()   # where Quarto puts it (nbdev's output-file)
    assert (out/'tutorials'/'fig.png').exists() and '<a href="../index.html">' in page
    assert '<details class="sec level1" open><summary>Tutorials</summary>' in page          # the page's own section is open
    assert '<details class="sec level1"><summary>Tutorials</summary>' in (out/'index.html').read_text()   # others start folded
    assert '<header class="topnav"><a href="course.html">Course</a></header>' in (out/'index.html').read_text()
    course = (out/'course.html').read_text()
    assert '<div class="callout callout-tip"><div class="callout-title">Objectives</div>' in course
    assert '<details class="callout callout-caution"><summary class="callout-title">Caution</summary>' in course


def test_preview_check_fails_on_a_broken_link(site):
    _nb(site/'_proc'/'course.ipynb', 'Course', 'course.html', 'See [tutorial 81](tutorials/81_missing.ipynb) and ![x](gone.png).')
    probs, _ = docs.check_site(docs.preview(site, site/'_preview'))
    assert probs == ["course.html (nbs/course.ipynb): broken link 'tutorials/81_missing.ipynb'",
                     "course.html (nbs/course.ipynb): broken link 'gone.png'"]


def test_a_callout_across_cells_folds_the_cells_and_their_outputs(tmp_path):
    "A folded callout opened in one markdown cell and closed in a later one holds the code cells between, outputs included."
    (tmp_path/'settings.ini').write_text('[DEFAULT]\ndoc_host = https://example.org\n')
    (tmp_path/'_quarto.yml').write_text('website:\n  sidebar:\n    contents:\n      - a.ipynb\n')   # the site's home link (index.html) leads nowhere here
    nb = nbformat.v4.new_notebook()
    out = lambda t: [nbformat.v4.new_output('stream', name='stdout', text=t)]
    nb.cells = [nbformat.v4.new_raw_cell('---\ntitle: A\noutput-file: a.html\n---\n'),
                nbformat.v4.new_markdown_cell('Ask.\n\n::: {.callout-tip collapse="true"}\n## Show it\nIn *words*.'),
                nbformat.v4.new_code_cell('print(41 + 1)', outputs=out('FORTY-TWO\n')),
                nbformat.v4.new_markdown_cell('What it shows.'),
                nbformat.v4.new_markdown_cell(':::\n\n## After'),
                nbformat.v4.new_code_cell('#| code-fold: true\n#| code-summary: "Peek"\nshow()', outputs=out('SHOWN\n'))]
    assert docs.cell_spans(nb.cells) == [(1, 4)]
    (tmp_path/'_proc').mkdir(); (tmp_path/'_proc'/'a.ipynb').write_text(json.dumps(nb))
    site = docs.preview(tmp_path, tmp_path/'_preview')
    page = (site/'a.html').read_text()
    assert not [p for p in docs.check_site(site)[0] if 'literal markup' in p]
    fold = page[page.index('<details class="callout callout-tip"><summary class="callout-title">Show it</summary>'):]
    fold = fold[:fold.index('</div></details>')]
    for text in ('<em>words</em>', 'print', 'FORTY-TWO', 'What it shows.'): assert text in fold, text
    assert page.index('Ask.') < page.index('<details class="callout') < page.index('id="after"')
    code = page[page.index('<details class="code-fold"><summary>Peek</summary>'):]
    assert 'show' in code[:code.index('</details>')] and 'SHOWN' not in code[:code.index('</details>')]   # Quarto folds the code only
    assert 'SHOWN' in code and page.count('FORTY-TWO') == 1
