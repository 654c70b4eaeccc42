"""Bad input from the person at the keyboard: the commands raise UsageError, and
main.py prints it and exits with code 2, having started nothing."""


class UsageError(Exception):
    """Bad input from the person at the keyboard: exit code 2."""
