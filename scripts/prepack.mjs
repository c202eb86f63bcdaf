#!/usr/bin/env node
// npm's "prepack" script (npm pack, npm publish): compiles src/ into dist/
// with its type declarations, then drops anything in dist/ whose source is
// gone, so the package ships exactly what src/ holds. dist/ is rewritten in
// place, not removed first: other processes in this checkout may be using it.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(join(ROOT, 'package.json')).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.json')], { stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);

const dist = join(ROOT, 'dist');
const walk = (dir) => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
for (const file of walk(dist)) {
  const stem = relative(dist, file).replace(/(\.d)?\.(js|ts)(\.map)?$/, '');
  if (!existsSync(join(ROOT, 'src', `${stem}.ts`))) rmSync(file);
}
if (!existsSync(join(dist, 'index.d.ts'))) {
  console.error('prepack: dist/index.d.ts was not produced');
  process.exit(1);
}
