import { describe, expect, it } from "vitest";
import { describeConnectionError, withConnackCode } from "./errors.js";

/** An OpenSSL alert error as Node reports it: a code and a message with the alert number. */
const alert = (code: string, number: number) =>
  Object.assign(
    new Error(`...:SSL routines:ssl3_read_bytes:... alert:SSL alert number ${number}`),
    {
      code,
    },
  );

describe("describeConnectionError", () => {
  const cases = [
    ["CERTIFICATE_EXPIRED", 45, /certificate has expired/],
    ["UNKNOWN_CA", 48, /unknown CA/],
    ["BAD_CERTIFICATE", 42, /rejected this gateway's certificate as bad/],
    ["CERTIFICATE_REVOKED", 44, /revoked/],
    ["CERTIFICATE_REQUIRED", 116, /requires a client certificate/],
    ["HANDSHAKE_FAILURE", 40, /refused the TLS handshake/],
  ] as const;

  // Node 20 (OpenSSL 3.0): SSLV3_/TLSV1_/TLSV13_; Node 22 (OpenSSL 3.x): SSL/TLS_.
  for (const prefix of ["SSLV3", "TLSV1", "TLSV13", "SSL/TLS"]) {
    it(`names each certificate alert as credentials, spelled ERR_SSL_${prefix}_ALERT_*`, () => {
      for (const [name, number, words] of cases) {
        const problem = describeConnectionError(alert(`ERR_SSL_${prefix}_ALERT_${name}`, number));
        expect(problem.kind, name).toBe("credentials");
        expect(problem.message, name).toMatch(words);
      }
    });
  }

  it("falls back to the alert number when the code is one it does not know", () => {
    for (const [name, number, words] of cases) {
      const problem = describeConnectionError(alert("ERR_SSL_SOMETHING_NEW", number));
      expect(problem, name).toMatchObject({ kind: "credentials" });
      expect(problem.message, name).toMatch(words);
    }
  });

  it("names the broker's certificate problems, CONNACK refusals, and leaves the rest as network", () => {
    expect(describeConnectionError({ code: "CERT_HAS_EXPIRED" }).message).toMatch(
      /broker's certificate has expired/,
    );
    expect(describeConnectionError({ code: 135 })).toMatchObject({ kind: "credentials" });
    // A broker that is up but turns the CONNECT away for now: busy, throttled, over quota, slow.
    for (const code of [3, 137, 151, 159])
      expect(describeConnectionError({ code }), `CONNACK ${code}`).toMatchObject({ kind: "busy" });
    const timeout = describeConnectionError(new Error("connack timeout"));
    expect(timeout.kind).toBe("busy");
    expect(timeout.message).toMatch(/no CONNACK in time/);
    // The CRT's names for the same: its CONNACK timeout, and a refusal with the CONNACK's code.
    expect(
      describeConnectionError(
        Object.assign(new Error("libaws-c-mqtt: AWS_ERROR_MQTT5_CONNACK_TIMEOUT"), {
          error_name: "AWS_ERROR_MQTT5_CONNACK_TIMEOUT",
        }),
      ),
    ).toMatchObject({ kind: "busy" });
    const refused = () => new Error("AWS_ERROR_MQTT5_CONNACK_CONNECTION_REFUSED");
    expect(describeConnectionError(withConnackCode(refused(), 0x9f))).toMatchObject({
      kind: "busy",
    });
    expect(describeConnectionError(withConnackCode(refused(), 0x87))).toMatchObject({
      kind: "credentials",
    });
    expect(describeConnectionError(withConnackCode(refused(), undefined)).kind).toBe("network");
    expect(describeConnectionError(new Error("connect ECONNREFUSED 127.0.0.1:8883"))).toEqual({
      kind: "network",
      message: "connect ECONNREFUSED 127.0.0.1:8883",
    });
  });
});
