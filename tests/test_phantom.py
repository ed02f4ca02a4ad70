"""`mammo-nb phantom` end to end: determinism of the bytes across runs and workers, read-back, bad input, the demo step."""
import hashlib, json, os, subprocess, sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

EXE = str(Path(sys.executable).parent/'mammo-nb')
ENV = {**os.environ, 'MPLBACKEND': 'Agg'}


def run(*args):
    return subprocess.run([EXE, *args], capture_output=True, text=True, env=ENV, timeout=600)


def digest(root):
    root = Path(root)
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob('*')) if p.is_file()}


def phantom(out, seed=7, workers=1, patients=3):
    r = run('phantom', '--out', str(out), '--patients', str(patients), '--years', '3', '--size', '128', '104',
            '--seed', str(seed), '--workers', str(workers), '--p-cancer', '0.6')
    assert r.returncode == 0, r.stderr[-2000:]
    return r


def test_same_seed_same_bytes_across_runs_and_workers(tmp_path):
    r = phantom(tmp_path/'a')
    assert 'patient' in r.stderr # the tqdm progress bar
    assert 'wrote' in r.stdout and 'images/s' in r.stdout
    phantom(tmp_path/'b', workers=2)
    a, b = digest(tmp_path/'a'), digest(tmp_path/'b')
    assert a == b and len(a) > 40
    assert {k.split('/')[0] for k in a} == {'manifest.csv', 'annotations.json', 'images', 'masks', 'gaze', 'flows'}
    phantom(tmp_path/'c', seed=8)
    c = digest(tmp_path/'c')
    assert c['manifest.csv'] != a['manifest.csv']
    # every DICOM of the other seed differs too
    same = [k for k in a if k.endswith('.dcm') and c.get(k) == a[k]]
    assert same == []


def test_every_dicom_reads_back(tmp_path):
    from mammo_nb.data.dicom import read_mammogram
    from mammo_nb.data.phantom import PhantomConfig
    from mammo_nb.data.phantom_dicom import generate_phantom
    generate_phantom(tmp_path/'p', 4, 3, (128, 104), seed=11, config=PhantomConfig(p_cancer=0.6), workers=2, progress=False)
    df = pd.read_csv(tmp_path/'p'/'manifest.csv', keep_default_na=False)
    assert len(df) >= 16 and df.vendor.nunique() >= 2
    for _, r in df.iterrows():
        mg = read_mammogram(tmp_path/'p'/r.image_path)
        assert (mg.laterality, mg.view) == (r['laterality'], r['view'])
        assert mg.geometry.flipped_x == (r['laterality'] == 'R')
        x = mg.image[0].numpy()
        assert x[:, :8].mean() > 4 * x[:, -8:].mean() + 1e-3 # breast on the left
        for les in json.loads(r.lesions): # boxes map into the canonical frame inside the image
            b = mg.geometry.box_to_frame(np.array([les['box']], float))[0]
            assert 0 <= b[0] < b[2] <= 104 and 0 <= b[1] < b[3] <= 128


def test_bad_input_is_a_clear_error(tmp_path, capsys):
    from mammo_nb.cli import main
    assert main(['phantom', '--out', str(tmp_path/'x'), '--size', '32', '20']) == 2
    assert 'H >= 64' in capsys.readouterr().err
    (tmp_path/'busy').mkdir(); (tmp_path/'busy'/'notes.txt').write_text('keep me')
    assert main(['phantom', '--out', str(tmp_path/'busy'), '--patients', '1', '--size', '128', '104', '--quiet']) == 2
    assert 'does not hold a phantom' in capsys.readouterr().err
    assert (tmp_path/'busy'/'notes.txt').read_text() == 'keep me'
    assert main(['phantom', '--out', str(tmp_path/'y'), '--patients', '0', '--size', '128', '104', '--quiet']) == 2
    assert 'n_patients >= 1' in capsys.readouterr().err


def test_demo_step(tmp_path):
    from mammo_nb.cli import run_demo
    report, ok = run_demo(tmp_path/'demo', ['phantom'], seed=0, quick=True)
    assert ok
    report = report.read_text()
    assert '## The phantom data set' in report and '| The phantom data set | patients | 6 |' in report
    assert (tmp_path/'demo'/'phantom_overview.png').stat().st_size > 10000
    assert (tmp_path/'demo'/'phantom'/'manifest.csv').exists()
    assert str(tmp_path) not in report


def test_manifest_passes_the_schema(tmp_path):
    from mammo_nb.data.manifest import load_manifest
    from mammo_nb.data.phantom import PhantomConfig
    from mammo_nb.data.phantom_dicom import generate_phantom, MANIFEST_COLUMNS
    man = generate_phantom(tmp_path/'p', 3, 2, (128, 104), seed=2, config=PhantomConfig(p_cancer=0.6), progress=False)
    df = load_manifest(man, root=man.parent, check_files=True) # raises MammoInputError listing every bad row
    assert len(df) >= 12 and set(MANIFEST_COLUMNS) <= set(df.columns)
    assert np.isinf(df.years_to_cancer).any() and (df.years_to_cancer >= 0).all()


def test_flows_follow_the_registration_convention():
    "The phantom's flow_from_prior is exactly what `registration.spatial.warp` expects (fixed grid, pull-back, (dy, dx))."
    import torch
    from scipy import ndimage
    from mammo_nb.data.phantom import simulate_patient
    from mammo_nb.data.phantom_anatomy import warp
    from mammo_nb.registration.spatial import warp as torch_warp
    p = simulate_patient(5, 2, 3, (128, 104))
    for j in range(1, len(p.exams)):
        for key in (('L', 'CC'), ('R', 'MLO')):
            cur, pri = p[(j, *key)], p[(j - 1, *key)]
            m = ndimage.binary_erosion(cur.breast_mask, iterations=4)
            t = torch_warp(torch.from_numpy(pri.tissue)[None, None], torch.from_numpy(cur.flow_from_prior)[None],
                           padding_mode='border')[0, 0].numpy()
            assert np.abs(t - warp(pri.tissue, cur.flow_from_prior))[m].max() < 1e-4
            assert np.abs(t - cur.tissue)[m].mean() < 0.3 * np.abs(pri.tissue - cur.tissue)[m].mean()


def test_presets_change_the_findings_not_the_population():
    "Same seed, two presets: the same women, anatomy, findings and masks; only how conspicuous the findings are differs."
    from mammo_nb.data.phantom import PhantomConfig, simulate_patient
    for i in range(3):
        t, r = (simulate_patient(4, i, 3, (128, 104), PhantomConfig(preset=p), outcome='cancer') for p in ('teaching', 'realistic'))
        assert [e.date for e in t.exams] == [e.date for e in r.exams]
        for a, b in zip(t.images(), r.images()):
            assert np.array_equal(a.tissue, b.tissue) and np.array_equal(a.gaze.shape, b.gaze.shape)
            assert [(l.lesion_id, l.box, l.size_mm) for l in a.lesions] == [(l.lesion_id, l.box, l.size_mm) for l in b.lesions]
            assert [(m.mimic_id, m.centre_xy) for m in a.mimics] == [(m.mimic_id, m.centre_xy) for m in b.mimics]
            assert all(la.contrast >= lb.contrast for la, lb in zip(a.lesions, b.lesions))
            assert all(la.contrast > lb.contrast for la, lb in zip(a.lesions, b.lesions) if lb.contrast > 0)
            if not a.lesions and not a.mimics: assert np.array_equal(a.image, b.image) # nothing drawn differently
    with pytest.raises(ValueError, match='preset must be one of'): PhantomConfig(preset='easy')


def test_cli_preset_is_recorded(tmp_path):
    r = run('phantom', '--out', str(tmp_path/'p'), '--patients', '2', '--years', '1', '--size', '128', '104', '--preset', 'realistic', '--quiet')
    assert r.returncode == 0, r.stderr[-2000:]
    info = json.loads((tmp_path/'p'/'annotations.json').read_text())['info']
    assert info['config']['preset'] == 'realistic' and info['findings']['mass_attenuation'] == 0.025
    r = run('phantom', '--out', str(tmp_path/'q'), '--preset', 'easy')
    assert r.returncode == 2 and "invalid choice: 'easy'" in r.stderr



# a valid value other than the default for every PhantomConfig field (a field added to PhantomConfig must be added here)
CLI_VALUES = dict(preset='realistic', p_cancer=0.5, p_benign=0.6, p_mass=0.85, density_probs=(0.25, 0.25, 0.25, 0.25),
                  density_rr=(1.0, 1.0, 2.0, 3.0), p_future_diagnosis=0.1, doubling_years=(1.0, 2.0), p_recall=0.5, p_birads6=0.0,
                  lr_similarity=0.9, view_coupling=0.5, texture_beta=2.5, strands=0.0, strand_beta=2.0, nipple_jitter=0.05, deform_scale=2.0,
                  noise=(0.01, 0.02), age_range=(45.0, 75.0), fov_mm=(200.0, 300.0), vendors=('A', 'C'), p_vendor_switch=0.0,
                  malignant_contrast=2.0, mass_attenuation=0.05, benign_density=0.5, spicule_width_mm=1.5, calc_attenuation=30.0,
                  spicule_mask=1.0, interval_change=1.0, summation=0.0, symmetry=0.5, reader_gaze=1.0, reader_birads=0.0)


def _texts(v):
    "The ways a user types a value after `--set KEY=`: numbers as the shortest text ('1' for 1.0) and in full; lists as a,b and JSON."
    if isinstance(v, str): return [v]
    if isinstance(v, float): return [f'{v:g}', repr(v)]
    return [','.join(x if isinstance(x, str) else f'{x:g}' for x in v), json.dumps(list(v))]


def _cli_config(*argv):
    from mammo_nb.cli import build_parser, read_index
    from mammo_nb.data.phantom_dicom import phantom_config
    return phantom_config(build_parser(read_index()).parse_args(['phantom', '--out', 'unused', *argv]))


def test_every_phantom_config_field_round_trips_through_the_cli():
    "`mammo-nb phantom --set KEY=VALUE` reaches every PhantomConfig field and builds the config the Python call builds, types included."
    from dataclasses import asdict, fields
    from mammo_nb.data.phantom import PhantomConfig
    assert set(CLI_VALUES) == {f.name for f in fields(PhantomConfig)}, "CLI_VALUES must name every PhantomConfig field"
    default = PhantomConfig()
    for name, value in CLI_VALUES.items():
        assert getattr(default, name) != value, name                        # else the comparison below could not fail
        want = PhantomConfig(**{name: value})
        for text in _texts(value):
            got = _cli_config('--set', f'{name}={text}')
            assert got == want, (name, text, got)
            assert json.dumps(asdict(got)) == json.dumps(asdict(want)), (name, text)   # 1.0 stays 1.0: annotations.json agrees
    # all at once (one --set with many values, and repeated --set), None for "the preset's value", the dedicated flags
    every = [f'{k}={_texts(v)[0]}' for k, v in CLI_VALUES.items()]
    assert _cli_config('--set', *every) == PhantomConfig(**CLI_VALUES)
    assert _cli_config(*[a for kv in every for a in ('--set', kv)]) == PhantomConfig(**CLI_VALUES)
    assert _cli_config('--set', 'mass_attenuation=none', 'reader_gaze=null').mass_attenuation is None
    assert _cli_config('--preset', 'no_cues', '--p-cancer', '0.5') == PhantomConfig(preset='no_cues', p_cancer=0.5)
    assert _cli_config('--preset', 'no_cues', '--set', 'preset=teaching', 'p_cancer=0.7').preset == 'teaching'   # --set wins


def test_a_tutorial_phantom_rebuilt_from_the_cli_is_the_same_bytes(tmp_path):
    "Tutorial 85b's phantom (at a small size) from `mammo-nb phantom` and from its Python call: identical files."
    from mammo_nb.data.phantom import PhantomConfig
    from mammo_nb.data.phantom_dicom import generate_phantom
    generate_phantom(tmp_path/'py', n_patients=3, n_years=1, size=(128, 104), seed=0, fractions=(0.5, 0.15, 0.35),
                     config=PhantomConfig(p_cancer=0.5, p_benign=0.6, reader_birads=1.0), progress=False)
    r = run('phantom', '--out', str(tmp_path/'cli'), '--patients', '3', '--years', '1', '--size', '128', '104', '--seed', '0',
            '--fractions', '0.5', '0.15', '0.35', '--p-cancer', '0.5', '--set', 'p_benign=0.6', '--set', 'reader_birads=1', '--quiet')
    assert r.returncode == 0, r.stderr[-2000:]
    a, b = digest(tmp_path/'py'), digest(tmp_path/'cli')
    assert a == b and 'annotations.json' in a and len(a) > 12


def test_bad_set_values_are_clear_errors(tmp_path, capsys):
    from mammo_nb.cli import main
    for setting, message in (('p_cancer=half', "--set p_cancer='half': expected a number"), ('colour=red', "unknown PhantomConfig field 'colour'"),
                             ('vendors=A,Z', "unknown vendor profile(s) ['Z']"), ('density_probs=0.5,0.5', 'density_probs must be 4 probabilities')):
        assert main(['phantom', '--out', str(tmp_path/'x'), '--patients', '1', '--size', '128', '104', '--quiet', '--set', setting]) == 2
        assert message in capsys.readouterr().err, setting


# ------------------------------------------------------------------------------------------- the golden phantom
GOLDEN = Path(__file__).parent/'golden'/'phantom.json'
GOLDEN_SPEC = dict(seed=2026, patients=4, n_years=2, size=[128, 104]) # simulate_patient(seed, i, n_years, size), default config


def golden_fingerprint() -> dict:
    """What a small phantom is: `structure` (ids, boxes, categories, BI-RADS: integers and labels), `numbers` (image and
    gaze statistics, rounded to 1e-5) and `sha256` (the exact bytes of every image, gaze map and mask)."""
    import platform
    from mammo_nb.core import numeric_build
    from mammo_nb.data.phantom import simulate_patient
    from threadpoolctl import threadpool_limits
    h, structure, numbers = hashlib.sha256(), [], []
    for i in range(GOLDEN_SPEC['patients']):
        with threadpool_limits(1): # as `generate_phantom`'s workers: BLAS on several threads sums in another order
            p = simulate_patient(GOLDEN_SPEC['seed'], i, GOLDEN_SPEC['n_years'], tuple(GOLDEN_SPEC['size']))
        for im in p.images():
            for a in (im.image, im.gaze, im.breast_mask, *[l.mask for l in im.lesions], *[m.mask for m in im.mimics]):
                h.update(np.ascontiguousarray(a).tobytes())
            structure.append([im.image_id, im.birads, im.pathology, [[l.lesion_id, list(l.box), l.birads, bool(l.biopsied)] for l in im.lesions],
                              [[m.mimic_id, m.category, list(m.box)] for m in im.mimics]])
            numbers.append([round(float(x), 5) for x in (im.image.mean(), im.image.std(), im.gaze.mean(), *im.nipple_xy)])
    return dict(spec=GOLDEN_SPEC, structure=structure, numbers=numbers, sha256=h.hexdigest(),
                built_with=dict(python=platform.python_version(), **numeric_build()))


def test_golden_phantom():
    """The phantom is what it was: the same structure, the same numbers to 1e-4, and, with the libraries it was recorded with,
    the same bytes. When it differs, see "Reproducibility across machines" in nbs/data/12b_phantom.ipynb."""
    gold, now = json.loads(GOLDEN.read_text()), golden_fingerprint()
    how = ("the phantom changed. If the change is deliberate, rewrite the golden file (python tests/test_phantom.py --write-golden) "
           "and say why in the commit; see 'Reproducibility across machines' in nbs/data/12b_phantom.ipynb")
    assert now['structure'] == gold['structure'], f"structure differs: {how}"
    diff = np.abs(np.array(now['numbers']) - np.array(gold['numbers'])).max()
    assert diff <= 1e-4, f"image/gaze statistics differ by up to {diff:.2g} (> 1e-4): {how}"
    same_libs = all(now['built_with'][k] == gold['built_with'].get(k) for k in ('numpy', 'scipy', 'machine', 'cpu'))
    if same_libs: assert now['sha256'] == gold['sha256'], f"the bytes differ with the recorded numpy/scipy builds and CPU features: {how}"
    elif now['sha256'] != gold['sha256']:
        import warnings
        warnings.warn(f"the phantom's bytes differ from the golden file (recorded with {gold['built_with']}, now {now['built_with']}); "
                      f"structure and statistics agree (max difference {diff:.2g}): other library builds round differently")


if __name__ == '__main__':
    if sys.argv[1:] == ['--write-golden']:
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(golden_fingerprint(), indent=1) + '\n')
        print(f'wrote {GOLDEN}')
    else: print('usage: python tests/test_phantom.py --write-golden')
