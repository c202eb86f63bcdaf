// The README's figures are the newest recorded benchmark run's, written by
// scripts/readme-figures.mjs; none is typed by hand.
import { spawnSync } from 'node:child_process';
import { expect, test } from 'vitest';

test("README's figures block is the newest full bench/results run", () => {
  const r = spawnSync(process.execPath, ['scripts/readme-figures.mjs', '--check'], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
});
