import { execFileSync } from "node:child_process";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface Identity {
  readonly cert: string;
  readonly key: string;
}

export interface TestPki {
  readonly caCert: string;
  readonly server: Identity;
  /** Client certificates by common name (the gateway id), signed by the trusted CA. */
  client(name: string): Identity;
  /** A client certificate signed by a CA the broker does not trust. */
  readonly untrusted: Identity;
}

function openssl(dir: string, args: string[], env?: NodeJS.ProcessEnv): void {
  execFileSync("openssl", args, {
    cwd: dir,
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, ...env },
  });
}

function issue(
  dir: string,
  name: string,
  ca: string,
  extensions?: string,
  env?: NodeJS.ProcessEnv,
): Identity {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.pem`);
  openssl(
    dir,
    ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"].concat([
      "-keyout",
      key,
      "-out",
      csr,
      "-subj",
      `/CN=${name}`,
    ]),
  );
  const args = [
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    `${ca}.pem`,
    "-CAkey",
    `${ca}.key`,
    "-CAcreateserial",
  ];
  args.push("-out", cert, "-days", "2", "-sha256");
  if (extensions) {
    const ext = join(dir, `${name}.ext`);
    writeFileSync(ext, extensions);
    args.push("-extfile", ext);
  }
  openssl(dir, args, env);
  chmodSync(key, 0o600);
  return { cert, key };
}

function makeCa(dir: string, name: string): void {
  openssl(
    dir,
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"].concat([
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-subj",
      `/CN=${name}`,
    ]),
  );
}

/**
 * A CA, a server certificate for 127.0.0.1/localhost and per-gateway client certificates, made
 * with openssl in `dir`, as AWS IoT Core would issue them (one certificate a thing).
 */
/**
 * A client certificate of the trusted CA that expired on 2025-01-02: issued under libfaketime
 * (`libfaketime` is its preload library) on 2025-01-01, valid for a day.
 */
export function issueExpired(dir: string, name: string, libfaketime: string): Identity {
  return issue(dir, name, "test-ca", undefined, {
    LD_PRELOAD: libfaketime,
    FAKETIME: "@2025-01-01 00:00:00",
  });
}

export function makePki(
  dir: string,
  clients: readonly string[],
  /** More names for the broker's certificate ("IP:10.0.2.2": the host as a qemu guest sees it). */
  brokerAltNames: readonly string[] = [],
): TestPki {
  makeCa(dir, "test-ca");
  makeCa(dir, "rogue-ca");
  const names = ["IP:127.0.0.1", "DNS:localhost", ...brokerAltNames].join(",");
  const server = issue(dir, "broker", "test-ca", `subjectAltName=${names}\n`);
  const issued = new Map<string, Identity>();
  for (const name of clients) issued.set(name, issue(dir, name, "test-ca"));
  const untrusted = issue(dir, "rogue-gw", "rogue-ca");
  return {
    caCert: join(dir, "test-ca.pem"),
    server,
    untrusted,
    client: (name) => {
      const identity = issued.get(name);
      if (!identity) throw new Error(`no client certificate made for ${name}`);
      return identity;
    },
  };
}
