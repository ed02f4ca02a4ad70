"""`mammo-nb bench learnability`: its flags, refusals of bad input, and (slow) a quick run end to end."""
import os, subprocess, sys
from pathlib import Path

import pytest

EXE = str(Path(sys.executable).parent/'mammo-nb')
ENV = {**os.environ, 'MPLBACKEND': 'Agg', 'OMP_NUM_THREADS': '1'}


def run(*args, timeout=600):
    return subprocess.run([EXE, *args], capture_output=True, text=True, env=ENV, timeout=timeout)


def test_bench_declares_its_flags():
    r = run('bench', 'learnability', '--help')
    assert r.returncode == 0, r.stderr[-2000:]
    for flag in ('--quick', '--device', '--size', '--preset', '--patients', '--epochs', '--seed', '--threads'):
        assert flag in r.stdout, flag
    r = run('bench', 'learnability', '--preset', 'easy')
    assert r.returncode == 2 and "invalid choice: 'easy'" in r.stderr


def test_bad_input_is_refused_before_any_work(tmp_path):
    from mammo_nb.core import MammoInputError
    from mammo_nb.train.learnability import learnability_table, image_table, train_probe, LearnabilityProbe
    with pytest.raises(MammoInputError, match='preset must be one of'): learnability_table('easy')
    with pytest.raises(MammoInputError, match='n_patients must be >= 10'): learnability_table(n_patients=4, workdir=tmp_path)
    assert not any(tmp_path.iterdir()) # refused before writing anything
    with pytest.raises(MammoInputError, match='epochs must be >= 1'): train_probe(None, epochs=0)
    with pytest.raises(MammoInputError, match='r must be > 0'): LearnabilityProbe(r=-1)
    import pandas as pd
    with pytest.raises(MammoInputError, match='lacks column'): image_table(pd.DataFrame({'patient_id': ['a']}))


@pytest.mark.slow
def test_quick_run_prints_every_question():
    from mammo_nb.train.learnability import QUESTIONS
    r = run('bench', 'learnability', '--quick', '--threads', '1', timeout=1800)
    assert r.returncode == 0, r.stderr[-3000:]
    for q in QUESTIONS: assert f'| {q} |' in r.stdout, q
    assert 'probe training' in r.stdout and "learnability of the 'teaching' phantom at 128x104" in r.stdout
