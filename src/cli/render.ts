/** The text form of `rdma-regcache info` (the `--json` form is the report itself). */
import Table from 'cli-table3';
import { formatBytes, type InfoReport } from './info.js';

const limit = (v: number | 'unlimited' | null) => (v === null ? 'unknown' : v === 'unlimited' ? 'unlimited' : formatBytes(v));

function table(head: string[]): Table.Table {
  return new Table({ head, style: { head: [], border: [] } });
}

export function renderInfo(r: InfoReport): string {
  const out: string[] = [];
  const section = (title: string) => out.push('', title);
  out.push(`${r.package.name} ${r.package.version}, node ${r.node}, Linux ${r.kernel}`);
  out.push(`native addon: ${r.addon.loaded ? 'loaded' : `NOT LOADED: ${r.addon.error}`}`);

  section('RDMA devices');
  if (r.devicesError) out.push(`  listing failed: ${r.devicesError}`);
  else if (r.devices.length === 0) out.push(r.addon.loaded ? '  none' : '  unknown (no addon)');
  else {
    const t = table(['device', 'port', 'state', 'link', 'MTU', 'LID', 'interface', 'IP addresses']);
    for (const d of r.devices) {
      for (const p of d.ports) {
        t.push([
          d.name, p.port, p.state, p.linkLayer, p.activeMtu, p.lid,
          p.netdevs.map((n) => n.name).join(', ') || '-',
          p.netdevs.flatMap((n) => n.addresses).join('\n') || '-',
        ]);
      }
    }
    out.push(t.toString());
    for (const d of r.devices) {
      out.push(`  ${d.name}: guid ${d.guid}, ${d.transport}, firmware ${d.firmware || '-'}, max MR ${formatBytes(Number(d.maxMrSize))}, ${d.maxQp} QPs, ${d.maxMr} MRs`);
    }
    const g = table(['device', 'port', 'GID index', 'GID', 'type', 'interface', 'IPv4']);
    for (const d of r.devices) for (const p of d.ports) for (const e of p.gids) g.push([d.name, p.port, e.index, e.gid, e.type ?? '-', e.netdev ?? '-', e.ipv4 ?? '-']);
    if (g.length > 0) out.push(g.toString());
  }

  section('memory monitor');
  out.push(`  MemoryMonitor.open({ backend: 'auto' }) picks: ${r.monitor.auto ?? 'nothing'}`);
  out.push(`  why: ${r.monitor.reason || '-'}`);
  const u = r.userfaultfd;
  out.push(
    `  userfaultfd: ${u.usable ? `usable (${u.mode} mode${u.userModeOnly ? ', user-mode faults only' : ''})` : `not usable${u.error ? `: ${u.error}` : ''}`}; ` +
      `vm.unprivileged_userfaultfd=${u.unprivileged ?? '?'}, /dev/userfaultfd ${u.devNode ? 'present' : 'absent'}`,
  );

  section('ummunotify module');
  const m = r.module;
  if (!m.loaded && !m.device) out.push('  not loaded (/dev/ummunotify absent)');
  else {
    out.push(`  ${m.device ? `${m.device.path} ${m.device.mode}` : '/dev/ummunotify absent'}; version ${m.version ?? '?'}${m.srcversion ? ` (srcversion ${m.srcversion})` : ''}`);
    if (m.features) out.push(`  features granted: ${m.features.granted.join(', ') || 'none (V2 behaviour)'}; the library asks for ${m.libraryFeatures.join(', ')}`);
    if (m.error) out.push(`  opening it failed: ${m.error}`);
    const t = table(['parameter', 'value']);
    for (const [k, v] of Object.entries(m.parameters)) {
      // user_registrations: "uid count" lines, one per user with a file open.
      t.push([k, k === 'user_registrations' ? v.split('\n').filter(Boolean).map((l) => l.replace(/^(\d+) (\d+)$/, 'uid $1: $2')).join('\n') || 'none' : v]);
    }
    if (t.length > 0) out.push(t.toString());
    const f = table(['/proc/self/fdinfo of a monitor', 'value']);
    for (const [k, v] of Object.entries(m.fdinfo)) f.push([k, v]);
    if (f.length > 0) out.push(f.toString());
  }

  section('limits and job');
  const ml = r.memlock;
  out.push(`  RLIMIT_MEMLOCK: soft ${limit(ml.soft)}, hard ${limit(ml.hard)}${ml.capIpcLock ? ' (CAP_IPC_LOCK: not enforced for this process)' : ''}${ml.low ? ' -- LOW' : ''}`);
  out.push(`  PMIx: ${r.pmix.present ? `libpmix.so.2 at ${r.pmix.library}` : 'libpmix.so.2 absent'} (${r.pmix.note})${r.pmix.underLauncher ? '; started by a PMIx launcher' : ''}`);

  section(r.ok ? (r.findings.length ? 'ready, with warnings' : 'ready: this machine can run rdma-regcache') : 'NOT READY: this machine cannot run rdma-regcache yet');
  for (const f of r.findings) {
    out.push(`  ${f.level === 'error' ? 'error' : 'warning'}: ${f.what}`);
    out.push(`    fix: ${f.fix}`);
  }
  return `${out.join('\n')}\n`;
}
