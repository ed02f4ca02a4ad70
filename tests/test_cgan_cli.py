"""The radiomics cGAN's commands end to end on a tiny phantom: `train cgan`, `evaluate cgan`, `synthesize`, bad inputs."""
import contextlib, io, json, os, subprocess, sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mammo_nb.cli import main
from mammo_nb.data.phantom import PhantomConfig
from mammo_nb.data.phantom_dicom import generate_phantom

EXE = str(Path(sys.executable).parent/'mammo-nb')


def _main(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err): rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    "A tiny phantom, one tiny training run (phantom-trained perceptual network included) and its evaluation."
    d = tmp_path_factory.mktemp('cgan')
    man = generate_phantom(d/'ph', n_patients=16, n_years=2, size=(128, 104), seed=4,
                           config=PhantomConfig(p_cancer=0.7, p_benign=0.9, p_mass=0.9), progress=False)
    common = ['--manifest', man, '--root', d/'ph', '--cache', d/'cache']
    rc, out, err = _main('train', 'cgan', *common, '--out', d/'runs'/'full', '--preset', 'tiny', '--size', 96, 80,
                         '--epochs', 1, '--perceptual-epochs', 1, '--quiet')
    assert rc == 0, err[-2000:]
    rc2, out2, err2 = _main('evaluate', 'cgan', '--run', d/'runs'/'full', *common, '--out', d/'eval', '--n-boot', 50)
    assert rc2 == 0, err2[-2000:]
    return d, man, out, out2


def test_train_writes_a_complete_run(run):
    d, _, out, _ = run
    r = d/'runs'/'full'
    for f in ('best.safetensors', 'best.json', 'config.json', 'results.csv', 'radiomics_normalizer.json', 'done.json'):
        assert (r/f).exists(), f
    hist = pd.read_csv(r/'results.csv')
    for col in ('val_L1', 'val_L1_16bit', 'val_SSIM', 'val_PSNR', 'val_lesion_SSIM', 'train_loss_G', 'train_loss_GAN', 'train_loss_view',
                'train_loss_L1', 'train_loss_percep', 'train_loss_SSIM', 'train_loss_rad', 'train_loss_D', 'train_loss_D_GAN', 'train_loss_D_view'):
        assert col in hist.columns, col
    assert hist[['train_loss_percep', 'train_loss_rad', 'train_loss_D_view']].notna().all().all()
    cfg = json.loads((r/'config.json').read_text())
    assert cfg['perceptual']['source'] == 'phantom' and (d/'runs'/'perceptual'/'best.safetensors').exists()
    assert 'val SSIM' in out and str(d) not in out


def test_evaluate_writes_table_with_baselines(run):
    d, _, _, out = run
    t = pd.read_csv(d/'eval'/'table.csv')
    assert t.method.tolist() == ['full', 'CC as MLO', 'CC flipped vertically', 'mean training MLO']
    assert ((t.SSIM_lo <= t.SSIM) & (t.SSIM <= t.SSIM_hi)).all()
    assert np.allclose(t.L1_16bit, 65535 * t.L1)
    assert (d/'eval'/'grid.png').stat().st_size > 5000
    assert '| CC as MLO |' in out


def _test_exam(d, man):
    "The CC file of the first evaluated test exam and its lesion masks' union (original pixel grid)."
    per = pd.read_csv(d/'eval'/'per_image.csv')
    first = per[per.method == 'full'].iloc[0]
    df = pd.read_csv(man, keep_default_na=False)
    r = df[(df.exam_id == first.exam_id) & (df.laterality == first.laterality) & (df['view'] == 'CC')].iloc[0]
    masks = [np.array(Image.open(d/'ph'/l['mask'])) > 0 for l in json.loads(r.lesions)]
    Image.fromarray((np.any(masks, 0) * 255).astype(np.uint8)).save(d/'mask.png')
    mlo = df[(df.exam_id == first.exam_id) & (df.laterality == first.laterality) & (df['view'] == 'MLO')].iloc[0]
    return d/'ph'/r.image_path, d/'mask.png', d/'ph'/mlo.image_path


def test_synthesize_writes_16bit_png(run):
    d, man, _, _ = run
    cc, mask, _ = _test_exam(d, man)
    rc, out, err = _main('synthesize', '--cc', cc, '--mask', mask, '--out', d/'mlo.png', '--model', d/'runs'/'full')
    assert rc == 0, err
    a = np.array(Image.open(d/'mlo.png'))
    assert a.dtype == np.uint16 and a.shape == (96, 80) and a.max() > 255   # 16 bits used, not an 8-bit image
    assert 'written to mlo.png' in out


def test_synthesize_bad_inputs_exit_2(run):
    d, man, _, _ = run
    cc, mask, mlo = _test_exam(d, man)
    model = ['--model', d/'runs'/'full']
    Image.fromarray(np.zeros((40, 30), np.uint8)).save(d/'small.png')
    Image.fromarray(np.zeros((128, 104), np.uint8)).save(d/'empty.png')
    cases = [(['--cc', d/'missing.dcm', '--mask', mask, '--out', d/'o.png'], 'file not found'),
             (['--cc', cc, '--mask', d/'small.png', '--out', d/'o.png'], "does not match the image's"),
             (['--cc', cc, '--mask', d/'empty.png', '--out', d/'o.png'], 'the lesion mask is empty'),
             (['--cc', mlo, '--mask', mask, '--out', d/'o.png'], 'this is not a CC view'),
             (['--cc', cc, '--mask', mask, '--out', d/'o.jpg'], 'must be a .png')]
    for args, msg in cases:
        rc, _, err = _main('synthesize', *args, *model)
        assert rc == 2 and msg in err, (args, err)
    rc, _, err = _main('synthesize', '--cc', cc, '--mask', mask, '--out', d/'o.png', '--model', d/'eval')
    assert rc == 2 and 'not a cGAN run folder' in err


def test_console_script_reports_bad_model_with_exit_2(run, tmp_path):
    d, man, _, _ = run
    cc, mask, _ = _test_exam(d, man)
    r = subprocess.run([EXE, 'synthesize', '--cc', str(cc), '--mask', str(mask), '--out', str(tmp_path/'o.png'),
                        '--model', str(tmp_path)], capture_output=True, text=True, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert r.returncode == 2 and 'mammo-nb: error:' in r.stderr and 'not a cGAN run folder' in r.stderr
