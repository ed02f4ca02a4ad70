#!/usr/bin/env python
"""Run `nbdev_test` on every notebook, each notebook in a fresh process, N at a time.

  python tools/nbtest.py                  # the default cells of every notebook under nbs/
  python tools/nbtest.py --flags slow     # also the `#| slow` cells
  python tools/nbtest.py nbs/train        # one folder (or single notebooks)

Why not one `nbdev_test --n_workers N` call: its worker pool reuses processes, so what one notebook's cells leave
in the process outlives it. Exported cells run in `__main__`, and the registries (`MODELS`, `DEMO_STEPS`, commands)
then hold the notebook's `__main__` copies of classes and functions; the next notebook on that worker gets those
instead of the package's (e.g. `load_checkpoint` builds a `__main__.RadiomicsCGAN`, which is not a
`mammo_nb.models.cgan.RadiomicsCGAN`). Which notebooks share a worker depends on timing, so the failures come and
go. One process per notebook costs a few seconds each and makes every notebook's result independent of the others.
"""
from __future__ import annotations
import argparse, os, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def notebooks(paths: list[str]) -> list[Path]:
    "The notebooks nbdev_test would run under `paths` (skipping names that start with `_` or `.`)."
    from nbdev.doclinks import nbglob
    out = []
    for p in paths or [str(ROOT/'nbs')]:
        p = Path(p)
        if p.is_file(): out.append(p.resolve())
        else: out += [Path(f).resolve() for f in nbglob(str(p), as_path=True, skip_file_re='^[_.]')]
    return sorted(set(out))


def run_one(nb: Path, flags: list[str]) -> tuple[Path, bool, float, str]:
    t0 = time.time()
    cmd = [str(BIN/'nbdev_test'), '--path', str(nb), *(['--flags', ' '.join(flags)] if flags else [])]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    return nb, r.returncode == 0, time.time() - t0, (r.stdout + r.stderr).strip()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('paths', nargs='*', help='notebooks or folders (default: nbs/)')
    ap.add_argument('--workers', type=int, default=int(os.environ.get('MAMMO_TEST_WORKERS', 2)))
    ap.add_argument('--flags', action='append', default=[], help='an nbdev flag to run as well, e.g. slow (repeat for more; paths may follow)')
    a = ap.parse_args()
    nbs = notebooks(a.paths)
    if not nbs: print('no notebooks found'); return 1
    failed = []
    with ThreadPoolExecutor(max(1, a.workers)) as ex:
        for nb, ok, dt, out in ex.map(lambda n: run_one(n, a.flags), nbs):
            rel = nb.relative_to(ROOT) if nb.is_relative_to(ROOT) else nb
            print(f"  {'ok    ' if ok else 'FAILED'} {dt:6.1f} s  {rel}", flush=True)
            if not ok: failed.append((rel, out))
    for rel, out in failed: print(f"\n--- {rel} ---\n{out}")
    print(f"{len(nbs) - len(failed)} of {len(nbs)} notebooks passed" + (f"; failed: {', '.join(str(r) for r, _ in failed)}" if failed else ''))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
