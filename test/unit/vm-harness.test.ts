import { describe, expect, it } from 'vitest';
import { guestKernelProblems, serialKernelProblems, taskDumpSummary } from '../../scripts/vm/kernel-log.mjs';
import { runChild } from '../child.js';

// Boots the real VM: these check the harness itself (exit status passthrough,
// time limit), so they run on the host, a few seconds each.
// Asynchronous, so the test worker keeps answering vitest while a guest runs.
function vm(args: string[]) {
  // These runs fail on purpose: keep no failure logs for them (they would
  // push real failures out of .cache/vm/failed/).
  return runChild('node', ['scripts/vm/run.mjs', ...args], { timeoutMs: 120_000, env: { RDMA_REGCACHE_VM_KEEP_FAILED: '0' } });
}

describe('npm run vm', () => {
  it('passes a failing guest command through as a failure with its status', async () => {
    // Also: words after the command are the command's, options included; multi-byte
    // output arrives whole however the serial line splits it; the host's root is read-only.
    const run = await vm([
      'echo', 'from-the-guest', '--kernel', 'x;',
      "printf '─│┌┐%.0s' $(seq 3000); echo;",
      'touch /etc/rdma-regcache-probe 2>/dev/null || echo read-only-root;',
      "printf 'open-line\\033[?25h'; exit 3",
    ]);
    expect(run.stdout).toContain('from-the-guest --kernel x');
    expect(run.stdout).toContain(`${'─│┌┐'.repeat(3000)}\n`);
    expect(run.stdout).not.toContain('\ufffd');
    expect(run.stdout).toContain('read-only-root');
    // The power-off message is filtered even after a line the guest left open.
    expect(run.stdout).toMatch(/open-line\u001b\[\?25h$/);
    expect(run.stdout).not.toMatch(/sysrq: Power Off|reboot: Power down/);
    expect(run.status).toBe(3);
  });

  it("rejects an option of its own it does not know, before booting", async () => {
    const run = await vm(['--bogus', 'true']);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/Unknown option '--bogus'/);
  });

  it('kills a guest that outlives the time limit, says so and shows where its tasks were', async () => {
    const run = await vm(['--timeout', '25', 'sleep 100000']);
    expect(run.status).toBe(124);
    expect(run.stderr).toMatch(/did not finish within 25 s/);
    // The sysrq dump taken before the kill: the command's own task, asleep in
    // nanosleep, and no call trace of the dump counted as a kernel problem.
    expect(run.stderr).toMatch(/where the guest's CPUs and tasks were at the time limit/);
    expect(run.stderr).toMatch(/task:sleep\s+state:S[^\n]*\n(  .*\n)*  .*nanosleep/);
    expect(run.stderr).not.toMatch(/kernel log reports problems/);
  });
});

describe('npm run vm -- --hosts 2', () => {
  it('fails the run when node2 dies, naming it and showing its panic, and stops node1', async () => {
    const run = await vm(['--hosts', '2', '--timeout', '110', 'scripts/vm/vm-rsh node2 "echo c >/proc/sysrq-trigger"; sleep 1000']);
    expect(run.status).toBe(125);
    expect(run.stderr).toMatch(/vm: node2 stopped after [\d.]+ s without reporting a status/);
    expect(run.stderr).toMatch(/vm: node2's kernel report from its serial log:\n(.*\n)*.*Kernel panic - not syncing: sysrq triggered crash/);
    expect(run.stderr).toContain('vm: node1 was stopped because node2 stopped first');
  });
});

describe('guest kernel log check', () => {
  it('flags warnings, oopses and refcount errors, and nothing else', () => {
    const log = [
      '[    1.0] rxe0: added veth0',
      '[    2.0] WARNING: CPU: 1 PID: 7 at mm/mmu_notifier.c:10 foo+0x1/0x2',
      '[    3.0] refcount_t: underflow; use-after-free.',
      '[    4.0] general protection fault, probably for non-canonical address',
      '[    5.0] BUG: kernel NULL pointer dereference',
      '[    6.0] Oops: 0000 [#1] PREEMPT SMP',
    ].join('\n');
    expect(guestKernelProblems(log)).toHaveLength(5);
    expect(guestKernelProblems('[ 1.0] ummunotify: loaded\n[ 2.0] BUGGY is not a bug')).toEqual([]);
  });

  it("leaves perftest's own user-space faults to the bench's record, not other processes'", () => {
    const perftest = '[   63.1] traps: ib_write_lat[235] general protection fault ip:7fe862fb0472 sp:7ffeb31e0ba0 error:0 in librdmacm.so.1.3.44.0[7fe862faa000+15000]';
    const node = '[   64.2] traps: node[301] general protection fault ip:55d0c0ffee00 sp:7ffc00000000 error:0 in node[55d0c0000000+2000000]';
    expect(guestKernelProblems(perftest)).toEqual([]);
    expect(serialKernelProblems(perftest)).toEqual([]);
    expect(guestKernelProblems([perftest, node].join('\n'))).toEqual([node]);
    expect(serialKernelProblems(node)).toEqual([node]);
  });
});

describe('sysrq task dump summary', () => {
  it('keeps CPU backtraces, user tasks and blocked kernel threads, and drops sleeping kernel threads', () => {
    const dump = [
      '[   30.1] sysrq: Show Blocked State',
      '[   30.2] task:kworker/0:1    state:D stack:0     pid:40    tgid:40    ppid:2      flags:0x00004000',
      '[   30.2] Call Trace:',
      '[   30.2]  umn_flush+0x10/0x20 [ummunotify]',
      '[   30.3] NMI backtrace for cpu 0',
      '[   30.3]  rxe_poll_cq+0x1/0x2',
      '[   30.4] task:ksoftirqd/0     state:S stack:0     pid:12    ppid:2      flags:0x00004000',
      '[   30.4] Call Trace:',
      '[   30.4]  smpboot_thread_fn+0x1/0x2',
      '[   30.5] task:node            state:R  running task     stack:0     pid:150   ppid:143    flags:0x00000002',
      '[   30.5] Call Trace:',
      '[   30.5]  ib_uverbs_write+0x1/0x2',
      '',
    ].join('\n');
    const summary = taskDumpSummary(dump);
    expect(summary[0]).toMatch(/^task:kworker\/0:1 +state:D/);
    expect(summary).toContain('  umn_flush+0x10/0x20 [ummunotify]');
    expect(summary).toContain('NMI backtrace for cpu 0');
    expect(summary.some((l) => l.includes('ksoftirqd'))).toBe(false);
    expect(summary.some((l) => l.includes('smpboot_thread_fn'))).toBe(false);
    expect(summary).toContain('  ib_uverbs_write+0x1/0x2');
    expect(taskDumpSummary('[ 1.0] no dump here')).toEqual([]);
  });
});
