"""The instructor's side of the course kit: kept in the repository, never in the students' package."""
