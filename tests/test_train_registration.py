"""`mammo-nb train registration` / `mammo-nb evaluate registration` end to end on a tiny phantom, bad inputs, and the demo step."""
import json, os, subprocess, sys, time
from pathlib import Path

import pandas as pd
import pytest

ENV = {**os.environ, 'OMP_NUM_THREADS': '1'}
EXE = str(Path(sys.executable).parent/'mammo-nb')


def _cli(*args, cwd=None):
    return subprocess.run([EXE, *map(str, args)], capture_output=True, text=True, env=ENV, cwd=cwd, timeout=600)


@pytest.fixture(scope='module')
def phantom(tmp_path_factory):
    from mammo_nb.data.phantom_dicom import generate_phantom
    d = tmp_path_factory.mktemp('reg')
    return generate_phantom(d/'ph', n_patients=4, n_years=2, size=(128, 104), seed=0, progress=False), d


def test_train_then_evaluate_cli(phantom):
    man, d = phantom
    r = _cli('train', 'registration', '--manifest', man, '--root', man.parent, '--cache', d/'cache', '--out', d/'run',
             '--size', 128, 104, '--epochs', 1, '--bs', 2, '--quiet')
    assert r.returncode == 0, r.stderr[-3000:]
    model = d/'run'/'mammoregnet.safetensors'
    assert model.exists() and 'written to' in r.stdout
    cfg = json.loads((d/'run'/'train_config.json').read_text())
    assert cfg['epochs'] == 1 and cfg['train_pairs'] > 0 and cfg['model']['work_size'] == [128, 104]
    r = _cli('evaluate', 'registration', '--model', model, '--manifest', man, '--root', man.parent, '--cache', d/'cache',
             '--points', 16, '--quiet')
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'TRE, all landmarks (mm)' in r.stdout and 'negative-Jacobian fraction' in r.stdout
    pairs = pd.read_csv(d/'run'/'evaluation_test.csv')
    lms = pd.read_csv(d/'run'/'evaluation_test_landmarks.csv')
    assert len(pairs) > 0 and (pairs.tre_true_mm < 0.05).all()
    assert len(lms) == int((pairs.n_nipple + pairs.n_lesion + pairs.n_tissue).sum())
    assert set(lms.kind) >= {'nipple', 'tissue'}


def test_bad_inputs_are_clear_errors(phantom, tmp_path, capsys):
    from mammo_nb.cli import main                                              # in-process: one import of the components
    man, d = phantom
    def run(*args):
        rc = main([str(a) for a in args]); return rc, capsys.readouterr().err
    rc, err = run('evaluate', 'registration', '--model', tmp_path/'missing.safetensors', '--manifest', man, '--root', man.parent)
    assert rc == 2 and 'registration weights not found' in err
    (tmp_path/'junk.safetensors').write_bytes(b'not a safetensors file')
    rc, err = run('evaluate', 'registration', '--model', tmp_path/'junk.safetensors', '--manifest', man, '--root', man.parent)
    assert rc == 2 and 'not a readable safetensors file' in err
    rc, err = run('train', 'registration', '--manifest', tmp_path/'nope.csv', '--out', tmp_path/'run', '--quiet')
    assert rc == 2 and 'manifest file not found' in err
    first = pd.read_csv(man, keep_default_na=False)
    first[first.exam_id.str.endswith('-E0')].to_csv(tmp_path/'first.csv', index=False)   # no exam has a prior
    rc, err = run('train', 'registration', '--manifest', tmp_path/'first.csv', '--root', man.parent, '--cache', d/'cache',
                  '--out', tmp_path/'run', '--size', 128, 104, '--quiet')
    assert rc == 2 and 'nothing to register' in err, err[-2000:]


@pytest.mark.slow
def test_demo_step_alone(tmp_path):
    "The demo step without the phantom step: it makes its own phantom, trains, evaluates and leaves the checkpoint."
    from mammo_nb.core import DemoContext
    from mammo_nb.train.registration import registration_demo
    from mammo_nb.registration.mammoregnet import MammoRegNet
    ctx = DemoContext(out_dir=tmp_path, seed=0, quick=True)
    t0 = time.time()
    res = registration_demo(ctx)
    print(f'registration demo step (quick): {time.time() - t0:.1f} s')
    assert all(Path(f).exists() for f in res.figures) and len(res.figures) == 2
    assert res.metrics['held-out pairs'] > 0 and res.metrics['TRE before (mm)'] > 0
    assert isinstance(MammoRegNet.load(ctx.shared['registration_checkpoint']), MammoRegNet)
    assert str(tmp_path) not in res.markdown
