"""For instructors: grading a class into a gradebook (`batch.py`), joining the
gradebooks of shards (`merging.py`), the handout and autograder bundles
(`bundle.py`), and the published results formats (`formats.py`)."""
