// `rdma-regcache info` in the test VM: rxe0 on a veth pair with MTU 9000 and
// the project's module loaded. (test/unit/cli-info.test.ts: the host, with neither.)
import { describe, expect, it } from 'vitest';
import { collectInfo } from '../../src/cli/info.js';
import { renderInfo } from '../../src/cli/render.js';

describe('rdma-regcache info (VM)', () => {
  it('reports rxe0, its address, the module with its features, parameters and fdinfo, and no error', async () => {
    const info = await collectInfo();
    expect(info.findings.filter((f) => f.level === 'error')).toEqual([]);
    expect(info.ok).toBe(true);
    const dev = info.devices.find((d) => d.name === process.env.RDMA_REGCACHE_DEVICE);
    expect(dev).toBeDefined();
    const port = dev!.ports[0]!;
    expect(port).toMatchObject({ state: 'ACTIVE', linkLayer: 'Ethernet', activeMtu: 4096 });
    expect(port.netdevs.flatMap((n) => n.addresses)).toContain(process.env.RDMA_REGCACHE_IP);
    expect(port.gids.some((g) => g.ipv4 === process.env.RDMA_REGCACHE_IP && g.type === 'RoCE v2')).toBe(true);

    expect(info.monitor.auto).toBe('ummunotify');
    expect(info.module).toMatchObject({ loaded: true, version: '0.1.0', device: { mode: 'crw-rw-rw-' } });
    expect(info.module.features?.granted).toEqual(expect.arrayContaining(['MAPPING_ONLY', 'LIMIT']));
    for (const p of ['max_registrations', 'max_user_registrations', 'deferred_slots', 'registrations']) {
      expect(info.module.parameters[p]).toMatch(/^\d+$/);
    }
    // One "uid count" line per user with a file open (other tests' caches may hold some).
    expect(info.module.parameters.user_registrations).toMatch(/^(\d+ \d+\n?)*$/);
    expect(info.module.fdinfo['ummunotify-filter']).toBeDefined();
    expect(info.module.fdinfo['ummunotify-registrations']).toBe('0');
    // The guest runs as root with `ulimit -l unlimited`.
    expect(info.memlock).toMatchObject({ soft: 'unlimited', low: false });

    const text = renderInfo(info);
    expect(text).toContain('ready');
    expect(text).toContain('ummunotify-filter');
    console.log(text);
  });
});
