"""Golden tests of `read_mammogram`: one per branch of the intensity policy and one per transfer syntax.

Every DICOM is written on the fly with pydicom (compressed frames that pydicom cannot encode are made with
`imagecodecs`, a test dependency). Expected intensities come from a separate, literal implementation of the
DICOM formulas (PS3.3 C.11.2.1.2) below — piecewise, as the standard states them — not from the library. Each compressed
frame is also decoded by every decoder installed (pydicom's plugins, imagecodecs' codecs), and they must agree.
"""
import math, zlib, itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from pydicom import uid, dcmread
from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames
from pydicom.pixels import get_decoder, pixel_array

from mammo_nb.core import MammoInputError
from mammo_nb.data.dicom import read_mammogram, dicom_decoder, _make_dicom, _synthetic_breast, _load_dicom
import mammo_nb.data.dicom as dicom_module

IMG, _ = _synthetic_breast(128, 96, view='CC', seed=5)       # canonical left breast, values in [0, 1]
S12 = np.round(IMG * 4095).astype(np.uint16)
HDR = dict(ImageLaterality='L', ViewPosition='CC')


@pytest.fixture
def d(tmp_path):
    p = tmp_path/'g'/'h'/'i'; p.mkdir(parents=True); return p


def linear(x, c, w):
    "PS3.3 C.11.2.1.2.1, piecewise, ymin=0, ymax=1."
    out = np.empty_like(x, dtype=np.float64)
    lo, hi = x <= c - 0.5 - (w - 1) / 2, x > c - 0.5 + (w - 1) / 2
    out[lo], out[hi] = 0.0, 1.0
    mid = ~(lo | hi)
    out[mid] = ((x[mid] - (c - 0.5)) / (w - 1) + 0.5)
    return out

def linear_exact(x, c, w):
    out = np.empty_like(x, dtype=np.float64)
    lo, hi = x <= c - w / 2, x > c + w / 2
    out[lo], out[hi] = 0.0, 1.0
    mid = ~(lo | hi)
    out[mid] = (x[mid] - c) / w + 0.5
    return out

def sigmoid(x, c, w): return 1.0 / (1.0 + np.exp(-4.0 * (x - c) / w))

def read(path, **kw):
    m = read_mammogram(path, **kw)
    assert m.image.dtype == torch.float32 and m.image.ndim == 3 and m.image.shape[0] == 1
    assert float(m.image.min()) >= 0 and float(m.image.max()) <= 1
    assert not m.geometry.flipped_x            # the left breast is already canonical
    return m, m.image[0].double().numpy()


# --- intensity policy branches -------------------------------------------------------------------------

def test_window_linear(d):
    _make_dicom(S12, d/'a.dcm', WindowCenter=1500, WindowWidth=1200, **HDR)
    m, y = read(d/'a.dcm')
    np.testing.assert_allclose(y, linear(S12.astype(float), 1500, 1200), atol=1e-6)
    assert m.meta['intensity']['policy'] == 'window' and m.meta['intensity']['voi_function'] == 'LINEAR'
    # hand-computed: c=1500, w=1200 -> 0 at x <= 900, 1 at x > 2099, (x - 1499.5)/1199 + 0.5 between
    x = np.array([899.0, 900.0, 901.0, 1500.0, 2098.0, 2099.0, 2100.0])
    np.testing.assert_allclose(linear(x, 1500, 1200), [0, 0, 1 / 1199, 0.5 + 0.5 / 1199, 1 - 1 / 1199, 1, 1], atol=1e-9)


def test_window_linear_exact_and_first_of_several(d):
    _make_dicom(S12, d/'a.dcm', WindowCenter=[1000, 3000], WindowWidth=[800, 100], VOILUTFunction='LINEAR_EXACT', **HDR)
    m, y = read(d/'a.dcm')
    np.testing.assert_allclose(y, linear_exact(S12.astype(float), 1000, 800), atol=1e-6)
    assert 'window 1 of 2' in m.meta['intensity']['voi']


def test_window_sigmoid(d):
    _make_dicom(S12, d/'a.dcm', WindowCenter=1800, WindowWidth=900, VOILUTFunction='SIGMOID', **HDR)
    m, y = read(d/'a.dcm')
    np.testing.assert_allclose(y, sigmoid(S12.astype(float), 1800, 900), atol=1e-6)
    assert math.isclose(float(sigmoid(np.array([1800.0]), 1800, 900)[0]), 0.5)
    assert m.meta['intensity']['voi_function'] == 'SIGMOID'


def test_voi_lut_sequence_beats_window(d):
    lut = (np.linspace(0, 1, 2048) ** 0.5 * 65535).round().astype(np.uint16)   # 2048 entries from stored value 1024
    item = Dataset(); item.LUTDescriptor = [2048, 1024, 16]; item.add_new(0x00283006, 'US', lut.tolist())
    _make_dicom(S12, d/'a.dcm', VOILUTSequence=[item], WindowCenter=100, WindowWidth=10, **HDR)
    m, y = read(d/'a.dcm')
    idx = np.clip(S12.astype(int) - 1024, 0, 2047)
    np.testing.assert_allclose(y, lut[idx] / 65535, atol=1e-6)
    assert m.meta['intensity']['policy'] == 'voi_lut'


def test_minmax_over_stored_bits_12(d):
    _make_dicom(S12, d/'a.dcm', **HDR)
    m, y = read(d/'a.dcm')
    np.testing.assert_allclose(y, S12 / 4095, atol=1e-6)                        # divided by 4095, not 65535
    assert m.meta['intensity']['policy'] == 'minmax' and m.meta['intensity']['stored_range'] == [0, 4095]


def test_14_bit_stored_with_garbage_in_unused_high_bits(d):
    s14 = np.round(IMG * 16383).astype(np.uint16)
    _make_dicom(s14 | 0xC000, d/'a.dcm', bits_stored=14, **HDR)                 # bits 14-15 must be ignored
    m, y = read(d/'a.dcm')
    np.testing.assert_allclose(y, s14 / 16383, atol=1e-6)
    assert m.meta['bits_stored'] == 14


def test_16_bit_stored(d):
    s16 = np.round(IMG * 65535).astype(np.uint16)
    _make_dicom(s16, d/'a.dcm', bits_stored=16, **HDR)
    np.testing.assert_allclose(read(d/'a.dcm')[1], s16 / 65535, atol=1e-6)


def test_monochrome1_is_inverted_after_the_window(d):
    inv = (4095 - S12).astype(np.uint16)
    _make_dicom(inv, d/'a.dcm', photometric='MONOCHROME1', WindowCenter=2048, WindowWidth=4096, **HDR)
    m, y = read(d/'a.dcm')
    np.testing.assert_allclose(y, 1 - linear(inv.astype(float), 2048, 4096), atol=1e-6)
    assert m.meta['intensity']['inverted'] is True


def test_modality_rescale_then_minmax(d):
    _make_dicom(S12, d/'a.dcm', RescaleSlope=0.5, RescaleIntercept=10, **HDR)
    m, y = read(d/'a.dcm')
    np.testing.assert_allclose(y, (S12 * 0.5 + 10 - 10) / (4095 * 0.5), atol=1e-6)
    assert m.meta['intensity']['modality'] == 'rescale slope=0.5 intercept=10'


def test_modality_lut_sequence_feeds_the_window(d):
    table = (np.arange(4096) // 2).astype(np.uint16)                              # m = v // 2
    item = Dataset(); item.LUTDescriptor = [4096, 0, 16]; item.add_new(0x00283006, 'US', table.tolist())
    _make_dicom(S12, d/'a.dcm', ModalityLUTSequence=[item], WindowCenter=1000, WindowWidth=1000, **HDR)
    m, y = read(d/'a.dcm')
    np.testing.assert_allclose(y, linear((S12 // 2).astype(float), 1000, 1000), atol=1e-6)
    assert m.meta['intensity']['modality'] == 'ModalityLUTSequence'


def test_signed_pixels(d):
    s = (S12.astype(np.int16) - 2048)
    _make_dicom(s, d/'a.dcm', bits_stored=12, **HDR)
    m, y = read(d/'a.dcm')
    np.testing.assert_allclose(y, (s + 2048) / 4095, atol=1e-6)
    assert m.meta['intensity']['stored_range'] == [-2048, 2047]


# --- transfer syntaxes ---------------------------------------------------------------------------------

try: import imagecodecs as ic       # test dependency: encoders for the JPEG family that pydicom cannot write
except ImportError: ic = None
S8 = np.round(IMG * 255).astype(np.uint8)

SYNTAXES = {  # name: (transfer syntax, stored array, bits, encoder or None for pydicom, lossless)
    'explicit VR LE': (uid.ExplicitVRLittleEndian, S12, 12, None, True),
    'implicit VR LE': (uid.ImplicitVRLittleEndian, S12, 12, None, True),
    'deflated explicit VR LE': (uid.DeflatedExplicitVRLittleEndian, S12, 12, None, True),
    'explicit VR BE': (uid.ExplicitVRBigEndian, S12, 12, None, True),
    'RLE': (uid.RLELossless, S12, 12, None, True),
    'JPEG baseline (8 bit)': (uid.JPEGBaseline8Bit, S8, 8, lambda a: ic.jpeg8_encode(a, level=95), False),
    'JPEG extended (12 bit)': (uid.JPEGExtended12Bit, S12, 12, lambda a: ic.jpeg8_encode(a, level=95, bitspersample=12), False),
    'JPEG lossless (process 14)': (uid.JPEGLossless, S12, 12, lambda a: ic.ljpeg_encode(a, bitspersample=12), True),
    'JPEG lossless SV1': (uid.JPEGLosslessSV1, S12, 12, lambda a: ic.jpeg8_encode(a, lossless=True, predictor=1, bitspersample=12), True),
    'JPEG-LS lossless': (uid.JPEGLSLossless, S12, 12, lambda a: ic.jpegls_encode(a), True),
    'JPEG-LS near-lossless': (uid.JPEGLSNearLossless, S12, 12, lambda a: ic.jpegls_encode(a, level=2), False),
    'JPEG 2000 lossless': (uid.JPEG2000Lossless, S12, 12, None, True),
    'JPEG 2000': (uid.JPEG2000, S12, 12, None, False),
}
COMPRESSED = [n for n, v in SYNTAXES.items() if v[0].is_compressed]

def write(name, path):
    "The file of `SYNTAXES[name]` at `path` (skips when its encoder, imagecodecs, is missing)."
    ts, arr, bits, enc, _ = SYNTAXES[name]
    if enc is not None and ic is None: pytest.skip('imagecodecs is not installed (pip install imagecodecs)')
    kw = dict(bits_stored=bits, transfer_syntax=ts, encoded_frame=enc(arr) if enc else None, **HDR)
    if ts != uid.ExplicitVRBigEndian: _make_dicom(arr, path, **kw)
    else:   # pydicom writes an OW value as given: the pixel bytes must already be big endian
        ds = _make_dicom(arr, None, **kw); ds.PixelData = arr.astype(arr.dtype.newbyteorder('>')).tobytes()
        ds.save_as(path, enforce_file_format=True)


@pytest.mark.parametrize('name', list(SYNTAXES))
def test_transfer_syntax(d, name):
    ts, arr, bits, enc, lossless = SYNTAXES[name]
    write(name, d/'a.dcm')
    m, y = read(d/'a.dcm')
    assert m.meta['transfer_syntax'] == ts.name
    ref = arr / ((1 << bits) - 1)
    if lossless: np.testing.assert_allclose(y, ref, atol=1e-6)
    else: assert np.abs(y - ref).mean() < 0.005 and np.abs(y - ref).max() < 0.05


def test_deflated_and_big_endian_files_are_encoded_as_declared(d):
    "The two uncompressed encodings are really on disk: a raw deflate stream after the file meta; big-endian values."
    write('deflated explicit VR LE', d/'z.dcm'); write('explicit VR BE', d/'b.dcm')
    raw = (d/'z.dcm').read_bytes()
    body = raw[144 + int.from_bytes(raw[140:144], 'little'):]           # after preamble, 'DICM' and the file meta group
    assert S12.astype('<u2').tobytes() not in raw and S12.astype('<u2').tobytes() in zlib.decompress(body, -15)
    raw = (d/'b.dcm').read_bytes()
    assert b'\x00\x28\x00\x10US\x00\x02\x00\x80' in raw and S12.astype('>u2').tobytes() in raw   # (0028,0010) Rows = 128


# --- one codestream, every decoder ------------------------------------------------------------------------

IC_CODECS = {  # transfer syntax: the imagecodecs codecs that decode its frames (the reader tries some of them before pydicom)
    uid.RLELossless: ('dicomrle',), uid.JPEGBaseline8Bit: ('jpeg8',), uid.JPEGExtended12Bit: ('jpeg8',),
    uid.JPEGLossless: ('jpeg8', 'ljpeg', 'jpegsof3'), uid.JPEGLosslessSV1: ('jpeg8', 'ljpeg', 'jpegsof3'),
    uid.JPEGLSLossless: ('jpegls',), uid.JPEGLSNearLossless: ('jpegls',), uid.JPEG2000Lossless: ('jpeg2k',), uid.JPEG2000: ('jpeg2k',)}

_LJ = 'libjpeg (T. Richter)'      # pylibjpeg-libjpeg's library (not IJG libjpeg)
_LOSSLESS = {'pydicom (pylibjpeg)': _LJ, 'imagecodecs jpeg8': 'libjpeg-turbo', 'imagecodecs ljpeg': 'liblj92', 'imagecodecs jpegsof3': 'jpegsof3'}
_OPJ = {'pydicom (pylibjpeg)': 'openjpeg', 'pydicom (pillow)': 'openjpeg', 'imagecodecs jpeg2k': 'openjpeg'}
DECODERS = {  # name: {decoder: the codec library it runs} -- every decoder found here; each must decode, and agree.
              # Two libraries or more: an independent second decoder (every compressed syntax here but JPEG 2000)
    'RLE': {'pydicom (pydicom)': 'pydicom (Python)', 'pydicom (pylibjpeg)': 'pylibjpeg-rle (Rust)', 'imagecodecs dicomrle': 'imagecodecs (C)'},
    'JPEG baseline (8 bit)': {'pydicom (pylibjpeg)': _LJ, 'pydicom (pillow)': 'libjpeg-turbo', 'imagecodecs jpeg8': 'libjpeg-turbo'},
    'JPEG extended (12 bit)': {'pydicom (pylibjpeg)': _LJ, 'imagecodecs jpeg8': 'libjpeg-turbo'},        # pillow: 8-bit only
    'JPEG lossless (process 14)': _LOSSLESS, 'JPEG lossless SV1': _LOSSLESS,
    'JPEG-LS lossless': {'pydicom (pylibjpeg)': _LJ, 'imagecodecs jpegls': 'CharLS'},
    'JPEG-LS near-lossless': {'pydicom (pylibjpeg)': _LJ, 'imagecodecs jpegls': 'CharLS'},
    'JPEG 2000 lossless': _OPJ, 'JPEG 2000': _OPJ,   # three decoders, one library: no independent JPEG 2000 decoder (gdcm runs openjpeg too)
}
REFUSES = {('JPEG extended (12 bit)', 'pydicom (pillow)'): '12-bit'}   # offered by pydicom, refuses the file (the reader knows)
# T.81 A.3.3 defines the IDCT of the DCT processes in real numbers; each library rounds its integer IDCT its own way, so
# two libraries may differ by 1 where the exact value lies within a hair of a rounding tie (both stay within 1 of the exact
# IDCT: checked against a float reference decoder when this was written). Decoders running one library agree bit for bit,
# and every other syntax is decoded bit-exactly alike (JPEG-LS near-lossless and JPEG 2000 9/7 included).
IDCT_TOLERANCE = {'JPEG baseline (8 bit)': 1, 'JPEG extended (12 bit)': 1}

def decode_all(path, ts, like):
    "Each decoder's container values for the one frame of `path` (or the exception it raised): pydicom's plugins, imagecodecs' codecs."
    out = {}
    for p in get_decoder(ts).available_plugins:
        try: out[f'pydicom ({p})'] = pixel_array(path, decoding_plugin=p, correct_unused_bits=False)
        except Exception as e: out[f'pydicom ({p})'] = e
    frame = next(generate_frames(dcmread(path).PixelData, number_of_frames=1))
    dt = like.dtype.newbyteorder('<')
    for c in (IC_CODECS.get(ts, ()) if ic is not None else ()):
        try: out[f'imagecodecs {c}'] = (np.frombuffer(ic.dicomrle_decode(frame, dt), dt).reshape(like.shape) if c == 'dicomrle'
                                        else getattr(ic, f'{c}_decode')(frame))
        except Exception as e: out[f'imagecodecs {c}'] = e
    return out


@pytest.mark.parametrize('name', COMPRESSED)
def test_every_decoder_agrees(d, name):
    ts, arr, _, _, lossless = SYNTAXES[name]
    write(name, d/'a.dcm')
    got = decode_all(d/'a.dcm', ts, arr)
    bad = {k: v for k, v in got.items() if isinstance(v, Exception) and REFUSES.get((name, k), '?') not in str(v)}
    assert not bad, f"{name}: decoders failed: {bad}"
    ok = {k: v for k, v in got.items() if not isinstance(v, Exception)}
    want = {k for k in DECODERS[name] if ic is not None or not k.startswith('imagecodecs')}
    assert want <= set(ok) and len(ok) >= 2, f"{name}: decoded by {sorted(ok)} only; expected also {sorted(want - set(ok))}"
    libs, tol = DECODERS[name], IDCT_TOLERANCE.get(name, 0)
    for k, v in ok.items():
        assert v.shape == arr.shape, f"{name}: {k} gave shape {v.shape}"
        if lossless: assert np.array_equal(v, arr), f"{name}: {k} is not lossless"
    for (a, x), (b, y) in itertools.combinations(ok.items(), 2):
        diff = int(np.abs(x.astype(np.int64) - y.astype(np.int64)).max())
        assert diff <= (0 if libs.get(a, a) == libs.get(b, b) else tol), f"{name}: {a} and {b} differ by up to {diff}"
    _, raw, _ = _load_dicom(d/'a.dcm')                                      # the reader's values before its intensity mapping
    assert np.array_equal(raw, ok[dicom_decoder(ts)]), f"{name}: the reader does not give what {dicom_decoder(ts)} decodes"


# --- no decoder installed: a typed error naming one --------------------------------------------------------

WOULD_DECODE = {  # name: the package the reader's error must name when no pydicom plugin for the syntax is installed
    'RLE': 'pylibjpeg-rle', 'JPEG baseline (8 bit)': 'pylibjpeg-libjpeg', 'JPEG extended (12 bit)': 'pylibjpeg-libjpeg',
    'JPEG lossless (process 14)': 'pylibjpeg-libjpeg', 'JPEG lossless SV1': 'pylibjpeg-libjpeg', 'JPEG-LS lossless': 'pylibjpeg-libjpeg',
    'JPEG-LS near-lossless': 'pylibjpeg-libjpeg', 'JPEG 2000 lossless': 'pylibjpeg-openjpeg', 'JPEG 2000': 'pylibjpeg-openjpeg'}

def refused(path):
    with pytest.raises(MammoInputError) as e: read_mammogram(path)
    assert e.value.path == str(path) and str(e.value).startswith(f"{path}: cannot decode transfer syntax "), str(e.value)
    return str(e.value)


@pytest.mark.parametrize('name', COMPRESSED)
def test_no_plugin_names_the_package_that_decodes(d, name, monkeypatch):
    write(name, d/'a.dcm')
    monkeypatch.setattr(get_decoder(SYNTAXES[name][0]), '_available', {})     # as if no plugin for it were installed
    monkeypatch.setattr(dicom_module, '_imagecodecs', None)                   # and imagecodecs neither
    msg = refused(d/'a.dcm')
    assert SYNTAXES[name][0].name in msg and 'no decoding plugin is installed' in msg
    assert f"install {WOULD_DECODE[name]} (pip install pylibjpeg {WOULD_DECODE[name]})" in msg, msg
    assert 'imagecodecs decodes it too (pip install imagecodecs)' in msg, msg


@pytest.mark.parametrize('name', COMPRESSED)
def test_no_plugin_imagecodecs_decodes(d, name, monkeypatch):
    "Without any pydicom plugin for the syntax, an installed imagecodecs codec decodes the file, to the same values."
    if ic is None: pytest.skip('imagecodecs is not installed')
    write(name, d/'a.dcm')
    _, want, _ = _load_dicom(d/'a.dcm')
    monkeypatch.setattr(get_decoder(SYNTAXES[name][0]), '_available', {})
    assert dicom_decoder(SYNTAXES[name][0]).startswith('imagecodecs ')
    _, got, _ = _load_dicom(d/'a.dcm')
    tol = IDCT_TOLERANCE.get(name, 0)          # (another library than the one that decodes it with plugins, for JPEG baseline)
    assert got.dtype == want.dtype and int(np.abs(got.astype(np.int64) - want.astype(np.int64)).max()) <= tol


def test_no_plugin_corrupt_frame_is_called_corrupt(d, monkeypatch):
    "With imagecodecs the only decoder, a frame it cannot decode is the file's fault, said so, naming the codec."
    if ic is None: pytest.skip('imagecodecs is not installed')
    _make_dicom(S12, d/'a.dcm', transfer_syntax=uid.JPEG2000Lossless, encoded_frame=b'\xff\x4f\xff\x51' + b'\x00' * 60, **HDR)
    monkeypatch.setattr(get_decoder(uid.JPEG2000Lossless), '_available', {})
    with pytest.raises(MammoInputError) as e: read_mammogram(d/'a.dcm')
    assert 'could not be decoded (JPEG 2000 Image Compression (Lossless Only))' in str(e.value) and 'imagecodecs (jpeg2k)' in str(e.value), str(e.value)


def test_12_bit_jpeg_with_only_pillow_names_the_package_that_decodes(d, monkeypatch):
    write('JPEG extended (12 bit)', d/'a.dcm')
    dec = get_decoder(uid.JPEGExtended12Bit)
    monkeypatch.setattr(dec, '_available', {k: v for k, v in dec._available.items() if k == 'pillow'})
    if ic is not None:                                                        # imagecodecs' libjpeg-turbo reads 12 bits
        _, got, _ = _load_dicom(d/'a.dcm')
        assert np.abs(got.astype(int) - S12.astype(int)).mean() < 0.005 * 4095
    monkeypatch.setattr(dicom_module, '_imagecodecs', None)
    msg = refused(d/'a.dcm')
    assert 'samples have 12 bits' in msg and 'pillow, decodes 8-bit samples only' in msg and 'install pylibjpeg-libjpeg' in msg
    assert 'or pillow' not in msg                                             # not the plugin that just refused it


# --- JPEG XL: no pydicom plugin exists; imagecodecs decodes it ---------------------------------------------

JPEG_XL = {'1.2.840.10008.1.2.4.110': 'JPEG XL Lossless', '1.2.840.10008.1.2.4.112': 'JPEG XL'}

@pytest.mark.parametrize('ts', list(JPEG_XL))
def test_jpeg_xl(d, ts, monkeypatch):
    if ic is None or not ic.JPEGXL.available: pytest.skip('imagecodecs has no JPEG XL codec here')
    _make_dicom(S12, d/'a.dcm', transfer_syntax=ts, encoded_frame=ic.jpegxl_encode(S12, lossless=True), **HDR)
    m, y = read(d/'a.dcm')
    np.testing.assert_allclose(y, S12 / 4095, atol=1e-6)
    assert m.meta['transfer_syntax'] == JPEG_XL[ts] and dicom_decoder(ts) == 'imagecodecs jpegxl'
    monkeypatch.setattr(dicom_module, '_imagecodecs', None)
    msg = refused(d/'a.dcm')
    assert JPEG_XL[ts] in msg and 'pip install imagecodecs' in msg and 'transcode' in msg, msg


def test_right_breast_is_mirrored_with_every_syntax(d):
    for ts in (uid.ExplicitVRLittleEndian, uid.RLELossless, uid.JPEG2000Lossless):
        _make_dicom(S12[:, ::-1].copy(), d/'r.dcm', transfer_syntax=ts, ImageLaterality='R', ViewPosition='CC')
        m = read_mammogram(d/'r.dcm')
        assert m.geometry.flipped_x and m.meta['orientation']['source'] == 'image content'
        np.testing.assert_allclose(m.image[0].numpy(), S12 / 4095, atol=1e-6)


# --- PNG and TIFF -------------------------------------------------------------------------------------

@pytest.mark.parametrize('suffix,bits', [('.png', 8), ('.png', 16), ('.tif', 8), ('.tiff', 16)])
def test_png_tiff(d, suffix, bits):
    arr = (np.round(IMG * 255).astype(np.uint8) if bits == 8 else np.round(IMG * 65535).astype(np.uint16))
    f = d/f'P_0001_LEFT_CC{suffix}'
    Image.fromarray(arr).save(f)
    m, y = read(f)
    np.testing.assert_allclose(y, arr / ((1 << bits) - 1), atol=1e-6)
    assert (m.laterality, m.view, m.meta['bits_stored'], m.meta['laterality_source']) == ('L', 'CC', bits, 'file name')


def test_rgb_png_with_equal_channels_is_grayscale(d):
    arr = np.round(IMG * 255).astype(np.uint8)
    Image.fromarray(np.stack([arr] * 3, -1)).save(d/'LCC.png')
    np.testing.assert_allclose(read(d/'LCC.png')[1], arr / 255, atol=1e-6)


# --- geometry round trips on real reads ------------------------------------------------------------------

def test_geometry_round_trip_through_the_reader(d):
    _make_dicom(S12[:, ::-1].copy(), d/'r.dcm', ImageLaterality='R', ViewPosition='CC')
    g = read_mammogram(d/'r.dcm').geometry.crop((5, 7, 80, 120)).scale((60, 40)).pad(0, 2, 3, 1)
    pts = np.array([[10.0, 20.0], [90.0, 100.0]])
    np.testing.assert_allclose(g.to_original(g.to_frame(pts)), pts, atol=1e-9)
    box = np.array([[20.0, 30.0, 60.0, 90.0]])
    np.testing.assert_allclose(g.box_to_original(g.box_to_frame(box)), box, atol=1e-9)
    mask = np.zeros((128, 96), bool); mask[30:90, 20:60] = True
    fr = g.mask_to_frame(mask)
    rows, cols = np.nonzero(fr)
    np.testing.assert_allclose([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], g.box_to_frame(box)[0], atol=1.0)
    back = g.mask_to_original(fr)
    rows, cols = np.nonzero(back)
    np.testing.assert_allclose([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], box[0], atol=2.0)
