#!/usr/bin/env node
// npm's "install" script: builds the native addon from source with cmake-js
// (build/Release/rdma_regcache.node) wherever the package was installed.
//
// Why from source and not prebuilt binaries: the addon links libibverbs and
// librdmacm, and a machine that can run the library must have rdma-core
// anyway; their -dev packages, cmake and g++ are all a build needs. Nothing
// is downloaded: cmake-js and node-addon-api come from the npm registry with
// this package, and the Node.js headers are the ones installed with node
// (<prefix>/include/node, or npm's `nodedir`), never fetched from nodejs.org.
//
// Before building, it checks what the build needs and, if something is
// missing, fails with one line naming the Debian packages to install.
// Set RDMA_REGCACHE_BUILD_LOG=1 to see cmake's output.
//
// PMIx (jobs under mpirun / srun --mpi=pmix) is optional: the binding is built
// when pmix.h is found (Debian's libpmix-dev) and opens libpmix.so.2 at run
// time; without the header the addon is built without it, and says so.
// RDMA_REGCACHE_PMIX=0 builds without it even when the header is there.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const started = Date.now();

function fail(line) {
  console.error(`rdma-regcache: ${line}`);
  process.exit(1);
}

if (process.platform !== 'linux') fail(`cannot build here: the library needs Linux (libibverbs, rdma_cm), not ${process.platform}`);

const onPath = (name) =>
  (process.env.PATH ?? '').split(delimiter).filter(Boolean).some((dir) => {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });

// Header search like the compiler's default one, plus CPATH and friends.
const includeDirs = [
  ...['CPATH', 'C_INCLUDE_PATH', 'CPLUS_INCLUDE_PATH'].flatMap((v) => (process.env[v] ?? '').split(delimiter)),
  '/usr/local/include',
  `/usr/include/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`,
  '/usr/include',
].filter(Boolean);
const hasHeader = (h) => includeDirs.some((d) => existsSync(join(d, h)));

// What the build needs -> the Debian package that brings it.
const missing = [];
if (!onPath('cmake')) missing.push('cmake');
if (!onPath('g++') && !onPath('c++')) missing.push('g++');
if (!onPath('make') && !onPath('ninja')) missing.push('make');
if (!hasHeader('infiniband/verbs.h')) missing.push('libibverbs-dev');
if (!hasHeader('rdma/rdma_cma.h')) missing.push('librdmacm-dev');
if (missing.length > 0) {
  fail(
    `cannot build the native addon: missing Debian package${missing.length > 1 ? 's' : ''} ` +
      `${missing.join(', ')} (sudo apt-get install ${missing.join(' ')})`,
  );
}

// The Node.js headers (node_api.h, and uv.h: the addon uses libuv directly)
// of the node that runs this script.
const nodedir = process.env.npm_config_nodedir || resolve(dirname(process.execPath), '..');
if (!existsSync(join(nodedir, 'include', 'node', 'node_api.h')) || !existsSync(join(nodedir, 'include', 'node', 'uv.h'))) {
  fail(
    `cannot build the native addon: no Node.js headers in ${join(nodedir, 'include', 'node')} ` +
      `(Debian's nodejs: sudo apt-get install libnode-dev; another node: set npm_config_nodedir to its install prefix)`,
  );
}

let cmakeJs;
try {
  const pkg = createRequire(join(ROOT, 'package.json')).resolve('cmake-js/package.json');
  cmakeJs = join(dirname(pkg), 'bin', 'cmake-js');
} catch {
  fail('cannot build the native addon: the npm package cmake-js is missing (reinstall rdma-regcache with its dependencies)');
}

const verbose = Boolean(process.env.RDMA_REGCACHE_BUILD_LOG);
const withoutPmix = /^(0|off|no|false)$/i.test(process.env.RDMA_REGCACHE_PMIX ?? '');
const cmakeArgs = [cmakeJs, 'compile', '--directory', ROOT, '--out', join(ROOT, 'build'), '--log-level', 'error'];
if (withoutPmix) cmakeArgs.push('--CDRDMA_REGCACHE_PMIX=OFF');
const r = spawnSync(process.execPath, cmakeArgs, {
  cwd: ROOT,
  env: { ...process.env, npm_config_nodedir: nodedir },
  encoding: 'utf8',
  stdio: ['ignore', verbose ? 'inherit' : 'pipe', verbose ? 'inherit' : 'pipe'],
  maxBuffer: 64 << 20,
});
const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
mkdirSync(join(ROOT, 'build'), { recursive: true });
const log = join(ROOT, 'build', 'install.log');
writeFileSync(log, output);
if (r.status !== 0 || !existsSync(join(ROOT, 'build', 'Release', 'rdma_regcache.node'))) {
  if (!verbose) process.stderr.write(output.split('\n').slice(-40).join('\n'));
  // CMakeLists.txt names the Debian package for what it cannot find.
  const pkg = output.match(/install the Debian package (\S+)/);
  fail(
    pkg
      ? `cannot build the native addon: missing Debian package ${pkg[1]} (sudo apt-get install ${pkg[1]})`
      : `building the native addon failed (exit ${r.status ?? r.signal}); cmake's output is in ${log}`,
  );
}
console.log(`rdma-regcache: built build/Release/rdma_regcache.node in ${((Date.now() - started) / 1000).toFixed(0)} s`);
// CMakeLists.txt reports whether it found pmix.h.
if (/PMIx: not found/.test(output) && !withoutPmix) {
  console.log(
    'rdma-regcache: built without PMIx (pmix.h not found): jobs under mpirun or srun --mpi=pmix need it; ' +
      'install libpmix-dev (Debian/Ubuntu) or pmix-devel (RHEL/Fedora) and run `npm rebuild rdma-regcache`',
  );
}
