export { RegistrationCache, type CacheableMemory } from './cache.js';
export type { RegistrationCacheOptions } from './options.js';
export type { CacheStats } from './stats.js';
export { Registration } from './registration.js';
export type { Registrar, RangeRegistration } from './entry.js';
