// A MemoryMonitor client that records what reaches it, for the tests of a
// monitor shared by clients (host: userfaultfd; VM: ummunotify).
import type { MonitorClient } from '../src/monitor/monitor.js';

export interface Recorded {
  client: MonitorClient;
  /** [cookie, start, end, exact] of every report, in order. */
  reports: [number, number, number, boolean][];
  /** onLost() calls: drains that could not finish. */
  lost: number;
}

export function recorder(): Recorded {
  const r: Recorded = {
    reports: [],
    lost: 0,
    client: {
      onReport: (cookie, start, end, exact) => r.reports.push([cookie, start, end, exact]),
      onLost: () => r.lost++,
    },
  };
  return r;
}
