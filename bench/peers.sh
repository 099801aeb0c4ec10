#!/usr/bin/env bash
# `make bench-peers`: installs the peer tools `make bench` compares with, if missing.
# Checkov (pinned) into a virtualenv in target/bench/venv, from PyPI.
set -euo pipefail
CHECKOV_VERSION=3.3.30
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/target/bench/venv"
if [ -x "$VENV/bin/checkov" ] && "$VENV/bin/checkov" --version 2>/dev/null | grep -qx "$CHECKOV_VERSION"; then
  echo "bench-peers: checkov $CHECKOV_VERSION already installed"
  exit 0
fi
mkdir -p "$ROOT/target/bench"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet "checkov==$CHECKOV_VERSION"
echo "bench-peers: installed checkov $("$VENV/bin/checkov" --version)"
