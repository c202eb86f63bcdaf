#!/bin/sh
# Runs the ummunotify C tests built by `make -C kmod/tests OUT=<dir>`.
# Meant for the test VM (root, /dev/ummunotify present), e.g.
#   npm run vm -- 'make -C kmod/tests OUT=build/kmod-tests && kmod/tests/run.sh build/kmod-tests'
#
#   kmod/tests/run.sh <OUT dir>
#
# Prints each binary's TAP output, then one line "N passed, M failed, K skipped"
# (test cases; a binary that dies without reporting counts as one failure),
# and exits non-zero on any failure.
#
# A skip counts as a failure unless the case says why it cannot apply here:
# "# SKIP not applicable: ..." (e.g. UFFDIO_MOVE on a kernel before 6.8) or
# "# SKIP not selected" (TF_ONLY chose another case). Anything else a case
# needs (the device, root, huge pages, two NUMA nodes) must be there.
#
# Environment:
#   UMMUNOTIFY_KO      guest path of ummunotify.ko: t_fuzz unloads the module
#                      after fuzzing, checks slab usage, and loads it again
#                      from there (set by the VM harness; unset: t_fuzz fails)
#   UMN_FUZZ_CALLS     fuzzer ioctls (default 1000000)
#   UMN_STORM_REGS     storm registrations (default 50000)
#   UMN_STORM_THREADS, UMN_STORM_OPS, UMN_LIMIT, UMN_LIMIT_TRIES, TF_TIMEOUT,
#   TF_ONLY            see the test sources
#   KMOD_TESTS         space-separated binaries to run (default: all, fuzz last)
set -u
out=${1:?usage: run.sh <OUT dir>}
tests=${KMOD_TESTS:-"t_abi t_paths t_matrix t_owner t_storm t_limit t_user t_fuzz"}
pass=0
fail=0
skip=0
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
  s_ok=$(grep -c -E '^ok .*# SKIP (not applicable|not selected)' "$log")
  s_bad=$(grep '^ok .*# SKIP' "$log" | grep -c -v -E '# SKIP (not applicable|not selected)')
  p=$(grep '^ok ' "$log" | grep -c -v '# SKIP')
  f=$(grep -c '^not ok ' "$log")
  rm -f "$log"
  if [ "$s_bad" -gt 0 ]; then
    echo "not ok - $t: $s_bad case(s) skipped without being inapplicable here"
  fi
  pass=$((pass + p))
  skip=$((skip + s_ok))
  fail=$((fail + f + s_bad))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "not ok - $t exited with status $rc"
    fail=$((fail + 1))
  fi
done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
