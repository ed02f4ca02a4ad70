"""Temporary driver (issue 44 item 7, a base trained to a plateau): the paper's variant (attributes + ViT) trained for three
times the page's budget (360 epochs, the same constant learning rate), five seeds, and the chosen loop setting and its
control fine-tuned from each of them (30 epochs, as on the page). One file per run in
nbs/tutorials/predictions/86/plateau/ (the per-crop test measurements, the stranger judge's reading beside the judge's,
the run's FID/KID) and its validation log in .../86/plateau-history/, written as each run ends, resumable. Runs page 86's
setup cells, then the cells below, which go onto the page when the section lands (then this file is deleted).

    .venv/bin/python tools/drive86_plateau.py          # trains and scores what is not kept yet (WORKERS=1 or 2)
    DRY=1 .venv/bin/python tools/drive86_plateau.py    # counts the kept files
    .venv/bin/python tools/drive86_plateau.py insert   # puts the section on page 86, after the cost, before the verdicts
    .venv/bin/python tools/drive86_plateau.py ledger   # 60g: ldm.reconstruction_loop judged on the plateau runs (then make export)

Landing checklist (when all 15 runs are kept): `insert`; the INTRO_MD's {LATE} from the page's last-quarter gains; the ledger
(60g): `ldm.reconstruction_loop` judged on the plateau runs (Kept('plateau', stat='mean', score='counterfactual pathology'),
arms 'loop, 360 epochs' / 'control, 360 epochs'); `make page PAGE=86`; the section's reading, the conclusions (the
"still falling" statement, the loop statements, the ledger-agreement check), the cost, the callout, Reading the result and
the course row from its outputs; delete this file.

Why 360 epochs: the page's 120-epoch runs still gained 12-16 % of validation loss in their last quarter; a power law
fitted to their epochs 40-119 (five seeds) projects a last-quarter gain of about 3 % at 240 epochs and about 1 % at 360.
"""
import json, os, sys
from pathlib import Path

JOBS_CELL = '''PLATEAU = dict(BASE, epochs=360)                      # three times the page's budget, the same constant learning rate
l_, t_ = next(lt for lt in LOOP_SETTINGS if loop_name(*lt, 0) == f'{LOOP}-s0')       # the loop setting chosen on validation above
JOBS_PLATEAU = {'stage-1': dict(system='lesion-ldm', manifest=MAN, out=RUN/'stage1', **DATA, settings=STAGE1)}   # (what they build on)
for s in ALL_SEEDS:
    start = str(RUN/'runs'/f'plateau-s{s}')
    JOBS_PLATEAU[f'plateau-s{s}'] = job(f'plateau-s{s}', {**PLATEAU, 'conditioning': 'attributes_vit', 'seed': s})
    JOBS_PLATEAU[f'control-plateau-s{s}'] = job(f'control-plateau-s{s}', {**FINETUNE, 'conditioning': 'attributes_vit', 'seed': s, 'finetune': start})
    JOBS_PLATEAU[f'loop-plateau-s{s}'] = job(f'loop-plateau-s{s}', {**FINETUNE, 'conditioning': 'attributes_vit', 'seed': s, 'finetune': start,
                                                                    'lambda_cls': l_, 'cls_t_max': t_})
PLATEAU_RUNS = [k for k in JOBS_PLATEAU if k != 'stage-1']
for k in PLATEAU_RUNS:                                 # each differs from the page's run of its arm and seed in the base's budget only
    s = int(k.rsplit('-s', 1)[1])
    page = {'plateau': f'attributes_vit-s{s}', 'control-plateau': f'control-s{s}', 'loop-plateau': loop_name(l_, t_, s)}[k.rsplit('-s', 1)[0]]
    a, b = JOBS_PLATEAU[k]['settings'], {**JOBS, **JOBS_MORE}[page]['settings']
    test_eq(sorted(x for x in {*a, *b} if a.get(x) != b.get(x)), ['epochs'] if k.startswith('plateau') else ['finetune'])
print(f"{len(PLATEAU_RUNS)} runs: attributes + ViT for {PLATEAU['epochs']} epochs ({PLATEAU['epochs'] // BASE['epochs']} times the budget above), "
      f"and the loop ({LOOP}) and its control fine-tuned from it for {FINETUNE['epochs']} epochs, seeds {ALL_SEEDS[0]}-{ALL_SEEDS[-1]}")
'''

KEEP_CELL = '''#| slow
PLATEAU_ARM = {'plateau': 'attributes + ViT, 360 epochs', 'control-plateau': 'control, 360 epochs', 'loop-plateau': 'loop, 360 epochs'}
def plateau_rows(k:str, run) -> pd.DataFrame:
    "One plateau run on the test crops: the page's per-crop measurements (the loop also guided at its chosen scale), the stranger judge's counterfactual reading, the run's FID and KID."
    arm_, s = PLATEAU_ARM[k.rsplit('-s', 1)[0]], int(k.rsplit('-s', 1)[1])
    scales = [0.0] + ([S_CHOSEN[LOOP]] if k.startswith('loop') and S_CHOSEN[LOOP] > 0 else [])
    out = []
    for cs in scales:
        e = evaluate(run, cs)
        model, test = run.load_model('cpu'), prepared()['test']
        kw = dict(steps=STEPS, guidance=W, classifier_scale=cs, seed=0, n_boot=N_BOOT, classifier=lesion_ldm.guidance_classifier(run, model, cs))
        with sample_cache(RUN/'samples'):                 # the very samples the judge read, read by the stranger
            st = counterfactual_control(model, stranger_judge(), test, 'pathology', unset=('birads',), **kw)['per_crop']['balanced'].to_numpy(float)
        t = e['ev']['table']
        fk = {m.lower(): float(t[(t.metric == m) & (t.method == 'model')].estimate.iloc[0]) for m in ('FID', 'KID')}
        out.append(per_crop_rows(k if cs == 0 else f'{k} guided', arm_ if cs == 0 else f'{arm_}, guided', s, e).assign(
            classifier_scale=cs, **{'stranger counterfactual pathology': st}, **fk))
    return pd.concat(out, ignore_index=True)
def plateau_history(k:str, run) -> pd.DataFrame:
    "One plateau run's validation log, one row per epoch."
    h = pd.read_csv(run.path/'history.csv')
    return h.assign(run=k, id=k + '/e' + h.epoch.astype(str))
PPLAT = kept_runs('86', 'plateau', JOBS_PLATEAU, plateau_rows, keep=PLATEAU_RUNS, prepare=prepared, workers=2, threads=1, progress=False)
HPLAT = kept_runs('86', 'plateau-history', JOBS_PLATEAU, plateau_history, keep=PLATEAU_RUNS, prepare=prepared, workers=2, threads=1,
                  progress=False, columns=('id', 'epoch'))
print(f"{PPLAT.run.nunique()} runs kept, {PPLAT.groupby('run').train_minutes.first().sum():.1f} training minutes")
'''

INTRO_MD = """## A base trained to a plateau

The base runs above were stopped at 120 epochs while their validation loss was still falling (the last quarter lowered
it by {LATE}), and the loop and its control were fine-tuned from them: part of what either fine-tuning buys may be
training the base had not finished. The paper's variant is trained again for **360 epochs** (three times the budget,
the same constant learning rate; a power law fitted to the 120-epoch curves projected a last-quarter gain near 1 % at
360 epochs and near 3 % at 240), five seeds, and the chosen loop setting and its control are fine-tuned from each of
these runs exactly as above (30 epochs, the same steps). Each run differs from the page's run of its arm and seed in
the base's budget only (checked below, setting by setting), so each pairs with it:"""

CMP_MD = """The validation loss of the longer runs by epoch (the 120-epoch runs in grey), the last-quarter gain of each, and the
comparisons on the test crops (two-level intervals: five seeds and the women; the stranger judge reads the very samples
the judge reads; *interaction*: the loop's gain over its control on the plateaued base minus the same gain on the
120-epoch base):"""

CMP_CELL = """#| slow
hist_p = {k: HPLAT[HPLAT.run == k].sort_values('epoch').reset_index(drop=True) for k in PLATEAU_RUNS}
qp = PLATEAU['epochs'] * 3 // 4
base_p = [f'plateau-s{s}' for s in ALL_SEEDS]
gain_p = {k: 1 - hist_p[k].valid_loss.min() / hist_p[k].valid_loss[:qp].min() for k in base_p}    # what the last quarter still gained
fig, ax = plt.subplots(1, 2, figsize=(11, 3.2))
for s in ALL_SEEDS:
    h1, h3 = hist[f'attributes + ViT-s{s}'], hist_p[f'plateau-s{s}']
    ax[0].plot(h1.epoch, h1.valid_loss, color='0.6', lw=1, label='120 epochs' if s == 0 else None)
    ax[0].plot(h3.epoch, h3.valid_loss, color='tab:green', lw=1, alpha=0.8, label=f"{PLATEAU['epochs']} epochs" if s == 0 else None)
    for a, c in (('control', 'k'), ('loop', 'tab:red')):
        h = hist_p[f'{a}-plateau-s{s}']
        ax[1].plot(h.epoch, h.valid_loss_eps, color=c, lw=1, alpha=0.8, label=f'{a}, from the {PLATEAU["epochs"]}-epoch base' if s == 0 else None)
ax[0].set(xlabel='epoch', ylabel='validation $L_\\\\epsilon$ (EMA weights)', yscale='log', ylim=(0.015, 1.2)); ax[0].legend(fontsize=7)
ax[1].set(xlabel='fine-tuning epoch', ylabel='validation $L_\\\\epsilon$ (EMA weights)'); ax[1].legend(fontsize=7); plt.tight_layout(); plt.show()
RUNS_P = PPLAT[~PPLAT.run.str.endswith(' guided')].groupby('run')[['best_epoch', 'best_value', 'train_minutes', 'torch_threads', 'fid', 'kid']].first()
test_eq(set(RUNS_P.torch_threads), {1})
print(f"{PLATEAU['epochs']} epochs: last-quarter gain {min(gain_p.values()):.1%}–{max(gain_p.values()):.1%} (120 epochs: "
      f"{min(late_gain[f'attributes + ViT-s{s}'] for s in ALL_SEEDS):.1%}–{max(late_gain[f'attributes + ViT-s{s}'] for s in ALL_SEEDS):.1%}); "
      f"best validation loss {RUNS_P.loc[base_p, 'best_value'].min():.4f}–{RUNS_P.loc[base_p, 'best_value'].max():.4f} (120 epochs: "
      f"{min(hist[f'attributes + ViT-s{s}'].valid_loss.min() for s in ALL_SEEDS):.4f}–{max(hist[f'attributes + ViT-s{s}'].valid_loss.min() for s in ALL_SEEDS):.4f}); "
      f"{len(RUNS_P)} runs, {RUNS_P.train_minutes.sum():.1f} training minutes")
TABLES += [PPLAT]
arms.update({'attributes + ViT, 360 epochs': base_p, 'control, 360 epochs': [f'control-plateau-s{s}' for s in ALL_SEEDS],
             'loop, 360 epochs': [f'loop-plateau-s{s}' for s in ALL_SEEDS]})
def vs_interaction(a1, b1, a2, b2, col) -> dict:
    "(a1 − b1) − (a2 − b2), seed-averaged per crop, crops where all four are defined, two-level CI (seeds paired by number)."
    A1, B1, A2, B2 = (arm(n, col) for n in (a1, b1, a2, b2))
    ok = np.isfinite(A1).all(1) & np.isfinite(B1).all(1) & np.isfinite(A2).all(1) & np.isfinite(B2).all(1)
    return compare(np.zeros(int(ok.sum())), G[ok], (A1 - B1)[ok], (A2 - B2)[ok], stat=lambda y, p: float(np.mean(p)), n_boot=N_BOOT, seed=0)
PD_ = {}
L3, C3, B3 = arms['loop, 360 epochs'], arms['control, 360 epochs'], arms['attributes + ViT, 360 epochs']
for m in ('in-RoI PSNR (dB)', 'SSIM', 'counterfactual: pathology', 'counterfactual: category', 'swapped: pathology'):
    PD_[f'360 − 120 epochs, attributes + ViT: {m}'] = vs(B3, arms['attributes + ViT'], METRICS[m])
    PD_[f'control − its base, 360 epochs: {m}'] = vs(C3, B3, METRICS[m])
    PD_[f'loop − control, 360 epochs: {m}'] = vs(L3, C3, METRICS[m])
    PD_[f'interaction, loop − control: 360 − 120 epochs: {m}'] = vs_interaction(L3, C3, arms['loop'], arms['control'], METRICS[m])
PD_['loop − control, 360 epochs: counterfactual: pathology, the stranger reads'] = vs(L3, C3, 'stranger counterfactual pathology')
if S_CHOSEN[LOOP] > 0:
    for m in ('in-RoI PSNR (dB)', 'counterfactual: pathology'):
        PD_[f'loop, guided − unguided, 360 epochs: {m}'] = vs([f'{n} guided' for n in L3], L3, METRICS[m])
plot_forest({k: v for k, v in PD_.items() if 'PSNR' not in k}, xlabel='difference in judge agreement or SSIM (A − B), two-level 95% CI'); plt.tight_layout()
print('FID (seeds): ' + '; '.join(f"{a} " + ' / '.join(f"{RUNS_P.loc[n, 'fid']:.2f}" for n in arms[a]) for a in ('attributes + ViT, 360 epochs', 'control, 360 epochs', 'loop, 360 epochs'))
      + f"; 120 epochs: " + ' / '.join(f"{table_value(n, 'FID', 'model'):.2f}" for n in arms['attributes + ViT']))
pd.DataFrame({k: {'A − B [95% CI]': fmt_diff(v, 2 if 'PSNR' in k else 3), 'per seed': ' '.join(f"{d:+.3f}" for d in v['diffs']),
                  'seed-level SE': f"{v['se_seed']:.3f}", 'women-level SE': f"{v['se_women']:.3f}"} for k, v in PD_.items()}).T
"""


def insert():
    "Puts the section on page 86 after the cost (its histories of seeds 2-4 are read there), before the verdicts; imports kept_runs."
    p = Path('nbs/tutorials/86_lesion_ldm_phantom.ipynb'); nb = json.load(open(p))
    src = lambda c: ''.join(c['source'])
    md = lambda s: dict(cell_type='markdown', metadata={}, source=s.splitlines(keepends=True))
    code = lambda s: dict(cell_type='code', execution_count=None, metadata={}, outputs=[], source=s.splitlines(keepends=True))
    assert not any(src(c).startswith('## A base trained to a plateau') for c in nb['cells']), 'already inserted'
    i = next(i for i, c in enumerate(nb['cells']) if src(c).startswith('## The verdicts'))
    nb['cells'][i:i] = [md(INTRO_MD), code('#| slow\n' + JOBS_CELL), code(KEEP_CELL), md(CMP_MD), code(CMP_CELL)]
    c2 = nb['cells'][2]; s2 = src(c2)
    old = 'from mammo_nb.train.experiments import train_jobs, run_table,'
    assert s2.count(old) == 1; c2['source'] = s2.replace(old, 'from mammo_nb.train.experiments import train_jobs, kept_runs, run_table,').splitlines(keepends=True)
    p.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')


def ledger_row():
    "60g: judge ldm.reconstruction_loop on the loop and control fine-tuned from the 360-epoch base (once)."
    p = Path('nbs/train/60g_claims.ipynb'); nb = json.load(open(p))
    i = next(i for i, c in enumerate(nb['cells']) if "Claim('ldm.reconstruction_loop'" in ''.join(c['source']))
    src = ''.join(nb['cells'][i]['source'])
    old = """          arm_a='loop',
          arm_b='control',
          page_quote='+0.099 [+0.070, +0.129]',
          kept=Kept('loop-predictions', stat='mean', score='counterfactual pathology', more=('loop-predictions-more',))),"""
    new = """          arm_a='loop, 360 epochs',     # fine-tuned from a base trained three times as long (page 86 shows the 120-epoch base's loop beside it)
          arm_b='control, 360 epochs',
          page_quote='+0.099 [+0.070, +0.129]',
          kept=Kept('plateau', stat='mean', score='counterfactual pathology')),"""
    assert src.count(old) == 1
    nb['cells'][i]['source'] = src.replace(old, new).splitlines(keepends=True)
    p.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')


def main():
    p = Path('nbs/tutorials/86_lesion_ldm_phantom.ipynb')
    nb = json.load(open(p))
    cells = [''.join(c['source']) for c in nb['cells']]
    at = lambda start: next(i for i, s in enumerate(cells) if s.startswith(start))
    g = {}
    stop = at('#| slow\nSTRANGER = dict')
    for i, s in enumerate(cells[:stop + 1]):                                 # the page up to the stranger judge: every table read from its kept file
        if i >= 2 and nb['cells'][i]['cell_type'] == 'code':
            exec(s.replace('#| slow\n', ''), g); g['plt'].close('all')
    if not os.environ.get('DRY'):                                            # stage 1 rebuilt here must be the page's (its kept test record)
        t = g['stage1_record']().set_index('id')
        assert (t.estimate - g['T1'].estimate.loc[t.index]).abs().max() < 1e-6, 'stage 1 differs from the kept one'
        print('stage 1 reproduces its kept test record')
    g['plt'].close('all')
    exec('from mammo_nb.train.experiments import kept_runs', g)              # (the page imports it when the section lands)
    exec(JOBS_CELL, g)
    workers = f"workers={int(os.environ.get('WORKERS', '2'))}"           # the page trains two at a time; the driver as told
    d = Path('nbs/tutorials/predictions/86/plateau')
    if os.environ.get('DRY'): print(len(list(d.glob('*.csv.gz'))) if d.exists() else 0, 'of', len(g['PLATEAU_RUNS'])); return
    defs, rest = KEEP_CELL.replace('#| slow\n', '').replace('workers=2', workers).split('PPLAT = ')
    exec(defs, g)
    from mammo_nb.train.experiments import _kept_part, _write_kept, RUN_COLUMNS
    rows, hist = g['plateau_rows'], g['plateau_history']
    def rows_and_history(k, run):                                            # the log kept as soon as the run ends too, not after all 15
        r = g['run_table']({k: run}, threads=1)[0].iloc[0]                   # the training record, as kept_runs writes it
        rec = dict(zip(RUN_COLUMNS, (run.key, r['best epoch'], r['monitor'], r['best value'], r['train minutes'], r['torch threads'])))
        _write_kept(hist(k, run).assign(**rec), _kept_part('86', 'plateau-history', k, None), ('id', 'epoch') + RUN_COLUMNS)
        return rows(k, run)
    g['plateau_rows'] = rows_and_history
    exec('PPLAT = ' + rest, g)

os.environ.setdefault('MPLBACKEND', 'Agg')
os.chdir(Path(__file__).resolve().parents[1])
if __name__ == '__main__': {'insert': insert, 'ledger': ledger_row}.get(sys.argv[1] if sys.argv[1:] else '', main)()
