"""The data band's bad-input battery: malformed manifests, tables, folders, images, masks and options.

Each case builds its bad input in a temporary folder and must raise a `MammoInputError` (a `ValueError`) whose
message names the input (the file, folder, CSV line and column, option or exam) and says what is wrong. Together
with `test_dicom_inputs.py` (the reader) and `test_manifest.py` (the manifest cell battery) this covers the cases
of issues 12 and 13: truncated DICOMs, CSV lines and raw cells, missing roots, tables and masks, undated priors,
options out of range.
"""
import argparse, json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from mammo_nb.core import COMMANDS, MammoInputError
from mammo_nb.data.dicom import Geometry, Mammogram, _make_dicom, _synthetic_breast, read_mammogram
from mammo_nb.data.preprocess import preprocess
from mammo_nb.data.manifest import (carve_split, convert_cbis_ddsm, convert_embed, convert_inbreast, convert_vindr,
                                    inbreast_rois, load_manifest, outline_mask, parse_lesions, validate_manifest)
from mammo_nb.data.labels import longitudinal_pairs
from mammo_nb.data.cache import build_cache

IMG, _ = _synthetic_breast(96, 72, view='CC', seed=3)
S12 = np.round(IMG * 4095).astype(np.uint16)
HEAD = 'patient_id,exam_id,exam_date,laterality,view,image_path,split'


def _cli(name, *argv):
    "Run a registered command with its own argument specs (as `mammo-nb NAME ...` does)."
    cmd = COMMANDS[name]
    p = argparse.ArgumentParser(prog=f'mammo-nb {name}')
    for flags, kw in cmd.args: p.add_argument(*flags, **kw)
    return cmd.run(p.parse_args([str(a) for a in argv]))


def _manifest(d: Path, rows: str, name='m.csv') -> Path:
    (d/name).write_text(HEAD + '\n' + rows)
    return d/name


def _image(d: Path, name='a/L_CC.dcm') -> Path:
    p = d/name; p.parent.mkdir(parents=True, exist_ok=True)
    _make_dicom(S12, p, ImageLaterality='L', ViewPosition='CC')
    return p


# ---- each case: (id, function of a tmp folder that must raise, fragments the message must contain) ----------------

def manifest_raw_cell(d):
    _manifest(d, 'p,e,2020-01-01,L,CC,a.dcm,train\n\n"p",e,2020-01-01,Left,MLO,b.dcm,train\n')
    load_manifest(d/'m.csv', root=d)


def manifest_multiline_cell(d):
    _manifest(d, 'p,e,2020-01-01,L,CC,"a\nb.dcm",train\np,e,2020-01-01,R,MLO,c.dcm,holdout\n')
    load_manifest(d/'m.csv', root=d)


def manifest_is_a_folder(d):
    (d/'m.csv').mkdir(); load_manifest(d/'m.csv', root=d)


def manifest_not_found(d):
    load_manifest(d/'nope.csv', root=d)


def manifest_root_missing_with_check_files(d):
    load_manifest(_manifest(d, 'p,e,,L,CC,a.dcm,train\n'), root=d/'no_root', check_files=True)


def manifest_bad_outline(d):
    df = pd.DataFrame([dict(patient_id='p', exam_id='e', exam_date='', laterality='L', view='CC', image_path='a.dcm',
                            split='train', lesions=json.dumps([{'category': 'mass', 'outline': [[1, 2], [3, -4]]}]))])
    df.to_csv(d/'m.csv', index=False); load_manifest(d/'m.csv', root=d)


def manifest_mask_missing_not_text(d):
    validate_manifest(pd.DataFrame([dict(patient_id='p', exam_id='e', exam_date='', laterality='L', view='CC', image_path='a.dcm',
                                         split='train', lesions='[{"category": "mass", "mask_missing": 3}]')]), root=d, path='m.csv')


def manifest_mask_required(d):
    _image(d)
    df = pd.DataFrame([dict(patient_id='p', exam_id='e', exam_date='', laterality='L', view='CC', image_path='a/L_CC.dcm',
                            split='train', lesions='[{"category": "mass", "mask": "masks/gone.png"}]')])
    validate_manifest(df, root=d, path='m.csv', check_files=True, require_masks=True)


def cbis_root_missing(d): convert_cbis_ddsm(d/'CBIS')
def inbreast_root_missing(d): convert_inbreast(d/'INbreast')
def vindr_root_missing(d): convert_vindr(d/'vindr')
def embed_root_missing(d): convert_embed(d/'embed')


def cbis_table_missing(d):
    (d/'CBIS').mkdir(); convert_cbis_ddsm(d/'CBIS', tables=[d/'CBIS'/'mass_case_description_train_set.csv'])


def embed_table_missing(d):
    (d/'embed').mkdir(); convert_embed(d/'embed', table='risk.csv')


CBIS_HEADER = ('patient_id,breast_density,left or right breast,image view,abnormality id,abnormality type,mass shape,'
               'mass margins,assessment,pathology,subtlety,image file path,cropped image file path,ROI mask file path\n')


def cbis_masks_required(d):
    (d/'mass_case_description_train_set.csv').write_text(
        CBIS_HEADER + 'P_00001,3,Left,CC,1,mass,OVAL,CIRCUMSCRIBED,4,MALIGNANT,4,Mass-Training_P_00001_LEFT_CC/1/2/000000.dcm,'
        'Mass-Training_P_00001_LEFT_CC_1/1/3/000000.dcm,Mass-Training_P_00001_LEFT_CC_1/1/3/000001.dcm\n')
    convert_cbis_ddsm(d, require_masks=True)


def cbis_val_fraction_out_of_range(d):
    (d/'mass_case_description_train_set.csv').write_text(CBIS_HEADER)
    convert_cbis_ddsm(d, val_fraction=1.5)


def inbreast_xml_broken(d):
    (d/'1.xml').write_text('<plist><dict><key>Images</key>'); inbreast_rois(d/'1.xml')


def inbreast_roi_without_points(d):
    (d/'2.xml').write_text('<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict><key>Images</key><array><dict>'
                           '<key>ROIs</key><array><dict><key>Name</key><string>Mass</string><key>Point_px</key><array/>'
                           '</dict></array></dict></array></dict></plist>')
    inbreast_rois(d/'2.xml')


def outline_not_points(d): outline_mask([[1.0, 2.0, 3.0]], (10, 10))
def carve_fraction_not_a_number(d): carve_split(['a', 'b'], '0.2')


def _undated_manifest(d):
    rows = [dict(patient_id='A', exam_id=e, exam_date=t, laterality='L', view=v, image_path=f'{e}/{v}.dcm', split='train')
            for e, t in (('a1', '2019-01-01'), ('a2', None)) for v in ('CC', 'MLO')]
    return validate_manifest(pd.DataFrame(rows), root=d)


def prior_with_unknown_date(d): longitudinal_pairs(_undated_manifest(d), undated='raise')
def undated_option_unknown(d): longitudinal_pairs(_undated_manifest(d), undated='zero')


def cache_root_missing(d):
    build_cache(_manifest(d, 'p,e,,L,CC,a.dcm,train\n'), root=d/'no_root', cache=d/'c', size=(64, 48), progress=False)


def cache_mask_required(d):
    _image(d)
    df = pd.DataFrame([dict(patient_id='p', exam_id='e', exam_date='', laterality='L', view='CC', image_path='a/L_CC.dcm',
                            split='train', lesions='[{"category": "mass", "mask": "masks/gone.png"}]')])
    build_cache(df, root=d, cache=d/'c', size=(64, 48), progress=False, require_masks=True)


def cache_truncated_image(d):
    p = _image(d); p.write_bytes(p.read_bytes()[:-500])
    build_cache(pd.DataFrame([dict(patient_id='p', exam_id='e', exam_date='', laterality='L', view='CC', image_path='a/L_CC.dcm',
                                   split='train')]), root=d, cache=d/'c', size=(64, 48), progress=False)


def cache_workers_zero(d):
    build_cache(_manifest(d, 'p,e,,L,CC,a.dcm,train\n'), root=d, cache=d/'c', size=(64, 48), workers=0, progress=False)


def cache_margin_out_of_range(d):
    build_cache(_manifest(d, 'p,e,,L,CC,a.dcm,train\n'), root=d, cache=d/'c', size=(64, 48), margin=0.6, progress=False)


def preprocess_size_too_small(d): preprocess(_image(d), size=(8, 64))
def preprocess_margin_out_of_range(d): preprocess(_image(d), margin=-0.1)


def preprocess_override_on_a_read_image(d):
    preprocess(Mammogram(torch.zeros(1, 64, 48), 'L', 'CC', Geometry((64, 48)), {}, 'x.dcm'), laterality='R')


def png_without_laterality(d):
    Image.fromarray(np.round(IMG * 255).astype(np.uint8)).save(d/'scan0001.png'); read_mammogram(d/'scan0001.png')


def dicom_cut_before_pixels(d):
    p = _image(d); data = p.read_bytes(); p.write_bytes(data[:data.find(b'\xe0\x7f\x10\x00')]); read_mammogram(p)


def cli_manifest_root_missing(d): _cli('manifest', 'vindr', '--root', d/'nope', '--out', d/'m.csv')
def cli_validate_root_missing(d): _cli('manifest', 'validate', _manifest(d, 'p,e,,L,CC,a.dcm,train\n'), '--root', d/'nope')


def cli_flag_for_another_data_set(d):
    (d/'v').mkdir(); _cli('manifest', 'vindr', '--root', d/'v', '--out', d/'m.csv', '--val-fraction', '0.2')


def cli_cache_root_missing(d):
    _cli('cache', _manifest(d, 'p,e,,L,CC,a.dcm,train\n'), '--root', d/'nope', '--cache', d/'c', '--quiet')


CASES = [
    (manifest_raw_cell, ["m.csv, line 4, column 'laterality': must be one of L, R; got 'Left'"]),
    (manifest_multiline_cell, ["m.csv, line 4, column 'split'", "got 'holdout'"]),
    (manifest_is_a_folder, ['m.csv: the manifest is not a file']),
    (manifest_not_found, ['nope.csv: manifest file not found']),
    (manifest_root_missing_with_check_files, ['no_root: the data root folder does not exist']),
    (manifest_bad_outline, ["m.csv, line 2, column 'lesions': lesion 0: outline must be"]),
    (manifest_mask_missing_not_text, ["m.csv, row 0, column 'lesions': lesion 0: mask_missing must be a path"]),
    (manifest_mask_required, ["m.csv, row 0, column 'lesions': lesion 0: mask file not found: 'masks/gone.png'"]),
    (cbis_root_missing, ['CBIS: the data root folder does not exist']),
    (inbreast_root_missing, ['INbreast: the data root folder does not exist']),
    (vindr_root_missing, ['vindr: the data root folder does not exist']),
    (embed_root_missing, ['embed: the data root folder does not exist']),
    (cbis_table_missing, ['mass_case_description_train_set.csv: table not found']),
    (embed_table_missing, ['risk.csv: table not found']),
    (cbis_masks_required, ["mass_case_description_train_set.csv, line 2, column 'ROI mask file path': ROI mask not found",
                           'Mass-Training_P_00001_LEFT_CC_1/1/3/000001.dcm']),
    (cbis_val_fraction_out_of_range, ['validation fraction must be a number in [0, 1), got 1.5']),
    (inbreast_xml_broken, ['1.xml: not an INbreast plist XML']),
    (inbreast_roi_without_points, ["2.xml: ROI 'Mass' has no Point_px outline"]),
    (outline_not_points, ["outline must be a list of [x, y] points"]),
    (carve_fraction_not_a_number, ["validation fraction must be a number in [0, 1), got '0.2'"]),
    (prior_with_unknown_date, ["column 'exam_date'", 'A/a2 (L)', 'no exam_date']),
    (undated_option_unknown, ["undated must be 'warn' or 'raise', got 'zero'"]),
    (cache_root_missing, ['no_root: the data root folder does not exist']),
    (cache_mask_required, ['a/L_CC.dcm: masks/gone.png: file not found']),
    (cache_truncated_image, ['a/L_CC.dcm: pixel data is truncated']),
    (cache_workers_zero, ['workers must be a whole number >= 1', 'got 0']),
    (cache_margin_out_of_range, ['margin must be in [0, 0.5)', 'got 0.6']),
    (preprocess_size_too_small, ['size must be at least 16x16, got (8, 64)']),
    (preprocess_margin_out_of_range, ['margin must be in [0, 0.5)', 'got -0.1']),
    (preprocess_override_on_a_read_image, ['x.dcm: laterality/view/bits_stored override the reading of a file']),
    (png_without_laterality, ['scan0001.png: cannot determine laterality', '--laterality L|R on the command line']),
    (dicom_cut_before_pixels, ['L_CC.dcm: pixel data is missing: the header describes a 96x72 image', 'cut short']),
    (cli_manifest_root_missing, ['nope: the data root folder does not exist']),
    (cli_validate_root_missing, ['nope: the data root folder does not exist']),
    (cli_flag_for_another_data_set, ['--val-fraction applies to cbis-ddsm, not to vindr']),
    (cli_cache_root_missing, ['nope: the data root folder does not exist']),
]


@pytest.mark.parametrize('make,fragments', CASES, ids=[c[0].__name__ for c in CASES])
def test_bad_input(tmp_path, make, fragments):
    with pytest.raises(MammoInputError) as e:
        make(tmp_path)
    msg = str(e.value)
    assert isinstance(e.value, ValueError)
    for f in fragments: assert f in msg, msg
    assert 'Traceback' not in msg


def test_the_battery_is_large_enough():
    assert len(CASES) >= 30
