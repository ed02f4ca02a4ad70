"""The hygiene gate fails loudly, naming the problem, on each kind of drift (run on scratch copies)."""
import json
from pathlib import Path
import hygiene


def _run(root, name):
    return hygiene.CHECKS[name](root)


def test_edited_generated_module_is_caught(scratch_repo):
    f = scratch_repo/'mammo_nb'/'core.py'
    f.write_text(f.read_text() + '\nHAND_EDIT = 1\n')
    probs = _run(scratch_repo, 'sync')
    assert any('mammo_nb/core.py: differs from what the notebooks export' in p for p in probs), probs


def test_orphan_module_is_caught(scratch_repo):
    (scratch_repo/'mammo_nb'/'stray.py').write_text('x = 1\n')
    probs = _run(scratch_repo, 'sync')
    assert any('mammo_nb/stray.py: no notebook exports this module' in p for p in probs), probs


def _add_output(nb_path, text):
    nb = json.loads(nb_path.read_text())
    cell = next(c for c in nb['cells'] if c['cell_type'] == 'code')
    cell['outputs'] = [{'name': 'stdout', 'output_type': 'stream', 'text': [text]}]
    nb_path.write_text(json.dumps(nb, indent=1) + '\n')


def test_phi_in_output_is_caught(scratch_repo):
    nb = scratch_repo/'nbs'/'core'/'00_core.ipynb'
    _add_output(nb, "(0010, 0010) PatientName  PN: 'DOE^JANE'\n")
    probs = _run(scratch_repo, 'phi')
    assert any('nbs/core/00_core.ipynb' in p and 'PatientName' in p for p in probs), probs


def test_absolute_path_in_output_is_caught(scratch_repo):
    _add_output(scratch_repo/'nbs'/'core'/'00_core.ipynb', "saved to /home/alice/runs/x.csv\n")
    probs = _run(scratch_repo, 'phi')
    assert any("absolute path '/home/alice/runs/x.csv'" in p for p in probs), probs


def test_phi_in_manifest_is_caught(scratch_repo):
    d = scratch_repo/'data_manifests'; d.mkdir(exist_ok=True)
    (d/'leaky.csv').write_text('patient_id,PatientName\np1,DOE^JANE\n')
    probs = _run(scratch_repo, 'phi')
    assert any('data_manifests/leaky.csv: PatientName' in p for p in probs), probs


def test_import_from_higher_band_is_caught(scratch_repo):
    f = scratch_repo/'mammo_nb'/'core.py'
    f.write_text(f.read_text() + '\nfrom .train.learner import DictLearner\n')
    probs = _run(scratch_repo, 'layering')
    assert any('mammo_nb/core.py: imports mammo_nb.train.learner (band 60) from band 0' in p for p in probs), probs


def test_notebook_cell_importing_higher_band_is_caught(scratch_repo):
    nb_path = scratch_repo/'nbs'/'core'/'00_core.ipynb'
    nb = json.loads(nb_path.read_text())
    nb['cells'].append({'cell_type': 'code', 'execution_count': None, 'id': 'deadbeef', 'metadata': {}, 'outputs': [],
                        'source': ['from mammo_nb.cli import main']})
    nb_path.write_text(json.dumps(nb, indent=1) + '\n')
    probs = _run(scratch_repo, 'layering')
    assert any('nbs/core/00_core.ipynb' in p and 'imports mammo_nb.cli (band 70)' in p for p in probs), probs


def test_unclean_notebook_is_caught(scratch_repo):
    nb_path = scratch_repo/'nbs'/'core'/'00_core.ipynb'
    nb = json.loads(nb_path.read_text())
    nb['cells'][1]['execution_count'] = 7
    nb['metadata']['widgets'] = {'x': 1}
    nb_path.write_text(json.dumps(nb, indent=1) + '\n')
    assert _run(scratch_repo, 'clean') == ['nbs/core/00_core.ipynb: not clean (run `make clean-nbs` and commit)']


def test_oversized_notebook_is_caught(scratch_repo):
    _add_output(scratch_repo/'nbs'/'core'/'00_core.ipynb', 'x' * (hygiene.NB_BUDGET + 10))
    probs = _run(scratch_repo, 'size')
    assert any('nbs/core/00_core.ipynb' in p and 'notebook budget' in p for p in probs), probs


def test_readme_drift_is_caught(scratch_repo):
    (scratch_repo/'README.md').write_text((scratch_repo/'README.md').read_text() + '\nedited by hand\n')
    assert _run(scratch_repo, 'readme') == ['README.md: out of step with nbs/index.ipynb (edit the notebook, then `make readme`)']


def test_notebook_without_subtitle_or_sidebar_entry_is_caught(scratch_repo):
    nb_path = scratch_repo/'nbs'/'core'/'00_core.ipynb'
    nb = json.loads(nb_path.read_text())
    nb['cells'][0]['source'] = ['# Core\n', 'no subtitle here']
    nb_path.write_text(json.dumps(nb, indent=1) + '\n')
    (scratch_repo/'nbs'/'core'/'01_extra.ipynb').write_text(nb_path.read_text())
    probs = _run(scratch_repo, 'notebooks')
    assert any('00_core.ipynb: must open with a markdown cell' in p for p in probs), probs
    assert any('01_extra.ipynb: not listed in the sidebar' in p for p in probs), probs


def test_mixed_import_cell_is_caught(scratch_repo):
    nb_path = scratch_repo/'nbs'/'core'/'00_core.ipynb'
    nb = json.loads(nb_path.read_text())
    nb['cells'].insert(5, {'cell_type': 'code', 'execution_count': None, 'id': 'cafebabe', 'metadata': {}, 'outputs': [],
                           'source': ['import math\n', 'x = math.pi']})
    nb_path.write_text(json.dumps(nb, indent=1) + '\n')
    probs = _run(scratch_repo, 'notebooks')
    assert any('cell 5: imports mixed with other code' in p for p in probs), probs


def test_cli_reports_failure(scratch_repo):
    import subprocess, sys
    f = scratch_repo/'mammo_nb'/'core.py'
    f.write_text(f.read_text() + '\nHAND_EDIT = 1\n')
    r = subprocess.run([sys.executable, str(scratch_repo/'tools'/'hygiene.py'), '--root', str(scratch_repo), 'sync'],
                       capture_output=True, text=True)
    assert r.returncode == 1 and 'FAIL sync' in r.stdout and 'mammo_nb/core.py' in r.stdout, r.stdout


def _edit_index(root, *pairs):
    "Replace text in the markdown of the scratch copy's home page."
    nb_path = root/'nbs'/'index.ipynb'
    nb = json.loads(nb_path.read_text())
    for c in nb['cells']:
        src = c['source'] if isinstance(c['source'], str) else ''.join(c['source'])
        for old, new in pairs: src = src.replace(old, new)
        c['source'] = src
    nb_path.write_text(json.dumps(nb, indent=1) + '\n')


def test_home_page_links_every_tutorial_and_shows_a_figure(scratch_repo):
    assert _run(scratch_repo, 'home') == []
    _edit_index(scratch_repo, ('(tutorials/86_lesion_ldm_phantom.ipynb)', '(tutorials/81_never_written.ipynb)'),
                ('(systems/mammonet/reference.png)', '(systems/mammonet/missing.png)'))
    probs = _run(scratch_repo, 'home')
    assert any('does not link the tutorial tutorials/86_lesion_ldm_phantom.ipynb' in p for p in probs), probs
    assert any('shows no figure' in p and 'systems/mammonet/missing.png' in p for p in probs), probs


def test_stale_description_is_caught(scratch_repo):
    import re
    ini = scratch_repo/'settings.ini'
    ini.write_text(re.sub(r'(?m)^description = .*$', 'description = LMV-Net and the radiomics cGAN so far', ini.read_text()))
    assert any(p.startswith('settings.ini: description differs') for p in _run(scratch_repo, 'home'))


def test_readme_links_work_from_the_repository_top(scratch_repo):
    import re
    text = hygiene.readme_text(scratch_repo)
    assert '](nbs/contracts.ipynb)' in text and '](nbs/systems/mammonet/reference.png)' in text
    assert '](https://nbdev.fast.ai)' in text
    local = [t for t in hygiene.md_targets(text) if not re.match(r'^([a-z][\w+.-]*:|#)', t)]
    assert local and all((scratch_repo/t.split('#')[0]).exists() for t in local), local
    assert hygiene._from_root('```\n[a](b.ipynb)\n```\n[c](d.ipynb) [e](https://x.org/f) [g](#h)') == \
        '```\n[a](b.ipynb)\n```\n[c](nbs/d.ipynb) [e](https://x.org/f) [g](#h)'
