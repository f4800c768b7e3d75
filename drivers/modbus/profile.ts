import { readdirSync, readFileSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseDocument } from "yaml";
import { profileSchema, type Profile } from "./profile-schema.js";

/** The profiles shipped with the agent (copied beside the compiled code by `npm run build`). */
const BUILTIN_DIR = fileURLToPath(new URL("./profiles/", import.meta.url));

/** A built-in profile is named by its file's name; anything else is a path to a YAML file. */
const BUILTIN_NAME = /^[a-z0-9][a-z0-9-]*$/;

/** A reference to a built-in profile (a bare name), not a path. */
export function isBuiltinProfile(reference: string): boolean {
  return BUILTIN_NAME.test(reference);
}

export function builtinProfiles(): string[] {
  return readdirSync(BUILTIN_DIR)
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => f.slice(0, -".yaml".length))
    .sort();
}

/** A profile that cannot be used, with every reason, each at a path inside the profile. */
export class ProfileError extends Error {
  constructor(
    readonly reference: string,
    readonly problems: readonly string[],
  ) {
    super(`profile ${reference}: ${problems.join("; ")}`);
    this.name = "ProfileError";
  }
}

/** Where a profile reference points: a built-in's file, or a path resolved against `baseDir`. */
export function profileFile(reference: string, baseDir: string): string {
  if (isBuiltinProfile(reference)) return resolve(BUILTIN_DIR, `${reference}.yaml`);
  return isAbsolute(reference) ? reference : resolve(baseDir, reference);
}

/** Reads and validates a profile; throws ProfileError naming the file and every problem. */
export function loadProfile(reference: string, baseDir: string): Profile {
  const file = profileFile(reference, baseDir);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if (isBuiltinProfile(reference)) {
      throw new ProfileError(reference, [
        `no built-in profile of that name (known: ${builtinProfiles().join(", ")}); a profile file is given by a path such as ./profiles/${reference}.yaml`,
      ]);
    }
    throw new ProfileError(reference, [`cannot read ${file}: ${(error as Error).message}`]);
  }
  return parseProfile(text, reference);
}

export function parseProfile(text: string, reference: string): Profile {
  const document = parseDocument(text);
  if (document.errors.length > 0) {
    throw new ProfileError(
      reference,
      document.errors.map((e) => `YAML: ${e.message.split("\n")[0] ?? ""}`),
    );
  }
  const result = profileSchema.safeParse(document.toJS());
  if (!result.success) {
    throw new ProfileError(
      reference,
      result.error.issues.map((issue) => {
        const path = issue.path
          .map((k, i) => (typeof k === "number" ? `[${k}]` : `${i === 0 ? "" : "."}${String(k)}`))
          .join("");
        return `${path || "(root)"}: ${issue.message}`;
      }),
    );
  }
  return result.data;
}
