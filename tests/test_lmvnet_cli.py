"""`mammo-nb train lmvnet`, `mammo-nb evaluate lmvnet` and `mammo-nb predict risk` end to end on a tiny phantom.

The commands run through `mammo_nb.cli.main` (argument parsing, the registered command, exit codes) in this process,
and `predict risk` also through the installed console script. A tiny configuration (64x52 frames, the `tiny_cnn`
encoder, D = 32, one epoch) keeps the whole file well under a minute.
"""
import contextlib, io, json, os, subprocess, sys, warnings
from pathlib import Path

import pandas as pd
import pytest

from mammo_nb.cli import main
from mammo_nb.data.phantom import PhantomConfig
from mammo_nb.data.phantom_dicom import generate_phantom
from mammo_nb.registration.mammoregnet import MammoRegNet

EXE = str(Path(sys.executable).parent/'mammo-nb')
REG = dict(work_size=None, affine_size=(32, 26), enc_channels=(8, 8, 8), dec_channels=(8, 8), affine_channels=(8, 8, 8))


def cli(*args):
    "Run `mammo-nb ARGS` in this process; return (exit code, stdout, stderr)."
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        rc = main([str(a) for a in args])
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    "A tiny phantom, a small registration network file and one trained full LMV-Net."
    d = tmp_path_factory.mktemp('lmvnet_cli')
    man = generate_phantom(d/'phantom', n_patients=8, n_years=2, size=(128, 104), seed=11, config=PhantomConfig(p_cancer=0.5),
                           fractions=(0.5, 0.25, 0.25), progress=False)
    reg = MammoRegNet(**REG).save(d/'reg.safetensors')
    rc, out, err = cli('train', 'lmvnet', man, '--out', d/'run', '--variant', 'full', '--registration', reg, '--size', 64, 52,
                       '--epochs', 2, '--freeze-epochs', 1, '--bs', 4, '--encoder', 'tiny_cnn', '--dim', 32, '--heads', 4,
                       '--attention-depth', 1, '--head-weights', 'multi=1,cc=0.5,mlo=0.5', '--root', d/'phantom',
                       '--cache', d/'cache', '--quiet')
    assert rc == 0, err[-2000:]
    return dict(dir=d, man=man, root=d/'phantom', ckpt=d/'run'/'best.safetensors', train_out=out)


def test_train_writes_checkpoint_history_and_recipe(run):
    assert 'best checkpoint:' in run['train_out'] and run['ckpt'].exists()
    meta = json.loads(run['ckpt'].with_suffix('.json').read_text())
    assert meta['recipe']['variant'] == 'full' and meta['recipe']['size'] == [64, 52] and meta['recipe']['registration'] == 'reg.safetensors'
    assert meta['config']['head_weights'] == {'multi': 1.0, 'cc': 0.5, 'mlo': 0.5}
    hist = pd.read_csv(run['dir']/'run'/'history.csv')
    assert len(hist) == 2 and {'valid_multi', 'valid_cc', 'valid_mlo', 'auc_1y', 'c_index'} <= set(hist.columns)
    # the same command again finds the finished run (resume) instead of training anew
    rc, out, _ = cli('train', 'lmvnet', run['man'], '--out', run['dir']/'run', '--variant', 'full', '--registration',
                     run['dir']/'reg.safetensors', '--size', 64, 52, '--epochs', 2, '--bs', 4, '--encoder', 'tiny_cnn', '--dim', 32,
                     '--heads', 4, '--attention-depth', 1, '--head-weights', 'multi=1,cc=0.5,mlo=0.5', '--root', run['root'],
                     '--cache', run['dir']/'cache', '--quiet')
    assert rc == 0 and 'run already complete (2/2 epochs)' in out


def test_evaluate_prints_summary_and_writes_tables(run):
    rc, out, err = cli('evaluate', 'lmvnet', run['man'], '--model', run['ckpt'], '--split', 'test', '--root', run['root'],
                       '--cache', run['dir']/'cache', '--n-boot', 30)
    assert rc == 0, err[-2000:]
    assert 'C-index' in out and 'multi' in out and 'calibrated' in out and 'patient-level bootstrap' in out
    ev = run['dir']/'run'/'eval-test'
    assert {'metrics.csv', 'subgroups.csv', 'calibration.csv', 'predictions.csv', 'summary.json', 'calibration.png'} <= {p.name for p in ev.iterdir()}
    cal = json.loads((run['dir']/'run'/'best.calibration.json').read_text())
    assert cal['method'] == 'platt' and len(cal['a']) == 5
    rc, out, _ = cli('evaluate', 'lmvnet', run['man'], '--model', run['ckpt'], '--mask-prior', '--root', run['root'],
                     '--cache', run['dir']/'cache', '--n-boot', 10)
    assert rc == 0 and 'priors masked' in out and (run['dir']/'run'/'eval-test-noprior'/'summary.json').exists()


def test_predict_risk_on_exam_folder_through_console_script(run):
    exams = sorted((run['root']/'images').iterdir())[0]
    cur, pri = sorted(exams.iterdir())[-1], sorted(exams.iterdir())[0]
    out = run['dir']/'pred'
    r = subprocess.run([EXE, 'predict', 'risk', str(cur), '--model', str(run['ckpt']), '--prior', str(pri), '--out', str(out)],
                       capture_output=True, text=True, env={**os.environ, 'MPLBACKEND': 'Agg'})
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((out/'risk.json').read_text())
    assert res['n_breast_exams'] == 2 and [e['laterality'] for e in res['breast_exams']] == ['L', 'R']
    for e in res['breast_exams']:
        assert list(e['risk']) == ['1y', '2y', '3y', '4y', '5y'] and e['prior'] == pri.name and (out/e['figure']).exists()
    assert ' L: ' in r.stdout and ' R: ' in r.stdout


def test_predict_risk_on_manifest_and_bad_inputs(run):
    rc, out, err = cli('predict', 'risk', run['man'], '--model', run['ckpt'], '--out', run['dir']/'pm', '--root', run['root'],
                       '--cache', run['dir']/'cache', '--split', 'test', '--no-figures')
    assert rc == 0, err[-2000:]
    res = json.loads((run['dir']/'pm'/'risk.json').read_text())
    df = pd.read_csv(run['man'])
    assert res['n_breast_exams'] == df[df.split == 'test'].groupby(['exam_id', 'laterality']).ngroups and res['calibrated']
    bad = [(('predict', 'risk', run['dir']/'nope', '--model', run['ckpt']), 'not an exam folder or a manifest CSV'),
           (('predict', 'risk', run['man'], '--model', run['dir']/'missing.safetensors'), 'checkpoint metadata not found'),
           (('evaluate', 'lmvnet', run['man'], '--model', run['ckpt'], '--split', 'holdout', '--root', run['root']), "no split 'holdout'"),
           (('train', 'lmvnet', run['man'], '--out', run['dir']/'x', '--epochs', 1, '--freeze-epochs', 2), 'freeze_epochs must lie in'),
           (('train', 'lmvnet', run['man'], '--out', run['dir']/'x', '--registration', run['dir']/'nope.safetensors',
             '--root', run['root'], '--cache', run['dir']/'cache', '--size', 64, 52, '--encoder', 'tiny_cnn', '--dim', 32, '--heads', 4),
            'registration weights not found')]
    for args, msg in bad:
        rc, _, err = cli(*args)
        assert rc == 2 and msg in err, (args, err[-500:])
