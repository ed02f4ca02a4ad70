"""Data-parallel training with torchrun on CPU processes equals one process with the combined batch."""
import os, subprocess, sys, textwrap
import pytest

SCRIPT = textwrap.dedent('''
    import sys, torch, torch.nn.functional as F
    from pathlib import Path
    from safetensors.torch import save_file
    from mammo_nb.core import seed_everything
    from mammo_nb.train.learner import dict_learner, fit_resumable, synthetic_dls, TinyTwoHead, is_main_process, world_size
    out, bs = Path(sys.argv[1]), int(sys.argv[2])
    def bce(l, t, m): return F.binary_cross_entropy_with_logits(l, t, weight=m, reduction='sum') / m.sum().clamp(min=1)
    seed_everything(0)
    dls = synthetic_dls(n_train=256, bs=bs)
    learn = dict_learner(dls, TinyTwoHead(norm=False, dropout=0.0), head_loss=bce, path=out, clip=1.0, save_best='valid_loss')
    with learn.no_bar(), learn.no_logging(): fit_resumable(learn, 3, 1e-2)
    if is_main_process():
        save_file({k: v.contiguous() for k, v in learn.model.state_dict().items()}, str(out/'final.safetensors'))
        (out/'world.txt').write_text(str(world_size()))
''')


def _errors(r) -> str:
    "The end of a failed launch's output without the warnings (a DDP note about unused parameters can fill the whole tail)."
    lines = (r.stdout + r.stderr).splitlines()
    keep = [l for l in lines if 'warn' not in l.lower() and 'find_unused_parameters' not in l]
    return '\n'.join(keep[-60:])


def _env():
    return {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONWARNINGS': 'ignore'}


@pytest.mark.skipif(sys.platform == 'win32', reason='gloo process groups via torchrun are not tested on Windows')
def test_two_process_ddp_equals_one_process_with_double_batch(tmp_path):
    from safetensors.torch import load_file
    script = tmp_path/'train.py'; script.write_text(SCRIPT)
    r = subprocess.run([sys.executable, str(script), str(tmp_path/'single'), '32'], capture_output=True, text=True, env=_env())
    assert r.returncode == 0, _errors(r)
    r = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2',
                        str(script), str(tmp_path/'ddp'), '16'], capture_output=True, text=True, env=_env(), timeout=600)
    assert r.returncode == 0, _errors(r)
    assert (tmp_path/'ddp'/'world.txt').read_text() == '2'
    assert (tmp_path/'ddp'/'history.csv').read_text().count('\n') == 4   # header + 3 epochs, written once (rank 0)
    a, b = load_file(str(tmp_path/'single'/'final.safetensors')), load_file(str(tmp_path/'ddp'/'final.safetensors'))
    assert a.keys() == b.keys()
    for k in a:
        assert (a[k] - b[k]).abs().max() < 1e-5, (k, (a[k] - b[k]).abs().max())
