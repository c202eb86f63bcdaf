#!/usr/bin/env node
// npm start: the main job. Until the buffer-reuse demo lands it boots the test
// VM and shows what the library sees there: RDMA devices and the module state.
import { spawnSync } from 'node:child_process';

const inside = `node --input-type=module -e "
  const { listDevices } = await import('./dist/index.js');
  console.table(listDevices().map((d) => ({ name: d.name, guid: d.guid, port1: d.ports[0]?.state, link: d.ports[0]?.linkLayer })));
" && grep -H ummunotify /proc/modules && ls -l /dev/ummunotify`;
const r = spawnSync('node', ['scripts/vm/run.mjs', inside], { stdio: 'inherit' });
process.exit(r.status ?? 1);
