"""For the kit's authors: the benchmark (`bench.py`), the README's pictures
(`pictures.py`) and the bank of variants (`bank.py`)."""
