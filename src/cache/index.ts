export { RegistrationCache, type CacheStats, type CacheableMemory, type RegistrationCacheOptions } from './cache.js';
export { Registration } from './registration.js';
export type { Registrar, RangeRegistration } from './entry.js';
