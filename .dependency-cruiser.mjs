// The layers of the code, checked by `npm run check` (dependency-cruiser): each folder imports only
// the ones below it, so no folder loop and no import circle can come back unnoticed.
//
//   core/      the shared vocabulary and ports (records, clock, metrics, events, GatewayStatus)
//   drivers/   the sensor drivers                    -> core
//   config/    the schema                            -> drivers, core
//   agent/     the gateway runtime                   -> config, drivers, core (and the page's wire types)
//   fleet/     the fleet simulator: thousands of agents in one machine   -> agent and below
//   commands/  the CLI, one module a command                              -> all of the above
//   dashboard/ the browser page: its own world, built by its own tsconfig
//
// Type-only imports count (tsPreCompilationDeps): a circle through types still ties two files.
const ours = "^(core|drivers|config|agent|commands|fleet|dashboard|test)/";
const testFile = "[.](test|contract)[.]ts$";

/** A rule: files under `from` import none of `to` (tests of the folder included). */
const layer = (name, comment, from, to) => ({
  name,
  comment,
  severity: "error",
  from: { path: from },
  to: { path: to },
});

export default {
  forbidden: [
    {
      name: "no-circular",
      comment: "An import circle: split out the piece both sides need (a port, a type).",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    layer(
      "core-is-the-bottom",
      "core/ is the vocabulary everything shares: it imports none of the project.",
      "^core/",
      "^(drivers|config|agent|commands|fleet|dashboard|test)/",
    ),
    layer(
      "drivers-below-config-and-agent",
      "A driver sees core/ only: what it needs of the agent goes into core/ as a type or port.",
      "^drivers/",
      "^(config|agent|commands|fleet|dashboard)/",
    ),
    layer(
      "config-below-agent",
      "The schema knows drivers' options and core's vocabulary, never the runtime.",
      "^config/",
      "^(agent|commands|fleet|dashboard)/",
    ),
    {
      name: "agent-below-commands",
      comment:
        "The runtime never reaches up to what runs it; of the page it sees only the wire types.",
      severity: "error",
      from: { path: "^agent/" },
      to: { path: "^(commands|fleet)/|^dashboard/", pathNot: "^dashboard/wire[.]ts$" },
    },
    layer(
      "fleet-below-commands",
      "The fleet simulator is a library the CLI runs; it never imports a command.",
      "^fleet/",
      "^commands/",
    ),
    {
      name: "features-take-the-status-port",
      comment:
        "Features watch the gateway through core/gateway-status.ts (GatewayStatus); only the " +
        "composition root builds an Agent. Importing agent.ts from a feature ties it back.",
      severity: "error",
      from: { path: "^agent/", pathNot: "^agent/agent[.]ts$" },
      to: { path: "^agent/agent[.]ts$" },
    },
    {
      name: "page-stands-alone",
      comment: "The browser page is compiled on its own: it imports nothing of the Node side.",
      severity: "error",
      from: { path: "^dashboard/" },
      to: { path: ours, pathNot: "^dashboard/" },
    },
    {
      name: "no-test-code-in-the-product",
      comment: "test/ is not shipped: product code importing it breaks the package.",
      severity: "error",
      from: { path: "^(core|drivers|config|agent|commands|fleet)/", pathNot: testFile },
      to: { path: "^test/" },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(dist|node_modules|deploy/aws)/" },
  },
};
