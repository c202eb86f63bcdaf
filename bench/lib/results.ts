/** The shape of bench/results/<date>.json: what run.ts gathers, what the report and targets read. */
import type { HostMicro } from '../host/micro.js';
import type { InvalidationCost } from '../vm/invalidation-cost.js';
import type { KmodResult } from '../vm/kmod-runs.js';
import type { RegistrationCost } from '../vm/registration-cost.js';
import type { ReuseRow } from '../vm/reuse-runs.js';
import type { WriteRow } from '../vm/write-runs.js';
import type { Machine } from './machine.js';

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
}

export interface BenchResults {
  date: string;
  quick: boolean;
  reps: number;
  machine: Machine;
  host: HostMicro | null;
  /** Guest kernel series ('6.1', '6.12') -> what ran in that boot (null: the boot failed). */
  vm: Record<string, VmResult | null>;
  /** Steps that failed to produce numbers. */
  errors: string[];
  /** Things worth knowing that did not cost any numbers (a guest's non-zero exit after its suite finished). */
  warnings: string[];
  seconds: number;
}
