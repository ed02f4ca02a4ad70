"""How often the reference MommiNet-v2's nipple detector misses, by its score, against the geometric estimate.

The measurement behind `FALLBACK_MIN_SCORE` (nbs/models/56a_nipple_detector.ipynb): the last exams of the reference
phantoms' validation women (where the threshold is chosen) and test women (where it is measured), which
`mammo-nb reference build` draws into $MAMMO_CACHE_DIR/reference.

    python tools/nipple_fallback.py [--out table.csv]
"""
import argparse, json
from pathlib import Path
import numpy as np, pandas as pd, torch
from mammo_nb.core import cache_dir
from mammo_nb.train.system import REFERENCE_RUNS
from mammo_nb.systems.momminet.train import load_nipple_detector
from mammo_nb.models.nipple import detect_nipples
from mammo_nb.data.dicom import read_mammogram
from mammo_nb.data.preprocess import preprocess, geometric_nipple

THRESHOLDS = (0.1, 0.2, 0.3, 0.5, 0.7, 0.9)

def errors(det, root:Path, split:str, size:tuple) -> pd.DataFrame:
    "Per image of the last exams of `split`: the detector's score, its error and the geometric estimate's error (mm)."
    df = pd.read_csv(root/'manifest.csv', keep_default_na=False)
    df = df[df.split == split].groupby('patient_id').tail(4)
    ims, gts, sp, views = [], [], [], []
    for r in df.itertuples():
        p = preprocess(read_mammogram(root/r.image_path), size=size)
        ims.append(p.image.float()); views.append(r.view)
        gts.append(p.geometry.to_frame(np.asarray(json.loads(r.nipple_xy), float)[None])[0])
        sp.append(float(r.pixel_spacing_mm) / abs(p.geometry.affine[0]))
    X = torch.stack(ims)
    X = X[:, None] if X.ndim == 3 else X
    o = detect_nipples(det, X, fallback=None)
    geo = np.stack([geometric_nipple(X[i, 0].numpy(), view=v) for i, v in enumerate(views)])
    gts, sp = np.stack(gts), np.asarray(sp)
    return pd.DataFrame(dict(view=views, score=o['score'].numpy(), e_det=np.linalg.norm(o['nipple'].numpy() - gts, axis=1) * sp,
                             e_geo=np.linalg.norm(geo - gts, axis=1) * sp))

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0]); ap.add_argument('--out', default=None)
    a = ap.parse_args()
    torch.set_num_threads(2)
    det = load_nipple_detector(REFERENCE_RUNS/'momminet')
    size = tuple(json.loads((REFERENCE_RUNS/'momminet'/'config.json').read_text())['size'])
    ref = cache_dir()/'reference'
    t = pd.concat([errors(det, ref/'phantom', 'val', size).assign(set='validation'), errors(det, ref/'test-phantom', 'test', size).assign(set='test')])
    if a.out: t.to_csv(a.out, index=False)
    for s, g in t.groupby('set', sort=False):
        d = g.e_det.fillna(np.inf)
        print(f"{s}: {len(g)} images; detector alone: > 20 mm on {(d > 20).sum()}, worst {np.nanmax(g.e_det):.0f} mm; "
              f"geometric estimate: > 20 mm on {(g.e_geo > 20).sum()}")
        for th in THRESHOLDS:
            fb = np.where((g.score >= th) & np.isfinite(g.e_det), g.e_det, g.e_geo)
            print(f"  fallback below {th}: replaces {(g.score < th).sum()}, > 20 mm on {(fb > 20).sum()}, mean {fb.mean():.1f} mm, median {np.median(fb):.1f} mm")

if __name__ == '__main__': main()
