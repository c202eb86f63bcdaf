/**
 * `rdma-regcache info`: what this machine offers the library and what is
 * missing, in the spirit of `ibv_devinfo`, `ucx_info -d` and `fi_info`.
 * {@link collectInfo} gathers it as plain JSON-able data; nothing here throws
 * (every failure becomes part of the report).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { networkInterfaces, release } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NativeAddon } from '../native.js';

/** Something that stops the library from running here (error) or weakens it (warning). */
export interface Finding {
  level: 'error' | 'warning';
  what: string;
  /** What to do about it: a command or a setting. */
  fix: string;
}

export interface GidEntry {
  index: number;
  gid: string;
  /** 'RoCE v2', 'IB/RoCE v1', ... (sysfs gid_attrs/types). */
  type?: string;
  /** The network interface behind it (RoCE). */
  netdev?: string;
  /** The IPv4 address an IPv4-mapped GID stands for. */
  ipv4?: string;
}

export interface PortReport {
  port: number;
  state: string;
  linkLayer: string;
  activeMtu: number;
  lid: number;
  gids: GidEntry[];
  /** Network interfaces of this port's GIDs (RoCE), with their IP addresses: what Endpoint's `host` takes. */
  netdevs: { name: string; addresses: string[] }[];
}

export interface DeviceReport {
  name: string;
  guid: string;
  transport: string;
  firmware: string;
  maxMrSize: string;
  maxQp: number;
  maxMr: number;
  ports: PortReport[];
}

export interface InfoReport {
  package: { name: string; version: string };
  node: string;
  kernel: string;
  addon: { loaded: boolean; error?: string };
  devices: DeviceReport[];
  devicesError?: string;
  monitor: {
    /** The backend MemoryMonitor.open({ backend: 'auto' }) picks, or null if none works. */
    auto: 'ummunotify' | 'userfaultfd' | null;
    reason: string;
  };
  module: {
    loaded: boolean;
    /** /dev/ummunotify and its mode ('crw-rw-rw-'), when present. */
    device?: { path: string; mode: string };
    version?: string;
    srcversion?: string;
    /** /sys/module/ummunotify/parameters/* (user_registrations: one "uid count" line per user, or empty). */
    parameters: Record<string, string>;
    /** Feature bits the module granted when asked for all it may know. */
    features?: { granted: string[]; bits: number };
    /** The library's request: mapping-only filtering and ENOSPC limits. */
    libraryFeatures: string[];
    /** The ummunotify-* lines of /proc/self/fdinfo of an opened monitor. */
    fdinfo: Record<string, string>;
    error?: string;
  };
  memlock: {
    /** Bytes, or 'unlimited'. */
    soft: number | 'unlimited' | null;
    hard: number | 'unlimited' | null;
    /** CAP_IPC_LOCK in the effective set: the limit does not apply (root). */
    capIpcLock: boolean;
    low: boolean;
  };
  userfaultfd: {
    usable: boolean;
    mode?: string;
    userModeOnly?: boolean;
    /** vm.unprivileged_userfaultfd. */
    unprivileged: number | null;
    devNode: boolean;
    error?: string;
  };
  pmix: {
    present: boolean;
    /** Where libpmix.so.2 was found. */
    library?: string;
    /** PMIX_RANK/PMIX_NAMESPACE are set: started by a PMIx launcher. */
    underLauncher: boolean;
    /** The addon was built with the PMIx binding (pmix.h was there). */
    built?: boolean;
    note: string;
  };
  findings: Finding[];
  /** False when some finding is an error: the library cannot run its RDMA operations here. */
  ok: boolean;
}

/** Below this soft RLIMIT_MEMLOCK (and without CAP_IPC_LOCK) the report warns. */
export const MEMLOCK_LOW = 64 * 1024 * 1024;

const FEATURE_NAMES = ['MAPPING_ONLY', 'STRICT', 'LIMIT', 'OWNER_ONLY', 'FDINFO'];
/** Every feature bit a module may grant (kmod/uapi/ummunotify.h, bits 0..4). */
const ALL_FEATURES = (1 << FEATURE_NAMES.length) - 1;
const CAP_IPC_LOCK = 14;

function featureNames(bits: number): string[] {
  const names = FEATURE_NAMES.filter((_, i) => bits & (1 << i));
  const unknown = bits & ~ALL_FEATURES;
  if (unknown) names.push(`0x${unknown.toString(16)}`);
  return names;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  } catch {
    return [];
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** ::ffff:a.b.c.d as sysfs prints it: 0000:0000:0000:0000:0000:ffff:c000:0201. */
function mappedIpv4(gid: string): string | undefined {
  const m = /^0000:0000:0000:0000:0000:ffff:([0-9a-f]{4}):([0-9a-f]{4})$/.exec(gid);
  if (!m) return undefined;
  const a = parseInt(m[1]!, 16);
  const b = parseInt(m[2]!, 16);
  return [a >> 8, a & 255, b >> 8, b & 255].join('.');
}

function portGids(device: string, port: number): GidEntry[] {
  const base = `/sys/class/infiniband/${device}/ports/${port}`;
  const out: GidEntry[] = [];
  for (const name of list(join(base, 'gids'))) {
    const gid = read(join(base, 'gids', name)); // unused entries read as zeros or fail (EINVAL)
    if (!gid || /^[0:]+$/.test(gid)) continue;
    const index = Number(name);
    const entry: GidEntry = { index, gid };
    const type = read(join(base, 'gid_attrs', 'types', name));
    if (type) entry.type = type;
    const netdev = read(join(base, 'gid_attrs', 'ndevs', name));
    if (netdev) entry.netdev = netdev;
    const ipv4 = mappedIpv4(gid);
    if (ipv4) entry.ipv4 = ipv4;
    out.push(entry);
  }
  return out;
}

function devices(native: NativeAddon, report: InfoReport): void {
  try {
    const ifaces = networkInterfaces();
    for (const d of native.listDevices()) {
      report.devices.push({
        name: d.name,
        guid: d.guid,
        transport: d.transport,
        firmware: d.firmware,
        maxMrSize: d.maxMrSize.toString(),
        maxQp: d.maxQp,
        maxMr: d.maxMr,
        ports: d.ports.map((p) => {
          const gids = portGids(d.name, p.port);
          const names = [...new Set(gids.map((g) => g.netdev).filter((n): n is string => !!n))];
          return {
            port: p.port,
            state: p.state,
            linkLayer: p.linkLayer,
            activeMtu: p.activeMtu,
            lid: p.lid,
            gids,
            netdevs: names.map((name) => ({
              name,
              addresses: (ifaces[name] ?? []).map((a) => (a.family === 'IPv6' ? `${a.address}%${name}` : a.address)),
            })),
          };
        }),
      });
    }
  } catch (err) {
    report.devicesError = message(err);
  }
}

function limitValue(s: string | undefined): number | 'unlimited' | null {
  if (s === undefined) return null;
  if (s === 'unlimited') return 'unlimited';
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
}

function memlock(report: InfoReport): void {
  const line = read('/proc/self/limits')?.split('\n').find((l) => l.startsWith('Max locked memory'));
  const [soft, hard] = line?.slice('Max locked memory'.length).trim().split(/\s+/) ?? [];
  const capEff = read('/proc/self/status')?.match(/^CapEff:\s*([0-9a-f]+)/m)?.[1];
  const capIpcLock = capEff !== undefined && (BigInt(`0x${capEff}`) & (1n << BigInt(CAP_IPC_LOCK))) !== 0n;
  const softValue = limitValue(soft);
  const low = !capIpcLock && typeof softValue === 'number' && softValue < MEMLOCK_LOW;
  report.memlock = { soft: softValue, hard: limitValue(hard), capIpcLock, low };
  if (low) {
    const hardValue = limitValue(hard);
    const canRaise = hardValue === 'unlimited' || (typeof hardValue === 'number' && hardValue >= MEMLOCK_LOW);
    report.findings.push({
      level: 'warning',
      what:
        `RLIMIT_MEMLOCK is ${formatBytes(softValue as number)} (soft): registered memory is pinned and counts ` +
        'against it, so the cache evicts early and large registrations fail with ENOMEM',
      fix: canRaise
        ? `raise the soft limit up to the hard one (${hardValue === 'unlimited' ? 'unlimited' : formatBytes(hardValue as number)}): ulimit -l ${hardValue === 'unlimited' ? 'unlimited' : Math.floor((hardValue as number) / 1024)}`
        : 'as root, in /etc/security/limits.conf: "@rdma soft memlock unlimited" and "@rdma hard memlock unlimited" ' +
          '(new login), or LimitMEMLOCK=infinity in a systemd unit; for one root shell: ulimit -l unlimited',
    });
  }
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1 && n % 1024 === 0) {
    n /= 1024;
    i++;
  }
  return `${n} ${units[i]}`;
}

/** The fd numbers of this process that are open on /dev/ummunotify. */
function ummunotifyFds(): string[] {
  return list('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === '/dev/ummunotify';
    } catch {
      return false;
    }
  });
}

function moduleInfo(native: NativeAddon | undefined, report: InfoReport): void {
  const m = report.module;
  const sys = '/sys/module/ummunotify';
  m.loaded = existsSync(sys);
  if (existsSync('/dev/ummunotify')) {
    const st = statSync('/dev/ummunotify');
    const bits = 'rwxrwxrwx'.split('').map((c, i) => (st.mode & (0o400 >> i) ? c : '-')).join('');
    m.device = { path: '/dev/ummunotify', mode: `${st.isCharacterDevice() ? 'c' : '?'}${bits}` };
  }
  const version = read(join(sys, 'version'));
  if (version) m.version = version;
  const srcversion = read(join(sys, 'srcversion'));
  if (srcversion) m.srcversion = srcversion;
  for (const p of list(join(sys, 'parameters'))) {
    const v = read(join(sys, 'parameters', p));
    if (v !== undefined) m.parameters[p] = v;
  }
  if (!native) return;
  m.libraryFeatures = featureNames(native.UMMUNOTIFY_FEATURE_MAPPING_ONLY | native.UMMUNOTIFY_FEATURE_LIMIT);
  if (!m.device) return;
  const before = new Set(ummunotifyFds());
  try {
    const mon = new native.UmmunotifyMonitor(ALL_FEATURES);
    try {
      m.features = { granted: featureNames(mon.features), bits: mon.features };
      const fd = ummunotifyFds().find((f) => !before.has(f));
      for (const line of (fd && read(`/proc/self/fdinfo/${fd}`)?.split('\n')) || []) {
        const kv = /^(ummunotify-[\w-]+):\s*(.*)$/.exec(line);
        if (kv) m.fdinfo[kv[1]!] = kv[2]!;
      }
    } finally {
      mon.close();
    }
  } catch (err) {
    m.error = message(err);
  }
}

function userfaultfd(native: NativeAddon | undefined, report: InfoReport): void {
  const u = report.userfaultfd;
  const sysctl = read('/proc/sys/vm/unprivileged_userfaultfd');
  u.unprivileged = sysctl === undefined ? null : Number(sysctl);
  u.devNode = existsSync('/dev/userfaultfd');
  if (!native) return;
  try {
    const mon = new native.UserfaultfdMonitor('auto');
    u.usable = true;
    u.mode = mon.mode;
    u.userModeOnly = mon.userModeOnly;
    mon.close();
  } catch (err) {
    u.error = message(err);
  }
}

async function monitorChoice(report: InfoReport): Promise<void> {
  const { MemoryMonitor } = await import('../monitor/monitor.js');
  const mod = report.module;
  try {
    const mon = MemoryMonitor.open({ backend: 'auto' });
    const backend = mon.backend as 'ummunotify' | 'userfaultfd';
    mon.close();
    report.monitor.auto = backend;
    if (backend === 'ummunotify') {
      report.monitor.reason = '/dev/ummunotify is present and granted mapping-only filtering: every mapping change is seen';
    } else {
      const why = !mod.device
        ? '/dev/ummunotify does not exist (the module is not loaded)'
        : `the module did not serve: ${mod.error ?? 'it lacks mapping-only filtering'}`;
      report.monitor.reason = `${why}; userfaultfd works here (${report.userfaultfd.mode} mode)`;
      report.findings.push({
        level: 'warning',
        what:
          "'auto' falls back to userfaultfd, which cannot see shmdt(), cannot watch System V shared memory or " +
          'most file mappings, and slows every munmap of a watched range',
        fix: 'install the ummunotify module: sudo dkms install ummunotify/0.1.0 && sudo modprobe ummunotify (README, "Install on a real cluster")',
      });
    }
  } catch (err) {
    report.monitor.reason = message(err);
    report.findings.push({
      level: 'error',
      what: 'no memory monitor: neither /dev/ummunotify nor userfaultfd can be used, so a RegistrationCache cannot be opened',
      fix: 'sudo modprobe ummunotify (install it with DKMS first), or sudo sysctl vm.unprivileged_userfaultfd=1',
    });
  }
}

function pmix(native: NativeAddon | undefined, report: InfoReport): void {
  let library: string | undefined;
  try {
    const out = execFileSync('ldconfig', ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/sbin:/usr/sbin` } });
    library = /\blibpmix\.so\.2\b.*=>\s*(\S+)/.exec(out)?.[1];
  } catch {
    // no ldconfig: look where Debian puts it
  }
  library ??= ['/usr/lib/x86_64-linux-gnu/libpmix.so.2', '/usr/lib/aarch64-linux-gnu/libpmix.so.2', '/usr/lib64/libpmix.so.2', '/usr/lib/libpmix.so.2'].find((p) => existsSync(p));
  const underLauncher = Boolean(process.env.PMIX_RANK ?? process.env.PMIX_NAMESPACE);
  const built = native?.pmix.built;
  report.pmix = {
    present: library !== undefined,
    ...(library ? { library } : {}),
    underLauncher,
    ...(built !== undefined ? { built } : {}),
    note:
      built === false
        ? 'the addon was built without PMIx (no pmix.h): World works only as a world of one; install libpmix-dev and npm rebuild rdma-regcache'
        : library
          ? 'World joins jobs started by mpirun, srun --mpi=pmix or any PMIx launcher'
          : 'World needs libpmix2 (Debian/Ubuntu) or pmix (RHEL/Fedora) in jobs started by a launcher; a plain process is a world of one',
  };
  if (underLauncher && (built === false || library === undefined))
    report.findings.push({
      level: 'error',
      what: built === false ? 'started by a PMIx launcher, but the addon was built without PMIx' : 'started by a PMIx launcher, but libpmix.so.2 is missing',
      fix: built === false ? 'sudo apt-get install libpmix-dev && npm rebuild rdma-regcache' : 'sudo apt-get install libpmix2 (RHEL/Fedora: pmix)',
    });
}

function packageInfo(): { name: string; version: string } {
  try {
    const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { name: string; version: string };
    return { name: pkg.name, version: pkg.version };
  } catch {
    return { name: 'rdma-regcache', version: 'unknown' };
  }
}

/** Gathers the report. Never throws. */
export async function collectInfo(): Promise<InfoReport> {
  const report: InfoReport = {
    package: packageInfo(),
    node: process.version,
    kernel: release(),
    addon: { loaded: false },
    devices: [],
    monitor: { auto: null, reason: '' },
    module: { loaded: false, parameters: {}, libraryFeatures: [], fdinfo: {} },
    memlock: { soft: null, hard: null, capIpcLock: false, low: false },
    userfaultfd: { usable: false, unprivileged: null, devNode: false },
    pmix: { present: false, underLauncher: false, note: '' },
    findings: [],
    ok: false,
  };
  let native: NativeAddon | undefined;
  try {
    native = (await import('../native.js')).native;
    report.addon.loaded = true;
  } catch (err) {
    report.addon.error = message(err);
    report.findings.push({
      level: 'error',
      what: 'the native addon does not load',
      fix: 'npm rebuild rdma-regcache (needs cmake, g++, libibverbs-dev, librdmacm-dev)',
    });
  }
  if (native) devices(native, report);
  memlock(report);
  moduleInfo(native, report);
  userfaultfd(native, report);
  if (native) await monitorChoice(report);
  pmix(native, report);

  if (native) {
    if (report.devicesError) {
      report.findings.push({ level: 'error', what: `listing RDMA devices failed: ${report.devicesError}`, fix: 'check that rdma-core is installed and /dev/infiniband is readable' });
    } else if (report.devices.length === 0) {
      report.findings.push({
        level: 'error',
        what: 'no RDMA device: libibverbs sees none',
        fix:
          "install rdma-core and ibverbs-providers and load the NIC's driver; without RDMA hardware use Soft-RoCE: " +
          'sudo modprobe rdma_rxe && sudo rdma link add rxe0 type rxe netdev <interface>',
      });
    } else if (!report.devices.some((d) => d.ports.some((p) => p.state === 'ACTIVE'))) {
      report.findings.push({
        level: 'error',
        what: 'no RDMA port is ACTIVE',
        fix: 'bring the link up (ip link set <interface> up; for InfiniBand a subnet manager must run) and check with ibv_devinfo',
      });
    }
  }
  if (report.module.loaded && report.module.features && !report.module.features.granted.includes('MAPPING_ONLY')) {
    report.findings.push({
      level: 'warning',
      what: 'the loaded ummunotify module lacks mapping-only filtering: fork() and mprotect() flush the cache',
      fix: "install this package's module (kmod/, DKMS) in place of the loaded one",
    });
  }
  report.findings.sort((a, b) => (a.level === b.level ? 0 : a.level === 'error' ? -1 : 1));
  report.ok = !report.findings.some((f) => f.level === 'error');
  return report;
}
