"""nbgrader configuration for the cnnkit course.

solutions/NAME/ is the instructor's source (solutions and hidden tests);
`nbgrader generate_assignment NAME` writes the student release to assignments/NAME/.
"""
c = get_config()  # noqa: F821  (provided by nbgrader when it reads this file)

c.CourseDirectory.root = "."
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
c.CourseDirectory.course_id = "cnnkit"

# Per-cell time limit while autograding (nbgrader 0.9 reads Execute.timeout).
c.Execute.timeout = 300
# A student who deleted a test cell still gets it back, so the cell is graded.
c.OverwriteCells.add_missing_cells = True
# Released notebooks are cleared of outputs.
c.ClearOutput.enabled = True
