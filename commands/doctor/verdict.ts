/** One line of the doctor's report. */
export interface Verdict {
  /** What was checked, short: "certificate", "broker TLS handshake", "port /dev/ttyUSB0". */
  readonly check: string;
  /** pass; warn: works, but worth a look; fail: the agent cannot work this way; skip: not checked. */
  readonly status: "pass" | "warn" | "fail" | "skip";
  /** What was found, in words a technician understands. */
  readonly detail: string;
  /** What to do about it, when it is not a pass. */
  readonly fix?: string;
}

export const pass = (check: string, detail: string): Verdict => ({ check, status: "pass", detail });
export const warn = (check: string, detail: string, fix: string): Verdict => ({
  check,
  status: "warn",
  detail,
  fix,
});
export const fail = (check: string, detail: string, fix: string): Verdict => ({
  check,
  status: "fail",
  detail,
  fix,
});
export const skip = (check: string, detail: string): Verdict => ({ check, status: "skip", detail });
