// The two-host test VM itself (npm run vm -- --hosts 2): runs on node1, with
// node2 beside it on the wire. Open MPI's mpirun starts ranks on both hosts
// with nothing else typed; ranks on node2 get what the harness promises; RDMA
// crosses the wire at MTU 4096. (The harness's host side: test/unit/vm-args.test.ts,
// test/unit/vm-harness.test.ts.)
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { runChild, type ChildRun } from '../child.js';

type Run = ChildRun;
const run = (cmd: string, args: string[], timeoutMs = 240_000) => runChild(cmd, args, { timeoutMs });

const RSH = 'scripts/vm/vm-rsh';

describe('two hosts: mpirun across node1 and node2', () => {
  let job: Run;
  let ranks: Array<Record<string, unknown>>;
  beforeAll(async () => {
    // Exactly what a user types: no agent, no MCA parameters, no --allow-run-as-root.
    job = await run('mpirun', ['--host', 'node1:2,node2:2', '-np', '4', 'node', 'test/hosts/fixtures/rank-report.mjs']);
    ranks = job.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  });

  it('starts 4 ranks with distinct PMIX_RANKs, 2 on each host', () => {
    expect(job.stderr).toBe('');
    expect(job.status).toBe(0);
    expect(ranks.map((r) => r.rank).sort()).toEqual(['0', '1', '2', '3']);
    expect(ranks.every((r) => r.size === '4')).toBe(true);
    expect(ranks.filter((r) => r.host === 'node1')).toHaveLength(2);
    expect(ranks.filter((r) => r.host === 'node2')).toHaveLength(2);
  });

  it("gives ranks on node2 node2's address, unlimited memlock, /dev/ummunotify and rxe0 at MTU 4096", () => {
    const byHost = (h: string) => ranks.filter((r) => r.host === h);
    expect(byHost('node2')).toHaveLength(2);
    for (const r of byHost('node2')) {
      expect(r).toMatchObject({
        ip: '192.0.2.2', device: 'rxe0', inVm: '1', memlock: 'unlimited', ummunotify: 'opened', activeMtu: 4096,
      });
    }
    for (const r of byHost('node1')) {
      expect(r).toMatchObject({
        ip: '192.0.2.1', device: 'rxe0', inVm: '1', memlock: 'unlimited', ummunotify: 'opened', activeMtu: 4096,
      });
    }
  });
});

describe('two hosts: the wire', () => {
  it('resolves both host names and runs a command on either node through vm-rsh, status passed back', async () => {
    const r = await run(RSH, ['node2', 'echo $(hostname) $RDMA_REGCACHE_IP; getent hosts node1; exit 7']);
    expect(r.stdout).toBe('node2 192.0.2.2\n192.0.2.1       node1\n');
    expect(r.status).toBe(7);
    // node1 serves too (a launch from node2, a check on both hosts).
    const back = await run(RSH, ['node1', 'echo $(hostname) $RDMA_REGCACHE_IP']);
    expect(back.stdout).toBe('node1 192.0.2.1\n');
    expect(back.status).toBe(0);
  });

  it('carries ib_write_bw from node1 to node2 over rxe0 at MTU 4096', async () => {
    const args = ['-d', 'rxe0', '-R', '-F', '-s', '65536', '-n', '500'];
    // The server on node2, started the way mpirun starts orted there.
    const server = run(RSH, ['node2', `ib_write_bw ${args.join(' ')}`]);
    let client: Run = { status: null, signal: null, stdout: '', stderr: '', ms: 0 };
    // The client retries until the server listens (it starts in a second or two).
    for (let attempt = 0; attempt < 30; attempt++) {
      await sleep(1000);
      client = await run('ib_write_bw', [...args, 'node2'], 120_000);
      if (client.status === 0 || !/connect|rdma_client/i.test(`${client.stdout}${client.stderr}`)) break;
    }
    const served = await server;
    expect(client.stderr).toBe('');
    expect(client.status).toBe(0);
    expect(served.status).toBe(0);
    expect(client.stdout).toMatch(/Mtu\s*:\s*4096\[B\]/);
    // The result line: bytes, iterations, peak, average (MB/s), message rate.
    const line = client.stdout.split('\n').find((l) => /^\s*65536\s+500\s/.test(l));
    expect(line).toBeDefined();
    expect(Number(line!.trim().split(/\s+/)[3])).toBeGreaterThan(0);
  });
});
