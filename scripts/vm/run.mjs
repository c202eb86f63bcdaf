#!/usr/bin/env node
// npm run vm -- [--kernel 6.1|6.12] [--timeout SECONDS] [--cpu MODEL] [--accel ACCEL] <shell command...>
// npm run vm -- --hosts 2 [...] <shell command...>   (two guests on a wire: scripts/vm/hosts.mjs)
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
  createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  BOOT_NOISE, CACHE, ROOT, dumpGuestTasks, guestExports, guestKernel, keepFailedRun, liner, parseVmArgs, qemuArgs as guestQemuArgs, quote,
} from './guest.mjs';
import { guestKernelProblems, kernelReport, serialKernelProblems, taskDumpSummary } from './kernel-log.mjs';

const KEEP_FAILED = Number(process.env.RDMA_REGCACHE_VM_KEEP_FAILED || 20);
const GUEST_IP = '192.0.2.1';

const parsed = parseVmArgs(process.argv.slice(2));
if (parsed.error) {
  console.error(parsed.error);
  process.exit(2);
}
const { options: values, command } = parsed;
if (values.hosts === 2) {
  // Two guests joined by a wire: scripts/vm/hosts.mjs.
  const { runHosts } = await import('./hosts.mjs');
  process.exit(await runHosts(values, command));
}
const timeoutSeconds = values.timeout;
const { accel } = values;

const kernel = guestKernel(values.kernel);
if (kernel.error) {
  console.error(kernel.error);
  process.exit(2);
}
const { kernelDir, kver, ko } = kernel;

// The job folder is on the shared root: the guest reads the job and writes
// its status and kernel log there.
const job = join(CACHE, 'jobs', `${process.pid}-${Date.now()}`);
mkdirSync(job, { recursive: true });
const exports = guestExports();
writeFileSync(join(job, 'job.sh'), `${exports}\nexport PATH=${quote(process.env.PATH ?? '/usr/bin:/bin')}\ncd ${quote(ROOT)}\n${command}\n`);
writeFileSync(
  join(job, 'vm.env'),
  `KROOT=${quote(join(kernelDir, 'root'))}\nKO=${quote(ko)}\nPROJECT=${quote(ROOT)}\nGUEST_IP=${GUEST_IP}\nHOST_TTY=${process.stdout.isTTY ? 1 : 0}\n`,
);

const qemuArgs = guestQemuArgs(values, kernelDir, kver, job);

// Everything qemu prints goes to the serial log file as it comes; the terminal
// gets it line by line, less the boot noise (a partial line is shown after a
// short wait, so prompts and progress still appear).
const serialFile = join(job, 'serial.log');
const serialLog = createWriteStream(serialFile);
for (const s of [process.stdout, process.stderr]) s.on('error', () => {});
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
// Where the sysrq dump starts in the serial log (what the kernel printed
// before it is checked for problems; the dump itself is full of call traces).
let dumpFrom = null;
let dumpSent = false;
const timer = setTimeout(async () => {
  timedOut = true;
  dumpFrom = serialChunks.join('').length;
  dumpSent = await dumpGuestTasks(job);
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
  return keepFailedRun({
    startedAt,
    kernel: values.kernel,
    keep: KEEP_FAILED,
    files: {
      'serial.log': serialChunks.join(''),
      'dmesg.txt': { copy: join(job, 'dmesg') },
      'command.txt': `${command}\n`,
      'run.json': `${JSON.stringify(info, null, 2)}\n`,
    },
  });
}

qemu.on('close', () => {
  clearTimeout(timer);
  outLines.end();
  errLines.end();
  serialLog.end();
  const seconds = (Date.now() - started) / 1000;
  const fullSerial = serialChunks.join('');
  const serial = dumpFrom === null ? fullSerial : fullSerial.slice(0, dumpFrom);
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
  if (timedOut) {
    const summary = taskDumpSummary(fullSerial.slice(dumpFrom ?? fullSerial.length));
    if (summary.length > 0) {
      console.error(`vm: where the guest's CPUs and tasks were at the time limit (sysrq w, l, t; the whole dump is in the kept serial log):\n${summary.join('\n')}`);
    } else {
      console.error(dumpSent
        ? 'vm: the guest printed no task dump within 5 s of the sysrq keys: its kernel did not take the keyboard interrupt (hung with interrupts off?)'
        : 'vm: no task dump: the guest\'s qemu monitor could not be reached');
    }
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
