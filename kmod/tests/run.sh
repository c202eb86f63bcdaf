#!/bin/sh
# Runs the ummunotify C tests built by `make -C kmod/tests OUT=<dir>`.
# Meant for the test VM (root, /dev/ummunotify present), e.g.
#   npm run vm -- 'make -C kmod/tests OUT=build/kmod-tests && kmod/tests/run.sh build/kmod-tests'
#
#   kmod/tests/run.sh <OUT dir>
#
# Prints each binary's TAP-like output, then one line "N passed, M failed"
# (test cases; a binary that dies without reporting counts as one failure),
# and exits non-zero on any failure.
#
# Environment:
#   UMMUNOTIFY_KO      guest path of ummunotify.ko: t_fuzz unloads the module
#                      after fuzzing, checks slab usage, and loads it again
#                      from there (set by the VM harness; unset: skipped)
#   UMN_FUZZ_CALLS     fuzzer ioctls (default 1000000)
#   UMN_STORM_REGS     storm registrations (default 50000)
#   UMN_STORM_THREADS, UMN_STORM_OPS, UMN_LIMIT, UMN_LIMIT_TRIES, TF_TIMEOUT,
#   TF_ONLY            see the test sources
#   KMOD_TESTS         space-separated binaries to run (default: all, fuzz last)
set -u
out=${1:?usage: run.sh <OUT dir>}
tests=${KMOD_TESTS:-"t_abi t_paths t_owner t_storm t_limit t_fuzz"}
pass=0
fail=0
for t in $tests; do
  bin="$out/$t"
  echo "# $t"
  if [ ! -x "$bin" ]; then
    echo "not ok - $t (missing: $bin)"
    fail=$((fail + 1))
    continue
  fi
  log=$(mktemp)
  "$bin" >"$log" 2>&1
  rc=$?
  cat "$log"
  p=$(grep -c '^ok ' "$log")
  f=$(grep -c '^not ok ' "$log")
  rm -f "$log"
  pass=$((pass + p))
  fail=$((fail + f))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "not ok - $t exited with status $rc"
    fail=$((fail + 1))
  fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
