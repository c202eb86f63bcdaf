// `rdma-regcache info` on the host: no RDMA device, no module. It must say so,
// say what to do, and exit non-zero. (test/vm/cli-info.test.ts: with both.)
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { InfoReport } from '../../src/cli/info.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const run = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { encoding: 'utf8', timeout: 60_000 });

describe('rdma-regcache info (host)', () => {
  it('--json: no device is an error with a fix; the monitor choice and limits are reported', () => {
    const r = run('info', '--json');
    expect(r.status, r.stderr).toBe(1);
    const info = JSON.parse(r.stdout) as InfoReport;
    expect(info.ok).toBe(false);
    expect(info.addon.loaded).toBe(true);
    expect(info.devices).toEqual([]);
    expect(info.findings[0]).toMatchObject({ level: 'error', what: expect.stringMatching(/no RDMA device/), fix: expect.stringMatching(/rdma_rxe/) });
    expect(info.module.loaded).toBe(false);
    // This host has no module but does have userfaultfd, so 'auto' falls back to it and warns.
    expect(info.monitor.auto).toBe('userfaultfd');
    expect(info.monitor.reason).toMatch(/\/dev\/ummunotify does not exist/);
    expect(info.findings.some((f) => f.level === 'warning' && /dkms/.test(f.fix))).toBe(true);
    expect(info.memlock.soft).not.toBeNull();
    expect(typeof info.pmix.present).toBe('boolean');
  });

  it('text: sections, the verdict and each fix; unknown commands exit 2', () => {
    const r = run('info');
    expect(r.status).toBe(1);
    for (const s of ['RDMA devices', 'memory monitor', 'ummunotify module', 'RLIMIT_MEMLOCK', 'PMIx', 'NOT READY', 'fix: ']) {
      expect(r.stdout).toContain(s);
    }
    expect(run('bogus').status).toBe(2);
    expect(run('--help').status).toBe(0);
  });
});
