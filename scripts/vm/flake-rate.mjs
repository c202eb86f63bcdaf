#!/usr/bin/env node
// How often does a guest run fail when nothing is wrong with the project?
// Runs one command in N fresh test-VM boots, one after another, with a given
// kernel, CPU model and TCG threading, and records every run as a JSON line
// (status, failure kind, wall time, boot time) under .cache/vm/flake/.
//
//   node scripts/vm/flake-rate.mjs --kernel 6.12 --cpu max --accel multi --runs 100 [--timeout 300] [-- command...]
//   node scripts/vm/flake-rate.mjs --setting 6.1,Nehalem,single --setting 6.12,max,multi --runs 50
//   node scripts/vm/flake-rate.mjs --summary .cache/vm/flake/*.jsonl
//
// With several --setting KERNEL,CPU,ACCEL they take turns run by run (so a
// change in the machine's load hits them alike); --runs counts rounds.
// The default command starts node and makes one RDMA WRITE through the library
// (scripts/vm/rdma-write-once.mjs). The library (dist/ and the native addon)
// and the kernel module are copied once at the start and the runs use the
// copies, so a rebuild in the checkout during a long series changes nothing.
// Touch .cache/vm/flake/STOP to end a series after its current run, and
// .cache/vm/flake/PAUSE to hold it (no guest of its own) until it is removed.
import { spawn } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const FLAKE = join(ROOT, '.cache', 'vm', 'flake');
const STOP = join(FLAKE, 'STOP');
const PAUSE = join(FLAKE, 'PAUSE');

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    kernel: { type: 'string', default: '6.1' },
    cpu: { type: 'string' },
    accel: { type: 'string' },
    smp: { type: 'string' },
    setting: { type: 'string', multiple: true },
    runs: { type: 'string', default: '10' },
    timeout: { type: 'string', default: '300' },
    out: { type: 'string' },
    label: { type: 'string' },
    'no-snapshot': { type: 'boolean', default: false },
    summary: { type: 'boolean', default: false },
  },
});

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** One line per (kernel, cpu, accel, smp): runs, failures and their kinds, median times. */
function summarize(records) {
  const groups = new Map();
  for (const r of records) {
    const key = `${r.kernel} -cpu ${r.cpu} -accel ${r.accel} -smp ${r.smp}${r.label ? ` [${r.label}]` : ''}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(r);
  }
  const lines = [];
  for (const [key, rs] of [...groups].sort()) {
    const failed = rs.filter((r) => !r.ok);
    const kinds = new Map();
    for (const r of failed) kinds.set(r.kind, (kinds.get(r.kind) ?? 0) + 1);
    const ok = rs.filter((r) => r.ok);
    lines.push(`${key}: ${rs.length} runs, ${failed.length} failed` +
      `${kinds.size ? ` (${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ')})` : ''}; ` +
      `median wall ${median(ok.map((r) => r.wallSeconds)).toFixed(1)} s, boot ${median(rs.map((r) => r.bootSeconds)).toFixed(2)} s`);
    for (const r of failed) lines.push(`  run ${r.run} ${r.time}: ${r.kind}: ${r.detail}${r.failedDir ? ` (${r.failedDir})` : ''}`);
  }
  return lines.join('\n');
}

if (values.summary) {
  const records = positionals.flatMap((f) => readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)));
  console.log(summarize(records));
  process.exit(0);
}

const runs = Number(values.runs);
// Each setting: kernel, CPU model, TCG threading ('' = the harness's default).
const settings = (values.setting ?? [`${values.kernel},${values.cpu ?? ''},${values.accel ?? ''}`]).map((t) => {
  const [kernel, cpu = '', accel = ''] = t.split(',');
  return { kernel, cpu, accel, smp: values.smp ?? '' };
});
const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
mkdirSync(FLAKE, { recursive: true });
const tag = settings.map((t) => `${t.kernel}-${t.cpu || 'default'}-${t.accel || 'default'}`).join('+').replace(/[^A-Za-z0-9.=_+-]+/g, '_');
const out = values.out ?? join(FLAKE, `${stamp}-${tag}.jsonl`);
const logFile = out.replace(/\.jsonl$/, '') + '.log';

const env = { ...process.env, RDMA_REGCACHE_VM_VERBOSE: '1' };
const command = positionals.join(' ') || 'node scripts/vm/rdma-write-once.mjs';
let snap;
if (!values['no-snapshot']) {
  // A private copy of what the guest runs: the library and the module.
  snap = join(FLAKE, 'snapshots', `${stamp}-${process.pid}`);
  mkdirSync(join(snap, 'build', 'Release'), { recursive: true });
  cpSync(join(ROOT, 'dist'), join(snap, 'dist'), { recursive: true });
  cpSync(join(ROOT, 'build', 'Release', 'rdma_regcache.node'), join(snap, 'build', 'Release', 'rdma_regcache.node'));
  for (const kernel of new Set(settings.map((t) => t.kernel))) {
    cpSync(join(realpathSync(join(ROOT, '.cache', 'vm', kernel)), 'kmod', 'ummunotify.ko'), join(snap, `ummunotify-${kernel}.ko`));
  }
  env.REGCACHE_LIB = join(snap, 'dist', 'index.js');
}

function argsOf(t) {
  const args = ['scripts/vm/run.mjs', '--kernel', t.kernel, '--timeout', values.timeout];
  if (t.cpu) args.push('--cpu', t.cpu);
  if (t.accel) args.push('--accel', t.accel);
  if (t.smp) args.push('--smp', t.smp);
  return args;
}

// Other guests running beside ours (they share the cores): qemu processes right now.
function qemuCount() {
  let n = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('qemu-system')) n++;
    } catch {
      // gone meanwhile
    }
  }
  return n;
}

function once(t) {
  return new Promise((done) => {
    const t0 = Date.now();
    const e = snap ? { ...env, RDMA_REGCACHE_VM_KO: join(snap, `ummunotify-${t.kernel}.ko`) } : env;
    const p = spawn('node', [...argsOf(t), command], { cwd: ROOT, env: e, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    p.stdout.on('data', (c) => (text += c));
    p.stderr.on('data', (c) => (text += c));
    p.on('close', (status, signal) => done({ status: status ?? 128, signal, text, wallSeconds: (Date.now() - t0) / 1000 }));
  });
}

function classify({ status, text }) {
  const failedDir = text.match(/failed run: (\S+)/)?.[1] ?? null;
  const lines = text.split('\n');
  const after = (marker) => {
    const i = lines.findIndex((l) => l.startsWith(marker));
    return i < 0 ? [] : lines.slice(i + 1);
  };
  const report = after("vm: the kernel's report").find((l) => /Oops|BUG|Kernel panic|general protection|WARNING/.test(l));
  const problem = after('vm: the guest kernel log reports problems').find(Boolean);
  const tail = lines.filter((l) => l && !l.startsWith('vm: ') && !/^\[\s*\d/.test(l)).slice(-2).join(' | ');
  if (status === 0) return { ok: true, kind: 'ok', detail: '', failedDir };
  if (status === 124) return { ok: false, kind: 'timeout', detail: report ?? tail, failedDir };
  if (status === 125) return { ok: false, kind: 'no status (guest died)', detail: report ?? problem ?? tail, failedDir };
  if (problem) return { ok: false, kind: 'kernel problem', detail: problem, failedDir };
  const sig = text.match(/Illegal instruction|Segmentation fault|Aborted|Killed|Trace\/breakpoint trap|Bus error/)?.[0];
  return { ok: false, kind: sig ? `status ${status} (${sig})` : `status ${status}`, detail: tail, failedDir };
}

const show = (t) => `${t.kernel} -cpu ${t.cpu || '(default)'} -accel ${t.accel || '(default)'} -smp ${t.smp || '(default)'}`;
console.log(`flake-rate: ${runs} round(s) of '${command}' on ${settings.map(show).join(' / ')}; records ${out}, output ${logFile}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const records = [];
series: for (let run = 1; run <= runs; run++) {
  for (const t of settings) {
    if (existsSync(STOP)) {
      console.log(`flake-rate: ${STOP} exists: stopping in round ${run}`);
      break series;
    }
    while (existsSync(PAUSE)) await sleep(5000);
    const time = new Date().toISOString();
    const load = Number(loadavg()[0].toFixed(2));
    const otherGuests = qemuCount();
    const r = await once(t);
    const c = classify(r);
    const boot = r.text.match(/vm: ready \([^,]+, ([\d.]+)s after boot\)/);
    // What qemu ran with, as the harness printed it (its defaults included).
    const ran = r.text.match(/^vm: \S+, -cpu (\S+) -accel (\S+) -smp (\S+),/m);
    const rec = {
      time, kernel: t.kernel, cpu: ran?.[1] ?? t.cpu, accel: ran?.[2] ?? t.accel, smp: ran?.[3] ?? t.smp, label: values.label, command, run,
      status: r.status, ...c, wallSeconds: r.wallSeconds, bootSeconds: boot ? Number(boot[1]) : null, load, otherGuests,
    };
    records.push(rec);
    appendFileSync(out, `${JSON.stringify(rec)}\n`);
    appendFileSync(logFile, `\n=== run ${run} ${show(t)} ${time} status ${r.status} ${c.kind} ${r.wallSeconds.toFixed(1)} s\n${r.text}`);
    console.log(`run ${run}/${runs} ${show(t)}: ${c.ok ? 'ok' : `FAILED: ${c.kind}: ${c.detail}`}, ${r.wallSeconds.toFixed(1)} s, boot ${rec.bootSeconds ?? '?'} s`);
  }
}
console.log(summarize(records));
if (snap) rmSync(snap, { recursive: true, force: true });
