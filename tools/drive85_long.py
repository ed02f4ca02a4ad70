"""Temporary driver (issue 43 item 1, relation blocks that can learn): Table 2's three arms — IpsiDualNet-v2, IpsiDualNet w/o
relation blocks, the single view — again with twice the budget (24 epochs instead of 12; the relation blocks start at the
identity and the nipples fall back to the geometric estimate where the detector is unsure, as on the rest of the page), both
cues, five seeds; one file per run in nbs/tutorials/predictions/85/long/, resumable (`kept_runs`). Runs page 85's setup cells,
then the cells below, which go onto the page unchanged when the section lands (then this file is deleted).

    .venv/bin/python tools/drive85_long.py          # trains what is not kept yet (two one-thread runs at a time)
    DRY=1 .venv/bin/python tools/drive85_long.py    # counts the kept files
    .venv/bin/python tools/drive85_long.py insert   # puts the section's cells on page 85, before "## Table 4"
    .venv/bin/python tools/drive85_long.py ledger   # 60g: momminet.relation_blocks judged on the 24-epoch runs
    .venv/bin/python tools/drive85_long.py prose    # the page's records and prose the longer runs change (the reading: by hand)

Landing checklist (when all 30 files are kept): `insert`; the ledger (60g): `momminet.relation_blocks` judged on the long
runs (Kept(table='long', strength=1.0, control=0.0, stat='froc') with arms 'ipsi-long' / 'concat-long'), or a second row;
`make page PAGE=85`; the reading, conclusions, setup table, callout, course row from its outputs; delete this file.
"""
import json, os, sys
from pathlib import Path

JOBS_CELL = '''LONG = {'ipsi': 24}                                                       # IpsiDualNet's epochs: twice the page's 12
LONG_ARMS = ('ipsi', 'concat', 'single')                                  # Table 2's three arms (and Table 6's single view)
def settings_long(c:int, arm:str, s:int) -> dict:
    "A Table 2 run with the longer budget: the arm's settings, the phantom's nipple detector (already trained), 24 epochs for IpsiDualNet."
    kw = {**settings(c, arm, s), 'stages': 'ipsi', 'nipple_run': str(RUN/NIPPLE_RUN(c))}
    return {**kw, 'stage_epochs': {**MODEL['stage_epochs'], **LONG}}
JOBS_LONG = {name(c, a + '-long', s): job(c, name(c, a + '-long', s), settings_long(c, a, s)) for c in (1, 0) for s in SEEDS + MORE_SEEDS for a in LONG_ARMS}
NIPPLE_JOBS2 = {NIPPLE_RUN(c): JOBS[NIPPLE_RUN(c)] for c in CUES}         # the nipple detectors they use (trained only if missing)
cl = {k: MommiNetConfig(**{**j['settings'], 'size': (128, 104)}) for k, j in JOBS_LONG.items()}
for c in cl.values(): c.check()
for a in LONG_ARMS:                                                       # each differs from the page's run of its arm in the budget only
    d1, d2 = cl[name(0, a + '-long', 3)].to_dict(), cm[name(0, a, 3)].to_dict()
    test_eq(sorted(k for k in d1 if k not in PLUMBING and d1[k] != d2[k]), ['stage_epochs'])
    test_eq(cl[name(0, a + '-long', 3)].epochs_of('ipsi'), 24)
print(f"{len(JOBS_LONG)} longer runs: {', '.join(a + '-long' for a in LONG_ARMS)} x {len(SEEDS + MORE_SEEDS)} seeds x {len(CUES)} cues, 24 epochs each")
'''

KEEP_CELL = '''#| slow
PLONG = kept_runs('85', 'long', {**NIPPLE_JOBS2, **JOBS_LONG}, lambda k, r: run_boxes(k, r, 'ipsidualnet'), keep=list(JOBS_LONG), prepare=phantoms,
                  workers=WORKERS, threads=1, progress=False, columns=KEPT_BOX_COLUMNS)
print(f"{PLONG.run.nunique()} runs kept, {PLONG.train_minutes.groupby(PLONG.run).first().sum():.1f} training minutes")
'''

INTRO_MD = """### Table 2 again, with twice the budget

Were the relation blocks simply not given the time to learn? Two of the things that could stop them are already out of
the way in every run on this page: a relation block **starts at the identity** (its value projection is zero, so at
first it passes the RoI stream unchanged and IpsiDualNet-v2 begins as its own single-view detector; a block that has
learned nothing costs nothing), and a nipple the detector scores below 0.7 **falls back to the geometric estimate**
([The nipple detector](#the-nipple-detector) below). What is left is the budget. The three arms of Table 2 —
IpsiDualNet-v2, IpsiDualNet w/o relation blocks, the single view — are trained again with **24 epochs instead of 12**
(the one-cycle schedule stretched over twice the steps), at both cues, five seeds each: 30 runs, each differing from
the page's run of its arm, seed and cue in the budget only (checked below, setting by setting), so every longer run
also pairs with its 12-epoch run:"""

CMP_MD = """The validation FROC of the longer runs by epoch (solid: cue 1, dashed: cue 0; grey: the same arm's 12-epoch runs),
the arms' recall with each budget, and the comparisons (two-level intervals: five seeds and the women; the interaction
with the mimics: the difference at the default cue minus the same difference at cue 0):"""

CMP_CELL = """#| slow
HIST_LONG = kept('85', 'history-long', lambda: history_record({k: r for k, r in train_jobs({**NIPPLE_JOBS2, **JOBS_LONG}, workers=WORKERS, threads=1,
                 progress=False).items() if k in JOBS_LONG}), columns=('id',))
hist_long = {k: HIST_LONG[HIST_LONG.run == k].sort_values('epoch').reset_index(drop=True) for k in JOBS_LONG}
fig, axs = plt.subplots(1, 3, figsize=(14, 3.4), sharey=True)
for ax, a in zip(axs, LONG_ARMS):
    for c in CUES:
        for s in SEEDS + MORE_SEEDS:
            h12, h24 = hist[name(c, a, s)], hist_long[name(c, a + '-long', s)]
            ax.plot(h12.epoch, h12.froc, '-' if c else '--', color='0.7', lw=1)
            ax.plot(h24.epoch, h24.froc, '-' if c else '--', color=f'C{c}', alpha=0.8, label=f'cue {c}, 24 epochs' if s == 0 else None)
    ax.set(title=ARM_TITLE[a], xlabel='epoch', ylim=(0, 1)); ax.legend(fontsize=7)
axs[0].set_ylabel('validation FROC score'); plt.tight_layout(); plt.show()
flat_long = pd.Series({k: plateau(h) for k, h in hist_long.items()})
best_long = PLONG.groupby('run').best_epoch.first().astype(int)
print(f"24-epoch runs: validation FROC over the last 4 epochs varies by a median {flat_long.median():.3f} (largest {flat_long.max():.3f}); "
      f"best epochs {best_long.min()}-{best_long.max()} (median {best_long.median():.0f}); {PLONG.train_minutes.groupby(PLONG.run).first().mean():.1f} "
      f"training minutes per run")
P2L = pd.concat([P5, PLONG], ignore_index=True)
def cmp_long(c:int, a:str, b:str, comparison:str) -> dict:
    "Arm a − arm b at cue c, on the page's kept boxes and the longer runs' (two-level, 1,000 resamples)."
    return compare_froc(P2L, a, b, FPPI, where={'strength': float(c)}, n_boot=1000, comparison=comparison, strength=c)
TL = [('IpsiDualNet-v2 − IpsiDualNet w/o relation blocks, 24 epochs', 'ipsi-long', 'concat-long'),
      ('IpsiDualNet w/o relation blocks − single view, 24 epochs', 'concat-long', 'single-long'),
      ('IpsiDualNet-v2 − single view, 24 epochs', 'ipsi-long', 'single-long')]
TL += [(f'{ARM_TITLE[a]}: 24 − 12 epochs', a + '-long', a) for a in LONG_ARMS]
tl = [cmp_long(c, a, b, t) for c in CUES for t, a, b in TL]
gl = lambda c, t: next(r for r in tl if r['comparison'] == t and r['strength'] == c)
IX_LONG = {t: interaction(gl(1, t)['two_level'], gl(0, t)['two_level']) for t, _, _ in TL}
print('interaction with the mimics (Δ at cue 1 − Δ at cue 0): ' + '; '.join(f"{t} {fmt_diff(x)}" for t, x in IX_LONG.items()))
levels_long = pd.DataFrame({(c, ARM_TITLE[a], e): recall_row(c, a + ('-long' if e == 24 else ''), P2L) for c in CUES for a in LONG_ARMS for e in (12, 24)}).T
levels_long.index.names = ['cue', 'arm', 'epochs']
display(levels_long)
diff_table(tl)
"""

def insert():
    "Put the section's cells on page 85, before '## Table 4' (once)."
    import uuid
    p = Path('nbs/tutorials/85_momminet_phantom_reproduction.ipynb'); nb = json.load(open(p))
    if any('LONG_ARMS' in ''.join(c['source']) for c in nb['cells']): raise SystemExit('already inserted')
    at = next(i for i, c in enumerate(nb['cells']) if ''.join(c['source']).startswith("## Table 4"))
    cell = lambda kind, s: {'cell_type': kind, 'id': uuid.uuid4().hex[:8], 'metadata': {}, 'source': s.splitlines(keepends=True),
                            **({'outputs': [], 'execution_count': None} if kind == 'code' else {})}
    nb['cells'][at:at] = [cell('markdown', INTRO_MD), cell('code', JOBS_CELL), cell('code', KEEP_CELL), cell('markdown', CMP_MD), cell('code', CMP_CELL)]
    i = next(i for i, c in enumerate(nb['cells']) if ''.join(c['source']).startswith('#| slow\ndef recall_row'))
    src = ''.join(nb['cells'][i]['source'])                               # recall_row reads any kept table (P5 by default)
    for a, b in (("def recall_row(c:int, a:str) -> dict:\n    ms, images, _ = arm_matches(P5, a, strength=float(c))",
                  "def recall_row(c:int, a:str, table:pd.DataFrame|None=None) -> dict:\n    t = P5 if table is None else table\n    ms, images, _ = arm_matches(t, a, strength=float(c))"),
                 ("boxes = P5[(P5.arm == a) & (P5.strength == c)]", "boxes = t[(t.arm == a) & (t.strength == c)]")):
        assert src.count(a) == 1, a
        src = src.replace(a, b)
    nb['cells'][i]['source'] = src.splitlines(keepends=True)
    p.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')

def ledger_row():
    "60g: judge momminet.relation_blocks on the 24-epoch runs (once)."
    p = Path('nbs/train/60g_claims.ipynb'); nb = json.load(open(p))
    i = next(i for i, c in enumerate(nb['cells']) if "Claim('momminet.relation_blocks'" in ''.join(c['source']))
    src = ''.join(nb['cells'][i]['source'])
    old = """          arm_a='ipsi',
          arm_b='concat',
          cue='summation',
          page_quote='-0.045 [-0.086, -0.006]',
          kept=Kept(strength=1.0, control=0.0, stat='froc', more=('predictions-more',))),
    Claim('momminet.ipsi_own_pairs',"""
    new = """          arm_a='ipsi-long',            # Table 2 again with 24 epochs per run (page 85 shows the 12-epoch runs, ipsi - concat, beside them)
          arm_b='concat-long',
          cue='summation',
          page_quote='-0.045 [-0.086, -0.006]',
          kept=Kept('long', strength=1.0, control=0.0, stat='froc')),
    Claim('momminet.ipsi_own_pairs',"""
    assert src.count(old) == 1
    nb['cells'][i]['source'] = src.replace(old, new).splitlines(keepends=True)
    p.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')

def prose():
    "The page's prose and records that the longer runs change, whatever their outcome (once; the reading and the verdict sentences are written from the render)."
    p = Path('nbs/tutorials/85_momminet_phantom_reproduction.ipynb'); nb = json.load(open(p))
    cells = lambda: [''.join(c['source']) for c in nb['cells']]
    def rep(start, old, new):
        i = next(i for i, s in enumerate(cells()) if s.startswith(start)); s = cells()[i]
        assert s.count(old) == 1, (start, old[:60]); nb['cells'][i]['source'] = s.replace(old, new).splitlines(keepends=True)
    rep('Are the budgets long enough?', 'Are the budgets long enough? The validation FROC of every run by epoch (every seed; solid: cue 1, dashed: cue 0):',
        'Do the runs level off? The validation FROC of every run by epoch (every seed; solid: cue 1, dashed: cue 0). A curve '
        'that flattens at the end of a one-cycle schedule shows the learning rate annealing, not only a plateau: '
        '[Table 2 again, with twice the budget](#table-2-again-with-twice-the-budget) trains three arms for 24 epochs instead of 12.')
    rep('## Table 5: where BiDualNet-v2 concatenates', 'cue, equal budgets (the curves above show each levelling off):',
        'cue, equal budgets (12 epochs each, as every table but the longer Table 2 below it):')
    rep('## The setup', 'equal budgets within each table; the validation curves below show where they level off |',
        "equal budgets within each table; Table 2's three arms also at 24 epochs, to see what twelve leave unlearned |")
    rep('::: {.callout-note}\n## How this page was rendered', "original MommiNet's boxes, one file per run with its training record (`v1/`, with the card of the ResNet trunks' weights\nbeside it).",
        "original MommiNet's boxes, one file per run with its training record (`v1/`, with the card of the ResNet trunks' weights\n"
        "beside it); and Table 2's three arms trained again for 24 epochs, one file per run (`long/`, their validation logs in\n`history-long`).")
    rep('#| slow\nR = {(r[', "for r in t6 + t2 + t4 + t5 + tm + ts + tn + tv1}", "for r in t6 + t2 + t4 + t5 + tm + ts + tn + tv1 + tl}")
    rep('#| slow\nR = {(r[', "f\"{len(SEEDS + MORE_SEEDS)} seeds per arm, {COST['runs'] + COST_MORE['runs'] + PV1.run.nunique()} runs, \"\n"
        "                f\"{COST['cpu_minutes'] + COST_MORE['cpu_minutes'] + V1_RUNS.train_minutes.sum():.1f} CPU minutes;",
        "f\"{len(SEEDS + MORE_SEEDS)} seeds per arm, {COST['runs'] + COST_MORE['runs'] + PV1.run.nunique() + PLONG.run.nunique()} runs, \"\n"
        "                f\"{COST['cpu_minutes'] + COST_MORE['cpu_minutes'] + V1_RUNS.train_minutes.sum() + PLONG.train_minutes.groupby(PLONG.run).first().sum():.1f} CPU minutes;")
    rep('#| slow\nR = {(r[', "'momminet.relation_blocks': 'IpsiDualNet-v2 − IpsiDualNet w/o relation blocks',",
        "'momminet.relation_blocks': 'IpsiDualNet-v2 − IpsiDualNet w/o relation blocks, 24 epochs',")
    p.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')

def main():
    nb = json.load(open('nbs/tutorials/85_momminet_phantom_reproduction.ipynb'))
    cells = [''.join(c['source']) for c in nb['cells']]
    at = lambda start: next(i for i, s in enumerate(cells) if s.startswith(start))
    g = {}
    for i in (2, 3, 7, 9):
        exec(cells[i], g)
    exec(cells[at('#| slow\n_phantoms = {}')].split('def counts')[0], g)      # phantoms()
    s = cells[at('#| slow\nHEAD = lambda')]
    exec(s.split('def model_records')[0], g)                                 # HEAD, _loaders, test_loader
    exec(cells[at('V1_TRUNKS = ')], g)                                        # `job`
    s = cells[at('#| slow\nKEPT_BOX_COLUMNS')]
    exec(s.split('CARD_V1 =')[0].replace('#| slow\n', ''), g)                # run_boxes, KEPT_BOX_COLUMNS
    exec(JOBS_CELL, g)
    g['WORKERS'] = int(os.environ.get('WORKERS', g['WORKERS']))            # one while the machine renders, two otherwise
    if os.environ.get('DRY'):
        d = Path('nbs/tutorials/predictions/85/long'); print(len(list(d.glob('*.csv.gz'))) if d.exists() else 0, 'of', len(g['JOBS_LONG'])); return
    exec(KEEP_CELL.replace('#| slow\n', ''), g)

os.chdir(Path(__file__).resolve().parents[1])
if __name__ == '__main__': {'insert': insert, 'ledger': ledger_row, 'prose': prose}.get(sys.argv[1] if sys.argv[1:] else '', main)()
