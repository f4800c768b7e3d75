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
  const ms = Date.UTC(
    digits(iso, 0, 4),
    digits(iso, 5, 2) - 1,
    digits(iso, 8, 2),
    digits(iso, 11, 2),
    digits(iso, 14, 2),
    digits(iso, 17, 2),
    digits(iso, 20, 3),
  );
  return Number.isNaN(ms) ? Date.parse(iso) : ms;
}

/** The decimal number in `len` characters at `at`; NaN if one is not a digit. */
function digits(text: string, at: number, len: number): number {
  let value = 0;
  for (let i = at; i < at + len; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return Number.NaN;
    value = value * 10 + digit;
  }
  return value;
}
