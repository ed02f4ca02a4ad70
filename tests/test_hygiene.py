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
