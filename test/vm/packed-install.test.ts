// The installed package's consumer (test/unit/packed-install.test.ts built it
// on the host, outside the repository) runs its put/get over rxe0, and the
// installed CLI finds the device and the module.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONSUMER, READY } from '../packed/consumer.mjs';
import { runChild } from '../child.js';

describe('the installed package (consumer project from the host step)', () => {
  it('runs the consumer put/get and its CLI says ready', async () => {
    if (!existsSync(READY)) {
      throw new Error(
        `${READY} is missing: the host step (npx vitest run --project unit test/unit/packed-install.test.ts) ` +
          'prepares the consumer project; npm test runs it before the VM groups',
      );
    }
    expect(JSON.parse(readFileSync(READY, 'utf8'))).toHaveProperty('tarball');
    const r = await runChild(process.execPath, [join(CONSUMER, 'dist', 'put-get.js')], { cwd: CONSUMER });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('put: 1.5,2.5,3.5,4.5');
    expect(r.stdout).toContain('get: 1.5,42,3.5,4.5');
    expect(r.stdout).toContain('consumer: ok');

    const info = await runChild(join(CONSUMER, 'node_modules', '.bin', 'rdma-regcache'), ['info', '--json'], { cwd: CONSUMER });
    expect(info.status, info.stderr).toBe(0);
    expect(JSON.parse(info.stdout)).toMatchObject({ ok: true, monitor: { auto: 'ummunotify' } });
  });
});
