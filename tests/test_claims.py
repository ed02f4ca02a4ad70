"""The claims ledger (issue 42): its rows agree with the pages that test the claims, the numbers it quotes are the pages'
own, and `mammo-nb claims` prints it.

- a page rendered from kept predictions shows its claims' ledger table verbatim (`ledger_markdown`): a page whose outputs
  predate its kept predictions, or a change of the statistics or the verdict rule, fails here until the page is re-rendered;
- the ledger page (`nbs/train/60g_claims.ipynb`) shows the whole ledger, the same way;
- a quoted estimate of a page without kept predictions (`Claim.page_quote`) appears in that page's rendered outputs;
- every reproduction page says where its models start.
"""
import json, re
from pathlib import Path

import pytest

from mammo_nb.train.claims import CLAIMS, ledger, ledger_markdown
from mammo_nb.metrics.stats import VERDICTS
from cli_runner import cli

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = ROOT/'nbs'/'tutorials'


def _page(page: str) -> Path:
    (nb,) = TUTORIALS.glob(f'{page}_*.ipynb')
    return nb


def _outputs(nb: Path) -> str:
    out = []
    for c in json.loads(nb.read_text())['cells']:
        for o in c.get('outputs', []):
            if 'text' in o: out.append(''.join(o['text']))
            for k, v in o.get('data', {}).items():
                if k.startswith('text/'): out.append(''.join(v))
    return '\n'.join(out)


KEPT_PAGES = sorted({c.page for c in CLAIMS if c.kept is not None})


@pytest.mark.parametrize('page', KEPT_PAGES)
def test_a_page_with_kept_predictions_shows_the_ledger_rows(page):
    table = ledger_markdown(ledger(pages=[page]))
    assert table in _outputs(_page(page)), f"page {page}'s rendered claims table differs from the ledger: re-render the page"


def test_the_ledger_page_shows_the_ledger():
    assert ledger_markdown(ledger()) in _outputs(ROOT/'nbs'/'train'/'60g_claims.ipynb'), 'the ledger page is stale: re-render it'


@pytest.mark.parametrize('claim', [c for c in CLAIMS if c.page_quote and c.kept is None], ids=lambda c: c.id)
def test_a_quoted_estimate_is_the_pages_own(claim):
    assert claim.page_quote in _outputs(_page(claim.page)), f"{claim.id}: {claim.page_quote!r} is not in page {claim.page}'s outputs"


@pytest.mark.parametrize('page', ['82', '83', '84', '84b', '85', '85b', '85c', '86'])
def test_every_reproduction_page_says_where_its_models_start(page):
    text = '\n'.join(''.join(c['source']) for c in json.loads(_page(page).read_text())['cells'] if c['cell_type'] == 'markdown')
    assert '## Where the models start' in text


def test_claims_command_json():
    rc, out, err = cli('claims', '--json', '--n-boot', '200')
    assert rc == 0, err[-1500:]
    rows = json.loads(out)
    assert len(rows) == len(CLAIMS) and all({'claim', 'paper', 'page', 'verdict', 'seeds'} <= set(r) for r in rows)
    assert {r['verdict'] for r in rows} <= set(VERDICTS)
    assert {r['id'] for r in rows if r['seeds'] is not None} == {c.id for c in CLAIMS if c.kept is not None}
    rc, out, err = cli('claims', '--page', '85b')
    assert rc == 0 and re.search(r'\d+ reproduced, \d+ shown without control', out), (out, err)
    rc, out, err = cli('claims', '--paper', 'nobody')
    assert rc == 2 and "--paper 'nobody': the papers are" in err
