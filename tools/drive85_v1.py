"""Temporary driver (issue 43 item 5, the title claim): trains and keeps MommiNet with the original ResNet trunks beside page 85's
MommiNet-v2, one file per run in nbs/tutorials/predictions/85/v1/, resumable (`kept_runs`). Runs page 85's setup cells, then
the cells below, which go onto the page unchanged when the section lands (then this file is deleted).

    .venv/bin/python tools/drive85_v1.py        # trains what is not kept yet (two one-thread runs at a time)
    DRY=1 .venv/bin/python tools/drive85_v1.py  # counts the kept files
"""
import json, os, sys
from pathlib import Path

JOBS_CELL = '''V1_TRUNKS = dict(ipsi_backbone='resnet_tiny', bi_hrnet='resnet_tiny')   # the original MommiNet's ResNet trunks (ResNet-50's layout at hrnet_tiny's widths)
V1_ARMS = {'v1-ipsi': (dict(stages='ipsi'), 'IpsiDualNet (ResNet trunk)'), 'v1-bi': (dict(stages='bi'), 'BiDualNet (ResNet trunk)'),
           'v1': (dict(stages='fusion'), 'MommiNet (ResNet trunks)')}
V1_HEAD = {'v1-ipsi': 'ipsidualnet', 'v1-bi': 'bidualnet', 'v1': 'momminet'}
def settings_v1(c:int, arm:str, s:int) -> dict:
    "A run of the original MommiNet: MommiNet-v2's settings with the ResNet trunks, the phantom's nipple detector; the fusion on that seed's two branches."
    kw = {**MODEL, **V1_TRUNKS, **V1_ARMS[arm][0], 'nipple_run': str(RUN/NIPPLE_RUN(c)), 'seed': s}
    if arm == 'v1': kw.update(ipsi_run=str(RUN/name(c, 'v1-ipsi', s)), bi_run=str(RUN/name(c, 'v1-bi', s)))
    return kw
job = lambda c, k, st: dict(system='momminet', manifest=ROOT(c)/'manifest.csv', root=ROOT(c), cache=CACHE(c), out=RUN/k, settings=st)
JOBS_V1 = {name(c, a, s): job(c, name(c, a, s), settings_v1(c, a, s)) for c in (1,) for s in SEEDS + MORE_SEEDS for a in V1_ARMS}   # the default phantom
NIPPLE_JOBS = {NIPPLE_RUN(1): JOBS[NIPPLE_RUN(1)]}                          # the nipple detector they use (trained only if missing)
cv = {k: MommiNetConfig(**{**j['settings'], 'size': (128, 104)}) for k, j in JOBS_V1.items()}
for c in cv.values(): c.check()
v2 = {'v1-ipsi': 'ipsi', 'v1-bi': 'bi', 'v1': 'fusion'}
for a, b in v2.items():                                                   # each differs from its MommiNet-v2 run in the trunks only
    d1, d2 = cv[name(1, a, 2)].to_dict(), cm[name(1, b, 2)].to_dict()
    test_eq(sorted(k for k in d1 if k not in PLUMBING and d1[k] != d2[k]), ['bi_hrnet', 'ipsi_backbone'])
print(f"{len(JOBS_V1)} runs of the original MommiNet: {', '.join(V1_ARMS)} x {len(SEEDS + MORE_SEEDS)} seeds, at the default cue")
'''

KEEP_CELL = '''#| slow
def v1_loader(c:int):
    "The test images of phantom `c` with its nipple detector (as `test_loader`, without asking for page 85's other runs)."
    if ('v1', c) not in _loaders:
        _loaders[('v1', c)] = momminet_loader(ROOT(c)/'manifest.csv', 'test', tuple(MODEL['size']), bs=8, root=ROOT(c), cache=CACHE(c),
                                              nipple_source='detector', detector=load_nipple_detector(RUN/NIPPLE_RUN(c)))
    return _loaders[('v1', c)]
def v1_rows(k:str, r) -> pd.DataFrame:
    "One finished run's boxes on its phantom's test images, labelled as page 85's other runs are."
    c, s, arm = int(k[1]), int(k[-1]), k[3:-3]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        recs = predict_detections(r.load_model('cpu'), v1_loader(c))
    route = {x['image_path']: int(x['route']) for x in recs}
    t = kept_detections(recs, V1_HEAD[arm])
    start = ', '.join(f"{p}: {e['weights']} {e['arch']}" for p, e in (r.info.get('encoders') or {}).items()) or '(the branches of its runs)'
    return t.assign(run=k, arm=arm, seed=s, strength=float(c), route=t.image.map(route), item=t.image + '#' + t.box.astype(str), start=start)
assert phantom_weights_path('resnet_tiny').exists()                      # 'auto' would otherwise start the ResNet trunks from random weights
PV1 = kept_runs('85', 'v1', {**NIPPLE_JOBS, **JOBS_V1}, v1_rows, keep=list(JOBS_V1), prepare=phantoms, workers=WORKERS, threads=1, progress=False,
                columns=('run', 'arm', 'seed', 'woman', 'item', 'image', 'box', 'score', 'hit', 'strength', 'route', 'start'))
print(f"{PV1.run.nunique()} runs kept, {PV1.train_minutes.groupby(PV1.run).first().sum():.1f} training minutes")
'''

def main():
    os.chdir(Path(__file__).resolve().parents[1])
    nb = json.load(open('nbs/tutorials/85_momminet_phantom_reproduction.ipynb'))
    src = lambda i: ''.join(nb['cells'][i]['source'])
    g = {}
    for i in (2, 3, 7, 9):
        exec(src(i), g)
    exec(src(11).split('def counts')[0], g)                               # phantoms()
    exec(src(20).split('def model_records')[0].split('_loaders = {}')[0] + '_loaders = {}\n', g)
    exec('from mammo_nb.models.backbones import phantom_weights_path\nfrom mammo_nb.train.experiments import kept_runs\n', g)
    exec(JOBS_CELL, g)
    if os.environ.get('DRY'):
        d = Path('nbs/tutorials/predictions/85/v1'); print(len(list(d.glob('*.csv.gz'))) if d.exists() else 0, 'of', len(g['JOBS_V1'])); return
    exec(KEEP_CELL.replace('#| slow\n', ''), g)

if __name__ == '__main__': main()
