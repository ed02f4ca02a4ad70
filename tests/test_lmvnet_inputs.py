"""Bad-input battery and offline behaviour of the LMV-Net stack (backbones, registration, risk models, risk metrics).

Whatever a user feeds in, the components either work or raise `MammoInputError` naming the problem — never a bare
traceback from deep inside torch; pretrained weights never silently download in offline mode.
"""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, HealthCheck, strategies as st
from lifelines.utils import concordance_index

from mammo_nb.core import MammoInputError, MODELS
from mammo_nb.metrics.risk import c_index, horizon_auc, Recalibrator
from mammo_nb.models.backbones import create_encoder
from mammo_nb.models.lmvnet import LMVNet
from mammo_nb.registration.mammoregnet import MammoRegNet
from mammo_nb.registration.spatial import warp, resize_flow, jacobian_determinant, warp_points

VIEWS = ('cc', 'mlo')


def _tiny():
    return LMVNet(encoder='tiny_cnn', dim=32, heads=4, attention_depth=1, dropout=0.0,
                  registration_kwargs=dict(work_size=None, affine_size=(32, 26), enc_channels=(8, 8, 8),
                                           dec_channels=(8, 8), affine_channels=(8, 8, 8)), registration='untrained').eval()


MODEL = None


def _model():
    global MODEL
    if MODEL is None: torch.manual_seed(0); MODEL = _tiny()
    return MODEL


def test_registered_models():
    for name in ('encoder', 'mammoregnet', 'lmvnet'): assert name in MODELS
    assert isinstance(MODELS['lmvnet'](num_years=3, encoder='tiny_cnn', dim=32, heads=4, registration='untrained'), LMVNet)


def test_offline_pretrained_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv('MAMMO_OFFLINE', '1')
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))
    try:
        with pytest.raises(MammoInputError, match='weights_path'):
            create_encoder('resnet18', pretrained=True)
        with pytest.raises(MammoInputError, match='weights_path'):
            LMVNet(pretrained=True)
        LMVNet(num_years=5, pretrained=False, registration='untrained')   # builds offline
    finally:
        torch.hub.set_dir(old)


@st.composite
def batches(draw):
    B = draw(st.integers(1, 3))
    H, W = draw(st.integers(17, 70)), draw(st.integers(17, 70))
    b = {}
    for t in ('current', 'previous'):
        for v in VIEWS:
            if t == 'current' or draw(st.booleans()):
                shape = (B, draw(st.sampled_from([1, 1, 1, 3])), H, W)
                b[f'{t}_image_{v}'] = torch.rand(*shape)
            if draw(st.booleans()): b[f'{t}_mask_{v}'] = torch.randint(0, 2, (B,)).float()
    if draw(st.booleans()): b['time_gap'] = torch.rand(B, 1) * 4
    if draw(st.booleans()):
        del b[f'current_image_{draw(st.sampled_from(VIEWS))}']
    return b


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_lmvnet_bad_batches(batch):
    model = _model()
    try:
        with torch.no_grad(): out = model(batch)
    except MammoInputError:
        return
    B = batch['current_image_cc'].shape[0]
    for k in ('risk_multi', 'risk_cc', 'risk_mlo'):
        assert out[k].shape == (B, 5) and torch.isfinite(out[k]).all()
        assert (out[k][:, 1:] >= out[k][:, :-1]).all()


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 3), st.sampled_from([(1,), (3,), (2, 1)]), st.integers(8, 40), st.integers(8, 40))
def test_registration_bad_pairs(B, chans, H, W):
    net = MammoRegNet(work_size=None, affine_size=(16, 16), enc_channels=(4, 4, 4), dec_channels=(4, 4), affine_channels=(4, 4))
    f = torch.rand(B, chans[0], H, W)
    m = torch.rand(B, chans[-1], H, W)
    try:
        with torch.no_grad(): out = net({'fixed': f, 'moving': m})
    except MammoInputError:
        assert chans != (1,)
        return
    assert out['flow'].shape == (B, 2, H, W) and torch.isfinite(out['warped']).all()


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 60))
def test_c_index_matches_lifelines(seed, n):
    rng = np.random.default_rng(seed)
    t = rng.integers(1, 6, n).astype(float)
    e = rng.random(n) < 0.5
    s = np.round(rng.random(n), 1)
    if not e.any():
        with pytest.raises(MammoInputError): c_index(s, t, e)
        return
    try: ours = c_index(s, t, e)
    except MammoInputError: return                       # no comparable pair
    assert abs(ours - concordance_index(t, -s, e)) < 1e-12


def test_metric_input_errors():
    with pytest.raises(MammoInputError, match='apply sigmoid'):
        horizon_auc(np.full((4, 2), 2.0), np.zeros((4, 2)), np.ones((4, 2)))
    with pytest.raises(MammoInputError, match='horizons'):
        Recalibrator([1, 1], [0, 0]).transform(np.full((3, 5), 0.1))
    with pytest.raises(MammoInputError, match='NaN'):
        c_index([0.1, np.nan], [1, 2], [1, 0])


def test_spatial_input_errors():
    with pytest.raises(MammoInputError, match='resize the flow'):
        warp(torch.rand(1, 1, 8, 8), torch.zeros(1, 2, 4, 4))
    with pytest.raises(MammoInputError, match=r'\[B,2,H,W\]'):
        resize_flow(torch.zeros(1, 3, 4, 4), (2, 2))
    with pytest.raises(MammoInputError, match='at least 2x2'):
        jacobian_determinant(torch.zeros(1, 2, 1, 5))
    with pytest.raises(MammoInputError, match=r'\(x, y\)'):
        warp_points(torch.zeros(2, 3), torch.zeros(1, 2, 4, 4))
