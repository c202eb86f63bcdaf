#!/usr/bin/env node
/**
 * The `rdma-regcache` command (package.json "bin").
 *
 *   npx rdma-regcache info [--json]   what this machine offers and what is missing;
 *                                     exit status 1 when the library cannot run here
 */
import { parseArgs } from 'node:util';
import { collectInfo } from './info.js';
import { renderInfo } from './render.js';

const USAGE = `usage: rdma-regcache info [--json]

  info     RDMA devices, ports, GIDs and IP addresses; the memory monitor
           'auto' picks and why; the ummunotify module's version, features
           and parameters; RLIMIT_MEMLOCK; userfaultfd; PMIx. Exit status 1
           with what to do when this machine cannot run the library.
  --json   the same as one JSON object
`;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    process.stderr.write(`rdma-regcache: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const [command = 'info', ...rest] = positionals;
  if (command !== 'info' || rest.length > 0) {
    process.stderr.write(`rdma-regcache: unknown command '${[command, ...rest].join(' ')}'\n${USAGE}`);
    return 2;
  }
  const report = await collectInfo();
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : renderInfo(report));
  return report.ok ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
