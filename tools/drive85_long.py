"""Temporary driver (issue 43 item 1, relation blocks that can learn): Table 2's three arms — IpsiDualNet-v2, IpsiDualNet w/o
relation blocks, the single view — again with twice the budget (24 epochs instead of 12; the relation blocks start at the
identity and the nipples fall back to the geometric estimate where the detector is unsure, as on the rest of the page), both
cues, five seeds; one file per run in nbs/tutorials/predictions/85/long/, resumable (`kept_runs`). Runs page 85's setup cells,
then the cells below, which go onto the page unchanged when the section lands (then this file is deleted).

    .venv/bin/python tools/drive85_long.py          # trains what is not kept yet (two one-thread runs at a time)
    DRY=1 .venv/bin/python tools/drive85_long.py    # counts the kept files
    .venv/bin/python tools/drive85_long.py insert   # puts the section's cells on page 85, before "## Table 4"

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

def insert():
    "Put the section's cells on page 85, before '## Table 4' (once)."
    import uuid
    p = Path('nbs/tutorials/85_momminet_phantom_reproduction.ipynb'); nb = json.load(open(p))
    if any('LONG_ARMS' in ''.join(c['source']) for c in nb['cells']): raise SystemExit('already inserted')
    at = next(i for i, c in enumerate(nb['cells']) if ''.join(c['source']).startswith("## Table 4"))
    cell = lambda kind, s: {'cell_type': kind, 'id': uuid.uuid4().hex[:8], 'metadata': {}, 'source': s.splitlines(keepends=True),
                            **({'outputs': [], 'execution_count': None} if kind == 'code' else {})}
    nb['cells'][at:at] = [cell('code', JOBS_CELL), cell('code', KEEP_CELL)]
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
if __name__ == '__main__': insert() if sys.argv[1:] == ['insert'] else main()
