// npm run vm -- --hosts 2 [--kernel 6.1|6.12] [--timeout SECONDS] '<command>'
//
// Two test-VM guests, node1 (192.0.2.1) and node2 (192.0.2.2), each a qemu
// process with its own kernel, module and rxe0 on a virtio-net NIC. The NICs
// are joined by a wire that exists only between the two qemu processes: unix
// datagram sockets in the run's folder (no host networking, no TCP port on the
// host). The command runs on node1 (scripts/vm/node-init.sh has the guest's
// side: host names, vm-rsh as Open MPI's rsh agent, the environment); node2
// serves remote commands until it ends, then saves its kernel log and powers
// off. One time limit covers both; both kernel logs are checked; a guest that
// dies fails the run, named; a failed run keeps both guests' logs.
import { spawn } from 'node:child_process';
import {
  createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  BOOT_NOISE, CACHE, ROOT, dumpGuestTasks, guestExports, guestKernel, keepFailedRun, liner, qemuArgs, quote,
} from './guest.mjs';
import { guestKernelProblems, kernelReport, serialKernelProblems, taskDumpSummary } from './kernel-log.mjs';
import { prepareSlurm } from './slurm.mjs';

const NODES = [
  { name: 'node1', ip: '192.0.2.1', mac: '52:54:00:c0:02:01' },
  { name: 'node2', ip: '192.0.2.2', mac: '52:54:00:c0:02:02' },
];
// How long node2 may take to save its log and power off once node1 is done.
const STOP_GRACE_SECONDS = 60;

/** The qemu options of a node's NIC: its end of the wire, its MAC, MTU 9000. */
export function wireArgs(node, peer) {
  return [
    // Socket paths relative to qemu's working directory (the run's folder),
    // so a deep project path never reaches the 108-byte limit of a unix address.
    '-netdev', `dgram,id=wire,local.type=unix,local.path=${node.name}.sock,remote.type=unix,remote.path=${peer.name}.sock`,
    '-device', `virtio-net-pci,netdev=wire,mac=${node.mac},host_mtu=9000,speed=10000,duplex=full`,
  ];
}

/** The run's /etc/hosts, bind-mounted over the guests' (read-only) one. */
export function hostsFile() {
  return ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', ...NODES.map((n) => `${n.ip}\t${n.name}`), ''].join('\n');
}

/** Runs `command` on node1 of a fresh pair of guests; resolves to the exit status. */
export function runHosts(options, command) {
  const kernel = guestKernel(options.kernel);
  if (kernel.error) {
    console.error(kernel.error);
    return Promise.resolve(2);
  }
  const { kernelDir, kver, ko } = kernel;
  const keep = Number(process.env.RDMA_REGCACHE_VM_KEEP_FAILED || 20);
  const timeoutSeconds = options.timeout;

  // The run's folder, on the shared root: both guests read their job there and
  // write their status and kernel log; the wire's sockets and the hosts file
  // and node1's "stop" (node2 may power off) are there too.
  const job = join(CACHE, 'jobs', `${process.pid}-${Date.now()}`);
  const exports = `${guestExports()}\nexport PATH=${quote(process.env.PATH ?? '/usr/bin:/bin')}\n`;
  mkdirSync(job, { recursive: true });
  writeFileSync(join(job, 'hosts'), hostsFile());
  // --slurm: the run's slurm.conf and munge key (scripts/vm/slurm.mjs).
  const slurmEnv = options.slurm ? prepareSlurm(job, NODES, options) : [];
  for (const node of NODES) {
    const dir = join(job, node.name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'vm.env'), [
      `KROOT=${quote(join(kernelDir, 'root'))}`, `KO=${quote(ko)}`, `PROJECT=${quote(ROOT)}`,
      `GUEST_IP=${node.ip}`, `HOST_TTY=${process.stdout.isTTY ? 1 : 0}`,
      `NODE=${node.name}`, `MAC=${node.mac}`, `WIRE=${quote(job)}`, ...slurmEnv, '',
    ].join('\n'));
    writeFileSync(join(dir, 'env.sh'), exports);
  }
  writeFileSync(join(job, 'node1', 'job.sh'), `${exports}cd ${quote(ROOT)}\n${command}\n`);

  for (const s of [process.stdout, process.stderr]) s.on('error', () => {});
  const started = Date.now();
  const startedAt = new Date();
  const guests = NODES.map((node, i) => {
    const peer = NODES[1 - i];
    const dir = join(job, node.name);
    // node1's serial console is the run's output; node2's goes to stderr, each
    // line marked (boot noise filtered alike).
    const out = i === 0 ? liner(process.stdout) : liner(process.stderr, `${node.name}: `);
    const err = liner(process.stderr, i === 0 ? '' : `${node.name}: `);
    const serialLog = createWriteStream(join(dir, 'serial.log'));
    const qemu = spawn('qemu-system-x86_64', qemuArgs(options, kernelDir, kver, dir, wireArgs(node, peer)), {
      cwd: job, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const guest = {
      node, dir, qemu, out, err, serialLog, chunks: [], tail: '', readyAt: null, closed: false, killedBecause: null, dumpFrom: null, dumpSent: false,
    };
    for (const [stream, lines, tag] of [[qemu.stdout, out, ''], [qemu.stderr, err, 'qemu: ']]) {
      stream.setEncoding('utf8');
      stream.on('data', (c) => {
        const text = c.replaceAll('\r', '');
        const logged = tag ? text.replace(/^(?=.)/gm, tag) : text;
        guest.chunks.push(logged);
        serialLog.write(logged);
        // When the guest said it is ready (node1: once node2 answers too).
        if (guest.readyAt === null) {
          guest.tail = (guest.tail + text).slice(-256);
          if (/vm: (node\d )?ready \(/.test(guest.tail)) guest.readyAt = Date.now();
        }
        lines.push(text);
      });
    }
    return guest;
  });
  const [node1, node2] = guests;
  const kill = (guest, why) => {
    if (guest.closed) return;
    guest.killedBecause ??= why;
    guest.qemu.kill('SIGKILL');
  };

  let timedOut = false;
  const timer = setTimeout(async () => {
    timedOut = true;
    // Where each guest's tasks are, before the kill (see dumpGuestTasks).
    await Promise.all(guests.map(async (g) => {
      if (g.closed) return;
      g.dumpFrom = g.chunks.join('').length;
      g.dumpSent = await dumpGuestTasks(g.dir);
    }));
    for (const g of guests) kill(g, 'timeout');
  }, timeoutSeconds * 1000);
  let graceTimer;
  process.on('exit', () => {
    for (const g of guests) kill(g, 'exit');
  });
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
    process.on(sig, () => {
      for (const g of guests) kill(g, sig);
      rmSync(job, { recursive: true, force: true });
      process.exit(code);
    });
  }

  return new Promise((resolve) => {
    let startError;
    for (const g of guests) {
      g.qemu.on('error', (e) => {
        startError ??= e;
        for (const other of guests) kill(other, 'qemu failed to start');
      });
      g.qemu.on('close', () => {
        g.closed = true;
        g.out.end();
        g.err.end();
        g.serialLog.end();
        g.seconds = (Date.now() - started) / 1000;
        const other = guests.find((o) => o !== g);
        if (g === node1 && !other.closed) {
          // node2 may go: it saves its kernel log and powers off (node1 left
          // "stop" already unless it died).
          if (!existsSync(join(job, 'stop'))) writeFileSync(join(job, 'stop'), '');
          graceTimer = setTimeout(() => kill(node2, 'no power-off'), STOP_GRACE_SECONDS * 1000);
        } else if (g === node2 && !other.closed && !g.killedBecause && !existsSync(join(job, 'stop'))) {
          // node2 went before node1's job ended: it died, or it failed to set
          // up; node1's job cannot go on. (After "stop", node2 may well power
          // off before node1 has: node1 is finishing on its own.)
          kill(node1, 'node2 stopped');
        }
        if (guests.every((o) => o.closed)) {
          clearTimeout(timer);
          clearTimeout(graceTimer);
          resolve(startError ? failStart(startError) : conclude());
        }
      });
    }
  });

  function failStart(err) {
    console.error(`vm: cannot start qemu-system-x86_64: ${err.message} (run: bash scripts/setup.sh)`);
    rmSync(job, { recursive: true, force: true });
    return 2;
  }

  // A guest's serial log up to the sysrq dump (the dump is full of call
  // traces that are no kernel problem).
  // (A declaration: it sits after the return above, where a const would never be set.)
  function beforeDump(g) {
    const serial = g.chunks.join('');
    return g.dumpFrom === null ? serial : serial.slice(0, g.dumpFrom);
  }

  function conclude() {
    const seconds = (Date.now() - started) / 1000;
    let status;
    const reasons = [];
    const statusOf = (g) => {
      const file = join(g.dir, 'status');
      if (!existsSync(file)) return undefined;
      const text = readFileSync(file, 'utf8').trim();
      return /^\d+$/.test(text) ? Number(text) : 125;
    };
    const dead = [];
    if (timedOut) {
      console.error(`vm: the guests did not finish within ${timeoutSeconds} s and were killed (raise RDMA_REGCACHE_VM_TIMEOUT or --timeout)`);
      status = 124;
      reasons.push('timeout');
    } else {
      for (const g of guests) {
        const s = statusOf(g);
        if (g.killedBecause === 'node2 stopped' && s === undefined) {
          console.error(`vm: ${g.node.name} was stopped because node2 stopped first`);
        } else if (g.killedBecause === 'no power-off') {
          console.error(`vm: ${g.node.name} did not power off within ${STOP_GRACE_SECONDS} s after node1 ended and was killed`);
          reasons.push(`${g.node.name} no power-off`);
        } else if (s === undefined) {
          console.error(`vm: ${g.node.name} stopped after ${g.seconds.toFixed(1)} s without reporting a status (kernel panic or crash?)`);
          dead.push(g);
          reasons.push(`${g.node.name} no status`);
        } else if (g === node2 && s !== 0) {
          console.error(`vm: ${g.node.name} failed (status ${s}; its set-up, or its server)`);
          reasons.push(`${g.node.name} status ${s}`);
        }
      }
      const s1 = statusOf(node1);
      if (dead.length > 0) status = 125;
      else if (s1 === undefined) status = 125;
      else status = s1 !== 0 ? s1 : reasons.length > 0 ? 1 : 0;
      if (s1 !== undefined && s1 !== 0) reasons.unshift(`node1 status ${s1}`);
    }
    // Both guests' kernel logs, checked as a single guest's: the log each saved
    // at the end and what its kernel printed on its serial console.
    for (const g of guests) {
      const file = join(g.dir, 'dmesg');
      const dmesg = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
      if (dmesg !== undefined) writeFileSync(join(CACHE, `last-dmesg-${options.kernel}-${g.node.name}.txt`), dmesg);
      const serial = beforeDump(g);
      const problems = [...new Set([...(dmesg ? guestKernelProblems(dmesg) : []), ...serialKernelProblems(serial)])];
      if (problems.length > 0) {
        console.error(`vm: ${g.node.name}'s kernel log reports problems:\n${problems.slice(0, 40).join('\n')}${problems.length > 40 ? `\n... (${problems.length - 40} more)` : ''}`);
        if (status === 0) status = 1;
        reasons.push(`${g.node.name} kernel problems`);
      }
    }
    for (const g of timedOut ? guests : dead) {
      const report = kernelReport(beforeDump(g));
      console.error(report.found
        ? `vm: ${g.node.name}'s kernel report from its serial log:\n${report.lines.join('\n')}`
        : `vm: no kernel report on ${g.node.name}'s serial console; its last lines:\n${report.lines.filter((l) => l && !BOOT_NOISE.test(l)).join('\n')}`);
    }
    for (const g of timedOut ? guests : []) {
      if (g.dumpFrom === null) continue;
      const summary = taskDumpSummary(g.chunks.join('').slice(g.dumpFrom));
      console.error(summary.length > 0
        ? `vm: where ${g.node.name}'s CPUs and tasks were at the time limit (sysrq w, l, t; the whole dump is in the kept serial log):\n${summary.join('\n')}`
        : `vm: no task dump from ${g.node.name}: ${g.dumpSent ? 'its kernel did not take the sysrq keys within 5 s (hung with interrupts off?)' : 'its qemu monitor could not be reached'}`);
    }
    // Both ready: node1 says so once node2 answers.
    const bootSeconds = node1.readyAt ? (node1.readyAt - started) / 1000 : null;
    const node2Seconds = node2.readyAt ? (node2.readyAt - started) / 1000 : null;
    if (status !== 0 && keep > 0) {
      const files = {
        'command.txt': `${command}\n`,
        'run.json': `${JSON.stringify({
          hosts: 2, kernel: options.kernel, kver, cpu: options.cpu, accel: options.accel, smp: options.smp, memory: options.memory,
          command, status, reason: reasons.join(', ') || null, seconds, bootSeconds, node2BootSeconds: node2Seconds, started: startedAt.toISOString(),
        }, null, 2)}\n`,
      };
      for (const g of guests) {
        files[`${g.node.name}/serial.log`] = g.chunks.join('');
        files[`${g.node.name}/dmesg.txt`] = { copy: join(g.dir, 'dmesg') };
        // --slurm: the daemons' logs (scripts/vm/slurm.sh, slurm_keep_logs).
        files[`${g.node.name}/slurm`] = { copy: join(g.dir, 'slurm-logs') };
      }
      const dir = keepFailedRun({ startedAt, kernel: `${options.kernel}-hosts2`, keep, files });
      console.error(`vm: serial logs and kernel logs of both guests of this failed run: ${dir}`);
    }
    if (process.env.RDMA_REGCACHE_VM_VERBOSE) {
      console.error(`vm: 2 hosts, ${kver}, -cpu ${options.cpu} -accel ${options.accel} -smp ${options.smp} -m ${options.memory}, node2 ready after ${node2Seconds?.toFixed(1) ?? '?'} s, both after ${bootSeconds?.toFixed(1) ?? '?'} s, ${seconds.toFixed(1)} s, status ${status}`);
    }
    rmSync(job, { recursive: true, force: true });
    return status;
  }
}
