#!/usr/bin/env bash
# Builds a preset and runs its whole test suite (default: release).
# Usage: tools/run-tests.sh [preset] [extra ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"
shift || true
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
ctest --preset "$preset" --timeout 300 "$@"
