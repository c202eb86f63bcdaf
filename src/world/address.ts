import { readFileSync, readdirSync } from 'node:fs';
import { networkInterfaces } from 'node:os';

/**
 * The IPv4 address rdma_cm reaches `device` at: that of the network interface
 * the device is bound to (RoCE: /sys/class/infiniband/<dev>/ports/<p>/gid_attrs/ndevs
 * names it; IB: its IPoIB interface, listed there too). Undefined when the
 * device has no interface with an IPv4 address.
 */
export function deviceAddress(device: string): string | undefined {
  const interfaces = networkInterfaces();
  for (const netdev of deviceNetdevs(device)) {
    const v4 = interfaces[netdev]?.find((a) => a.family === 'IPv4');
    if (v4 !== undefined) return v4.address;
  }
  return undefined;
}

function deviceNetdevs(device: string): string[] {
  const names = new Set<string>();
  const portsDir = `/sys/class/infiniband/${device}/ports`;
  let ports: string[];
  try {
    ports = readdirSync(portsDir);
  } catch {
    return [];
  }
  for (const port of ports) {
    const dir = `${portsDir}/${port}/gid_attrs/ndevs`;
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      continue;
    }
    for (const e of entries.sort((a, b) => Number(a) - Number(b))) {
      try {
        const name = readFileSync(`${dir}/${e}`, 'utf8').trim();
        if (name) names.add(name);
      } catch {
        // an unused GID slot reads as EINVAL
      }
    }
  }
  return [...names];
}
