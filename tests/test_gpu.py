"""The GPU path: every model in bf16 autocast and channels-last on CUDA, GPU checkpoints, torch.compile.

Every test here is marked ``gpu`` and skips where torch sees no CUDA device (tests/conftest.py).
``benchmarks/gpu_check.sh`` runs them on a GPU machine; ``pytest -m gpu`` does too.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from cnnkit import models
from cnnkit.train import evaluate, fit
from cnnkit.train import checkpoint as ckpt

pytestmark = pytest.mark.gpu

REPO = Path(__file__).resolve().parents[1]

# Every registered model at its own input size, plus the variants that change the graph.
VARIANTS = [("lenet5", {"variant": "classic", "partial_c3": True}), ("alexnet", {"variant": "original"}),
            ("googlenet", {"aux_logits": True}), ("resnet20", {"shortcut": "B"})]
CASES = [pytest.param(name, options, id=f"{name}-{'-'.join(map(str, options.values()))}".rstrip("-"))
         for name, options in [(name, {}) for name in models.names()] + VARIANTS]


@pytest.fixture
def exact_fp32():
    """TF32 off while the test runs, so the GPU's float32 results can be compared with the CPU's closely."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _logits_and_loss(out) -> tuple[torch.Tensor, torch.Tensor]:
    """The main logits and a scalar loss; GoogLeNet's auxiliary heads count with weight 0.3 (Sect. 5)."""
    if isinstance(out, models.GoogLeNetOutputs):
        aux = sum(t.float().logsumexp(1).sum() for t in (out.aux_logits1, out.aux_logits2) if t is not None)
        return out.logits, out.logits.float().logsumexp(1).sum() + 0.3 * aux
    return out, out.float().logsumexp(1).sum()


def _input_size(name: str, options: dict) -> tuple[int, int, int]:
    if options.get("variant") == "original":  # AlexNet 2012: 227x227, conv1 without padding
        return 3, 227, 227
    return models.input_size(name)


@pytest.mark.parametrize("name, options", CASES)
def test_forward_backward_in_bf16_and_channels_last_on_cuda(name, options, exact_fp32):
    torch.manual_seed(0)
    net = models.get(name, num_classes=7, **options)
    x = torch.rand(2, *_input_size(name, options))
    with torch.no_grad():
        reference = net.eval()(x)  # float32 on the CPU, batch norm with its running statistics

    net = net.to("cuda", memory_format=torch.channels_last)
    xc = x.to("cuda").contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        same = net.eval()(xc)
    scale = float(reference.abs().max()) + 1e-6
    torch.testing.assert_close(same.cpu(), reference, rtol=1e-2, atol=1e-2 * scale,
                               msg=lambda m: f"{name}: float32 on CUDA (channels-last) differs from the CPU\n{m}")

    with torch.autocast("cuda", dtype=torch.bfloat16):
        logits, loss = _logits_and_loss(net.train()(xc))
    assert logits.shape == (2, 7) and logits.dtype == torch.bfloat16 and logits.is_cuda
    assert torch.isfinite(logits.float()).all()
    loss.backward()
    for key, p in net.named_parameters():
        assert p.grad is not None, f"{name}: {key} got no gradient"
        assert p.grad.is_cuda and p.grad.dtype == torch.float32, f"{name}: {key} grad {p.grad.dtype} {p.grad.device}"
        assert torch.isfinite(p.grad).all(), f"{name}: {key} has a non-finite gradient"


_RESUME_SCRIPT = textwrap.dedent('''
    import os, signal, sys, torch
    torch.use_deterministic_algorithms(True, warn_only=True)   # a nondeterministic op warns (stderr) and still runs
    torch.backends.cudnn.benchmark = False
    from cnnkit import models
    from cnnkit.data import synthetic
    from cnnkit.train import fit

    def data():
        train, test, _ = synthetic.make("cifar10", 512)       # 512 train, 102 test images
        return tuple(tuple(torch.from_numpy(a) for a in split) for split in (train, test))

    def model():
        torch.manual_seed(0)
        return models.resnet20()

    def run(net, ckpt, resume):
        return fit(net, data(), epochs=4, lr=0.1, batch_size=128, augment="crop_flip", device="cuda",
                   checkpoint=ckpt, resume=resume, seed=3, progress=False)

    mode, folder = sys.argv[1], sys.argv[2]
    if mode == "killed":
        net, calls = model(), [0]
        def kill(module, inputs, output):   # 4 training steps + 1 evaluation batch per epoch:
            calls[0] += 1                   # forward call 13 is epoch 3, step 3
            if calls[0] == 13:
                torch.cuda.synchronize()
                os.kill(os.getpid(), signal.SIGKILL)
        net.register_forward_hook(kill)
        run(net, folder + "/killed.pt", False)
    else:
        resumed = model()
        h1 = run(resumed, folder + "/killed.pt", True)
        straight = model()
        h2 = run(straight, folder + "/straight.pt", False)
        cpu = lambda sd: {k: v.cpu() for k, v in sd.items()}
        torch.save({"resumed": cpu(resumed.state_dict()), "straight": cpu(straight.state_dict()),
                    "h1": dict(h1), "h2": dict(h2)}, folder + "/out.pt")
''')


def test_gpu_checkpoint_of_a_killed_run_resumes_bit_identically(tmp_path):
    """ResNet-20 with bf16, channels-last and crop/flip on the GPU, killed in epoch 3, resumed in a new process.

    Deterministic cuDNN / cuBLAS algorithms make two GPU runs comparable bit for bit at all; an op
    without one would only warn, and its warning is shown if the weights differ.
    """
    script = tmp_path / "resume_gpu.py"
    script.write_text(_RESUME_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(REPO), "CUBLAS_WORKSPACE_CONFIG": ":4096:8"}
    killed = subprocess.run([sys.executable, str(script), "killed", str(tmp_path)], env=env, capture_output=True,
                            text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr  # SIGKILL: no clean-up code ran
    state = ckpt.load(tmp_path / "killed.pt")
    assert state["epochs_done"] == 2
    assert state["model"]["fc.weight"].is_cuda, "the checkpoint should hold the GPU's tensors as written"
    done = subprocess.run([sys.executable, str(script), "resume", str(tmp_path)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out = torch.load(tmp_path / "out.pt")
    resumed, straight = out["resumed"], out["straight"]
    assert resumed.keys() == straight.keys()
    differ = [k for k in resumed if not torch.equal(resumed[k], straight[k])]
    assert not differ, f"resumed weights differ from the uninterrupted run's in {differ}\n{done.stderr[-3000:]}"
    for key in ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr"):
        assert out["h1"][key] == out["h2"][key], key

    on_cpu = models.resnet20()  # a GPU checkpoint loads on a machine without one
    on_cpu.load_state_dict(ckpt.load(tmp_path / "killed.pt", map_location="cpu")["model"])
    assert next(on_cpu.parameters()).device.type == "cpu"


def _needs_a_c_compiler() -> None:
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("torch.compile (inductor, Triton) needs a C compiler; none on PATH")


def _synthetic_cifar(train_images: int):
    from cnnkit.data import synthetic

    train, test, _ = synthetic.make("cifar10", train_images)
    return tuple(tuple(torch.from_numpy(a) for a in split) for split in (train, test))


def test_fit_with_compile_trains_resnet20_on_cuda(tmp_path):
    _needs_a_c_compiler()
    data = _synthetic_cifar(256)  # 4 steps of 64: no short last batch, so one compiled graph
    torch.manual_seed(0)
    model = models.resnet20()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    history = fit(model, data, epochs=2, lr=0.05, batch_size=64, augment="crop_flip", device="cuda",
                  compile=True, checkpoint=tmp_path / "compiled.pt", progress=False)
    assert history["epoch"] == [1, 2]
    assert all(torch.isfinite(torch.tensor(history["train_loss"])))
    assert next(model.parameters()).is_cuda
    moved = [k for k, v in model.state_dict().items() if k.endswith("weight") and not torch.equal(v.cpu(), before[k])]
    assert moved, "training the compiled model should change the module's own weights"
    saved = ckpt.load(tmp_path / "compiled.pt", map_location="cpu")["model"]
    assert saved.keys() == model.state_dict().keys(), "checkpoint keys should be the module's (no _orig_mod.)"
    assert evaluate(model, data[1])["acc"] == pytest.approx(history["test_acc"][-1], abs=0.05)


def test_command_line_trains_resnet20_on_cuda_with_synthetic_cifar10():
    env = {**os.environ, "PYTHONPATH": str(REPO), "CNNKIT_SYNTHETIC_DATA": "1024"}
    done = subprocess.run([sys.executable, "-m", "cnnkit", "train", "--model", "resnet20", "--data", "cifar10",
                           "--epochs", "2", "--device", "cuda", "--no-progress"], env=env, capture_output=True,
                          text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert re.search(r"final test accuracy: [\d.]+%", done.stdout), done.stdout
