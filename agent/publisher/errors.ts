/**
 * What went wrong with the broker connection, in words an operator can act on, and whether it is
 * about credentials (retried slowly: a revoked certificate will not heal in a second) or about
 * the network (retried with the normal backoff).
 */
export interface ConnectionProblem {
  /**
   * busy: the broker is up but turned this CONNECT away for now (busy, throttled, over quota, or
   * no CONNACK in time): tried again at a fresh moment of the fleet's connect window.
   */
  readonly kind: "credentials" | "network" | "protocol" | "busy";
  readonly message: string;
}

/**
 * TLS alerts the broker sends about this gateway's certificate (RFC 8446 section 6.2), by name
 * and number. Matched by meaning, not by one OpenSSL's code names: Node 20's OpenSSL 3.0 says
 * `ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED`, Node 22's 3.x says
 * `ERR_SSL_SSL/TLS_ALERT_CERTIFICATE_EXPIRED`, and older ones `TLSV1_`/`TLSV13_`; the message
 * carries "alert number 45" in every version.
 */
const TLS_ALERTS: readonly { name: string; number: number; problem: ConnectionProblem }[] = [
  {
    name: "CERTIFICATE_REQUIRED",
    number: 116,
    problem: {
      kind: "credentials",
      message: "the broker requires a client certificate: set mqtt.cert and mqtt.key",
    },
  },
  {
    name: "HANDSHAKE_FAILURE",
    number: 40,
    problem: {
      kind: "credentials",
      message: "the broker refused the TLS handshake (no or unacceptable client certificate?)",
    },
  },
  {
    name: "UNKNOWN_CA",
    number: 48,
    problem: {
      kind: "credentials",
      message:
        "the broker does not trust this gateway's certificate (unknown CA): is it registered and active?",
    },
  },
  {
    name: "BAD_CERTIFICATE",
    number: 42,
    problem: {
      kind: "credentials",
      message: "the broker rejected this gateway's certificate as bad",
    },
  },
  {
    name: "CERTIFICATE_REVOKED",
    number: 44,
    problem: { kind: "credentials", message: "this gateway's certificate is revoked" },
  },
  {
    name: "CERTIFICATE_EXPIRED",
    number: 45,
    problem: {
      kind: "credentials",
      message: "this gateway's certificate has expired (or the gateway clock is wrong)",
    },
  },
];

/** The alert an OpenSSL error reports, whatever the OpenSSL version spells it. */
function tlsAlertOf(code: unknown, message: string): ConnectionProblem | undefined {
  const name = typeof code === "string" ? /_ALERT_([A-Z_]+)$/.exec(code)?.[1] : undefined;
  const byName = name === undefined ? undefined : TLS_ALERTS.find((a) => a.name === name);
  if (byName) return byName.problem;
  const number = /alert number (\d+)/i.exec(message)?.[1];
  return TLS_ALERTS.find((a) => String(a.number) === number)?.problem;
}

/** Node's certificate verification codes, for the broker's certificate. */
const TLS_CODES: Record<string, ConnectionProblem> = {
  SELF_SIGNED_CERT_IN_CHAIN: {
    kind: "credentials",
    message: "cannot verify the broker's certificate: check mqtt.ca",
  },
  DEPTH_ZERO_SELF_SIGNED_CERT: {
    kind: "credentials",
    message: "cannot verify the broker's certificate (self-signed): check mqtt.ca",
  },
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: {
    kind: "credentials",
    message: "cannot verify the broker's certificate: check mqtt.ca",
  },
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: {
    kind: "credentials",
    message: "cannot verify the broker's certificate: check mqtt.ca",
  },
  CERT_HAS_EXPIRED: {
    kind: "credentials",
    message: "the broker's certificate has expired (or the gateway clock is wrong)",
  },
  CERT_NOT_YET_VALID: {
    kind: "credentials",
    message: "the broker's certificate is not valid yet: the gateway clock is probably wrong",
  },
  ERR_TLS_CERT_ALTNAME_INVALID: {
    kind: "credentials",
    message: "the broker's certificate does not name the host in mqtt.url",
  },
};

/** CONNACK refusals: MQTT 3.1.1 return codes and MQTT 5 reason codes. */
const CONNACK_CODES: Record<number, ConnectionProblem> = {
  1: {
    kind: "protocol",
    message: "the broker does not accept this MQTT version (set mqtt.protocolVersion)",
  },
  2: { kind: "credentials", message: "the broker rejected the client id (gateway.id)" },
  3: { kind: "busy", message: "the broker is unavailable for now (CONNACK 3)" },
  4: { kind: "credentials", message: "the broker rejected the credentials" },
  5: { kind: "credentials", message: "not authorized to connect (check the certificate's policy)" },
  132: {
    kind: "protocol",
    message: "the broker does not accept this MQTT version (set mqtt.protocolVersion)",
  },
  133: { kind: "credentials", message: "the broker rejected the client id (gateway.id)" },
  134: { kind: "credentials", message: "the broker rejected the credentials" },
  135: {
    kind: "credentials",
    message: "not authorized to connect (check the certificate's policy)",
  },
  137: { kind: "busy", message: "the broker is busy (CONNACK 0x89)" },
  138: { kind: "credentials", message: "this client is banned by the broker" },
  151: { kind: "busy", message: "the broker's quota is exceeded (CONNACK 0x97): throttled" },
  159: {
    kind: "busy",
    message: "the broker's connection rate is exceeded (CONNACK 0x9F): throttled",
  },
};

/**
 * The CRT's connection failure with its CONNACK's refusal as `code`, the number MQTT.js gives
 * (its error alone is AWS_ERROR_MQTT5_CONNACK_CONNECTION_REFUSED, whatever the reason): so a
 * throttled CONNECT (0x9F) is classified busy, a refused policy (0x87) credentials, as over MQTT.js.
 */
export function withConnackCode(error: Error, reasonCode: number | undefined): Error {
  if (reasonCode === undefined || reasonCode < 0x80) return error;
  return Object.assign(error, { code: reasonCode });
}

export function describeConnectionError(error: unknown): ConnectionProblem {
  const err = error as { code?: unknown; message?: unknown };
  const text = typeof err.message === "string" ? err.message : String(error);
  const alert = tlsAlertOf(err.code, text);
  if (alert) return alert;
  if (typeof err.code === "string") {
    const known = TLS_CODES[err.code];
    if (known) return known;
  }
  if (typeof err.code === "number") {
    const known = CONNACK_CODES[err.code];
    if (known) return known;
  }
  if (/certificate required/i.test(text)) {
    return {
      kind: "credentials",
      message: "the broker requires a client certificate: set mqtt.cert and mqtt.key",
    };
  }
  if (/unknown ca/i.test(text)) {
    return {
      kind: "credentials",
      message:
        "the broker does not trust this gateway's certificate (unknown CA): is it registered and active?",
    };
  }
  // MQTT.js's connectTimeout ("connack timeout") and the CRT's AWS_ERROR_MQTT5_CONNACK_TIMEOUT
  // (its message or its error_name): the broker took the connection (or its TLS handshake) but
  // sent no CONNACK in time, as an overloaded one does.
  const crtName = (error as { error_name?: unknown } | null)?.error_name;
  if (
    /connack[ _]timeout/i.test(text) ||
    (typeof crtName === "string" && crtName.includes("CONNACK_TIMEOUT"))
  )
    return { kind: "busy", message: "no CONNACK in time: the broker is overloaded or throttling" };
  return { kind: "network", message: text };
}

/**
 * PUBACK reason codes that no retry will change: the row goes to the dead-letter table.
 * 0x87 not authorized, 0x90 topic name invalid, 0x95 packet too large, 0x99 payload format invalid.
 */
const PERMANENT_PUBACK_CODES = new Set([0x87, 0x90, 0x95, 0x99]);

export function isPermanentPublishError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === "number" && PERMANENT_PUBACK_CODES.has(code);
}

export function publishErrorReason(error: unknown): string {
  const err = error as { code?: unknown; message?: unknown };
  const message = typeof err.message === "string" ? err.message : String(error);
  return typeof err.code === "number" ? `${message} (MQTT reason ${err.code})` : message;
}
