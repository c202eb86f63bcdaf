/** Counters of a cache, from {@link RegistrationCache.stats}. */
export interface CacheStats {
  /** The monitor backend ('none' means hits are unverified). */
  backend: string;
  /** Acquires answered by a cached registration: `fastHits + slowHits`. */
  hits: number;
  /**
   * Hits answered by the buffer's memo (the entry that last served a view of
   * the same ArrayBuffer at the same byteOffset, still valid and containing
   * it): no index search.
   */
  fastHits: number;
  /** Hits found by searching the interval index (a view not seen before, or its entry changed). */
  slowHits: number;
  misses: number;
  /** Unused registrations dropped to respect maxEntries / maxBytes / RLIMIT_MEMLOCK. */
  evictions: number;
  /** Registrations dropped because their memory changed mapping. */
  invalidations: number;
  /** Lookups that found no entry where an invalidated one would have matched: stale uses prevented. */
  staleAvoided: number;
  /** Hits that no monitor vouched for (backend 'none'). */
  unverifiedHits: number;
  /** Bytes pinned by live registrations (page-rounded). */
  bytesPinned: number;
  /** Registrations alive at the registrar (cached, in use, or invalidated but still in use). */
  liveRegistrations: number;
  /** Entries findable in the index. */
  entries: number;
  /** Entries with at least one Registration not yet released. */
  inUse: number;
  /** Entries no one holds: what eviction may take. */
  idle: number;
  /** Generation changes handled (each one drain). */
  drains: number;
  /** Misses registered again because the memory changed while it was being registered. */
  raceRetries: number;
  /** Registrations that hit ENOMEM and were retried after evicting. */
  enomemRetries: number;
  /** Watches refused at the module's registration limit (ENOSPC) and retried after evicting. */
  watchLimitRetries: number;
  /** Holds from acquireRevocable() revoked because their memory changed. */
  revocations: number;
  /**
   * Drains that could not finish (the monitor lost reports it had consumed):
   * each one invalidated every entry, since any of them may have changed.
   */
  drainFailures: number;
  /** The RLIMIT_MEMLOCK bound in force (Infinity: unlimited). */
  memlockLimit: number;
}
