"""Manifests (band 13) and labels (band 14): converters on fixture tables in the official formats, the
bad-manifest battery, the `mammo-nb manifest` command and the schema file in `data_manifests/`.

Expected converter outputs live in `data_manifests/expected/`; after an intended change, regenerate them with
`MAMMO_REGEN_EXPECTED=1 pytest tests/test_manifest.py` and review the diff.
"""
import argparse, json, os, shutil, warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mammo_nb.core import COMMANDS, DATASETS, MammoInputError
from mammo_nb.data import manifest as M
from mammo_nb.data.manifest import (convert_cbis_ddsm, convert_embed, convert_inbreast, convert_vindr, load_manifest,
                                    manifest_schema_dict, parse_lesions, save_manifest, validate_manifest)
from mammo_nb.data.labels import ipsilateral_pairs, longitudinal_pairs, risk_labels, triview_sets

REPO = Path(__file__).resolve().parents[1]
MANIFESTS = REPO/'data_manifests'
EXPECTED = MANIFESTS/'expected'
REGEN = os.environ.get('MAMMO_REGEN_EXPECTED') == '1'


def _check_expected(df, name, tmp_path):
    "Compare a converter's output (as the canonical CSV) with data_manifests/expected/<name>.csv."
    out = save_manifest(df, tmp_path/'_converted'/f'{name}.csv')
    exp = EXPECTED/f'{name}.csv'
    if REGEN:
        EXPECTED.mkdir(parents=True, exist_ok=True); shutil.copy(out, exp)
    assert exp.exists(), f"missing {exp.name}; run with MAMMO_REGEN_EXPECTED=1"
    got = pd.read_csv(out, dtype=str, keep_default_na=False)
    want = pd.read_csv(exp, dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(got, want)
    # the checked-in file is itself a valid manifest (paths relative to a data root, no pixels)
    load_manifest(exp, root=tmp_path)


def _write(path, text):
    path = Path(path); path.parent.mkdir(parents=True, exist_ok=True); path.write_text(text)
    return path


def _write_dicom(path, arr):
    "A minimal 8-bit DICOM image (for CBIS-DDSM masks and crops)."
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage
    path = Path(path); path.parent.mkdir(parents=True, exist_ok=True)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = '1.2.826.0.1.3680043.8.498.1'
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset(); ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Rows, ds.Columns = arr.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, 'MONOCHROME2'
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = np.ascontiguousarray(arr, dtype=np.uint8).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


# ---------------------------------------------------------------------------------------------------------
# Fixture tables in the official column formats
# ---------------------------------------------------------------------------------------------------------
CBIS_MASS = ('patient_id,breast_density,left or right breast,image view,abnormality id,abnormality type,mass shape,'
             'mass margins,assessment,pathology,subtlety,image file path,cropped image file path,ROI mask file path\n')
CBIS_CALC = ('patient_id,breast density,left or right breast,image view,abnormality id,abnormality type,calc type,'
             'calc distribution,assessment,pathology,subtlety,image file path,cropped image file path,ROI mask file path\n')


def _cbis_row(kind, split, pid, side, view, abn, a, b, assess, path, subtle, density):
    top = f"{kind}-{split}_{pid}_{side}_{view}"
    ab = 'mass' if kind == 'Mass' else 'calcification'
    return (f"{pid},{density},{side},{view},{abn},{ab},{a},{b},{assess},{path},{subtle},"
            f"{top}/1.3.6.1.4.1.9590.100.1.2.1{abn}/1.3.6.1.4.1.9590.100.1.2.2{abn}/000000.dcm,"
            f"{top}_{abn}/1.3.6.1.4.1.9590.100.1.2.3{abn}/1.3.6.1.4.1.9590.100.1.2.4{abn}/000000.dcm,"
            f"\"{top}_{abn}/1.3.6.1.4.1.9590.100.1.2.3{abn}/1.3.6.1.4.1.9590.100.1.2.4{abn}/000001.dcm\n\"\n")


def write_cbis(root):
    root = Path(root)
    _write(root/'mass_case_description_train_set.csv', CBIS_MASS
           + _cbis_row('Mass', 'Training', 'P_00001', 'LEFT', 'CC', 1, 'IRREGULAR-ARCHITECTURAL_DISTORTION', 'SPICULATED', 4, 'MALIGNANT', 4, 3)
           + _cbis_row('Mass', 'Training', 'P_00001', 'LEFT', 'MLO', 1, 'IRREGULAR-ARCHITECTURAL_DISTORTION', 'SPICULATED', 4, 'MALIGNANT', 4, 3)
           + _cbis_row('Mass', 'Training', 'P_00004', 'LEFT', 'CC', 1, 'ARCHITECTURAL_DISTORTION', 'ILL_DEFINED', 4, 'BENIGN', 3, 3)
           + _cbis_row('Mass', 'Training', 'P_00004', 'LEFT', 'CC', 2, 'OVAL', 'CIRCUMSCRIBED', 2, 'BENIGN_WITHOUT_CALLBACK', 5, 3)
           + _cbis_row('Mass', 'Training', 'P_00005', 'RIGHT', 'CC', 1, 'OVAL', 'OBSCURED', 3, 'BENIGN', 2, 2))
    _write(root/'calc_case_description_train_set.csv', CBIS_CALC
           + _cbis_row('Calc', 'Training', 'P_00005', 'RIGHT', 'CC', 1, 'AMORPHOUS', 'CLUSTERED', 5, 'MALIGNANT', 3, 2)
           + _cbis_row('Calc', 'Training', 'P_00007', 'LEFT', 'MLO', 1, 'PLEOMORPHIC', 'SEGMENTAL', 0, 'BENIGN', 1, 0))
    _write(root/'mass_case_description_test_set.csv', CBIS_MASS
           + _cbis_row('Mass', 'Test', 'P_00016', 'LEFT', 'CC', 1, 'LOBULATED', 'MICROLOBULATED', 4, 'MALIGNANT', 5, 4))
    _write(root/'calc_case_description_test_set.csv', CBIS_CALC
           + _cbis_row('Calc', 'Test', 'P_00007', 'RIGHT', 'CC', 1, 'PUNCTATE', 'REGIONAL', 2, 'BENIGN_WITHOUT_CALLBACK', 2, 1))
    # TCIA's download layout for one full image: the CSV path does not exist, its top folder holds one .dcm
    cbis = root/'CBIS-DDSM'
    _write_dicom(cbis/'Mass-Training_P_00001_LEFT_CC'/'07-20-2016-DDSM-74994'/'1.000000-full mammogram images-24515'/'1-1.dcm',
                 np.zeros((40, 30), np.uint8))
    # ... and its ROI mask in the same layout, next to the cropped image: the file of the image's size is the mask
    roi = cbis/'Mass-Training_P_00001_LEFT_CC_1'/'07-21-2016-DDSM-1'/'1.000000-ROI mask images-1'
    mask = np.zeros((40, 30), np.uint8); mask[12:20, 5:9] = 255
    _write_dicom(roi/'1-1.dcm', (np.arange(8 * 4).reshape(8, 4) * 7 % 251).astype(np.uint8))   # the crop, 8x4
    _write_dicom(roi/'1-2.dcm', mask)
    # one mask at the very path of the table; every other mask file is missing (a download without its masks)
    _write(cbis/'Mass-Training_P_00005_RIGHT_CC_1/1.3.6.1.4.1.9590.100.1.2.31/1.3.6.1.4.1.9590.100.1.2.41/000001.dcm', 'x')
    return root


INBREAST_CSV = ('Patient ID;Patient age;Laterality;View;Acquisition date;File Name;ACR;Bi-Rads\n'
                'removed;removed;R;CC;201001;22678622;2;4c\n'
                'removed;removed;R;MLO;201001;22678646;2;4c\n'
                'removed;removed;L;CC;201001;22678694;2;1\n'
                'removed;removed;L;MLO;201001;22678720;2;1\n'
                'removed;removed;L;CC;200904;50997304;3;5\n'
                'removed;removed;L;MLO;200904;50997250;3;5\n'
                ';;;;;;;\n')
INBREAST_FILES = {'22678622': 'a1b2c3d4e5f60718_MG_R_CC_ANON', '22678646': 'a1b2c3d4e5f60718_MG_R_ML_ANON',
                  '22678694': 'a1b2c3d4e5f60718_MG_L_CC_ANON', '22678720': 'a1b2c3d4e5f60718_MG_L_ML_ANON',
                  '50997304': '0f1e2d3c4b5a6978_MG_L_CC_ANON', '50997250': '0f1e2d3c4b5a6978_MG_L_ML_ANON'}


def _plist(rois):
    "An INbreast-style XML (plist) with the given (name, points) ROIs."
    def roi(name, pts):
        ps = ''.join(f"<string>({x:.6f}, {y:.6f})</string>" for x, y in pts)
        return (f"<dict><key>Area</key><real>0</real><key>Center</key><string>(0, 0)</string>"
                f"<key>IndexInImage</key><integer>0</integer><key>Name</key><string>{name}</string>"
                f"<key>NumberOfPoints</key><integer>{len(pts)}</integer><key>Point_mm</key><array/>"
                f"<key>Point_px</key><array>{ps}</array><key>Type</key><integer>19</integer></dict>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n'
            '<plist version="1.0"><dict><key>Images</key><array><dict><key>ImageIndex</key><integer>0</integer>'
            f"<key>NumberOfROIs</key><integer>{len(rois)}</integer><key>ROIs</key><array>"
            + ''.join(roi(n, p) for n, p in rois) + '</array></dict></array></dict></plist>\n')


def write_inbreast(root):
    root = Path(root)
    _write(root/'INbreast Release 1.0'/'INbreast.csv', INBREAST_CSV)
    for num, rest in INBREAST_FILES.items(): _write(root/'INbreast Release 1.0'/'AllDICOMs'/f'{num}_{rest}.dcm', '')
    _write(root/'INbreast Release 1.0'/'AllXML'/'22678622.xml',
           _plist([('Mass', [(1200.5, 1650.25), (1302.0, 1600.0), (1250.0, 1710.75)]), ('Calcification', [(900.0, 800.0)]),
                   ('Cluster', [(880.0, 790.0), (930.0, 790.0), (930.0, 830.0)])]))
    _write(root/'INbreast Release 1.0'/'AllXML'/'50997250.xml',
           _plist([('Spiculated Region', [(400.0, 500.0), (480.0, 520.0), (450.0, 610.0)])]))
    return root


VINDR_BREAST = 'study_id,series_id,image_id,laterality,view_position,height,width,breast_birads,breast_density,split\n'
VINDR_FINDING = ('study_id,series_id,image_id,laterality,view_position,height,width,breast_birads,breast_density,'
                 'finding_categories,finding_birads,xmin,ymin,xmax,ymax,split\n')


def write_vindr(root):
    root = Path(root)
    b, f = [VINDR_BREAST], [VINDR_FINDING]
    for study, split, birads in (('3f1a0c7e', 'training', {'L': 4, 'R': 1}), ('9b2d44aa', 'test', {'L': 2, 'R': 2})):
        for side in 'LR':
            for view in ('CC', 'MLO'):
                img = f"{study}{side}{view}"
                b.append(f"{study},s{study},{img},{side},{view},3518,2800,BI-RADS {birads[side]},DENSITY C,{split}\n")
                if study == '3f1a0c7e' and side == 'L':
                    f.append(f"{study},s{study},{img},{side},{view},3518,2800,BI-RADS 4,DENSITY C,\"['Mass']\",BI-RADS 4,"
                             f"1203.5,{1500 if view == 'CC' else 1320}.25,1390.0,{1688 if view == 'CC' else 1490}.75,{split}\n")
                    if view == 'CC':
                        f.append(f"{study},s{study},{img},{side},{view},3518,2800,BI-RADS 4,DENSITY C,"
                                 f"\"['Suspicious Calcification', 'Focal Asymmetry']\",BI-RADS 3,700.0,900.0,760.5,950.0,{split}\n")
                else:
                    f.append(f"{study},s{study},{img},{side},{view},3518,2800,BI-RADS {birads[side]},DENSITY C,['No Finding'],,,,,,{split}\n")
    _write(root/'breast-level_annotations.csv', ''.join(b))
    _write(root/'finding_annotations.csv', ''.join(f))
    return root


EMBED_MIRAI = ('patient_id,exam_id,exam_date,laterality,view,file_path,years_to_cancer,years_to_last_followup,split_group\n'
               + ''.join(f"p0001,{e},{d},{s},{v},p0001/{e}/{s}_{v}.png,100,{fu},train\n"
                         for e, d, fu in (('x101', '2014-02-03', 6.1), ('x102', '2015-02-09', 5.1), ('x103', '2017-03-01', 3.0))
                         for s in 'LR' for v in ('CC', 'MLO') if not (e == 'x102' and s == 'R' and v == 'MLO'))
               + ''.join(f"p0002,x201,2016-05-05,{s},{v},p0002/x201/{s}_{v}.png,{ytc},1.2,dev\n"
                         for s, ytc in (('L', 1.2), ('R', 100)) for v in ('CC', 'MLO'))
               + 'p0003,x301,20160812,L,CC,p0003/x301/L_CC.png,0,0,test\n'
               + 'p0003,x301,20160812,L,XCCL,p0003/x301/L_XCCL.png,0,0,test\n')

EMBED_NATIVE = ('empi_anon,acc_anon,study_date_anon,ImageLateralityFinal,ViewPosition,anon_dicom_path,FinalImageType,'
                'years_to_cancer,years_to_last_followup,tissueden,Manufacturer\n'
                '10000001,6000001,2015-03-04,L,CC,/mnt/NAS2/mammo/anon_dicom/cohort_1/10000001/6000001/1.dcm,2D,100,4.5,2,HOLOGIC\n'
                '10000001,6000001,2015-03-04,L,CC,/mnt/NAS2/mammo/anon_dicom/cohort_1/10000001/6000001/2.dcm,cview,100,4.5,2,HOLOGIC\n'
                '10000001,6000001,2015-03-04,R,MLO,/mnt/NAS2/mammo/anon_dicom/cohort_1/10000001/6000001/3.dcm,2D,100,4.5,2,HOLOGIC\n'
                '10000002,6000002,2016-01-20,R,CC,/mnt/NAS2/mammo/anon_dicom/cohort_1/10000002/6000002/1.dcm,2D,2.25,2.25,4,GE MEDICAL SYSTEMS\n')


# ---------------------------------------------------------------------------------------------------------
# Converters
# ---------------------------------------------------------------------------------------------------------
def test_cbis_ddsm(tmp_path):
    with pytest.warns(M.ManifestWarning, match='CBIS-DDSM: 7 of 9 ROI mask files not found'):
        df = convert_cbis_ddsm(write_cbis(tmp_path))
    _check_expected(df, 'cbis-ddsm', tmp_path)
    by = {(r.patient_id, r.laterality, r.view): r for r in df.itertuples()}
    assert len(df) == 7  # 9 abnormality rows -> 7 images (P_00004 L CC twice, P_00005 R CC in mass and calc)
    # TCIA layout located; other paths are the CSV's under CBIS-DDSM/
    assert by['P_00001', 'L', 'CC'].image_path == ('CBIS-DDSM/Mass-Training_P_00001_LEFT_CC/07-20-2016-DDSM-74994/'
                                                   '1.000000-full mammogram images-24515/1-1.dcm')
    assert by['P_00001', 'L', 'MLO'].image_path.startswith('CBIS-DDSM/Mass-Training_P_00001_LEFT_MLO/1.3.6')
    # mass + calc of one image merged; image-level BI-RADS / pathology = most severe
    r = by['P_00005', 'R', 'CC']
    les = parse_lesions(r.lesions)
    assert [l['category'] for l in les] == ['calcification', 'mass'] and (r.birads, r.pathology) == ('5', 'malignant')
    assert les[0]['calc_type'] == 'AMORPHOUS' and les[1]['margins'] == 'OBSCURED'
    assert les[1]['mask'] == ('CBIS-DDSM/Mass-Training_P_00005_RIGHT_CC_1/1.3.6.1.4.1.9590.100.1.2.31/'
                              '1.3.6.1.4.1.9590.100.1.2.41/000001.dcm')  # the "\n" inside the CSV cell is gone
    assert les[0]['mask'] is None and les[0]['mask_missing'].startswith('CBIS-DDSM/Calc-Training_P_00005_RIGHT_CC_1/')
    # the TCIA layout's mask is found: of the two files in its folder, the one of the image's size
    assert parse_lesions(by['P_00001', 'L', 'CC'].lesions)[0]['mask'] == \
        'CBIS-DDSM/Mass-Training_P_00001_LEFT_CC_1/07-21-2016-DDSM-1/1.000000-ROI mask images-1/1-2.dcm'
    # never a mask path that does not exist
    for r in df.itertuples():
        for l in parse_lesions(r.lesions): assert l['mask'] is None or (tmp_path/l['mask']).is_file(), l
    assert len(df.attrs['missing_masks']) == 7 and {'image_path', 'mask', 'table', 'line', 'why'} <= set(df.attrs['missing_masks'][0])
    r = by['P_00004', 'L', 'CC']
    assert [l['abnormality_id'] for l in parse_lesions(r.lesions)] == [1, 2] and (r.birads, r.pathology) == ('4', 'benign')
    # patient in a training and a test table -> test everywhere; density 0 -> empty; assessment 0 kept
    assert by['P_00007', 'L', 'MLO'].split == 'test' and by['P_00007', 'R', 'CC'].split == 'test'
    assert pd.isna(by['P_00007', 'L', 'MLO'].density) and by['P_00007', 'L', 'MLO'].birads == '0'
    assert by['P_00016', 'L', 'CC'].split == 'test'
    # a patient-level val split carved out of the training patients (every trainer needs one): 1 of the 3 here
    splits = df.groupby('patient_id').split.agg(set)
    assert splits.map(len).eq(1).all() and sorted(splits.map(min)) == ['test', 'test', 'train', 'train', 'val']
    assert by['P_00001', 'L', 'CC'].density == 'C' and df.exam_date.isna().all()
    assert (df.exam_id == df.patient_id).all() and (df.dataset == 'cbis-ddsm').all()


def test_cbis_ddsm_read_boxes(tmp_path):
    root = write_cbis(tmp_path)
    folder = root/'CBIS-DDSM'/'Mass-Training_P_00001_LEFT_CC_1'/'07-21-2016-DDSM-1'/'1.000000-ROI mask images-1'
    mask = np.zeros((40, 30), np.uint8); mask[12:20, 5:9] = 255
    crop = (np.arange(8 * 4).reshape(8, 4) * 7 % 251).astype(np.uint8)  # greyscale: not a mask
    _write_dicom(folder/'1-1.dcm', crop)  # the swapped case: the crop comes first
    _write_dicom(folder/'1-2.dcm', mask)
    df = convert_cbis_ddsm(root, read_boxes=True)
    les = parse_lesions(df[(df.patient_id == 'P_00001') & (df.view == 'CC')].iloc[0].lesions)[0]
    assert les['box'] == [5, 12, 9, 20]
    assert les['mask'] == 'CBIS-DDSM/Mass-Training_P_00001_LEFT_CC_1/07-21-2016-DDSM-1/1.000000-ROI mask images-1/1-2.dcm'
    others = [l for r in df[df.patient_id != 'P_00001'].lesions for l in parse_lesions(r)]
    assert others and all(l['box'] is None for l in others)  # no mask files -> no box, no guess


def test_cbis_ddsm_bad_rows(tmp_path):
    _write(tmp_path/'mass_case_description_train_set.csv', CBIS_MASS
           + _cbis_row('Mass', 'Training', 'P_00001', 'LEFT', 'CC', 1, 'OVAL', 'SPICULATED', 4, 'MALIGNANT', 4, 3)
           + _cbis_row('Mass', 'Training', 'P_00002', 'MIDDLE', 'CC', 1, 'OVAL', 'SPICULATED', 9, 'MALIGNANT', 4, 3)
           + _cbis_row('Mass', 'Training', 'P_00003', 'LEFT', 'LM', 1, 'OVAL', 'SPICULATED', 4, 'CANCER', 4, 7))
    with pytest.raises(MammoInputError) as e:
        convert_cbis_ddsm(tmp_path)
    probs = e.value.problems
    assert len(probs) == 5, probs
    # CSV lines (header = line 1); each row of these tables spans two lines (a line break inside a quoted cell)
    assert "mass_case_description_train_set.csv, line 4, column 'left or right breast': must be LEFT or RIGHT, got 'MIDDLE'" in probs
    assert any("line 4, column 'assessment'" in p for p in probs)
    assert any("line 6, column 'image view': must be CC or MLO, got 'LM'" in p for p in probs)
    assert any("line 6, column 'pathology'" in p for p in probs) and any("line 6, column 'breast_density'" in p for p in probs)
    (tmp_path/'empty').mkdir()
    with pytest.raises(MammoInputError, match='no CBIS-DDSM case-description CSV'):
        convert_cbis_ddsm(tmp_path/'empty')
    with pytest.raises(MammoInputError, match='nope: the data root folder does not exist'):
        convert_cbis_ddsm(tmp_path/'nope')


def test_inbreast(tmp_path):
    df = convert_inbreast(write_inbreast(tmp_path))
    _check_expected(df, 'inbreast', tmp_path)
    assert len(df) == 6 and df.patient_id.nunique() == 2
    assert df.groupby('patient_id').split.nunique().eq(1).all()  # patient-level split
    r = df[df.image_path.str.contains('22678622')].iloc[0]
    assert (r.patient_id, r.exam_id, r.laterality, r['view'], r.density, r.birads) == \
        ('a1b2c3d4e5f60718', 'a1b2c3d4e5f60718_201001', 'R', 'CC', 'B', '4C')
    assert r.exam_date == pd.Timestamp('2010-01-01') and r.image_path.startswith('INbreast Release 1.0/AllDICOMs/')
    les = parse_lesions(r.lesions)
    assert [(l['category'], l['box']) for l in les] == [
        ('mass', [1200.5, 1600.0, 1302.0, 1710.75]), ('calcification', [900.0, 800.0, 900.0, 800.0]),
        ('calcification_cluster', [880.0, 790.0, 930.0, 830.0])]
    assert all(l['pathology'] is None for l in les)
    assert parse_lesions(df[df.image_path.str.contains('50997250')].iloc[0].lesions)[0]['category'] == 'spiculated_region'
    assert parse_lesions(df[df.image_path.str.contains('22678694')].iloc[0].lesions) == []
    assert (df.vendor == 'Siemens').all()
    # a different seed may move patients, never splits one
    df2 = convert_inbreast(tmp_path, split_seed=5)
    assert df2.groupby('patient_id').split.nunique().eq(1).all()


def test_inbreast_problems(tmp_path):
    root = write_inbreast(tmp_path)
    csv = root/'INbreast Release 1.0'/'INbreast.csv'
    csv.write_text(INBREAST_CSV.replace('R;MLO;201001', 'X;MLO;Jan2010').replace('50997304;3;5', '50997304;5;7')
                   + 'removed;removed;L;CC;201001;99999999;2;1\n')
    (root/'INbreast Release 1.0'/'AllXML'/'50997250.xml').write_text('<plist><dict><key>Images</key>')
    with pytest.raises(MammoInputError) as e:
        convert_inbreast(root)
    probs = e.value.problems
    assert len(probs) == 6, probs
    for frag in ("line 3, column 'Laterality'", "line 3, column 'Acquisition date'", "line 6, column 'ACR'",
                 "line 6, column 'Bi-Rads'", "line 7, column 'File Name': " "INbreast Release 1.0/AllXML/50997250.xml",
                 "line 9, column 'File Name': no DICOM named 99999999_*.dcm"):
        assert any(frag in p for p in probs), (frag, probs)


def test_vindr(tmp_path):
    df = convert_vindr(write_vindr(tmp_path))
    _check_expected(df, 'vindr', tmp_path)
    assert len(df) == 8 and set(df.split) == {'train', 'test'}
    r = df[(df.patient_id == '3f1a0c7e') & (df.laterality == 'L') & (df.view == 'CC')].iloc[0]
    assert (r.birads, r.density, r.image_path, r.height, r.width) == ('4', 'C', 'images/3f1a0c7e/3f1a0c7eLCC.dicom', 3518, 2800)
    les = parse_lesions(r.lesions)
    assert [(l['category'], l['birads'], l['box']) for l in les] == [
        ('mass', '4', [1203.5, 1500.25, 1390.0, 1688.75]), ('calcification', '3', [700.0, 900.0, 760.5, 950.0])]
    assert les[1]['categories'] == ['calcification', 'focal_asymmetry']
    assert all(parse_lesions(v) == [] for v in df[df.laterality == 'R'].lesions)
    # the finding table is optional
    (tmp_path/'finding_annotations.csv').unlink()
    assert (convert_vindr(tmp_path).lesions == '[]').all()


def test_vindr_problems(tmp_path):
    root = write_vindr(tmp_path)
    p = root/'breast-level_annotations.csv'
    p.write_text(p.read_text().replace('BI-RADS 1,DENSITY C,training', 'BI-RADS 9,DENSITY E,holdout', 1))
    with pytest.raises(MammoInputError) as e:
        convert_vindr(root)
    assert len(e.value.problems) == 3 and all('breast-level_annotations.csv, line 4' in x for x in e.value.problems)
    p.write_text(p.read_text().replace('view_position', 'view'))
    with pytest.raises(MammoInputError, match="missing column\\(s\\) 'view_position'"):
        convert_vindr(root)


def test_embed_mirai_layout(tmp_path):
    _write(tmp_path/'tables'/'risk.csv', EMBED_MIRAI)
    with pytest.warns(UserWarning, match='dropped 1 of 17 rows'):
        df = convert_embed(tmp_path, table='tables/risk.csv')
    _check_expected(df, 'embed', tmp_path)
    assert len(df) == 16
    assert np.isinf(df[df.patient_id == 'p0001'].years_to_cancer).all()   # Mirai's 100 = never
    assert df[(df.patient_id == 'p0002') & (df.laterality == 'L')].years_to_cancer.tolist() == [1.2, 1.2]
    assert set(df[df.patient_id == 'p0002'].split) == {'val'} and set(df[df.patient_id == 'p0003'].split) == {'test'}
    # the converted table pairs longitudinally and gives the expected labels
    lp = longitudinal_pairs(df)
    r = lp[(lp.exam_id == 'x103') & (lp.laterality == 'R')].iloc[0]
    assert r.prior_exam_id == 'x102' and (r.previous_mask_cc, r.previous_mask_mlo) == (1.0, 0.0)
    assert abs(r.time_gap - (pd.Timestamp('2017-03-01') - pd.Timestamp('2015-02-09')).days / 365.25) < 1e-5
    t, m = risk_labels(lp.years_to_cancer, lp.years_to_last_followup, max_followup=5)
    x103 = (lp.exam_id == 'x103').to_numpy()
    assert (t[x103] == 0).all() and m[x103].tolist() == [[1, 1, 1, 0, 0]] * 2
    p2l = ((lp.exam_id == 'x201') & (lp.laterality == 'L')).to_numpy()
    assert t[p2l].tolist() == [[0, 1, 1, 1, 1]] and m[p2l].tolist() == [[1, 1, 1, 1, 1]]


def test_embed_native_columns(tmp_path):
    root = tmp_path/'embed'
    _write(root/'EMBED_OpenData_metadata_risk.csv', EMBED_NATIVE)
    with pytest.warns(UserWarning, match='dropped 1 of 4 rows'):
        df = convert_embed(root, strip_prefix='/mnt/NAS2/mammo/anon_dicom/')  # the table is found under the root
    _check_expected(df, 'embed-native', tmp_path)
    assert df.image_path.tolist() == ['cohort_1/10000001/6000001/1.dcm', 'cohort_1/10000001/6000001/3.dcm',
                                      'cohort_1/10000002/6000002/1.dcm']
    assert df.density.tolist() == ['B', 'B', 'D'] and df.vendor.tolist()[-1] == 'GE MEDICAL SYSTEMS'
    assert df.exam_id.tolist() == ['6000001', '6000001', '6000002']
    assert df.groupby('patient_id').split.nunique().eq(1).all()
    # without strip_prefix the absolute paths lie outside the root: the validator says so for every row
    with pytest.warns(UserWarning), pytest.raises(MammoInputError) as e:
        convert_embed(root)
    assert len(e.value.problems) == 3 and all('lies outside the data root' in p for p in e.value.problems)


def test_embed_problems(tmp_path):
    _write(tmp_path/'risk.csv', 'patient_id,laterality,view,file_path,years_to_cancer,exam_date,split_group\n'
           'a,L,CC,a/1.png,-1,2015-01-01,train\na,B,CC,a/2.png,abc,2015-13-01,train\n'
           'b,R,MLO,b/1.png,1,,holdout\nc,R,CC,c/1.png,100,,train\n')
    with pytest.raises(MammoInputError) as e:
        convert_embed(tmp_path)
    probs = e.value.problems
    for frag in ("line 2, column 'years_to_cancer': must be >= 0", "line 3, column 'laterality'",
                 "line 3, column 'years_to_cancer': not a number", "line 3, column 'exam_date': unparsable",
                 "line 4, column 'split_group': unknown split 'holdout'", "line 3, column 'patient_id': the row has neither",
                 "line 4, column 'patient_id': the row has neither", "line 5, column 'patient_id': the row has neither"):
        assert any(frag in p for p in probs), (frag, probs)
    assert len(probs) == 8, probs
    _write(tmp_path/'other.csv', 'patient_id,laterality,view,file_path,years_to_cancer\n')
    with pytest.raises(MammoInputError, match='found 2 CSV tables'):
        convert_embed(tmp_path)


def test_converters_registered():
    names = [n for n in DATASETS.names() if DATASETS.entry(n).meta.get('kind') == 'manifest']
    assert names == ['cbis-ddsm', 'embed', 'inbreast', 'vindr']
    assert DATASETS['vindr'] is convert_vindr


# ---------------------------------------------------------------------------------------------------------
# The bad-manifest battery
# ---------------------------------------------------------------------------------------------------------
def _good():
    return pd.DataFrame({
        'patient_id': ['00123', '00123', '00123', '00123', 'p2'],
        'exam_id': ['e1', 'e1', 'e1', 'e1', 'e9'],
        'exam_date': ['2019-05-01'] * 4 + [''],
        'laterality': ['L', 'L', 'R', 'R', 'L'], 'view': ['CC', 'MLO', 'CC', 'MLO', 'CC'],
        'image_path': ['a/L_CC.dcm', 'a/L_MLO.dcm', 'a/R_CC.dcm', 'a/R_MLO.dcm', 'b/L_CC.dcm'],
        'split': ['train'] * 4 + ['test'],
        'years_to_cancer': ['inf', 'inf', '2.5', '2.5', ''], 'years_to_last_followup': ['3', '3', '2.5', '2.5', ''],
        'density': ['A', 'A', 'B', 'B', ''], 'birads': ['1', '1', '4B', '4B', '0'],
        'pathology': ['', '', 'malignant', 'malignant', ''],
        'lesions': ['[]', '[]', '[{"box": [1, 2, 3, 4], "category": "mass", "birads": "4B", "pathology": "malignant", "mask": "m/1.png"}]', '', ''],
        'nipple_xy': ['[10, 20.5]', '', '', '', ''], 'gaze_path': ['g/1.npy', '', '', '', ''], 'vendor': ['GE', 'GE', '', '', ''],
        'site_notes': ['x', 'y', 'z', 'w', 'v']})


BAD_CELLS = [ # (column, row, bad value, expected message fragment)
    ('laterality', 1, 'LEFT', "must be one of L, R; got 'LEFT'"),
    ('laterality', 1, 'B', "must be one of L, R; got 'B'"),
    ('view', 2, 'ML', "must be one of CC, MLO; got 'ML'"),
    ('view', 2, 'XCCL', "must be one of CC, MLO; got 'XCCL'"),
    ('split', 0, 'training', "must be one of train, val, test; got 'training'"),
    ('patient_id', 3, '', 'missing value'),
    ('image_path', 4, '', 'missing value'),
    ('image_path', 1, 'a/./L_CC.dcm', 'duplicate image id: the same image_path as row 0'),
    ('image_path', 2, '../outside.dcm', "path '../outside.dcm' lies outside the data root"),
    ('image_path', 2, '/etc/passwd', "path '/etc/passwd' lies outside the data root"),
    ('gaze_path', 0, '../../g.npy', "path '../../g.npy' lies outside the data root"),
    ('exam_date', 4, '31/12/2020', "unparsable date '31/12/2020'"),
    ('exam_date', 4, '2020-13-01', "unparsable date '2020-13-01'"),
    ('exam_date', 2, '2019-05-02', "exam 'e1' of patient '00123' is dated 2019-05-02 here but 2019-05-01 in row 0"),
    ('years_to_cancer', 0, '-1', 'must be >= 0'),
    ('years_to_cancer', 0, 'never', "'never' is not a number"),
    ('years_to_last_followup', 1, 'inf', 'must be finite'),
    ('years_to_last_followup', 1, '-0.5', 'must be >= 0'),
    ('density', 0, 'E', 'must be one of A, B, C, D'),
    ('birads', 0, '7', "got '7'"),
    ('birads', 0, '4D', "got '4D'"),
    ('pathology', 2, 'cancer', "got 'cancer'"),
    ('lesions', 0, '[{"box": [1, 2, 3', 'lesions is not valid JSON'),
    ('lesions', 0, '{"box": [1, 2, 3, 4]}', 'must be a JSON list of lesion objects'),
    ('lesions', 0, '[{"box": [1, 2, 3], "category": "mass"}]', 'lesion 0: box must be [x0, y0, x1, y1]'),
    ('lesions', 0, '[{"box": [-1, 2, 3, 4], "category": "mass"}]', 'lesion 0: box must be'),
    ('lesions', 0, '[{"box": [1, 2, 3, 4]}]', 'lesion 0: category must be non-empty text'),
    ('lesions', 0, '[{"category": "mass", "birads": "9"}]', 'lesion 0: birads must be one of'),
    ('lesions', 0, '[{"category": "mass", "mask": "../../m.png"}]', "lesion 0: mask path '../../m.png' lies outside the data root"),
    ('nipple_xy', 0, '[10]', 'must be a JSON list [x, y]'),
    ('nipple_xy', 0, '[10, -2]', 'must be a JSON list [x, y]'),
]


@pytest.mark.parametrize('col,row,value,msg', BAD_CELLS, ids=[f"{c}={v}" for c, _, v, _ in BAD_CELLS])
def test_bad_cell(tmp_path, col, row, value, msg):
    df = _good(); df.loc[row, col] = value
    with pytest.raises(MammoInputError) as e:
        validate_manifest(df, root=tmp_path, path='m.csv')
    assert e.value.problems == [f"m.csv, row {row}, column '{col}': " + e.value.details[0][2]], e.value.problems
    assert msg in e.value.problems[0]
    assert e.value.details[0][:2] == (row, col)


@pytest.mark.parametrize('col', M.REQUIRED_COLUMNS)
def test_missing_required_column(tmp_path, col):
    with pytest.raises(MammoInputError) as e:
        validate_manifest(_good().drop(columns=col), root=tmp_path, path='m.csv')
    assert e.value.problems == [f"m.csv, column '{col}': required column is missing"]


def test_every_problem_in_one_error(tmp_path):
    df = _good().drop(columns='view')
    for col, row, value, _ in [BAD_CELLS[0], BAD_CELLS[7], BAD_CELLS[8], BAD_CELLS[11], BAD_CELLS[14], BAD_CELLS[18],
                               BAD_CELLS[22]]:
        df.loc[row, col] = value
    with pytest.raises(MammoInputError) as e:
        validate_manifest(df, root=tmp_path, path='m.csv')
    err = e.value
    assert [d[:2] for d in err.details] == [(None, 'view'), (0, 'years_to_cancer'), (0, 'density'), (0, 'lesions'),
                                           (1, 'laterality'), (1, 'image_path'), (2, 'image_path'), (4, 'exam_date')]
    assert str(err).startswith('m.csv: invalid manifest: 8 problems in 4 rows:')
    assert all(p in str(err) for p in err.problems)


def test_good_manifest_round_trip(tmp_path):
    df = validate_manifest(_good(), root=tmp_path)
    assert df.patient_id.iloc[0] == '00123' and df.columns[-1] == 'site_notes'
    assert df.years_to_cancer.tolist()[:3] == [np.inf, np.inf, 2.5] and pd.isna(df.exam_date.iloc[4])
    f = save_manifest(df, tmp_path/'manifests'/'m.csv')
    back = load_manifest(f, root=tmp_path)
    pd.testing.assert_frame_equal(back, df)
    assert f.read_text().splitlines()[1].startswith('00123,e1,2019-05-01,L,CC,a/L_CC.dcm,train,inf,3.0,A,1,,[]')


def test_validate_is_idempotent_and_keeps_extras(tmp_path):
    once = validate_manifest(_good(), root=tmp_path)
    twice = validate_manifest(once, root=tmp_path)
    pd.testing.assert_frame_equal(once, twice)
    assert twice.site_notes.tolist() == ['x', 'y', 'z', 'w', 'v']


def test_duplicate_columns(tmp_path):
    df = pd.concat([_good(), _good()[['view']]], axis=1)
    with pytest.raises(MammoInputError, match="duplicate column\\(s\\) 'view'"):
        validate_manifest(df, root=tmp_path)


def test_absolute_path_inside_root_is_fine(tmp_path):
    df = _good(); df.loc[0, 'image_path'] = str(tmp_path/'a'/'elsewhere.dcm')
    validate_manifest(df, root=tmp_path)


def test_symlinked_data_inside_the_root(tmp_path):
    """Same rule as `mammo_nb.core.resolve_data_path`: containment is lexical, so a data set symlinked into the root
    (a common set-up: `data/cbis -> /mnt/disk/cbis`) is inside it, while `..` escapes are not."""
    root, outside = tmp_path/'root', tmp_path/'outside'
    _write(outside/'x.dcm', ''); (root/'a').mkdir(parents=True)
    (root/'a'/'link.dcm').symlink_to(outside/'x.dcm'); (root/'lnk').symlink_to(outside)
    df = _good(); df.loc[0, 'image_path'] = 'a/link.dcm'; df.loc[4, 'image_path'] = 'lnk/x.dcm'
    validate_manifest(df, root=root)
    df.loc[2, 'image_path'] = 'a/../../outside/x.dcm'
    with pytest.raises(MammoInputError) as e:
        validate_manifest(df, root=root)
    assert [d[:2] for d in e.value.details] == [(2, 'image_path')]
    assert all('lies outside the data root' in p for p in e.value.problems)


def test_check_files(tmp_path):
    df = _good()
    for p in df.image_path.tolist() + ['g/1.npy', 'm/1.png']: _write(tmp_path/p, '')
    validate_manifest(df, root=tmp_path, check_files=True)
    (tmp_path/'m'/'1.png').unlink(); (tmp_path/'a'/'R_MLO.dcm').unlink()
    with pytest.raises(MammoInputError) as e:
        validate_manifest(df, root=tmp_path, check_files=True)
    assert [d[:2] for d in e.value.details] == [(3, 'image_path')]          # a missing mask is not an error ...
    assert "file not found: 'a/R_MLO.dcm'" in e.value.problems[0]
    (tmp_path/'a'/'R_MLO.dcm').touch()
    ok = validate_manifest(df, root=tmp_path, check_files=True)
    assert ok.attrs['missing_masks'] == [{'row': 2, 'lesion': 0, 'image_path': 'a/R_CC.dcm', 'mask': 'm/1.png', 'marked': False}]  # ... but listed
    with pytest.raises(MammoInputError) as e:                                # ... unless masks are required
        validate_manifest(df, root=tmp_path, check_files=True, require_masks=True)
    assert [d[:2] for d in e.value.details] == [(2, 'lesions')] and "lesion 0: mask file not found: 'm/1.png'" in e.value.problems[0]


def test_load_errors(tmp_path):
    with pytest.raises(MammoInputError, match='manifest file not found'):
        load_manifest(tmp_path/'nope.csv')
    (tmp_path/'empty.csv').write_text('')
    with pytest.raises(MammoInputError, match='cannot read the manifest as CSV'):
        load_manifest(tmp_path/'empty.csv')
    (tmp_path/'header.csv').write_text(','.join(M.REQUIRED_COLUMNS) + '\n')
    with pytest.raises(MammoInputError, match='the manifest has no rows'):
        load_manifest(tmp_path/'header.csv', root=tmp_path)


# ---------------------------------------------------------------------------------------------------------
# Schema file and CLI
# ---------------------------------------------------------------------------------------------------------
def test_schema_file_in_sync(tmp_path):
    path = MANIFESTS/'schema.json'
    if REGEN: M.write_schema(path)
    assert json.loads(path.read_text()) == manifest_schema_dict(), \
        "data_manifests/schema.json is out of date: regenerate with MAMMO_REGEN_EXPECTED=1"
    cols = {c['name']: c for c in json.loads(path.read_text())['columns']}
    assert [n for n, c in cols.items() if c['required']] == list(M.REQUIRED_COLUMNS)
    assert cols['birads']['checks'][0]['allowed_values'] == list(M.BIRADS_CATEGORIES)
    assert set(cols) == set(M.MANIFEST_SCHEMA.columns)


def _cli(*argv):
    "Parse `mammo-nb manifest ...` with the registered command's own argument specs and run it."
    cmd = COMMANDS['manifest']
    p = argparse.ArgumentParser(prog='mammo-nb manifest')
    for flags, kw in cmd.args: p.add_argument(*flags, **kw)
    return cmd.run(p.parse_args([str(a) for a in argv]))


def test_cli_convert_and_validate(tmp_path, capsys):
    root = write_vindr(tmp_path/'vindr')
    out = tmp_path/'out'/'vindr.csv'
    assert _cli('vindr', '--root', root, '--out', out) == 0
    assert 'wrote' in capsys.readouterr().out and load_manifest(out, root=root).shape[0] == 8
    assert _cli('validate', out, '--root', root) == 0
    assert 'valid manifest: 8 images, 2 patients, 2 exams' in capsys.readouterr().out
    with pytest.raises(MammoInputError) as e:
        _cli('validate', out, '--root', root, '--check-files')
    assert len(e.value.problems) == 8 and all('file not found' in p for p in e.value.problems)
    # tables named explicitly (VinDr's two tables are told apart by their columns)
    (root/'breast-level_annotations.csv').rename(tmp_path/'b.csv'); (root/'finding_annotations.csv').rename(tmp_path/'f.csv')
    assert _cli('vindr', '--root', root, '--out', out, '--table', tmp_path/'f.csv', '--table', tmp_path/'b.csv') == 0
    assert load_manifest(out, root=root).lesions.str.contains('mass').sum() == 2


def test_cli_errors(tmp_path, capsys):
    bad = _good(); bad.loc[1, 'laterality'] = 'LEFT'; bad.loc[3, 'view'] = 'ML'
    bad.to_csv(tmp_path/'bad.csv', index=False)
    with pytest.raises(MammoInputError) as e:
        _cli('validate', tmp_path/'bad.csv', '--root', tmp_path)
    err = str(e.value)
    assert "line 3, column 'laterality'" in err and "line 5, column 'view'" in err and '2 problems in 2 rows' in err
    with pytest.raises(MammoInputError, match='needs --out'):
        _cli('inbreast', '--root', tmp_path)
    with pytest.raises(MammoInputError, match='needs the manifest CSV'):
        _cli('validate', '--root', tmp_path)
    with pytest.raises(SystemExit):
        _cli('ddsm', '--root', tmp_path)


def test_console_script(tmp_path, capsys):
    "End to end through the `mammo-nb` entry point (band 70): conversion, and a bad manifest's problem list."
    cli = pytest.importorskip('mammo_nb.cli')
    root = write_inbreast(tmp_path/'ib')
    assert cli.main(['manifest', 'inbreast', '--root', str(root), '--out', str(tmp_path/'ib.csv')]) == 0
    assert load_manifest(tmp_path/'ib.csv', root=root).shape[0] == 6
    capsys.readouterr()
    bad = _good(); bad.loc[0, 'view'] = 'LM'; bad.loc[2, 'split'] = 'dev'
    bad.to_csv(tmp_path/'bad.csv', index=False)
    rc = cli.main(['manifest', 'validate', str(tmp_path/'bad.csv'), '--root', str(tmp_path)])
    err = capsys.readouterr().err
    assert rc != 0 and "line 2, column 'view'" in err and "line 4, column 'split'" in err


# ---------------------------------------------------------------------------------------------------------
# View sets on converted data
# ---------------------------------------------------------------------------------------------------------
def test_view_sets_on_inbreast(tmp_path):
    df = convert_inbreast(write_inbreast(tmp_path))
    ip = ipsilateral_pairs(df)
    assert len(ip) == 3 and (ip.mask_cc == 1).all() and (ip.mask_mlo == 1).all()
    tv = triview_sets(df)
    y = tv[tv.patient_id == '0f1e2d3c4b5a6978']
    assert (y.ipsi_mask == 1).all() and (y.contra_mask == 0).all()   # patient Y has a left breast only
    x = tv[tv.patient_id == 'a1b2c3d4e5f60718']
    assert (x.contra_mask == 1).all()
    assert (df.loc[x.contra_row.to_numpy(dtype=int), 'view'].to_numpy() == x.view.to_numpy()).all()
    assert (df.loc[x.contra_row.to_numpy(dtype=int), 'laterality'].to_numpy() != x.laterality.to_numpy()).all()


# ---------------------------------------------------------------------------------------------------------
# The phantom's manifest (band 12) through validation and the view sets
# ---------------------------------------------------------------------------------------------------------
def test_phantom_manifest_validates_and_pairs(tmp_path):
    ph = pytest.importorskip('mammo_nb.data.phantom_dicom')
    from mammo_nb.data.phantom import PhantomConfig
    man = ph.generate_phantom(tmp_path/'ph', n_patients=3, n_years=3, size=(128, 104), seed=1,
                              config=PhantomConfig(p_cancer=0.5), progress=False)
    df = load_manifest(man, root=tmp_path/'ph', check_files=True)  # images, gaze and lesion masks all exist
    assert len(df) == 3 * 3 * 4 and df.groupby('patient_id').split.nunique().eq(1).all()
    assert sum(len(parse_lesions(v)) for v in df.lesions) > 0
    # every exam has both views of both breasts
    ip = ipsilateral_pairs(df)
    assert len(ip) == 3 * 3 * 2 and (ip.mask_cc == 1).all() and (ip.mask_mlo == 1).all()
    tv = triview_sets(df)
    assert (tv.ipsi_mask == 1).all() and (tv.contra_mask == 1).all()
    assert (df.loc[tv.contra_row.to_numpy(dtype=int), 'view'].to_numpy() == tv['view'].to_numpy()).all()
    # our pairing agrees with the phantom's own record of each exam's prior and the time between them
    lp = longitudinal_pairs(df)
    own = df.drop_duplicates(['patient_id', 'exam_id', 'laterality']).set_index(['patient_id', 'exam_id', 'laterality'])
    mine = lp.set_index(['patient_id', 'exam_id', 'laterality'])
    first = own.exam_index.astype(int) == 0
    assert (mine.loc[own.index[first], 'prior_mask'] == 0).all()
    later = own.index[~first]
    assert (mine.loc[later, 'prior_exam_id'].to_numpy() == own.loc[later, 'prior_exam_id'].to_numpy()).all()
    assert np.allclose(mine.loc[later, 'time_gap'].to_numpy(), own.loc[later, 'time_gap'].astype(float).to_numpy(), atol=1e-4)
    # labels: a breast's positives sit exactly at the horizons beyond its diagnosis time
    assert np.isfinite(lp.years_to_cancer).any() and np.isinf(lp.years_to_cancer).any()  # both kinds of breast
    t, m = risk_labels(lp.years_to_cancer, lp.years_to_last_followup, max_followup=5)
    h = np.arange(1, 6)
    assert (t == (lp.years_to_cancer.to_numpy()[:, None] < h)).all() and (m[t == 1] == 1).all()


# ---------------------------------------------------------------------------------------------------------
# Issue 12/13 regressions: INbreast outlines, CBIS-DDSM val split, symlinked folders, raw cells and CSV lines
# ---------------------------------------------------------------------------------------------------------
def test_inbreast_outline_is_kept_and_rasterises_to_its_area(tmp_path):
    "A hand-built INbreast XML with polygons of known area: the manifest keeps the outline, its mask has that area."
    root = write_inbreast(tmp_path)
    rect = [(99.5, 199.5), (199.5, 199.5), (199.5, 259.5), (99.5, 259.5)]          # 100 x 60 pixels, edges on pixel edges
    t = np.linspace(0, 2 * np.pi, 90, endpoint=False)
    blob = [(400 + 50 * np.cos(a) * (1 + 0.2 * np.cos(5 * a)), 300 + 50 * np.sin(a) * (1 + 0.2 * np.cos(5 * a))) for a in t]
    _write(root/'INbreast Release 1.0'/'AllXML'/'22678694.xml', _plist([('Mass', rect), ('Spiculated Region', blob)]))
    df = convert_inbreast(root)
    les = parse_lesions(df[df.image_path.str.contains('22678694')].iloc[0].lesions)
    assert [l['category'] for l in les] == ['mass', 'spiculated_region']
    assert les[0]['outline'] == [list(p) for p in rect] and les[0]['box'] == [99.5, 199.5, 199.5, 259.5]
    assert M.outline_mask(les[0]['outline'], (400, 600)).sum() == 100 * 60 == M.polygon_area(les[0]['outline'])
    star = M.outline_mask(les[1]['outline'], (400, 600))
    assert abs(star.sum() / M.polygon_area(blob) - 1) < 0.02
    x0, y0, x1, y1 = les[1]['box']
    assert star.sum() < 0.85 * (x1 - x0) * (y1 - y0)                             # an outline, not its box (issue 12)


def _cbis_many(root, n_train=40, n_malignant=12, n_test=5):
    rows = [_cbis_row('Mass', 'Training', f'P_{i:05d}', 'LEFT', 'CC', 1, 'OVAL', 'SPICULATED', 4,
                      'MALIGNANT' if i < n_malignant else 'BENIGN', 3, 2) for i in range(n_train)]
    _write(root/'mass_case_description_train_set.csv', CBIS_MASS + ''.join(rows))
    _write(root/'mass_case_description_test_set.csv', CBIS_MASS + ''.join(
        _cbis_row('Mass', 'Test', f'P_9{i:04d}', 'LEFT', 'CC', 1, 'OVAL', 'SPICULATED', 4, 'BENIGN', 3, 2) for i in range(n_test)))
    return root


def test_cbis_ddsm_val_split(tmp_path):
    root = _cbis_many(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', M.ManifestWarning)
        df = convert_cbis_ddsm(root)
        n = df.groupby('split').patient_id.nunique()
        assert n.to_dict() == {'test': 5, 'train': 34, 'val': 6}                     # 15 % of the 40 training patients
        val = df[df.split == 'val']
        assert val.pathology.eq('malignant').sum() == 2                               # stratified: 12/40 of 6 = 1.8
        assert df.groupby('patient_id').split.nunique().eq(1).all()                   # patient-level
        assert set(df[df.patient_id.str.startswith('P_9')].split) == {'test'}         # the test split is untouched
        again = convert_cbis_ddsm(root)
        assert again.split.tolist() == df.split.tolist()                              # seeded
        other = convert_cbis_ddsm(root, split_seed=3)
        assert set(other[other.split == 'val'].patient_id) != set(val.patient_id)
        assert set(convert_cbis_ddsm(root, val_fraction=0).split) == {'train', 'test'}


def test_cli_cbis_val_fraction(tmp_path, capsys):
    root = _cbis_many(tmp_path/'cbis')
    assert _cli('cbis-ddsm', '--root', root, '--out', tmp_path/'m.csv', '--val-fraction', '0.25', '--split-seed', '1') == 0
    out, err = capsys.readouterr()
    assert "'val': 10" in out and err.count('45 lesion mask file(s) not found') == 1 and 'Warning' not in err, (out, err)
    with pytest.raises(MammoInputError, match='--val-fraction applies to cbis-ddsm, not to inbreast'):
        _cli('inbreast', '--root', root, '--out', tmp_path/'i.csv', '--val-fraction', '0.2')


def test_symlinked_folders_give_relative_paths(tmp_path):
    "Images reached through a symlinked folder (or a symlinked root) are written relative to the root, lexically."
    elsewhere = tmp_path/'disk2'
    real = write_cbis(elsewhere/'cbis')
    root = tmp_path/'root'; root.mkdir()
    for f in real.glob('*.csv'): (root/f.name).symlink_to(f)
    (root/'CBIS-DDSM').symlink_to(real/'CBIS-DDSM', target_is_directory=True)
    (tmp_path/'link').symlink_to(real, target_is_directory=True)          # ... and the whole root through a link
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', M.ManifestWarning)
        df, via_link = convert_cbis_ddsm(root), convert_cbis_ddsm(tmp_path/'link')
    for d in (df, via_link):
        assert not any(p.startswith('/') for p in d.image_path), d.image_path.tolist()
        masks = [l['mask'] for v in d.lesions for l in parse_lesions(v) if l['mask']]
        assert masks and not any(m.startswith('/') for m in masks)
    located = df[(df.patient_id == 'P_00001') & (df.view == 'CC')].image_path.iloc[0]
    assert located == 'CBIS-DDSM/Mass-Training_P_00001_LEFT_CC/07-20-2016-DDSM-74994/1.000000-full mammogram images-24515/1-1.dcm'
    assert (root/located).is_file()
    # INbreast with its image folder symlinked from another disk
    ib = write_inbreast(elsewhere/'ib')
    rel = tmp_path/'ibroot'/'INbreast Release 1.0'; rel.mkdir(parents=True)
    (rel/'INbreast.csv').symlink_to(ib/'INbreast Release 1.0'/'INbreast.csv')
    (rel/'AllDICOMs').symlink_to(ib/'INbreast Release 1.0'/'AllDICOMs', target_is_directory=True)
    got = convert_inbreast(tmp_path/'ibroot')
    assert got.image_path.str.startswith('INbreast Release 1.0/AllDICOMs/').all()
    save_manifest(got, tmp_path/'ib.csv')
    assert load_manifest(tmp_path/'ib.csv', root=tmp_path/'ibroot', check_files=True).shape[0] == 6


def test_manifest_file_errors_name_lines_and_raw_cells(tmp_path):
    "Issue 13: 'row 3' for CSV line 5 and 'LEFT' for a cell holding 'Left' are gone."
    df = _good(); df.loc[3, 'laterality'] = 'Left'; df.loc[1, 'lesions'] = '[{"category": "mass", "box": [1, 2,\n 3]}]'
    df.to_csv(tmp_path/'m.csv', index=False)
    with pytest.raises(MammoInputError) as e:
        load_manifest(tmp_path/'m.csv', root=tmp_path)
    assert e.value.problems[0].endswith("m.csv, line 3, column 'lesions': lesion 0: box must be [x0, y0, x1, y1] of 4 finite numbers >= 0, got [1, 2, 3]")
    assert e.value.problems[1].endswith("m.csv, line 6, column 'laterality': must be one of L, R; got 'Left'")  # row 3 spans line 6
    assert [d[:2] for d in e.value.details] == [(1, 'lesions'), (3, 'laterality')]                         # programs keep rows
    # duplicates and date conflicts point to lines too
    df = _good(); df.loc[2, 'image_path'] = 'a/L_CC.dcm'; df.to_csv(tmp_path/'d.csv', index=False)
    with pytest.raises(MammoInputError, match="line 4, column 'image_path': duplicate image id: the same image_path as line 2"):
        load_manifest(tmp_path/'d.csv', root=tmp_path)
