/** The Markdown report: every §5 target with its ratio, then each benchmark's figures and chart. */
import { troubleText } from '../hosts/counters.js';
import type { BenchResults, HostsResult, VmResult } from './results.js';
import { hostsWriteSection, writeSection } from './report-write.js';
import { formatSize, formatSpread, spread, type Spread } from './stats.js';
import type { TargetRow } from './targets.js';

const LABEL: Record<string, string> = {
  'per-operation': 'register per op',
  cache: 'cache + ummunotify',
  'cache-unmonitored': 'cache, no monitor (unsafe)',
};

const table = (head: string[], rows: (string | number)[][]) =>
  [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
const fs = (s: Spread | undefined | null, d = 2) => (s ? formatSpread(s, d) : 'n/a');
const x = (s: Spread | undefined | null, d = 2) => (s && s.n > 0 ? `${fs(s, d)}x` : 'n/a');
const verdict = (met: boolean | null) => (met === null ? 'not measured' : met ? '**met**' : '**missed**');

export interface ReportInput {
  results: BenchResults;
  targets: TargetRow[];
  /** chart name -> file name beside the report */
  charts: Map<string, string>;
  /** Hand-written analysis to include (missed targets: why, what would close them). */
  notes?: string;
}

export function report({ results: r, targets, charts, notes }: ReportInput): string {
  const out: string[] = [];
  const img = (name: string, alt: string) => (charts.has(name) ? [`![${alt}](${charts.get(name)})`, ''] : []);
  const m = r.machine;
  const guests = Object.entries(r.vm).map(([k, v]) => (v ? `${v.kernel}` : `${k} (boot failed)`));
  out.push(
    `# rdma-regcache benchmarks, ${r.date}${r.quick ? ' (quick mode: checks that each benchmark runs, not its values)' : ''}`,
    '',
    `- Machine: ${m.cpu}, ${m.cores} cores, host Linux ${m.hostKernel}, Node ${m.node}; commit ${m.commit}.`,
    `- Guests: ${guests.join(', ') || 'none'} under qemu TCG (software emulation, 2 vCPUs, ${r.guestAccel ? `-accel ${r.guestAccel}` : 'thread=multi'}), Soft-RoCE device ${Object.values(r.vm).find(Boolean)?.device ?? 'rxe0'}.`,
    `- At the start: load average ${m.loadAverage.toFixed(1)}, ${m.otherGuests} other qemu guest(s) running. Every figure shares the cores with them.`,
    `- Each figure: median (min-max) over ${r.reps} repetition(s); each ratio is taken per repetition between runs made side by side in the same process or VM boot, then summarised.`,
    `- Whole run: ${(r.seconds / 60).toFixed(1)} min. Reproduce: \`npm run bench\` (\`npm run bench -- --quick\` for the short check).`,
    '',
    '## Targets (DESIGN.md §5)',
    '',
    table(['target', 'measured ratio', 'target', 'absolute (medians)', 'verdict'],
      targets.map((t) => [t.target, x(t.ratio), t.limit, t.absolute, verdict(t.met)])),
    '',
  );
  if (notes) out.push('## Notes on the results', '', notes.trim(), '');
  if (r.errors.length) out.push('## Steps that failed', '', ...r.errors.map((e) => `- ${e.replaceAll('\n', ' ')}`), '');
  if (r.warnings?.length) out.push('## Warnings', '', ...r.warnings.map((e) => `- ${e.replaceAll('\n', ' ')}`), '');
  const retried = [
    ...Object.entries(r.vm).flatMap(([k, v]) => (v?.retries ?? []).map((t) => [k, t] as const)),
    ...(r.hosts?.retries ?? []).map((t) => ['two hosts', t] as const),
  ];
  if (retried.length) {
    out.push(
      '## Runs that failed and were run again',
      '',
      'Each failed run was run again and did not count; none is dropped from the record. A crash here (a signal) is a fault to find, not noise.',
      '',
      table(['guest', 'step', 'failed', 'why'], retried.map(([k, t]) => [k, t.what, `${t.failed.length} of ${t.runs}`, t.failed.join('; ').replaceAll('|', '\\|')])),
      '',
    );
  }
  if (r.host) out.push(...hostSection(r), ...img('host-micro', 'host micro-benchmarks'));
  const vm = r.vm['6.1'];
  if (vm) out.push(...vmSections(vm, img));
  if (r.hosts) out.push(...hostsSections(r.hosts, r.hostsAccel, img));
  out.push(...kmodSection(r), ...img('kmod', 'kernel benchmark'));
  return `${out.join('\n')}\n`;
}

function hostSection(r: BenchResults): string[] {
  const h = r.host!;
  const ns = { ...h.hitNs, ...h.missNs };
  return [
    `## Host micro-benchmarks ('benchmark' package, monitor backend ${h.backend})`,
    '',
    'ns per operation: the best sample of each run (1,000 operations per call for hits, 100 for misses), median (min-max) over runs.',
    '',
    table(['case', 'ns/op'], Object.entries(ns).map(([k, v]) => [k, fs(v, 1)])),
    '',
    table(['ratio', 'value'], [
      ['cache.checkGeneration() / bare typed-array load', x(h.hitRatios.generationCheck)],
      ['monitor.changed / bare typed-array load', x(h.hitRatios.monitorChanged)],
      ...hitRows(h.hitRatios),
      ['miss / hit, userfaultfd monitor (fake registrar)', x(h.missRatios.userfaultfd, 1)],
      ['miss / hit, no monitor (fake registrar)', x(h.missRatios.none, 1)],
    ]),
    '',
  ];
}

/** Hit ratios: both layouts against a Map keyed by the same views, or (runs before issue 16) one layout. */
function hitRows(q: Record<string, Spread>): string[][] {
  if (q.hit100000Own === undefined) {
    return [
      ['hit, 1,000 entries, same view / Map.get', x(q.hit1000)],
      ['hit, 1,000 entries, same view / Map.get keyed by the view', x(q.hit1000View)],
      ['hit, 1,000 entries, new view (tree lookup) / Map.get', x(q.hit1000Tree)],
      ['hit, 100,000 entries, same view / Map.get', x(q.hit100000)],
      ['hit, 100,000 entries, same view / Map.get keyed by the view', x(q.hit100000View)],
      ['hit, 100,000 entries, new view (tree lookup) / Map.get', x(q.hit100000Tree)],
    ];
  }
  return ['1,000', '100,000'].flatMap((n) => {
    const k = n.replace(',', '');
    return [
      [`hit, ${n} entries, own buffers / Map.get keyed by the same views`, x(q[`hit${k}Own`])],
      [`hit, ${n} entries, views of 4 heaps / Map.get keyed by the same views`, x(q[`hit${k}Heap`])],
      [`hit, ${n} entries, own buffers / Map.get (integer keys)`, x(q[`hit${k}IntMap`])],
    ];
  });
}

function vmSections(vm: VmResult, img: (name: string, alt: string) => string[]): string[] {
  const out: string[] = [];
  out.push(...writeSection(vm, img));
  if (vm.reuse) {
    out.push(
      '## Buffer-reuse workload (bench/reuse, 16 buffers, 4 freed and reallocated per round)',
      '',
      'Every write is checked byte for byte at the target. The unsafe mode (cache without a monitor) is there for the record: its mismatches are the stale registrations the monitor exists to prevent.',
      '',
      table(['size', 'mode', 'writes', 'writes/s', 'MB/s', 'vs register per op', 'hits', 'misses', 'invalidations', 'stale avoided', 'verified', 'mismatches'],
        vm.reuse.map((u) => [formatSize(u.size), LABEL[u.mode] ?? u.mode, u.writes, fs(u.opsPerSecond, 0), fs(u.megabytesPerSecond, 1), x(u.speedup),
          u.mode === 'per-operation' ? '-' : u.hits, u.mode === 'per-operation' ? '-' : u.misses, u.mode === 'per-operation' ? '-' : u.invalidations,
          u.mode === 'per-operation' ? '-' : u.staleAvoided, u.verified, u.mismatches])),
      '',
      ...img('reuse', 'buffer reuse'),
    );
  }
  if (vm.registration) {
    out.push(
      '## Registration cost by size',
      '',
      'ibv_reg_mr + ibv_dereg_mr of a touched buffer, against an acquire+release hit of the same buffer in a RegistrationCache on the same PD (what a hit saves).',
      '',
      table(['size', 'iterations', 'register + deregister us', 'cache hit us', 'register / hit'],
        vm.registration.map((g) => [formatSize(g.size), g.iters, fs(spread(g.runs.map((q) => q.registerUs)), 1), fs(spread(g.runs.map((q) => q.hitUs)), 2),
          x(spread(g.runs.map((q) => q.registerUs / q.hitUs)), 0)])),
      '',
      ...img('registration', 'registration cost'),
    );
  }
  if (vm.invalidation) {
    out.push(
      '## Invalidation cost',
      '',
      'From munmap() of a cached buffer to the next generation check having evicted its entry (kernel notifier + counter, then drain, evict, ibv_dereg_mr), against munmap() of the same kind of mapping with nothing registered. Each run: the median iteration after 1,500 untimed passes (runs recorded before commit 9e4b07f had 20, which measured mostly V8 before it had optimized the path).',
      '',
      table(['size', 'munmap, nothing registered us', 'munmap, cached us', 'check + evict us', 'total us', 'total / plain munmap'],
        vm.invalidation.map((g) => [formatSize(g.size), fs(spread(g.runs.map((q) => q.plainMunmapUs)), 1), fs(spread(g.runs.map((q) => q.munmapUs)), 1),
          fs(spread(g.runs.map((q) => q.evictUs)), 1), fs(spread(g.runs.map((q) => q.totalUs)), 1), x(spread(g.runs.map((q) => q.totalUs / q.plainMunmapUs)), 1)])),
      '',
      ...img('invalidation', 'invalidation cost'),
    );
  }
  return out;
}

function hostsSections(h: HostsResult, accel: string | undefined, img: (name: string, alt: string) => string[]): string[] {
  const out: string[] = [
    `## Across two hosts (${h.hosts.join(' and ')}, ${h.kernel}, one boot)`,
    '',
    `Two guests (${h.guestCpu} each, qemu TCG${accel ? ` -accel ${accel}` : ''}), each with its own kernel, module and ${h.device} on a virtio-net NIC; ` +
      'the two NICs are joined by a wire between the two qemu processes (MTU 9000, RoCE MTU 4096). Every ratio is taken per repetition between runs made side by side in this boot.',
    '',
  ];
  out.push(...hostsWriteSection(h, img));
  const a = h.allreduce;
  if (a) {
    const c = a.cache.map((k) => `rank ${String(k.rank)}: ${String(k.hits)} hits, ${String(k.misses)} misses, ${String(k.invalidations)} invalidations`);
    out.push(
      '### Allreduce across hosts beside Open MPI',
      '',
      `${a.ranks} ranks (${a.hosts.join(', ')}), one \`mpirun --host node1:2,node2:2 -np 4\` per program and repetition, their order alternating. ` +
        'Open MPI: MPI_Allreduce of doubles, MPI_SUM (bench/hosts/mpi-allreduce.c, built with Debian\'s mpicc). ' +
        'Library: ringAllreduce from bench/examples/ring-allreduce.ts over a World (RDMA WRITE + SEND notes, a new send buffer per step). ' +
        'Both: the same input, warm-up and timed iterations, a barrier before each timed loop; the time is the slowest rank\'s mean per call; the result of a call on fresh input is checked exact on every rank. ' +
        'Ratio: MPI time over ring time (above 1: the library is ahead).',
      '',
      `- Open MPI's transport: ${a.transport?.summary ?? 'not determined'}.`,
      `- Lost or repeated frames during this phase (rxe retries, sequence errors, RNR; the NIC's drops): ${troubleText(h.counters?.allreduce)}.`,
      ...(c.length ? [`- Registration cache of the ring allreduce's ranks (last repetition): ${c.join('; ')}.`] : []),
      ...(a.barrierUs ? [`- One world.barrier() (a PMIx fence through Open MPI's daemons), slowest rank's mean: ${fs(a.barrierUs, 0)} us; ringAllreduce's run() starts with one, so no call is shorter.`] : []),
      '',
      table(['size', 'iterations (warm-up)', 'MPI_Allreduce us', 'ring allreduce us', 'MPI / ring'],
        a.rows.map((q) => [formatSize(q.size), `${q.iters} (${q.warmup})`, fs(q.mpiUs, 1), fs(q.ringUs, 1), x(q.ratio)])),
      '',
      ...img('hosts-allreduce', 'allreduce across hosts'),
    );
  }
  return out;
}

function kmodSection(r: BenchResults): string[] {
  const rows = Object.values(r.vm).filter((v) => v?.kmod).map((v) => v!.kmod!);
  if (!rows.length) return [];
  return [
    '## Kernel benchmark (bench/kmod/umn_bench.c)',
    '',
    'mmap + touch (4 pages) + munmap loop: with 100,000 registrations elsewhere in the address space (none hit) against the same loop in a process with none, interleaved rounds, best round of each per run.',
    '',
    table(['kernel', 'runs', '0 registrations ns/iter', 'with registrations ns/iter', 'ratio', 'REGISTER ns', 'UNREGISTER ns'],
      rows.map((k) => [k.kernel, k.runs, fs(k.loopNs0, 0), fs(k.loopNsRegs, 0), x(k.ratio, 3), fs(k.registerNs, 0), fs(k.unregisterNs, 0)])),
    '',
  ];
}
