"""fit under torchrun: two CPU processes, the gloo backend, DistributedDataParallel."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]

_SCRIPT = textwrap.dedent('''
    import os, sys, torch
    import torch.distributed as dist
    from torch import nn
    torch.set_num_threads(1)
    import cnnkit.train.loop as loop
    from cnnkit.train import evaluate, fit

    folder, rank = sys.argv[1], int(os.environ["RANK"])
    real_save = loop.ckpt.save
    def counting_save(state, path):          # which ranks write checkpoints?
        with open(f"{folder}/writes-rank{rank}.txt", "a") as log:
            log.write(f"{state['epochs_done']}\\n")
        return real_save(state, path)
    loop.ckpt.save = counting_save

    g = torch.Generator().manual_seed(0)
    n = 154
    y = torch.randint(0, 2, (n,), generator=g)
    x = 0.5 * torch.rand(n, 1, 8, 8, generator=g)
    x[torch.arange(n), 0, :, torch.randint(0, 4, (n,), generator=g) + (1 - y) * 4] += 0.5
    data = ((x[:128], y[:128]), (x[128:], y[128:]))   # 26 test images: shards of 13 each

    torch.manual_seed(rank)   # different initial weights per rank: DDP must broadcast rank 0's
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                          nn.Linear(256, 2))
    history = fit(model, data, epochs=4, lr=0.1, batch_size=16, device="cpu",
                  checkpoint=f"{folder}/ddp.pt", progress=True)
    assert not dist.is_initialized(), "fit must destroy the process group it created"
    torch.save({"state": model.state_dict(), "history": dict(history), "eval": evaluate(model, data[1])},
               f"{folder}/rank{rank}.pt")
''')


@pytest.mark.slow
def test_fit_under_torchrun_with_two_cpu_processes(tmp_path):
    script = tmp_path / "ddp_script.py"
    script.write_text(_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(script), str(tmp_path)], env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    # gradients were averaged across ranks (and BatchNorm statistics once per epoch):
    # both copies of the model ended identical
    assert all(torch.equal(r0["state"][k], r1["state"][k]) for k in r0["state"])
    # metrics were summed over ranks: both report the same history ...
    assert r0["history"] == {**r1["history"], "images_per_s": r0["history"]["images_per_s"],
                             "seconds": r0["history"]["seconds"]}
    # ... and each rank evaluated half the test set, yet the recorded accuracy is the whole set's
    assert r0["history"]["test_acc"][-1] == pytest.approx(r0["eval"]["acc"])
    assert r0["history"]["test_loss"][-1] == pytest.approx(r0["eval"]["loss"], rel=1e-5)
    assert r0["history"]["test_acc"][-1] >= 0.8
    # only rank 0 wrote checkpoints (one per epoch) and printed the epoch lines
    assert (tmp_path / "writes-rank0.txt").read_text().split() == ["1", "2", "3", "4"]
    assert not (tmp_path / "writes-rank1.txt").exists()
    assert torch.load(tmp_path / "ddp.pt", weights_only=True)["epochs_done"] == 4
    assert done.stdout.count("epoch 4/4  train loss") == 1


@pytest.mark.slow
def test_command_line_under_torchrun():
    """`torchrun -m cnnkit train`: rank 0 loads first, both train, one report is printed."""
    pytest.importorskip("cnnkit.models")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "cnnkit", "train", "--model", "lenet5", "--data", "digits", "--limit", "128",
                           "--epochs", "2", "--device", "cpu", "--no-progress"], env=env, capture_output=True,
                          text=True, timeout=240, cwd=REPO)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.count("final test accuracy:") == 1
    assert done.stdout.count("lenet5 on DataBundle('digits': train (128, 1, 32, 32)") == 1
