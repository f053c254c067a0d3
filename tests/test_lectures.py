"""The lecture notebooks: each runs top to bottom, and each follows the course's layout rules.

Parametrised over every ``lectures/*.ipynb`` found, so a new lecture is checked the day it lands.
Lectures are named ``NN_topic.ipynb`` or, for a companion placed between two lectures, ``NNb_topic.ipynb``
(``03b_explorers.ipynb`` comes after ``03_pooling.ipynb``): sorting by name gives the teaching order.
Structural checks (fast) read the notebook JSON only; execution (slow) runs it with
``tests/nbrun.py`` at the "small" size, 300 s per cell at most. The lectures ``assert`` what their text states, so
running them also checks every stated result.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

from nbrun import run_notebook

LECTURES_DIR = Path(__file__).resolve().parents[1] / "lectures"
LECTURES = sorted(LECTURES_DIR.glob("[0-9][0-9]*_*.ipynb"))
CELL_TIMEOUT_S = 300

#: The longest lambda (in characters of source) still counted as "tiny" rather than a helper.
MAX_LAMBDA_CHARS = 80

#: What a seed-setting first cell may call.
SEED_CALL = re.compile(r"(default_rng\s*\(\s*\d|np\.random\.seed\s*\(|manual_seed\s*\(|set_seed\s*\(|random\.seed\s*\()")

#: Per lecture, calls that the syllabus topics it covers require (issue 7: the explorers appear where the
#: lecture discusses stride, padding, pooling and receptive fields; numbers come from the kit).
REQUIRED_CALLS = {
    "03b_explorers.ipynb": ["conv_explorer", "receptive_field_explorer", "pooling_explorer", "filter_explorer"],
    "01_motivations.ipynb": ["arith.receptive_field", "receptive_field_explorer", "sample_image", "correlate2d"],
    "02_convolutional_layer.ipynb": [
        "lecture_box_example", "correlate2d", "convolve2d", "sample_image", "conv_output_size",
        "conv_explorer", "show_filters", "fit(", "relu",
    ],
    "03_pooling.ipynb": [
        "max_pool2d", "avg_pool2d", "lp_pool2d", "feature_pool", "arith.receptive_field",
        "pooling_explorer", "receptive_field_explorer",
    ],
    "04_normalization_and_the_full_system.ipynb": [
        "local_contrast_norm", "LocalContrastNorm", "sample_image", "KMeans",
    ],
    "05_lenet_and_reading_architectures.ipynb": [
        '"lenet5"', 'variant="classic"', "train.fit(", "summary.summary", "conv_output_size", "conv_macs",
        "receptive_field_explorer", "correlate2d",
    ],
    "06_design_space_vgg_googlenet_resnet.ipynb": [
        '"vgg16"', '"googlenet"', "INCEPTION_TABLE", '"resnet34"', 'device="meta"', "models.names()",
        "receptive_field_explorer",
    ],
    "07_depth_gradients_and_residuals.ipynb": [
        "layer_gradient_norms", "train.fit(", '"plain"', '"resnet"', 'data.load("cifar10")',
    ],
    "08_visualization_and_applications.ipynb": [
        "viz.hinton", "viz.show_filters", "viz.feature_maps", "viz.plot_occlusion", "viz.occlusion_sensitivity",
        "viz.top_activating_patches",
    ],
}

ids = [p.name for p in LECTURES]


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _code_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def _python_source(cell_source: str) -> str:
    """The cell's source with IPython-only lines (magics, shell escapes) blanked so ``ast`` can parse it."""
    lines = cell_source.splitlines()
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines)


def _headings(markdown: str) -> list[str]:
    return [m.group(1).strip().lower() for m in re.finditer(r"^#+\s*(.+)$", markdown, flags=re.MULTILINE)]


#: A worked answer the student can unfold: ``<details><summary>Answer</summary> ... </details>``.
ANSWER = re.compile(r"<details>\s*<summary>\s*Answer\s*</summary>.*?</details>", flags=re.DOTALL | re.IGNORECASE)
#: One exercise: a list item ("1. ...", "- ...") at the start of a line.
EXERCISE = re.compile(r"^[ \t]*(?:\d+\.|[-*])[ \t]+\S", flags=re.MULTILINE)


def _exercises_text(nb) -> str:
    """The markdown after the last code cell, from the 'Exercises' heading on (answers included)."""
    last_code = max(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    tail = "\n".join(c.source for c in nb.cells[last_code + 1:] if c.cell_type == "markdown")
    match = re.search(r"^#+\s*exercises\s*$", tail, flags=re.MULTILINE | re.IGNORECASE)
    return tail[match.end():] if match else ""


def test_lectures_exist():
    assert LECTURES, f"no lecture notebooks found in {LECTURES_DIR}"


@pytest.mark.parametrize("path", LECTURES, ids=ids)
def test_named_by_number_and_topic(path: Path):
    assert re.fullmatch(r"\d\d[a-z]?_[a-z0-9]+(_[a-z0-9]+)*\.ipynb", path.name), path.name


@pytest.mark.parametrize("path", LECTURES, ids=ids)
def test_valid_and_committed_without_outputs(path: Path):
    nb = _read(path)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs or execution counts; clear them before committing"


@pytest.mark.parametrize("path", LECTURES, ids=ids)
def test_starts_with_learning_goals(path: Path):
    nb = _read(path)
    first = nb.cells[0]
    assert first.cell_type == "markdown", f"{path.name}: the first cell must be markdown (title + learning goals)"
    assert any(h.startswith("learning goals") for h in _headings(first.source)), (
        f"{path.name}: the first cell needs a 'Learning goals' heading; it has {_headings(first.source)}")


@pytest.mark.parametrize("path", LECTURES, ids=ids)
def test_first_code_cell_imports_cnnkit_sets_seed_and_size(path: Path):
    # (the Colab install cell that tools/colab_cells.py puts before it is not the lecture's own)
    code = [c for c in _code_cells(_read(path)) if "colab" not in c.metadata.get("cnnkit", {})]
    assert code, f"{path.name}: has no code cell"
    first = code[0].source
    tree = ast.parse(_python_source(first))
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "cnnkit" in imported, f"{path.name}: the first code cell must import cnnkit"
    assert SEED_CALL.search(first), f"{path.name}: the first code cell must set a random seed"
    assert re.search(r"^SIZE\s*=\s*.*run_size\(\)", first, flags=re.MULTILINE), (
        f"{path.name}: the first code cell must set SIZE = cnnkit.config.run_size()")


@pytest.mark.parametrize("path", LECTURES, ids=ids)
def test_ends_with_summary_and_exercises(path: Path):
    nb = _read(path)
    last_code = max(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    tail = [c for c in nb.cells[last_code + 1:] if c.cell_type == "markdown"]
    heads = [h for c in tail for h in _headings(c.source)]
    assert "summary" in heads and "exercises" in heads and heads.index("summary") < heads.index("exercises"), (
        f"{path.name}: after the last code cell expected a 'Summary' then an 'Exercises' heading, found {heads}")
    items = EXERCISE.findall(ANSWER.sub("", _exercises_text(nb)))
    assert 2 <= len(items) <= 4, f"{path.name}: expected 2-4 exercises as a list, found {len(items)}"


@pytest.mark.parametrize("path", LECTURES, ids=ids)
def test_every_exercise_has_a_worked_answer(path: Path):
    """Each exercise is followed by its answer, folded: exercise, answer, exercise, answer ..."""
    text = _exercises_text(_read(path))
    answers = list(ANSWER.finditer(text))
    order = sorted([(m.start(), "answer") for m in answers]
                   + [(m.start(), "exercise") for m in EXERCISE.finditer(ANSWER.sub(lambda m: " " * len(m.group()), text))])
    kinds = [kind for _, kind in order]
    assert kinds and kinds == ["exercise", "answer"] * (len(kinds) // 2), (
        f"{path.name}: every exercise needs a <details><summary>Answer</summary> ... </details> right after it; "
        f"found the sequence {kinds}")
    empty = [i + 1 for i, m in enumerate(answers) if len(re.sub(r"<[^>]+>|\s", "", m.group())) < 40]
    assert not empty, f"{path.name}: answers {empty} are (nearly) empty"


@pytest.mark.parametrize("path", LECTURES, ids=ids)
def test_asserts_carry_a_message(path: Path):
    """A lecture asserts what its text states; a failing claim must say which claim it is."""
    bare = []
    for index, cell in enumerate(_code_cells(_read(path))):
        for node in ast.walk(ast.parse(_python_source(cell.source))):
            if isinstance(node, ast.Assert) and node.msg is None:
                bare.append((index, node.lineno))
    assert not bare, f"{path.name}: asserts without a message at (code cell, line) {bare}"


def test_lectures_that_state_results_assert_them():
    """Every lecture that computes results checks them with asserts (the explorers-only notebook too, once)."""
    unchecked = [p.name for p in LECTURES
                 if not any(isinstance(node, ast.Assert) for c in _code_cells(_read(p))
                            for node in ast.walk(ast.parse(_python_source(c.source))))]
    assert not unchecked, f"lectures without a single assert on their stated results: {unchecked}"


@pytest.mark.parametrize("path", LECTURES, ids=ids)
def test_references_to_other_lectures_exist(path: Path):
    """'notebook 03b', '03b_explorers.ipynb' and the like must name a lecture that exists."""
    numbers = {p.name.split("_", 1)[0] for p in LECTURES}
    names = {p.name for p in LECTURES}
    text = "\n".join(c.source for c in _read(path).cells if c.cell_type == "markdown")
    bad = sorted({m.group(1) for m in re.finditer(r"\bnotebooks?\s+(\d\d[a-z]?)\b", text) if m.group(1) not in numbers}
                 | {m.group(0) for m in re.finditer(r"\b\d\d[a-z]?_[a-z0-9_]+\.ipynb\b", text) if m.group(0) not in names})
    assert not bad, f"{path.name}: refers to lectures that do not exist: {bad}"


@pytest.mark.parametrize("path", LECTURES, ids=ids)
def test_no_helper_definitions(path: Path):
    """Helpers belong in the package: no def/class in a lecture, only tiny lambdas."""
    for index, cell in enumerate(_read(path).cells):
        if cell.cell_type != "code":
            continue
        source = _python_source(cell.source)
        tree = ast.parse(source)
        for node in ast.walk(tree):
            assert not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)), (
                f"{path.name} cell {index}: defines {node.name!r}; move it into the cnnkit package")
            if isinstance(node, ast.Lambda):
                text = ast.get_source_segment(source, node) or ""
                assert len(text) <= MAX_LAMBDA_CHARS, (
                    f"{path.name} cell {index}: a {len(text)}-character lambda is a helper; move it into cnnkit")


@pytest.mark.parametrize("path", [p for p in LECTURES if p.name in REQUIRED_CALLS],
                         ids=[p.name for p in LECTURES if p.name in REQUIRED_CALLS])
def test_uses_the_kit_for_its_topics(path: Path):
    code = "\n".join(c.source for c in _code_cells(_read(path)))
    missing = [name for name in REQUIRED_CALLS[path.name] if name not in code]
    assert not missing, f"{path.name}: the syllabus topics need {missing} from cnnkit"


def test_readme_course_map_lists_every_lecture():
    readme = (LECTURES_DIR.parent / "README.md").read_text()
    section = readme.split("## Course map", 1)[1].split("\n## ", 1)[0]
    missing = [p.name for p in LECTURES if p.name not in section]
    assert not missing, f"README course map does not list {missing}"


def test_lecture_02_exercise_1_answer_names_the_pixels_behind_the_10s():
    """Of the 10s in the box table's last two rows, all come from the isolated pixel I[8, 2] but h[6, 7]: the corner."""
    import numpy as np

    from cnnkit import ops
    from cnnkit.ops import filters

    image = filters.lecture_box_example()
    table = np.round(ops.correlate2d(image, filters.box(3)))
    sources = {(m, n): [(r, c) for r in range(m, m + 3) for c in range(n, n + 3) if image[r, c]]
               for m in (6, 7) for n in range(table.shape[1]) if table[m, n] == 10}
    assert sources == {(6, 0): [(8, 2)], (6, 7): [(6, 7)], (7, 0): [(8, 2)], (7, 1): [(8, 2)], (7, 2): [(8, 2)]}
    answer = _exercises_text(_read(LECTURES_DIR / "02_convolutional_layer.ipynb"))
    assert "`I[6, 7] = 90`" in answer and "`h[7, 0]`, `h[7, 1]` and `h[7, 2]`" in answer


@pytest.mark.slow
@pytest.mark.parametrize("path", LECTURES, ids=ids)
def test_executes_top_to_bottom(path: Path):
    nb = run_notebook(path, timeout=CELL_TIMEOUT_S, cwd=path.parent,
                      env={"CNNKIT_SIZE": "small", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"})
    errors = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
              and any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert not errors, f"{path.name}: cells {errors} raised"
    assert all(c.get("execution_count") for c in _code_cells(nb)), f"{path.name}: some cells did not run"
