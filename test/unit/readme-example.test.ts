// The README's quick start is bench/examples/pgas.ts verbatim (the VM group
// runs that file), so the README never shows code that does not run.
import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';

test('README quick start is bench/examples/pgas.ts', () => {
  const readme = readFileSync('README.md', 'utf8');
  const block = /## Quick start[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme);
  expect(block, 'README has a "## Quick start" section with a ```ts block').not.toBeNull();
  expect(block![1]).toBe(readFileSync('bench/examples/pgas.ts', 'utf8'));
  expect(block![1]!.trimEnd().split('\n').length).toBeLessThan(30);
});

test('README quick start across hosts is bench/examples/world-pgas.ts', () => {
  const readme = readFileSync('README.md', 'utf8');
  const block = /## Quick start across hosts[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme);
  expect(block, 'README has a "## Quick start across hosts" section with a ```ts block').not.toBeNull();
  expect(block![1]).toBe(readFileSync('bench/examples/world-pgas.ts', 'utf8'));
});
