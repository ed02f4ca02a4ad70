"""Issue 48 item 4's training driver for tutorial 82 (temporary: removed when the dial section lands on the page).

Trains the 30 runs of the deformation-dial experiment (and the registration network they build on) in one-thread
processes, two at a time, and keeps each run's test predictions as soon as it ends, in
`nbs/tutorials/predictions/82/dial/RUN.csv.gz` (`kept_runs`): commit those files as they come, and a new machine
resumes with the runs still missing. It executes the page's own setup cells and the section's cells held below
(which go onto the page unchanged), so the kept files are the page's.

    .venv/bin/python tools/drive82_dial.py          # resumable; DRY=1 only counts what is kept
    .venv/bin/python tools/drive82_dial.py insert   # once all 30 are kept: the section onto the page

When all 30 are kept (the checklist of the section's landing):
1. `insert`, write READING_MD from the outputs (prose numbers from the outputs), `make page PAGE=82`.
2. Ledger (nbs/train/60g_claims.ipynb): `lmvnet.registration` judged where its precondition holds —
   cue='deform_scale', Kept(table='dial', strength=6.0, control=0.0, where=(('prior_known_1y', True),), rival='identity')
   (the identity registration is the rival control: the full architecture without alignment); then
   `tools/render_nb.py --slow nbs/train/60g_claims.ipynb`.
3. Page 82: cell "Which strength decides" (its test_eq of the ledger's verdict at 0.2 holds for lmvnet.prior only now),
   the conclusions cell (FN's statement at 0.2 no longer the ledger's; "The experiment it enables is not run here";
   new asserted statements for the dial), the callout (the kept dial files), the setup table, cell "Trained at the dial,
   the network does better" ("is not run on this page"), Reading the result, Further research 1, questionnaire Q6,
   the course row (nbs/course.ipynb, then tools/render_nb.py nbs/course.ipynb).
Note: a resumed run's `train_minutes` counts only its last process (d6-no_registration-s2 says 3.0): fix the system's
   `seconds.train` to accumulate across resumes, or state the cost from the epochs' times in history.csv.
4. Delete this file; checks: tools/nbtest.py on 82/60g/course, tools/hygiene.py, pytest tests/test_claims.py
   tests/test_course.py tests/test_hygiene.py.
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
test_eq(REG_JOBS[f'registration-d{DIAL}']['out'], DIAL_NET_RUN)      # the full arm's network is the one trained at the dial above
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

def insert():
    "Put the section onto the page (once every run is kept): the generalised predict/run_rows, and the section after the attention ablation."
    import uuid
    nb = json.loads(PAGE.read_text())
    cells = nb['cells']
    src = lambda c: ''.join(c['source'])
    def cell(kind, text):
        c = {'cell_type': kind, 'id': uuid.uuid4().hex[:8], 'metadata': {}, 'source': text.strip('\n').splitlines(keepends=True)}
        if kind == 'code': c.update(outputs=[], execution_count=None)
        return c
    imp = next(c for c in cells if 'from mammo_nb.train.experiments import' in src(c))
    imp['source'] = src(imp).replace('Conclusions, kept, arm_scores', 'Conclusions, kept, kept_runs, arm_scores').splitlines(keepends=True)
    assert 'kept_runs' in src(imp)
    rc = next(c for c in cells if src(c).startswith('#| slow\ndef predict(r, ic, mask_prior=False):'))
    head, tail = src(rc).split('def test_predictions()')
    rc['source'] = ('#| slow\n' + ROWS_CELL.strip('\n') + '\n\ndef test_predictions()' + tail).splitlines(keepends=True)
    at = next(i for i, c in enumerate(cells) if src(c).startswith('#| slow\n_att_runs = {}')) + 1
    runs, pre = RUNS_CELL.split('DPRED = kept_runs')
    new = [cell('markdown', INTRO_MD), cell('code', JOBS_CELL), cell('code', '#| slow\n' + runs.strip('\n') + '\n\n' + PRE_CELL.replace('#| slow\n', '')),
           cell('markdown', PRE_MD), cell('code', '#| slow\nDPRED = kept_runs' + pre.rstrip('\n') + '\n' + VERDICT_CELL.replace('#| slow\n', '')),
           cell('markdown', READING_MD)]
    cells[at:at] = new
    PAGE.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')
    print(f"inserted {len(new)} cells at {at}")

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

if __name__ == '__main__': insert() if sys.argv[1:] == ['insert'] else main()

# ---- the section's other cells (page 82, after "A registration network trained at the dial"), drafted here ----
INTRO_MD = '''### The experiment: registration with work to do

With a grid whose cells are smaller than the misalignment and a network that removes most of it, the claim can finally
be asked where registration has something to do. The design, fixed before any run:

| choice | value | why |
|---|---|---|
| phantoms | two of 300 women, three yearly exams, 256×208, seed 0, `p_cancer=0.4`, `p_benign=0.6`, the page's splits; `interval_change` 1 and `deform_scale` 6 (registration has work) or 0 (the control: nothing to align) | the same women, exams and findings at both dial values; at the default `interval_change` 0.2 the generator cannot draw every woman at 6 (above), at 1 it draws them all — and 1 is where the prior matters most |
| arms | the full model (MammoRegNet trained at the dial, the section above, fixed); the full model with an **identity registration** (an untrained MammoRegNet: the same architecture, nothing aligned); **no registration** (the prior's features subtracted unaligned) | full − no registration is the paper's claim; full − identity isolates the alignment from the rest of the full model's architecture |
| encoder | `mid_cnn`'s first three stages (`encoder_kwargs={'out_stage': 3}`): a stride-8 encoder, 16×13 cells on 128×104 frames, from the same phantom-pretrained weights | 8-pixel cells: the grid on which the rule above is met at 6 |
| optimisation | the page's settings, but 12 epochs (the first frozen) and the checkpoint of the best **validation 1-year AUC** | the page's 4 epochs picked best epochs 1–3 on the validation loss; longer runs, selected on what is judged |
| seeds | 5 per arm and dial value: 30 runs, one torch thread each | the verdict rule's minimum |
| judged | 1-year AUC on the test breast exams with a prior; full − no registration and full − identity at 6, each against its interaction with the dial at 0 | the rule of the ledger: the gain must exclude 0 at 6 and so must Δ(6) − Δ(0) |

The runs are kept one file per run (`predictions/82/dial/`, `kept_runs`): each was written as its run ended, so the
experiment could span machines. First the precondition on the experiment's own test pairs:
'''

PRE_CELL = '''#| slow
def dial_precondition() -> pd.DataFrame:
    "The experiment's own test prior/current pairs at each dial value: misalignment before and TRE after the network trained at the dial (128×104 frames)."
    draw_dial_phantoms()
    net, rows = train_jobs(REG_JOBS, workers=1, threads=1, progress=False)[f'registration-d{DIAL}'].path, []
    for s in DIALS:
        t0 = time.time()
        ev = evaluate_registration(net/'best.safetensors', droot(s)/'manifest.csv', split='test', size=tuple(TRAIN['size']), root=droot(s),
                                   cache=RUN/f'cache-ic{DIAL_IC:g}-d{s:g}', examples=0)
        for kind, lm in (('lesion centres', ev.landmarks[ev.landmarks.kind == 'lesion']), ('all landmarks', ev.landmarks)):
            b, a = lm.before_px.to_numpy(float), lm.after_px.to_numpy(float)
            rows.append({'case': f'{s:g} {kind}', 'deform_scale': s, 'landmarks': kind, 'pairs': len(ev), 'n': len(lm),
                         'before_median_px': np.median(b), 'after_median_px': np.median(a), 'before_mean_px': b.mean(), 'after_mean_px': a.mean(),
                         **{f'{w}_over_{CELL8:g}px': float((v > CELL8).mean()) for w, v in (('before', b), ('after', a))},
                         'minutes': (time.time() - t0) / 60})
    return pd.DataFrame(rows).round(4)

DPRE = kept('82', 'dial-precondition', dial_precondition, columns=('case',)).set_index(['landmarks', 'deform_scale']).sort_index()
lc = DPRE.loc['lesion centres']
DIAL_RULE = {s: bool(r.before_median_px > CELL8 and r.after_median_px <= r.before_median_px / 2) for s, r in lc.iterrows()}
test_eq(DIAL_RULE, {0: False, 6: True})                    # work at 6, none at 0 (the control)
test_eq(lc.loc[0, 'before_median_px'], 0.0)
print(f"{int(lc.loc[6, 'pairs'])} test prior/current pairs at each dial value; {lc.minutes.sum():.1f} minutes (the phantoms' caches and both evaluations)")
some = lambda b: b.where(b > 0.5)                          # nothing to remove where nothing moved
DPRE.assign(before_median_cells=DPRE.before_median_px / CELL8, removed_median=1 - DPRE.after_median_px / some(DPRE.before_median_px),
            removed_mean=1 - DPRE.after_mean_px / some(DPRE.before_mean_px)).drop(columns=['case', 'minutes']).round(2)
'''

VERDICT_CELL = '''#| slow
DRUNS = DPRED.drop_duplicates('run').set_index('run').loc[list(DIAL_JOBS)]
test_eq(set(DRUNS.torch_threads), {1}); test_eq(set(DRUNS.monitor), {'auc_1y'})
DK = DPRED[DPRED.prior_known_1y]                                          # the ledger's subset: exams with a prior, outcome known at 1 year
lab = {s: DK[DK.strength == s].drop_duplicates('item').set_index('item').sort_index()[['woman', 'y']] for s in DIALS}
test_eq(lab[6], lab[0])                                                    # the same exams, women and truths at both dial values
def dscores(arm, s):
    y, g, S, it = arm_scores(DK, arm, 'risk_1y', strength=float(s))
    assert it == list(lab[s].index) and S.shape[1] == len(SEEDS), (arm, s)
    return y, g, S
DCOMP = [('full − no registration', 'full', 'no_registration'), ('full − identity registration', 'full', 'identity'),
         ('identity − no registration', 'identity', 'no_registration')]
dial_rows_ = []
for s in DIALS:
    for c, a, b in DCOMP:
        (y, g, A), (_, _, B) = dscores(a, s), dscores(b, s)
        dial_rows_.append(compare(y, g, A, B, n_boot=1000, strength=float(s), comparison=c))
DD = {(r['comparison'], r['strength']): r for r in dial_rows_}
DIX = {c: interaction(DD[(c, 6.0)]['two_level'], DD[(c, 0.0)]['two_level']) for c, _, _ in DCOMP}
DVERDICT = {c: verdict(DD[(c, 6.0)]['two_level'], None, DIX[c], direction=1) for c, _, _ in DCOMP[:2]}
ARM_AUC = {(s, a): DD[(c, float(s))][side] for s in DIALS                   # each arm's per-seed AUC, as the comparisons computed it
           for a, c, side in (('full', DCOMP[0][0], 'a'), ('identity', DCOMP[2][0], 'a'), ('no_registration', DCOMP[0][0], 'b'))}
dial_auc = pd.DataFrame({(s, NAMES[a]): {'AUC 1 y, mean of seeds': round(float(np.mean(v)), 3), 'per seed': ' '.join(f'{x:.3f}' for x in v),
                                         'best epochs (0–11)': ' '.join(str(int(DRUNS.loc[dname(s, a, i), 'best_epoch'])) for i in SEEDS),
                                         'train minutes': round(float(DRUNS.loc[[dname(s, a, i) for i in SEEDS], 'train_minutes'].sum()), 1)}
                         for (s, a), v in ARM_AUC.items()}).T
dial_auc.index.names = ['deform_scale', 'arm']
y6 = lab[6]['y'].to_numpy()
print(f"{len(DK.item.unique())} test breast exams with a prior known at 1 year ({int(y6.sum())} cases) of {lab[6].woman.nunique()} women; "
      f"{len(DRUNS)} runs, {DRUNS.train_minutes.sum():.1f} training minutes (one thread each)")
display(dial_auc)
display(pd.DataFrame([{'comparison': c, 'at 6 (registration has work)': fmt_diff(DD[(c, 6.0)]), 'at 0 (control)': fmt_diff(DD[(c, 0.0)]),
                       'interaction Δ(6) − Δ(0)': f"{DIX[c].diff:+.3f} [{DIX[c].lo:+.3f}, {DIX[c].hi:+.3f}]",
                       'per seed at 6': ' '.join(f'{x:+.3f}' for x in DD[(c, 6.0)]['diffs']), 'MDE at 6': round(DD[(c, 6.0)]['mde'], 3),
                       'verdict': DVERDICT[c].verdict if c in DVERDICT else '(a check, not a claim)'} for c, _, _ in DCOMP]).set_index('comparison'))
plot_forest({f"{r['comparison']} | dial {r['strength']:g}": r for r in dial_rows_}, xlabel='ΔAUC (A − B), 1 y, exams with a prior, 95% CI')
plt.tight_layout()
'''

PRE_MD = '''On the experiment's own 756 test prior/current pairs the precondition holds where it should and nowhere else. At dial 6
the lesion centres move by a median 12.43 pixels of the 128×104 frames — 1.55 cells of the stride-8 grid, 0.73 of them
more than a cell away — and the network trained at the dial brings them to 3.87 pixels (0.31 still beyond a cell): it
removes 0.69 of the median, 0.53 of the mean. At dial 0 nothing moves (0.00 pixels), and the network adds a median 0.29
pixels of its own — the control gives registration nothing to do, and the full arm there measures what the network costs
when there is nothing to align.
'''

# statements for the conclusions cell (after the "A registration network trained at the dial" statement, whose last
# sentence "The experiment it enables is not run here." goes); V is the ledger with lmvnet.registration on the dial
DIAL_CONCL = '''pre6, pre0 = DPRE.loc[('lesion centres', 6)], DPRE.loc[('lesion centres', 0)]
C.state(f"**The dial experiment's precondition holds**: on its own {int(pre6.pairs)} test prior/current pairs the lesion centres move by a median "
        f"{pre6.before_median_px:.2f} px at dial 6 ({pre6.before_median_px / CELL8:.2f} stride-8 cells, {pre6[f'before_over_{CELL8:g}px']:.2f} of them beyond "
        f"a cell) and by {pre6.after_median_px:.2f} px after the network trained at the dial; at 0 nothing moves ({pre0.before_median_px:.2f} px).",
        DIAL_RULE == {0: False, 6: True})
rr, ri, rin = DD[('full − no registration', 6.0)], DD[('full − identity registration', 6.0)], DIX['full − no registration']
v = V.loc['lmvnet.registration']
C.state(f"**Registration with work to do, full − no registration: {v.verdict}** (the ledger's `lmvnet.registration`, judged where its precondition "
        f"holds): at dial 6 {fmt_diff(rr)} (per seed {per_seed(rr)}; minimal detectable effect {rr['mde']:.3f}), at 0 "
        f"{fmt_diff(DD[('full − no registration', 0.0)])}, the interaction {rin.diff:+.3f} [{rin.lo:+.3f}, {rin.hi:+.3f}]; against the identity "
        f"registration (the rival control: the same architecture, nothing aligned) {fmt_diff(ri)}. {v.reason[0].upper() + v.reason[1:]}.",
        v.verdict == verdict(rr['two_level'], None, rin, direction=1, rival=ri['two_level']).verdict)
'''
