"""The command line's malformed-input battery (issue 29): every case is one `mammo-nb` call on a bad input.

Each case builds its bad input in its own folder, runs the command in this process (`cli_runner.cli`) and asserts:
exit code 2, stderr is one line `mammo-nb: error: ...` that names the input and says what is wrong, no traceback, and
no file or folder left behind anywhere under the battery's folder (no `--out`, no `entries/`, no half-made run).
Runs come from the shipped reference models (copied, then broken one file at a time); images are synthetic, from
pydicom's own test files (a CT slice, an NM JPEG Extended file), or made here. Count the cases with
`.venv/bin/pytest tests/test_cli_battery.py --collect-only -q | grep -c '::test_malformed_input'`.
"""
import io, json, os, shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from pydicom import uid

from mammo_nb.data.dicom import _make_dicom, _synthetic_breast
from mammo_nb.train.system import REFERENCE_RUNS
from cli_runner import cli

IMG, _ = _synthetic_breast(96, 72, view='CC', seed=5)
S12 = np.round(IMG * 4095).astype(np.uint16)
LCC = dict(ImageLaterality='L', ViewPosition='CC')
HEAD = 'patient_id,exam_id,exam_date,laterality,view,image_path,split'


@pytest.fixture(scope='module')
def world(tmp_path_factory):
    "The battery's folder: runs (copies of the reference models), a good image, a good manifest; MAMMO_RUNS_DIR inside it."
    d = tmp_path_factory.mktemp('battery')
    mp = pytest.MonkeyPatch()
    mp.setenv('MAMMO_RUNS_DIR', str(d/'runs'))
    for name in ('mammonet', 'lmvnet', 'registration', 'malignancy', 'cgan', 'momminet', 'lesion-ldm'):
        shutil.copytree(REFERENCE_RUNS/name, d/'runs'/name)
    (d/'data'/'a').mkdir(parents=True)
    _make_dicom(S12, d/'data'/'a'/'L_CC.dcm', **LCC)
    _make_dicom(S12, d/'data'/'a'/'L_MLO.dcm', ImageLaterality='L', ViewPosition='MLO')
    (d/'good.csv').write_text(HEAD + '\np1,e1,2020-01-01,L,CC,a/L_CC.dcm,train\np2,e1,2020-01-01,L,MLO,a/L_MLO.dcm,val\n')
    yield d
    mp.undo()


def _files(root: Path) -> set:
    return {p.relative_to(root).as_posix() for p in root.rglob('*')}


def _dcm(t: Path, name='x.dcm', stored=S12, **kw) -> Path:
    "A synthetic DICOM (left CC unless `kw` says otherwise; `ImageLaterality=None` drops it)."
    attrs = {**LCC, **kw}
    attrs = {k: v for k, v in attrs.items() if v is not None}
    t.mkdir(parents=True, exist_ok=True)
    _make_dicom(stored, t/name, **attrs)
    return t/name


def _run(w, t, name, edit):
    "A copy of reference run `name` under `t` with one file edited by `edit(folder)`."
    dst = t/'run'; shutil.copytree(w/'runs'/name, dst); edit(dst); return dst


def _set(f: Path, key, value, inner=None):
    d = json.loads(f.read_text()); (d[inner] if inner else d)[key] = value; f.write_text(json.dumps(d))


def _cut(f: Path, n: int):
    f.write_bytes(f.read_bytes()[:n])


def _predict(w, t, *inputs, system='mammonet', run=None, extra=()):
    return ['predict', system, '--run', run or w/'runs'/system, *inputs, '--out', t/'out', *extra]


def _manifest(t: Path, rows: str, name='m.csv') -> Path:
    t.mkdir(parents=True, exist_ok=True); (t/name).write_text(HEAD + '\n' + rows); return t/name


# ---- cases: name -> f(world, case folder) -> (argv, [fragments the one line must hold]) --------------------------------
CASES = {}
def case(f): CASES[f.__name__] = f; return f


# -- image files read by `predict` (reader errors: each names the file) --
@case
def empty_file(w, t): t.mkdir(parents=True); (t/'e.dcm').write_bytes(b''); return _predict(w, t, t/'e.dcm'), ['e.dcm: empty file (0 bytes)']
@case
def text_file(w, t): t.mkdir(parents=True); (t/'notes.dcm').write_text('patients\n' * 40); return _predict(w, t, t/'notes.dcm'), ['notes.dcm: not a DICOM file']
@case
def random_bytes(w, t):
    t.mkdir(parents=True); (t/'r.dcm').write_bytes(np.random.default_rng(1).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    return _predict(w, t, t/'r.dcm'), ['r.dcm: not a DICOM file']
@case
def truncated_pixels(w, t): f = _dcm(t); _cut(f, -300); return _predict(w, t, f), ['x.dcm: pixel data is truncated', 'cut short']
@case
def cut_before_pixels(w, t):
    f = _dcm(t); data = f.read_bytes(); f.write_bytes(data[:data.find(b'\xe0\x7f\x10\x00')])
    return _predict(w, t, f), ['x.dcm: pixel data is missing: the header describes a 96x72 image']
@case
def jpeg_file(w, t):
    t.mkdir(parents=True); b = io.BytesIO(); Image.fromarray((IMG * 255).astype(np.uint8)).save(b, format='JPEG'); (t/'LCC.jpg').write_bytes(b.getvalue())
    return _predict(w, t, t/'LCC.jpg'), ['LCC.jpg: JPEG image files are not supported']
@case
def rgb_png(w, t):
    t.mkdir(parents=True); a = np.zeros((96, 72, 3), np.uint8); a[..., 0] = (IMG * 255).astype(np.uint8); Image.fromarray(a).save(t/'LCC.png')
    return _predict(w, t, t/'LCC.png'), ['LCC.png: colour image (PNG mode RGB)']
@case
def multipage_tiff(w, t):
    t.mkdir(parents=True); p = [Image.fromarray((IMG * 255).astype(np.uint8))] * 2; p[0].save(t/'LCC.tif', save_all=True, append_images=p[1:])
    return _predict(w, t, t/'LCC.tif'), ['LCC.tif: multi-page TIFF (2 pages)']
@case
def tiny_png(w, t): t.mkdir(parents=True); Image.fromarray(np.full((4, 4), 9, np.uint8)).save(t/'LCC.png'); return _predict(w, t, t/'LCC.png'), ['LCC.png: image too small']
@case
def thumbnail_dicom(w, t):
    "A 96 x 72 DICOM whose pixel spacing (0.2 mm) says it covers 19 x 14 mm: a thumbnail or a crop, not a mammogram."
    return _predict(w, t, _dcm(t, 'thumb.dcm', PixelSpacing=[0.2, 0.2])), ['thumb.dcm: image too small to be a mammogram', 'cover 19 x 14 mm']
@case
def input_not_found(w, t): return _predict(w, t, t/'nope.dcm'), ['nope.dcm: not a file or a folder']
@case
def empty_folder(w, t): (t/'exam').mkdir(parents=True); return _predict(w, t, t/'exam'), ['exam: no image files in the folder']
@case
def ct_test_file_without_laterality(w, t):
    from pydicom.data import get_testdata_file
    t.mkdir(parents=True); shutil.copy(get_testdata_file('CT_small.dcm'), t/'ct.dcm')
    return _predict(w, t, t/'ct.dcm'), ['ct.dcm: modality CT is not a mammogram', '--any-modality']
@case
def ct_with_laterality_and_view(w, t): return _predict(w, t, _dcm(t, Modality='CT')), ['x.dcm: modality CT is not a mammogram']
@case
def chest_radiograph(w, t):
    return _predict(w, t, _dcm(t, Modality='CR', BodyPartExamined='CHEST')), ["x.dcm: modality CR with BodyPartExamined 'CHEST' is not a mammogram"]
@case
def nm_jpeg_extended_test_file(w, t):
    from pydicom.data import get_testdata_file
    t.mkdir(parents=True); shutil.copy(get_testdata_file('JPGExtended.dcm'), t/'nm.dcm')
    return _predict(w, t, t/'nm.dcm'), ['nm.dcm: modality NM with BodyPartExamined']
@case
def hash_named_without_laterality(w, t):
    return _predict(w, t, _dcm(t, '1.2.840.113.dcm', ImageLaterality=None, ViewPosition=None)), \
        ['1.2.840.113.dcm: cannot determine laterality', '--laterality L|R on the command line (one file)', 'inputs CSV']
@case
def laterality_given_view_missing(w, t):
    f = _dcm(t, '1.2.840.114.dcm', ImageLaterality=None, ViewPosition=None)
    return _predict(w, t, f, extra=['--laterality', 'L']), ['1.2.840.114.dcm: cannot determine the view', '--view CC|MLO on the command line']
@case
def unsupported_view(w, t): return _predict(w, t, _dcm(t, ViewPosition='SPOT')), ["x.dcm: unsupported view 'SPOT' in ViewPosition"]
@case
def blank_image(w, t): return _predict(w, t, _dcm(t, stored=np.zeros((96, 72), np.uint16))), ['x.dcm: no breast found']
@case
def multi_frame(w, t):
    f = _dcm(t); import pydicom; ds = pydicom.dcmread(f); ds.NumberOfFrames = 3; ds.PixelData = np.stack([S12] * 3).tobytes(); ds.save_as(f)
    return _predict(w, t, f), ['x.dcm: multi-frame image (3 frames']
@case
def palette_colour(w, t): return _predict(w, t, _dcm(t, PhotometricInterpretation='PALETTE COLOR')), ['x.dcm: colour image', 'PALETTE COLOR']
@case
def bits_stored_exceeds_allocated(w, t): return _predict(w, t, _dcm(t, BitsStored=18)), ['x.dcm: BitsStored (18) exceeds BitsAllocated (16)']
@case
def jpeg_xl(w, t):
    f = _dcm(t, transfer_syntax='1.2.840.10008.1.2.4.110', encoded_frame=b'\xff\x0a' + b'\x00' * 64)
    return _predict(w, t, f), ['x.dcm: pixel data could not be decoded (JPEG XL Lossless): it is corrupt']
@case
def unknown_transfer_syntax(w, t):
    return _predict(w, t, _dcm(t, transfer_syntax='1.2.3.4.5.6', encoded_frame=b'\x00' * 64)), ['x.dcm: cannot decode transfer syntax', '1.2.3.4.5.6']
@case
def corrupt_rle_frame(w, t):
    f = _dcm(t, transfer_syntax=uid.RLELossless, encoded_frame=b'\x01\x00\x00\x00' + b'\xff' * 60)
    return _predict(w, t, f), ['x.dcm: pixel data could not be decoded (RLE Lossless)']
@case
def zero_rows(w, t):
    f = _dcm(t); import pydicom; ds = pydicom.dcmread(f); ds.Rows, ds.PixelData = 0, b''; ds.save_as(f)
    return _predict(w, t, f), ['x.dcm: zero-sized image']
@case
def bits_option_out_of_range(w, t): return _predict(w, t, _dcm(t), extra=['--bits', '20']), ['bits must be a whole number in 1..16, got 20']
@case
def bits_option_too_small(w, t):
    t.mkdir(parents=True); Image.fromarray(S12).save(t/'LCC.png')
    return _predict(w, t, t/'LCC.png', extra=['--bits', '8']), ['LCC.png: bits_stored=8 is too small: the stored values reach']
@case
def laterality_for_a_folder_of_two(w, t):
    _dcm(t/'exam', 'a.dcm'); _dcm(t/'exam', 'b.dcm')
    return _predict(w, t, t/'exam', extra=['--laterality', 'L']), ['--laterality describe one image file, and the inputs hold 2 (a.dcm, b.dcm)', 'inputs CSV']
@case
def view_with_a_manifest(w, t):
    return _predict(w, t, w/'good.csv', extra=['--view', 'CC']), ['good.csv: --view describe one image file, not a manifest']


# -- inputs CSVs (path, laterality, view, bits) --
def _inputs(t, text):
    _dcm(t, 'a.dcm'); (t/'in.csv').write_text(text); return t/'in.csv'
@case
def inputs_csv_unknown_column(w, t): return _predict(w, t, _inputs(t, 'path,side\na.dcm,L\n')), ["in.csv: unknown column(s) 'side'"]
@case
def inputs_csv_file_missing(w, t): return _predict(w, t, _inputs(t, 'path\nb.dcm\n')), ["in.csv, line 2, column 'path': image file not found: 'b.dcm'"]
@case
def inputs_csv_bad_laterality(w, t): return _predict(w, t, _inputs(t, 'path,laterality\na.dcm,left\n')), ["in.csv, line 2, column 'laterality': must be one of L, R or empty"]
@case
def inputs_csv_bad_view(w, t): return _predict(w, t, _inputs(t, 'path,view\na.dcm,ML\n')), ["in.csv, line 2, column 'view': must be one of CC, MLO or empty, got 'ML'"]
@case
def inputs_csv_bad_bits(w, t): return _predict(w, t, _inputs(t, 'path,bits\na.dcm,12.5\n')), ["in.csv, line 2, column 'bits': must be a whole number in 1..16"]
@case
def inputs_csv_duplicate(w, t): return _predict(w, t, _inputs(t, 'path\na.dcm\n./a.dcm\n')), ["in.csv, line 3, column 'path': the same file as line 2"]
@case
def inputs_csv_no_rows(w, t): return _predict(w, t, _inputs(t, 'path,laterality\n')), ['in.csv: the inputs CSV has no rows']
@case
def inputs_csv_missing_path(w, t): return _predict(w, t, _inputs(t, 'path,view\n,CC\n')), ["in.csv, line 2, column 'path': missing value"]
@case
def csv_neither_inputs_nor_manifest(w, t): return _predict(w, t, _inputs(t, 'file,side\na.dcm,L\n')), ["in.csv: a CSV input is an inputs table (a 'path' column"]
@case
def inputs_csv_with_view_flag(w, t):
    return _predict(w, t, _inputs(t, 'path\na.dcm\n'), extra=['--view', 'CC']), ['--view describe one image file; with an inputs CSV give them in its laterality and view columns']
@case
def inputs_csv_image_unreadable(w, t):
    t.mkdir(parents=True); (t/'a.dcm').write_text('not an image'); (t/'in.csv').write_text('path,laterality,view\na.dcm,L,CC\n')
    return _predict(w, t, t/'in.csv'), ['a.dcm: not a DICOM file']


# -- run folders: every file checked on load --
def _pr(w, t, name, edit, system=None):
    return _predict(w, t, w/'data'/'a'/'L_CC.dcm', system=system or name, run=_run(w, t, name, edit))
@case
def best_json_extra_config_key(w, t):
    return _pr(w, t, 'mammonet', lambda d: _set(d/'best.json', 'extra_key', 1, 'config')), ["best.json: unknown key(s) 'extra_key' in 'config' of the mammonet checkpoint"]
@case
def best_json_truncated(w, t): return _pr(w, t, 'lmvnet', lambda d: _cut(d/'best.json', 100)), ['best.json: the file: truncated JSON']
@case
def best_json_empty(w, t): return _pr(w, t, 'mammonet', lambda d: _cut(d/'best.json', 0)), ['best.json: the file is empty (0 bytes of JSON): truncated']
@case
def best_json_a_list(w, t): return _pr(w, t, 'mammonet', lambda d: (d/'best.json').write_text('[1, 2]')), ['best.json: the file must hold a JSON object, got a JSON list']
@case
def best_json_epoch_text(w, t): return _pr(w, t, 'mammonet', lambda d: _set(d/'best.json', 'epoch', 'three')), ["best.json: checkpoint metadata: 'epoch' must be int or null, got str"]
@case
def best_json_invalid(w, t): return _pr(w, t, 'mammonet', lambda d: (d/'best.json').write_text('{"config": {,}}')), ['best.json: the file: invalid JSON']
@case
def run_json_truncated(w, t): return _pr(w, t, 'mammonet', lambda d: _cut(d/'run.json', 300)), ['run.json: the run record: truncated JSON']
@case
def run_json_without_key(w, t):
    def edit(d): x = json.loads((d/'run.json').read_text()); x.pop('key'); (d/'run.json').write_text(json.dumps(x))
    return _pr(w, t, 'mammonet', edit), ["run.json: run record: the required key 'key' is missing"]
@case
def run_json_status_number(w, t): return _pr(w, t, 'mammonet', lambda d: _set(d/'run.json', 'status', 1)), ["run.json: run record: 'status' must be str, got int"]
@case
def run_json_config_unknown_setting(w, t):
    return _pr(w, t, 'mammonet', lambda d: _set(d/'run.json', 'bogus', 1, 'config')), ["run.json: run record's config: unknown setting(s) bogus"]
@case
def run_json_config_bad_value(w, t):
    return _pr(w, t, 'mammonet', lambda d: _set(d/'run.json', 'epochs', 0, 'config')), ["run.json: run record's config: epochs must be an integer >= 1"]
@case
def config_json_extra_key(w, t): return _pr(w, t, 'mammonet', lambda d: _set(d/'config.json', 'bogus', 1)), ['config.json: unknown setting(s) bogus']
@case
def config_json_differs(w, t): return _pr(w, t, 'mammonet', lambda d: _set(d/'config.json', 'lr', 0.5)), ["config.json: setting 'lr' is 0.5 here but"]
@case
def config_json_truncated(w, t): return _pr(w, t, 'mammonet', lambda d: _cut(d/'config.json', 40)), ['config.json: the configuration: truncated JSON']
@case
def weights_truncated(w, t): return _pr(w, t, 'mammonet', lambda d: _cut(d/'best.safetensors', 5000)), ['best.safetensors: truncated safetensors file']
@case
def weights_empty(w, t): return _pr(w, t, 'mammonet', lambda d: _cut(d/'best.safetensors', 0)), ['best.safetensors: truncated safetensors file: 0 bytes']
@case
def history_empty(w, t): return _pr(w, t, 'mammonet', lambda d: _cut(d/'history.csv', 0)), ['history.csv: empty CSV table (0 bytes): truncated']
@case
def sub_checkpoint_truncated(w, t):
    return _pr(w, t, 'momminet', lambda d: _cut(d/'nipple'/'best.json', 50)), ['nipple/best.json: the file: truncated JSON']
@case
def normaliser_truncated(w, t):
    return _pr(w, t, 'cgan', lambda d: _cut(d/'radiomics_normalizer.json', 60)), ['radiomics_normalizer.json: the file: truncated JSON']
@case
def run_folder_not_found(w, t): return _predict(w, t, w/'data'/'a'/'L_CC.dcm', run=t/'norun'), ['norun: run folder not found']
@case
def folder_without_run_record(w, t): (t/'r').mkdir(parents=True); return _predict(w, t, w/'data'/'a'/'L_CC.dcm', run=t/'r'), ['r: not a run folder (no run.json)']
@case
def run_of_another_system(w, t): return _predict(w, t, w/'data'/'a'/'L_CC.dcm', run=w/'runs'/'lmvnet'), ["this is a 'lmvnet' run, not a 'mammonet' run"]
@case
def unknown_reference(w, t): return _predict(w, t, w/'data'/'a'/'L_CC.dcm', run='reference:nope'), ["no reference run 'nope' ships with this package"]
@case
def reference_as_absolute_path(w, t):
    shutil.copytree(w/'runs'/'mammonet', t/'victim')
    return _predict(w, t, w/'data'/'a'/'L_CC.dcm', run=f"reference:{t/'victim'}"), ["no reference run", "not paths: for a run folder pass the folder itself"]
@case
def reference_climbing_out_of_the_runs_folder(w, t):
    return _predict(w, t, w/'data'/'a'/'L_CC.dcm', run='reference:../mammonet'), ["no reference run '../mammonet' ships", 'not paths']
@case
def reference_through_its_own_folder(w, t):
    return _predict(w, t, w/'data'/'a'/'L_CC.dcm', run='reference:mammonet/../../reference/mammonet'), ['not paths']
@case
def reference_empty_name(w, t): return _predict(w, t, w/'data'/'a'/'L_CC.dcm', run='reference:'), ["no reference run '' ships", 'not paths']
@case
def model_card_of_a_path(w, t): return ['reference', 'card', '../mammonet'], ["no shipped model '../mammonet'", 'the references are', 'the encoders']
@case
def model_card_unknown(w, t): return ['reference', 'card', 'resnet50'], ["no shipped model 'resnet50'", 'mid_cnn']
@case
def unfinished_run(w, t): return _pr(w, t, 'mammonet', lambda d: _set(d/'run.json', 'status', 'training')), ['run: the run is not complete']


# -- --out and other options --
@case
def out_is_a_file(w, t):
    t.mkdir(parents=True); (t/'out').write_text('keep me')
    return _predict(w, t, w/'data'/'a'/'L_CC.dcm'), ['out: --out must be a folder, but it is an existing file']
@case
def out_below_a_file(w, t):
    t.mkdir(parents=True); (t/'f').write_text('x')
    return ['predict', 'mammonet', '--run', w/'runs'/'mammonet', w/'data'/'a'/'L_CC.dcm', '--out', t/'f'/'sub'], ['--out must be a folder, but', 'f is an existing file']
@case
def evaluate_out_is_a_file(w, t):
    t.mkdir(parents=True); (t/'o').write_text('x')
    return ['evaluate', 'mammonet', '--run', w/'runs'/'mammonet', '--manifest', w/'good.csv', '--root', w/'data', '--out', t/'o'], ['o: --out must be a folder']
@case
def train_out_is_a_file(w, t):
    t.mkdir(parents=True); (t/'o').write_text('x')
    return ['train', 'mammonet', '--manifest', w/'good.csv', '--root', w/'data', '--out', t/'o'], ['o: --out (the run folder) must be a folder']
@case
def unknown_device(w, t): return _predict(w, t, w/'data'/'a'/'L_CC.dcm', extra=['--device', 'tpu']), ["unknown device 'tpu'; use auto, cpu, cuda, cuda:N or mps"]
@case
def missing_cuda_device(w, t):
    import torch
    if torch.cuda.device_count() > 5: pytest.skip('a machine with six GPUs')
    return _predict(w, t, w/'data'/'a'/'L_CC.dcm', extra=['--device', 'cuda:5']), ["device 'cuda:5' requested but"]


# -- other systems' predict --
@case
def lmvnet_input_not_found(w, t): return _predict(w, t, t/'exam', system='lmvnet'), ['exam: not an exam folder, an image file or a manifest CSV']
@case
def lmvnet_ct_in_exam_folder(w, t): _dcm(t/'exam', Modality='CT'); return _predict(w, t, t/'exam', system='lmvnet'), ['x.dcm: modality CT is not a mammogram']
@case
def lmvnet_prior_with_two_exams(w, t):
    _dcm(t/'e1'); _dcm(t/'e2')
    return _predict(w, t, t/'e1', t/'e2', system='lmvnet', extra=['--prior', t/'e1']), ['--prior goes with one exam, got 2']
@case
def lmvnet_two_images_of_one_view(w, t):
    _dcm(t/'exam', 'a.dcm'); _dcm(t/'exam', 'b.dcm')
    return _predict(w, t, t/'exam', system='lmvnet'), ['exam: two L CC images in one exam (a.dcm and b.dcm)']
@case
def registration_prior_count(w, t):
    f = _dcm(t); return _predict(w, t, f, f, system='registration', extra=['--prior', f]), ['give one --prior per current image: 2 current image(s), 1 prior(s)']
@case
def registration_hash_named_prior(w, t):
    f, g = _dcm(t), _dcm(t, '9.9.9.dcm', ImageLaterality=None, ViewPosition=None)
    return _predict(w, t, f, system='registration', extra=['--prior', g]), ['9.9.9.dcm: cannot determine laterality']
@case
def malignancy_gold_with_files(w, t): return _predict(w, t, _dcm(t), system='malignancy', extra=['--gold']), ['--gold goes with a manifest']
@case
def evaluate_where_the_training_data_is_not(w, t):
    run = _run(w, t, 'mammonet', lambda d: _set(d/'run.json', 'manifest', str(t/'elsewhere'/'manifest.csv')))
    return ['evaluate', 'mammonet', '--run', run], ['manifest.csv, which is not on this machine: pass the data to evaluate on (--manifest M --root R)']
@case
def evaluate_a_shipped_run_without_data(w, t):
    run = _run(w, t, 'mammonet', lambda d: None)       # a shipped run's records hold no path of the machine that built it
    return ['evaluate', 'mammonet', '--run', run], ['a shipped reference run keeps no path of the machine that built it',
                                                    'pass the data to evaluate on (--manifest M --root R)']
@case
def phantom_fractions_not_summing_to_one_keep_the_previous_phantom(w, t):
    ph = t/'ph'; (ph/'images').mkdir(parents=True); (ph/'images'/'a.dcm').write_bytes(b'previous')
    (ph/'manifest.csv').write_text(HEAD + '\n'); (ph/'annotations.json').write_text(json.dumps({'info': {'generator': 'mammo_nb.data.phantom'}}))
    return ['phantom', '--out', ph, '--patients', '2', '--fractions', '0.5', '0.5', '0.5'], ['fractions must be three numbers >= 0 summing to 1']
@case
def semicolon_manifest(w, t):
    t.mkdir(parents=True); (t/'m.csv').write_text(HEAD.replace(',', ';') + '\np1;e1;2020-01-01;L;CC;a/L_CC.dcm;train\n')
    return ['manifest', 'validate', t/'m.csv', '--root', w/'data'], ["m.csv: the manifest's header is semicolon-separated", 'save it with commas']
@case
def out_is_the_input_folder(w, t):
    f = _dcm(t/'exam'); return ['predict', 'mammonet', '--run', w/'runs'/'mammonet', t/'exam', '--out', t/'exam'], ['exam: --out is the folder of the input images']
@case
def out_is_the_folder_of_an_input_file(w, t):
    f = _dcm(t/'exam'); return ['predict', 'mammonet', '--run', w/'runs'/'mammonet', f, '--out', t/'exam'], ['--out is the folder of the input images']
@case
def malignancy_box_with_nan(w, t): return _predict(w, t, _dcm(t), system='malignancy', extra=['--boxes', 'nan,1,20,30']), ["the box 'nan,1,20,30' has a coordinate that is not a finite number"]
@case
def malignancy_box_ending_at_inf(w, t): return _predict(w, t, _dcm(t), system='malignancy', extra=['--boxes', '10,10,inf,30']), ["the box '10,10,inf,30' has a coordinate that is not a finite number"]
@case
def momminet_min_score_above_one(w, t): return _predict(w, t, _dcm(t), system='momminet', extra=['--min-score', '2']), ['--min-score must be a number in [0, 1]', 'got 2.0']
@case
def momminet_min_score_negative(w, t): return _predict(w, t, _dcm(t), system='momminet', extra=['--min-score', '-0.5']), ['--min-score must be a number in [0, 1]']
def _nan_weight(d):
    from safetensors.torch import load_file, save_file
    sd = load_file(d/'best.safetensors'); k = next(k for k, v in sd.items() if v.is_floating_point() and v.numel() > 1)
    sd[k] = sd[k].clone(); sd[k].view(-1)[0] = float('nan'); save_file(sd, d/'best.safetensors')
@case
def nan_weights_mammonet(w, t): return _pr(w, t, 'mammonet', _nan_weight), ['best.safetensors: the checkpoint holds weights that are not finite numbers (NaN or inf)', 'train it again']
@case
def nan_weights_malignancy(w, t):
    return _predict(w, t, _dcm(t), system='malignancy', run=_run(w, t, 'malignancy', _nan_weight), extra=['--boxes', '20,40,60,80']), ['not finite numbers (NaN or inf)']
@case
def nan_weights_lmvnet(w, t): return _pr(w, t, 'lmvnet', _nan_weight), ['not finite numbers (NaN or inf)']
@case
def nan_weights_momminet(w, t): return _pr(w, t, 'momminet', _nan_weight), ['not finite numbers (NaN or inf)']
@case
def nan_weights_registration(w, t):
    return _predict(w, t, _dcm(t), system='registration', run=_run(w, t, 'registration', _nan_weight), extra=['--prior', _dcm(t, 'p.dcm')]), ['not finite numbers (NaN or inf)']
@case
def inf_weights_mammonet(w, t):
    def edit(d):
        from safetensors.torch import load_file, save_file
        sd = load_file(d/'best.safetensors'); k = next(k for k, v in sd.items() if v.is_floating_point() and v.numel() > 1)
        sd[k] = sd[k].clone(); sd[k].view(-1)[-1] = float('inf'); save_file(sd, d/'best.safetensors')
    return _pr(w, t, 'mammonet', edit), ['not finite numbers (NaN or inf)']
@case
def malignancy_box_with_negative_infinity(w, t): return _predict(w, t, _dcm(t), system='malignancy', extra=['--boxes', '10,-inf,20,30']), ['not a finite number']
@case
def malignancy_second_box_bad(w, t): return _predict(w, t, _dcm(t), system='malignancy', extra=['--boxes', '10,10,20,30;5,5,nan,9']), ["the box '5,5,nan,9' has a coordinate that is not a finite number"]
@case
def momminet_min_score_just_above_one(w, t): return _predict(w, t, _dcm(t), system='momminet', extra=['--min-score=1.5']), ['--min-score must be a number in [0, 1]']
@case
def tab_separated_manifest(w, t):
    t.mkdir(parents=True); (t/'m.csv').write_text(HEAD.replace(',', '\t') + '\np1\te1\t2020-01-01\tL\tCC\ta/L_CC.dcm\ttrain\n')
    return ['manifest', 'validate', t/'m.csv', '--root', w/'data'], ["m.csv: the manifest's header is tab-separated"]
@case
def phantom_negative_fraction(w, t): return ['phantom', '--out', t/'ph', '--patients', '2', '--fractions', '1.2', '-0.1', '-0.1'], ['fractions must be three numbers >= 0 summing to 1']
@case
def malignancy_boxes_from_another_systems_predictions(w, t):
    t.mkdir(parents=True); (t/'predictions.json').write_text(json.dumps(dict(system='mammonet', predictions=[dict(laterality='L', probability=0.3)])))
    return _predict(w, t, _dcm(t), system='malignancy', extra=['--boxes', t/'predictions.json']), ["predictions.json: these are predictions of 'mammonet', not of MommiNet-v2"]
@case
def malignancy_boxes_json_cut_short(w, t):
    t.mkdir(parents=True); (t/'predictions.json').write_text('{"system": "momminet", "predictions": [{"exam": "e", "file": "x.dcm", "boxes": [')
    return _predict(w, t, _dcm(t), system='malignancy', extra=['--boxes', t/'predictions.json']), ['predictions.json: cannot read the boxes as JSON']
@case
def malignancy_boxes_json_image_without_box(w, t):
    t.mkdir(parents=True); (t/'predictions.json').write_text(json.dumps(dict(system='momminet', predictions=[dict(exam='e', file='x.dcm', boxes=[])])))
    return _predict(w, t, _dcm(t), system='malignancy', extra=['--boxes', t/'predictions.json']), ['MommiNet-v2 found no box in any of its 1 image(s)']
@case
def malignancy_inline_boxes_bad(w, t): return _predict(w, t, _dcm(t), system='malignancy', extra=['--boxes', '1,2,3']), ["a box must be four numbers x0,y0,x1,y1 (image-file pixels), got '1,2,3'"]
@case
def momminet_truncated_image(w, t): f = _dcm(t); _cut(f, -300); return _predict(w, t, f, system='momminet'), ['x.dcm: pixel data is truncated']
@case
def cgan_without_mask(w, t): return _predict(w, t, _dcm(t), system='cgan'), ['mask']
@case
def cgan_ct_file(w, t):
    f = _dcm(t, Modality='CT'); m = t/'m.png'; Image.fromarray(np.zeros((96, 72), np.uint8)).save(m)
    return _predict(w, t, f, system='cgan', extra=['--mask', m]), ['x.dcm: modality CT is not a mammogram']
@case
def lesion_ldm_mask_count(w, t): return _predict(w, t, _dcm(t), system='lesion-ldm'), ['mask']


# -- manifests --
@case
def validate_missing_manifest(w, t): return ['manifest', 'validate', t/'none.csv', '--root', w/'data'], ['none.csv: manifest file not found']
@case
def validate_folder(w, t): (t/'m.csv').mkdir(parents=True); return ['manifest', 'validate', t/'m.csv'], ['m.csv: the manifest is not a file']
@case
def validate_bad_laterality(w, t):
    return ['manifest', 'validate', _manifest(t, 'p,e,,Left,CC,a.dcm,train\n')], ["m.csv, line 2, column 'laterality': must be one of L, R; got 'Left'"]
@case
def validate_patient_in_two_splits(w, t):          # what `train` refuses, `manifest validate` refuses too
    return ['manifest', 'validate', _manifest(t, 'p,e,,L,CC,a.dcm,train\np,e2,,R,CC,b.dcm,test\n')], \
           ["m.csv, line 3, column 'split': patient 'p' is in split 'test' here but in 'train' in line 2"]
@case
def validate_missing_column(w, t):
    t.mkdir(parents=True); (t/'m.csv').write_text('patient_id,exam_id,exam_date,laterality,view,image_path\np,e,,L,CC,a.dcm\n')
    return ['manifest', 'validate', t/'m.csv'], ["m.csv, column 'split': required column is missing"]
@case
def validate_duplicate_image(w, t):
    return ['manifest', 'validate', _manifest(t, 'p,e,,L,CC,a.dcm,train\np,e,,L,MLO,./a.dcm,train\n')], ["line 3, column 'image_path': duplicate image id"]
@case
def validate_bits_not_whole(w, t):
    t.mkdir(parents=True); (t/'m.csv').write_text(HEAD + ',bits_stored\np,e,,L,CC,a.png,train,12.5\n')
    return ['manifest', 'validate', t/'m.csv'], ["m.csv, line 2, column 'bits_stored': must be a whole number in 1..16"]
@case
def validate_root_missing(w, t): return ['manifest', 'validate', w/'good.csv', '--root', t/'nope'], ['nope: the data root folder does not exist']
@case
def validate_without_manifest(w, t): return ['manifest', 'validate'], ['`mammo-nb manifest validate` needs the manifest CSV']
@case
def convert_root_missing(w, t): return ['manifest', 'cbis-ddsm', '--root', t/'CBIS', '--out', t/'m.csv'], ['CBIS: the data root folder does not exist']
@case
def convert_no_tables(w, t): (t/'CBIS').mkdir(parents=True); return ['manifest', 'cbis-ddsm', '--root', t/'CBIS', '--out', t/'m.csv'], ['no CBIS-DDSM case-description CSV']
CBIS_HEADER = ('patient_id,breast_density,left or right breast,image view,abnormality id,abnormality type,mass shape,'
               'mass margins,assessment,pathology,subtlety,image file path,cropped image file path,ROI mask file path\n')
def _cbis(t):
    (t/'CBIS').mkdir(parents=True)
    (t/'CBIS'/'mass_case_description_test_set.csv').write_text(
        CBIS_HEADER + 'P_00001,3,LEFT,CC,1,mass,OVAL,CIRCUMSCRIBED,4,MALIGNANT,4,Mass-Test_P_00001_LEFT_CC/1/2/000000.dcm,,\n')
    return t/'CBIS'
@case
def convert_images_missing_required(w, t):
    return ['manifest', 'cbis-ddsm', '--root', _cbis(t), '--out', t/'m.csv', '--require-files'], ['1 of 1 images named by the tables are not under', 'nothing written']
@case
def convert_out_is_a_folder(w, t): r = _cbis(t); (t/'o.csv').mkdir(); return ['manifest', 'cbis-ddsm', '--root', r, '--out', t/'o.csv'], ['o.csv: --out must be a CSV file to write, but it is a folder']
@case
def convert_flag_for_another_set(w, t): (t/'v').mkdir(parents=True); return ['manifest', 'vindr', '--root', t/'v', '--out', t/'m.csv', '--val-fraction', '0.2'], ['--val-fraction applies to cbis-ddsm, not to vindr']
@case
def convert_val_fraction_out_of_range(w, t): return ['manifest', 'cbis-ddsm', '--root', _cbis(t), '--out', t/'m.csv', '--val-fraction', '1.5'], ['validation fraction must be a number in [0, 1), got 1.5']
@case
def convert_without_out(w, t): return ['manifest', 'cbis-ddsm', '--root', _cbis(t)], ['`mammo-nb manifest cbis-ddsm` needs --out']
@case
def split_without_manifest(w, t): return ['manifest', 'split'], ['`mammo-nb manifest split` needs the manifest CSV']
@case
def split_fraction_out_of_range(w, t): return ['manifest', 'split', w/'good.csv', '--root', w/'data', '--test-fraction', '1.5', '--out', t/'s.csv'], ['test_fraction must be a number in [0, 1), got 1.5']
@case
def split_too_few_patients(w, t): return ['manifest', 'split', w/'good.csv', '--root', w/'data', '--out', t/'s.csv'], ['2 patient(s) cannot fill the split(s) val (train 1, val 0, test 1)']
@case
def fraction_for_validate(w, t): return ['manifest', 'validate', w/'good.csv', '--test-fraction', '0.2'], ['--test-fraction applies to split, not to validate']


# -- cache --
@case
def cache_size_zero(w, t): return ['cache', w/'good.csv', '--root', w/'data', '--cache', t/'c', '--size', '0', '0', '--quiet'], ['size must be at least 16x16']
@case
def cache_margin_out_of_range(w, t): return ['cache', w/'good.csv', '--root', w/'data', '--cache', t/'c', '--margin', '0.7', '--quiet'], ['margin must be in [0, 0.5)']
@case
def cache_workers_zero(w, t): return ['cache', w/'good.csv', '--root', w/'data', '--cache', t/'c', '--workers', '0', '--quiet'], ['workers must be a whole number >= 1']
@case
def cache_manifest_missing(w, t): return ['cache', t/'none.csv', '--root', w/'data', '--cache', t/'c', '--quiet'], ['none.csv: manifest file not found']
@case
def cache_root_missing(w, t): return ['cache', w/'good.csv', '--root', t/'nope', '--cache', t/'c', '--quiet'], ['nope: the data root folder does not exist']
@case
def cache_is_a_file(w, t): t.mkdir(parents=True); (t/'c').write_text('x'); return ['cache', w/'good.csv', '--root', w/'data', '--cache', t/'c', '--quiet'], ['c: the cache must be a folder']


# -- train and evaluate --
@case
def train_all_test_split(w, t):
    m = _manifest(t, 'p,e,,L,CC,a/L_CC.dcm,test\n')
    return ['train', 'mammonet', '--manifest', m, '--root', w/'data', '--out', t/'run'], ["no rows in split 'train' or 'val' (the splits: test 1)", 'mammo-nb manifest split']
@case
def train_unknown_setting(w, t): return ['train', 'mammonet', '--manifest', w/'good.csv', '--out', t/'run', '--set', 'epoch=2'], ["unknown setting 'epoch'"]
@case
def train_bad_value(w, t): return ['train', 'mammonet', '--manifest', w/'good.csv', '--out', t/'run', '--set', 'epochs=0'], ['epochs must be an integer >= 1, got 0']
@case
def train_value_not_a_number(w, t): return ['train', 'mammonet', '--manifest', w/'good.csv', '--out', t/'run', '--set', 'epochs=abc'], ["setting epochs='abc': expected an integer"]
@case
def train_setting_without_equals(w, t): return ['train', 'mammonet', '--manifest', w/'good.csv', '--out', t/'run', '--set', 'epochs'], ["a setting must look like key=value, got 'epochs'"]
@case
def train_manifest_missing(w, t): return ['train', 'mammonet', '--manifest', t/'none.csv', '--root', w/'data', '--out', t/'run'], ['none.csv: manifest file not found']
@case
def train_bad_device(w, t): return ['train', 'mammonet', '--manifest', w/'good.csv', '--out', t/'run', '--device', 'gpu0'], ["unknown device 'gpu0'"]
@case
def evaluate_run_missing(w, t): return ['evaluate', 'mammonet', '--run', t/'norun'], ['norun: run folder not found']
@case
def evaluate_negative_boot(w, t): return ['evaluate', 'mammonet', '--run', w/'runs'/'mammonet', '--n-boot', '-1', '--out', t/'o'], ['n_boot must be a whole number >= 0, got -1']
@case
def evaluate_manifest_missing(w, t): return ['evaluate', 'mammonet', '--run', w/'runs'/'mammonet', '--manifest', t/'none.csv', '--out', t/'o'], ['none.csv: manifest file not found']
@case
def evaluate_truncated_run_record(w, t):
    r = _run(w, t, 'registration', lambda d: _cut(d/'run.json', 200))
    return ['evaluate', 'registration', '--run', r, '--out', t/'o'], ['run.json: the run record: truncated JSON']
@case
def synthesize_image_missing(w, t):
    return ['synthesize', 'lesion', '--run', w/'runs'/'lesion-ldm', '--image', t/'none.dcm', '--mask', t/'none.png', '--out', t/'o'], ['none.dcm']
@case
def demo_unknown_step(w, t): return ['demo', '--steps', 'nope', '--out', t/'d'], ['unknown demo step(s) nope']


# -- one --out, one predict (issue 45, class 7): foreign files, a predict already writing --
@case
def predict_out_holds_other_files(w, t):
    (t/'out').mkdir(parents=True); (t/'out'/'notes.txt').write_text('mine')
    return _predict(w, t, _dcm(t)), ['out: --out holds 1 entry that no predict wrote (e.g. notes.txt)']
@case
def predict_out_locked(w, t):
    (t/'out').mkdir(parents=True); (t/'out'/'.predict.lock').write_text('123')
    return _predict(w, t, _dcm(t)), ['another predict is writing into this folder (.predict.lock exists)']

# -- the lesion LDM's RoI must leave context (issue 45, class 5): a RoI that spans the crop pastes a square --
@case
def lesion_ldm_roi_covers_the_crop(w, t):
    return ['train', 'lesion-ldm', '--manifest', w/'good.csv', '--out', t/'run', '--set', 'patch_size=32', '--set', 'roi_margin=12'], \
           ['roi_margin 12 with patch_size 32 and context 3.0', 'use roi_margin <= 6']
@case
def lesion_ldm_context_too_small(w, t):
    return ['train', 'lesion-ldm', '--manifest', w/'good.csv', '--out', t/'run', '--set', 'context=1.2'], ['use context >= 4/3']
@case
def lesion_ldm_run_whose_roi_covers_the_crop(w, t):
    r = _run(w, t, 'lesion-ldm', lambda d: _set(d/'run.json', 'roi_margin', 20, inner='config'))
    return ['synthesize', 'lesion', '--run', r, '--image', t/'none.dcm', '--mask', t/'none.png', '--out', t/'o'], ['roi_margin 20 with patch_size 32']


# -- cases added with the errors that say what to change (issue 29, item 4) --
MASS = '"[{""category"": ""mass"", ""box"": [10, 10, 30, 30], ""pathology"": ""malignant""}]"'
@case
def cgan_too_few_lesion_exams(w, t):
    m = _manifest(t, f"p1,e1,,L,CC,a/L_CC.dcm,train,{MASS}\np1,e1,,L,MLO,a/L_MLO.dcm,train,\n"
                     "p2,e1,,L,CC,b/L_CC.dcm,val,\np2,e1,,L,MLO,b/L_MLO.dcm,val,\n")
    m.write_text(m.read_text().replace('split\n', 'split,lesions\n', 1))
    return ['train', 'cgan', '--manifest', m, '--root', w/'data', '--out', t/'run', '--set', 'size=64,52'], \
        ['the cGAN needs at least 2 training and 1 validation breast exams', 'train: 1 of 1 two-view breast exams (1 patients); val: 0 of 1',
         'about 8 patients would do']
@case
def malignancy_gold_without_boxes(w, t):
    rows = 'p1,e1,,L,CC,a/L_CC.dcm,test,"[{""category"": ""mass"", ""mask_missing"": ""m/1.png""}]"\n'
    m = _manifest(t, rows); m.write_text(m.read_text().replace('split\n', 'split,lesions\n', 1))
    return ['predict', 'malignancy', '--run', w/'runs'/'malignancy', m, '--root', w/'data', '--cache', t/'c', '--gold', '--out', t/'out'], \
        ['no gold patches in the manifest: its 1 image(s) hold 1 mass lesion(s), 0 with a box', '1 name a mask file that is missing', '--read-boxes']


@pytest.mark.parametrize('name', list(CASES))
def test_malformed_input(world, name):
    t = world/'cases'/name
    argv, fragments = CASES[name](world, t)
    before = _files(world)
    rc, out, err = cli(*argv)
    after = _files(world)
    lines = [l for l in err.splitlines() if l.strip()]
    assert rc == 2, (rc, out[-500:], err[-1500:])
    assert len(lines) == 1 and lines[0].startswith('mammo-nb: error: '), err[-1500:]
    for f in fragments: assert f in lines[0], (f, lines[0])
    assert 'Traceback' not in err and 'Traceback' not in out
    assert after == before, f"left behind: {sorted(after - before)}; removed: {sorted(before - after)}"


@pytest.mark.parametrize('argv', [['predict', 'momminet', '--run', 'reference:momminet', 'x.dcm', '--min-score', 'nan'],
                                  ['predict', 'lesion-ldm', '--run', 'reference:lesion-ldm', 'x.dcm', '--mask', 'm.png', '--guidance', 'nan'],
                                  ['predict', 'lesion-ldm', '--run', 'reference:lesion-ldm', 'x.dcm', '--mask', 'm.png', '--guidance', 'inf'],
                                  ['predict', 'momminet', '--run', 'reference:momminet', 'x.dcm', '--min-score=-inf']])
def test_a_float_option_must_be_a_finite_number(argv):
    "Every float option of every command refuses NaN and infinities while parsing, before anything is read or written."
    import subprocess, sys
    r = subprocess.run([sys.executable, '-c', 'import sys; from mammo_nb.cli import main; sys.exit(main())', *argv], capture_output=True, text=True)
    assert r.returncode == 2 and f"must be a finite number, got {argv[-1].split('=')[-1]!r}" in r.stderr and 'Traceback' not in r.stderr, r.stderr


def test_the_battery_is_large_enough():
    assert len(CASES) >= 150, len(CASES)


# ---- the flags the errors promise exist on every predict, and work (issue 29, item 2) ---------------------------------
def _hash_named(d: Path, view: str, name: str) -> Path:
    img, _ = _synthetic_breast(128, 104, view=view, seed=7)
    _make_dicom(np.round(img * 4095).astype(np.uint16), d/name)     # no ImageLaterality, no ViewPosition, a hash for a name
    return d/name


@pytest.mark.parametrize('system,extra', [('lmvnet', []), ('mammonet', []), ('momminet', []), ('malignancy', ['--boxes', '20,40,60,80']),
                                          ('registration', 'prior'), ('cgan', 'mask'), ('lesion-ldm', 'mask')])
def test_laterality_and_view_flags_reach_every_predict(world, system, extra):
    t = world/'flags'/system; t.mkdir(parents=True)
    f = _hash_named(t, 'CC', '1.3.6.1.4.1.9590.dcm')
    if extra == 'prior': extra = ['--prior', f]
    if extra == 'mask':
        Image.fromarray(((np.mgrid[:128, :104][0] - 64) ** 2 + (np.mgrid[:128, :104][1] - 30) ** 2 < 100).astype(np.uint8) * 255).save(t/'m.png')
        extra = ['--mask', t/'m.png']
    rc, out, err = cli('predict', system, '--run', world/'runs'/system, f, '--out', t/'out', *extra)
    assert rc == 2 and 'cannot determine laterality' in err and not (t/'out').exists(), err[-800:]
    rc, out, err = cli('predict', system, '--run', world/'runs'/system, f, '--out', t/'out', '--laterality', 'R', '--view', 'CC', *extra)
    assert rc == 0, err[-1500:]
    recs = json.loads((t/'out'/'predictions.json').read_text())['predictions']
    assert recs and all(r.get('laterality', 'R') == 'R' for r in recs), recs


def test_a_flag_that_overrides_the_header_is_said(world):
    "Issue 45, class 6: --laterality on a file whose header says otherwise is followed, and said (printout and input_warnings)."
    t = world/'flags'/'override'; t.mkdir(parents=True)
    f = _dcm(t, 'a.dcm')                                                     # ImageLaterality L, ViewPosition CC
    rc, out, err = cli('predict', 'mammonet', '--run', world/'runs'/'mammonet', f, '--out', t/'out', '--laterality', 'R')
    assert rc == 0, err[-1500:]
    res = json.loads((t/'out'/'predictions.json').read_text())
    assert [r['laterality'] for r in res['predictions']] == ['R']
    w = [x for x in res['input_warnings'] if 'ImageLaterality gives L' in x]
    assert len(w) == 1 and 'argument gives R' in w[0] and 'the value given was used, not the header' in w[0] and 'a.dcm' in w[0]
    assert 'warning: ' in out and 'the value given was used' in out
    g = _dcm(t, 'b.dcm', ViewPosition='XCCL')                                # a non-standard view: read as CC, and said
    rc, out, err = cli('predict', 'mammonet', '--run', world/'runs'/'mammonet', g, '--out', t/'out2')
    assert rc == 0, err[-1500:]
    assert any('ViewPosition XCCL was read as CC' in x for x in json.loads((t/'out2'/'predictions.json').read_text())['input_warnings'])


def test_inputs_csv_gives_each_file_its_own(world):
    "An inputs CSV: two hash-named files of one exam, laterality and view per row; a 12-bit PNG's bits in its row."
    t = world/'flags'/'csv'; t.mkdir(parents=True)
    _hash_named(t, 'CC', 'a1.dcm'); _hash_named(t, 'MLO', 'b2.dcm')
    img, _ = _synthetic_breast(128, 104, view='CC', seed=8); Image.fromarray(np.round(img * 4095).astype(np.uint16)).save(t/'c3.png')
    (t/'in.csv').write_text('path,laterality,view,bits\na1.dcm,L,CC,\nb2.dcm,L,MLO,\nc3.png,R,CC,12\n')
    rc, out, err = cli('predict', 'mammonet', '--run', world/'runs'/'mammonet', t/'in.csv', '--out', t/'out')
    assert rc == 0, err[-1500:]
    res = json.loads((t/'out'/'predictions.json').read_text())
    assert sorted((r['laterality'], tuple(r['views'])) for r in res['predictions']) == [('L', ('CC', 'MLO')), ('R', ('CC',))]
    assert res['input_warnings'] == [] and 'nearly black' not in out
    (t/'in.csv').write_text('path,laterality,view\nc3.png,R,CC\n')                       # without its bits: warned, recorded
    rc, out, err = cli('predict', 'mammonet', '--run', world/'runs'/'mammonet', t/'in.csv', '--out', t/'out2')
    res = json.loads((t/'out2'/'predictions.json').read_text())
    assert rc == 0 and len(res['input_warnings']) == 1 and 'give bits_stored=12' in res['input_warnings'][0]
    assert 'warning: ' in out and 'nearly black' in out


# ---- a reused --out (issue 45, class 7): the previous predict's files go, and come back when the new one fails ----
def test_a_reused_out_keeps_nothing_stale_and_a_failed_predict_restores_it(world):
    t = world/'reuse'; f = _dcm(t)
    rc, out, err = cli('predict', 'mammonet', '--run', world/'runs'/'mammonet', f, '--out', t/'out')
    assert rc == 0, err[-800:]
    (t/'out'/'old_figure.png').write_bytes(b'stale')                       # as if an earlier predict had drawn it
    first = (t/'out'/'predictions.json').read_text()
    rc, out, err = cli('predict', 'mammonet', '--run', world/'runs'/'mammonet', f, '--out', t/'out')
    assert rc == 0 and not (t/'out'/'old_figure.png').exists(), err[-800:]
    assert sorted(p.name for p in (t/'out').iterdir()) == ['predictions.json', 'x_L_CC.png'] or not any(p.name.startswith('.') for p in (t/'out').iterdir())
    before = sorted(p.name for p in (t/'out').iterdir()); kept = (t/'out'/'predictions.json').read_text()
    bad = t/'bad'; bad.mkdir(); (bad/'b.dcm').write_bytes(f.read_bytes()[:-300])   # fails while predicting: pixel data cut short
    rc, out, err = cli('predict', 'mammonet', '--run', world/'runs'/'mammonet', bad/'b.dcm', '--out', t/'out')
    assert rc == 2 and 'truncated' in err, err[-800:]
    assert sorted(p.name for p in (t/'out').iterdir()) == before and (t/'out'/'predictions.json').read_text() == kept
