"""The kit's hidden graders (one folder per exercise) and the grading engine (engine/)."""
