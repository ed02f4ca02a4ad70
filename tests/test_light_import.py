"The package starts without its heaviest optional parts (pyradiomics, SimpleITK): a GPU box or a light install carries it without them."
import subprocess, sys, textwrap

BLOCK = textwrap.dedent('''
    import sys, importlib.abc
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split('.')[0] in ('SimpleITK', 'radiomics'): raise ImportError(f'{name} is blocked', name=name)
    sys.meta_path.insert(0, Block())
''')

def _run(code:str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', BLOCK + textwrap.dedent(code)], capture_output=True, text=True, timeout=600)

def test_every_component_imports_without_pyradiomics():
    r = _run('''
        from mammo_nb.cli import load_components, main
        names = load_components()                       # every registered component (the CLI's full registry)
        assert 'mammo_nb.systems.lmvnet.system' in names and 'mammo_nb.systems.cgan.system' in names, names
        assert 'SimpleITK' not in sys.modules and 'radiomics' not in sys.modules
        print('ok', len(names))
    ''')
    assert r.returncode == 0 and 'ok' in r.stdout, r.stderr[-3000:]

def test_radiomic_features_name_the_missing_package():
    r = _run('''
        import numpy as np
        from mammo_nb.core import MammoMissingPackage
        from mammo_nb.data.radiomics import extract_radiomics
        img = np.full((32, 32), 0.5, np.float32); m = np.zeros((32, 32)); m[8:20, 8:20] = 1
        try: extract_radiomics(img, m)
        except MammoMissingPackage as e: print('missing', e.package, '|', e)
    ''')
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'missing SimpleITK' in r.stdout and 'pip install SimpleITK' in r.stdout, r.stdout
