// The package as others get it: `npm pack` here, `npm install <tarball>` in a
// fresh project outside the repository (its install script builds the addon
// from source), then that project's TypeScript is type-checked against the
// shipped declarations. Its put/get needs an RDMA device, so it runs in the
// VM: test/vm/packed-install.test.ts, after this (npm test runs the host
// group first).
import { spawn, type SpawnOptions } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONSUMER, READY, ROOT } from '../packed/consumer.mjs';

const TIMEOUT = 600_000;

// Asynchronous: a test worker blocked in spawnSync for over a minute (the
// install builds the addon) misses vitest's RPC deadline ("Timeout calling
// onTaskUpdate"), an unhandled error that fails the whole run.
function sh(cmd: string, args: string[], opts: SpawnOptions = {}) {
  return new Promise<{ status: number | null; stdout: string; stderr: string; error?: Error }>((resolve) => {
    const child = spawn(cmd, args, { timeout: TIMEOUT, ...opts });
    let stdout = '';
    let stderr = '';
    let error: Error | undefined;
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (e) => (error = e));
    child.on('close', (status) => resolve({ status, stdout, stderr, error }));
  });
}

const version = (name: string) =>
  (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

describe('the packed package', () => {
  it('packs, installs into a fresh project (building the addon), type-checks a consumer, and runs its CLI', { timeout: TIMEOUT }, async () => {
    const started = Date.now();
    rmSync(join(CONSUMER, '..'), { recursive: true, force: true });
    mkdirSync(CONSUMER, { recursive: true });

    // npm pack runs prepack (dist/ with types) and lists what it packed.
    const packDir = join(tmpdir(), `rdma-regcache-pack-${process.pid}`);
    mkdirSync(packDir, { recursive: true });
    const pack = await sh('npm', ['pack', '--json', '--pack-destination', packDir], { cwd: ROOT });
    expect(pack.status, pack.stderr).toBe(0);
    const [packed] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as [{ filename: string; files: { path: string }[] }];
    const files = packed.files.map((f) => f.path);
    for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'scripts/install.mjs', 'CMakeLists.txt', 'native/addon.cc', 'kmod/dkms.conf', 'kmod/uapi/ummunotify.h']) {
      expect(files).toContain(f);
    }
    // Nothing test-only, built or host-specific.
    for (const f of files) expect(f).not.toMatch(/^(native\/testing|dist\/testing|src\/testing|kmod\/tests|build|test|bench|\.cache)\b/);
    const tarball = join(CONSUMER, packed.filename);
    copyFileSync(join(packDir, packed.filename), tarball);
    rmSync(packDir, { recursive: true, force: true });

    writeFileSync(
      join(CONSUMER, 'package.json'),
      `${JSON.stringify(
        {
          name: 'rdma-regcache-consumer',
          private: true,
          type: 'module',
          dependencies: { 'rdma-regcache': `file:./${packed.filename}` },
          devDependencies: { typescript: version('typescript'), '@types/node': version('@types/node') },
          // npm >= 11.19 warns about install scripts not approved here (the README says so).
          allowScripts: { 'rdma-regcache': true },
        },
        null,
        2,
      )}\n`,
    );
    for (const f of ['put-get.ts', 'tsconfig.json']) copyFileSync(join(ROOT, 'test', 'packed', 'app', f), join(CONSUMER, f));

    // Everything it needs is in npm's cache already (the repository's own npm ci put it there).
    const install = await sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts'], { cwd: CONSUMER });
    expect(install.status, `${install.stdout}\n${install.stderr}`).toBe(0);
    expect(install.stdout).toMatch(/rdma-regcache: built build\/Release\/rdma_regcache\.node/);
    const pkgDir = join(CONSUMER, 'node_modules', 'rdma-regcache');
    expect(readdirSync(join(pkgDir, 'build', 'Release')).filter((f) => f.endsWith('.node'))).toEqual(['rdma_regcache.node']);

    const tsc = await sh(process.execPath, [join(CONSUMER, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: CONSUMER });
    expect(tsc.status, `${tsc.stdout}\n${tsc.stderr}`).toBe(0);
    expect(existsSync(join(CONSUMER, 'dist', 'put-get.js'))).toBe(true);

    // On the host (no device) the package loads and its CLI explains what is missing.
    const load = await sh(process.execPath, ['--input-type=module', '-e', "const m = await import('rdma-regcache'); console.log(typeof m.Endpoint, m.listDevices().length)"], { cwd: CONSUMER });
    expect(load.status, load.stderr).toBe(0);
    expect(load.stdout.trim()).toBe('function 0');
    const info = await sh(join(CONSUMER, 'node_modules', '.bin', 'rdma-regcache'), ['info', '--json'], { cwd: CONSUMER });
    expect(info.status, info.stderr).toBe(1);
    expect(JSON.parse(info.stdout)).toMatchObject({ ok: false, package: { name: 'rdma-regcache', version: expect.any(String) } });

    writeFileSync(READY, `${JSON.stringify({ tarball: packed.filename, seconds: (Date.now() - started) / 1000, at: new Date().toISOString() })}\n`);
  });

  it('the install script fails with one line naming the missing Debian packages', async () => {
    // A PATH with node and nothing else: no cmake, no compiler, no make.
    const bin = join(tmpdir(), `rdma-regcache-nopath-${process.pid}`);
    mkdirSync(bin, { recursive: true });
    try {
      const r = await sh(process.execPath, [join(ROOT, 'scripts', 'install.mjs')], { env: { ...process.env, PATH: bin } });
      expect(r.status).toBe(1);
      expect(r.stderr.trim().split('\n')).toEqual([
        'rdma-regcache: cannot build the native addon: missing Debian packages cmake, g++, make (sudo apt-get install cmake g++ make)',
      ]);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
