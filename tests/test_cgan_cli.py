"""The radiomics cGAN's commands end to end on a tiny phantom: `train cgan` (--set, --resume, --help), `evaluate cgan --run`,
`predict cgan --run CC --mask MASK`, the run key against stale reuse, exact resume of a killed run, and bad inputs."""
import contextlib, io, json, os, subprocess, sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from fastai.callback.core import Callback

from mammo_nb.cli import main
from mammo_nb.core import SYSTEMS
from mammo_nb.data.dicom import read_mammogram
from mammo_nb.data.phantom import PhantomConfig
from mammo_nb.data.phantom_dicom import generate_phantom
from mammo_nb.train.system import Run

EXE = str(Path(sys.executable).parent/'mammo-nb')
TINY = ['preset=tiny', 'size=96,80', 'epochs=1', 'patience=1', 'perceptual_epochs=1']


def _main(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try: rc = main([str(a) for a in argv])
        except SystemExit as e: rc = e.code
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    "A tiny phantom, one tiny training run (its perceptual classifier included) and its evaluation, all through `mammo-nb`."
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp('cgan')
    man = generate_phantom(d/'ph', n_patients=16, n_years=2, size=(128, 104), seed=4,
                           config=PhantomConfig(p_cancer=0.7, p_benign=0.9, p_mass=0.9), progress=False)
    common = ['--manifest', man, '--root', d/'ph', '--cache', d/'cache']
    rc, out, err = _main('train', 'cgan', *common, '--out', d/'run', '--device', 'cpu', '--quiet', '--set', *TINY)
    assert rc == 0, err[-3000:]
    rc2, out2, err2 = _main('evaluate', 'cgan', '--run', d/'run', '--n-boot', 50, '--device', 'cpu')
    assert rc2 == 0, err2[-3000:]
    return d, man, out, out2


def test_train_writes_a_complete_run(run):
    d, _, out, _ = run
    r = d/'run'
    for f in ('run.json', 'config.json', 'best.safetensors', 'best.json', 'history.csv', 'radiomics_normalizer.json',
              'radiomic_scales.json', 'resume/last.json', 'perceptual/perceptual.json', 'perceptual/best.safetensors'):
        assert (r/f).exists(), f
    hist = pd.read_csv(r/'history.csv')
    for col in ('val_L1', 'val_L1_16bit', 'val_SSIM', 'val_PSNR', 'val_lesion_SSIM', 'train_loss_G', 'train_loss_GAN', 'train_loss_view',
                'train_loss_L1', 'train_loss_percep', 'train_loss_SSIM', 'train_loss_rad', 'train_loss_D', 'train_loss_D_GAN', 'train_loss_D_view'):
        assert col in hist.columns, col
    assert hist[['train_loss_percep', 'train_loss_rad', 'train_loss_D_view']].notna().all().all()
    info = Run.open(r, 'cgan').info
    assert info['status'] == 'complete' and info['config']['preset'] == 'tiny' and info['config']['size'] == [96, 80]
    assert info['perceptual']['source'] == 'classifier' and info['perceptual']['checkpoint'] == 'perceptual/best'
    assert json.loads((r/'perceptual'/'perceptual.json').read_text())['key'] == info['key']
    assert any(w.startswith('L_rad is 0 for') for w in info['warnings'])           # recorded, with the count of pairs
    assert 'cgan run' in out and 'val_SSIM' in out and 'warning: L_rad is 0 for' in out


def test_train_help_lists_every_setting():
    from mammo_nb.systems.cgan.train import CGANConfig
    rc, out, _ = _main('train', 'cgan', '--help')
    assert rc == 0
    for f in CGANConfig.describe().itertuples():
        assert f.setting in out and f.help[:20] in out, f.setting
    for flag in ('--manifest', '--root', '--cache', '--out', '--device', '--resume', '--set'): assert flag in out


def test_resume_returns_the_run_and_refuses_other_settings_or_data(run):
    d, man, _, _ = run
    common = ['--manifest', man, '--root', d/'ph', '--cache', d/'cache', '--out', d/'run', '--device', 'cpu', '--quiet']
    rc, _, err = _main('train', 'cgan', *common, '--set', *TINY)
    assert rc == 2 and 'pass --resume' in err
    rc, out, err = _main('train', 'cgan', *common, '--resume', '--set', *TINY)
    assert rc == 0 and 'complete' in out, err
    rc, _, err = _main('train', 'cgan', *common, '--resume', '--set', *TINY, 'lr=0.001')
    assert rc == 2 and 'differs in: setting lr: 0.0002 -> 0.001' in err
    df = pd.read_csv(man, keep_default_na=False)
    df[df.split != 'test'].to_csv(d/'fewer.csv', index=False)                     # another manifest, the same settings
    rc, _, err = _main('train', 'cgan', *[d/'fewer.csv' if a == man else a for a in common], '--resume', '--set', *TINY)
    assert rc == 2 and 'differs in' in err and 'manifest rows' in err


def test_bad_settings_exit_2(run):
    d, man, _, _ = run
    common = ['--manifest', man, '--root', d/'ph', '--cache', d/'cache', '--out', d/'bad', '--device', 'cpu', '--quiet']
    for sets, msg in [(['preset=huge'], "unknown preset 'huge'"), (['colour=red'], "unknown setting 'colour'"),
                      (['size=24,24'], 'at least 32x32'), (['lambdas={"lambda_foo": 1}'], 'unknown loss weight(s): lambda_foo'),
                      (['bs=4', 'n_acc=2'], 'n_acc >= bs'), (['epochs=many'], 'expected an integer'),
                      (['perceptual=vgg16'], 'ImageNet VGG16 weights not found'), (['perceptual=nowhere/best'], 'checkpoint not found')]:
        if 'vgg16' in sets[0] and (Path(torch.hub.get_dir())/'checkpoints'/'vgg16-397923af.pth').exists(): continue
        rc, _, err = _main('train', 'cgan', *common, '--set', *TINY, *sets)
        assert rc == 2 and msg in err, (sets, err[-500:])
    assert not (d/'bad'/'run.json').exists()


def test_evaluate_writes_table_with_baselines(run):
    d, _, _, out = run
    ev = d/'run'/'evaluation'/'test'
    t = pd.read_csv(ev/'table.csv')
    assert t.method.tolist() == ['cGAN', 'CC as MLO', 'CC flipped vertically', 'mean training MLO']
    assert ((t.SSIM_lo <= t.SSIM) & (t.SSIM <= t.SSIM_hi)).all()
    assert np.allclose(t.L1_16bit, 65535 * t.L1)
    assert (ev/'grid.png').stat().st_size > 5000 and '| CC as MLO |' in (ev/'table.md').read_text()
    m = json.loads((ev/'metrics.json').read_text(), parse_constant=lambda c: pytest.fail(f'non-strict JSON {c}'))
    assert m['system'] == 'cgan' and m['trained_on_phantom'] and set(m['baselines']) == {'CC as MLO', 'CC flipped vertically', 'mean training MLO'}
    assert 'SSIM:' in out and 'trained on the phantom' in out


def _test_exam(d, man):
    "The CC file of the first evaluated test exam, its lesion masks' union (original pixel grid) and its MLO file."
    per = pd.read_csv(d/'run'/'evaluation'/'test'/'per_image.csv')
    first = per[per.method == 'cGAN'].iloc[0]
    df = pd.read_csv(man, keep_default_na=False)
    r = df[(df.exam_id == first.exam_id) & (df.laterality == first.laterality) & (df['view'] == 'CC')].iloc[0]
    masks = [np.array(Image.open(d/'ph'/l['mask'])) > 0 for l in json.loads(r.lesions)]
    Image.fromarray((np.any(masks, 0) * 255).astype(np.uint8)).save(d/'mask.png')
    mlo = df[(df.exam_id == first.exam_id) & (df.laterality == first.laterality) & (df['view'] == 'MLO')].iloc[0]
    return d/'ph'/r.image_path, d/'mask.png', d/'ph'/mlo.image_path


def test_predict_writes_16bit_png_and_strict_json(run):
    d, man, _, _ = run
    cc, mask, _ = _test_exam(d, man)
    rc, out, err = _main('predict', 'cgan', '--run', d/'run', cc, '--mask', mask, '--out', d/'pred', '--device', 'cpu')
    assert rc == 0, err
    p = json.loads((d/'pred'/'predictions.json').read_text(), parse_constant=lambda c: pytest.fail(f'non-strict JSON {c}'))
    rec = p['predictions'][0]
    assert p['system'] == 'cgan' and rec['input'] == cc.name and rec['input_is_phantom'] and 'warning' not in rec
    a = np.array(Image.open(d/'pred'/rec['synthetic_mlo']))
    assert a.dtype == np.uint16 and a.shape == (96, 80) and a.max() > 255   # 16 bits used, not an 8-bit image
    assert (d/'pred'/rec['figure']).exists() and 'prediction(s) written to' in out and 'warning' not in out


def test_predict_on_a_non_phantom_image_warns(run):
    d, man, _, _ = run
    cc, mask, _ = _test_exam(d, man)
    mg = read_mammogram(cc)                                        # the same CC as a headerless PNG, in canonical orientation
    Image.fromarray(np.round(mg.image[0].numpy() * 65535).astype(np.uint16)).save(d/'cc.png')
    m = np.array(Image.open(mask)); m = m[:, ::-1] if mg.laterality == 'R' else m
    Image.fromarray(np.ascontiguousarray(m)).save(d/'mask_canon.png')
    rc, out, err = _main('predict', 'cgan', '--run', d/'run', d/'cc.png', '--mask', d/'mask_canon.png', '--laterality', 'L',
                         '--out', d/'pred_png', '--device', 'cpu', '--no-figures')
    assert rc == 0, err
    rec = json.loads((d/'pred_png'/'predictions.json').read_text())['predictions'][0]
    assert not rec['input_is_phantom'] and 'never seen a real mammogram' in rec['warning'] and 'warning: this model' in out


def test_predict_bad_inputs_exit_2(run):
    d, man, _, _ = run
    cc, mask, mlo = _test_exam(d, man)
    Image.fromarray(np.zeros((40, 30), np.uint8)).save(d/'small.png')
    Image.fromarray(np.zeros((128, 104), np.uint8)).save(d/'empty.png')
    cases = [([d/'missing.dcm', '--mask', mask], 'file not found'),
             ([cc, '--mask', d/'small.png'], "does not match the image's"),
             ([cc, '--mask', d/'empty.png'], 'the lesion mask is empty'),
             ([mlo, '--mask', mask], 'this is not a CC view'),
             ([cc, cc, '--mask', mask], 'one lesion mask (--mask) per CC input: 2 input(s), 1 mask(s)'),
             ([cc], '1 input(s), 0 mask(s)')]
    for args, msg in cases:
        rc, _, err = _main('predict', 'cgan', '--run', d/'run', *args, '--out', d/'bad_pred', '--device', 'cpu')
        assert rc == 2 and msg in err, (args, err)
    rc, _, err = _main('predict', 'cgan', '--run', d/'ph', cc, '--mask', mask)
    assert rc == 2 and 'not a run folder' in err
    rc, _, err = _main('evaluate', 'cgan', '--run', d/'nowhere')
    assert rc == 2 and 'run folder not found' in err


def test_console_script_reports_bad_run_with_exit_2(run, tmp_path):
    d, man, _, _ = run
    cc, mask, _ = _test_exam(d, man)
    r = subprocess.run([EXE, 'predict', 'cgan', '--run', str(tmp_path), str(cc), '--mask', str(mask)],
                       capture_output=True, text=True, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert r.returncode == 2 and 'mammo-nb: error:' in r.stderr and 'not a run folder' in r.stderr


def test_old_command_shapes_are_gone():
    for argv, msg in ((['synthesize', '--cc', 'a.dcm', '--mask', 'm.png', '--out', 'o.png'], 'invalid choice'),
                      (['train', 'cgan', '--manifest', 'm.csv', '--variant', 'full', '--preset', 'tiny'], 'unrecognized arguments'),
                      (['evaluate', 'cgan', '--run', 'a', '--no-baselines', '--seed', '0'], 'unrecognized arguments')):
        rc, out, err = _main(*argv)
        assert rc == 2 and msg in err, (argv, err)


def test_killed_run_resumes_exactly(run, tmp_path):
    "Kill a 2-epoch run after its first epoch, resume it: the weights of both networks equal an uninterrupted run's."
    from mammo_nb.systems.cgan.system import CGANSystem
    from mammo_nb.systems.cgan.train import fit_cgan
    d, man, _, _ = run
    class _Kill(Callback):
        order = 99
        def after_epoch(self):
            if self.epoch == 0: raise RuntimeError('killed')
    class _Killed(CGANSystem):
        def fit(self, learn, config, run): fit_cgan(learn, config, run.path/'resume', key=run.key, cbs=[_Kill()])
    kw = dict(root=d/'ph', cache=d/'cache', device='cpu', progress=False, preset='tiny', size=(64, 52), epochs=2, patience=2,
              perceptual_epochs=1)
    full = SYSTEMS['cgan'].train(man, tmp_path/'full', **kw)
    with pytest.raises(RuntimeError, match='killed'): _Killed().train(man, tmp_path/'killed', **kw)
    assert Run.open(tmp_path/'killed').info['status'] == 'training'
    resumed = SYSTEMS['cgan'].train(man, tmp_path/'killed', resume=True, **kw)
    assert resumed.key == full.key and resumed.info['perceptual']['trained_now'] is False
    for (k, a), (_, b) in zip(full.load_model('cpu').state_dict().items(), resumed.load_model('cpu').state_dict().items()):
        assert torch.equal(a, b), k
    h1, h2 = pd.read_csv(full.path/'history.csv'), pd.read_csv(resumed.path/'history.csv')
    pd.testing.assert_frame_equal(h1.drop(columns='time'), h2.drop(columns='time'))
