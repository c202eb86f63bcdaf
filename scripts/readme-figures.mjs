#!/usr/bin/env node
// The README's figures come from recorded benchmark results, never typed by
// hand: this writes the block between the README's "figures" markers from
// the newest full run in bench/results/<date>.json (quick runs are skipped).
//
//   node scripts/readme-figures.mjs           rewrite the block
//   node scripts/readme-figures.mjs --check   exit 1 if the block is stale (a unit test runs this)
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS = join(ROOT, 'bench', 'results');
const README = join(ROOT, 'README.md');
export const BEGIN = '<!-- figures: written by `node scripts/readme-figures.mjs` from bench/results; do not edit by hand -->';
export const END = '<!-- /figures -->';

/** The newest full (not --quick) run: its file name and contents. */
export function newestResults() {
  const runs = readdirSync(RESULTS)
    .filter((f) => /^\d{4}-\d{2}-\d{2}\.json$/.test(f))
    .sort()
    .reverse()
    .map((f) => ({ file: f, data: JSON.parse(readFileSync(join(RESULTS, f), 'utf8')) }))
    .filter((r) => !r.data.quick && Array.isArray(r.data.targets));
  if (runs.length === 0) throw new Error('no full benchmark run in bench/results (npm run bench)');
  return runs[0];
}

const fmt = (x) => x.toFixed(2);

export function figuresBlock({ file, data }) {
  const m = data.machine ?? {};
  const md = file.replace(/\.json$/, '.md');
  const lines = [
    BEGIN,
    `Measured ${data.date} (commit ${m.commit ?? '?'}; ${m.cpu ?? '?'}, ${m.cores ?? '?'} cores, Node ${m.node ?? '?'}; ` +
      `RDMA over Soft-RoCE in the emulated test VM), median (min-max) of ${data.reps} repetitions, ` +
      `each ratio taken side by side in the same run. Full report with charts: [bench/results/${md}](bench/results/${md}).`,
    '',
    '| what | measured | target | absolute (medians) | |',
    '| --- | --- | --- | --- | --- |',
    ...data.targets.map((t) =>
      `| ${t.target} | ${fmt(t.ratio.median)}x (${fmt(t.ratio.min)}-${fmt(t.ratio.max)}) | ${t.limit} | ${t.absolute} | ${t.met ? 'met' : '**missed**'} |`),
    END,
  ];
  return lines.join('\n');
}

function main() {
  const readme = readFileSync(README, 'utf8');
  const a = readme.indexOf(BEGIN);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) {
    console.error(`readme-figures: README.md has no block between "${BEGIN}" and "${END}"`);
    process.exit(2);
  }
  const results = newestResults();
  const next = readme.slice(0, a) + figuresBlock(results) + readme.slice(b + END.length);
  if (process.argv.includes('--check')) {
    if (next !== readme) {
      console.error(`readme-figures: README.md's figures are not those of bench/results/${results.file}: run node scripts/readme-figures.mjs`);
      process.exit(1);
    }
    return;
  }
  writeFileSync(README, next);
  console.log(`readme-figures: README.md now shows bench/results/${results.file}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
