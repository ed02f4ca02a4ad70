"""`--help` of every `mammo-nb` command and subcommand prints its usage and exits 0 (issue: one help text with a bare
'%' used to crash argparse with a traceback), and answers from the command index without importing any component."""
import contextlib, io, subprocess, sys

import pytest

from mammo_nb.cli import main, read_index, command_spec

SPEC = read_index() or command_spec()
GROUPS = sorted({' '.join(c['name'].split()[:i]) for c in SPEC['commands'] for i in range(1, len(c['name'].split()))})
ALL = ([[]] + [g.split() for g in GROUPS] + [c['name'].split() for c in SPEC['commands']] + [['demo'], ['info'], ['bench']]
       + [['bench', b['name']] for b in SPEC['benchmarks']])


@pytest.mark.parametrize('words', ALL, ids=lambda w: ' '.join(w) or '(top)')
def test_help(words):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        with pytest.raises(SystemExit) as e: main([*words, '--help'], SPEC)
    assert e.value.code == 0 and out.getvalue().startswith('usage: mammo-nb'), out.getvalue()[:300]


def test_every_system_has_the_same_commands():
    names = {c['name'] for c in SPEC['commands']}
    systems = {n.split()[1] for n in names if n.startswith('train ')}
    assert {'registration', 'lmvnet'} <= systems
    for s in systems: assert {f'train {s}', f'evaluate {s}', f'predict {s}'} <= names, s
    flags = lambda n: {a[0][0] for a in next(c for c in SPEC['commands'] if c['name'] == n)['args']}
    common = {'--manifest', '--root', '--cache', '--out', '--device', '--resume', '--set', '--quiet'}
    for s in systems: assert common <= flags(f'train {s}'), s


def test_help_imports_no_component(tmp_path):
    "With a current index (written here for this package's sources), `--help` imports only the console script."
    import json
    (tmp_path/'cli.json').write_text(json.dumps(SPEC if read_index() else command_spec()))
    code = ("import sys, contextlib, io\nfrom pathlib import Path\nimport mammo_nb.cli as c\n"
            f"c.INDEX = Path({str(tmp_path/'cli.json')!r})\nmain = c.main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n    try: main(['train', 'lmvnet', '--help'])\n    except SystemExit: pass\n"
            "print(sorted(m for m in sys.modules if m.startswith(('torch', 'fastai', 'mammo_nb.'))))")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert r.stdout.strip() == "['mammo_nb.cli']", r.stdout + r.stderr
