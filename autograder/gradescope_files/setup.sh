#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu 22.04):
# Python 3.11 and the kit's pinned requirements in a venv, and nothing else.
set -euo pipefail
ROOT="${DLKIT_GRADESCOPE_ROOT:-/autograder}"
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3.11 python3.11-venv
python3.11 -m venv "$ROOT/venv"
"$ROOT/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$ROOT/source/requirements.txt"
