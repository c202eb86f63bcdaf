// World.init() in jobs started by mpirun on this host, where PMIx works but
// there is no RDMA device: the errors a user sees when the launcher is fine
// and the library is not, or the other way round. (World over RDMA: test/vm,
// test/hosts.)
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { native } from '../../src/native.js';

const OMPI = {
  OMPI_ALLOW_RUN_AS_ROOT: '1',
  OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1',
  OMPI_MCA_btl: 'self,vader',
  OMPI_MCA_pml: 'ob1',
};

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(PMIX_|OMPI_|PRTE_)/.test(k)) env[k] = v;
  return { ...env, ...OMPI, ...extra };
}

function mpirun(np: number, env: Record<string, string>) {
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn('mpirun', ['--oversubscribe', '-np', String(np), process.execPath, '--import', 'tsx', 'test/unit/fixtures/world-init.ts'], {
      env: cleanEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 100_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const lines = (out: string) => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);

describe.skipIf(!native.pmix.built)('World.init under mpirun on a host without RDMA', () => {
  it('libpmix missing: every rank gets ERR_PMIX_UNAVAILABLE naming the package', async () => {
    const r = await mpirun(2, { RDMA_REGCACHE_PMIX_LIBRARY: '/nonexistent/libpmix.so.2' });
    const got = lines(r.stdout);
    expect(got, r.stderr).toHaveLength(2);
    for (const l of got) {
      expect(l).toMatchObject({ ok: false, name: 'PmixError', code: 'ERR_PMIX_UNAVAILABLE' });
      expect(String(l.message)).toMatch(/libpmix2/);
    }
  }, 120_000);

  it('no RDMA device: a clear error, and PMIx finalized (mpirun exits 0)', async () => {
    const r = await mpirun(2, {});
    const got = lines(r.stdout);
    expect(got, r.stderr).toHaveLength(2);
    for (const l of got) {
      expect(l.ok).toBe(false);
      expect(String(l.message)).toMatch(/device/i);
    }
    // Had a rank exited without PMIx_Finalize, mpirun would say so and fail.
    expect(r.stderr).not.toMatch(/finalize/i);
    expect(r.status).toBe(0);
  }, 120_000);
});
