#!/usr/bin/env node
// npm test: the host group, then the VM group once per guest kernel (one boot
// each: the module's C tests and the vitest vm project), then the two-host
// group (one boot of a pair of guests: the vitest hosts project). Ends with one
// line "N passed, M failed" summing every test that ran.
//
//   RDMA_REGCACHE_KERNELS="6.1 6.12"   guest kernels to test (default both)
//   RDMA_REGCACHE_HOSTS_TIMEOUT=2700   time limit of the two-host group (s)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const RESULTS = 'build/test-results';
rmSync(RESULTS, { recursive: true, force: true });
mkdirSync(RESULTS, { recursive: true });

const kernels = (process.env.RDMA_REGCACHE_KERNELS ?? '6.1 6.12').split(/\s+/).filter(Boolean);
const totals = { passed: 0, failed: 0 };
const groups = [];

function vitestCounts(file) {
  if (!existsSync(file)) return undefined;
  const r = JSON.parse(readFileSync(file, 'utf8'));
  return { passed: r.numPassedTests, failed: r.numFailedTests };
}

// "N passed, M failed" lines printed by the module's C test runner.
function cCounts(output) {
  const m = [...output.matchAll(/^(\d+) passed, (\d+) failed/gm)].at(-1);
  return m ? { passed: Number(m[1]), failed: Number(m[2]) } : undefined;
}

function run(name, cmd, args, countsOf) {
  console.log(`\n### ${name}`);
  const started = Date.now();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 1 << 30 });
  process.stdout.write(r.stdout ?? '');
  const counts = countsOf(r.stdout ?? '');
  const ok = r.status === 0;
  groups.push({ name, ok, status: r.status, seconds: (Date.now() - started) / 1000, counts });
  for (const c of counts) {
    totals.passed += c.passed;
    totals.failed += c.failed;
  }
  // A group that failed without any test reporting a failure (crash, boot
  // failure, kernel warning) still counts as one failure.
  if (!ok && counts.every((c) => c.failed === 0)) totals.failed += 1;
}

run('host: vitest unit', 'npx', ['vitest', 'run', '--project', 'unit', '--reporter=default', '--reporter=json', `--outputFile.json=${RESULTS}/unit.json`],
  () => [vitestCounts(`${RESULTS}/unit.json`) ?? { passed: 0, failed: 0 }]);

for (const k of kernels) {
  const json = `${RESULTS}/vm-${k}.json`;
  run(`VM ${k}: module C tests + vitest vm`, 'node',
    // The module's fuzzer (a million ioctls) and storm dominate; under emulation
    // one group takes 10-20 minutes, so its limit is well above that.
    ['scripts/vm/run.mjs', '--kernel', k, '--timeout', process.env.RDMA_REGCACHE_VM_TIMEOUT ?? '2400', `test/vm/guest-tests.sh --reporter=default --reporter=json --outputFile.json=${json}`],
    (out) => [cCounts(out), vitestCounts(json)].filter(Boolean));
}

// Two hosts: node1 and node2 on a wire, one boot of the pair (6.1, or the
// first kernel asked for) with a Slurm cluster on them (--slurm: 8-15 s more
// than a plain boot, so no second boot); the vitest hosts project runs on
// node1 (mpirun and srun across both guests, RDMA over the wire).
{
  const k = kernels.includes('6.1') ? '6.1' : kernels[0] ?? '6.1';
  const json = `${RESULTS}/hosts-${k}.json`;
  run(`two hosts (${k}, Slurm): vitest hosts`, 'node',
    ['scripts/vm/run.mjs', '--hosts', '2', '--slurm', '--kernel', k, '--timeout', process.env.RDMA_REGCACHE_HOSTS_TIMEOUT ?? '2700',
      `npx vitest run --project hosts --reporter=default --reporter=json --outputFile.json=${json}`],
    () => [vitestCounts(json)].filter(Boolean));
}

// The main job, as users start it, in its short mode: zero mismatches or it fails.
run('npm start -- --quick (buffer-reuse demo in the VM)', 'npm', ['start', '-s', '--', '--quick', '--out', `${RESULTS}/demo`],
  (out) => {
    const m = out.match(/verified (\d+) writes byte for byte: (\d+) mismatches/);
    // One test: the demo verified every write and found no mismatch.
    return m ? [{ passed: m[2] === '0' ? 1 : 0, failed: m[2] === '0' ? 0 : 1 }] : [];
  });

// The benchmark suite in its short mode, so it does not rot: every benchmark
// runs and produces numbers (their values are not judged here). One test.
run('npm run bench -- --quick (every benchmark produces numbers)', 'npm', ['run', 'bench', '-s', '--', '--quick', '--out', `${RESULTS}/bench`],
  (out) => {
    const ok = /^bench: all \d+ benchmark groups produced numbers$/m.test(out);
    return [{ passed: ok ? 1 : 0, failed: ok ? 0 : 1 }];
  });

console.log('\n### summary');
for (const g of groups) {
  const c = g.counts.reduce((a, b) => ({ passed: a.passed + b.passed, failed: a.failed + b.failed }), { passed: 0, failed: 0 });
  console.log(`${g.ok ? 'ok  ' : 'FAIL'} ${g.name}: ${c.passed} passed, ${c.failed} failed, ${g.seconds.toFixed(0)} s${g.ok ? '' : ` (exit ${g.status})`}`);
}
console.log(`${totals.passed} passed, ${totals.failed} failed`);
process.exit(groups.every((g) => g.ok) ? 0 : 1);
