// PMIx binding (native/pmix) and its wrapper (src/world/pmix.ts), exercised by
// real jobs: Open MPI's mpirun starts node processes on this host, each runs
// test/unit/fixtures/pmix-rank.ts and writes what it saw to a JSON file.
// Children run asynchronously (spawnSync would block vitest's worker RPC).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { native } from '../../src/native.js';
import { PmixError } from '../../src/errors.js';
import { Pmix } from '../../src/world/pmix.js';

const FIXTURE = fileURLToPath(new URL('fixtures/pmix-rank.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RUN_TIMEOUT = 90_000;

const onPath = (name: string) =>
  (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
const HAVE_MPIRUN = onPath('mpirun');
const BUILT = native.pmix.built;

const outDirs: string[] = [];
afterAll(() => {
  for (const d of outDirs) rmSync(d, { recursive: true, force: true });
});

/** An environment without this process's own PMIx/Open MPI variables. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(PMIX_|OMPI_|PRTE_)/.test(k)) env[k] = v;
  return { ...env, ...extra };
}

interface Run {
  status: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  pid: number | undefined;
  out: string;
  ms: number;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, out: string): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, env: { ...env, PMIX_TEST_OUT: out }, timeout: RUN_TIMEOUT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.on('error', (e) => (output += `\nspawn error: ${e.message}`));
    child.on('close', (status, signal) => resolve({ status, signal, output, pid: child.pid, out, ms: Date.now() - started }));
  });
}

function newOutDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'pmix-test-'));
  outDirs.push(d);
  return d;
}

/** `mpirun -np <n> node --import tsx pmix-rank.ts <mode>` */
function mpirun(n: number, mode: string, extraEnv: Record<string, string> = {}): Promise<Run> {
  const args = ['--allow-run-as-root', '--oversubscribe', '-np', String(n), process.execPath, '--import', 'tsx', FIXTURE, mode];
  return run('mpirun', args, cleanEnv(extraEnv), newOutDir());
}

function plain(mode: string, extraEnv: Record<string, string> = {}): Promise<Run> {
  return run(process.execPath, ['--import', 'tsx', FIXTURE, mode], cleanEnv(extraEnv), newOutDir());
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function result(r: Run, name: string | number): any {
  const file = join(r.out, `${name}.json`);
  if (!existsSync(file)) throw new Error(`no ${name}.json from the run (exit ${r.status ?? r.signal}):\n${r.output}`);
  return JSON.parse(readFileSync(file, 'utf8'));
}

async function waitForFiles(dir: string, names: string[], ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end && !names.every((n) => existsSync(join(dir, `${n}.json`)))) await new Promise((r) => setTimeout(r, 100));
}

// What rank r publishes (the same as the fixture's valuesOf).
function valuesOf(rank: number) {
  const bin = Buffer.from([rank, 0, 255, 0x80, rank ^ 0xff, 0, 10, 13]);
  const long = Buffer.alloc(100_000 + rank * 7);
  for (let i = 0; i < long.length; i++) long[i] = (i * 31 + rank * 17) & 0xff;
  return { bin: bin.toString('hex'), long: createHash('sha256').update(long).digest('hex'), longLength: long.length, str: `rank ${rank} says héllo ✓` };
}

const ABNORMAL_EXIT = /exiting improperly|without calling "finalize"|exited without calling finalize/;

describe('Pmix.detect', () => {
  it('is true only for a launcher-started environment', () => {
    expect(Pmix.detect({})).toBe(false);
    expect(Pmix.detect({ PATH: '/bin', OMPI_COMM_WORLD_RANK: '0' })).toBe(false);
    expect(Pmix.detect({ PMIX_NAMESPACE: 'job', PMIX_RANK: '3' })).toBe(true);
    expect(Pmix.detect({ PMIX_NAMESPACE: 'job' })).toBe(false);
    expect(Pmix.detect({ PMIX_SERVER_URI41: 'pmix-server.1;tcp4://127.0.0.1:1' })).toBe(true);
  });
});

describe.skipIf(!BUILT)('PMIx without a launcher or without libpmix', () => {
  it('a plain process sees detect() false, and init() says no launcher started it', async () => {
    const r = await plain('plain');
    const res = result(r, 'plain');
    expect(res.detect).toBe(false);
    expect(res.init.isPmixError).toBe(true);
    expect(res.init.syscall).toBe('PMIx_Init');
    expect(res.init.message).toMatch(/no PMIx launcher started this process/);
  });

  it('a launched process whose libpmix cannot be opened gets an error naming the package', async () => {
    const r = await plain('plain', {
      PMIX_NAMESPACE: 'fake-job',
      PMIX_RANK: '0',
      RDMA_REGCACHE_PMIX_LIBRARY: '/nonexistent/libpmix.so.2',
    });
    const res = result(r, 'plain');
    expect(res.detect).toBe(true);
    expect(res.init).toMatchObject({ isPmixError: true, code: 'ERR_PMIX_UNAVAILABLE', syscall: 'dlopen' });
    expect(res.init.message).toContain('libpmix2 (Debian/Ubuntu)');
    expect(res.init.message).toContain('pmix (RHEL/Fedora)');
    expect(res.init.message).toContain('RDMA_REGCACHE_PMIX_LIBRARY');
    expect(res.init.message).toContain('/nonexistent/libpmix.so.2: cannot open shared object file');
  });

  it('a library that is not PMIx is refused with the missing symbols named', async () => {
    const r = await plain('plain', { PMIX_NAMESPACE: 'fake-job', PMIX_RANK: '0', RDMA_REGCACHE_PMIX_LIBRARY: 'libm.so.6' });
    const res = result(r, 'plain');
    expect(res.init).toMatchObject({ code: 'ERR_PMIX_UNAVAILABLE' });
    expect(res.init.message).toMatch(/libm\.so\.6 lacks PMIx_Init/);
  });
});

describe.skipIf(BUILT)('an addon built without PMIx', () => {
  it('says so, and everything PMIx throws ERR_PMIX_UNAVAILABLE', () => {
    const loaded = native.pmix.load('libpmix.so.2');
    expect(loaded).toMatchObject({ ok: false });
    expect((loaded as { error: string }).error).toMatch(/built without PMIx/);
    expect(() => native.pmix.init()).toThrow(PmixError);
    let err: unknown;
    try {
      Pmix.init();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PmixError);
    expect(err).toMatchObject({ code: 'ERR_PMIX_UNAVAILABLE' });
    expect((err as Error).message).toMatch(/built without PMIx.*libpmix-dev.*libpmix2 \(Debian\/Ubuntu\)/);
  });
});

describe.skipIf(!BUILT || !HAVE_MPIRUN)('PMIx under mpirun', () => {
  it('3 ranks: init values, put/commit/fence(true)/get of every rank, fence(false) as a barrier, errors, finalize', async () => {
    const n = 3;
    const r = await mpirun(n, 'exchange');
    expect(r.status, r.output).toBe(0);
    const ranks = Array.from({ length: n }, (_, i) => result(r, i));

    // init()
    const namespaces = new Set(ranks.map((x) => x.info.namespace));
    expect(namespaces.size).toBe(1);
    expect([...namespaces][0]).toMatch(/\S/);
    expect(ranks.map((x) => x.info.rank)).toEqual([0, 1, 2]);
    for (const x of ranks) {
      expect(x.info).toMatchObject({ size: n, localSize: n, localRank: x.info.rank, hostname: hostname(), sameInstance: true });
      expect(x.info.nodeRank === undefined || Number.isInteger(x.info.nodeRank)).toBe(true);
      expect(x.info.library.version).toMatch(/PMIx/);
    }

    // Every rank got every rank's values exactly.
    for (const x of ranks) {
      for (let peer = 0; peer < n; peer++) {
        expect(x.got[peer], `rank ${x.info.rank} reading rank ${peer}`).toEqual({ ...valuesOf(peer), empty: 0, longestKey: 'longest key' });
      }
    }

    // Rank 0 waited in fence(true) for the others (600 ms late), with its event loop running.
    expect(ranks[0].fenceMs).toBeGreaterThan(300);
    expect(ranks[0].ticks).toBeGreaterThan(5);

    // fence(false): nobody left before the last rank arrived.
    const lastIn = Math.max(...ranks.map((x) => x.barrierIn));
    for (const x of ranks) expect(x.barrierOut).toBeGreaterThanOrEqual(lastIn);

    // Bad arguments.
    const bad = ranks[0].badArgs;
    for (const k of ['putKeyNumber', 'putValueNumber', 'putValueObject', 'putValueNul', 'getRankString', 'fenceCollectString', 'fenceTimeoutString', 'nativePutKeyNumber', 'nativePutValueNumber', 'nativeFenceCollectNumber'])
      expect(bad[k], k).toMatchObject({ isTypeError: true });
    for (const k of ['putKeyEmpty', 'putKeyTooLong', 'putKeyTooLongUtf8', 'getRankNegative', 'getRankFraction', 'getRankTooBig', 'getKeyTooLong', 'fenceTimeoutNegative', 'nativePutKeyTooLong', 'nativeGetRankTooBig'])
      expect(bad[k], k).toMatchObject({ isRangeError: true });
    expect(bad.putKeyTooLong.message).toMatch(/PMIX_MAX_KEYLEN/);

    // A key never put: a PmixError from PMIx_Get.
    expect(ranks[0].missing).toMatchObject({ isPmixError: true, syscall: 'PMIx_Get' });
    expect(['PMIX_ERR_NOT_FOUND', 'PMIX_ERR_TIMEOUT']).toContain(ranks[0].missing.code);
    expect(ranks[0].missing.pmixStatus).toBeLessThan(0);

    // finalize() is idempotent; afterwards the session is closed.
    for (const x of ranks) {
      const a = x.afterFinalize;
      expect(a.closed).toBe(true);
      expect(a.again).toBeNull();
      expect(a.close).toBeNull();
      expect(a.dispose).toBeNull();
      expect(a.put).toMatchObject({ isClosedError: true, code: 'ERR_CLOSED' });
      expect(a.fence).toMatchObject({ isClosedError: true });
      expect(a.get).toMatchObject({ isClosedError: true });
      expect(a.reinit).toMatchObject({ isPmixError: true, code: 'PMIX_ERR_INIT', syscall: 'PMIx_Init' });
    }
    expect(r.output).not.toMatch(ABNORMAL_EXIT);
  });

  it('ranks that exit without finalize() are finalized at exit (the process exit handler)', async () => {
    const r = await mpirun(2, 'no-finalize');
    expect(r.output).not.toMatch(ABNORMAL_EXIT);
    expect(r.status, r.output).toBe(0);
    expect(result(r, 0).value).toBe('1');
    expect(result(r, 1).value).toBe('0');
  });

  it('without the wrapper, the addon finalizes at environment teardown', async () => {
    const r = await mpirun(2, 'no-finalize-native');
    expect(r.output).not.toMatch(ABNORMAL_EXIT);
    expect(r.status, r.output).toBe(0);
    expect(result(r, 0)).toEqual({ rank: 0, loaded: true });
    expect(result(r, 1)).toEqual({ rank: 1, loaded: true });
  });

  it('finalize() with a fence pending rejects it with a ClosedError, and the process still exits', async () => {
    const r = await mpirun(2, 'finalize-pending');
    expect(r.status, r.output).toBe(0);
    const res0 = result(r, 0);
    expect(res0.fence).toMatchObject({ isClosedError: true, code: 'ERR_CLOSED', syscall: 'Pmix' });
    expect(res0.fence.message).toMatch(/finalized while PMIx_Fence was pending/);
    expect(res0.finalizeMs).toBeLessThan(5000);
    // The other rank's fence cannot complete any more; it fails rather than hangs.
    expect(result(r, 1).fence).toMatchObject({ isPmixError: true, syscall: 'PMIx_Fence' });
  });

  it('fence() with timeoutMs rejects with PMIX_ERR_TIMEOUT while a rank stays away', async () => {
    const r = await mpirun(2, 'timeout');
    expect(r.status, r.output).toBe(0);
    const res = result(r, 0);
    expect(res.err).toMatchObject({ isPmixError: true, code: 'PMIX_ERR_TIMEOUT', syscall: 'PMIx_Fence' });
    expect(res.ms).toBeGreaterThanOrEqual(1000);
    expect(res.ms).toBeLessThan(5000);
    expect(result(r, 1).waited).toBe(true);
  });

  it('when the PMIx server dies, a pending fence and later calls reject with an error naming PMIx', async () => {
    const r = await mpirun(2, 'server-gone');
    // mpirun was killed; its ranks outlive it and report to files.
    await waitForFiles(r.out, ['0', '1'], 30_000);
    if (r.pid) rmSync(join(tmpdir(), `ompi.${hostname()}.${process.getuid?.() ?? 0}`, `pid.${r.pid}`), { recursive: true, force: true });
    for (const rank of [0, 1]) {
      const res = result(r, rank);
      expect(res.fence, `rank ${rank}`).toMatchObject({ isPmixError: true, syscall: 'PMIx_Fence' });
      expect(['PMIX_ERR_UNREACH', 'PMIX_ERR_LOST_CONNECTION', 'PMIX_ERR_COMM_FAILURE']).toContain(res.fence.code);
      expect(res.fence.message).toMatch(/PMIx server .* unreachable or gone/);
      expect(res.fenceMs).toBeLessThan(20_000);
      expect(res.later).toMatchObject({ isPmixError: true, syscall: 'PMIx_Fence' });
      expect(res.laterMs).toBeLessThan(5_000);
    }
  });
});
