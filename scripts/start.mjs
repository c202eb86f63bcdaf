#!/usr/bin/env node
// npm start [-- --quick | demo options]: the buffer-reuse demo. Set-up has run
// (package.json); the demo needs rxe and /dev/ummunotify, which this host
// lacks, so it runs inside the test VM, with its results written to
// bench/results/demo/ on the shared filesystem.
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2).map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(' ');
const timeout = process.env.RDMA_REGCACHE_VM_TIMEOUT ?? '1800';
const r = spawnSync('node', ['scripts/vm/run.mjs', '--timeout', timeout, `npx tsx bench/reuse/demo.ts ${args}`], {
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
