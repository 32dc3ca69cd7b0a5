// Flows, with the versions their deployments and recent runs name.
import { get, type Page } from "../api";
import { Loading, PagerNav, Problem, useLoad, usePager } from "../components";
import { when } from "../format";
import type { Deployment, Flow, FlowRun } from "../types";

export function FlowsPage() {
  const pager = usePager("");
  const flows = useLoad(() => get<Page<Flow>>("/flows", { limit: 50, next_token: pager.token }), [pager.token]);
  const deployments = useLoad(() => get<Page<Deployment>>("/deployments", { limit: 200 }), []);
  const runs = useLoad(() => get<Page<FlowRun>>("/flow-runs", { limit: 200, sort: "expected_start" }), []);
  const versions = (flow: Flow) => {
    const found = new Set<string>();
    for (const d of deployments.data?.items ?? []) if (d.flow_id === flow.id && d.flow_version) found.add(d.flow_version);
    for (const r of runs.data?.items ?? []) if (r.flow_id === flow.id && r.flow_version) found.add(r.flow_version);
    return [...found];
  };
  return (
    <main id="main">
      <h1>Flows</h1>
      <Problem error={flows.error} what="Flows" />
      <Loading when={!flows.data && !flows.error} />
      {flows.data && (
        <table>
          <caption class="sr-only">Flows</caption>
          <thead><tr><th scope="col">Flow</th><th scope="col">Versions</th><th scope="col">Deployments</th><th scope="col">Tags</th><th scope="col">Created</th></tr></thead>
          <tbody>
            {flows.data.items.map((flow) => (
              <tr key={flow.id}>
                <td>{flow.name}</td>
                <td>{versions(flow).join(", ") || "—"}</td>
                <td>{(deployments.data?.items ?? []).filter((d) => d.flow_id === flow.id).map((d) => d.name).join(", ") || "—"}</td>
                <td>{flow.tags.join(", ")}</td>
                <td>{when(flow.created)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {flows.data && <PagerNav pager={pager} nextToken={flows.data.next_token} what="Flows" />}
    </main>
  );
}
