import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { guestKernelProblems } from '../../scripts/vm/kernel-log.mjs';

// Boots the real VM: these check the harness itself (exit status passthrough,
// time limit), so they run on the host, a few seconds each.
function vm(args: string[]) {
  return spawnSync('node', ['scripts/vm/run.mjs', ...args], { encoding: 'utf8', timeout: 120_000 });
}

describe('npm run vm', () => {
  it('passes a failing guest command through as a failure with its status', () => {
    // Also: words after the command are the command's, options included; multi-byte
    // output arrives whole however the serial line splits it; the host's root is read-only.
    const run = vm([
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

  it("rejects an option of its own it does not know, before booting", () => {
    const run = vm(['--bogus', 'true']);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/Unknown option '--bogus'/);
  });

  it('kills a guest that outlives the time limit and says so', () => {
    const run = vm(['--timeout', '25', 'sleep 100000']);
    expect(run.status).toBe(124);
    expect(run.stderr).toMatch(/did not finish within 25 s/);
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
});
