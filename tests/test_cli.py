"""The `mammo-nb` console script end to end, as a user runs it."""
import os, subprocess, sys
from pathlib import Path
import mammo_nb

EXE = str(Path(sys.executable).parent/'mammo-nb')


def run(*args, **kw):
    return subprocess.run([EXE, *args], capture_output=True, text=True, **kw)


def test_help_lists_only_working_commands():
    r = run('--help')
    assert r.returncode == 0
    assert 'demo' in r.stdout and 'info' in r.stdout and 'selftest' not in r.stdout


def test_version():
    r = run('--version')
    assert r.returncode == 0 and r.stdout.strip() == f'mammo_nb {mammo_nb.__version__}'


def test_info_names_registered_components():
    r = run('info')
    assert r.returncode == 0 and 'train-core' in r.stdout and 'tiny-two-head' in r.stdout


def test_bad_subcommand_is_a_usage_error():
    r = run('no-such-command')
    assert r.returncode == 2 and 'invalid choice' in r.stderr


def test_demo_step_writes_report(tmp_path):
    r = run('demo', '--steps', 'train-core', '--out', str(tmp_path/'demo'), env={**os.environ, 'MPLBACKEND': 'Agg'})
    assert r.returncode == 0, r.stderr[-2000:]
    report = (tmp_path/'demo'/'report.md').read_text()
    assert '| The training core on synthetic tensors | resume identical | 1 |' in report
    assert (tmp_path/'demo'/'train-core'/'curves.png').stat().st_size > 1000


def test_unknown_demo_step_is_reported(tmp_path):
    r = run('demo', '--steps', 'nope', '--out', str(tmp_path))
    assert r.returncode == 2 and "unknown demo step(s) nope" in r.stderr
