// The README's quick start (bench/examples/pgas.ts) runs as a user would run
// it, over rxe0, and its put and get land where they should.
import { expect, test } from 'vitest';
import { runChild } from '../child.js';

test('README quick start: PGAS put/get between two endpoints', async () => {
  const r = await runChild(process.execPath, ['--import', 'tsx', 'bench/examples/pgas.ts']);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  expect(r.stdout).toBe('put: 1.5,2.5,3.5,4.5\nget: 1.5,42,3.5,4.5\n');
});
