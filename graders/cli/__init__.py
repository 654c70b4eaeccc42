"""The command line, `python -m graders COMMAND`: one module per command
(`grade.py` is `grade`, ...), dispatched by `main.py`; `state.py` keeps a
student's progress between commands."""
