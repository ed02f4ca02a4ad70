"""`mammo-nb train|evaluate|predict lmvnet` end to end on a tiny phantom.

The commands run through `mammo_nb.cli.main` (argument parsing, the registered command, exit codes) in this process,
and `predict lmvnet` also through the installed console script. A tiny configuration (64x52 frames, the `tiny_cnn`
encoder, D = 32, two epochs) keeps the whole file around a minute.
"""
import json, os, subprocess, sys
from pathlib import Path

import pandas as pd
import pytest

from mammo_nb.data.phantom import PhantomConfig
from mammo_nb.data.phantom_dicom import generate_phantom
from cli_runner import cli

EXE = str(Path(sys.executable).parent/'mammo-nb')
REG = '{"work_size": null, "affine_size": [32, 26], "enc_channels": [8, 8, 8], "dec_channels": [8, 8], "affine_channels": [8, 8, 8]}'
TINY = ['size=64,52', 'encoder=tiny_cnn', 'dim=32', 'heads=4', 'attention_depth=1', 'bs=4']


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    "A tiny phantom, a one-epoch registration run and a trained full LMV-Net on it."
    d = tmp_path_factory.mktemp('lmvnet_cli')
    man = generate_phantom(d/'phantom', n_patients=8, n_years=2, size=(128, 104), seed=11, config=PhantomConfig(p_cancer=0.5),
                           fractions=(0.5, 0.25, 0.25), progress=False)
    data = ['--root', d/'phantom', '--cache', d/'cache']
    rc, out, err = cli('train', 'registration', '--manifest', man, *data, '--out', d/'reg', '--quiet',
                       '--set', 'size=64,52', 'epochs=1', 'bs=4', f'model={REG}')
    assert rc == 0, err[-2000:]
    train = ['train', 'lmvnet', '--manifest', man, *data, '--out', d/'run', '--quiet',
             '--set', *TINY, f'registration={d/"reg"}', 'epochs=2', 'freeze_epochs=1', 'head_weights={"multi": 1, "cc": 0.5, "mlo": 0.5}']
    rc, out, err = cli(*train)
    assert rc == 0, err[-2000:]
    return dict(dir=d, man=man, root=d/'phantom', data=data, train=train, train_out=out)


def test_train_writes_the_run_folder(run):
    assert 'lmvnet run' in run['train_out'] and 'best epoch' in run['train_out']
    info = json.loads((run['dir']/'run'/'run.json').read_text())
    reg = json.loads((run['dir']/'reg'/'run.json').read_text())
    assert info['status'] == 'complete' and info['config']['variant'] == 'full' and info['config']['size'] == [64, 52]
    assert info['depends'] == {'registration': reg['key'], 'encoder:encoder': info['encoders']['encoder']['sha256'][:20]}
    assert info['encoders']['encoder']['weights'] == 'phantom' and info['data']['phantom'] is not None
    assert info['config']['head_weights'] == {'multi': 1, 'cc': 0.5, 'mlo': 0.5}
    hist = pd.read_csv(run['dir']/'run'/'history.csv')
    assert len(hist) == 2 and {'valid_multi', 'valid_cc', 'valid_mlo', 'auc_1y', 'c_index'} <= set(hist.columns)
    json.loads((run['dir']/'run'/'best.json').read_text())       # strict JSON, even with an undefined metric
    # the same command again: refused unless --resume; with --resume the finished run is returned
    rc, _, err = cli(*run['train'])
    assert rc == 2 and '--resume' in err
    rc, out, _ = cli(*run['train'], '--resume')
    assert rc == 0 and 'complete' in out


def test_evaluate_prints_summary_and_writes_tables(run):
    rc, out, err = cli('evaluate', 'lmvnet', '--run', run['dir']/'run', '--split', 'test', '--n-boot', 30)
    assert rc == 0, err[-2000:]
    assert 'c_index' in out and 'auc_1y' in out and 'written to' in out
    assert 'subgroups (auc_' in out and 'subgroup cell(s) too small to say anything' in out   # density, vendor, finding, prior
    ev = run['dir']/'run'/'evaluation'/'test'
    assert {'metrics.csv', 'subgroups.csv', 'calibration.csv', 'predictions.csv', 'metrics.json', 'calibration.png'} <= {p.name for p in ev.iterdir()}
    cal = json.loads((run['dir']/'run'/'calibration.json').read_text())
    assert cal['method'] == 'platt' and len(cal['a']) == 5
    rc, out, _ = cli('evaluate', 'lmvnet', '--run', run['dir']/'run', '--mask-prior', '--n-boot', 10)
    assert rc == 0 and (run['dir']/'run'/'evaluation'/'test-noprior'/'metrics.json').exists()
    assert json.loads((run['dir']/'run'/'evaluation'/'test-noprior'/'metrics.json').read_text())['mask_prior'] is True


def test_predict_on_exam_folder_through_console_script(run):
    exams = sorted((run['root']/'images').iterdir())[0]
    cur, pri = sorted(exams.iterdir())[-1], sorted(exams.iterdir())[0]
    out = run['dir']/'pred'
    r = subprocess.run([EXE, 'predict', 'lmvnet', '--run', str(run['dir']/'run'), str(cur), '--prior', str(pri), '--out', str(out)],
                       capture_output=True, text=True, env={**os.environ, 'MPLBACKEND': 'Agg'})
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((out/'predictions.json').read_text())
    assert res['trained_on_phantom'] and [e['laterality'] for e in res['predictions']] == ['L', 'R']
    for e in res['predictions']:
        assert list(e['risk']) == ['1y', '2y', '3y', '4y', '5y'] and e['prior'] == pri.name and (out/e['figure']).exists()
        assert e['input_is_phantom'] and 'warning' not in e
    assert '2 prediction(s) written' in r.stdout


def test_predict_on_unlabelled_manifest_and_bad_inputs(run, tmp_path):
    df = pd.read_csv(run['man'], keep_default_na=False)
    df.drop(columns=['years_to_cancer', 'years_to_last_followup']).to_csv(tmp_path/'nolabels.csv', index=False)
    rc, out, err = cli('predict', 'lmvnet', '--run', run['dir']/'run', tmp_path/'nolabels.csv', '--out', tmp_path/'pm',
                       '--root', run['root'], '--cache', run['dir']/'cache', '--split', 'test', '--no-figures')
    assert rc == 0, err[-2000:]
    res = json.loads((tmp_path/'pm'/'predictions.json').read_text())
    assert len(res['predictions']) == df[df.split == 'test'].groupby(['exam_id', 'laterality']).ngroups
    assert all(p['calibrated'] for p in res['predictions'])
    bad = [(('predict', 'lmvnet', '--run', run['dir']/'run', run['dir']/'nope'), 'not an exam folder, an image file or a manifest CSV'),
           (('predict', 'lmvnet', '--run', run['dir']/'missing', run['man']), 'run folder not found'),
           (('predict', 'registration', '--run', run['dir']/'run', run['man'], '--prior', run['man']), "this is a 'lmvnet' run, not a 'registration' run"),
           (('evaluate', 'lmvnet', '--run', run['dir']/'run', '--split', 'holdout'), "no split 'holdout'"),
           (('train', 'lmvnet', '--manifest', run['man'], '--out', tmp_path/'x', '--set', 'epochs=1', 'freeze_epochs=2',
             'registration=untrained'), 'freeze_epochs must lie in'),
           (('train', 'lmvnet', '--manifest', run['man'], '--out', tmp_path/'x', '--set', 'epochs=1'), 'needs a trained registration network'),
           (('train', 'lmvnet', '--manifest', run['man'], *run['data'], '--out', tmp_path/'x', '--set', *TINY,
             f'registration={tmp_path/"noreg"}'), 'run folder not found')]
    for args, msg in bad:
        rc, _, err = cli(*args)
        assert rc == 2 and msg in err, (args, err[-500:])
