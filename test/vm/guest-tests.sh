#!/bin/bash
# Runs inside the test VM (one boot per kernel): the module's C tests, then the
# vitest vm group. Exit status: non-zero if either failed.
cd "$(dirname "$0")/../.."
status=0
if [ -x kmod/tests/run.sh ] && [ -d build/kmod-tests ]; then
  echo "== kmod C tests ($(uname -r))"
  kmod/tests/run.sh build/kmod-tests || status=1
fi
echo "== vitest vm group ($(uname -r))"
npx vitest run --project vm "$@" || status=1
exit $status
