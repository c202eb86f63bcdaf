import { Pmix } from './pmix.js';

/** What World needs of the job's runtime (PMIx). */
export interface JobClient {
  readonly rank: number;
  readonly size: number;
  readonly localRank: number;
  readonly hostname: string;
  put(key: string, value: string | Uint8Array): void;
  commit(): void;
  fence(collectData: boolean): Promise<void>;
  get(rank: number, key: string): Promise<Buffer>;
  finalize(): void;
}

/**
 * The job this process belongs to: PMIx when a launcher started it, else
 * undefined (a world of one). A launched process without a usable libpmix
 * fails here with an error naming the package.
 */
export async function joinJob(): Promise<JobClient | undefined> {
  if (!Pmix.detect()) return undefined;
  return Pmix.init();
}
