/** The shape of bench/results/<date>.json: what run.ts gathers, what the report and targets read. */
import type { HostMicro } from '../host/micro.js';
import type { AllreduceResult } from '../hosts/allreduce-runs.js';
import type { CounterDeltas } from '../hosts/counters.js';
import type { HostsWriteResult } from '../hosts/write-runs.js';
import type { InvalidationCost } from '../vm/invalidation-cost.js';
import type { KmodResult } from '../vm/kmod-runs.js';
import type { RegistrationCost } from '../vm/registration-cost.js';
import type { ReuseRow } from '../vm/reuse-runs.js';
import type { WriteRow } from '../vm/write-runs.js';
import type { Machine } from './machine.js';
import type { RetryRecord } from './retries.js';

export interface VmResult {
  kernel: string;
  guestCpu: string;
  device: string;
  quick: boolean;
  reps: number;
  seconds: number;
  write?: WriteRow[];
  registration?: { size: number; iters: number; runs: RegistrationCost[] }[];
  invalidation?: { size: number; runs: InvalidationCost[] }[];
  reuse?: ReuseRow[];
  kmod?: KmodResult;
  /** Steps of this boot with runs that failed and were run again (n of N, with why). */
  retries?: RetryRecord[];
}

/** What ran in the two-host boot (bench/hosts/suite.ts, on node1). */
export interface HostsResult {
  kernel: string;
  guestCpu: string;
  device: string;
  /** ['node1', 'node2'] (or one entry saying the run was in one guest). */
  hosts: string[];
  quick: boolean;
  reps: number;
  seconds: number;
  write?: HostsWriteResult;
  allreduce?: AllreduceResult;
  /** rxe and NIC counters that moved during each phase ('write', 'allreduce'), per guest. */
  counters?: Record<string, CounterDeltas>;
  retries?: RetryRecord[];
}

export interface BenchResults {
  date: string;
  quick: boolean;
  reps: number;
  machine: Machine;
  host: HostMicro | null;
  /** Guest kernel series ('6.1', '6.12') -> what ran in that boot (null: the boot failed). */
  vm: Record<string, VmResult | null>;
  /** The two-host boot (absent in results before 2026-12-02; null: the boot failed). */
  hosts?: HostsResult | null;
  /** qemu's -accel choice for the two guests of the two-host boot. */
  hostsAccel?: string;
  /** qemu's -accel choice for the benchmark guests ('multi', 'single'; absent in results before 2026-12-02: multi). */
  guestAccel?: string;
  /** Steps that failed to produce numbers. */
  errors: string[];
  /** Notes that cost no numbers (results before 2026-12-02: a guest exit after its suite finished, now an error). */
  warnings: string[];
  seconds: number;
}
