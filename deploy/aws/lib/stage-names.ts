import type { IConstruct } from "constructs";

/**
 * Physical names, prefixed by the deployment's stage (`-c stage=dev`), so that two stages (a dev
 * and a prod, two testers) fit in one account and region: IoT policies, rules and templates,
 * tables, streams, Firehoses, the Glue database, the Athena workgroup, the Flink application,
 * alarms, the thing type and group, and the stacks themselves are named once per account and
 * region. Without a stage, today's names, unchanged: a deployed app keeps its resources.
 */
export class StageNames {
  private constructor(readonly stage: string) {}

  /** The app's stage, from the `stage` context; throws naming the context on a bad one. */
  static of(scope: IConstruct): StageNames {
    const stage: unknown = scope.node.tryGetContext("stage") ?? "";
    // Lowercase letters and digits: valid in every name alphabet here (a Glue database is
    // lowercase, a rule name has no hyphen), and short enough for the 64-character limits.
    if (typeof stage !== "string" || !/^([a-z][a-z0-9]{0,9})?$/.test(stage))
      throw new Error(
        `context stage=${String(stage)}: a stage is 1-10 lowercase letters and digits, starting with a letter`,
      );
    return new StageNames(stage);
  }

  /** `dev-reefer-gateway`: most names. */
  dash(base: string): string {
    return this.stage === "" ? base : `${this.stage}-${base}`;
  }

  /** `dev_reefer_telemetry_to_kinesis`: IoT rule and Glue database names, which take no hyphen. */
  underscore(base: string): string {
    return this.stage === "" ? base : `${this.stage}_${base}`;
  }

  /** `DevReeferStreams`: a stack's name. */
  stack(id: string): string {
    return this.stage === ""
      ? id
      : `${this.stage[0]?.toUpperCase() ?? ""}${this.stage.slice(1)}${id}`;
  }
}
