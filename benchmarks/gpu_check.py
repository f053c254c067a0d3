"""Measure cnnkit's GPU path: ResNet-20 on CIFAR-10-sized synthetic data through ``fit`` and a plain loop.

    python benchmarks/gpu_check.py --out $OUT                     # on a GPU: 50,000 images, ~3 minutes
    python benchmarks/gpu_check.py --device cpu --quick --out /tmp/o   # the same code on a CPU, tiny

For each setting (float32 or bf16 autocast, channels-last or not, torch.compile or not) it trains
ResNet-20 for ``--epochs`` epochs (default 2) with ``cnnkit.train.fit`` (its DeviceLoader, crop + flip
augmentation on the device, one-cycle SGD), then the same number of epochs with a plain hand-written
loop (SGD with momentum, cross-entropy, the data already on the device, the same batch size and the
same crop + flip functions), and reports the last epoch of each: the first epoch includes cuDNN's
and torch.compile's warm-up. ``fit / plain`` is the trainer's overhead for the same work; fit's
epoch also evaluates the test split, reported apart (``eval s``) and not in the ratio.

Peak GPU memory is ``torch.cuda.max_memory_allocated`` after a reset per run; ``over data``
subtracts what was allocated before the run (mostly the 737 MB of images).

The phase has a time budget (``--budget``): a setting whose estimated time no longer fits is
skipped and says so. Results are written to ``--out`` after every setting (``gpu_bench.json``,
``gpu_bench.md``), so a run killed from outside still leaves what it measured. ``--profile`` (on by
default) profiles ~10 steps of ``fit`` on the fastest eager setting so far into ``gpu_profile.txt``:
the top ops by GPU time and by CPU time, and how much of the wall time the GPU was busy.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from cnnkit import models
from cnnkit.config import resolve_device
from cnnkit.data.loader import DeviceLoader
from cnnkit.train import fit
from cnnkit.train.loop import compiled

from bench_train import plain_epoch  # benchmarks/ is the script's folder, first on sys.path

GPU_SETTINGS = ("bf16_cl", "fp32", "bf16_cl_cg", "bf16_cl_compile", "bf16", "bf16_cl_cudnnbm", "fp32_compile")
CPU_SETTINGS = ("fp32", "bf16")
LR, MOMENTUM, WEIGHT_DECAY = 0.1, 0.9, 5e-4
COMPILE_GUESS_S = 40.0  # one compile of ResNet-20's training graph, until one is measured
JSON_NAME, MD_NAME, PROFILE_NAME = "gpu_bench.json", "gpu_bench.md", "gpu_profile.txt"


# ----------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class Setting:
    """One way to run: ``fp32`` / ``bf16`` autocast, ``cl`` channels-last, ``compile``, ``cudnnbm`` cuDNN autotune."""

    name: str
    amp: bool
    channels_last: bool
    compile: bool | str      # False, True, or a torch.compile mode ("cg": "reduce-overhead", CUDA graphs)
    cudnn_benchmark: bool

    @classmethod
    def parse(cls, name: str) -> Setting:
        tokens = name.split("_")
        allowed = {"cl", "compile", "cg", "cudnnbm"}
        if not tokens or tokens[0] not in ("fp32", "bf16") or not set(tokens[1:]) <= allowed:
            raise ValueError(f"setting {name!r}: expected fp32|bf16 followed by any of _cl, _compile, _cg, _cudnnbm")
        mode: bool | str = "reduce-overhead" if "cg" in tokens else "compile" in tokens
        return cls(name, tokens[0] == "bf16", "cl" in tokens, mode, "cudnnbm" in tokens)


# ----------------------------------------------------------------------------- helpers
def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_memory(device: torch.device) -> int:
    """Forget the previous peak; return the bytes allocated now (the baseline of the next peak)."""
    if device.type != "cuda":
        return 0
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)
    return torch.cuda.memory_allocated(device)


def peak_memory(device: torch.device, baseline: int) -> dict[str, float | None]:
    if device.type != "cuda":
        return {"peak_mib": None, "peak_over_data_mib": None}
    peak = torch.cuda.max_memory_allocated(device)
    return {"peak_mib": round(peak / 2**20, 1), "peak_over_data_mib": round((peak - baseline) / 2**20, 1)}


def make_data(images: int, test_images: int, device: torch.device, seed: int = 0):
    """Random uint8 images (CIFAR-10's shape) and labels, made on ``device``, as float32 in [0, 1]."""
    g = torch.Generator(device=device).manual_seed(seed)

    def split(n: int):
        x = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, device=device, generator=g)
        y = torch.randint(0, 10, (n,), device=device, generator=g)
        return x.float().div_(255), y

    return split(images), split(test_images)


def new_model(device: torch.device, channels_last: bool) -> torch.nn.Module:
    torch.manual_seed(0)
    model = models.resnet20(num_classes=10).to(device)
    return model.to(memory_format=torch.channels_last) if channels_last else model


def metadata(device: torch.device) -> dict[str, Any]:
    meta = {"torch": torch.__version__, "cuda": torch.version.cuda, "python": platform.python_version(),
            "device": str(device), "cpu_count": os.cpu_count(), "time": time.strftime("%Y-%m-%d %H:%M:%S")}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        meta.update(device_name=props.name, capability=f"{props.major}.{props.minor}",
                    gpu_memory_gib=round(props.total_memory / 2**30, 1), cudnn=torch.backends.cudnn.version(),
                    bf16_supported=torch.cuda.is_bf16_supported(),
                    cudnn_allow_tf32=torch.backends.cudnn.allow_tf32,
                    matmul_precision=torch.get_float32_matmul_precision())
    else:
        meta["device_name"] = platform.processor() or platform.machine()
    return meta


# ----------------------------------------------------------------------------- the two loops
def run_fit(setting: Setting, data, device: torch.device, epochs: int, batch_size: int, augment) -> dict[str, Any]:
    """``fit`` for ``epochs`` epochs; times of its last epoch from its history (fit synchronises per epoch)."""
    baseline = reset_memory(device)
    torch.manual_seed(0)
    model = models.resnet20(num_classes=10)
    start = time.perf_counter()
    history = fit(model, data, epochs=epochs, lr=LR, batch_size=batch_size, momentum=MOMENTUM,
                  weight_decay=WEIGHT_DECAY, augment=augment, device=device, amp=setting.amp,
                  channels_last=setting.channels_last, compile=setting.compile, progress=False, seed=0)
    total = time.perf_counter() - start
    n_train = len(data[0][0])
    train_s = n_train / history["images_per_s"][-1]
    return {"first_epoch_s": round(history["seconds"][0], 3), "epoch_s": round(train_s, 3),
            "eval_s": round(history["seconds"][-1] - train_s, 3), "images_per_s": round(history["images_per_s"][-1], 1),
            "total_s": round(total, 2), "final_train_loss": round(history["train_loss"][-1], 4),
            **peak_memory(device, baseline)}


def run_plain(setting: Setting, data, device: torch.device, epochs: int, batch_size: int, augment) -> dict[str, Any]:
    """The plain loop for ``epochs`` epochs, each timed between two synchronisations."""
    (x, y), _ = data
    channels_last = setting.channels_last and device.type == "cuda"  # as fit: NCHW on the CPU
    baseline = reset_memory(device)
    model = new_model(device, channels_last)
    net = compiled(model, setting.compile) if setting.compile else model
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    net.train()
    times = []
    for _ in range(epochs):
        sync(device)
        start = time.perf_counter()
        plain_epoch(net, opt, x, y, batch_size, device, setting.amp, channels_last, augment)
        sync(device)
        times.append(time.perf_counter() - start)
    return {"first_epoch_s": round(times[0], 3), "epoch_s": round(times[-1], 3),
            "images_per_s": round(len(x) / times[-1], 1), **peak_memory(device, baseline)}


# ----------------------------------------------------------------------------- extras
def layout_audit(device: torch.device) -> dict[str, Any]:
    """Which layers of ResNet-20 (channels-last, bf16 on CUDA) hand on NCHW activations: each costs a copy."""
    model = new_model(device, device.type == "cuda").train()
    lost: dict[str, int] = {}

    def hook(module, inputs, output):
        if torch.is_tensor(output) and output.ndim == 4 and not output.is_contiguous(memory_format=torch.channels_last):
            lost[type(module).__name__] = lost.get(type(module).__name__, 0) + 1

    handles = [m.register_forward_hook(hook) for m in model.modules() if m is not model]
    x = torch.rand(8, 3, 32, 32, device=device).contiguous(memory_format=torch.channels_last)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        model(x)
    for h in handles:
        h.remove()
    return {"modules_with_nchw_output": lost, "ok": not lost}


def loader_epoch(data, device: torch.device, batch_size: int, augment) -> dict[str, float]:
    """Seconds for one epoch of DeviceLoader alone (no model): the data pipeline's share of an epoch."""
    (x, y), _ = data
    out = {}
    for name, aug in (("none", None), (str(augment), augment)):
        loader = DeviceLoader(x, y, batch_size, augment=aug, device=device)
        for _ in loader:  # warm-up
            break
        sync(device)
        start = time.perf_counter()
        for xb, _yb in loader:
            pass
        sync(device)
        out[f"augment_{name}_s"] = round(time.perf_counter() - start, 4)
    return out


def profile_fit(setting: Setting, device: torch.device, steps: int, batch_size: int, augment, path: Path) -> dict:
    """Profile ``fit`` over ``steps`` training steps (+ one evaluation batch): top ops by device and CPU time."""
    from torch.profiler import ProfilerActivity, profile

    (x, y), (xt, yt) = make_data(steps * batch_size, batch_size, device, seed=1)
    data = ((x, y), (xt, yt))
    run = lambda: fit(new_model(device, False), data, epochs=1, lr=LR, batch_size=batch_size,  # noqa: E731
                      augment=augment, device=device, amp=setting.amp, channels_last=setting.channels_last,
                      compile=setting.compile, progress=False)
    run()  # warm-up: cuDNN handles, allocator, kernels
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    sync(device)
    start = time.perf_counter()
    with profile(activities=activities) as prof:
        run()
        sync(device)
    wall = time.perf_counter() - start
    averages = prof.key_averages()
    device_key = _sort_key(averages, device)
    device_total_us = _kernel_time_us(averages, device_key) if device.type == "cuda" else 0.0
    header = f"fit, setting {setting.name}, {steps} steps of {batch_size} + 1 evaluation batch, {wall:.3f} s wall"
    if device.type == "cuda":
        header += (f"; summed self device time {device_total_us / 1e6:.3f} s "
                   f"({100 * device_total_us / 1e6 / wall:.0f}% of wall: low means the GPU waits for the CPU)")
    header += "\n"
    tables = [f"--- top 20 by {device_key} ---\n" + averages.table(sort_by=device_key, row_limit=20),
              "--- top 20 by self_cpu_time_total ---\n" + averages.table(sort_by="self_cpu_time_total", row_limit=20)]
    path.write_text(header + "\n" + "\n\n".join(tables if device.type == "cuda" else tables[1:]) + "\n")
    return {"setting": setting.name, "steps": steps, "wall_s": round(wall, 3),
            "device_time_s": round(device_total_us / 1e6, 3), "file": path.name, "status": "ok"}


def _kernel_time_us(averages, key: str) -> float:
    """Device time of the GPU's own events (kernels, copies), each counted once (not again via its CPU op)."""
    from torch.autograd import DeviceType

    return float(sum(getattr(e, key, 0) for e in averages if getattr(e, "device_type", None) == DeviceType.CUDA))


def _sort_key(averages, device: torch.device) -> str:
    """The profiler's name for self device time differs between torch releases."""
    if device.type != "cuda":
        return "self_cpu_time_total"
    sample = averages[0] if len(averages) else None
    for key in ("self_device_time_total", "self_cuda_time_total"):
        if sample is not None and hasattr(sample, key):
            return key
    return "self_cpu_time_total"


# ----------------------------------------------------------------------------- reporting
def _memory_cell(run: dict[str, Any]) -> str:
    """``peak (over data)`` in MiB, empty where there is no GPU."""
    if run.get("peak_mib") is None:
        return ""
    return f"{run['peak_mib']:.0f} ({run['peak_over_data_mib']:.0f})"


def markdown(report: dict[str, Any]) -> str:
    """The results as a markdown table, with the run's device and sizes above it."""
    meta, cfg = report["meta"], report["config"]
    lines = [f"# cnnkit GPU check: ResNet-20, {cfg['images']:,} synthetic 32x32x3 images",
             "",
             f"{meta.get('device_name')} ({meta['device']}), torch {meta['torch']}, CUDA {meta['cuda']}, "
             f"batch {cfg['batch_size']}, augment {cfg['augment']}, {cfg['epochs']} epochs per run "
             f"(the last one timed), {time.strftime('%Y-%m-%d')}",
             "",
             "| setting | fit s/epoch | fit img/s | fit eval s | fit 1st epoch s | plain s/epoch | plain img/s "
             "| fit / plain | fit peak MiB (over data) | plain peak MiB (over data) | status |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["results"]:
        f, p = r.get("fit") or {}, r.get("plain") or {}
        lines.append(f"| {r['setting']} | {f.get('epoch_s', '')} | {f.get('images_per_s', '')} | {f.get('eval_s', '')} "
                     f"| {f.get('first_epoch_s', '')} | {p.get('epoch_s', '')} | {p.get('images_per_s', '')} "
                     f"| {r.get('fit_over_plain', '')} | {_memory_cell(f)} | {_memory_cell(p)} | {r['status']} {r.get('note', '')} |")
    extras = report.get("extras", {})
    if extras:
        lines += ["", "Extras: " + json.dumps(extras)]
    if report.get("profile"):
        lines += ["", "Profile: " + json.dumps(report["profile"])]
    return "\n".join(lines) + "\n"


def write(report: dict[str, Any], out: Path) -> None:
    """Write the JSON and the markdown table now (called after every step)."""
    report["elapsed_s"] = round(time.perf_counter() - report["_start"], 1)
    public = {k: v for k, v in report.items() if not k.startswith("_")}
    for name, text in ((JSON_NAME, json.dumps(public, indent=2)), (MD_NAME, markdown(public))):
        tmp = out / f".{name}.tmp"
        tmp.write_text(text)
        tmp.replace(out / name)  # atomic: a run killed mid-write keeps the previous file whole


# ----------------------------------------------------------------------------- driver
def estimate_s(setting: Setting, report: dict[str, Any], epochs: int) -> float:
    """Seconds a setting will probably take, from the runs so far (fit + plain, warm-up included)."""
    eager = [r for r in report["results"] if r["status"] == "ok" and not r["compile"]]
    per_epoch = max((r["fit"]["epoch_s"] + (r.get("plain") or {}).get("epoch_s", 0.0) + r["fit"]["eval_s"]
                     for r in eager),
                    default=10.0)
    cost = per_epoch * (epochs + 1) + 5
    if setting.compile:
        compiled = [r for r in report["results"] if r["status"] == "ok" and r["compile"]]
        warmups = [r["fit"]["first_epoch_s"] + (r.get("plain") or {}).get("first_epoch_s", 0.0) for r in compiled]
        cost += max(warmups) if warmups else (2 if getattr(report.get("_args"), "plain", True) else 1) * COMPILE_GUESS_S
    return cost


def run_setting(setting: Setting, data, device: torch.device, args) -> dict[str, Any]:
    """fit, then the plain loop, for one setting; an error becomes the row's status."""
    row: dict[str, Any] = {"setting": setting.name, **{k: v for k, v in asdict(setting).items() if k != "name"}}
    if setting.compile:
        torch._dynamo.reset()  # each compiled setting compiles afresh (the on-disk caches stay)
    torch.backends.cudnn.benchmark = setting.cudnn_benchmark
    try:
        row["fit"] = run_fit(setting, data, device, args.epochs, args.batch_size, args.augment)
        print(f"  fit:   {row['fit']}", flush=True)
        if args.plain:
            row["plain"] = run_plain(setting, data, device, args.epochs, args.batch_size, args.augment)
            print(f"  plain: {row['plain']}", flush=True)
            row["fit_over_plain"] = round(row["fit"]["epoch_s"] / row["plain"]["epoch_s"], 3)
        row["status"] = "ok"
    except Exception as err:  # noqa: BLE001 - one broken setting must not hide the others
        row.update(status="error", note=f"{type(err).__name__}: {err}"[:500], traceback=traceback.format_exc())
        print(row["traceback"], file=sys.stderr, flush=True)
    finally:
        torch.backends.cudnn.benchmark = False
    return row


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="auto", help="cuda, cpu or auto (default)")
    p.add_argument("--images", type=int, help="training images (default 50,000; --quick 512)")
    p.add_argument("--test-images", type=int, help="test images evaluated per epoch (default 10,000; --quick 128)")
    p.add_argument("--batch-size", type=int, help="default 128 (--quick 64)")
    p.add_argument("--epochs", type=int, default=2, help="epochs per run, the last one timed (default 2)")
    p.add_argument("--augment", default="crop_flip", choices=["crop_flip", "crop", "none"])
    p.add_argument("--settings", help=f"comma-separated, in order (GPU default {','.join(GPU_SETTINGS)}; "
                                      f"CPU default {','.join(CPU_SETTINGS)})")
    p.add_argument("--budget", type=float, default=180.0, help="seconds for the whole script (default 180)")
    p.add_argument("--profile", action=argparse.BooleanOptionalAction, default=True,
                   help="profile fit on the fastest eager setting (default on)")
    p.add_argument("--profile-steps", type=int, default=10)
    p.add_argument("--plain", action=argparse.BooleanOptionalAction, default=True,
                   help="also time the hand-written loop per setting (default on)")
    p.add_argument("--quick", action="store_true", help="tiny sizes, for a CPU smoke test")
    p.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")), help="folder for the results")
    args = p.parse_args(argv)
    args.images = args.images or (512 if args.quick else 50_000)
    args.test_images = args.test_images or (128 if args.quick else 10_000)
    args.batch_size = args.batch_size or (64 if args.quick else 128)
    args.augment = None if args.augment == "none" else args.augment
    if args.quick:
        args.profile_steps = min(args.profile_steps, 3)
    if min(args.images, args.test_images, args.batch_size, args.epochs, args.profile_steps) < 1:
        p.error("--images, --test-images, --batch-size, --epochs and --profile-steps must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = resolve_device(args.device)
    names = args.settings.split(",") if args.settings else (GPU_SETTINGS if device.type == "cuda" else CPU_SETTINGS)
    settings = [Setting.parse(n.strip()) for n in names if n.strip()]
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "_start": time.perf_counter(), "_args": args, "meta": metadata(device),
        "config": {"model": "resnet20", "images": args.images, "test_images": args.test_images,
                   "batch_size": args.batch_size, "epochs": args.epochs, "augment": args.augment, "lr": LR,
                   "momentum": MOMENTUM, "weight_decay": WEIGHT_DECAY, "budget_s": args.budget,
                   "settings": [s.name for s in settings]},
        "results": [], "extras": {}, "profile": None}
    print(json.dumps(report["meta"]), flush=True)
    data = make_data(args.images, args.test_images, device)
    report["extras"]["layout_audit"] = _guarded(lambda: layout_audit(device))
    report["extras"]["loader_epoch"] = _guarded(lambda: loader_epoch(data, device, args.batch_size, args.augment))
    print(f"extras: {report['extras']}", flush=True)
    write(report, args.out)

    # In the order given (most telling first); the profile runs before the first compiled setting,
    # whose compile time is the least predictable, so a run stopped from outside keeps it.
    for setting in settings:
        if setting.compile and args.profile and report["profile"] is None and _eager_ok(report):
            report["profile"] = _run_profile(report, device, args)
            write(report, args.out)
        pending_profile = 20.0 if args.profile and report["profile"] is None else 0.0
        left = args.budget - (time.perf_counter() - report["_start"]) - pending_profile
        need = estimate_s(setting, report, args.epochs)
        if need > left:
            row = {"setting": setting.name, **{k: v for k, v in asdict(setting).items() if k != "name"},
                   "status": "skipped", "note": f"budget: needs ~{need:.0f} s, {max(left, 0):.0f} s left"}
        else:
            print(f"== {setting.name} (estimated {need:.0f} s, {left:.0f} s left)", flush=True)
            row = run_setting(setting, data, device, args)
        report["results"].append(row)
        write(report, args.out)
    if args.profile and report["profile"] is None:
        report["profile"] = _run_profile(report, device, args)
        write(report, args.out)
    print(markdown({k: v for k, v in report.items() if not k.startswith("_")}), flush=True)
    return 0 if all(r["status"] != "error" for r in report["results"]) else 1


def _eager_ok(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in report["results"] if r["status"] == "ok" and not r["compile"]]


def _run_profile(report: dict[str, Any], device: torch.device, args) -> dict[str, Any]:
    eager = _eager_ok(report)
    if not eager:
        return {"status": "skipped", "note": "no eager setting ran"}
    best = min(eager, key=lambda r: r["fit"]["epoch_s"])
    print(f"== profile fit on {best['setting']} ({args.profile_steps} steps)", flush=True)
    setting = Setting.parse(best["setting"])
    torch.backends.cudnn.benchmark = setting.cudnn_benchmark
    try:
        return _guarded(lambda: profile_fit(setting, device, args.profile_steps, args.batch_size, args.augment,
                                            args.out / PROFILE_NAME))
    finally:
        torch.backends.cudnn.benchmark = False


def _guarded(call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run an optional measurement; a failure becomes a status line instead of ending the script."""
    try:
        return call()
    except Exception as err:  # noqa: BLE001
        traceback.print_exc()
        return {"status": "error", "note": f"{type(err).__name__}: {err}"[:500]}


if __name__ == "__main__":
    sys.exit(main())
