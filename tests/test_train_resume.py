"""A training run killed with SIGKILL resumes and ends exactly where an uninterrupted run ends."""
import json, os, signal, subprocess, sys, time, textwrap
from pathlib import Path

SCRIPT = textwrap.dedent('''
    import sys, time, torch
    from pathlib import Path
    from fastai.callback.core import Callback
    from mammo_nb.core import seed_everything
    from mammo_nb.train.learner import dict_learner, fit_resumable, synthetic_dls, TinyTwoHead
    import torch.nn.functional as F
    out, slow = Path(sys.argv[1]), float(sys.argv[2])
    def bce(l, t, m): return F.binary_cross_entropy_with_logits(l, t, weight=m, reduction='sum') / m.sum().clamp(min=1)
    class Slow(Callback):  # give the test time to kill us mid-run
        def after_batch(self): time.sleep(slow)
    seed_everything(5)
    learn = dict_learner(synthetic_dls(seed=2), TinyTwoHead(), head_loss=bce, path=out, n_acc=48, clip=1.0,
                         freeze_epochs=1, save_best='valid_loss')
    with learn.no_bar(), learn.no_logging(): fit_resumable(learn, 5, 1e-2, cbs=[Slow()])
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in learn.model.state_dict().items()}, str(out/'final.safetensors'))
''')


def _train(tmp, name, slow=0.0):
    return subprocess.Popen([sys.executable, '-c', SCRIPT, str(tmp/name), str(slow)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, 'OMP_NUM_THREADS': '1'})


def test_sigkill_then_resume_matches_uninterrupted(tmp_path):
    from safetensors.torch import load_file
    p = _train(tmp_path, 'full'); assert p.wait(300) == 0, p.stderr.read().decode()[-2000:]
    p = _train(tmp_path, 'killed', slow=0.05)
    last = tmp_path/'killed'/'resume'/'last.json'
    t0 = time.time()
    while time.time() - t0 < 300:  # wait until 2 epochs are checkpointed, then kill hard
        if last.exists() and json.loads(last.read_text())['epoch_done'] >= 2: break
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL); p.wait()
    done = json.loads(last.read_text())['epoch_done']
    assert 2 <= done < 5, done
    assert not (tmp_path/'killed'/'final.safetensors').exists()
    p = _train(tmp_path, 'killed'); assert p.wait(300) == 0, p.stderr.read().decode()[-2000:]
    assert f'resuming at epoch {done} of 5' in p.stdout.read().decode()
    a, b = load_file(str(tmp_path/'full'/'final.safetensors')), load_file(str(tmp_path/'killed'/'final.safetensors'))
    assert a.keys() == b.keys()
    for k in a: assert (a[k] == b[k]).all(), k
