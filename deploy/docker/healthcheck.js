/* global process, fetch, AbortSignal */
// The container's health: GET REEFER_EDGE_HEALTH_URL (the agent's /healthz), healthy on 200.
// Plain node, no shell or curl in the image.
const url = process.env.REEFER_EDGE_HEALTH_URL ?? "http://127.0.0.1:9464/healthz";
fetch(url, { signal: AbortSignal.timeout(4000) }).then(
  (response) => process.exit(response.ok ? 0 : 1),
  () => process.exit(1),
);
