/**
 * AWS IoT's device shadow topics for a named shadow (the agent uses named shadows only:
 * `config` and `health`). `thing` is the gateway id, which is the thing name and client id.
 */
export type ShadowOperation =
  | "get"
  | "get/accepted"
  | "get/rejected"
  | "update"
  | "update/accepted"
  | "update/rejected"
  | "update/delta"
  | "update/documents";

export function shadowTopic(thing: string, shadow: string, operation: ShadowOperation): string {
  return `$aws/things/${thing}/shadow/name/${shadow}/${operation}`;
}
