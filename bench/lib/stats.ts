/** Summary of repeated measurements: the report shows the median and the spread. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  /** Sample standard deviation (0 for a single value). */
  stddev: number;
  n: number;
  values: number[];
}

/** NaN, null and missing values (a run that produced no number) are left out; with none left, every field is NaN and n is 0. */
export function spread(values: number[]): Spread {
  const v = values.filter((x) => typeof x === 'number' && !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return { median: NaN, min: NaN, max: NaN, stddev: NaN, n: 0, values };
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const variance = v.length > 1 ? v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1) : 0;
  return { median, min: v[0]!, max: v.at(-1)!, stddev: Math.sqrt(variance), n: v.length, values };
}

/** "1.23 (1.10-1.40)": median and range, `digits` decimals. */
/** The spread of a[i] / b[i]: ratios taken repetition by repetition, side by side. */
export function ratios(a: number[], b: number[]): Spread {
  return spread(a.map((x, i) => x / b[i]!));
}

export function formatSpread(s: Spread, digits = 2): string {
  if (s.n === 0) return 'n/a';
  if (s.n === 1) return s.median.toFixed(digits);
  return `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}-${s.max.toFixed(digits)})`;
}

export function formatSize(n: number): string {
  if (n >= 1 << 20 && n % (1 << 20) === 0) return `${n >> 20} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n >> 10} KiB`;
  return `${n} B`;
}
