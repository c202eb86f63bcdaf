#!/usr/bin/env node
// npm run vm -- [--kernel 6.1|6.12] [--timeout SECONDS] <shell command...>
//
// Boots the test VM (Debian kernel under qemu, host root over 9p, rxe0 and
// /dev/ummunotify up), runs the command there as root in the project root,
// streams its output and exits with its status. A guest that outlives the time
// limit is killed (exit 124); a guest that dies without a status (panic) exits
// 125; a guest kernel log with BUG/WARNING/Oops/... fails the run.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { guestKernelProblems } from './kernel-log.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CACHE = join(ROOT, '.cache', 'vm');
const GUEST_IP = '192.0.2.1';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    kernel: { type: 'string', default: process.env.RDMA_REGCACHE_KERNEL ?? '6.1' },
    timeout: { type: 'string', default: process.env.RDMA_REGCACHE_VM_TIMEOUT ?? '900' },
    memory: { type: 'string', default: process.env.RDMA_REGCACHE_VM_MEMORY ?? '3G' },
  },
});
const command = positionals.join(' ');
if (!command) {
  console.error('usage: npm run vm -- [--kernel 6.1|6.12] [--timeout SECONDS] <shell command>');
  process.exit(2);
}
const timeoutSeconds = Number(values.timeout);
if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
  console.error(`vm: --timeout must be a positive number of seconds, got '${values.timeout}'`);
  process.exit(2);
}

const kernelLink = join(CACHE, values.kernel);
if (!existsSync(join(kernelLink, 'ready'))) {
  console.error(`vm: guest kernel ${values.kernel} is not prepared; run: RDMA_REGCACHE_KERNELS=${values.kernel} bash scripts/setup.sh`);
  process.exit(2);
}
const kernelDir = realpathSync(kernelLink);
const kver = readFileSync(join(kernelDir, 'kver'), 'utf8').trim();
const ko = join(kernelDir, 'kmod', 'ummunotify.ko');

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
  'loglevel=3',
  'panic=-1',
  'rdinit=/init',
  `rdmavm.init=${join(ROOT, 'scripts', 'vm', 'guest-init.sh')}`,
  `rdmavm.job=${job}`,
].join(' ');
const qemuArgs = [
  '-accel', 'tcg,thread=multi', '-cpu', 'max', '-smp', '2', '-m', values.memory,
  '-kernel', join(kernelDir, 'root', 'boot', `vmlinuz-${kver}`),
  '-initrd', join(kernelDir, 'initramfs.cpio.gz'),
  '-append', append,
  '-display', 'none', '-monitor', 'none', '-serial', 'stdio',
  '-nic', 'none', '-no-reboot',
  '-fsdev', 'local,id=hostroot,path=/,security_model=none,multidevs=remap',
  '-device', 'virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot',
];

const started = Date.now();
const qemu = spawn('qemu-system-x86_64', qemuArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
// The serial line turns \n into \r\n; the guest's own power-off messages are noise.
const strip = (chunk) =>
  chunk.toString('utf8').replaceAll('\r', '').replace(/^\[\s*[\d.]+\] (sysrq: Power Off|reboot: Power down)\n/gm, '');
qemu.stdout.on('data', (c) => process.stdout.write(strip(c)));
qemu.stderr.on('data', (c) => process.stderr.write(strip(c)));

let timedOut = false;
const timer = setTimeout(() => {
  timedOut = true;
  qemu.kill('SIGKILL');
}, timeoutSeconds * 1000);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { qemu.kill('SIGKILL'); process.exit(130); });

qemu.on('error', (err) => {
  console.error(`vm: cannot start qemu-system-x86_64: ${err.message} (run: bash scripts/setup.sh)`);
  process.exit(2);
});

qemu.on('exit', () => {
  clearTimeout(timer);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  let status;
  if (timedOut) {
    console.error(`vm: guest did not finish within ${timeoutSeconds} s and was killed (raise RDMA_REGCACHE_VM_TIMEOUT or --timeout)`);
    status = 124;
  } else if (!existsSync(join(job, 'status'))) {
    console.error(`vm: guest stopped after ${seconds} s without reporting a status (kernel panic or crash?)`);
    status = 125;
  } else {
    status = Number(readFileSync(join(job, 'status'), 'utf8').trim());
  }
  if (existsSync(join(job, 'dmesg'))) {
    const log = readFileSync(join(job, 'dmesg'), 'utf8');
    writeFileSync(join(CACHE, `last-dmesg-${values.kernel}.txt`), log);
    const problems = guestKernelProblems(log);
    if (problems.length > 0) {
      console.error(`vm: the guest kernel log reports problems:\n${problems.join('\n')}`);
      if (status === 0) status = 1;
    }
  }
  if (process.env.RDMA_REGCACHE_VM_VERBOSE) console.error(`vm: ${kver}, ${seconds} s, status ${status}`);
  rmSync(job, { recursive: true, force: true });
  process.exit(status);
});
