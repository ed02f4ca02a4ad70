"""`mammo-nb train|evaluate|predict|bench mammonet` end to end on a tiny phantom.

The commands run through `mammo_nb.cli.main` (argument parsing, the registered command, exit codes) in this process,
and `predict mammonet` also through the installed console script. A tiny configuration (64x52 frames, the `tiny_cnn`
branches, two epochs) keeps the whole file around a minute.
"""
import json, os, subprocess, sys
from pathlib import Path

import pandas as pd
import pytest

from mammo_nb.data.phantom import PhantomConfig
from mammo_nb.data.phantom_dicom import generate_phantom
from cli_runner import cli

EXE = str(Path(sys.executable).parent/'mammo-nb')
TINY = ['size=64,52', 'encoder=tiny_cnn', 'heads=2', 'fusion_dim=32', 'recon_hidden=32', 'bs=4']


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    "A tiny phantom (one exam per woman, cancers enriched) and a full Mammo-Net trained on it for two epochs."
    d = tmp_path_factory.mktemp('mammonet_cli')
    man = generate_phantom(d/'phantom', n_patients=12, n_years=1, size=(128, 104), seed=4, config=PhantomConfig(p_cancer=0.6),
                           fractions=(0.5, 0.2, 0.3), progress=False)
    data = ['--root', d/'phantom', '--cache', d/'cache']
    train = ['train', 'mammonet', '--manifest', man, *data, '--out', d/'run', '--quiet',
             '--set', *TINY, 'epochs=2', 'lr=3e-3', 'schedule=one_cycle', 'augment_kwargs={"rotate": 5, "vflip": 0.5}']
    rc, out, err = cli(*train)
    assert rc == 0, err[-2000:]
    return dict(dir=d, man=man, root=d/'phantom', data=data, train=train, train_out=out)


def test_train_writes_the_run_folder(run):
    assert 'mammonet run' in run['train_out'] and 'best epoch' in run['train_out'] and 'auc' in run['train_out']
    info = json.loads((run['dir']/'run'/'run.json').read_text())
    assert info['status'] == 'complete' and info['config']['variant'] == 'full' and info['config']['size'] == [64, 52]
    assert info['config']['augment_kwargs'] == {'rotate': 5, 'vflip': 0.5} and info['data']['phantom'] is not None
    assert info['loss_weights'] == {'bce': 1.0, 'pyramid': 0.5, 'bfl': 0.2}
    lc = info['label_counts']
    assert lc['malignant'] > 0 and abs(info['pos_weight'] - lc['benign_or_normal'] / lc['malignant']) < 1e-9
    best = json.loads((run['dir']/'run'/'best.json').read_text())      # strict JSON, even with an undefined metric
    assert best['config']['pos_weight'] == info['pos_weight'] and best['monitor'] == 'auc'
    hist = pd.read_csv(run['dir']/'run'/'history.csv')
    assert len(hist) == 2 and {'auc', 'accuracy', 'train_bce', 'train_pyramid', 'train_bfl'} <= set(hist.columns)
    # the same command again: refused unless --resume; with --resume the finished run is returned
    rc, _, err = cli(*run['train'])
    assert rc == 2 and '--resume' in err
    rc, out, _ = cli(*run['train'], '--resume')
    assert rc == 0 and 'complete' in out
    # another setting is another run: the folder refuses it and names the difference
    rc, _, err = cli(*run['train'][:-1], 'augment_kwargs={"rotate": 10}', '--resume')
    assert rc == 2 and 'setting augment_kwargs' in err


def test_evaluate_prints_summary_and_writes_tables(run):
    rc, out, err = cli('evaluate', 'mammonet', '--run', run['dir']/'run', '--split', 'test', '--n-boot', 30, '--tolerance', 6)
    assert rc == 0, err[-2000:]
    assert 'auc' in out and 'accuracy' in out and 'pg_lesion' in out and 'corr_gaze' in out and 'written to' in out
    ev = run['dir']/'run'/'evaluation'/'test'
    assert {'metrics.csv', 'agreement.csv', 'predictions.csv', 'metrics.json', 'roc.png', 'subgroups.csv'} <= {p.name for p in ev.iterdir()}
    s = json.loads((ev/'metrics.json').read_text())
    assert s['variant'] == 'full' and s['n_breasts'] > 0 and 0 <= s['auc'] <= 1 and len(s['auc_ci']) == 2
    pred = pd.read_csv(ev/'predictions.csv')
    assert len(pred) == s['n_breasts'] + s['n_unscored'] and pred['prob'].between(0, 1).all()
    assert 'subgroups (auc with its 95% CI over patients' in out and 'warning: ' in out


def test_evaluate_prints_subgroups_and_names_the_small_cells(run):
    """The printout shows the subgroup table (density, vendor, finding type) and a warning naming the cells too small to say
    anything; a manifest without a vendor column gives one 'not recorded' vendor row instead of failing."""
    pd.read_csv(run['man']).drop(columns=['vendor']).to_csv(run['dir']/'novendor.csv', index=False)
    out_dir = run['dir']/'ev-novendor'
    rc, out, err = cli('evaluate', 'mammonet', '--run', run['dir']/'run', '--manifest', run['dir']/'novendor.csv', *run['data'],
                       '--split', 'test', '--n-boot', 20, '--out', out_dir)
    assert rc == 0, err[-2000:]
    lines = out.splitlines()
    head = lines.index(next(l for l in lines if l.startswith('subgroups (auc with its 95% CI over patients')))
    assert lines[head + 1].split() == ['subgroup', 'level', 'auc', 'patients', 'items'], lines[head + 1]
    table = [l.split() for l in lines[head + 2:] if l.startswith('  ')]
    names = [r[0] for r in table]
    assert names[0] == 'overall' and {'density', 'vendor', 'finding'} <= set(names), out
    assert [r[:3] for r in table if r[0] == 'vendor'] == [['vendor', 'not', 'recorded']], out
    t = pd.read_csv(out_dir/'subgroups.csv')
    s = json.loads((out_dir/'metrics.json').read_text())
    assert set(t[t.subgroup == 'vendor'].level) == {'not recorded'} and int(t[t.subgroup == 'vendor'].n_patients.iloc[0]) == s['n_patients']
    small = t[(t.subgroup == 'density') & t.too_small]                  # a test split of a few women: every density cell is too small
    assert len(small) and small.estimate.isna().all() and small.note.str.startswith('too small: ').all()
    warning = next(l for l in lines if l.startswith('warning: ') and 'subgroup cell(s) too small to say anything' in l)
    assert f"density={small.level.iloc[0]}: {int(small.n_patients.iloc[0])} patient" in warning, warning
    assert s['subgroup_warning'] == warning[len('warning: '):] and len(s['small_subgroups']) >= 3


def test_predict_on_exam_folder_through_console_script(run):
    exam = sorted((run['root']/'images').iterdir())[0]/'E0'
    out = run['dir']/'pred'
    r = subprocess.run([EXE, 'predict', 'mammonet', '--run', str(run['dir']/'run'), str(exam), '--out', str(out)],
                       capture_output=True, text=True, env={**os.environ, 'MPLBACKEND': 'Agg'})
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((out/'predictions.json').read_text())
    assert res['trained_on_phantom'] and [e['laterality'] for e in res['predictions']] == ['L', 'R']
    for e in res['predictions']:
        assert e['views'] == ['CC', 'MLO'] and 0 <= e['probability'] <= 1 and e['input_is_phantom'] and 'warning' not in e
        assert sorted(e['figures']) == ['cc', 'mlo'] and all((out/f).exists() for f in e['figures'].values())
        assert sorted(e['cam_peak_xy']) == ['cc', 'mlo']
    assert '2 prediction(s) written' in r.stdout


def test_predict_on_unlabelled_manifest_and_bad_inputs(run, tmp_path):
    df = pd.read_csv(run['man'], keep_default_na=False)
    df.drop(columns=['pathology', 'gaze_path', 'lesions']).to_csv(tmp_path/'nolabels.csv', index=False)
    rc, out, err = cli('predict', 'mammonet', '--run', run['dir']/'run', tmp_path/'nolabels.csv', '--out', tmp_path/'pm',
                       '--root', run['root'], '--cache', run['dir']/'cache', '--split', 'test', '--no-figures')
    assert rc == 0, err[-2000:]
    res = json.loads((tmp_path/'pm'/'predictions.json').read_text())
    assert len(res['predictions']) == df[df.split == 'test'].groupby(['exam_id', 'laterality']).ngroups
    assert all(0 <= p['probability'] <= 1 and 'figures' not in p for p in res['predictions'])
    exam = sorted((run['root']/'images').iterdir())[0]/'E0'
    bad = [(('predict', 'mammonet', '--run', run['dir']/'run', run['dir']/'nope'), 'not a file or a folder'),
           (('predict', 'mammonet', '--run', run['dir']/'missing', run['man']), 'run folder not found'),
           (('predict', 'mammonet', '--run', run['dir']/'run', exam, '--split', 'test'), '--split goes with a manifest CSV'),
           (('predict', 'lmvnet', '--run', run['dir']/'run', exam), "this is a 'mammonet' run, not a 'lmvnet' run"),
           (('evaluate', 'mammonet', '--run', run['dir']/'run', '--split', 'holdout'), "no split 'holdout'"),
           (('train', 'mammonet', '--manifest', run['man'], '--out', tmp_path/'x', '--set', 'bs=1'), 'bs must be >= 2'),
           (('train', 'mammonet', '--manifest', run['man'], '--out', tmp_path/'x', '--set', 'variant=gaze_only'), "unknown Mammo-Net variant 'gaze_only'"),
           (('train', 'mammonet', '--manifest', run['man'], '--out', tmp_path/'x', '--set', 'lambda_pyramid=0'), 'another row of Table 1'),
           (('train', 'mammonet', '--manifest', run['man'], *run['data'], '--out', tmp_path/'x', '--set', *TINY, 'label_rule=inbreast_birads'),
            'already has pathology values')]
    for args, msg in bad:
        rc, _, err = cli(*args)
        assert rc == 2 and msg in err, (args, err[-500:])


def test_help_lists_settings_and_the_benchmark():
    r = subprocess.run([EXE, 'train', 'mammonet', '--help'], capture_output=True, text=True)
    assert r.returncode == 0 and 'lambda_pyramid' in r.stdout and 'label_rule' in r.stdout and 'inbreast_birads' in r.stdout
    r = subprocess.run([EXE, 'bench', '--help'], capture_output=True, text=True)
    assert r.returncode == 0 and 'mammonet' in r.stdout
