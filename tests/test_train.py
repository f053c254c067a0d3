"""cnnkit.train: fit / evaluate on small models and data made here, checkpoints that resume to
bit-identical weights after a SIGKILL, NaN detection, and the command line."""
from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from cnnkit.train import History, NonFiniteLossError, evaluate, fit, layer_gradient_norms, main, set_seed
from cnnkit.train import checkpoint as ckpt
from cnnkit.train.loop import resolve_amp

REPO = Path(__file__).resolve().parents[1]


def halves_data(n_train: int = 96, n_test: int = 48, size: int = 8, seed: int = 0):
    """Noise with a bright bar in the left (label 1) or right (label 0) half: easy for a CNN."""
    g = torch.Generator().manual_seed(seed)
    n = n_train + n_test
    y = torch.randint(0, 2, (n,), generator=g)
    x = 0.5 * torch.rand(n, 1, size, size, generator=g)
    col = torch.randint(0, size // 2, (n,), generator=g) + (1 - y) * (size // 2)
    x[torch.arange(n), 0, :, col] += 0.5
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


def small_cnn(size: int = 8, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * size * size, 2))


def test_fit_learns_and_records_every_epoch():
    data = halves_data()
    model = small_cnn()
    history = fit(model, data, epochs=6, lr=0.1, batch_size=16, progress=False)
    assert isinstance(history, History)
    assert set(history) == {"epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "images_per_s",
                            "seconds"}
    assert all(len(v) == 6 for v in history.values()) and history["epoch"] == [1, 2, 3, 4, 5, 6]
    assert history["test_acc"][-1] >= 0.85 and history["train_loss"][-1] < history["train_loss"][0]
    assert all(v > 0 for v in history["images_per_s"]) and all(v > 0 for v in history["seconds"])
    assert not model.training  # returned ready for inference
    # the recorded test metrics are those of evaluate() on the final model
    final = evaluate(model, data[1])
    assert final["acc"] == pytest.approx(history["test_acc"][-1])
    assert final["loss"] == pytest.approx(history["test_loss"][-1], rel=1e-5)
    best = history.best()
    assert best["test_acc"] == max(history["test_acc"])
    assert history.best("test_loss")["test_loss"] == min(history["test_loss"])
    text = str(history)
    assert text.count("\n") == 6 and "test acc" in text


def test_same_seed_same_weights_and_data_bundle_accepted():
    from cnnkit.data import DataBundle

    (xtr, ytr), (xte, yte) = halves_data()
    bundle = DataBundle(train=(xtr, ytr), test=(xte, yte), classes=["right", "left"], name="halves")
    runs = []
    for data in (bundle, ((xtr, ytr), (xte, yte))):
        model = small_cnn(seed=1)
        fit(model, data, epochs=2, lr=0.05, batch_size=32, augment="crop_flip", seed=5, progress=False)
        runs.append(model.state_dict())
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])


@pytest.mark.parametrize("schedule", ["onecycle", "cosine", "constant"])
def test_learning_rate_schedules(schedule):
    history = fit(small_cnn(), halves_data(), epochs=5, lr=0.2, batch_size=24, schedule=schedule,
                  optimizer="adamw", progress=False)
    lrs = history["lr"]
    if schedule == "constant":
        assert lrs == [0.2] * 5
    elif schedule == "cosine":
        assert all(a > b for a, b in zip(lrs, lrs[1:])) and lrs[-1] < 0.01
    else:  # warm up to the peak lr, then anneal far below it
        peak = lrs.index(max(lrs))
        assert 0 < peak < 4 and max(lrs) > 0.15 and lrs[-1] < 1e-3


def test_adam_and_bf16_autocast_on_the_cpu():
    history = fit(small_cnn(), halves_data(), epochs=3, lr=0.01, batch_size=32, optimizer="adam", amp=True,
                  progress=False)
    assert all(math.isfinite(v) for v in history["train_loss"])
    assert resolve_amp("auto", torch.device("cpu")) is False and resolve_amp(True, torch.device("cpu")) is True


def test_progress_prints_one_line_per_epoch(capsys):
    fit(small_cnn(), halves_data(), epochs=2, lr=0.05, batch_size=32, progress=True)
    out = capsys.readouterr().out
    assert len(re.findall(r"epoch \d/2 +train loss [\d.]+ acc [\d.]+% +test loss", out)) == 2


def test_on_epoch_end_sees_the_growing_history():
    seen = []
    fit(small_cnn(), halves_data(), epochs=3, lr=0.05, batch_size=32, progress=False,
        on_epoch_end=lambda h: seen.append(h.epochs))
    assert seen == [1, 2, 3]


class _PoisonAfter(nn.Module):
    """Passes its input through, except at the ``at``-th training forward, where it returns NaN."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at, self.calls = at, 0

    def forward(self, x):
        if self.training:
            self.calls += 1
            if self.calls == self.at:
                return x * float("nan")
        return x


def test_nan_loss_names_epoch_and_step():
    model = nn.Sequential(small_cnn(), _PoisonAfter(at=6))  # 4 steps per epoch: epoch 2, step 2
    with pytest.raises(NonFiniteLossError, match=r"epoch 2, step 2 of 4"):
        fit(model, halves_data(n_train=32), epochs=3, lr=0.05, batch_size=8, progress=False)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"optimizer": "rmsprop"}, ValueError, r"optimizer must be one of \('sgd', 'adam', 'adamw'\)"),
    ({"schedule": "step"}, ValueError, r"schedule must be one of \('onecycle', 'cosine', 'constant'\)"),
    ({"epochs": 0}, ValueError, "epochs must be >= 1, got 0"),
    ({"lr": -0.1}, ValueError, "lr must be > 0, got -0.1"),
    ({"batch_size": 2.5}, TypeError, "batch_size must be an int, got 2.5"),
    ({"augment": "flip"}, ValueError, "augment must be one of"),
    ({"amp": "yes"}, ValueError, "amp must be one of"),
    ({"device": "tpu"}, ValueError, "device must be one of"),
    ({"resume": True}, ValueError, "resume=True needs checkpoint"),
    ({"seed": 1.5}, TypeError, "seed must be an int"),
])
def test_fit_validates_arguments(kwargs, error, match):
    args = {"epochs": 1, "lr": 0.1, "batch_size": 8, "progress": False, **kwargs}
    with pytest.raises(error, match=match):
        fit(small_cnn(), halves_data(n_train=16, n_test=8), **args)


def test_fit_rejects_bad_data():
    with pytest.raises(TypeError, match="data must be a DataBundle"):
        fit(small_cnn(), "digits", epochs=1, lr=0.1, batch_size=8)
    with pytest.raises(ValueError, match=r"train split must be images \(N, C, H, W\)"):
        fit(small_cnn(), ((torch.rand(8, 8, 8), torch.zeros(8).long()), (torch.rand(2, 1, 8, 8),
                                                                           torch.zeros(2).long())),
            epochs=1, lr=0.1, batch_size=8)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        fit("lenet5", halves_data(), epochs=1, lr=0.1, batch_size=8)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown where no GPU is present")
def test_asking_for_an_absent_gpu_says_so():
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        fit(small_cnn(), halves_data(), epochs=1, lr=0.1, batch_size=8, device="cuda")


def test_evaluate_matches_a_direct_computation_and_keeps_the_mode():
    model = small_cnn()
    model.train()
    (_, _), (x, y) = halves_data()
    result = evaluate(model, (x, y), batch_size=7)
    assert model.training
    model.eval()
    with torch.no_grad():
        logits = model(x)
    assert result["loss"] == pytest.approx(float(nn.functional.cross_entropy(logits, y)), rel=1e-5)
    assert result["acc"] == pytest.approx(float((logits.argmax(1) == y).float().mean()))
    with pytest.raises(TypeError, match="data_or_xy must be"):
        evaluate(model, 3)


def test_layer_gradient_norms_in_forward_order_match_autograd():
    class Backwards(nn.Module):
        """Registers the classifier before the convolutions: the order must follow the forward pass."""

        def __init__(self):
            super().__init__()
            self.head = nn.Linear(3 * 4 * 4, 2)
            self.conv_b = nn.Conv2d(2, 3, 3, padding=1)
            self.conv_a = nn.Conv2d(1, 2, 3, padding=1)
            self.pool = nn.MaxPool2d(2)

        def forward(self, x):
            return self.head(self.pool(torch.tanh(self.conv_b(torch.tanh(self.conv_a(x))))).flatten(1))

    torch.manual_seed(0)
    model = Backwards().double()
    x, y = torch.rand(5, 1, 8, 8, dtype=torch.float64), torch.tensor([0, 1, 1, 0, 1])
    norms = layer_gradient_norms(model, x, y)
    assert [name for name, _ in norms] == ["conv_a", "conv_b", "head"]
    assert all(p.grad is None for p in model.parameters())  # .grad untouched
    nn.functional.cross_entropy(model(x), y).backward()
    for name, value in norms:
        assert value == pytest.approx(float(getattr(model, name).weight.grad.norm()), rel=1e-12)
    with pytest.raises(ValueError, match="no Conv or Linear"):
        layer_gradient_norms(nn.ReLU(), x, y)


def test_history_validation_and_best():
    h = History()
    with pytest.raises(ValueError, match="missing"):
        h.append(epoch=1)
    with pytest.raises(ValueError, match="empty"):
        h.best()
    for i, acc in enumerate([0.5, 0.9, 0.7]):
        h.append(epoch=i + 1, train_loss=1.0 / (i + 1), train_acc=acc, test_loss=float("nan") if i == 2 else 0.5,
                 test_acc=acc, lr=0.1, images_per_s=100.0, seconds=1.0)
    assert h.best()["epoch"] == 2 and h.best("test_loss")["epoch"] == 1 and h.epochs == 3
    assert History(dict(h)) == h
    with pytest.raises(ValueError, match="key must be one of"):
        h.best("accuracy")


def test_set_seed_reproduces_torch_numpy_and_python():
    import random

    import numpy as np

    set_seed(7)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    set_seed(7)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == a
    with pytest.raises(TypeError, match="seed must be an int"):
        set_seed("7")


def test_checkpoint_is_atomic_and_resume_checks_settings(tmp_path):
    path = tmp_path / "run" / "ckpt.pt"
    data = halves_data()
    fit(small_cnn(), data, epochs=2, lr=0.05, batch_size=32, checkpoint=path, progress=False)
    state = ckpt.load(path)
    assert state["epochs_done"] == 2 and set(state) >= {"model", "optimizer", "scheduler", "rng", "history"}
    assert [p.name for p in path.parent.iterdir()] == ["ckpt.pt"]  # no temporary files left
    # resuming a finished run trains no further and returns its history
    again = fit(small_cnn(seed=9), data, epochs=2, lr=0.05, batch_size=32, checkpoint=path, resume=True,
                progress=False)
    assert again["test_acc"] == state["history"]["test_acc"]
    with pytest.raises(ValueError, match=r"other settings.*'lr': \(0.05, 0.1\)"):
        fit(small_cnn(), data, epochs=2, lr=0.1, batch_size=32, checkpoint=path, resume=True, progress=False)


def test_the_checkpoint_records_the_train_config(tmp_path):
    import dataclasses
    import inspect

    from cnnkit.train import TrainConfig

    path = tmp_path / "ckpt.pt"
    data = halves_data()
    fit(small_cnn(), data, epochs=1, lr=0.05, batch_size=32, weight_decay=1e-3, checkpoint=path, progress=False)
    config = TrainConfig(epochs=1, lr=0.05, batch_size=32, weight_decay=1e-3, n_train=96)
    assert ckpt.load(path)["config"] == config.record() == dataclasses.asdict(config)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.lr = 0.1
    # fit keeps its keywords (it builds the config from them)
    assert list(inspect.signature(fit).parameters)[2:] == [
        "epochs", "lr", "batch_size", "optimizer", "schedule", "weight_decay", "momentum", "augment", "device",
        "amp", "channels_last", "compile", "checkpoint", "resume", "seed", "progress", "on_epoch_end"]
    # a setting that changes the result is checked on resume, as the record says ...
    with pytest.raises(ValueError, match=r"other settings.*'weight_decay': \(0.001, 0.0005\)"):
        fit(small_cnn(), data, epochs=2, lr=0.05, batch_size=32, checkpoint=path, resume=True, progress=False)
    # ... and a checkpoint written before weight_decay and momentum were recorded still resumes
    state = ckpt.load(path)
    for key in ("weight_decay", "momentum"):
        del state["config"][key]
    ckpt.save(state, path)
    history = fit(small_cnn(), data, epochs=1, lr=0.05, batch_size=32, checkpoint=path, resume=True, progress=False)
    assert history["epoch"] == [1]


def test_all_reduce_offers_sum_max_min():
    from cnnkit.train import distributed

    t = torch.tensor([3, -1])
    assert distributed.all_reduce(t, distributed.Ranks(), op="min") is t  # one process: unchanged
    with pytest.raises(ValueError, match=r"op must be one of \('sum', 'max', 'min'\)"):
        distributed.all_reduce(t, distributed.Ranks(), op="mean")


_RESUME_SCRIPT = textwrap.dedent('''
    import os, signal, sys, torch
    from torch import nn
    torch.set_num_threads(1)
    from cnnkit.train import fit

    def data():
        g = torch.Generator().manual_seed(0)
        x = torch.rand(96, 1, 8, 8, generator=g)
        y = (x[..., :4].mean((1, 2, 3)) > x[..., 4:].mean((1, 2, 3))).long()
        return (x[:64], y[:64]), (x[64:], y[64:])

    def model():
        torch.manual_seed(0)
        return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.3),
                             nn.Flatten(), nn.Linear(256, 2))

    def run(net, ckpt, resume):
        return fit(net, data(), epochs=4, lr=0.1, batch_size=16, augment="crop_flip", checkpoint=ckpt,
                   resume=resume, seed=3, progress=False)

    mode, folder = sys.argv[1], sys.argv[2]
    if mode == "killed":
        net, calls = model(), [0]
        def kill(module, inputs, output):   # 4 training steps + 1 evaluation per epoch:
            calls[0] += 1                   # forward call 13 is epoch 3, step 3
            if calls[0] == 13:
                os.kill(os.getpid(), signal.SIGKILL)
        net.register_forward_hook(kill)
        run(net, folder + "/killed.pt", False)
    else:
        resumed = model()
        h1 = run(resumed, folder + "/killed.pt", True)
        straight = model()
        h2 = run(straight, folder + "/straight.pt", False)
        torch.save({"resumed": resumed.state_dict(), "straight": straight.state_dict(),
                    "h1": dict(h1), "h2": dict(h2)}, folder + "/out.pt")
''')


@pytest.mark.slow
def test_killed_run_resumes_to_bit_identical_weights(tmp_path):
    script = tmp_path / "resume_script.py"
    script.write_text(_RESUME_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    killed = subprocess.run([sys.executable, str(script), "killed", str(tmp_path)], env=env, capture_output=True,
                            text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr  # SIGKILL: no clean-up code ran
    assert ckpt.load(tmp_path / "killed.pt")["epochs_done"] == 2
    done = subprocess.run([sys.executable, str(script), "resume", str(tmp_path)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = torch.load(tmp_path / "out.pt")
    resumed, straight = out["resumed"], out["straight"]
    assert resumed.keys() == straight.keys()
    assert all(torch.equal(resumed[k], straight[k]) for k in resumed), "resumed weights differ"
    for key in ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr"):
        assert out["h1"][key] == out["h2"][key], key


class _TinyRegistry:
    """Stands in for cnnkit.models in the command-line test: records what it was asked for."""

    asked: dict = {}

    @classmethod
    def get(cls, name, num_classes=None, in_channels=1):
        cls.asked = {"name": name, "num_classes": num_classes, "in_channels": in_channels}
        torch.manual_seed(0)
        return nn.Sequential(nn.Conv2d(in_channels, 4, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(),
                             nn.Linear(4 * 16 * 16, num_classes))


def test_command_line_trains_and_prints_the_accuracy(monkeypatch, capsys):
    import cnnkit.models

    monkeypatch.setattr(cnnkit.models, "get", _TinyRegistry.get)
    assert main(["--model", "tiny", "--data", "digits", "--epochs", "2", "--limit", "200", "--batch-size", "50",
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert _TinyRegistry.asked == {"name": "tiny", "num_classes": 10, "in_channels": 1}
    assert "(200, 1, 32, 32)" in out  # digits are upscaled to 32x32 by default
    accuracy = float(re.search(r"final test accuracy: ([\d.]+)%", out).group(1))
    assert 0 <= accuracy <= 100


def test_command_line_rejects_unknown_options(capsys):
    with pytest.raises(SystemExit):
        main(["--data", "imagenet"])
    assert "invalid choice" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--amp", "maybe"])


@pytest.mark.slow
def test_lenet5_reaches_97_percent_on_digits_from_the_command_line():
    """The issue's promise: LeNet-5 (modern) >= 97 % test accuracy on the digits, CPU, fixed seed.

    About 15 s on one free core (20 epochs of 1,437 images at 32x32).
    """
    pytest.importorskip("cnnkit.models")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "cnnkit", "train", "--model", "lenet5", "--data", "digits",
                           "--seed", "0", "--device", "cpu", "--no-progress"], env=env, capture_output=True,
                          text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr
    accuracy = float(re.search(r"final test accuracy: ([\d.]+)%", done.stdout).group(1))
    assert accuracy >= 97.0, done.stdout


@pytest.mark.gpu
def test_fit_on_cuda_with_bf16_channels_last_and_device_augmentation():
    from cnnkit.data import DeviceLoader

    (x, y), _ = halves_data()
    xb, yb = next(iter(DeviceLoader(x, y, 16, augment="crop_flip", device="cuda")))
    assert xb.is_cuda and yb.is_cuda and xb.shape == (16, 1, 8, 8)
    assert resolve_amp("auto", torch.device("cuda")) == torch.cuda.is_bf16_supported()
    model = small_cnn()
    history = fit(model, halves_data(), epochs=4, lr=0.1, batch_size=16, device="cuda", progress=False)
    assert next(model.parameters()).is_cuda and history["test_acc"][-1] >= 0.85
    assert evaluate(model, halves_data()[1])["acc"] == pytest.approx(history["test_acc"][-1], abs=0.05)


class _OnAnotherDevice:
    """Stands in for a CUDA tensor on a CPU-only machine: numpy refuses it, ``.cpu()`` gives the tensor."""

    def __init__(self, tensor: torch.Tensor) -> None:
        self._tensor = tensor

    def cpu(self) -> torch.Tensor:
        return self._tensor

    def numpy(self):
        raise TypeError("can't convert cuda:0 device type tensor to numpy")


def test_rng_state_restores_from_a_checkpoint_loaded_onto_a_gpu():
    """Resuming on a GPU loads the checkpoint with map_location='cuda' (found on an H200: the
    numpy and torch generator states then arrive as CUDA tensors)."""
    import random

    import numpy as np

    state = ckpt.rng_state()
    expected = (random.random(), float(np.random.rand()), torch.rand(1).item())
    state["numpy"][1] = _OnAnotherDevice(state["numpy"][1])
    state["torch"] = _OnAnotherDevice(state["torch"])
    ckpt.set_rng_state(state)
    assert (random.random(), float(np.random.rand()), torch.rand(1).item()) == expected


@pytest.mark.parametrize("mode, expected", [(True, None), ("reduce-overhead", "reduce-overhead")])
def test_fit_compiles_with_one_graph_per_batch_shape(monkeypatch, mode, expected):
    """dynamic=False: the last, smaller batch gets its own graph instead of turning the whole
    model into a slower shape-generic one (measured on an H200 in benchmarks/gpu_check.py)."""
    calls = []

    def fake_compile(net, **kwargs):
        calls.append(kwargs)
        return net

    monkeypatch.setattr(torch, "compile", fake_compile)
    x, y = torch.randn(10, 1, 8, 8), torch.randint(0, 2, (10,))
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
    fit(model, ((x, y), (x, y)), epochs=1, lr=0.1, batch_size=4, device="cpu", compile=mode, progress=False)
    assert calls == [{"dynamic": False, "mode": expected}]


def test_fit_refuses_an_unknown_compile_mode():
    x, y = torch.randn(4, 1, 8, 8), torch.randint(0, 2, (4,))
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
    with pytest.raises(ValueError, match=r"compile must be one of \(False, True, 'default', 'reduce-overhead'"):
        fit(model, ((x, y), (x, y)), epochs=1, lr=0.1, batch_size=4, device="cpu", compile="fast", progress=False)


@pytest.mark.parametrize("mode", [False, 1, "fast", None])
def test_compiled_refuses_what_is_no_compile_mode(mode):
    from cnnkit.train.loop import compiled

    with pytest.raises(ValueError, match=r"mode must be one of \(True, 'default', 'reduce-overhead'"):
        compiled(nn.Linear(2, 2), mode)
