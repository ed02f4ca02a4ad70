"""`mammo-nb train|evaluate|predict registration` end to end on a tiny phantom, bad inputs, and the demo step."""
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


def test_train_evaluate_predict_cli(phantom):
    man, d = phantom
    r = _cli('train', 'registration', '--manifest', man, '--root', man.parent, '--cache', d/'cache', '--out', d/'run',
             '--set', 'size=128,104', 'epochs=1', 'bs=2', '--device', 'cpu', '--quiet')
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'registration run' in r.stdout and 'complete' in r.stdout
    info = json.loads((d/'run'/'run.json').read_text())
    assert info['system'] == 'registration' and info['config']['epochs'] == 1 and info['status'] == 'complete'
    assert (d/'run'/'best.safetensors').exists() and info['data']['phantom'] is not None
    # the same command again: refused, it says to resume
    r = _cli('train', 'registration', '--manifest', man, '--root', man.parent, '--cache', d/'cache', '--out', d/'run',
             '--set', 'size=128,104', 'epochs=1', 'bs=2', '--quiet')
    assert r.returncode == 2 and '--resume' in r.stderr, r.stderr[-2000:]
    r = _cli('evaluate', 'registration', '--run', d/'run', '--points', 16, '--n-boot', 50)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'tre_before_mm' in r.stdout and 'negative_jacobian_fraction' in r.stdout
    pairs = pd.read_csv(d/'run'/'evaluation'/'test'/'pairs.csv')
    lms = pd.read_csv(d/'run'/'evaluation'/'test'/'landmarks.csv')
    assert len(pairs) > 0 and (pairs.tre_true_mm < 0.05).all()
    assert len(lms) == int((pairs.n_nipple + pairs.n_lesion + pairs.n_tissue).sum())
    df = pd.read_csv(man, keep_default_na=False)
    cur = df[(df.prior_exam_id != '') & (df.view == 'MLO')].iloc[0]
    pri = df[(df.exam_id == cur.prior_exam_id) & (df.laterality == cur.laterality) & (df.view == 'MLO')].iloc[0]
    r = _cli('predict', 'registration', '--run', d/'run', man.parent/cur.image_path, '--prior', man.parent/pri.image_path,
             '--out', d/'pred')
    assert r.returncode == 0, r.stderr[-3000:]
    rec = json.loads((d/'pred'/'predictions.json').read_text())['predictions'][0]
    assert rec['view'] == 'MLO' and (d/'pred'/rec['registered_prior']).exists()
    # two pairs whose current images have the same file name (TCIA names every image 1-1.dcm): neither overwrites the other
    other = df[(df.prior_exam_id != '') & (df.view == 'MLO') & (df.patient_id != cur.patient_id) & (df.laterality == cur.laterality)].iloc[0]
    other_pri = df[(df.exam_id == other.prior_exam_id) & (df.laterality == other.laterality) & (df.view == 'MLO')].iloc[0]
    for name, (c, p) in {'a': (cur, pri), 'b': (other, other_pri)}.items():
        for src, kind in ((c, 'cur'), (p, 'pri')):
            (d/'same'/name).mkdir(parents=True, exist_ok=True)
            (d/'same'/name/f'{kind}-1-1.dcm' if kind == 'pri' else d/'same'/name/'1-1.dcm').symlink_to(man.parent/src.image_path)
    r = _cli('predict', 'registration', '--run', d/'run', d/'same'/'a'/'1-1.dcm', d/'same'/'b'/'1-1.dcm',
             '--prior', d/'same'/'a'/'pri-1-1.dcm', d/'same'/'b'/'pri-1-1.dcm', '--out', d/'pred-same')
    assert r.returncode == 0, r.stderr[-3000:]
    recs = json.loads((d/'pred-same'/'predictions.json').read_text())['predictions']
    assert len({x['registered_prior'] for x in recs}) == 2 and len({x['figure'] for x in recs}) == 2
    assert all((d/'pred-same'/x['registered_prior']).exists() for x in recs)


def test_bad_inputs_are_clear_errors(phantom, tmp_path, capsys):
    from mammo_nb.cli import main                                              # in-process: one import of the components
    man, d = phantom
    def run(*args):
        rc = main([str(a) for a in args]); return rc, capsys.readouterr().err
    rc, err = run('evaluate', 'registration', '--run', tmp_path/'missing')
    assert rc == 2 and 'run folder not found' in err
    (tmp_path/'notarun').mkdir()
    rc, err = run('evaluate', 'registration', '--run', tmp_path/'notarun')
    assert rc == 2 and 'not a run folder' in err
    rc, err = run('train', 'registration', '--manifest', tmp_path/'nope.csv', '--out', tmp_path/'run', '--quiet')
    assert rc == 2 and 'manifest file not found' in err
    rc, err = run('train', 'registration', '--manifest', man, '--out', tmp_path/'run', '--set', 'window=4', '--quiet')
    assert rc == 2 and 'window must be an odd number' in err
    rc, err = run('train', 'registration', '--manifest', man, '--out', tmp_path/'run', '--set', 'colour=red', '--quiet')
    assert rc == 2 and "unknown setting 'colour'" in err
    first = pd.read_csv(man, keep_default_na=False)
    first[first.exam_id.str.endswith('-E0')].to_csv(tmp_path/'first.csv', index=False)   # no exam has a prior
    rc, err = run('train', 'registration', '--manifest', tmp_path/'first.csv', '--root', man.parent, '--cache', d/'cache',
                  '--out', tmp_path/'run', '--set', 'size=128,104', '--quiet')
    assert rc == 2 and 'nothing to register' in err, err[-2000:]


@pytest.mark.slow
def test_demo_step_alone(tmp_path):
    "The demo step without the phantom step: it makes its own phantom, trains, evaluates and leaves its run."
    from mammo_nb.core import DemoContext, SYSTEMS
    from mammo_nb.train.system import Run
    import mammo_nb.systems.registration.system  # noqa: F401 (registers the system)
    ctx = DemoContext(out_dir=tmp_path, seed=0, quick=True)
    t0 = time.time()
    res = SYSTEMS['registration'].demo(ctx)
    print(f'registration demo step (quick): {time.time() - t0:.1f} s')
    assert all(Path(f).exists() for f in res.figures) and len(res.figures) == 2
    assert res.metrics['held-out pairs'] > 0 and res.metrics['TRE before (mm)'] > 0
    assert Run.open(ctx.shared['registration_run']).complete
    assert str(tmp_path) not in res.markdown
