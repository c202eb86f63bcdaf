/** The report's charts (SVG, drawn by Vega-Lite through chart.ts), one per section. */
import { groupedBarChart, type BarDatum } from './chart.js';
import type { BenchResults } from './results.js';
import { formatSize, spread } from './stats.js';

export interface Chart {
  /** File name suffix: <date>-<name>.svg */
  name: string;
  svg: string;
}

const present = (d: BarDatum[]) => d.filter((x) => Number.isFinite(x.value) && x.value > 0);
const LABEL = { 'per-operation': 'register per op', cache: 'cache', 'cache-unmonitored': 'cache, no monitor' } as Record<string, string>;

export async function reportCharts(r: BenchResults): Promise<Chart[]> {
  const charts: Chart[] = [];
  const add = async (name: string, data: BarDatum[], title: string, xTitle: string, yTitle: string, logScale = true) => {
    const d = present(data);
    if (d.length) charts.push({ name, svg: await groupedBarChart(d, { title, xTitle, yTitle, logScale }) });
  };
  const h = r.host;
  if (h) {
    const pairs: [string, string, string][] = [
      ['gen. check', 'generation check: bare typed-array load', 'generation check: cache.checkGeneration()'],
      // Runs before issue 16 (one layout, integer-keyed Map) and after (both layouts, Map keyed by the views):
      // present() drops the pairs a run does not have.
      ['hit 1k', 'hits with 1000 entries: bare Map.get', 'hits with 1000 entries: acquire+release, same views'],
      ['hit 100k', 'hits with 100000 entries: bare Map.get', 'hits with 100000 entries: acquire+release, same views'],
      ['hit 1k, own', 'hits with 1000 entries: Map.get(view), own buffers', 'hits with 1000 entries: acquire+release, own buffers'],
      ['hit 1k, heap', 'hits with 1000 entries: Map.get(view), views of 4 heaps', 'hits with 1000 entries: acquire+release, views of 4 heaps'],
      ['hit 100k, own', 'hits with 100000 entries: Map.get(view), own buffers', 'hits with 100000 entries: acquire+release, own buffers'],
      ['hit 100k, heap', 'hits with 100000 entries: Map.get(view), views of 4 heaps', 'hits with 100000 entries: acquire+release, views of 4 heaps'],
      ['miss', 'userfaultfd: hit', 'userfaultfd: miss'],
    ];
    const ns = { ...h.hitNs, ...h.missNs };
    await add('host-micro', pairs.flatMap(([x, ref, ours]) => [
      { x, series: 'reference', value: ns[ref]?.median ?? NaN },
      { x, series: 'rdma-regcache', value: ns[ours]?.median ?? NaN },
    ]), 'Host micro-benchmarks: reference = bare load, Map.get, or a hit (for the miss)', 'operation', 'ns per operation (lower is better)');
  }
  const vm = r.vm['6.1'];
  if (vm?.write) {
    await add('write-bw', vm.write.flatMap((w) => [
      { x: formatSize(w.size), series: 'ib_write_bw', value: (w.bwClock?.basis === 'wall-clock' ? w.perftestWallMBps : w.perftestMBps)?.median ?? NaN },
      { x: formatSize(w.size), series: 'Endpoint.write', value: w.endpointMBps.median },
    ]), `RDMA WRITE bandwidth on rxe (${vm.kernel})`, 'message size', 'MB/s (higher is better)');
    // The round trip: the two-process ping-pong against ib_write_lat's (results before it: the awaited write).
    const pp = vm.write.some((w) => w.pingPong);
    await add('write-lat', vm.write.flatMap((w) => [
      { x: formatSize(w.size), series: 'ib_write_lat RTT', value: (w.latClock?.basis === 'wall-clock' ? w.perftestWallRttUs : w.perftestRttUs)?.median ?? NaN },
      ...(pp
        ? [
          { x: formatSize(w.size), series: "ping-pong 'poll'", value: w.pingPong?.pollUs.median ?? NaN },
          { x: formatSize(w.size), series: "ping-pong 'event'", value: w.pingPong?.eventUs?.median ?? NaN },
        ]
        : [{ x: formatSize(w.size), series: 'Endpoint.write', value: w.endpointWriteUs.median }]),
    ]), `RDMA WRITE ${pp ? 'ping-pong round trip' : 'latency'} on rxe (${vm.kernel})`, 'message size', 'microseconds (lower is better)');
    const small = vm.write.filter((w) => w.rate);
    await add('small-rate', small.flatMap((w) => [
      { x: formatSize(w.size), series: 'ib_write_bw', value: w.rate!.perftestMsgPerSec.median / 1e3 },
      { x: formatSize(w.size), series: "Endpoint 'poll'", value: w.rate!.pollMsgPerSec.median / 1e3 },
      { x: formatSize(w.size), series: "Endpoint 'event'", value: w.rate!.eventMsgPerSec.median / 1e3 },
    ]), `RDMA WRITE message rate, 128 in flight, on rxe (${vm.kernel})`, 'message size', 'thousand messages/s (higher is better)');
  }
  if (vm?.reuse) {
    await add('reuse', vm.reuse.map((x) => ({ x: formatSize(x.size), series: LABEL[x.mode] ?? x.mode, value: x.opsPerSecond.median })),
      'Buffer reuse over rxe: 16 buffers, 4 reallocated per round', 'buffer size', 'writes/s (higher is better)');
  }
  if (vm?.registration) {
    await add('registration', vm.registration.flatMap((g) => [
      { x: formatSize(g.size), series: 'reg + dereg', value: spread(g.runs.map((x) => x.registerUs)).median },
      { x: formatSize(g.size), series: 'cache hit', value: spread(g.runs.map((x) => x.hitUs)).median },
    ]), 'Registration cost by size: ibv_reg_mr + ibv_dereg_mr vs a cache hit', 'buffer size', 'microseconds (lower is better)');
  }
  if (vm?.invalidation) {
    await add('invalidation', vm.invalidation.flatMap((g) => [
      { x: formatSize(g.size), series: 'munmap (plain)', value: spread(g.runs.map((x) => x.plainMunmapUs)).median },
      { x: formatSize(g.size), series: 'munmap (cached)', value: spread(g.runs.map((x) => x.munmapUs)).median },
      { x: formatSize(g.size), series: 'munmap + evict', value: spread(g.runs.map((x) => x.totalUs)).median },
    ]), 'Invalidation: munmap of a cached buffer until the next check evicted it', 'buffer size', 'microseconds (lower is better)');
  }
  const hw = r.hosts?.write;
  if (hw) {
    await add('hosts-write-bw', hw.rows.flatMap((w) => [
      { x: formatSize(w.size), series: 'ib_write_bw', value: (w.bwClock?.basis === 'wall-clock' ? w.perftestWallMBps : w.perftestMBps)?.median ?? NaN },
      { x: formatSize(w.size), series: 'world.write', value: w.worldMBps.median },
    ]), 'RDMA WRITE bandwidth across two hosts (two VMs)', 'message size', 'MB/s (higher is better)');
    const small = hw.rows.filter((w) => w.rate);
    await add('hosts-small-rate', small.flatMap((w) => [
      { x: formatSize(w.size), series: 'ib_write_bw', value: w.rate!.perftestMsgPerSec.median / 1e3 },
      { x: formatSize(w.size), series: "Endpoint 'poll'", value: w.rate!.pollMsgPerSec.median / 1e3 },
      { x: formatSize(w.size), series: "world.write ('event')", value: w.rate!.worldMsgPerSec.median / 1e3 },
    ]), 'RDMA WRITE message rate across two hosts, 128 in flight', 'message size', 'thousand messages/s (higher is better)');
  }
  const ha = r.hosts?.allreduce;
  if (ha) {
    await add('hosts-allreduce', ha.rows.flatMap((q) => [
      { x: formatSize(q.size), series: 'MPI_Allreduce', value: q.mpiUs.median },
      { x: formatSize(q.size), series: 'ring allreduce (World)', value: q.ringUs.median },
    ]), `Allreduce across two hosts, ${ha.ranks} ranks`, 'vector size', 'microseconds per call (lower is better)');
  }
  const kmods = Object.entries(r.vm).filter(([, v]) => v?.kmod);
  if (kmods.length) {
    await add('kmod', kmods.flatMap(([series, v]) => [
      { x: series, series: '0 registrations', value: v!.kmod!.loopNs0.median },
      { x: series, series: `${v!.kmod!.regs / 1000}k registrations`, value: v!.kmod!.loopNsRegs.median },
    ]), 'Kernel: mmap + touch + munmap loop (median of best rounds)', 'guest kernel', 'ns per iteration (lower is better)', false);
  }
  return charts;
}
