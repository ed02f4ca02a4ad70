#!/usr/bin/env python
"""`make test`: the whole gate, each part timed. `--slow` runs the long tests instead (`make test-slow`).

Parts: hygiene checks (tools/hygiene.py), nbdev_test on every notebook (tools/nbtest.py: one fresh process per
notebook), pytest tests/, docs processing with the offline HTML preview and its link check (tools/docs.py --check:
fails on any broken local href/src or literal callout markup, naming the page and the link).
All parts run even when one fails; the exit status is non-zero if any failed.
"""
from __future__ import annotations
import argparse, os, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def part(name, cmd, env=None):
    print(f"\n=== {name}: {' '.join(str(c) for c in cmd)}", flush=True)
    t0 = time.time()
    r = subprocess.run([str(c) for c in cmd], cwd=ROOT, env={**os.environ, **(env or {})})
    dt = time.time() - t0
    print(f"=== {name}: {'ok' if r.returncode == 0 else 'FAILED'} in {dt:.0f} s", flush=True)
    return name, r.returncode == 0, dt


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--slow', action='store_true', help='run the `#| slow` notebook cells and pytest -m slow')
    ap.add_argument('--workers', type=int, default=int(os.environ.get('MAMMO_TEST_WORKERS', 2)))
    a = ap.parse_args()
    env = {'MPLBACKEND': 'Agg', 'PYTHONWARNINGS': 'ignore::FutureWarning', 'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1'}
    t0, results = time.time(), []
    if a.slow:
        results.append(part('notebooks, slow cells included (nbdev_test --flags slow)',
                            [sys.executable, 'tools/nbtest.py', '--workers', a.workers, '--flags', 'slow'], env))
        results.append(part('pytest -m slow', [sys.executable, '-m', 'pytest', 'tests', '-m', 'slow', '-q'], env))
    else:
        results.append(part('hygiene', [sys.executable, 'tools/hygiene.py'], env))
        results.append(part('notebooks (nbdev_test)', [sys.executable, 'tools/nbtest.py', '--workers', a.workers], env))
        results.append(part('pytest', [sys.executable, '-m', 'pytest', 'tests', '-q', '--durations=8'], env))
        results.append(part('docs processing, preview and link check', [sys.executable, 'tools/docs.py', '--check', '--workers', a.workers], env))
    print("\n=== summary")
    for name, ok, dt in results: print(f"  {'ok    ' if ok else 'FAILED'} {dt:7.0f} s  {name}")
    print(f"  total  {time.time() - t0:7.0f} s")
    sys.exit(0 if all(ok for _, ok, _ in results) else 1)


if __name__ == '__main__':
    main()
