"""Bad-input battery for the radiomics cGAN components: arbitrary masks never crash deep inside pyradiomics/torch.

Every random (image, mask) pair either gives finite-keyed features or a `MammoInputError` naming the problem;
torch and pyradiomics agree on which masks are acceptable wherever both accept them. Intensities outside the
documented [0, 1] (raw 16-bit pixel values) are refused before anything is allocated; the cGAN's settings refuse
values outside their ranges with the setting's name.
"""
import math
import numpy as np
import pytest
import torch
from hypothesis import given, settings, HealthCheck, strategies as st

from mammo_nb.core import MammoInputError
from mammo_nb.data.radiomics import extract_radiomics
from mammo_nb.losses.radiomic import torch_radiomics, RadiomicLoss, TORCH_RADIOMICS_FEATURES
from mammo_nb.metrics.image import image_quality
from mammo_nb.systems.cgan.train import CGANConfig

FIRST = [n for n in TORCH_RADIOMICS_FEATURES if '_firstorder_' in n and not n.endswith(('Entropy', 'Uniformity'))]


@st.composite
def image_and_mask(draw):
    size = draw(st.integers(12, 40))
    seed = draw(st.integers(0, 2**31 - 1))
    g = np.random.default_rng(seed)
    img = g.random((size, size)).astype(np.float32) * draw(st.sampled_from([0.0, 0.01, 0.5, 1.0]))
    kind = draw(st.sampled_from(['rect', 'random', 'line', 'pixel', 'empty', 'full', 'border']))
    m = np.zeros((size, size), bool)
    if kind == 'rect':
        r0, c0 = draw(st.integers(0, size - 1)), draw(st.integers(0, size - 1))
        m[r0:r0 + draw(st.integers(1, size)), c0:c0 + draw(st.integers(1, size))] = True
    elif kind == 'random': m = g.random((size, size)) < draw(st.floats(0.0, 1.0))
    elif kind == 'line': m[draw(st.integers(0, size - 1)), :] = True
    elif kind == 'pixel': m[size // 2, size // 2] = True
    elif kind == 'full': m[:] = True
    elif kind == 'border': m[:, -3:] = True
    return img, m


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(image_and_mask())
def test_extract_radiomics_features_or_typed_error(case):
    img, m = case
    try:
        f = extract_radiomics(img, m)
    except MammoInputError as e:
        assert str(e)  # a message, not a bare traceback
        return
    assert f and all(isinstance(v, float) for v in f.values())
    assert all(math.isfinite(f[n]) for n in FIRST)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(image_and_mask())
def test_torch_radiomics_finite_or_typed_error(case):
    img, m = case
    x = torch.tensor(img, requires_grad=True)
    try:
        f = torch_radiomics(x, torch.tensor(m))
    except MammoInputError as e:
        assert 'lesion mask' in str(e)  # empty, or no neighbouring pixel pair for the GLCM
        return
    assert set(f) == set(TORCH_RADIOMICS_FEATURES)
    assert all(torch.isfinite(v) for v in f.values())
    sum(f.values()).backward()
    assert torch.isfinite(x.grad).all()


def test_first_order_parity_on_accepted_random_masks():
    g = np.random.default_rng(0)
    for _ in range(5):
        img = g.random((32, 32)).astype(np.float32)
        m = g.random((32, 32)) < 0.5
        ref, ours = extract_radiomics(img, m), torch_radiomics(torch.tensor(img), torch.tensor(m))
        for n in FIRST:
            assert abs(ours[n].item() - ref[n]) <= 1e-3 * max(abs(ref[n]), 1e-9), n


def test_radiomic_loss_and_metrics_reject_mismatched_shapes():
    a = torch.rand(2, 1, 32, 32)
    with pytest.raises(MammoInputError, match='differ in shape'):
        RadiomicLoss()(a, a[:, :, :16], torch.ones(2, 1, 32, 32))
    with pytest.raises(MammoInputError, match='does not match the images'):
        image_quality(a, a, torch.ones(2, 1, 16, 16))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(image_and_mask(), st.sampled_from([1.001, 2.0, 255.0, 4095.0, 65535.0]), st.sampled_from([1, -1]))
def test_torch_radiomics_refuses_intensities_outside_unit_range(case, factor, sign):
    img, m = case
    x = torch.tensor(img) * sign * factor + (0.0 if sign > 0 else -0.01)
    inside = x[torch.tensor(m)] if m.any() else x.flatten()[:0]
    try:
        torch_radiomics(x, torch.tensor(m))
    except MammoInputError as e:
        assert 'lesion mask' in str(e) or 'must lie in [0, 1]' in str(e)
        return
    assert len(inside) and inside.min() >= -1e-6 and inside.max() <= 1 + 1e-6   # accepted only when the ROI is in range


def test_raw_16bit_lesion_is_refused_without_allocating():
    g = np.random.default_rng(0)
    img = (0.2 + 0.5 * g.random((256, 256))).astype(np.float32)
    m = np.zeros((256, 256), bool); m[40:200, 40:200] = True                # a large lesion on raw 16-bit values
    with pytest.raises(MammoInputError, match=r'must lie in \[0, 1\]'):
        torch_radiomics(torch.tensor(img) * 65535, torch.tensor(m))
    with pytest.raises(MammoInputError, match='more than max_bins'):
        torch_radiomics(torch.tensor(img), torch.tensor(m), bin_width=0.001)
    nan = torch.tensor(img); nan[100, 100] = float('nan')
    with pytest.raises(MammoInputError, match='NaN'):
        RadiomicLoss()(nan[None, None], torch.tensor(img)[None, None], torch.tensor(m)[None, None].float())


@pytest.mark.parametrize('settings, msg', [
    (dict(preset='huge'), "unknown preset 'huge'"), (dict(variant='no_such'), "unknown variant 'no_such'"),
    (dict(size=(24, 24)), 'at least 32x32'), (dict(size=(64,)), 'size must be (H, W)'),
    (dict(lambdas={'lambda_foo': 1.0}), 'unknown loss weight(s): lambda_foo'), (dict(lambdas={'lambda_l1': -1}), 'must be numbers >= 0'),
    (dict(bs=8, n_acc=4), 'n_acc >= bs'), (dict(betas=(0.5, 1.5)), 'betas must be two numbers'), (dict(clip=0), 'clip must be > 0'),
    (dict(patience=0), 'patience must be an integer >= 1'), (dict(gan_mode='wgan'), 'gan_mode must be one of'),
    (dict(perceptual_epochs=0), 'perceptual_epochs must be an integer >= 1'), (dict(augment={'flip': 1}), 'unknown augment option(s) flip'),
    (dict(radiomics_settings={'binwidth': 5}), 'unknown radiomics setting(s): binwidth'), (dict(precision='half'), 'precision must be'),
    (dict(lr=0), 'lr must lie in (0, 10)')])
def test_cgan_settings_out_of_range(settings, msg):
    with pytest.raises(MammoInputError) as e: CGANConfig(**settings)
    assert msg in str(e.value)
