/**
 * npm run bench [-- --quick] [--reps N] [--out DIR] [--kernels "6.1 6.12"] [--no-vm] [--no-host] [--no-hosts]
 * tsx bench/run.ts --from bench/results/<date>.json   (only redraw the report and charts)
 *
 * The whole suite: host micro-benchmarks, then one test-VM boot on 6.1 (WRITE
 * beside perftest: bandwidth, small-message rate, the two-process ping-pong
 * against ib_write_lat, perftest's clock against the wall clock; registration
 * and invalidation cost, buffer reuse, the kernel benchmark) and one on each other kernel (the kernel benchmark), then
 * one boot of two guests joined by a wire (bench/hosts: WRITE across hosts
 * beside perftest, the same figures, the ring allreduce beside Open MPI's MPI_Allreduce;
 * --no-hosts leaves it out, --no-vm too).
 * Writes <out>/<date>.json, <out>/<date>.md and the charts beside them
 * (default out: bench/results; build/bench-quick with --quick, so a CI run
 * never overwrites a committed report).
 *
 * Exit status 0 when every benchmark produced numbers (targets met or not);
 * the last line says so: "bench: all N benchmarks produced numbers".
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { hostMicro } from './host/micro.js';
import { machine } from './lib/machine.js';
import { reportCharts } from './lib/report-charts.js';
import { report } from './lib/report.js';
import { describeRetry } from './lib/retries.js';
import type { BenchResults, HostsResult, VmResult } from './lib/results.js';
import { targets } from './lib/targets.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    reps: { type: 'string' },
    out: { type: 'string' },
    kernels: { type: 'string', default: process.env.RDMA_REGCACHE_KERNELS ?? '6.1 6.12' },
    'no-vm': { type: 'boolean', default: false },
    'no-host': { type: 'boolean', default: false },
    'no-hosts': { type: 'boolean', default: false },
    from: { type: 'string' },
  },
});
const quick = values.quick;
const reps = Number(values.reps ?? (quick ? 1 : 3));
if (!Number.isInteger(reps) || reps < 1) {
  console.error('bench: --reps must be a positive integer');
  process.exit(2);
}
const outDir = values.out ?? (values.from ? dirname(values.from) : quick ? 'build/bench-quick' : 'bench/results');
const kernels = values.kernels.split(/\s+/).filter(Boolean);
const started = Date.now();
const log = (s: string) => console.log(`\n### bench [${((Date.now() - started) / 60000).toFixed(1)} min] ${s}`);
const fromFile = values.from ? (JSON.parse(readFileSync(values.from, 'utf8')) as BenchResults) : undefined;
const date = fromFile?.date ?? new Date().toISOString().slice(0, 10);

const results: BenchResults = fromFile ?? { date, quick, reps, machine: machine(), host: null, vm: {}, errors: [], warnings: [], seconds: 0 };
if (fromFile) {
  delete (results as Partial<BenchResults> & { targets?: unknown }).targets;
  results.warnings ??= [];
}
if (!fromFile) log(`${quick ? 'quick' : 'full'} run, ${reps} repetition(s); ${results.machine.cpu} x ${results.machine.cores}, ` +
  `load ${results.machine.loadAverage.toFixed(1)}, ${results.machine.otherGuests} other qemu guest(s)`);
let expected = 0;

if (!fromFile && !values['no-host']) {
  expected++;
  try {
    results.host = hostMicro(reps, quick, log);
  } catch (err) {
    results.errors.push(`host micro-benchmarks: ${(err as Error).message}`);
  }
}

// TCG's threading for the benchmark guests. The full run takes a thread per
// vCPU (thread=multi): ib_write_bw/_lat are two processes polling at once,
// and with one TCG thread for both vCPUs they take turns (ib_write_bw's
// MB/s halved, the Endpoint/perftest ratios went from ~1.3-1.6x to ~2x on
// 2026-12-02), so its figures stay comparable with earlier ones. The quick run
// (npm test: only checks that numbers come out) keeps the harness's default,
// one thread, which does not flake (README, "The test VM").
const guestAccel = process.env.RDMA_REGCACHE_VM_ACCEL || (quick ? 'single' : 'multi');
results.guestAccel ??= fromFile ? undefined : guestAccel;

// One boot per kernel; the first runs everything, the others the kernel benchmark.
if (!fromFile && !values['no-vm']) {
  mkdirSync('build/bench', { recursive: true });
  for (const [i, k] of kernels.entries()) {
    expected++;
    const file = `build/bench/vm-${k}${quick ? '-quick' : ''}.json`;
    rmSync(file, { force: true });
    const only = i === 0 ? '' : ' --only kmod';
    log(`VM ${k}: ${i === 0 ? 'WRITE beside perftest (bandwidth, small messages, ping-pong), registration, invalidation, buffer reuse, kernel benchmark' : 'kernel benchmark'}`);
    const cmd = `node --import tsx bench/vm/suite.ts --out ${file} --reps ${reps}${quick ? ' --quick' : ''}${only}`;
    // The guest's output streams through; the harness's own verdict (its stderr:
    // kernel problems, where the failed run's logs are kept) is read as well.
    const p = spawnSync('node', ['scripts/vm/run.mjs', '--kernel', k, '--timeout', quick ? '900' : '5400', '--accel', guestAccel, cmd],
      { stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8', maxBuffer: 1 << 28 });
    process.stderr.write(p.stderr ?? '');
    const harness = guestVerdict(p.stderr ?? '');
    if (existsSync(file)) {
      // The suite writes its file even when one of its benchmarks failed; it lists those.
      const vm = JSON.parse(readFileSync(file, 'utf8')) as VmResult & { errors?: string[] };
      results.vm[k] = vm;
      for (const e of vm.errors ?? []) results.errors.push(`VM ${k}: ${e}`);
      // A guest kernel BUG/WARNING/Oops (or a crash the kernel logged) fails this
      // group even though its numbers exist: the run did not go as it should.
      if (harness.problems.length) {
        results.errors.push(`VM ${k}: the guest kernel log reports problems during the benchmarks: ${harness.problems.slice(0, 3).join(' / ')}` +
          `${harness.problems.length > 3 ? ` (+${harness.problems.length - 3} more lines)` : ''}${harness.logs ? `; logs in ${harness.logs}` : ''}`);
      } else if (p.status !== 0 && !vm.errors?.length) {
        results.errors.push(`VM ${k}: the guest run failed (exit ${p.status ?? p.signal}) after the suite wrote its results${harness.logs ? `; logs in ${harness.logs}` : ''}`);
      }
    } else {
      results.vm[k] = null;
      results.errors.push(`VM ${k}: the suite failed (exit ${p.status ?? p.signal}); its output is above${harness.logs ? `; logs in ${harness.logs}` : ''}`);
    }
  }
}

// The two-host boot (bench/hosts/suite.ts runs on node1). One TCG thread per
// guest whatever the mode: across hosts each perftest/World process has a
// guest of its own, and two guests with a thread per vCPU would want four
// threads on this machine's two cores.
const hostsAccel = process.env.RDMA_REGCACHE_HOSTS_ACCEL || 'single';
if (!fromFile && !values['no-vm'] && !values['no-hosts']) {
  expected++;
  results.hostsAccel = hostsAccel;
  const file = `build/bench/hosts${quick ? '-quick' : ''}.json`;
  mkdirSync('build/bench', { recursive: true });
  rmSync(file, { force: true });
  const k = kernels[0] ?? '6.1';
  log(`two hosts (${k}): WRITE across hosts beside perftest, ring allreduce beside MPI_Allreduce`);
  const cmd = `node --import tsx bench/hosts/suite.ts --out ${file} --reps ${reps}${quick ? ' --quick' : ''}`;
  // Quick: about 6 min on a quiet machine, 12 min measured with other guests
  // running (load 10); full: 7 sizes x 3 WRITE repetitions, 11 allreduce sizes x 3.
  // npm sets NODE (the node binary) for its scripts; the harness passes the
  // caller's environment into both guests, where NODE names the guest (node1,
  // node2): with npm's value node2 took node1's part. Not passed on.
  const env = { ...process.env };
  delete env.NODE;
  const p = spawnSync('node', ['scripts/vm/run.mjs', '--hosts', '2', '--kernel', k, '--timeout', quick ? '1200' : '7200', '--accel', hostsAccel, cmd],
    { stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8', maxBuffer: 1 << 28, env });
  process.stderr.write(p.stderr ?? '');
  const harness = guestVerdict(p.stderr ?? '');
  if (existsSync(file)) {
    const h = JSON.parse(readFileSync(file, 'utf8')) as HostsResult & { errors?: string[] };
    results.hosts = h;
    for (const e of h.errors ?? []) results.errors.push(`two hosts: ${e}`);
    if (harness.problems.length) {
      results.errors.push(`two hosts: a guest kernel log reports problems during the benchmarks: ${harness.problems.slice(0, 3).join(' / ')}` +
        `${harness.problems.length > 3 ? ` (+${harness.problems.length - 3} more lines)` : ''}${harness.logs ? `; logs in ${harness.logs}` : ''}`);
    } else if (p.status !== 0 && !h.errors?.length) {
      results.errors.push(`two hosts: the guests' run failed (exit ${p.status ?? p.signal}) after the suite wrote its results${harness.logs ? `; logs in ${harness.logs}` : ''}`);
    }
  } else {
    results.hosts = null;
    results.errors.push(`two hosts: the suite failed (exit ${p.status ?? p.signal}); its output is above${harness.logs ? `; logs in ${harness.logs}` : ''}`);
  }
}

/** What scripts/vm/run.mjs said about a guest run: kernel log problem lines, the failed run's log folder. */
function guestVerdict(stderr: string): { problems: string[]; logs?: string } {
  const lines = stderr.split('\n');
  // One guest: "vm: the guest kernel log reports ..."; two: "vm: node2's kernel log reports ..." (the first such block).
  const at = lines.findIndex((l) => /^vm: (the guest|\S+'s) kernel log reports problems/.test(l));
  const problems: string[] = [];
  if (at >= 0) {
    for (const l of lines.slice(at + 1)) {
      if (!/^\[\s*\d/.test(l)) break;
      problems.push(l);
    }
  }
  return { problems, logs: stderr.match(/of this failed run: (\S+)/)?.[1] };
}

if (!fromFile) results.seconds = (Date.now() - started) / 1000;
else expected = results.errors.length + Object.keys(results.vm).length + (results.host ? 1 : 0) + (results.hosts ? 1 : 0);
const rows = targets(results);
mkdirSync(outDir, { recursive: true });
const charts = new Map<string, string>();
for (const c of await reportCharts(results)) {
  const file = `${date}-${c.name}.svg`;
  writeFileSync(join(outDir, file), c.svg);
  charts.set(c.name, file);
}
const notesFile = join(outDir, `${date}-notes.md`);
const notes = existsSync(notesFile) ? readFileSync(notesFile, 'utf8') : undefined;
writeFileSync(join(outDir, `${date}.json`), `${JSON.stringify({ ...results, targets: rows }, null, 2)}\n`);
writeFileSync(join(outDir, `${date}.md`), report({ results, targets: rows, charts, notes }));

console.log('\n### targets (DESIGN.md §5)');
for (const t of rows) {
  const v = t.ratio ? `${t.ratio.median.toFixed(2)}x (${t.ratio.min.toFixed(2)}-${t.ratio.max.toFixed(2)})` : 'n/a';
  console.log(`${t.met === null ? 'n/a   ' : t.met ? 'met   ' : 'MISSED'} ${t.target}: ${v}, target ${t.limit}; ${t.absolute}`);
}
console.log(`\nreport: ${join(outDir, `${date}.md`)} (JSON ${join(outDir, `${date}.json`)}, ${charts.size} charts)`);
for (const w of results.warnings) console.log(`warning: ${w}`);
// Failed runs that were run again: in the JSON and the report, and here.
for (const [k, v] of Object.entries(results.vm)) for (const t of v?.retries ?? []) console.log(`run again: VM ${k}: ${describeRetry(t)}`);
for (const t of results.hosts?.retries ?? []) console.log(`run again: two hosts: ${describeRetry(t)}`);
if (results.errors.length) {
  for (const e of results.errors) console.log(`error: ${e}`);
  console.log(`bench: ${results.errors.length} failure(s) in ${expected} benchmark group(s) (no numbers, or a guest kernel problem)`);
  process.exit(1);
}
console.log(`bench: all ${expected} benchmark groups produced numbers`);
