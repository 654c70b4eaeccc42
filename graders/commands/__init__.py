"""The student's and instructor's commands, one module each; graders/cli.py dispatches."""
