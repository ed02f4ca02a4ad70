"""`mammo-nb train|evaluate|predict lesion-ldm` and `mammo-nb synthesize lesion` end to end on a tiny phantom.

The commands run through `mammo_nb.cli.main` (argument parsing, the registered command, exit codes) in this process;
`predict lesion-ldm` and `synthesize lesion` also run through the installed console script. A tiny configuration
(32x32 crops, 8-16 channel autoencoder, a two-level 16/32 UNet, two epochs per stage, 4 DDIM steps) keeps the whole
file around a minute.
"""
import json, os, subprocess, sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy.ndimage import maximum_filter

from mammo_nb.data.dicom import read_mammogram
from mammo_nb.data.phantom import PhantomConfig
from mammo_nb.data.phantom_dicom import generate_phantom
from cli_runner import cli

EXE = str(Path(sys.executable).parent/'mammo-nb')
AE = '{"block_out_channels": [8, 16, 16, 16], "norm_num_groups": 4}'
LDM = '{"cond_dim": 32, "film_dim": 16, "vit_dim": 32, "vit_depth": 1, "vit_heads": 2, "unet_channels": [16, 32], "n_heads": 2}'
TINY = ['size=128,104', 'patch_size=32', 'roi_margin=6', 'bs=4', f'ae={AE}', 'cls_epochs=2', 'epochs=2']


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    "A tiny phantom, a stage-1 run and a stage-2 run on it."
    d = tmp_path_factory.mktemp('lesion_ldm_cli')
    man = generate_phantom(d/'phantom', n_patients=10, n_years=1, size=(128, 104), seed=3,
                           config=PhantomConfig(p_cancer=0.6, p_benign=0.6), fractions=(0.5, 0.25, 0.25), progress=False)
    data = ['--root', d/'phantom', '--cache', d/'cache']
    rc, out1, err = cli('train', 'lesion-ldm', '--manifest', man, *data, '--out', d/'ae', '--quiet', '--set', 'stage=autoencoder', *TINY)
    assert rc == 0, err[-2000:]
    train2 = ['train', 'lesion-ldm', '--manifest', man, *data, '--out', d/'ldm', '--quiet',
              '--set', 'stage=diffusion', f'autoencoder={d/"ae"}', *TINY, f'model={LDM}', 'lr=0.002', 'steps=4']
    rc, out2, err = cli(*train2)
    assert rc == 0, err[-2000:]
    df = pd.read_csv(man, keep_default_na=False)
    row = next(r for r in df.itertuples() if r.split == 'test' and r.lesions not in ('', '[]'))
    les = json.loads(row.lesions)[0]
    return dict(dir=d, man=man, root=d/'phantom', data=data, train2=train2, out1=out1, out2=out2,
                image=d/'phantom'/row.image_path, mask=d/'phantom'/les['mask'])


def test_train_writes_both_runs(run):
    assert 'lesion-ldm run' in run['out1'] and 'best epoch' in run['out2']
    a = json.loads((run['dir']/'ae'/'run.json').read_text())
    b = json.loads((run['dir']/'ldm'/'run.json').read_text())
    assert a['status'] == b['status'] == 'complete' and a['config']['stage'] == 'autoencoder' and b['config']['stage'] == 'diffusion'
    assert a['scaling_factor'] > 0 and b['depends'] == {'autoencoder': a['key']} and b['data']['phantom'] is not None
    assert b['config']['model']['unet_channels'] == [16, 32] and b['config']['patch_size'] == 32
    for f in ('best.safetensors', 'history.csv', 'classifier/best.safetensors', 'judge/best.safetensors', 'judge/history.csv'):
        assert (run['dir']/'ae'/f).exists(), f
    assert (run['dir']/'ldm'/'judge.safetensors').exists() and (run['dir']/'ldm'/'classifier.safetensors').exists() and len(pd.read_csv(run['dir']/'ldm'/'history.csv')) == 2
    # the same command again: refused unless --resume; with --resume the finished run is returned
    rc, _, err = cli(*run['train2'])
    assert rc == 2 and '--resume' in err
    rc, out, _ = cli(*run['train2'], '--resume')
    assert rc == 0 and 'complete' in out


def test_train_help_lists_the_settings():
    r = subprocess.run([EXE, 'train', 'lesion-ldm', '--help'], capture_output=True, text=True)
    assert r.returncode == 0 and 'conditioning' in r.stdout and 'attributes_vit' in r.stdout and 'roi_margin' in r.stdout


def test_evaluate_both_stages(run):
    rc, out, err = cli('evaluate', 'lesion-ldm', '--run', run['dir']/'ae', '--split', 'test', '--n-boot', 30)
    assert rc == 0, err[-2000:]
    assert 'mask_psnr' in out and 'judge_accuracy_category' in out and 'written to' in out
    rc, out, err = cli('evaluate', 'lesion-ldm', '--run', run['dir']/'ldm', '--n-boot', 30, '--samples', 2, '--conditions', 2)
    assert rc == 0, err[-2000:]
    ev = run['dir']/'ldm'/'evaluation'/'test'
    assert {'metrics.json', 'metrics.csv', 'per_crop.csv', 'synthesis.png'} <= {p.name for p in ev.iterdir()}
    s = json.loads((ev/'metrics.json').read_text())
    for k in ('fid', 'kid', 'mask_psnr', 'ssim', 'ms_ssim_among_samples', 'memorised_fraction', 'swapped_accuracy_category',
              'real_accuracy_pathology', 'mean_fill_fid'):
        assert k in s, k
    assert s['trained_on_phantom'] and s['conditioning'] == 'attributes_vit'
    rc, out, err = cli('evaluate', 'lesion-ldm', '--run', run['dir']/'ldm', '--n-boot', 10, '--samples', 2, '--conditions', 1,
                       '--steps', 2, '--guidance', 1.5)
    assert rc == 0 and (run['dir']/'ldm'/'evaluation'/'test-steps2-w1.5'/'metrics.json').exists(), err[-2000:]


def test_predict_through_console_script(run):
    out = run['dir']/'pred'
    r = subprocess.run([EXE, 'predict', 'lesion-ldm', '--run', str(run['dir']/'ldm'), str(run['image']), '--mask', str(run['mask']),
                        '--category', 'mass', '--birads', '4B', '--density', 'C', '--out', str(out), '--device', 'cpu'],
                       capture_output=True, text=True, env={**os.environ, 'MPLBACKEND': 'Agg'})
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((out/'predictions.json').read_text())
    p = res['predictions'][0]
    assert res['trained_on_phantom'] and p['input_is_phantom'] and 'warning' not in p
    assert p['requested']['category'] == 'mass' and p['requested']['birads'] == '4B' and p['requested']['pathology'] is None
    y = np.asarray(Image.open(out/p['synthetic'])).astype(np.float64) / 65535
    mg = read_mammogram(run['image'])
    orig = np.asarray(mg.geometry.image_to_original(mg.image.numpy(), mode='nearest'))[0]
    m = np.asarray(Image.open(run['mask'])) > 0
    r_ = round(6 * p['crop_side'] / p['patch_size'])                                  # the RoI: the mask grown by roi_margin=6 crop pixels
    grown = maximum_filter(m, size=2 * r_ + 1)
    assert y.shape == orig.shape and np.abs(y[~grown] - orig[~grown]).max() <= 1 / 65535 + 1e-9   # only the RoI's pixels change
    assert m.sum() < p['pasted_pixels'] <= grown.sum() and (out/p['figure']).exists()
    assert '1 prediction(s) written' in r.stdout


def test_synthesize_lesion_command(run, tmp_path):
    args = ['synthesize', 'lesion', '--run', str(run['dir']/'ldm'), '--image', str(run['image']), '--mask', str(run['mask']),
            '--density', 'C', '--view', 'CC', '--category', 'mass', '--birads', '4B', '--seed', '0']
    r = subprocess.run([EXE, *args, '--out', str(tmp_path/'a'), '--device', 'cpu'], capture_output=True, text=True,
                       env={**os.environ, 'MPLBACKEND': 'Agg'})
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'pixels replaced' in r.stdout and 'category mass' in r.stdout
    rc, out, err = cli(*args, '--out', tmp_path/'b', '--device', 'cpu')
    assert rc == 0, err[-2000:]
    a = json.loads((tmp_path/'a'/'predictions.json').read_text())['predictions'][0]
    b = json.loads((tmp_path/'b'/'predictions.json').read_text())['predictions'][0]
    assert a['requested']['view'] == 'CC'
    ya, yb = (np.asarray(Image.open(tmp_path/x/p['synthetic'])) for x, p in (('a', a), ('b', b)))
    assert np.array_equal(ya, yb)                                                   # the same seed, the same lesion


def test_bad_inputs(run, tmp_path):
    d, ldm, ae = run['dir'], run['dir']/'ldm', run['dir']/'ae'
    np.save(tmp_path/'empty.npy', np.zeros(np.asarray(Image.open(run['mask'])).shape, np.uint8))
    np.save(tmp_path/'small.npy', np.ones((10, 10), np.uint8))
    syn = ['synthesize', 'lesion', '--run', ldm, '--image', run['image'], '--device', 'cpu', '--out', tmp_path/'o']
    bad = [(('predict', 'lesion-ldm', '--run', ae, run['image'], '--mask', run['mask']), 'predict needs a stage-2 (diffusion) run'),
           (('predict', 'lesion-ldm', '--run', ldm, run['image']), 'one lesion mask (--mask) per image'),
           ((*syn, '--mask', tmp_path/'empty.npy'), 'the lesion mask is empty'),
           ((*syn, '--mask', tmp_path/'small.npy'), "does not match the image's"),
           ((*syn, '--mask', tmp_path/'nope.png'), 'lesion mask file not found'),
           ((*syn, '--mask', run['mask'], '--birads', '7'), "attribute 'birads': unknown value '7'"),
           ((*syn, '--mask', run['mask'], '--category', 'tumour'), "attribute 'category': unknown value 'tumour'"),
           (('predict', 'lesion-ldm', '--run', d/'missing', run['image'], '--mask', run['mask']), 'run folder not found'),
           (('predict', 'lmvnet', '--run', ldm, run['image']), "this is a 'lesion-ldm' run, not a 'lmvnet' run"),
           (('evaluate', 'lesion-ldm', '--run', ldm, '--split', 'holdout'), "no split 'holdout'"),
           (('train', 'lesion-ldm', '--manifest', run['man'], *run['data'], '--out', tmp_path/'x', '--set', 'stage=diffusion'),
            '--set autoencoder=RUN'),
           (('train', 'lesion-ldm', '--manifest', run['man'], *run['data'], '--out', tmp_path/'x', '--set', 'conditioning=text'),
            'conditioning must be one of none, attributes, attributes_vit'),
           (('train', 'lesion-ldm', '--manifest', run['man'], *run['data'], '--out', tmp_path/'x', '--set', 'stage=diffusion',
             f'autoencoder={ldm}', *TINY), 'must name a stage-1 run'),
           (('train', 'lesion-ldm', '--manifest', run['man'], *run['data'], '--out', tmp_path/'x', '--set', 'stage=diffusion',
             f'autoencoder={ae}', *TINY, 'patch_size=64'), 'set them as in that run: --set patch_size=32'),
           (('train', 'lesion-ldm', '--manifest', run['man'], *run['data'], '--out', tmp_path/'x', '--set', 'stage=diffusion',
             f'autoencoder={d/"nope"}'), 'run folder not found')]
    for args, msg in bad:
        rc, _, err = cli(*args)
        assert rc == 2 and msg in err, (args, err[-500:])
    assert not (tmp_path/'x').exists()                                              # refused before any run folder was made
