/**
 * What went wrong with the broker connection, in words an operator can act on, and whether it is
 * about credentials (retried slowly: a revoked certificate will not heal in a second) or about
 * the network (retried with the normal backoff).
 */
export interface ConnectionProblem {
  readonly kind: "credentials" | "network" | "protocol";
  readonly message: string;
}

const TLS_CODES: Record<string, ConnectionProblem> = {
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: {
    kind: "credentials",
    message: "the broker requires a client certificate: set mqtt.cert and mqtt.key",
  },
  ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE: {
    kind: "credentials",
    message: "the broker refused the TLS handshake (no or unacceptable client certificate?)",
  },
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: {
    kind: "credentials",
    message:
      "the broker does not trust this gateway's certificate (unknown CA): is it registered and active?",
  },
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: {
    kind: "credentials",
    message: "the broker rejected this gateway's certificate as bad",
  },
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED: {
    kind: "credentials",
    message: "this gateway's certificate is revoked",
  },
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: {
    kind: "credentials",
    message: "this gateway's certificate has expired (or the gateway clock is wrong)",
  },
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
  138: { kind: "credentials", message: "this client is banned by the broker" },
};

export function describeConnectionError(error: unknown): ConnectionProblem {
  const err = error as { code?: unknown; message?: unknown };
  if (typeof err.code === "string") {
    const known = TLS_CODES[err.code];
    if (known) return known;
  }
  if (typeof err.code === "number") {
    const known = CONNACK_CODES[err.code];
    if (known) return known;
  }
  const text = typeof err.message === "string" ? err.message : String(error);
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
