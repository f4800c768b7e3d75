/**
 * Milliseconds since the epoch of a measurement_time. The normalizer writes exactly
 * `YYYY-MM-DDTHH:mm:ss.sssZ` (toISOString), so a fixed-position parse reads it several times
 * faster than `Date.parse` on the rules' hot path; anything else falls back to `Date.parse`.
 */
export function eventTime(iso: string): number {
  if (
    iso.length !== 24 ||
    iso.charCodeAt(4) !== 45 || // -
    iso.charCodeAt(10) !== 84 || // T
    iso.charCodeAt(19) !== 46 || // .
    iso.charCodeAt(23) !== 90 // Z
  ) {
    return Date.parse(iso);
  }
  const n = (at: number, len: number) => {
    let value = 0;
    for (let i = at; i < at + len; i++) {
      const digit = iso.charCodeAt(i) - 48;
      if (digit < 0 || digit > 9) return Number.NaN;
      value = value * 10 + digit;
    }
    return value;
  };
  const ms = Date.UTC(n(0, 4), n(5, 2) - 1, n(8, 2), n(11, 2), n(14, 2), n(17, 2), n(20, 3));
  return Number.isNaN(ms) ? Date.parse(iso) : ms;
}
