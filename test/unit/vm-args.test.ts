import { describe, expect, it, test } from 'vitest';
import { parseVmArgs } from '../../scripts/vm/guest.mjs';
import { hostsFile, wireArgs } from '../../scripts/vm/hosts.mjs';

// The harness's command line (scripts/vm/run.mjs), without booting anything.
describe('npm run vm: options', () => {
  it('keeps one guest, 3G and the defaults when --hosts is not given', () => {
    const r = parseVmArgs(['echo', 'hi'], {});
    expect(r.error).toBeUndefined();
    expect(r.options).toEqual({
      hosts: 1, kernel: '6.1', timeout: 900, memory: '3G', cpu: 'Nehalem', accel: 'tcg,thread=single', smp: '2',
    });
    expect(r.command).toBe('echo hi');
  });

  it('takes --hosts 2 (2G per guest by default) and leaves later options to the command', () => {
    const r = parseVmArgs(['--hosts', '2', '--kernel=6.12', '--timeout', '60', 'mpirun', '--host', 'node1:2,node2:2', '-np', '4', 'true'], {});
    expect(r.options).toMatchObject({ hosts: 2, kernel: '6.12', timeout: 60, memory: '2G' });
    expect(r.command).toBe('mpirun --host node1:2,node2:2 -np 4 true');
    expect(parseVmArgs(['--hosts=2', '--memory', '1536M', '--', '--x'], {}).options).toMatchObject({ hosts: 2, memory: '1536M' });
    expect(parseVmArgs(['--hosts', '2', 'x'], { RDMA_REGCACHE_VM_MEMORY: '1G' }).options?.memory).toBe('1G');
  });

  it('rejects a host count, time limit or memory size it cannot use', () => {
    expect(parseVmArgs(['--hosts', '3', 'x'], {}).error).toMatch(/--hosts must be 1 or 2, got '3'/);
    expect(parseVmArgs(['--timeout', '0', 'x'], {}).error).toMatch(/--timeout must be a positive number/);
    expect(parseVmArgs(['--memory', 'lots', 'x'], {}).error).toMatch(/--memory must look like 3G/);
    expect(parseVmArgs(['--bogus', 'x'], {}).error).toMatch(/Unknown option '--bogus'/);
    expect(parseVmArgs(['--hosts', '2'], {}).error).toMatch(/^usage:/);
  });
});

describe('two-host wire', () => {
  it('joins each node to the other with its own MAC and MTU 9000, by relative socket paths', () => {
    const a = wireArgs({ name: 'node1', mac: '52:54:00:c0:02:01' }, { name: 'node2' }).join(' ');
    const b = wireArgs({ name: 'node2', mac: '52:54:00:c0:02:02' }, { name: 'node1' }).join(' ');
    expect(a).toContain('local.path=node1.sock,remote.type=unix,remote.path=node2.sock');
    expect(b).toContain('local.path=node2.sock,remote.type=unix,remote.path=node1.sock');
    expect(a).toMatch(/mac=52:54:00:c0:02:01,host_mtu=9000/);
    expect(b).toMatch(/mac=52:54:00:c0:02:02,host_mtu=9000/);
    expect(`${a} ${b}`).not.toMatch(/tcp|hostfwd|-nic user/);
  });

  it('names both nodes in the hosts file', () => {
    expect(hostsFile()).toMatch(/^192\.0\.2\.1\tnode1$/m);
    expect(hostsFile()).toMatch(/^192\.0\.2\.2\tnode2$/m);
    expect(hostsFile()).toMatch(/^127\.0\.0\.1\tlocalhost$/m);
  });
});

test("guests do not get the host's NODE (npm sets it; the two-host guests name themselves with it)", async () => {
  const { guestExports } = await import('../../scripts/vm/guest.mjs');
  const lines = guestExports({ NODE: '/usr/bin/node', RDMA_REGCACHE_X: 'kept' });
  expect(lines).not.toMatch(/export NODE=/);
  expect(lines).toMatch(/export RDMA_REGCACHE_X='kept'/);
});
