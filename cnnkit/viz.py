"""Pictures of what a CNN computes and learns: each function returns a matplotlib Figure.

The figures are built with the object-oriented API (``matplotlib.figure.Figure``), so no
pyplot state leaks between calls and a notebook shows each figure exactly once (return it as
the last expression of a cell). Tests inspect the returned figures.

    filters            show_filters(weights)
    activations        feature_maps(model, x, layer)
    weight matrices    hinton(matrix)
    training           training_curves(history)
    occlusion          occlusion_sensitivity(...) -> array, plot_occlusion(...) -> Figure
    receptive fields   receptive_field_overlay(image, layers, unit)
    what a channel     top_activations(...) -> records, top_activating_patches(...) -> Figure
    likes
    pre-images         pre_images(...) / guided_backprop(...) / deconvnet(...) -> array,
                       plot_pre_images(...) -> Figure (pre-images next to the top patches)

Sizes and receptive fields come from :mod:`cnnkit.arith`; nothing here recomputes them.
torch and matplotlib are imported when a function runs, not when the module is imported.
"""
from __future__ import annotations

import functools
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from . import arith
from ._geometry import check_choice, check_int, is_int
from .arith import layers_from_model  # noqa: F401  (its home is arith; lecture 08 calls viz.layers_from_model)
from .modules import eval_mode, find_layer, module_device

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from matplotlib.figure import Figure

__all__ = [
    "show_filters",
    "feature_maps",
    "hinton",
    "training_curves",
    "occlusion_sensitivity",
    "plot_occlusion",
    "receptive_field_overlay",
    "top_activations",
    "top_activating_patches",
    "layers_from_model",
    "TopActivation",
    "PRE_IMAGE_METHODS",
    "pre_images",
    "guided_backprop",
    "deconvnet",
    "plot_pre_images",
]


# --------------------------------------------------------------------------- helpers
def _new_figure(width: float, height: float) -> "Figure":
    from matplotlib.figure import Figure

    _show_figures_in_notebooks()
    return Figure(figsize=(width, height), layout="constrained")


_DISPLAY_READY = False


def _show_figures_in_notebooks() -> None:
    """Make a returned Figure render as a picture in Jupyter, not as ``<Figure size ...>``.

    Figures here are made without pyplot (so none leak into pyplot's global list), and then
    IPython has no image formatter for them until pyplot's inline backend is loaded. Register
    the PNG formatter once, only when running inside an IPython kernel.
    """
    global _DISPLAY_READY
    if _DISPLAY_READY or "IPython" not in sys.modules:
        return
    _DISPLAY_READY = True
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return
    from matplotlib.figure import Figure

    png = shell.display_formatter.formatters["image/png"]
    if Figure not in png.type_printers:
        from IPython.core.pylabtools import select_figure_formats

        select_figure_formats(shell, {"png"}, bbox_inches="tight")


def _to_numpy(array: Any, name: str) -> np.ndarray:
    """A float64 numpy copy of a numpy array, torch tensor or nested sequence."""
    if hasattr(array, "detach"):  # torch.Tensor, without importing torch for numpy input
        array = array.detach().cpu().numpy()
    try:
        out = np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numpy array or torch tensor of numbers, got {type(array).__name__}") from exc
    return out


def _grid_shape(count: int, ncols: int | None) -> tuple[int, int]:
    if ncols is None:
        ncols = min(count, max(1, math.ceil(math.sqrt(count))))
    ncols = max(1, min(ncols, count))
    return math.ceil(count / ncols), ncols


def _image_grid(count: int, ncols: int | None, cell_w: float, cell_h: float) -> tuple["Figure", list]:
    """A figure with a near-square grid of ``count`` tick-less axes; spare cells are hidden."""
    rows, cols = _grid_shape(count, ncols)
    fig = _new_figure(cell_w * cols + 0.4, cell_h * rows + 0.5)
    axes = list(fig.subplots(rows, cols, squeeze=False).flat)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[count:]:
        ax.set_axis_off()
    return fig, axes[:count]


def _model_dtype(model: "torch.nn.Module") -> "torch.dtype":
    """The floating dtype of the model's parameters (float32 for a model without any)."""
    import torch

    for tensor in model.parameters():
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


def _as_batch(x: Any, name: str, model: "torch.nn.Module", device: Any = None) -> "torch.Tensor":
    """A tensor (N, C, H, W) from (C, H, W) or (N, C, H, W), in the model's dtype, on ``device``
    (default: the model's device), so numpy float64 images feed a float32 model."""
    import torch

    tensor = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    if tensor.ndim == 3:
        tensor = tensor.unsqueeze(0)
    if tensor.ndim != 4:
        raise ValueError(f"{name} must have shape (C, H, W) or (N, C, H, W), got {tuple(tensor.shape)}")
    if device is None:
        device = module_device(model) or torch.device("cpu")
    return tensor.to(device=device, dtype=_model_dtype(model))


def _capture(model: "torch.nn.Module", batch: "torch.Tensor", module: "torch.nn.Module") -> "torch.Tensor":
    """Run ``model`` on ``batch`` in eval mode without gradients; return ``module``'s output."""
    import torch

    seen: list[torch.Tensor] = []

    def hook(_module, _inputs, output):
        seen.append(output[0] if isinstance(output, (tuple, list)) else output)

    handle = module.register_forward_hook(hook)
    try:
        with eval_mode(model), torch.no_grad():
            model(batch)
    finally:
        handle.remove()
    if not seen:
        raise ValueError("the chosen layer did not run in the model's forward pass")
    return seen[-1].detach()


def _image_hwc(image: Any, name: str = "image") -> np.ndarray:
    """An image as float (H, W) or (H, W, 3) numpy for imshow, from numpy HW/HWC or torch CHW/1CHW."""
    is_tensor = hasattr(image, "detach")
    array = _to_numpy(image, name)
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if is_tensor or (array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3)):
        if array.ndim == 3:  # CHW -> HWC
            array = np.moveaxis(array, 0, -1)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 2 or (array.ndim == 3 and array.shape[-1] == 3):
        return array
    raise ValueError(f"{name} must be (H, W), (H, W, 3), or a tensor (C, H, W) with C in (1, 3); got {array.shape}")


def _rescale01(array: np.ndarray) -> np.ndarray:
    lo, hi = float(array.min()), float(array.max())
    return np.zeros_like(array) if hi == lo else (array - lo) / (hi - lo)


def _show_image(ax, image: np.ndarray, **kwargs) -> None:
    if image.ndim == 2:
        ax.imshow(image, cmap=kwargs.pop("cmap", "gray"), **kwargs)
    else:
        ax.imshow(np.clip(image, 0.0, 1.0) if image.max() <= 1.0 and image.min() >= 0 else _rescale01(image), **kwargs)
    ax.set_xticks([])
    ax.set_yticks([])


# --------------------------------------------------------------------------- filters
def show_filters(weights: Any, *, channel: int | None = None, ncols: int | None = None,
                 max_filters: int = 64, cmap: str = "gray", title: str | None = None) -> "Figure":
    """A grid of convolution kernels, one small image per filter (what the first layer learned).

    ``weights`` is (C_out, C_in, kH, kW) (numpy, tensor, or a ``nn.Conv2d``), or (kH, kW) for one kernel.
    With C_in == 3 each filter is drawn in colour (rescaled to [0, 1] per filter, as is usual
    for first-layer RGB filters); with C_in == 1, or when ``channel`` picks one input channel of
    a deeper layer, the raw weights are drawn in ``cmap`` on a colour scale shared by all
    filters and symmetric around 0 (mid-grey = 0), so signs and magnitudes compare across the grid.
    Deeper layers without ``channel`` draw one row per filter and one column per input channel.
    """
    if hasattr(weights, "weight") and hasattr(weights, "kernel_size"):  # an nn.Conv2d
        weights = weights.weight
    w = _to_numpy(weights, "weights")
    if w.ndim == 2:
        w = w[None, None]
    elif w.ndim == 3:
        w = w[:, None]
    if w.ndim != 4:
        raise ValueError(f"weights must be (C_out, C_in, kH, kW), (C_out, kH, kW) or (kH, kW); got shape {w.shape}")
    max_filters = check_int(max_filters, "max_filters", minimum=1)
    c_out, c_in = w.shape[:2]
    if channel is not None:
        channel = check_int(channel, "channel", 0, c_in - 1)
        w = w[:, channel:channel + 1]
        c_in = 1
    w = w[:max_filters]
    count = w.shape[0]

    if c_in in (1, 3):
        fig, axes = _image_grid(count, ncols, 1.1, 1.1)
        limit = float(np.abs(w).max()) or 1.0
        for index, ax in enumerate(axes):
            if c_in == 1:
                ax.imshow(w[index, 0], cmap=cmap, vmin=-limit, vmax=limit, interpolation="nearest")
            else:
                ax.imshow(_rescale01(np.moveaxis(w[index], 0, -1)), interpolation="nearest")
            ax.set_title(str(index), fontsize=7)
    else:  # deeper layer: one row per filter, one column per input channel
        c_in_shown = min(c_in, max_filters)
        fig = _new_figure(0.8 * c_in_shown + 0.4, 0.8 * count + 0.5)
        axes = fig.subplots(count, c_in_shown, squeeze=False)
        limit = float(np.abs(w).max()) or 1.0
        for (i, j), ax in np.ndenumerate(axes):
            ax.imshow(w[i, j], cmap=cmap, vmin=-limit, vmax=limit, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(str(i), fontsize=7)
            if i == 0:
                ax.set_title(f"in {j}", fontsize=7)
    shape = "x".join(str(s) for s in w.shape[2:])
    fig.suptitle(title or f"{count} filters of size {shape}", fontsize=10)
    return fig


# --------------------------------------------------------------------------- activations
def feature_maps(model: "torch.nn.Module", x: Any, layer: Any, *, max_maps: int = 32,
                 ncols: int | None = None, cmap: str = "viridis") -> "Figure":
    """The output channels of ``layer`` for one input ``x`` (C, H, W) or (1, C, H, W), one image each.

    ``layer`` is a submodule, its name in ``model.named_modules()`` (``"features.0"``) or a
    child index. The model runs in eval mode without gradients and its mode is restored.
    """
    name, module = find_layer(model, layer)
    batch = _as_batch(x, "x", model)
    if batch.shape[0] != 1:
        raise ValueError(f"x must be a single image (C, H, W) or (1, C, H, W), got batch of {batch.shape[0]}")
    max_maps = check_int(max_maps, "max_maps", minimum=1)
    out = _capture(model, batch, module)[0]
    if out.ndim != 3:
        raise ValueError(f"layer {name!r} gives output of shape {tuple(out.shape)} per image; "
                         "feature maps need a spatial (C, H, W) output")
    maps = out.float().cpu().numpy()
    count = min(maps.shape[0], max_maps)
    fig, axes = _image_grid(count, ncols, 1.3, 1.3)
    for index, ax in enumerate(axes):
        ax.imshow(maps[index], cmap=cmap, interpolation="nearest")
        ax.set_title(str(index), fontsize=7)
    shown = f" (first {count})" if count < maps.shape[0] else ""
    fig.suptitle(f"{name or type(module).__name__}: {maps.shape[0]} maps of {maps.shape[1]}x{maps.shape[2]}{shown}",
                 fontsize=10)
    return fig


# --------------------------------------------------------------------------- weight matrices
def hinton(matrix: Any, *, max_weight: float | None = None, title: str | None = None,
           row_labels: Sequence[Any] | None = None, col_labels: Sequence[Any] | None = None,
           xlabel: str | None = None, ylabel: str | None = None) -> "Figure":
    """A Hinton diagram of a 2-D weight matrix: one square per weight, area ~ |w|, white > 0, black < 0.

    Row i of the matrix is row i of the diagram (drawn top to bottom). ``max_weight`` is the
    magnitude drawn as a full cell (default: the largest |w|), so diagrams of different
    matrices compare when given the same value. Rows and columns are labelled with
    ``row_labels`` / ``col_labels`` (default: their indices; every k-th one where there are many)
    and the axes with ``ylabel`` / ``xlabel`` (what the rows and the columns are).
    """
    from matplotlib.patches import Rectangle

    w = _to_numpy(matrix, "matrix")
    if w.ndim != 2 or w.size == 0:
        raise ValueError(f"matrix must be a non-empty 2-D array, got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("matrix must contain only finite numbers")
    scale = float(np.abs(w).max()) if max_weight is None else float(max_weight)
    if max_weight is not None and not scale > 0:
        raise ValueError(f"max_weight must be > 0, got {max_weight!r}")
    rows, cols = w.shape
    labels = {}
    for name, given, count in (("row_labels", row_labels, rows), ("col_labels", col_labels, cols)):
        if given is not None and len(given) != count:
            raise ValueError(f"{name} must have one label per {name[:3]} ({count}), got {len(given)}")
        labels[name] = [str(v) for v in (range(count) if given is None else given)]
    size = min(8.0, 0.35 * max(rows, cols) + 1.0)
    fig = _new_figure(size * cols / max(rows, cols) + 0.9, size * rows / max(rows, cols) + 0.9)
    ax = fig.subplots()
    ax.set_facecolor("gray")
    ax.set_aspect("equal")
    for (i, j), value in np.ndenumerate(w):
        if value == 0 or scale == 0:
            continue
        side = math.sqrt(min(abs(value) / scale, 1.0))
        ax.add_patch(Rectangle((j - side / 2, i - side / 2), side, side,
                               facecolor="white" if value > 0 else "black", edgecolor="none"))
    ax.set_xlim(-0.5, cols - 0.5)
    ax.set_ylim(rows - 0.5, -0.5)
    cell_pt = 72 * size / max(rows, cols)
    for axis, name, count in ((ax.yaxis, "row_labels", rows), (ax.xaxis, "col_labels", cols)):
        # 8-point labels never touch: a row label needs ~10 points of height, a column label its width
        need = 10 if name == "row_labels" else 5 * max(map(len, labels[name])) + 4
        step = max(1, math.ceil(count / 24), math.ceil(need / cell_pt))
        ticks = list(range(0, count, step))
        axis.set_ticks(ticks, [labels[name][t] for t in ticks])
        axis.set_tick_params(labelsize=8, length=2)
    if xlabel:
        ax.set_xlabel(xlabel, fontsize=9)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=9)
    ax.set_title(title or f"{rows}x{cols} weights (white > 0, black < 0)", fontsize=10)
    return fig


# --------------------------------------------------------------------------- training
_CURVE_PANELS = (
    ("loss", ("train_loss", "test_loss")),
    ("accuracy", ("train_acc", "test_acc")),
    ("learning rate", ("lr",)),
)


def training_curves(history: Mapping[str, Sequence[float]], *, title: str | None = None) -> "Figure":
    """Loss, accuracy and learning rate against epoch from a :func:`cnnkit.train.fit` History.

    ``history`` is any mapping with an ``epoch`` list and some of ``train_loss``, ``test_loss``,
    ``train_acc``, ``test_acc``, ``lr`` (lists as long as ``epoch``); a panel is drawn for each
    group that has data. Seeing train and test side by side shows over- and under-fitting.
    """
    if not isinstance(history, Mapping):
        raise TypeError("history must be a mapping such as the History from cnnkit.train.fit, "
                        f"got {type(history).__name__}")
    if "epoch" not in history or len(history["epoch"]) == 0:
        raise ValueError(f"history must have a non-empty 'epoch' list; keys: {sorted(history)}")
    epochs = list(history["epoch"])
    panels = []
    for label, keys in _CURVE_PANELS:
        present = [k for k in keys if len(history.get(k) or []) > 0]
        for key in present:
            if len(history[key]) != len(epochs):
                raise ValueError(f"history[{key!r}] has {len(history[key])} values but 'epoch' has {len(epochs)}")
        if present:
            panels.append((label, present))
    if not panels:
        raise ValueError("history has none of train_loss, test_loss, train_acc, test_acc, lr to plot")
    fig = _new_figure(3.6 * len(panels), 3.0)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (label, keys) in zip(axes, panels):
        for key in keys:
            ax.plot(epochs, list(history[key]), marker="o" if len(epochs) < 30 else None, label=key.replace("_", " "))
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if len(keys) > 1:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


# --------------------------------------------------------------------------- occlusion
def occlusion_sensitivity(model: "torch.nn.Module", image: Any, target: int, *, patch: int = 8, stride: int = 4,
                          fill: float | str = 0.5, batch_size: int = 64) -> np.ndarray:
    """Probability of class ``target`` while a grey square hides each part of the image (Zeiler & Fergus).

    A ``patch`` x ``patch`` square filled with ``fill`` (a value, or ``"mean"`` for the image's
    per-channel mean) slides over ``image`` (C, H, W) with ``stride``; entry (i, j) of the result is
    softmax(model(occluded image))[target] with the square's top-left corner at
    (i * stride, j * stride). Where the map drops, the model relied on the hidden pixels.
    The map's shape is the output size of a patch x patch window with that stride
    (:func:`cnnkit.arith.conv_output_size`). Occluded copies run through the model in batches
    of ``batch_size`` without gradients.
    """
    import torch

    batch = _as_batch(image, "image", model)
    if batch.shape[0] != 1:
        raise ValueError(f"image must be a single image (C, H, W) or (1, C, H, W), got a batch of {batch.shape[0]}")
    patch = check_int(patch, "patch", minimum=1)
    stride = check_int(stride, "stride", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    target = check_int(target, "target", minimum=0)
    _, channels, height, width = batch.shape
    if patch > min(height, width):
        raise ValueError(f"patch={patch} is larger than the image ({height}x{width})")
    rows = arith.conv_output_size(height, patch, stride, 0, 1)
    cols = arith.conv_output_size(width, patch, stride, 0, 1)
    if isinstance(fill, str):
        if fill != "mean":
            raise ValueError(f"fill must be a number or 'mean', got {fill!r}")
        fill_value = batch.mean(dim=(0, 2, 3)).view(channels, 1, 1)
    elif isinstance(fill, (int, float, np.floating, np.integer)) and not isinstance(fill, bool):
        fill_value = torch.full((channels, 1, 1), float(fill), dtype=batch.dtype, device=batch.device)
    else:
        raise TypeError(f"fill must be a number or 'mean', got {type(fill).__name__}")

    corners = [(i * stride, j * stride) for i in range(rows) for j in range(cols)]
    probabilities = []
    with eval_mode(model), torch.no_grad():
        for start in range(0, len(corners), batch_size):
            chunk = corners[start:start + batch_size]
            occluded = batch.expand(len(chunk), -1, -1, -1).clone()
            for k, (top, left) in enumerate(chunk):
                occluded[k, :, top:top + patch, left:left + patch] = fill_value
            logits = model(occluded)
            if logits.ndim != 2 or not target < logits.shape[1]:
                raise ValueError(f"target={target} but the model gives outputs of shape {tuple(logits.shape)}")
            probabilities.append(torch.softmax(logits.float(), dim=1)[:, target].cpu())
    return torch.cat(probabilities).numpy().astype(np.float64).reshape(rows, cols)


def plot_occlusion(model: "torch.nn.Module", image: Any, target: int, *, patch: int = 8, stride: int = 4,
                   fill: float | str = 0.5, batch_size: int = 64, class_name: str | None = None) -> "Figure":
    """The image next to its occlusion map (see :func:`occlusion_sensitivity`), as in Zeiler & Fergus.

    Each map cell is drawn over the centre of the square it hid, so the map lines up with the
    image; dark cells mark the pixels the model needs to recognise ``target``.
    """
    import torch

    sensitivity = occlusion_sensitivity(model, image, target, patch=patch, stride=stride, fill=fill,
                                        batch_size=batch_size)
    batch = _as_batch(image, "image", model)
    with eval_mode(model), torch.no_grad():
        clean = float(torch.softmax(model(batch).float(), dim=1)[0, target])
    picture = _image_hwc(batch[0].cpu(), "image")
    height, width = picture.shape[:2]
    rows, cols = sensitivity.shape
    # cell (i, j) is centred on the square at (i*stride, j*stride) of side `patch`
    half = patch / 2 - 0.5
    extent = (half - stride / 2, half + (cols - 1) * stride + stride / 2,
              half + (rows - 1) * stride + stride / 2, half - stride / 2)
    fig = _new_figure(7.0, 3.4)
    ax_image, ax_map = fig.subplots(1, 2)
    _show_image(ax_image, picture)
    ax_image.set_title(f"input: p({class_name or target}) = {clean:.2f}", fontsize=9)
    shown = ax_map.imshow(sensitivity, cmap="magma", vmin=0.0, vmax=1.0, extent=extent, interpolation="nearest")
    ax_map.set_xlim(-0.5, width - 0.5)
    ax_map.set_ylim(height - 0.5, -0.5)
    ax_map.set_xticks([])
    ax_map.set_yticks([])
    ax_map.set_title(f"p({class_name or target}) with a {patch}x{patch} square hidden", fontsize=9)
    fig.colorbar(shown, ax=ax_map, shrink=0.8)
    return fig


# --------------------------------------------------------------------------- receptive fields
def receptive_field_overlay(image: Any, layers: Any, unit: tuple[int, int], *, title: str | None = None) -> "Figure":
    """The input patch that output unit ``unit = (i, j)`` of the last layer sees, outlined on ``image``.

    ``layers`` is what :func:`cnnkit.arith.receptive_field` accepts (layer dicts or tuples) or a
    torch model (see :func:`layers_from_model`). The solid box is the part inside the image; a dashed
    box shows the full receptive field where it reaches into the padding.
    """
    from matplotlib.patches import Rectangle

    picture = _image_hwc(image)
    height, width = picture.shape[:2]
    if hasattr(layers, "named_modules"):
        layers = layers_from_model(layers)
    if (not isinstance(unit, (tuple, list)) or len(unit) != 2
            or not all(is_int(u) for u in unit)):
        raise ValueError(f"unit must be a pair of ints (row, col), got {unit!r}")
    rows = arith.receptive_field(layers, (height, width))
    (top, bottom), (left, right) = arith.receptive_field_region(layers, tuple(unit), (height, width))
    clipped = arith.receptive_field_region(layers, tuple(unit), (height, width), clip=True)
    fig = _new_figure(4.2, 4.4)
    ax = fig.subplots()
    _show_image(ax, picture)
    (ct, cb), (cl, cr) = clipped
    if (top, bottom, left, right) != (ct, cb, cl, cr):
        ax.add_patch(Rectangle((left - 0.5, top - 0.5), right - left, bottom - top, fill=False,
                               edgecolor="orange", linestyle="--", linewidth=1.2, label="receptive field"))
    ax.add_patch(Rectangle((cl - 0.5, ct - 0.5), cr - cl, cb - ct, fill=False, edgecolor="red", linewidth=2,
                           label="inside the image"))
    ax.set_xlim(min(left, 0) - 0.5, max(right, width) - 0.5)
    ax.set_ylim(max(bottom, height) - 0.5, min(top, 0) - 0.5)
    rf = rows[-1].rf
    rf_text = f"{rf}x{rf}" if isinstance(rf, int) else f"{rf[0]}x{rf[1]}"
    ax.set_title(title or f"unit {tuple(int(u) for u in unit)} of {rows[-1].name or 'the last layer'}: "
                          f"rows {top}..{bottom - 1}, cols {left}..{right - 1} (RF {rf_text})", fontsize=9)
    return fig


# --------------------------------------------------------------------------- top activations
@dataclass(frozen=True)
class TopActivation:
    """One of the strongest responses of a channel: which image, where, how strong, which input pixels."""

    image_index: int
    position: tuple[int, int]
    value: float
    region: tuple[tuple[int, int], tuple[int, int]] | None  # ((top, bottom), (left, right)) clipped, or None


def top_activations(model: "torch.nn.Module", images: Any, layer: Any, channel: int, k: int = 9, *,
                    batch_size: int = 128, rf_layers: Any = None) -> list[TopActivation]:
    """The ``k`` images whose strongest response in ``channel`` of ``layer`` is largest, best first.

    For each image the maximum of the channel's map is taken (one entry per image, as in
    Zeiler & Fergus's top nine); ``region`` is the input patch that unit sees, clipped to the
    image, from :func:`cnnkit.arith.receptive_field_region` over ``rf_layers`` (default: the conv /
    pool layers of ``model`` up to ``layer``, see :func:`layers_from_model`); None if the layer's
    receptive field cannot be walked (the whole image is then shown).
    """
    import torch

    name, module = find_layer(model, layer)
    k = check_int(k, "k", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    data = _as_batch(images, "images", model, torch.device("cpu"))
    device = module_device(model) or torch.device("cpu")
    maxima, positions = [], []
    for start in range(0, data.shape[0], batch_size):
        out = _capture(model, data[start:start + batch_size].to(device), module)
        if out.ndim != 4:
            raise ValueError(f"layer {name!r} gives outputs of shape {tuple(out.shape)}; "
                             "a spatial (N, C, H, W) map is needed")
        channel = check_int(channel, "channel", 0, out.shape[1] - 1)
        flat = out[:, channel].flatten(1).float().cpu()
        value, index = flat.max(dim=1)
        maxima.append(value)
        positions.extend(divmod(int(i), out.shape[3]) for i in index)
    values = torch.cat(maxima)
    order = torch.argsort(values, descending=True, stable=True)[:k].tolist()

    height, width = data.shape[2:]
    if rf_layers is None:
        try:
            rf_layers = layers_from_model(model, upto=module)
        except ValueError:
            rf_layers = None
    records = []
    for index in order:
        region = None
        if rf_layers is not None:
            region = arith.receptive_field_region(rf_layers, positions[index], (height, width), clip=True)
        records.append(TopActivation(int(index), positions[index], float(values[index]), region))
    return records


def top_activating_patches(model: "torch.nn.Module", images: Any, layer: Any, channel: int, k: int = 9, *,
                           batch_size: int = 128, rf_layers: Any = None, ncols: int | None = None) -> "Figure":
    """The input patches that most excite ``channel`` of ``layer``: one per image, strongest first.

    Each panel crops the receptive field of the most active unit (see :func:`top_activations`);
    deeper layers see larger patches. Titles give the image index and the activation.
    """
    records = top_activations(model, images, layer, channel, k, batch_size=batch_size, rf_layers=rf_layers)
    data = _to_numpy(images, "images")
    if data.ndim == 3:
        data = data[None]
    fig, axes = _image_grid(len(records), ncols, 1.5, 1.6)
    for record, ax in zip(records, axes):
        picture = _image_hwc(np.moveaxis(data[record.image_index], 0, -1) if data.shape[1] == 3
                             else data[record.image_index, 0])
        if record.region is not None:
            (top, bottom), (left, right) = record.region
            picture = picture[top:bottom, left:right]
        _show_image(ax, picture, interpolation="nearest")
        ax.set_title(f"#{record.image_index}: {record.value:.2f}", fontsize=7)
    layer_name, _ = find_layer(model, layer)
    fig.suptitle(f"top {len(records)} inputs for channel {channel} of {layer_name or 'layer'}", fontsize=10)
    return fig


# --------------------------------------------------------------------------- pre-images
#: How :func:`pre_images` passes the backward signal through a ReLU whose forward input was ``x``:
#: ``"gradient"`` where x > 0 (the true gradient), ``"deconvnet"`` where the signal is > 0 (Zeiler &
#: Fergus 2014), ``"guided"`` where both are (guided backpropagation, Springenberg et al. 2015).
PRE_IMAGE_METHODS = ("gradient", "deconvnet", "guided")


@functools.lru_cache(maxsize=1)
def _relu_rule_mode() -> type:
    """A ``TorchFunctionMode`` class that computes every ReLU of a forward pass with a chosen backward rule.

    It catches ``F.relu`` (which ``nn.ReLU`` calls), ``torch.relu``, ``Tensor.relu`` and their in-place
    forms, so ReLU modules and functional ReLUs (the kit's residual and Inception blocks use
    ``F.relu(..., inplace=True)``) are treated alike, and nothing is attached to the model. Built on
    first use so that importing :mod:`cnnkit.viz` does not import torch.
    """
    import torch
    from torch.overrides import TorchFunctionMode

    functional = torch.nn.functional
    relus = {functional.relu, functional.relu_, torch.relu, torch.relu_, torch.Tensor.relu, torch.Tensor.relu_}

    class RuleReLU(torch.autograd.Function):
        """max(x, 0) forward; backward by the rule in ``PRE_IMAGE_METHODS``."""

        @staticmethod
        def forward(ctx, x, method):
            ctx.save_for_backward(x)
            ctx.method = method
            return x.clamp(min=0)

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            if ctx.method == "deconvnet":
                return grad.clamp(min=0), None
            passed = torch.where(x > 0, grad, torch.zeros_like(grad))
            return (passed.clamp(min=0) if ctx.method == "guided" else passed), None

    class ReLURule(TorchFunctionMode):
        """Inside ``with ReLURule(method):`` every ReLU is a ``RuleReLU`` (computed out of place)."""

        def __init__(self, method: str) -> None:
            super().__init__()
            self.method = method

        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if func in relus:
                return RuleReLU.apply(args[0] if args else kwargs["input"], self.method)
            return func(*args, **kwargs)

    return ReLURule


def _is_position(value: Any) -> bool:
    """A (row, col) pair of ints."""
    return isinstance(value, (tuple, list)) and len(value) == 2 and all(is_int(v) for v in value)


def _chosen_units(out: "torch.Tensor", layer_name: str, channel: int, unit: Any) -> "torch.Tensor":
    """The value per image whose pre-image is wanted: ``out[n, channel]`` of a vector output, or of a map
    the unit ``unit`` (one (row, col) for all images, one per image, or None: each image's strongest)."""
    import torch

    n, channels = out.shape[:2]
    if not 0 <= channel < channels:
        raise ValueError(f"channel must be an int in 0..{channels - 1} (layer {layer_name!r} has {channels} "
                         f"channels), got {channel!r}")
    if out.ndim == 2:
        if unit is not None:
            raise ValueError(f"unit must be None: layer {layer_name!r} gives vectors {tuple(out.shape)}, not maps")
        return out[:, channel]
    if out.ndim != 4:
        raise ValueError(f"layer {layer_name!r} gives outputs of shape {tuple(out.shape)}; pre-images need "
                         "(N, C, H, W) maps or (N, C) vectors")
    maps = out[:, channel].flatten(1)
    height, width = out.shape[2:]
    if unit is None:
        return maps.max(dim=1).values
    units = [unit] * n if _is_position(unit) else list(unit) if isinstance(unit, (tuple, list)) else []
    if len(units) != n or not all(_is_position(u) and 0 <= u[0] < height and 0 <= u[1] < width for u in units):
        raise ValueError(f"unit must be None, a (row, col) pair or {n} pairs (one per image), each with row in "
                         f"0..{height - 1} and col in 0..{width - 1} (layer {layer_name!r} maps are "
                         f"{height}x{width}); got {unit!r}")
    index = torch.tensor([int(i) * width + int(j) for i, j in units], device=out.device)
    return maps.gather(1, index[:, None])[:, 0]


def pre_images(model: "torch.nn.Module", images: Any, layer: Any, channel: int, *, method: str = "guided",
               unit: Any = None) -> np.ndarray:
    """What in each image drives one unit of ``channel`` of ``layer``, mapped back to pixels (N, C, H, W).

    The backward pass of the unit's value with respect to the input, with the ReLUs' backward rule
    set by ``method`` (:data:`PRE_IMAGE_METHODS`): ``"gradient"`` is the true gradient,
    ``"deconvnet"`` Zeiler & Fergus's projection (a ReLU passes the backward signal where it is
    positive), ``"guided"`` guided backpropagation (where the signal *and* the ReLU's forward input
    are positive), which gives the sharpest pictures. The unit: ``unit=None`` takes each image's
    strongest response in the channel (as :func:`top_activations` does), a (row, col) pair the same
    unit in every image, a list of pairs one per image; for a layer with vector outputs (a linear
    layer: a class score) the entry ``channel``. Only pixels in the unit's receptive field can be
    non-zero.

    ``layer``: a submodule, its name in ``model.named_modules()`` or a child index. ReLUs are
    caught as functions (``nn.ReLU`` modules and ``F.relu`` alike) and computed out of place while
    this runs, so in-place ReLUs are fine (code that ignores a ReLU's return value is not). The
    model runs in eval mode; its flags are restored, nothing stays attached to it and its
    parameters' ``.grad`` are not touched.
    """
    import torch

    method = check_choice(method, "method", PRE_IMAGE_METHODS)
    name, module = find_layer(model, layer)
    if not is_int(channel):
        raise TypeError(f"channel must be an int (a channel index of layer {name!r}), got {channel!r}")
    x = _as_batch(images, "images", model).detach().clone().requires_grad_(True)
    seen: list[torch.Tensor] = []

    def keep(_module, _inputs, output):
        seen.append(output[0] if isinstance(output, (tuple, list)) else output)

    handle = module.register_forward_hook(keep)
    try:
        with eval_mode(model), torch.enable_grad():
            with _relu_rule_mode()(method):
                model(x)
            if not seen:
                raise ValueError(f"layer {name!r} did not run in the model's forward pass")
            values = _chosen_units(seen[-1], name, channel, unit)
            (grad,) = torch.autograd.grad(values.sum(), x, allow_unused=True)
    finally:
        handle.remove()
    if grad is None:  # the unit does not depend on the input at all
        grad = torch.zeros_like(x)
    return grad.detach().cpu().numpy().astype(np.float64)


def guided_backprop(model: "torch.nn.Module", images: Any, layer: Any, channel: int, *,
                    unit: Any = None) -> np.ndarray:
    """Guided backpropagation (Springenberg et al. 2015): :func:`pre_images` with ``method="guided"``."""
    return pre_images(model, images, layer, channel, method="guided", unit=unit)


def deconvnet(model: "torch.nn.Module", images: Any, layer: Any, channel: int, *, unit: Any = None) -> np.ndarray:
    """Zeiler & Fergus's deconvnet projection: :func:`pre_images` with ``method="deconvnet"``."""
    return pre_images(model, images, layer, channel, method="deconvnet", unit=unit)


def _signed_picture(pre_image: np.ndarray) -> tuple[np.ndarray, dict]:
    """A (C, h, w) pre-image ready for imshow: grey around 0 (one channel) or 0.5 + signal (colour)."""
    limit = float(np.abs(pre_image).max()) or 1.0
    if pre_image.shape[0] == 3:
        return 0.5 + 0.5 * np.moveaxis(pre_image, 0, -1) / limit, {}
    return pre_image[0], {"cmap": "gray", "vmin": -limit, "vmax": limit}


def plot_pre_images(model: "torch.nn.Module", images: Any, layer: Any, channel: int, k: int = 9, *,
                    method: str = "guided", batch_size: int = 128, rf_layers: Any = None) -> "Figure":
    """Zeiler & Fergus's picture of a channel: the ``k`` strongest units' pre-images above their input patches.

    The units are those of :func:`top_activations` (one per image); each pre-image
    (:func:`pre_images` with ``method``) and each patch is cropped to the unit's receptive field.
    Pre-images are signed: mid-grey is 0, lighter pushes the unit up, darker down.
    """
    method = check_choice(method, "method", PRE_IMAGE_METHODS)
    records = top_activations(model, images, layer, channel, k, batch_size=batch_size, rf_layers=rf_layers)
    data = _to_numpy(images, "images")
    if data.ndim == 3:
        data = data[None]
    chosen = data[[r.image_index for r in records]]
    projected = pre_images(model, chosen, layer, channel, method=method, unit=[r.position for r in records])
    fig = _new_figure(1.25 * len(records) + 0.4, 3.0)
    axes = fig.subplots(2, len(records), squeeze=False)
    for column, record in enumerate(records):
        (top, bottom), (left, right) = record.region or ((0, data.shape[2]), (0, data.shape[3]))
        picture, style = _signed_picture(projected[column, :, top:bottom, left:right])
        axes[0, column].imshow(picture, interpolation="nearest", **style)
        axes[0, column].set_title(f"#{record.image_index}: {record.value:.2f}", fontsize=7)
        patch = chosen[column, :, top:bottom, left:right]
        _show_image(axes[1, column], _image_hwc(np.moveaxis(patch, 0, -1) if patch.shape[0] == 3 else patch[0]),
                    interpolation="nearest")
        for ax in axes[:, column]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel(method, fontsize=8)
    axes[1, 0].set_ylabel("patch", fontsize=8)
    layer_name, _ = find_layer(model, layer)
    fig.suptitle(f"channel {channel} of {layer_name or 'layer'}: {method} pre-images (top) of its top "
                 f"{len(records)} units and the input patches they see", fontsize=9)
    return fig
