"""`mammo-nb cache` end to end, a build killed by SIGKILL at an arbitrary moment, Dask worker processes, the hash memo."""
import json, os, signal, subprocess, sys, time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mammo_nb.core import MammoInputError
from mammo_nb.data import cache as C
from mammo_nb.data.cache import Cache, build_cache
from mammo_nb.data.manifest import load_manifest
from mammo_nb.data.phantom_dicom import generate_phantom

EXE = str(Path(sys.executable).parent/'mammo-nb')
ENV = {**os.environ, 'MPLBACKEND': 'Agg'}
SIZE = (128, 104)


@pytest.fixture(scope='module')
def phantom(tmp_path_factory):
    root = tmp_path_factory.mktemp('phantom')/'p'
    man = generate_phantom(root, n_patients=4, n_years=2, size=SIZE, seed=5, progress=False)
    return root, man


@pytest.fixture(scope='module')
def reference(phantom, tmp_path_factory):
    "An uninterrupted sequential build: keys and arrays to compare against."
    root, man = phantom
    c = tmp_path_factory.mktemp('ref')/'cache'
    res = build_cache(man, root=root, cache=c, size=SIZE, progress=False)
    return res, Cache(c)


def complete(c: Cache) -> bool:
    return all(all((c.path(k)/f).is_file() for f in ('image.npy', 'breast_mask.npy', 'lesion_masks.npy', 'meta.json')) for k in c.keys())


def same_bytes(a: Cache, b: Cache, keys) -> bool:
    return all((a.path(k)/f).read_bytes() == (b.path(k)/f).read_bytes()
               for k in keys for f in ('image.npy', 'breast_mask.npy', 'lesion_masks.npy'))


def test_cli_builds_reuses_and_reports_failures(phantom, tmp_path):
    root, man = phantom
    cache = tmp_path/'cache'
    args = [EXE, 'cache', str(man), '--root', str(root), '--cache', str(cache), '--size', *map(str, SIZE)]
    r = subprocess.run(args + ['--workers', '2'], capture_output=True, text=True, env=ENV, timeout=600)
    n = len(pd.read_csv(man))
    assert r.returncode == 0, r.stderr[-2000:]
    assert f'{n} images ({n} built, 0 already cached, 0 failed' in r.stdout, r.stdout
    assert 'cache' in r.stderr  # the tqdm bar
    # the same manifest with an unreadable image: the rest is found in the cache (nothing re-hashed but the new file),
    # the bad file is named on stderr, exit code 1
    df = pd.read_csv(man)
    (root/'images'/'broken.dcm').write_bytes(b'not a dicom at all' * 10)
    df.loc[1, 'image_path'] = 'images/broken.dcm'
    bad = tmp_path/'bad.csv'; df.to_csv(bad, index=False)
    r = subprocess.run([EXE, 'cache', str(bad), '--root', str(root), '--cache', str(cache), '--size', *map(str, SIZE), '--quiet'],
                       capture_output=True, text=True, env=ENV, timeout=600)
    assert r.returncode == 1, r.stdout
    assert f'0 built, {n - 1} already cached, 1 failed; 1 files hashed' in r.stdout, r.stdout
    assert 'failed: images/broken.dcm: not a DICOM file' in r.stderr, r.stderr
    assert str(root) not in r.stderr  # relative paths only


KILL_SCRIPT = """
import sys, time
from mammo_nb.data import cache as C
def slow(stage, key): time.sleep(0.02)   # widen the window in which an entry is half-written
C._FAULT_HOOK = slow
C.build_cache(sys.argv[1], root=sys.argv[2], cache=sys.argv[3], size=(128, 104), progress=False)
"""


@pytest.mark.parametrize('after', [3, 9])
def test_sigkill_at_any_moment_then_resume(phantom, reference, tmp_path, after):
    "A real process, killed by SIGKILL while entries are being written, leaves no partial entry; the next build completes it."
    root, man = phantom
    ref, ref_cache = reference
    cache = tmp_path/'cache'
    p = subprocess.Popen([sys.executable, '-c', KILL_SCRIPT, str(man), str(root), str(cache)], env=ENV,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and p.poll() is None and len(Cache(cache)) < after: time.sleep(0.005)
    p.send_signal(signal.SIGKILL); p.wait(30)
    c = Cache(cache)
    assert p.returncode == -signal.SIGKILL, p.stderr.read().decode()[-2000:]
    done = len(c)
    assert after <= done < len(ref), done
    assert complete(c)                                                   # every visible entry is whole
    res = build_cache(man, root=root, cache=cache, size=SIZE, progress=False)
    assert (res.attrs['cached'], res.attrs['built']) == (done, len(ref) - done)
    assert complete(c) and list(c.entries_dir.glob('*/.tmp-*')) == []
    assert res['key'].tolist() == ref['key'].tolist()
    assert same_bytes(ref_cache, c, res['key'])


def test_dask_worker_processes(phantom, reference, tmp_path):
    "A LocalCluster of worker *processes* (they import mammo_nb themselves) builds byte-identical entries."
    from distributed import LocalCluster
    root, man = phantom
    ref, ref_cache = reference
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        res = build_cache(man, root=root, cache=tmp_path/'cache', size=SIZE, scheduler=cluster.scheduler_address, progress=False)
    assert res.attrs['built'] == len(ref) and res['key'].tolist() == ref['key'].tolist()
    assert same_bytes(ref_cache, Cache(tmp_path/'cache'), res['key'])


def test_second_build_reads_no_file(phantom, reference, monkeypatch):
    "With the memo, a second build never hashes (reads) a file; a touched file is hashed again and keeps its key."
    root, man = phantom
    ref, ref_cache = reference
    def no_reading(path): raise AssertionError(f'{path} was hashed again')
    monkeypatch.setattr(C, 'file_sha256', no_reading)
    res = build_cache(man, root=root, cache=ref_cache, size=SIZE, progress=False)
    assert res.attrs['cached'] == len(ref) and res.attrs['hashed'] == 0
    monkeypatch.undo()
    img = root/ref['image_path'][0]
    st = img.stat(); os.utime(img, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    res = build_cache(man, root=root, cache=ref_cache, size=SIZE, progress=False)
    assert res.attrs['hashed'] == 1 and res.attrs['cached'] == len(ref) and res['key'].tolist() == ref['key'].tolist()


def test_changed_annotation_or_setting_is_a_new_entry(phantom, reference):
    root, man = phantom
    ref, ref_cache = reference
    df = load_manifest(man, root=root)
    df.loc[0, 'nipple_xy'] = json.dumps([10.0, 20.0])
    res = build_cache(df, cache=ref_cache, size=SIZE, progress=False)
    assert res.attrs['built'] == 1 and res['key'][0] != ref['key'][0] and res['key'][1:].tolist() == ref['key'][1:].tolist()
    e = ref_cache.load(res['key'][0])
    assert np.allclose(e.geometry.to_original(e.nipple), [10.0, 20.0])
    res = build_cache(df.iloc[:2], cache=ref_cache, size=SIZE, margin=0.05, progress=False)
    assert res.attrs['built'] == 2 and not set(res['key']) & set(ref['key'])


def test_bad_rows_are_all_reported(phantom, tmp_path):
    root, man = phantom
    df = load_manifest(man, root=root)
    for i in (0, 2):
        (root/f'images/empty{i}.dcm').write_bytes(b'')
        df.loc[i, 'image_path'] = f'images/empty{i}.dcm'
    with pytest.raises(MammoInputError) as e:
        build_cache(df, cache=tmp_path/'c', size=SIZE, progress=False, workers=2)
    assert e.value.problems == ['images/empty0.dcm: empty file (0 bytes)', 'images/empty2.dcm: empty file (0 bytes)']
    assert len(Cache(tmp_path/'c')) == len(df) - 2 and complete(Cache(tmp_path/'c'))


def test_extras_are_atomic_and_keyed(reference):
    ref, c = reference
    k = ref['key'][0]
    settings = {'binWidth': 25, 'classes': ['glcm']}
    c.put_extra(k, 'radiomics', np.arange(3.0), settings)
    assert (c.get_extra(k, 'radiomics', dict(reversed(list(settings.items())))) == np.arange(3.0)).all()  # order-free hash
    assert c.get_extra(k, 'radiomics', {**settings, 'binWidth': 10}) is None
    with pytest.raises(MammoInputError, match='numeric array'): c.put_extra(k, 'x', np.array([{}], dtype=object))
    assert [p.name for p in (c.path(k)/'extras').iterdir() if p.name.startswith('.')] == []


@pytest.mark.parametrize('a', [np.random.default_rng(0).random((1, 64, 52), dtype=np.float32), np.zeros((0, 64, 52), np.uint8),
                               np.arange(7, dtype='>i4'), np.array(2.5), np.random.default_rng(1).random((3, 4)),
                               np.asfortranarray(np.random.default_rng(2).random((3, 4))), np.zeros(2, dtype=[('a', 'u1')]),
                               np.ones((2,) * 9, np.int16)], ids=lambda a: f"{a.dtype}{a.shape}")
def test_map_npy_equals_np_load(tmp_path, a):
    "The fast header parser maps what np.load reads (other layouts fall back to np.load), copy-on-write."
    p = tmp_path/'x.npy'; np.save(p, a)
    m, ref = C._map_npy(p), np.load(p)
    assert type(m) is np.memmap and m.mode == 'c' and m.dtype == ref.dtype and m.shape == ref.shape
    np.testing.assert_array_equal(m, ref)
    if m.size:
        m.reshape(-1)[0] = m.reshape(-1)[-1]                                  # writable, but the file never changes
        np.testing.assert_array_equal(np.load(p), a)
