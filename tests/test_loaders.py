"""The loaders' batches against the models that consume them, failed images as missing views, augmentation properties."""
import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings, strategies as st

from mammo_nb.core import MammoInputError
from mammo_nb.data.loaders import (Augment, DATASET_KINDS, LongitudinalDataset, TwoViewDataset, affine_matrix, dls_from_manifest,
                                   warp_boxes, warp_image, warp_points)
from mammo_nb.data.manifest import load_manifest
from mammo_nb.data.phantom_dicom import generate_phantom

SIZE = (128, 104)


@pytest.fixture(scope='module')
def phantom(tmp_path_factory):
    d = tmp_path_factory.mktemp('loaders')
    man = generate_phantom(d/'p', n_patients=6, n_years=3, size=SIZE, seed=0, progress=False)
    return d/'p', man, d/'cache'


def dls(phantom, kind, **kw):
    root, man, cache = phantom
    return dls_from_manifest(man, kind=kind, root=root, cache=cache, size=SIZE, bs=4, **kw)


def test_cgan_keys_match_the_model(phantom):
    "The paired batch carries exactly the keys `RadiomicsCGAN` reads (`CGAN_KEYS`), and the model runs on it."
    from mammo_nb.models.cgan import CGAN_KEYS, RadiomicsCGAN
    radiomics = lambda key, image, mask: np.array([image[mask > 0].mean(), image[mask > 0].std(), mask.sum()], np.float32)
    b = dls(phantom, 'paired', radiomics=radiomics).one_batch()
    for role in ('cc', 'lesion', 'radiomics', 'target', 'target_lesion'): assert CGAN_KEYS[role] in b, role
    model = RadiomicsCGAN(radiomic_dim=3, base_channels=8, depth=3, d_base_channels=8).eval()
    with torch.no_grad(): out = model(b)
    assert out[CGAN_KEYS['output']].shape == b[CGAN_KEYS['target']].shape


def test_lmvnet_consumes_the_longitudinal_batch(phantom):
    "LMV-Net's forward and risk heads run on a longitudinal batch, including items without a prior."
    from mammo_nb.models.lmvnet import LMVNet
    d = dls(phantom, 'longitudinal', max_followup=3)
    b = next(iter(d.valid))
    assert (b['previous_mask_cc'] == 0).any() and (b['previous_mask_cc'] == 1).any()
    model = LMVNet(num_years=3, dim=32, heads=4, attention_depth=1, dropout=0.0).eval()
    with torch.no_grad(): out = model(b)
    heads = model.get_risk_heads(out, b)
    logits, target, mask = heads['multi']
    assert logits.shape == target.shape == mask.shape == (b['target'].shape[0], 3)
    assert torch.equal(target, b['target'])


def test_failed_image_becomes_a_missing_view(phantom, capsys):
    "With on_error='skip', an unreadable image is data: its view is zeros with mask 0 (not a crash, not a dropped breast)."
    root, man, cache = phantom
    df = load_manifest(man, root=root)
    i = int(np.flatnonzero(((df.view == 'MLO') & (df.split == 'train')).to_numpy())[0])
    (root/'images'/'unreadable.dcm').write_bytes(b'\x00' * 300)
    df.loc[i, 'image_path'] = 'images/unreadable.dcm'
    with pytest.raises(MammoInputError, match='unreadable.dcm'):
        dls_from_manifest(df, kind='two_view', cache=cache, size=SIZE)
    capsys.readouterr()
    d = dls_from_manifest(df, kind='two_view', cache=cache, size=SIZE, on_error='skip', augment=False)
    err = capsys.readouterr().err                       # reported once, as plain lines (no warning wrapper) ...
    assert err.startswith('1 of ') and 'images/unreadable.dcm: not a DICOM file' in err and 'Warning' not in err, err
    assert d.cache_report.attrs['failures'] == [e for e in d.cache_report.error if isinstance(e, str)]   # ... and kept
    assert len(d.warnings) == 1 and 'unreadable.dcm' in d.warnings[0]          # for the run to record
    ds = d.train.dataset
    j = int(np.flatnonzero(((ds.table.exam_id == df.exam_id[i]) & (ds.table.laterality == df.laterality[i])).to_numpy())[0])
    x = ds[j]
    assert x['current_mask_mlo'].item() == 0 and x['current_image_mlo'].abs().sum() == 0 and x['current_mask_cc'].item() == 1


def test_prior_with_unknown_date_is_recorded_or_refused(phantom):
    "Issue 12: an exam without a date among dated exams of its breast never silently becomes a first exam with gap 0."
    root, man, cache = phantom
    df = load_manifest(man, root=root)
    later = df[df.split == 'train'].sort_values('exam_date').exam_id.iloc[-1]
    df.loc[df.exam_id == later, 'exam_date'] = pd.NaT
    with pytest.warns(UserWarning, match='no exam_date'):
        d = dls_from_manifest(df, kind='longitudinal', cache=cache, size=SIZE, augment=False)
    assert len(d.warnings) == 1 and 'prior exam is unknown' in d.warnings[0]      # for the run to record
    t = d.train.dataset.table
    und = t[t.exam_id == later]
    assert len(und) == 2 and (und.prior_status == 'undated').all() and (und.time_gap == 0).all()
    assert (und.present_previous_cc == 0).all() and (und.present_previous_mlo == 0).all()   # the masks say: no prior
    paired = t[t.prior_status == 'paired']
    assert len(paired) and (paired.time_gap > 0.5).all()                          # real gaps where there is a prior
    with pytest.raises(MammoInputError, match="column 'exam_date'.*no exam_date"):
        dls_from_manifest(df, kind='longitudinal', cache=cache, size=SIZE, undated='raise')


def test_num_workers_and_epochs(phantom):
    "Loader worker processes give the batches of the main process, and each epoch draws new augmentations."
    a, b = dls(phantom, 'triview', seed=4), dls(phantom, 'triview', seed=4, num_workers=2)
    for _ in range(2):
        x, y = next(iter(a.train)), next(iter(b.train))
        assert x['image_path'] == y['image_path'] and torch.equal(x['main_image'], y['main_image'])
    ds = a.train.dataset
    ds.epoch = 1; first = ds[0]['main_image']
    ds.epoch = 2; assert not torch.equal(first, ds[0]['main_image'])
    ds.epoch = 1; assert torch.equal(first, ds[0]['main_image'])


def test_every_kind_has_its_documented_keys(phantom):
    expected = {
        'image': {'image', 'breast_mask', 'lesion_mask', 'nipple', 'boxes', 'box_mask', 'gaze', 'gaze_mask', 'label', 'label_mask',
                  'birads_score', 'birads_mask', 'patient_id', 'exam_id', 'image_path', 'laterality', 'view', 'density'},
        'two_view': {f'current_{k}_{v}' for k in ('image', 'mask', 'breast_mask', 'lesion_mask', 'nipple', 'gaze', 'gaze_mask')
                     for v in ('cc', 'mlo')} | {'label', 'label_mask', 'patient_id', 'exam_id', 'laterality', 'density'},
        'longitudinal': {f'{t}_{k}_{v}' for t in ('current', 'previous') for k in ('image', 'mask', 'breast_mask') for v in ('cc', 'mlo')}
                        | {'time_gap', 'target', 'y_mask', 'patient_id', 'exam_id', 'prior_exam_id', 'laterality', 'density'},
        'triview': {f'{p}_{k}' for p in ('main', 'ipsi', 'contra') for k in ('image', 'mask', 'breast_mask', 'lesion_mask', 'nipple',
                    'boxes', 'box_mask')} | {'label', 'label_mask', 'birads_score', 'birads_mask', 'patient_id', 'exam_id',
                    'image_path', 'laterality', 'view', 'density'},
        'paired': {f'current_{k}_{v}' for k in ('image', 'lesion_mask', 'breast_mask', 'mask') for v in ('cc', 'mlo')}
                  | {'label', 'patient_id', 'exam_id', 'laterality', 'density'},
        'patch': {'patch', 'patch_mask', 'birads_score', 'birads_mask', 'malignant', 'malignant_mask', 'category', 'lesion_id',
                  'patient_id', 'exam_id', 'image_path', 'laterality', 'view', 'density'},
    }
    assert set(expected) == set(DATASET_KINDS)
    for kind, keys in expected.items():
        b = dls(phantom, kind).one_batch()
        assert set(b) == keys, (kind, set(b) ^ keys)
        for k, v in b.items():
            assert isinstance(v, list) or v.dtype == torch.float32, (kind, k, v.dtype)


@settings(max_examples=40, deadline=None)
@given(angle=st.floats(-30, 30), scale=st.floats(0.7, 1.3), dx=st.floats(-10, 10), dy=st.floats(-10, 10), flip=st.booleans(),
       x0=st.integers(5, 40), y0=st.integers(5, 60), w=st.integers(4, 20), h=st.integers(4, 20))
def test_any_transform_keeps_mask_box_and_point_together(angle, scale, dx, dy, flip, x0, y0, w, h):
    H, W = 96, 80
    M = affine_matrix((H, W), angle, scale, (dx, dy), flip)
    assert M[0, 0] > 0 or abs(angle) > 89                         # x keeps its direction: no left-right mirror
    m = torch.zeros(1, H, W); m[0, y0:y0 + h, x0:x0 + w] = 1
    m2 = warp_image(m, M, mode='nearest')[0].numpy()
    ys, xs = np.nonzero(m2)
    if len(xs) == 0: return                                       # moved out of the frame entirely
    b = warp_boxes([[x0, y0, x0 + w, y0 + h]], M, (H, W))[0]
    assert b[0] <= xs.min() + 0.5 + 1e-6 and b[2] >= xs.max() + 0.5 - 1e-6
    assert b[1] <= ys.min() + 0.5 + 1e-6 and b[3] >= ys.max() + 0.5 - 1e-6
    cx, cy = warp_points([x0 + (w - 1) / 2, y0 + (h - 1) / 2], M)  # the square's centre lands on the warped mask's centre
    if xs.min() > 0 and ys.min() > 0 and xs.max() < W - 1 and ys.max() < H - 1:
        assert abs(xs.mean() - cx) < 1.0 and abs(ys.mean() - cy) < 1.0


def test_a_dict_learner_trains_on_the_loaders(phantom, tmp_path):
    "One epoch of the training core (band 60) on balanced, augmented longitudinal batches; predictions keep the ids."
    from mammo_nb.models.lmvnet import LMVNet
    from mammo_nb.train.learner import dict_learner, predict_dicts
    d = dls(phantom, 'longitudinal', max_followup=3, balanced=True)
    model = LMVNet(num_years=3, dim=32, heads=4, attention_depth=1)
    learn = dict_learner(d, model, path=tmp_path, csv=None)
    learn.fit(1, 1e-3)
    train_loss, valid_loss = learn.recorder.values[-1][:2]
    assert np.isfinite(train_loss) and np.isfinite(valid_loss)
    out, batches = predict_dicts(model, d.valid)
    assert out['risk_multi'].shape == (len(d.valid.dataset), 3) and len(batches['exam_id']) == len(d.valid.dataset)


def test_no_items_in_a_split_says_what_to_change():
    "Issue 29: 'no paired items in split val' said nothing of what to change; now the split's numbers and a way out."
    from mammo_nb.data.loaders import _no_items
    from mammo_nb.data.datasets import PairedViewDataset
    df = pd.DataFrame({'patient_id': ['a', 'a', 'b', 'c', 'c'], 'split': ['train', 'train', 'train', 'val', 'val']})
    msg = _no_items(PairedViewDataset, df, 'val', n_train=4, train_patients=2)
    assert "no paired items in split 'val': it holds 2 image(s) of 1 patient(s)" in msg
    assert 'needs a breast exam with both a CC and an MLO image' in msg and "so 'val' needs about 1 patient(s)" in msg
    assert 'mammo-nb manifest split' in msg and 'mammo-nb phantom --patients N' in msg
