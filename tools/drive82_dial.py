"""Issue 48 item 4's training driver for tutorial 82 (temporary: removed when the dial section lands on the page).

Trains the 30 runs of the deformation-dial experiment (and the registration network they build on) in one-thread
processes, two at a time, and keeps each run's test predictions as soon as it ends, in
`nbs/tutorials/predictions/82/dial/RUN.csv.gz` (`kept_runs`): commit those files as they come, and a new machine
resumes with the runs still missing. It executes the page's own setup cells and the section's cells held below
(which go onto the page unchanged), so the kept files are the page's.

    .venv/bin/python tools/drive82_dial.py          # resumable; DRY=1 only counts what is kept
"""
import json, os, sys, time
from pathlib import Path

PAGE = Path(__file__).resolve().parents[1]/'nbs'/'tutorials'/'82_lmvnet_phantom_reproduction.ipynb'

# page 82's predict / run_rows, taking another phantom (replaces the head of the page's cell "def predict")
ROWS_CELL = '''
def predict(r, ic, mask_prior=False, phantom:Path|None=None, cache:Path|None=None):
    "One run's risk predictions on the test breast exams (optionally with every prior masked out), kept beside its checkpoint."
    f = r.path/'evaluation'/f"test-risk{'-prior-masked' if mask_prior else ''}.pkl"
    if f.exists() and f.stat().st_mtime > (r.path/'best.safetensors').stat().st_mtime: return pd.read_pickle(f)
    phantom = root(ic) if phantom is None else phantom
    dl = longitudinal_loader(phantom/'manifest.csv', 'test', tuple(TRAIN['size']), bs=32, root=phantom,
                             cache=RUN/f'cache-ic{ic:g}' if cache is None else cache)
    p = predict_lmvnet(r.load_model('cpu'), dl, mask_prior=mask_prior)
    f.parent.mkdir(parents=True, exist_ok=True); p.to_pickle(f)
    return p

H = range(1, 6)
VIEW_H = (1, 2, 3)                                                     # the horizons of the phantom's three exams
def worst(phantom:Path) -> pd.Series:
    "Every breast exam's set of finding pathologies, from a phantom's manifest."
    return pd.read_csv(phantom/'manifest.csv', keep_default_na=False).groupby(['exam_id', 'laterality'])['pathology'].agg(set)
def run_rows(r, ic:float, v:str, s:int, masked:bool=False, phantom:Path|None=None, cache:Path|None=None, label:str|None=None) -> pd.DataFrame:
    "One run's rows of a kept table: its risks at every horizon and its single-view heads', with each exam's truth and subsets."
    p = predict(r, ic, mask_prior=masked, phantom=phantom, cache=cache)
    R, Tt, Mm = risk_arrays(p)
    hp = p['has_prior'].to_numpy(bool)
    ben = [bool(w & {'benign', 'benign_without_callback'}) and 'malignant' not in w
           for w in worst(root(0.2) if phantom is None else phantom).reindex(list(zip(p.exam_id, p.laterality)))]   # a benign finding, no malignant one
    f = pd.DataFrame({'run': label or name(ic, v, s) + ('-prior-masked' if masked else ''), 'run_key': r.key,
                      'arm': 'full_prior_masked' if masked else v, 'seed': s, 'woman': p['patient_id'].to_numpy(),
                      'item': (p['exam_id'].astype(str) + '#' + p['laterality'].astype(str)).to_numpy(),
                      'y': np.where(Mm[:, 0] > 0, Tt[:, 0], np.nan), 'score': R[:, 0], 'strength': ic, 'has_prior': hp,
                      'prior_known_1y': hp & (Mm[:, 0] > 0), 'benign_finding': ben})
    for h in H: f[f'risk_{h}y'], f[f'case_{h}y'], f[f'known_{h}y'] = R[:, h - 1], Tt[:, h - 1], Mm[:, h - 1]
    Rc, Rm = risk_arrays(p, 'cc')[0], risk_arrays(p, 'mlo')[0]          # the single-view heads the model also emits
    for h in VIEW_H: f[f'risk_cc_{h}y'], f[f'risk_mlo_{h}y'] = Rc[:, h - 1], Rm[:, h - 1]
    return f
'''

# the registration network trained at the dial (the page's cell "DIAL = 6", its job only)
REG_CELL = '''
DIAL = 6
REG_TRAIN = dict(REFERENCE_TRAIN)
reg_root = RUN/f'registration-phantom-d{DIAL}'
REG_JOBS = {f'registration-d{DIAL}': dict(system='registration', manifest=reg_root/'manifest.csv', root=reg_root,
                                          cache=RUN/f'cache-registration-d{DIAL}', out=RUN/f'registration-d{DIAL}',
                                          settings=dict(REFERENCES['registration']['settings']))}
'''

JOBS_CELL = '''
DIALS = (6, 0)                                            # deform_scale: where registration has work to do (the rule above: 8-pixel cells), and the control
DIAL_IC = 1.0                                             # interval_change at 1: at the default 0.2 the generator cannot draw every woman at dial 6
DIAL_ARMS = ('full', 'identity', 'no_registration')      # identity: the full model with an untrained MammoRegNet (the identity map)
DIAL_NET_RUN = RUN/'registration-d6'                      # the registration network trained at the dial (the section above)
DIAL_TRAIN = {**TRAIN, 'encoder_kwargs': {'out_stage': 3},   # mid_cnn's first three stages: a stride-8 encoder, 16×13 cells on 128×104 frames
              'epochs': 12, 'monitor': 'auc_1y'}              # 12 epochs, the checkpoint of the best validation 1-year AUC
droot = lambda s: RUN/f'phantom-ic{DIAL_IC:g}-d{s:g}'
dial_config = lambda s: dataclasses.replace(pconfig(DIAL_IC), deform_scale=float(s))
dname = lambda s, a, seed: f'd{s:g}-{a}-s{seed}'
DIAL_REG = {'full': str(DIAL_NET_RUN), 'identity': 'untrained'}
DIAL_RUNS = {dname(s, a, seed): (s, a, seed) for seed in SEEDS for s in DIALS for a in DIAL_ARMS}   # seed by seed: a stopped training leaves whole seeds
DIAL_JOBS = {n: dict(system='lmvnet', manifest=droot(s)/'manifest.csv', root=droot(s), cache=RUN/f'cache-ic{DIAL_IC:g}-d{s:g}', out=RUN/n,
                     settings={**DIAL_TRAIN, 'variant': 'no_registration' if a == 'no_registration' else 'full', 'seed': seed,
                               **({'registration': DIAL_REG[a]} if a in DIAL_REG else {})})
             for n, (s, a, seed) in DIAL_RUNS.items()}
NAMES.update({'identity': 'full, identity registration'})
test_eq(len(DIAL_JOBS), len(DIALS) * len(DIAL_ARMS) * len(SEEDS))
for a in DIAL_ARMS:                                       # the arms differ only in their registration, the dials only in the phantom
    test_eq({k: v for k, v in DIAL_JOBS[dname(6, a, 0)]['settings'].items() if k not in ('variant', 'registration')}, {**DIAL_TRAIN, 'seed': 0})
    test_eq(DIAL_JOBS[dname(6, a, 0)]['settings'], DIAL_JOBS[dname(0, a, 0)]['settings'])
'''

RUNS_CELL = '''
def draw_dial_phantoms():
    "The two dial phantoms and the registration network's training phantom, drawn where missing."
    for s in DIALS:
        if not (droot(s)/'manifest.csv').exists(): generate_phantom(droot(s), **PHANTOM, config=dial_config(s), workers=WORKERS, progress=False)
    if not (reg_root/'manifest.csv').exists():
        generate_phantom(reg_root, **REG_TRAIN, config=PhantomConfig(deform_scale=float(DIAL)), workers=WORKERS, progress=False)

def dial_rows(n, r) -> pd.DataFrame:
    "One dial run's kept rows: page 82's columns, with the dial value as the cue's strength (this experiment's cue) and interval_change apart."
    s, a, seed = DIAL_RUNS[n]
    return run_rows(r, DIAL_IC, a, seed, phantom=droot(s), cache=RUN/f'cache-ic{DIAL_IC:g}-d{s:g}', label=n).assign(strength=float(s), interval_change=DIAL_IC)

DPRED = kept_runs('82', 'dial', {**REG_JOBS, **DIAL_JOBS}, dial_rows, keep=list(DIAL_JOBS), prepare=draw_dial_phantoms,
                  workers=WORKERS, threads=1, progress=False)
'''

def main():
    nb = json.loads(PAGE.read_text())
    src = lambda i: ''.join(nb['cells'][i]['source'])
    g = {}
    for i in (2, 3, 7): exec(src(i), g)                      # the page's imports and setup
    exec('from mammo_nb.train.experiments import kept_runs, predictions_dir', g)   # (the page will import kept_runs in its imports cell)
    for cell in (ROWS_CELL, REG_CELL, JOBS_CELL): exec(cell, g)
    have = [n for n in g['DIAL_JOBS'] if (g['predictions_dir']('82')/'dial'/f'{n}.csv.gz').exists()]
    print(f"{len(have)} of {len(g['DIAL_JOBS'])} dial runs kept", flush=True)
    if os.environ.get('DRY') == '1': return
    t0 = time.time()
    exec(RUNS_CELL, g)
    print(f"all {len(g['DPRED'].run.unique())} dial runs kept ({(time.time() - t0) / 60:.1f} min)", flush=True)

if __name__ == '__main__': main()
