"""Feedback for students without the hidden tests.

nbgrader's ``generate_feedback`` renders the autograded notebook, hidden tests included:
their source, and any traceback that quotes them. Here the feedback goes through one more
preprocessor that (1) removes every ``BEGIN HIDDEN TESTS`` ... ``END HIDDEN TESTS`` block from
the cell source and (2) replaces any output of that cell which quotes a hidden line with a
short note. The autograded notebooks (the instructor's copy) are left untouched.
"""
from __future__ import annotations

import re

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbformat.notebooknode import NotebookNode
from nbgrader.converters import GenerateFeedback
from nbgrader.preprocessors import GetGrades, NbGraderPreprocessor
from traitlets import List, Unicode

from .findings import split_hidden

WITHHELD = "(hidden test: details withheld from feedback)"


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _output_text(output) -> str:
    parts = [str(output.get("text", "")), str(output.get("evalue", "")), "\n".join(output.get("traceback", []))]
    for value in output.get("data", {}).values():
        parts.append(value if isinstance(value, str) else "\n".join(map(str, value)))
    return _ANSI.sub("", "\n".join(parts))


def quotes_hidden(output, hidden_lines: list[str]) -> bool:
    """True when an output shows a hidden line (a traceback quoting it) or a hidden assertion's message."""
    text = _output_text(output)
    needles = [line.strip() for line in hidden_lines if line.strip()]
    if any(needle in text for needle in needles):
        return True
    evalue = _ANSI.sub("", str(output.get("evalue", ""))).strip()
    return bool(evalue) and any(evalue in needle for needle in needles)


def _redacted(output, hidden_lines: list[str]):
    """An output safe to show: errors keep their type (and message, if not hidden), lose the traceback."""
    if output.get("output_type") != "error":
        return NotebookNode(output_type="stream", name="stdout", text=WITHHELD + "\n")
    ename = output.get("ename", "Error")
    evalue = _ANSI.sub("", str(output.get("evalue", ""))).strip()
    needles = [line.strip() for line in hidden_lines if line.strip()]
    if not evalue or any(evalue in needle or needle in evalue for needle in needles):
        evalue = WITHHELD
    return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                        traceback=[f"{ename}: {evalue}", "(traceback withheld: it quotes hidden tests)"])


class StripHiddenTests(NbGraderPreprocessor):
    """Remove hidden-test blocks from sources and redact the outputs that quote them."""

    begin_test_delimeter = Unicode("BEGIN HIDDEN TESTS").tag(config=True)
    end_test_delimeter = Unicode("END HIDDEN TESTS").tag(config=True)

    def preprocess_cell(self, cell: NotebookNode, resources, index: int):
        visible, hidden = split_hidden(cell.source, self.begin_test_delimeter, self.end_test_delimeter)
        if not hidden:
            return cell, resources
        cell.source = visible
        if "outputs" in cell:
            cell.outputs = [_redacted(out, hidden) if quotes_hidden(out, hidden) else out for out in cell.outputs]
        return cell, resources


class SafeGenerateFeedback(GenerateFeedback):
    """nbgrader's GenerateFeedback with :class:`StripHiddenTests` run before the grades are read."""

    # Not configurable on purpose: a course config must not be able to drop the stripping step.
    preprocessors = List([StripHiddenTests, GetGrades, CSSHTMLHeaderPreprocessor])
