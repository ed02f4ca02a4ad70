"""`mammo-nb train|evaluate|predict momminet` end to end on a tiny phantom, and its bad inputs.

The commands run through `mammo_nb.cli.main` (argument parsing, the registered command, exit codes) in this process,
and `predict momminet` also through the installed console script. A tiny configuration (64x52 frames, the tiny
IpsiDualNet backbone, `hrnet_tiny`, the tiny nipple detector, one epoch per stage) keeps the file around a minute.
"""
import json, os, subprocess, sys
from pathlib import Path

import pandas as pd
import pytest

from mammo_nb.data.phantom import PhantomConfig
from mammo_nb.data.phantom_dicom import generate_phantom
from cli_runner import cli

EXE = str(Path(sys.executable).parent/'mammo-nb')
TINY = ['size=64,52', 'ipsi_backbone=tiny', 'fpn_channels=16', 'representation_size=32', 'relation_heads=4', 'key_dim=8',
        'aux_rois=16', 'rois_per_image=64', 'bi_hrnet=hrnet_tiny', 'fusion_width=8', 'nipple_backbone=tiny',
        'nipple_fpn_channels=16', 'bs=4', 'epochs=1', 'augment=false']


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    "A tiny phantom (cancers and benign findings enriched) and a run of every stage on it."
    d = tmp_path_factory.mktemp('momminet_cli')
    man = generate_phantom(d/'phantom', n_patients=8, n_years=1, size=(128, 104), seed=1, progress=False,
                           config=PhantomConfig(p_cancer=0.6, p_benign=0.6), fractions=(0.5, 0.25, 0.25))
    data = ['--root', d/'phantom', '--cache', d/'cache']
    train = ['train', 'momminet', '--manifest', man, *data, '--out', d/'run', '--quiet', '--set', *TINY]
    rc, out, err = cli(*train)
    assert rc == 0, err[-2000:]
    return dict(dir=d, man=man, root=d/'phantom', data=data, train=train, train_out=out)


def test_train_writes_every_stage_into_one_run(run):
    assert 'momminet run' in run['train_out'] and 'best epoch' in run['train_out']
    r = run['dir']/'run'
    info = json.loads((r/'run.json').read_text())
    assert info['status'] == 'complete' and info['config']['size'] == [64, 52] and info['data']['phantom'] is not None
    assert list(info['stage_results']) == ['nipple', 'ipsi', 'bi', 'fusion']
    for f in ('best.safetensors', 'best.json', 'nipple/best.safetensors', 'nipples.csv', 'stages/ipsi/history.csv',
              'stages/bi/done.json', 'stages/fusion/best.safetensors'):
        assert (r/f).exists(), f
    assert json.loads((r/'best.json').read_text())['config']['stage'] == 'fusion'
    hist = pd.read_csv(r/'stages'/'ipsi'/'history.csv')
    assert len(hist) == 1 and {'train_rpn_objectness', 'valid_roi_diou', 'r@0.5', 'r@1', 'r@2', 'froc'} <= set(hist.columns)
    # the same command again: refused unless --resume; with --resume the finished run is returned
    rc, _, err = cli(*run['train'])
    assert rc == 2 and '--resume' in err
    rc, out, _ = cli(*run['train'], '--resume')
    assert rc == 0 and 'complete' in out


def test_fusion_from_branch_runs(run, tmp_path):
    "The ablation's flow: IpsiDualNet-v2 and BiDualNet-v2 trained in runs of their own, fused in a third; the keys enter its key."
    base = ['--manifest', run['man'], *run['data'], '--quiet', '--set', *TINY, 'nipples=annotation']
    rc, _, err = cli('train', 'momminet', *base, 'stages=ipsi', '--out', tmp_path/'ipsi')
    assert rc == 0, err[-2000:]
    rc, _, err = cli('train', 'momminet', *base, 'stages=bi', 'concat_stage=2', '--out', tmp_path/'bi')
    assert rc == 0, err[-2000:]
    assert json.loads((tmp_path/'ipsi'/'best.json').read_text())['config']['stage'] == 'ipsi'
    fuse = lambda *s: ('train', 'momminet', *base, 'stages=fusion', f'ipsi_run={tmp_path/"ipsi"}', f'bi_run={tmp_path/"bi"}', *s,
                       '--out', tmp_path/'fused')
    rc, _, err = cli(*fuse())
    assert rc == 2 and 'concat_stage: 2 there, 3 here' in err
    rc, _, err = cli(*fuse('concat_stage=2'))
    assert rc == 0, err[-2000:]
    info = json.loads((tmp_path/'fused'/'run.json').read_text())
    keys = {p: json.loads((tmp_path/p/'run.json').read_text())['key'] for p in ('ipsi', 'bi')}
    assert info['depends'] == {'ipsi_run': keys['ipsi'], 'bi_run': keys['bi']} and list(info['stage_results']) == ['fusion']
    rc, out, err = cli('evaluate', 'momminet', '--run', tmp_path/'ipsi', '--n-boot', 10)
    assert rc == 0 and 'ipsidualnet_R@1' in out and 'momminet_R@1' not in out, err[-2000:]


def test_table2_and_table6_arms(run, tmp_path):
    "The branch ablations train and evaluate from the command line: IpsiDualNet w/o relation blocks on bilateral pairs, HRNet + PWFL."
    base = ['--manifest', run['man'], *run['data'], '--quiet', '--set', *TINY, 'nipples=annotation']
    rc, _, err = cli('train', 'momminet', *base, 'stages=ipsi', 'relation_blocks=0', 'roi_concat=true', 'ipsi_aux_view=contra', '--out', tmp_path/'cat')
    assert rc == 0, err[-2000:]
    rc, _, err = cli('train', 'momminet', *base, 'stages=bi', 'bi_aux_view=none', 'box_rule=component', '--out', tmp_path/'hrnet')
    assert rc == 0, err[-2000:]
    cfg = json.loads((tmp_path/'cat'/'best.json').read_text())['config']
    assert cfg['ipsi']['roi_concat'] and cfg['ipsi']['aux_view'] == 'contra' and cfg['ipsi']['relation_blocks'] == 0
    cfg = json.loads((tmp_path/'hrnet'/'best.json').read_text())['config']
    assert cfg['bi']['aux_view'] == 'none' and cfg['box_rule'] == 'component'
    rc, out, err = cli('evaluate', 'momminet', '--run', tmp_path/'hrnet', '--n-boot', 10)
    assert rc == 0 and 'bidualnet_R@1' in out, err[-2000:]


def test_evaluate_with_and_without_a_view(run):
    rc, out, err = cli('evaluate', 'momminet', '--run', run['dir']/'run', '--split', 'test', '--n-boot', 20)
    assert rc == 0, err[-2000:]
    assert 'momminet_R@0.5' in out and 'bidualnet_R@2' in out and 'nipple_detector_median_mm' in out and 'written to' in out
    ev = run['dir']/'run'/'evaluation'/'test'
    assert {'froc.csv', 'summary.csv', 'images.csv', 'nipples.csv', 'nipple_summary.csv', 'metrics.json', 'froc.png'} <= {p.name for p in ev.iterdir()}
    froc = pd.read_csv(ev/'froc.csv')
    assert set(froc['head']) == {'momminet', 'momminet_ipsiboxes', 'ipsidualnet', 'bidualnet'} and list(froc.fppi.unique()) == [0.5, 1.0, 2.0]
    assert (froc.n_groups <= 2).all()                                   # CIs resample women, not images
    assert set(froc.criterion) == {'mask'} and (froc.mimic_fppi >= 0).all()   # hits on the masks; FP on mimics counted apart
    m = json.loads((ev/'metrics.json').read_text())
    assert m['hit'] == 'mask IoU > 0.2' and 'momminet_mimic_fppi@1' in m
    rc, out, err = cli('evaluate', 'momminet', '--run', run['dir']/'run', '--drop', 'ipsi', '--n-boot', 10)
    assert rc == 0, err[-2000:]
    m = json.loads((run['dir']/'run'/'evaluation'/'test-no-ipsi'/'metrics.json').read_text())
    assert m['drop'] == 'ipsi' and set(m['routes']) <= {'bilateral only', 'single view'}


def test_predict_on_exam_folder_through_console_script(run):
    exam = sorted((run['root']/'images').iterdir())[0]/'E0'
    out = run['dir']/'pred'
    r = subprocess.run([EXE, 'predict', 'momminet', '--run', str(run['dir']/'run'), str(exam), '--out', str(out)],
                       capture_output=True, text=True, env={**os.environ, 'MPLBACKEND': 'Agg'})
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((out/'predictions.json').read_text())
    assert res['trained_on_phantom'] and len(res['predictions']) == 4
    for p in res['predictions']:
        assert p['route'] == 'tri-view' and p['input_is_phantom'] and 'warning' not in p and (out/p['figure']).exists()
        assert p['coordinates'].startswith('original DICOM pixels') and p['n_boxes'] == len(p['boxes'])
        for b in p['boxes']: assert b['x1'] > b['x0'] and b['y1'] > b['y0'] and 0 <= b['score'] <= 1
    assert '4 prediction(s) written' in r.stdout


def test_predict_manifest_detected_boxes_and_bad_inputs(run, tmp_path):
    rc, out, err = cli('predict', 'momminet', '--run', run['dir']/'run', run['man'], '--out', tmp_path/'pm', '--root', run['root'],
                       '--cache', run['dir']/'cache', '--split', 'test', '--no-figures')
    assert rc == 0, err[-2000:]
    res = json.loads((tmp_path/'pm'/'predictions.json').read_text())
    df = pd.read_csv(run['man'])
    assert len(res['predictions']) == (df.split == 'test').sum()
    from mammo_nb.core import SYSTEMS
    import mammo_nb.systems.momminet.system
    boxes = SYSTEMS['momminet'].detected_boxes(run['dir']/'run', run['man'])
    assert {'image_path', 'x0', 'y0', 'x1', 'y1', 'score'} <= set(boxes.columns) and set(boxes.image_path) <= set(df.image_path)
    exam = sorted((run['root']/'images').iterdir())[0]/'E0'
    no_mass = df.assign(lesions='[]'); no_mass.to_csv(tmp_path/'nomass.csv', index=False)
    no_nip = df.assign(nipple_xy=''); no_nip.to_csv(tmp_path/'nonipple.csv', index=False)
    tr = lambda *s, man=run['man']: ('train', 'momminet', '--manifest', man, *run['data'], '--out', tmp_path/'x', '--quiet', '--set', *TINY, *s)
    bad = [(('predict', 'momminet', '--run', run['dir']/'run', run['dir']/'nope'), 'not a file or a folder'),
           (('predict', 'momminet', '--run', run['dir']/'missing', exam), 'run folder not found'),
           (('predict', 'momminet', '--run', run['dir']/'run', exam, '--split', 'test'), '--split goes with a manifest CSV'),
           (('predict', 'momminet', '--run', run['dir']/'run', run['man'], exam), 'either one manifest CSV'),
           (('evaluate', 'momminet', '--run', run['dir']/'run', '--split', 'holdout'), "no split 'holdout'"),
           (tr('stages=ipsi,nipple'), 'unique and in the order'),
           (tr('stages=fusion'), 'add stage ipsi or set ipsi_run'),
           (tr('stages=bi'), 'needs a nipple detector'),
           (tr('geometry=centre'), 'geometry must be one of'),
           (tr('stages=ipsi', 'nipples=annotation', 'roi_concat=true'), 'set relation_blocks=0'),
           (tr('bi_aux_view=ipsi'), "the fusion stage needs the paper's pairs"),
           (tr('stages=bi', 'nipples=annotation', 'box_rule=blob'), 'box_rule must be one of'),
           (tr('stage_epochs={"fusion": 0}'), 'integers >= 1'),
           (tr('stages=fusion', 'nipples=annotation', f'ipsi_run={tmp_path/"none"}', f'bi_run={tmp_path/"none"}'), 'run folder not found'),
           (tr(man=tmp_path/'nomass.csv'), 'has nothing to learn'),
           (tr(man=tmp_path/'nonipple.csv'), 'needs annotated nipples')]
    for args, msg in bad:
        rc, _, err = cli(*args)
        assert rc == 2 and msg in err, (args, err[-500:])
