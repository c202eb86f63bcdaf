#!/bin/bash
# Runs inside the test VM (one boot per kernel): the module's C tests, then the
# vitest vm group. Exit status: non-zero if either failed. The C tests always
# run: if their build is missing (set-up did not run) that is a failure.
cd "$(dirname "$0")/../.."
status=0
echo "== kmod C tests ($(uname -r))"
if [ -d build/kmod-tests ]; then
  kmod/tests/run.sh build/kmod-tests || status=1
else
  echo "not ok - kmod C tests: build/kmod-tests is missing (run: bash scripts/setup.sh)"
  echo "0 passed, 1 failed"
  status=1
fi
echo "== vitest vm group ($(uname -r))"
npx vitest run --project vm "$@" || status=1
exit $status
