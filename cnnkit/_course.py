"""Where this course lives: the one place a course that forks the kit changes.

``tools/colab_cells.py`` writes the "Open in Colab" badge and the install cell of the torch notebooks
from these values (run it again after changing them).
"""
from __future__ import annotations

#: The course's public Git repository (a fork sets its own). Colab opens notebooks from it and the
#: notebooks' first cell installs the kit from it.
COURSE_REPOSITORY = "https://github.com/cnnkit/cnnkit"
#: The branch Colab opens and installs from.
COURSE_BRANCH = "main"
#: The notebooks that need PyTorch (and a GPU at the full size): each gets the Colab badge and the
#: install cell. Glob patterns relative to the course folder; each matches exactly one notebook.
#: An assignment's source (solutions/) carries them into its release (assignments/).
COLAB_NOTEBOOKS = (
    "lectures/05_*.ipynb",
    "lectures/05b_*.ipynb",
    "lectures/06_*.ipynb",
    "lectures/07_*.ipynb",
    "lectures/08_*.ipynb",
    "solutions/a4_*/a4_*.ipynb",
)
