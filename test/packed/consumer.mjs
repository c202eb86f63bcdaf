// Where the packed-install test keeps its consumer project: outside the
// repository, under a path with spaces (the loader must cope), in /var/tmp
// because the test VM sees the host's files there (its /tmp is a tmpfs).
// test/unit/packed-install.test.ts fills it on the host; test/vm/packed-install.test.ts
// runs its put/get in the VM.
import { createHash } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const tag = createHash('sha1').update(ROOT).digest('hex').slice(0, 8);
/** The consumer project (one per checkout). */
export const CONSUMER = join('/var/tmp', `rdma-regcache packed install ${tag}`, 'consumer app');
/** Written last by the host step: { tarball, seconds, at }. */
export const READY = join(CONSUMER, 'ready.json');
