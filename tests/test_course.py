"""The course's tutorials end as nbs/course.ipynb says (tools/course.py): every exercise has exactly one folded solution,
which the default tests run and which the preview draws closed; a questionnaire closes each page; clean copies for a
class carry no outputs and no solution."""
import configparser, copy, json, re
from html.parser import HTMLParser
from pathlib import Path
import pytest
import course, docs
from hygiene import directives

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = course.tutorials(ROOT)
NAMES = [p.name for p in TUTORIALS]


def _nb(p: Path) -> dict: return json.loads(p.read_text(encoding='utf-8'))
def _src(c) -> str: return course._src(c)


def _skip_flags() -> set[str]:
    "The `#|` flags that the default `nbdev_test` run skips (settings.ini's tst_flags), and `eval: false`."
    cfg = configparser.ConfigParser(); cfg.read(ROOT/'settings.ini')
    return set(cfg['DEFAULT'].get('tst_flags', '').split())


def problems(nb: dict) -> list[str]:
    "What breaks the course's convention in one tutorial (empty: none)."
    probs, flags = [], _skip_flags()
    ex, sols = course.exercises(nb), course.solutions(nb)
    if not ex: probs.append("no `## Exercises` list")
    if (nb.get('metadata') or {}).get('skip_exec') or (nb.get('metadata') or {}).get('skip_showdoc'):
        probs.append("the notebook is skipped by nbdev_test")
    for n in ex:
        k = sum(s['exercise'] == n for s in sols)
        if k != 1: probs.append(f"exercise {n} has {k} folded solutions (needs exactly one)")
    for s in sols:
        where = f"the solution to exercise {s['exercise']}"
        if s['exercise'] not in ex: probs.append(f"{where}: there is no exercise {s['exercise']}")
        if not (s['callout'] and s['collapsed']): probs.append(f'{where}: not a callout with collapse="true"')
        if not s['code']: probs.append(f"{where}: holds no code cell")
        for i in s['code']:
            c, d = nb['cells'][i], directives(nb['cells'][i])
            if d.keys() & flags or d.get('eval:') == 'false' or re.search(r'^\s*#\|\s*eval:\s*false', _src(c), re.M):
                probs.append(f"{where}: cell {i} is skipped by the default tests ({', '.join(sorted(d))})")
            if not c.get('outputs'): probs.append(f"{where}: cell {i} has no output to show")
    inside = {i for s in sols for i in range(s['open'], s['close'] + 1)}
    for i, c in enumerate(nb['cells']):
        if i in inside: continue
        if c['cell_type'] == 'code' and re.search(r'^\s*#\|\s*code-(fold|summary)', _src(c), re.M):
            probs.append(f"cell {i}: `code-fold` outside the convention (folds the code, not its output)")
        if c['cell_type'] == 'markdown' and re.search(r'solution to exercise', _src(c), re.I):
            probs.append(f"cell {i}: talks about a solution outside its fold")
    heads = [(i, l) for i, c in enumerate(nb['cells']) if c['cell_type'] == 'markdown'
             for l in _src(c).splitlines() if re.match(r"^## ", l) and i not in inside]
    if not heads or heads[-1][1].strip() != '## Questionnaire': probs.append("the last section is not `## Questionnaire`")
    else:
        qs = [l for l in _src(nb['cells'][heads[-1][0]]).split('### Further research')[0].splitlines() if re.match(r'^\d+\. ', l)]
        if not 5 <= len(qs) <= 8: probs.append(f"the questionnaire has {len(qs)} questions (5 to 8)")
    return probs


@pytest.mark.parametrize('name', NAMES)
def test_every_exercise_has_one_folded_solution_that_the_tests_run(name):
    assert problems(_nb(ROOT/'nbs'/'tutorials'/name)) == []


def _solved(nb: dict) -> tuple[dict, dict]:
    "A tutorial's first folded solution and its code cell."
    s = course.solutions(nb)[0]
    return s, nb['cells'][s['code'][0]]


def test_the_check_fails_on_a_broken_convention():
    nb = _nb(TUTORIALS[0])
    s, code = _solved(nb)
    open_, close = nb['cells'][s['open']], nb['cells'][s['close']]
    cases = []
    slow = copy.deepcopy(nb); _solved(slow)[1]['source'] = ['#| slow\n'] + list(code['source']); cases.append((slow, 'skipped by the default tests'))
    unfolded = copy.deepcopy(nb); unfolded['cells'][s['open']]['source'] = [_src(open_).replace('collapse="true"', 'collapse="false"')]
    cases.append((unfolded, 'not a callout with collapse="true"'))
    gone = copy.deepcopy(nb); del gone['cells'][s['close']]; cases.append((gone, f"exercise {s['exercise']} has 0 folded solutions"))
    twice = copy.deepcopy(nb); twice['cells'][s['close'] + 1:s['close'] + 1] = copy.deepcopy(nb['cells'][s['open']:s['close'] + 1])
    cases.append((twice, f"exercise {s['exercise']} has 2 folded solutions"))
    old = copy.deepcopy(nb); old['cells'][s['open']:s['close'] + 1] = [
        dict(cell_type='markdown', id='x1', metadata={}, source='**Solution to exercise 1**: the answer.'),
        {**copy.deepcopy(code), 'source': ['#| code-fold: true\n'] + list(code['source'])}]
    cases.append((old, 'code-fold'))
    noq = copy.deepcopy(nb); noq['cells'] = [c for c in noq['cells'] if '## Questionnaire' not in _src(c)]
    cases.append((noq, 'the last section is not `## Questionnaire`'))
    assert problems(nb) == [] and close['cell_type'] == 'markdown'
    for broken, what in cases:
        assert any(what in p for p in problems(broken)), (what, problems(broken))


class _Folded(HTMLParser):
    "The text of a page inside closed `<details>` (no `open`), and outside any, with each closed fold's summary."
    def __init__(self):
        super().__init__(); self.stack, self.inside, self.outside, self.summaries, self._in_summary = [], [], [], [], False
    def handle_starttag(self, tag, attrs):
        if tag == 'details': self.stack.append('open' in dict(attrs))
        if tag == 'summary' and self.stack and not self.stack[-1]: self._in_summary = True; self.summaries.append('')
    def handle_endtag(self, tag):
        if tag == 'details' and self.stack: self.stack.pop()
        if tag == 'summary': self._in_summary = False
    def handle_data(self, data):
        if self._in_summary: self.summaries[-1] += data
        (self.inside if any(not o for o in self.stack) else self.outside).append(data)


def test_preview_draws_each_solution_closed_with_its_output(tmp_path):
    "The preview of a real tutorial (processed as the docs build leaves it) holds every solution, code and output, in a closed fold."
    name = '80_cbis_ddsm_sample.ipynb'
    nb = _nb(ROOT/'nbs'/'tutorials'/name)
    (tmp_path/'settings.ini').write_text('[DEFAULT]\ndoc_host = https://example.org\ndoc_baseurl = /site\n')
    (tmp_path/'_quarto.yml').write_text(f'website:\n  sidebar:\n    contents:\n      - tutorials/{name}\n')
    (tmp_path/'_proc'/'tutorials').mkdir(parents=True)
    fm = dict(cell_type='raw', id='fm000000', metadata={}, source='---\ntitle: Real mammograms\noutput-file: cbis.html\n---\n')
    (tmp_path/'_proc'/'tutorials'/name).write_text(json.dumps({**nb, 'cells': [fm] + nb['cells'][1:]}))
    out = docs.preview(tmp_path, tmp_path/'_preview')
    page = (out/'tutorials'/'cbis.html').read_text()
    assert not [q for q in docs.check_site(out)[0] if 'literal markup' in q]   # (its links to other pages lead nowhere here)
    p = _Folded(); p.feed(page)
    inside, outside = ''.join(p.inside), ''.join(p.outside)
    sols = course.solutions(nb)
    assert len(sols) == 2 and [t.strip() for t in p.summaries] == [f"Show the solution to exercise {s['exercise']}" for s in sols]
    for s in sols:
        code = nb['cells'][s['code'][0]]
        line = next(l for l in _src(code).splitlines() if l.strip() and not l.startswith('#|'))
        text = next(''.join(o['text']) for o in code['outputs'] if o.get('output_type') == 'stream') if any(
            o.get('output_type') == 'stream' for o in code['outputs']) else None
        first_word = re.findall(r'\w+', line)[0]
        assert first_word in inside
        if text: assert text.strip() in inside and text.strip() not in outside    # the printed numbers stay folded
    assert 'In all four breasts the MLO keeps more of the film' in inside and 'In all four breasts' not in outside
    assert 'Questionnaire' in outside


def test_clean_copy_has_no_outputs_and_no_solution(tmp_path):
    [dst] = course.write_clean_copies(ROOT, tmp_path, ['85c'])
    src_nb, nb = _nb(ROOT/'nbs'/'tutorials'/dst.name), _nb(dst)
    assert all(c.get('outputs') == [] and c.get('execution_count') is None for c in nb['cells'] if c['cell_type'] == 'code')
    assert course.solutions(nb) == [] and course.exercises(nb) == course.exercises(src_nb)
    for s in course.solutions(src_nb):
        for i in s['code']:
            body = [l for l in _src(src_nb['cells'][i]).splitlines() if l.strip() and not l.startswith('#')]
            assert not any(l in _src(c) for c in nb['cells'] for l in body), 'solution code left in the copy'
        prose = _src(src_nb['cells'][s['open']]).splitlines()[-1]
        assert not any(prose in _src(c) for c in nb['cells'])
        assert sum(f"{course.PLACEHOLDER} (exercise {s['exercise']})" in _src(c) for c in nb['cells']) == 1
    assert '## Questionnaire' in ''.join(_src(c) for c in nb['cells'])
    assert 'never this copy' in _src(nb['cells'][1])
    assert dst.read_text() == (course.write_clean_copies(ROOT, tmp_path, ['85c'])[0]).read_text()   # the same copy every time


def test_sidebar_lists_the_tutorials_in_the_course_pages_teaching_order():
    from hygiene import _sidebar
    cells = _nb(ROOT/'nbs'/'course.ipynb')['cells']
    course_order = [f"tutorials/{n}.ipynb" for c in cells if c['cell_type'] == 'code'
                    for n in re.findall(r"dict\(nb='([^']+)'", _src(c))]
    assert sorted(course_order) == sorted(f"tutorials/{n}" for n in NAMES)
    assert [s for s in _sidebar(ROOT) if s.startswith('tutorials/')] == course_order


def test_previous_and_next_links_follow_the_sidebar():
    order = ['index.ipynb', 'course.ipynb', 'tutorials/80_a.ipynb']
    pages = {'index.ipynb': 'index.html', 'course.ipynb': 'course.html', 'tutorials/80_a.ipynb': 'tutorials/a.html'}
    titles = {'index.ipynb': 'Home', 'course.ipynb': 'Course', 'tutorials/80_a.ipynb': 'A & B'}
    mid = docs.page_navigation('course.ipynb', order, pages, titles, '')
    assert '<a class="prev" href="index.html">&larr; Home</a>' in mid and '<a class="next" href="tutorials/a.html">A &amp; B &rarr;</a>' in mid
    last = docs.page_navigation('tutorials/80_a.ipynb', order, pages, titles, '../')
    assert '<a class="prev" href="../course.html">' in last and 'class="next"' not in last
