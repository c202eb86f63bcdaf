import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { listDevices } from '../../src/index.js';

describe('inside the test VM', () => {
  it('listDevices() sees rxe0 with an active Ethernet port', () => {
    const rxe = listDevices().find((d) => d.name === 'rxe0');
    expect(rxe, 'rxe0 missing from listDevices()').toBeDefined();
    expect(rxe!.guid).toMatch(/^[0-9a-f]{4}(:[0-9a-f]{4}){3}$/);
    expect(rxe!.ports).toHaveLength(1);
    expect(rxe!.ports[0]).toMatchObject({ port: 1, state: 'ACTIVE', linkLayer: 'Ethernet' });
  });

  it('/dev/ummunotify is a character device anyone may open', () => {
    const st = statSync('/dev/ummunotify');
    expect(st.isCharacterDevice()).toBe(true);
    expect(st.mode & 0o777).toBe(0o666);
  });
});
