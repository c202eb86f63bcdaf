// What scripts/vm/run.mjs (one guest) and scripts/vm/hosts.mjs (two guests
// joined by a wire) share: the harness's command line, the qemu command line
// of one guest, the serial console filter, and the failed-run logs.
import {
  cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync,
} from 'node:fs';
import { createConnection } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CACHE = join(ROOT, '.cache', 'vm');
export const FAILED = join(CACHE, 'failed');

// The emulated CPU and TCG's threading (the README's VM section has the
// measurements). One TCG thread for both vCPUs: with a thread per vCPU
// (thread=multi) a 6.12 guest now and then ran a stale int3 of a static key
// the kernel had already patched back (cross-modifying code) and died in early
// boot; with one thread a vCPU never runs beside the one that patches. A CPU
// without AVX (Nehalem): qemu 7.2 is the first release that emulates AVX/AVX2
// and later ones fixed bugs there; Debian's kernels and Node 20 need none of it.
export const DEFAULT_CPU = 'Nehalem';
export const DEFAULT_ACCEL = 'tcg,thread=single';

export const USAGE = 'usage: npm run vm -- [--hosts 1|2] [--kernel 6.1|6.12] [--timeout SECONDS] [--cpu MODEL] [--accel tcg,thread=single|multi] [--smp N] [--memory SIZE] [--slurm (with --hosts 2)] <shell command>';

/**
 * The harness's command line. Its options come first; everything from the
 * first other word on is the command's, options included (`npm run vm -- node
 * --expose-gc x.mjs`). Several words are joined with spaces, as ssh does:
 * quote a shell command line as one argument. Returns `{ options, command }`
 * or `{ error }` (a message for the user; exit status 2).
 */
export function parseVmArgs(argv, env = process.env) {
  const OPTIONS = {
    hosts: { type: 'string', default: '1' },
    kernel: { type: 'string', default: env.RDMA_REGCACHE_KERNEL ?? '6.1' },
    timeout: { type: 'string', default: env.RDMA_REGCACHE_VM_TIMEOUT ?? '900' },
    memory: { type: 'string' },
    cpu: { type: 'string', default: env.RDMA_REGCACHE_VM_CPU || DEFAULT_CPU },
    accel: { type: 'string', default: env.RDMA_REGCACHE_VM_ACCEL || DEFAULT_ACCEL },
    smp: { type: 'string', default: env.RDMA_REGCACHE_VM_SMP || '2' },
    // Two hosts only: a Slurm cluster on them (scripts/vm/slurm.mjs).
    slurm: { type: 'boolean' },
  };
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
    return { error: `vm: ${err.message}` };
  }
  const command = commandWords.join(' ');
  if (!command) return { error: USAGE };
  const timeout = Number(values.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0) {
    return { error: `vm: --timeout must be a positive number of seconds, got '${values.timeout}'` };
  }
  if (!/^[12]$/.test(values.hosts)) return { error: `vm: --hosts must be 1 or 2, got '${values.hosts}'` };
  const hosts = Number(values.hosts);
  if (values.slurm && hosts !== 2) return { error: 'vm: --slurm needs --hosts 2' };
  // Two guests share the machine: 2 GiB each unless asked otherwise.
  const memory = values.memory ?? env.RDMA_REGCACHE_VM_MEMORY ?? (hosts === 1 ? '3G' : '2G');
  if (!/^\d+[MG]$/i.test(memory)) return { error: `vm: --memory must look like 3G or 2048M, got '${memory}'` };
  // Short forms: --accel single / multi.
  const accel = /^(single|multi)$/.test(values.accel) ? `tcg,thread=${values.accel}` : values.accel;
  return {
    options: { ...values, hosts, memory, accel, timeout },
    command,
  };
}

const quote = (s) => `'${String(s).replaceAll("'", `'\\''`)}'`;
export { quote };

/** `export NAME='value'` lines for the caller's environment, less what only makes sense on the host. */
export function guestExports(env = process.env) {
  // NODE: npm sets it (the node binary) for its scripts, and the two-host
  // guests use NODE for their own name (node1/node2): passed on, it made
  // node2 run node1's part under `npm test`.
  const hostOnly = /^(PWD|OLDPWD|SHLVL|_|NODE|TMPDIR|DISPLAY|TERM_PROGRAM.*|SSH_.*|XDG_.*|TMUX.*|INVOCATION_ID|JOURNAL_STREAM)$/;
  return Object.entries(env)
    .filter(([k]) => !hostOnly.test(k) && /^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
    .map(([k, v]) => `export ${k}=${quote(v)}`)
    .join('\n');
}

/** The kernel command line of a guest whose job folder is `job`. */
export function kernelAppend(job, env = process.env) {
  return [
    'console=ttyS0',
    'quiet',
    // Warnings and worse reach the serial console (an oops always does; a
    // WARNING, a hung task or an RCU stall only from level 5 on), so a guest
    // that dies keeps them in its serial log. The few harmless boot lines this
    // lets through are hidden from the terminal (BOOT_NOISE), not from the log.
    'loglevel=5',
    'panic=-1',
    // The harness's sysrq keys before a timeout kill (dumpGuestTasks): Debian's
    // default mask (438) leaves the task and CPU dumps off.
    'sysrq_always_enabled',
    // No CPU-vulnerability mitigations in this throw-away test guest: on the
    // emulated Nehalem the kernel turns on page-table isolation, and under TCG
    // every system call then cost ~15 us instead of ~0.46 us (getppid loop,
    // 6.12 guest); boot to shell 10.4 s -> 5.9 s.
    'mitigations=off',
    // Under heavy host load the emulated timer can miss the kernel's early
    // IO-APIC timer check, and 6.1 then panics in boot ("IO-APIC + timer
    // doesn't work!", seen twice at load ~12); the check has nothing to find
    // in this fixed virtual machine.
    'no_timer_check',
    'rdinit=/init',
    `rdmavm.init=${join(ROOT, 'scripts', 'vm', 'guest-init.sh')}`,
    `rdmavm.job=${job}`,
    // Extra kernel arguments for experiments (e.g. mitigations=off).
    ...(env.RDMA_REGCACHE_VM_APPEND ?? '').split(/\s+/).filter(Boolean),
  ].join(' ');
}

// Two NUMA nodes sharing the memory equally, so page migration between
// nodes (move_pages, mbind) can be tested; the guest sees node0 and node1.
function numaArgs(memory) {
  const m = /^(\d+)([MG])$/i.exec(memory);
  const mib = Number(m[1]) * (m[2].toUpperCase() === 'G' ? 1024 : 1);
  const half = Math.floor(mib / 2);
  return [
    '-object', `memory-backend-ram,id=mem0,size=${mib - half}M`,
    '-object', `memory-backend-ram,id=mem1,size=${half}M`,
    '-numa', 'node,nodeid=0,memdev=mem0',
    '-numa', 'node,nodeid=1,memdev=mem1',
  ];
}

/**
 * qemu's arguments for one guest: `options` from parseVmArgs, the unpacked
 * kernel, the guest's job folder; `nic` replaces `-nic none` (a guest on a wire).
 */
export function qemuArgs(options, kernelDir, kver, job, nic = ['-nic', 'none']) {
  return [
    '-accel', options.accel, '-cpu', options.cpu, '-smp', options.smp, '-m', options.memory,
    ...numaArgs(options.memory),
    '-kernel', join(kernelDir, 'root', 'boot', `vmlinuz-${kver}`),
    '-initrd', join(kernelDir, 'initramfs.cpio.gz'),
    '-append', kernelAppend(job),
    '-display', 'none', '-serial', 'stdio',
    ...monitorArgs(job),
    ...nic, '-no-reboot',
    '-fsdev', 'local,id=hostroot,path=/,security_model=none,multidevs=remap',
    '-device', 'virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot',
  ];
}

/**
 * The unix socket of a guest's qemu monitor, in its job folder; null when the
 * path is too long for a socket address (the guest then runs without one).
 */
export function monitorSocket(job) {
  const path = join(job, 'monitor.sock');
  return Buffer.byteLength(path) < 100 ? path : null;
}

function monitorArgs(job) {
  const path = monitorSocket(job);
  return ['-monitor', path ? `unix:${path},server=on,wait=off` : 'none'];
}

// The sysrq keys pressed before a guest that outlived its limit is killed: 9
// lets every later kernel line reach the serial console (the guests run at
// loglevel 5), w lists the tasks blocked in D state, l backtraces every CPU,
// t shows every task's state and stack. Then the log tells a hung guest from
// a slow one.
const DUMP_KEYS = ['9', 'w', 'l', 't'];

/**
 * Presses the dump keys on a running guest's emulated keyboard through its
 * qemu monitor and waits `settleMs` for the kernel to print. Resolves true
 * when the keys were sent, false when the guest has no monitor to reach
 * (never rejects: the kill that follows must happen anyway).
 */
export function dumpGuestTasks(job, { gapMs = 300, settleMs = 5000 } = {}) {
  const path = monitorSocket(job);
  return new Promise((resolve) => {
    if (!path || !existsSync(path)) {
      resolve(false);
      return;
    }
    let done = false;
    const sock = createConnection(path);
    const finish = (sent) => {
      if (done) return;
      done = true;
      clearTimeout(guard);
      sock.destroy();
      resolve(sent);
    };
    const guard = setTimeout(() => finish(false), gapMs * DUMP_KEYS.length + settleMs + 3000);
    sock.on('error', () => finish(false));
    sock.resume(); // the monitor's banner and echoes are not needed
    sock.on('connect', async () => {
      for (const key of DUMP_KEYS) {
        sock.write(`sendkey alt-sysrq-${key}\n`);
        // One key at a time: sendkey holds a key 100 ms before releasing it.
        await sleep(gapMs);
      }
      await sleep(settleMs);
      finish(true);
    });
  });
}

// Kernel lines every boot prints at loglevel 5 that say nothing about the run,
// and the guest's own power-off messages.
export const BOOT_NOISE = new RegExp(`^\\[\\s*[\\d.]+\\] (${[
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

function writeOut(stream, s) {
  try {
    stream.write(s);
  } catch {
    // The terminal went away: the guest still runs to its end or its signal.
  }
}

/**
 * The terminal's view of a serial stream: line by line, less the boot noise
 * (a partial line is shown after a short wait, so prompts and progress still
 * appear). `prefix` goes before every line shown (a second guest's output).
 */
export function liner(out, prefix = '') {
  let pending = '';
  let timer;
  let open = false;
  const show = (s) => {
    if (!prefix) return writeOut(out, s);
    // The prefix starts every shown line, a line continued after a pause too.
    const text = s.replace(/\n(?=.)/g, `\n${prefix}`);
    writeOut(out, open ? text : `${prefix}${text}`);
    open = !s.endsWith('\n');
  };
  const flushPartial = () => {
    timer = undefined;
    // What may be the start of a kernel line ("[   40.9] sysrq: Power Off")
    // waits for its end, so the noise filter sees it whole, however the serial
    // line split it; the part before it is shown.
    const cut = /\[[\s\d.]*(\][^\n]*)?$/.exec(pending)?.index ?? pending.length;
    if (cut === 0) return;
    show(pending.slice(0, cut));
    pending = pending.slice(cut);
  };
  return {
    push(text) {
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop();
      for (const line of lines) {
        const noise = line.search(BOOT_NOISE_AT_END);
        if (noise < 0) show(`${line}\n`);
        else if (noise > 0) show(line.slice(0, noise));
      }
      if (timer) clearTimeout(timer);
      if (pending) timer = setTimeout(flushPartial, 200);
    },
    end() {
      if (timer) clearTimeout(timer);
      const noise = pending.search(BOOT_NOISE_AT_END);
      if (pending) show(noise < 0 ? pending : pending.slice(0, noise));
      pending = '';
    },
  };
}

/**
 * Keeps a failed run's logs in a new folder under .cache/vm/failed (named
 * `<start time>-<kernel>-<pid>`) and drops the oldest beyond `keep`. `files`
 * maps a file name in that folder to its text, or to `{ copy: path }` (a file
 * or folder, copied when it exists).
 */
export function keepFailedRun({ startedAt, kernel, keep, files }) {
  const stamp = startedAt.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const dir = join(FAILED, `${stamp}-${kernel}-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    if (typeof content === 'string') writeFileSync(join(dir, name), content);
    else if (content && existsSync(content.copy)) cpSync(content.copy, join(dir, name), { recursive: true });
  }
  const all = readdirSync(FAILED).filter((n) => /^\d{8}T\d{6}Z-/.test(n)).sort();
  for (const old of all.slice(0, Math.max(0, all.length - keep))) rmSync(join(FAILED, old), { recursive: true, force: true });
  return dir;
}

/**
 * The prepared guest kernel of a series (6.1, 6.12): its unpacked folder, its
 * version and the module built for it (RDMA_REGCACHE_VM_KO: another build to
 * load, e.g. a copy kept for a long measurement). `{ error }` when set-up has
 * not prepared it.
 */
export function guestKernel(series, env = process.env) {
  const link = join(CACHE, series);
  if (!existsSync(join(link, 'ready'))) {
    return { error: `vm: guest kernel ${series} is not prepared; run: RDMA_REGCACHE_KERNELS=${series} bash scripts/setup.sh` };
  }
  const kernelDir = realpathSync(link);
  const kver = readFileSync(join(kernelDir, 'kver'), 'utf8').trim();
  const ko = env.RDMA_REGCACHE_VM_KO || join(kernelDir, 'kmod', 'ummunotify.ko');
  return { kernelDir, kver, ko };
}
