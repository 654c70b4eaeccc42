#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image.
# It installs Python 3.11 or newer and the kit's grading dependencies into
# /autograder/venv. The kit itself is in /autograder/source.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends python3 python3-venv python3-pip ca-certificates
PY=""
for candidate in python3.14 python3.13 python3.12 python3.11; do
    if command -v "$candidate" >/dev/null; then PY="$candidate"; break; fi
done
if [ -z "$PY" ]; then
    apt-get install -y --no-install-recommends python3.11 python3.11-venv
    PY=python3.11
fi
"$PY" -m venv /autograder/venv
# The pinned grading dependencies, checked against their hashes: the same versions all term.
/autograder/venv/bin/pip install --no-cache-dir --require-hashes --no-deps -r /autograder/source/requirements.lock
