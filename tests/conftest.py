"""Shared pytest fixtures for mammo_nb."""
import shutil, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/'tools'))


@pytest.fixture
def scratch_repo(tmp_path):
    "A scratch copy of the repository's sources (notebooks, package, config), safe to break."
    dst = tmp_path/'repo'
    dst.mkdir()
    ign = shutil.ignore_patterns('__pycache__', '_proc', '.ipynb_checkpoints', '*.pyc')
    for name in ('settings.ini', 'setup.py', 'pyproject.toml', 'README.md', '_quarto.yml', 'nbs', 'mammo_nb',
                 'data_manifests', 'tools'):
        src = ROOT/name
        if src.is_dir(): shutil.copytree(src, dst/name, symlinks=True, ignore=ign)
        elif src.exists(): shutil.copy2(src, dst/name)
    return dst
