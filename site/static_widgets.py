"""Static HTML for ipywidgets outputs, from the widget state an executed notebook stores.

nbclient records the state of every widget model in ``nb.metadata.widgets`` when it runs a
notebook (``store_widget_state``). JupyterLab and nbconvert redraw that state with
``@jupyter-widgets/html-manager``, a script nbconvert fetches from a CDN. The course site must
work offline, so here the state is turned into plain HTML instead: boxes become flex / grid
``<div>``s, ``HTML`` widgets keep their HTML (the explorers' SVG drawings), images become data
URIs and controls are drawn disabled, showing their values. Nothing is interactive; every
explorer shows what it showed in the kernel when the notebook finished running.

Only the standard library is used: this module runs in the site builder and in its tests.
"""
from __future__ import annotations

import base64
import html
import re
from typing import Any, Callable

WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json"

#: Layout traits copied to inline CSS (trait name -> CSS property).
_LAYOUT_CSS = {
    "width": "width", "height": "height", "min_width": "min-width", "max_width": "max-width",
    "min_height": "min-height", "max_height": "max-height", "margin": "margin", "padding": "padding",
    "border": "border", "overflow": "overflow", "display": "display", "visibility": "visibility",
    "flex": "flex", "flex_flow": "flex-flow", "justify_content": "justify-content",
    "align_items": "align-items", "align_content": "align-content", "align_self": "align-self",
    "grid_template_columns": "grid-template-columns", "grid_template_rows": "grid-template-rows",
    "grid_template_areas": "grid-template-areas", "grid_gap": "gap", "grid_area": "grid-area",
}
#: What a CSS value taken from a layout may contain (no quotes, no url(), no semicolons).
_SAFE_CSS = re.compile(r"^[A-Za-z0-9 .,%#()+\-/*]*$")
_BOX_MODELS = {"BoxModel", "VBoxModel", "HBoxModel", "GridBoxModel", "AccordionModel", "TabModel",
               "StackModel"}
_SLIDERS = {"IntSliderModel", "FloatSliderModel", "FloatLogSliderModel", "PlayModel"}
_RANGE_SLIDERS = {"IntRangeSliderModel", "FloatRangeSliderModel"}
_TEXTS = {"TextModel", "IntTextModel", "FloatTextModel", "BoundedIntTextModel", "BoundedFloatTextModel",
          "PasswordModel", "ComboboxModel", "ColorPickerModel", "DatePickerModel", "TimePickerModel"}
_SELECTIONS = {"DropdownModel", "SelectModel", "RadioButtonsModel", "SelectionSliderModel"}
_NO_VIEW = {"LinkModel", "DirectionalLinkModel", "LayoutModel"}
#: Views that only show something (no control a reader would expect to move).
_DISPLAYS = {"HTMLModel", "HTMLMathModel", "LabelModel", "ImageModel", "OutputModel", "IntProgressModel",
             "FloatProgressModel"}


def widget_state(nb: Any) -> dict[str, dict]:
    """``model_id -> {"model_name", "state", "buffers"}`` from an executed notebook ({} if none stored)."""
    widgets = (nb.get("metadata") or {}).get("widgets") or {}
    return dict((widgets.get(WIDGET_STATE_MIME) or {}).get("state") or {})


def _ref(value: Any) -> str | None:
    if isinstance(value, str) and value.startswith("IPY_MODEL_"):
        return value[len("IPY_MODEL_"):]
    return None


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _buffer(model: dict, name: str) -> bytes | None:
    """The binary trait ``name`` of a model (nbclient stores buffers base64-encoded beside the state)."""
    for buf in model.get("buffers") or []:
        if list(buf.get("path") or []) == [name]:
            data = buf.get("data", "")
            if buf.get("encoding", "base64") == "base64":
                return base64.b64decode(data)
            return data.encode() if isinstance(data, str) else bytes(data)
    value = (model.get("state") or {}).get(name)
    return value.encode() if isinstance(value, str) else None


class StaticRenderer:
    """Turns one notebook's widget state into HTML; ``render(model_id)`` draws a view and its children.

    ``render_output`` draws an ``Output`` widget's outputs (plain text, HTML, images); pass one
    that suits the page (the builder's default handles the common MIME types).
    """

    def __init__(self, state: dict[str, dict], render_output: Callable[[dict], str] | None = None) -> None:
        self.state = state
        self.render_output = render_output or default_output_html
        self.missing: list[str] = []
        self.controls = 0  # controls drawn so far (sliders, inputs, buttons...): a view with some gets a note

    # ------------------------------------------------------------------ helpers
    def _model(self, model_id: str) -> dict | None:
        model = self.state.get(model_id)
        if model is None:
            self.missing.append(model_id)
        return model

    def _layout_style(self, state: dict) -> str:
        layout_id = _ref(state.get("layout"))
        layout = (self.state.get(layout_id) or {}).get("state", {}) if layout_id else {}
        rules = []
        for trait, prop in _LAYOUT_CSS.items():
            value = layout.get(trait)
            if value in (None, "") or not isinstance(value, str) or not _SAFE_CSS.match(value):
                continue
            rules.append(f"{prop}: {value}")
        return "; ".join(rules)

    def _description(self, state: dict) -> str:
        text = state.get("description") or ""
        if not text:
            return ""
        body = text if state.get("description_allow_html") else _esc(text)
        style_id = _ref(state.get("style"))
        style = (self.state.get(style_id) or {}).get("state", {}) if style_id else {}
        width = style.get("description_width") or ""
        css = f' style="width: {width}"' if width and width != "initial" and _SAFE_CSS.match(width) else ""
        return f'<label class="sw-description"{css}>{body}</label>'

    def _wrap(self, kind: str, state: dict, inner: str, extra_class: str = "") -> str:
        classes = ["sw", f"sw-{kind}"] + [c for c in state.get("_dom_classes") or [] if isinstance(c, str)]
        if extra_class:
            classes.append(extra_class)
        style = self._layout_style(state)
        style_attr = f' style="{_esc(style)}"' if style else ""
        return f'<div class="{_esc(" ".join(classes))}"{style_attr}>{inner}</div>'

    # ------------------------------------------------------------------ views
    def render(self, model_id: str, depth: int = 0) -> str:
        model = self._model(model_id)
        if model is None or depth > 64:
            return f'<div class="sw sw-missing">[widget {_esc(model_id[:8])} not stored]</div>'
        name = model.get("model_name") or (model.get("state") or {}).get("_model_name", "")
        state = model.get("state") or {}
        if name in _NO_VIEW:
            return ""
        if name not in _BOX_MODELS and name not in _DISPLAYS:
            self.controls += 1
        if name in _BOX_MODELS:
            return self._box(name, state, depth)
        if name in ("HTMLModel", "HTMLMathModel"):
            return self._wrap("html", state, self._description(state) + f'<div class="sw-html-content">'
                              f'{state.get("value") or ""}</div>')
        if name == "LabelModel":
            return self._wrap("label", state, _esc(state.get("value")))
        if name in _SLIDERS:
            return self._slider(name, state)
        if name in _RANGE_SLIDERS:
            low, high = (list(state.get("value") or [0, 0]) + [0, 0])[:2]
            return self._wrap("slider", state, self._description(state)
                              + f'<output class="sw-readout">{_esc(low)} - {_esc(high)}</output>')
        if name in ("IntProgressModel", "FloatProgressModel"):
            return self._wrap("progress", state, self._description(state)
                              + f'<progress value="{_esc(state.get("value"))}" max="{_esc(state.get("max"))}">'
                              f'</progress>')
        if name in _TEXTS:
            kind = "number" if "Int" in name or "Float" in name else "text"
            return self._wrap("text", state, self._description(state)
                              + f'<input type="{kind}" value="{_esc(state.get("value"))}" disabled>')
        if name == "TextareaModel":
            rows = state.get("rows") or 4
            return self._wrap("textarea", state, self._description(state)
                              + f'<textarea rows="{_esc(rows)}" disabled>{_esc(state.get("value"))}</textarea>')
        if name in ("CheckboxModel", "ToggleButtonModel", "ValidModel"):
            checked = " checked" if state.get("value") else ""
            return self._wrap("checkbox", state, f'<label><input type="checkbox" disabled{checked}> '
                              f'{_esc(state.get("description"))}</label>')
        if name in _SELECTIONS:
            return self._selection(state)
        if name == "SelectMultipleModel":
            chosen = set(state.get("index") or [])
            opts = "".join(f'<option{" selected" if i in chosen else ""}>{_esc(o)}</option>'
                           for i, o in enumerate(state.get("_options_labels") or []))
            return self._wrap("select", state, self._description(state) + f"<select multiple disabled>{opts}</select>")
        if name == "ToggleButtonsModel":
            return self._toggle_buttons(state)
        if name == "ButtonModel":
            return self._wrap("button", state, f'<button disabled>{_esc(state.get("description"))}</button>')
        if name == "ImageModel":
            return self._image(model, state)
        if name == "OutputModel":
            outputs = "".join(self.render_output(o) for o in state.get("outputs") or [])
            return self._wrap("output", state, outputs)
        return self._wrap("unknown", state, f'<span class="sw-unknown">[{_esc(name or "widget")}]</span>')

    def _box(self, name: str, state: dict, depth: int) -> str:
        children = [_ref(c) for c in state.get("children") or []]
        parts = [self.render(c, depth + 1) for c in children if c]
        titles = state.get("titles") or []
        if name in ("AccordionModel", "TabModel", "StackModel"):
            selected = state.get("selected_index")
            sections = []
            for i, part in enumerate(parts):
                if name == "StackModel" and selected is not None and i != selected:
                    continue
                title = titles[i] if i < len(titles) and titles[i] else f"[{i}]"
                sections.append(f'<section class="sw-section"><h4>{_esc(title)}</h4>{part}</section>')
            return self._wrap("vbox", state, "".join(sections))
        kind = {"HBoxModel": "hbox", "GridBoxModel": "gridbox"}.get(name, "vbox")
        return self._wrap(kind, state, "".join(parts))

    def _slider(self, name: str, state: dict) -> str:
        value = state.get("value")
        shown = 10 ** value if name == "FloatLogSliderModel" and isinstance(value, (int, float)) else value
        readout = f'<output class="sw-readout">{_esc(shown)}</output>' if state.get("readout", True) else ""
        slider = (f'<input type="range" min="{_esc(state.get("min"))}" max="{_esc(state.get("max"))}" '
                  f'step="{_esc(state.get("step") or "any")}" value="{_esc(value)}" disabled>')
        if name == "PlayModel":
            slider = '<button disabled title="play">&#9654;</button>'
            readout = ""
        return self._wrap("slider", state, self._description(state) + slider + readout)

    def _selection(self, state: dict) -> str:
        labels = state.get("_options_labels") or []
        index = state.get("index")
        opts = "".join(f'<option{" selected" if i == index else ""}>{_esc(o)}</option>'
                       for i, o in enumerate(labels))
        return self._wrap("select", state, self._description(state) + f"<select disabled>{opts}</select>")

    def _toggle_buttons(self, state: dict) -> str:
        index = state.get("index")
        pressed = ' class="sw-selected" aria-pressed="true"'
        buttons = "".join(
            f'<button disabled{pressed if i == index else ""}>{_esc(label)}</button>'
            for i, label in enumerate(state.get("_options_labels") or []))
        return self._wrap("toggle-buttons", state, self._description(state)
                          + f'<span class="sw-buttons">{buttons}</span>')

    def _image(self, model: dict, state: dict) -> str:
        data = _buffer(model, "value") or b""
        fmt = (state.get("format") or "png").lower()
        if fmt == "url":  # a remote picture would be fetched at view time: show its address instead
            url = data.decode(errors="replace")
            return self._wrap("image", state, f'<span class="sw-image-url">[image: {_esc(url)}]</span>')
        if not data:
            return self._wrap("image", state, '<span class="sw-image-empty">[empty image]</span>')
        mime = "image/svg+xml" if fmt in ("svg", "svg+xml") else f"image/{fmt}"
        size = "".join(f' {attr}="{_esc(state[attr])}"' for attr in ("width", "height") if state.get(attr))
        encoded = base64.b64encode(data).decode()
        return self._wrap("image", state, f'<img src="data:{mime};base64,{encoded}" alt="widget image"{size}>')


def default_output_html(output: dict) -> str:
    """A plain rendering of one nbformat output (for ``Output`` widgets)."""
    kind = output.get("output_type")
    if kind == "stream":
        return f'<pre class="sw-stream">{_esc(output.get("text"))}</pre>'
    if kind == "error":
        text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", "\n".join(output.get("traceback") or []))
        return f'<pre class="sw-error">{_esc(text)}</pre>'
    data = output.get("data") or {}
    if "text/html" in data:
        return _join(data["text/html"])
    if "image/svg+xml" in data:
        return _join(data["image/svg+xml"])
    for mime in ("image/png", "image/jpeg", "image/gif"):
        if mime in data:
            return f'<img src="data:{mime};base64,{_join(data[mime]).strip()}" alt="output">'
    if "text/plain" in data:
        return f'<pre>{_esc(_join(data["text/plain"]))}</pre>'
    return ""


def _join(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def staticize(nb: Any, note: str = "") -> dict[str, int]:
    """Replace every widget view output of ``nb`` by static HTML (in place); drop the stored state.

    Each view becomes a ``text/html`` output wrapped in ``<div class="cnnkit-static-widget">``
    (with ``note`` above it when the view has controls, e.g. an explorer, not a progress bar);
    the ``text/plain`` fallback is kept. Returns counts:
    ``{"views": n, "missing": m}`` where ``missing`` counts views whose model was not stored
    (they show the widget's text repr).
    """
    state = widget_state(nb)
    renderer = StaticRenderer(state)
    views = missing = 0
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            data = output.get("data") or {}
            view = data.get(WIDGET_VIEW_MIME)
            if not view:
                continue
            views += 1
            model_id = view.get("model_id", "")
            controls_before = renderer.controls
            if model_id in state:
                body = renderer.render(model_id)
            else:
                missing += 1
                body = f'<pre class="sw-missing">{_esc(_join(data.get("text/plain")))}</pre>'
            has_controls = renderer.controls > controls_before
            note_html = f'<div class="cnnkit-static-note">{note}</div>' if note and has_controls else ""
            data["text/html"] = f'<div class="cnnkit-static-widget">{note_html}{body}</div>'
            del data[WIDGET_VIEW_MIME]
    if "widgets" in nb.get("metadata", {}):
        del nb["metadata"]["widgets"]
    return {"views": views, "missing": missing}
