"""nbgrader notebooks as the tests handle them: cell metadata, the solution markers, a solved release."""
from __future__ import annotations

import nbformat

#: The lines nbgrader's source notebooks mark solutions and hidden tests with.
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


def nbg(cell) -> dict:
    """A cell's nbgrader metadata ({} for a cell nbgrader does not know); cells as nbformat nodes or dicts."""
    return cell.get("metadata", {}).get("nbgrader", {})


def strip_markers(source: str) -> str:
    """The solution as a student would type it: the code between the markers, markers removed."""
    return "\n".join(line for line in source.splitlines() if line.strip() not in SOLUTION_MARKERS)


def regions(source: str, begin: str, end: str) -> list[str]:
    """Lines inside ``begin`` ... ``end`` regions of a cell."""
    inside, lines = False, []
    for line in source.splitlines():
        if line.strip() == begin:
            inside = True
        elif line.strip() == end:
            inside = False
        elif inside:
            lines.append(line)
    return lines


def solved(source_nb, release_nb):
    """The release with every solution cell (code and free text) filled in from the source."""
    answers = {nbg(c)["grade_id"]: c.source for c in source_nb.cells if nbg(c).get("solution")}
    nb = nbformat.from_dict(release_nb)
    for cell in nb.cells:
        if nbg(cell).get("solution"):
            cell.source = strip_markers(answers[nbg(cell)["grade_id"]])
    return nb
