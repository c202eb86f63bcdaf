/** Argument checks: TypeError for a wrong type, RangeError for a wrong value. */

export function checkInteger(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number, got ${describe(value)}`);
  if (!Number.isInteger(value) || value < min || value > max)
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${value}`);
  return value;
}

export function checkOptionalInteger(value: unknown, name: string, min: number, max: number, dflt: number): number {
  return value === undefined ? dflt : checkInteger(value, name, min, max);
}

export const U64_MAX = (1n << 64n) - 1n;
export const U32_MAX = 0xffff_ffff;

export function checkAddress(value: unknown, name: string): bigint {
  if (typeof value !== 'bigint') throw new TypeError(`${name} must be a bigint, got ${describe(value)}`);
  if (value < 0n || value > U64_MAX) throw new RangeError(`${name} must be in [0, 2^64), got ${value}`);
  return value;
}

export function checkObject(value: unknown, name: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null) throw new TypeError(`${name} must be an object, got ${describe(value)}`);
  return value as Record<string, unknown>;
}

export function checkString(value: unknown, name: string): string {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string, got ${describe(value)}`);
  return value;
}

export function checkInstance<T>(value: unknown, cls: abstract new (...args: never[]) => T, name: string): T {
  if (!(value instanceof cls)) throw new TypeError(`${name} must be a ${cls.name}, got ${describe(value)}`);
  return value;
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  return typeof value;
}
