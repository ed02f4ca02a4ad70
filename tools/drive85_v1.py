"""Temporary driver (issue 43 item 5, the title claim): trains and keeps MommiNet with the original ResNet trunks beside page 85's
MommiNet-v2, one file per run in nbs/tutorials/predictions/85/v1/, resumable (`kept_runs`). Runs page 85's setup cells, then
the cells below, which go onto the page unchanged when the section lands (then this file is deleted).

    .venv/bin/python tools/drive85_v1.py          # trains what is not kept yet (two one-thread runs at a time)
    DRY=1 .venv/bin/python tools/drive85_v1.py    # counts the kept files
    .venv/bin/python tools/drive85_v1.py insert   # puts the section's cells on page 85, before "## Missing views"

Landing checklist (when all 15 files are kept):
1. `insert`; page 85's import cell: `phantom_weights_path` (models.backbones) and `kept_runs` (train.experiments).
2. The ledger (60g): `momminet.title_v2_vs_v1` gets page='85', arm_a='fusion', arm_b='v1',
   kept=Kept(table_b='v1', strength=1.0, stat='froc', more=('predictions-more',)) — direction only (no control: a
   performance claim; the mimics are not its mechanism).
3. `make page PAGE=85`; then write the reading under the comparisons from its outputs; the conclusions cell: the
   title row in PAGE_ROW ('momminet.title_v2_vs_v1': 'MommiNet-v2 − MommiNet (ResNet trunks)', `R` takes `tv1`),
   a statement of the verdict and one of where both start (PV1.start); "the page's twelve claims" -> thirteen.
4. Around it: the callout (the `v1` folder, 15 more runs), "Where the models start" (resnet_tiny), the setup table
   (a row), `what_it_means` (the ResNet trunks' start), the reading/take-aways, the command-line block
   (`--set ipsi_backbone=resnet_tiny bi_hrnet=resnet_tiny`, checked like the others), the course row (cost, status).
5. Re-render 60g (the ledger page) and `make page PAGE=85`; delete this file and tools/drive85_v1_weights/ (the
   `mammo-nb pretrain resnet_tiny --threads 1 --workers 1` build of session 74, copied into the cache by `main`; the
   page prints its card's held-out figures from `phantom_weights_path('resnet_tiny')`); the gate.
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

INTRO_MD = '''## The title claim: MommiNet-v2 against MommiNet

The paper's title claim is the upgrade itself: MommiNet-v2, whose three networks run on HRNet-48, detects masses better
than the original MommiNet, whose networks ran on ResNet-50 (Table 6 on DDSM: recall 0.831 / 0.850 / 0.898 against
0.802 / 0.849 / 0.892 at 0.5 / 1 / 2 FPPI, a FROC-score difference of +0.012). The reason it gives: HRNet keeps
high-resolution representations through the whole network, which a ResNet encoder loses as it downsamples — and a small
mass lives in the fine detail.

**The original MommiNet, built the same way.** Its three networks are page 85's, with the two trunks swapped:
`resnet_tiny` (`models.backbones.ResNetTrunk`) is ResNet-50's layout — bottleneck blocks 3, 4, 6, 3 — at `hrnet_tiny`'s
widths (8, 16, 32, 64), with HRNet's stage interface, so IpsiDualNet's feature pyramid reads its four maps (strides 4
to 32) and BiDualNet fuses the contralateral features after stage 3 exactly as on the HRNet; 378 k parameters against
233 k. Everything else is identical — the cell checks that each run differs from its MommiNet-v2 counterpart in the two
trunk settings only: the phantom, the nipple detector, every width, the budgets (12 epochs for each branch, 6 for the
fusion, 100 batches an epoch: equal optimiser steps), the checkpoint rule. **Where it starts:** the ResNet trunks start
from phantom-pretrained `resnet_tiny` weights made by `hrnet_tiny`'s own recipe (`mammo-nb pretrain resnet_tiny`:
the same `no_cues` phantom of 600 other women, task, epochs and batch; shipped in `mammo_nb/weights` with its card), so
both versions start from the same pretraining. Five seeds, at the default cue (the mimics are not what the title claim
is about: it is a performance claim, judged here without a negative control); MommiNet-v2's own runs are the page's. The
15 runs are kept one file per run (`predictions/85/v1/`, each with its training record) as each ends, so a render trains
nothing. The phantom and nipple detector are regenerated identically on another machine: `c1-ipsi-s0` retrained there
gave the kept validation history and test boxes (scores to 2e-6, every hit the same), so the new runs are paired with the
kept ones.
'''

CMP_MD = '''The comparisons, paired on the same test images (two-level intervals: five seeds and the women), with each version's
recall:
'''

CMP_CELL = '''#| slow
P85V1 = pd.concat([P5, PV1], ignore_index=True)
def cmp_v1(a:str, b:str, comparison:str) -> dict:
    "Arm a − arm b at the default cue, on the page's kept boxes and the original MommiNet's (two-level, 1,000 resamples)."
    return compare_froc(P85V1, a, b, FPPI, where={'strength': 1.0}, n_boot=1000, comparison=comparison, strength=1)
TV1 = [('MommiNet-v2 − MommiNet (ResNet trunks)', 'fusion', 'v1'), ('IpsiDualNet-v2 − IpsiDualNet (ResNet trunk)', 'ipsi', 'v1-ipsi'),
       ('BiDualNet-v2 − BiDualNet (ResNet trunk)', 'bi', 'v1-bi'), ('MommiNet (ResNet trunks) − IpsiDualNet (ResNet trunk)', 'v1', 'v1-ipsi'),
       ('MommiNet (ResNet trunks) − stacking control', 'v1', 'stack')]
tv1 = [cmp_v1(a, b, t) for t, a, b in TV1]
def recall_v1(a:str) -> dict:
    ms, _, _ = arm_matches(P85V1, a, strength=1.0)
    r = np.array([m.recall_at(FPPI) for m in ms])
    return {**{f'R@{f:g}': round(float(r[:, i].mean()), 3) for i, f in enumerate(FPPI)}, 'FROC score': round(float(r.mean()), 3), 'seeds': len(ms)}
V1_TITLE = {**{a: t for a, (_, t) in V1_ARMS.items()}, 'fusion': 'MommiNet-v2', 'ipsi': 'IpsiDualNet-v2', 'bi': 'BiDualNet-v2'}
levels_v1 = pd.DataFrame({V1_TITLE[a]: recall_v1(a) for a in ('fusion', 'v1', 'ipsi', 'v1-ipsi', 'bi', 'v1-bi')}).T
V1_RUNS = PV1.groupby('run')[['arm', 'best_epoch', 'train_minutes']].first()
V2_MIN = pd.concat([train_table, train_more])['train minutes']
print('training minutes per run (mean over seeds), ResNet vs HRNet trunks: ' + '; '.join(
      f"{V1_TITLE[a]} {V1_RUNS[V1_RUNS.arm == a].train_minutes.mean():.1f} vs {V2_MIN[[name(1, b, s) for s in SEEDS + MORE_SEEDS]].mean():.1f}"
      for a, b in (('v1-ipsi', 'ipsi'), ('v1-bi', 'bi'), ('v1', 'fusion'))))
print('best epochs: ' + '; '.join(f"{V1_TITLE[a]} {sorted(V1_RUNS[V1_RUNS.arm == a].best_epoch.astype(int).tolist())}" for a in V1_ARMS))
display(levels_v1)
diff_table(tv1)
'''

def insert():
    "Put the section's cells on page 85, before '## Missing views' (once)."
    import uuid
    p = Path('nbs/tutorials/85_momminet_phantom_reproduction.ipynb'); nb = json.load(open(p))
    if any('## The title claim' in ''.join(c['source']) for c in nb['cells']): raise SystemExit('already inserted')
    at = next(i for i, c in enumerate(nb['cells']) if ''.join(c['source']).startswith('## Missing views'))
    cell = lambda kind, s: {'cell_type': kind, 'id': uuid.uuid4().hex[:8], 'metadata': {}, 'source': s.splitlines(keepends=True),
                            **({'outputs': [], 'execution_count': None} if kind == 'code' else {})}
    nb['cells'][at:at] = [cell('markdown', INTRO_MD), cell('code', JOBS_CELL), cell('code', KEEP_CELL), cell('markdown', CMP_MD), cell('code', CMP_CELL)]
    p.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')

def main():
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
    from mammo_nb.core import cache_dir
    import shutil
    w = Path('tools/drive85_v1_weights'); dst = cache_dir() / 'encoders'   # resnet_tiny is not shipped (the package's 25 MB): its build, kept here until the section lands
    for f in w.glob('resnet_tiny.*'):
        if not (dst / f.name).exists(): dst.mkdir(parents=True, exist_ok=True); shutil.copy2(f, dst / f.name)
    exec(KEEP_CELL.replace('#| slow\n', ''), g)

os.chdir(Path(__file__).resolve().parents[1])
if __name__ == '__main__': insert() if sys.argv[1:] == ['insert'] else main()
