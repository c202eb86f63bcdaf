#!/usr/bin/env node
// npm run vm -- [--kernel 6.1|6.12] [--timeout SECONDS] [--cpu MODEL] [--accel ACCEL] <shell command...>
//
// Boots the test VM (Debian kernel under qemu, host root over 9p, rxe0 and
// /dev/ummunotify up), runs the command there as root in the project root,
// streams its output and exits with its status. A guest that outlives the time
// limit is killed (exit 124); a guest that dies without a status (panic) exits
// 125 and the kernel's report is printed again; a guest kernel log with
// BUG/WARNING/Oops/... fails the run. Every failed run keeps its serial log and
// kernel log under .cache/vm/failed/<time>-<kernel>-<pid>/ (the newest 20).
import { spawn } from 'node:child_process';
import {
  cpSync, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { guestKernelProblems, kernelReport, serialKernelProblems } from './kernel-log.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CACHE = join(ROOT, '.cache', 'vm');
const FAILED = join(CACHE, 'failed');
const KEEP_FAILED = Number(process.env.RDMA_REGCACHE_VM_KEEP_FAILED || 20);
const GUEST_IP = '192.0.2.1';

// The emulated CPU and TCG's threading (the README's VM section has the
// measurements). One TCG thread for both vCPUs: with a thread per vCPU
// (thread=multi) a 6.12 guest now and then ran a stale int3 of a static key
// the kernel had already patched back (cross-modifying code) and died in early
// boot; with one thread a vCPU never runs beside the one that patches. A CPU
// without AVX (Nehalem): qemu 7.2 is the first release that emulates AVX/AVX2
// and later ones fixed bugs there; Debian's kernels and Node 20 need none of it.
const DEFAULT_CPU = 'Nehalem';
const DEFAULT_ACCEL = 'tcg,thread=single';

// The harness's options come first; everything from the first other word on
// is the command's, options included (`npm run vm -- node --expose-gc x.mjs`).
// Several words are joined with spaces, as ssh does: quote a shell command
// line as one argument.
const OPTIONS = {
  kernel: { type: 'string', default: process.env.RDMA_REGCACHE_KERNEL ?? '6.1' },
  timeout: { type: 'string', default: process.env.RDMA_REGCACHE_VM_TIMEOUT ?? '900' },
  memory: { type: 'string', default: process.env.RDMA_REGCACHE_VM_MEMORY ?? '3G' },
  cpu: { type: 'string', default: process.env.RDMA_REGCACHE_VM_CPU || DEFAULT_CPU },
  accel: { type: 'string', default: process.env.RDMA_REGCACHE_VM_ACCEL || DEFAULT_ACCEL },
  smp: { type: 'string', default: process.env.RDMA_REGCACHE_VM_SMP || '2' },
};
const argv = process.argv.slice(2);
let split = 0;
while (split < argv.length && argv[split].startsWith('-')) {
  const word = argv[split];
  if (word === '--') break;
  const name = word.replace(/^--?/, '').split('=')[0];
  split += OPTIONS[name]?.type === 'string' && !word.includes('=') ? 2 : 1;
}
const commandWords = argv.slice(argv[split] === '--' ? split + 1 : split);
let values;
try {
  ({ values } = parseArgs({ args: argv.slice(0, split), options: OPTIONS, strict: true }));
} catch (err) {
  console.error(`vm: ${err.message}`);
  process.exit(2);
}
const command = commandWords.join(' ');
if (!command) {
  console.error('usage: npm run vm -- [--kernel 6.1|6.12] [--timeout SECONDS] [--cpu MODEL] [--accel tcg,thread=single|multi] [--smp N] <shell command>');
  process.exit(2);
}
const timeoutSeconds = Number(values.timeout);
if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
  console.error(`vm: --timeout must be a positive number of seconds, got '${values.timeout}'`);
  process.exit(2);
}
// Short forms: --accel single / multi.
const accel = /^(single|multi)$/.test(values.accel) ? `tcg,thread=${values.accel}` : values.accel;

const kernelLink = join(CACHE, values.kernel);
if (!existsSync(join(kernelLink, 'ready'))) {
  console.error(`vm: guest kernel ${values.kernel} is not prepared; run: RDMA_REGCACHE_KERNELS=${values.kernel} bash scripts/setup.sh`);
  process.exit(2);
}
const kernelDir = realpathSync(kernelLink);
const kver = readFileSync(join(kernelDir, 'kver'), 'utf8').trim();
// RDMA_REGCACHE_VM_KO: another build of the module to load (e.g. a copy kept for a long measurement).
const ko = process.env.RDMA_REGCACHE_VM_KO || join(kernelDir, 'kmod', 'ummunotify.ko');

// The job folder is on the shared root: the guest reads the job and writes
// its status and kernel log there.
const job = join(CACHE, 'jobs', `${process.pid}-${Date.now()}`);
mkdirSync(job, { recursive: true });
const quote = (s) => `'${String(s).replaceAll("'", `'\\''`)}'`;
// The guest sees the caller's environment, less what only makes sense on the host.
const hostOnly = /^(PWD|OLDPWD|SHLVL|_|TMPDIR|DISPLAY|TERM_PROGRAM.*|SSH_.*|XDG_.*|TMUX.*|INVOCATION_ID|JOURNAL_STREAM)$/;
const exports = Object.entries(process.env)
  .filter(([k]) => !hostOnly.test(k) && /^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
  .map(([k, v]) => `export ${k}=${quote(v)}`)
  .join('\n');
writeFileSync(join(job, 'job.sh'), `${exports}\nexport PATH=${quote(process.env.PATH ?? '/usr/bin:/bin')}\ncd ${quote(ROOT)}\n${command}\n`);
writeFileSync(
  join(job, 'vm.env'),
  `KROOT=${quote(join(kernelDir, 'root'))}\nKO=${quote(ko)}\nPROJECT=${quote(ROOT)}\nGUEST_IP=${GUEST_IP}\nHOST_TTY=${process.stdout.isTTY ? 1 : 0}\n`,
);

const append = [
  'console=ttyS0',
  'quiet',
  // Warnings and worse reach the serial console (an oops always does; a
  // WARNING, a hung task or an RCU stall only from level 5 on), so a guest
  // that dies keeps them in its serial log. The few harmless boot lines this
  // lets through are hidden from the terminal (BOOT_NOISE), not from the log.
  'loglevel=5',
  'panic=-1',
  // No CPU-vulnerability mitigations in this throw-away test guest: on the
  // emulated Nehalem the kernel turns on page-table isolation, and under TCG
  // every system call then cost ~15 us instead of ~0.46 us (getppid loop,
  // 6.12 guest); boot to shell 10.4 s -> 5.9 s.
  'mitigations=off',
  'rdinit=/init',
  `rdmavm.init=${join(ROOT, 'scripts', 'vm', 'guest-init.sh')}`,
  `rdmavm.job=${job}`,
  // Extra kernel arguments for experiments (e.g. mitigations=off).
  ...(process.env.RDMA_REGCACHE_VM_APPEND ?? '').split(/\s+/).filter(Boolean),
].join(' ');
// Two NUMA nodes sharing the memory equally, so page migration between
// nodes (move_pages, mbind) can be tested; the guest sees node0 and node1.
function numaArgs(memory) {
  const m = /^(\d+)([MG])$/i.exec(memory);
  if (!m) {
    console.error(`vm: --memory must look like 3G or 2048M, got '${memory}'`);
    process.exit(2);
  }
  const mib = Number(m[1]) * (m[2].toUpperCase() === 'G' ? 1024 : 1);
  const half = Math.floor(mib / 2);
  return [
    '-object', `memory-backend-ram,id=mem0,size=${mib - half}M`,
    '-object', `memory-backend-ram,id=mem1,size=${half}M`,
    '-numa', 'node,nodeid=0,memdev=mem0',
    '-numa', 'node,nodeid=1,memdev=mem1',
  ];
}
const qemuArgs = [
  '-accel', accel, '-cpu', values.cpu, '-smp', values.smp, '-m', values.memory,
  ...numaArgs(values.memory),
  '-kernel', join(kernelDir, 'root', 'boot', `vmlinuz-${kver}`),
  '-initrd', join(kernelDir, 'initramfs.cpio.gz'),
  '-append', append,
  '-display', 'none', '-monitor', 'none', '-serial', 'stdio',
  '-nic', 'none', '-no-reboot',
  '-fsdev', 'local,id=hostroot,path=/,security_model=none,multidevs=remap',
  '-device', 'virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot',
];

// Kernel lines every boot prints at loglevel 5 that say nothing about the run,
// and the guest's own power-off messages.
const BOOT_NOISE = new RegExp(`^\\[\\s*[\\d.]+\\] (${[
  'sysrq: Power Off',
  'reboot: Power down',
  'ACPI: PM: Preparing to enter system sleep state S5',
  'mtrr: your CPUs had inconsistent ',
  'acpi PNP0A03:00: fail to add MMCONFIG information',
  'Unstable clock detected, switching default tracing clock',
  'If you want to keep using the local clock, then add:',
  '  "trace_clock=local"',
  'on the kernel command line',
  'amd_pstate: the _CPC object is not present',
  'ummunotify: loading out-of-tree module taints kernel',
  'pci_bus 0000:00: Unknown NUMA node; performance will be reduced',
].map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})`);
// The same kernel lines after the start of a line the guest left open (a
// program's last output without a newline, e.g. a terminal's show-cursor code):
// the kernel's message goes, the program's part stays.
const BOOT_NOISE_AT_END = new RegExp(`${BOOT_NOISE.source.slice(1)}.*$`);

// Everything qemu prints goes to the serial log file as it comes; the terminal
// gets it line by line, less the boot noise (a partial line is shown after a
// short wait, so prompts and progress still appear).
const serialFile = join(job, 'serial.log');
const serialLog = createWriteStream(serialFile);
const writeOut = (stream, s) => {
  try {
    stream.write(s);
  } catch {
    // The terminal went away: the guest still runs to its end or its signal.
  }
};
for (const s of [process.stdout, process.stderr]) s.on('error', () => {});
function liner(out) {
  let pending = '';
  let timer;
  const flushPartial = () => {
    timer = undefined;
    // What may be the start of a kernel line ("[   40.9] sysrq: Power Off")
    // waits for its end, so the noise filter sees it whole, however the serial
    // line split it; the part before it is shown.
    const cut = /\[[\s\d.]*(\][^\n]*)?$/.exec(pending)?.index ?? pending.length;
    if (cut === 0) return;
    writeOut(out, pending.slice(0, cut));
    pending = pending.slice(cut);
  };
  return {
    push(text) {
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop();
      for (const line of lines) {
        const noise = line.search(BOOT_NOISE_AT_END);
        if (noise < 0) writeOut(out, `${line}\n`);
        else if (noise > 0) writeOut(out, line.slice(0, noise));
      }
      if (timer) clearTimeout(timer);
      if (pending) timer = setTimeout(flushPartial, 200);
    },
    end() {
      if (timer) clearTimeout(timer);
      const noise = pending.search(BOOT_NOISE_AT_END);
      if (pending) writeOut(out, noise < 0 ? pending : pending.slice(0, noise));
      pending = '';
    },
  };
}
const outLines = liner(process.stdout);
const errLines = liner(process.stderr);
const serialChunks = [];
const started = Date.now();
const startedAt = new Date();
const qemu = spawn('qemu-system-x86_64', qemuArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
for (const [stream, lines, tag] of [[qemu.stdout, outLines, ''], [qemu.stderr, errLines, 'qemu: ']]) {
  // Decode the stream, not each chunk: a character split between two chunks
  // (the table's box drawing) must reach the terminal whole.
  stream.setEncoding('utf8');
  stream.on('data', (c) => {
    // The serial line turns \n into \r\n.
    const text = c.replaceAll('\r', '');
    serialChunks.push(tag ? text.replace(/^(?=.)/gm, tag) : text);
    serialLog.write(tag ? text.replace(/^(?=.)/gm, tag) : text);
    lines.push(text);
  });
}

let timedOut = false;
const timer = setTimeout(() => {
  timedOut = true;
  qemu.kill('SIGKILL');
}, timeoutSeconds * 1000);
// The guest goes with the harness, however the harness ends: a signal
// (SIGHUP too: a closed terminal), an exception, or process.exit.
process.on('exit', () => {
  if (qemu.exitCode === null && qemu.signalCode === null) qemu.kill('SIGKILL');
});
for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
  process.on(sig, () => {
    qemu.kill('SIGKILL');
    rmSync(job, { recursive: true, force: true });
    process.exit(code);
  });
}

qemu.on('error', (err) => {
  console.error(`vm: cannot start qemu-system-x86_64: ${err.message} (run: bash scripts/setup.sh)`);
  rmSync(job, { recursive: true, force: true });
  process.exit(2);
});

/** Moves this run's logs to a new folder under .cache/vm/failed and drops the oldest beyond KEEP_FAILED. */
function keepFailed(info) {
  const stamp = startedAt.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const dir = join(FAILED, `${stamp}-${values.kernel}-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'serial.log'), serialChunks.join(''));
  if (existsSync(join(job, 'dmesg'))) cpSync(join(job, 'dmesg'), join(dir, 'dmesg.txt'));
  writeFileSync(join(dir, 'command.txt'), `${command}\n`);
  writeFileSync(join(dir, 'run.json'), `${JSON.stringify(info, null, 2)}\n`);
  const all = readdirSync(FAILED).filter((n) => /^\d{8}T\d{6}Z-/.test(n)).sort();
  for (const old of all.slice(0, Math.max(0, all.length - KEEP_FAILED))) rmSync(join(FAILED, old), { recursive: true, force: true });
  return dir;
}

qemu.on('close', () => {
  clearTimeout(timer);
  outLines.end();
  errLines.end();
  serialLog.end();
  const seconds = (Date.now() - started) / 1000;
  const serial = serialChunks.join('');
  let status;
  let reason;
  if (timedOut) {
    console.error(`vm: guest did not finish within ${timeoutSeconds} s and was killed (raise RDMA_REGCACHE_VM_TIMEOUT or --timeout)`);
    status = 124;
    reason = 'timeout';
  } else if (!existsSync(join(job, 'status'))) {
    console.error(`vm: guest stopped after ${seconds.toFixed(1)} s without reporting a status (kernel panic or crash?)`);
    status = 125;
    reason = 'no status';
  } else {
    const text = readFileSync(join(job, 'status'), 'utf8').trim();
    status = /^\d+$/.test(text) ? Number(text) : 125;
    if (status !== 0) reason = /^\d+$/.test(text) ? `status ${status}` : `unreadable status '${text}'`;
  }
  // The kernel log the guest saved at the end, and what the kernel printed on
  // the serial console (all of it, even after the ring buffer wrapped or when
  // the guest never got to save its log).
  const dmesg = existsSync(join(job, 'dmesg')) ? readFileSync(join(job, 'dmesg'), 'utf8') : undefined;
  if (dmesg !== undefined) writeFileSync(join(CACHE, `last-dmesg-${values.kernel}.txt`), dmesg);
  const problems = [...new Set([...(dmesg ? guestKernelProblems(dmesg) : []), ...serialKernelProblems(serial)])];
  if (problems.length > 0) {
    console.error(`vm: the guest kernel log reports problems:\n${problems.slice(0, 40).join('\n')}${problems.length > 40 ? `\n... (${problems.length - 40} more)` : ''}`);
    if (status === 0) status = 1;
    reason = reason ? `${reason}, kernel problems` : 'kernel problems';
  }
  if (status === 124 || status === 125) {
    // The run's output scrolled it away: the kernel's report again, from its start.
    const report = kernelReport(serial);
    console.error(report.found
      ? `vm: the kernel's report from the serial log:\n${report.lines.join('\n')}`
      : `vm: no kernel report on the serial console; its last lines:\n${report.lines.filter((l) => l && !BOOT_NOISE.test(l)).join('\n')}`);
  }
  const boot = serial.match(/vm: ready \([^,]+, ([\d.]+)s after boot\)/);
  // RDMA_REGCACHE_VM_KEEP_FAILED=0: this run's logs are not kept (a test of the
  // harness that fails on purpose), and the kept ones stay as they are.
  if (status !== 0 && KEEP_FAILED > 0) {
    const dir = keepFailed({
      kernel: values.kernel, kver, cpu: values.cpu, accel, smp: values.smp, command, status, reason,
      seconds, bootSeconds: boot ? Number(boot[1]) : null, started: startedAt.toISOString(),
    });
    console.error(`vm: serial log and kernel log of this failed run: ${dir}`);
  }
  if (process.env.RDMA_REGCACHE_VM_VERBOSE) {
    console.error(`vm: ${kver}, -cpu ${values.cpu} -accel ${accel} -smp ${values.smp}, ${seconds.toFixed(1)} s, status ${status}`);
  }
  rmSync(job, { recursive: true, force: true });
  process.exitCode = status;
});
