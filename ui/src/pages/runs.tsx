// Runs: counts by state, runs over time, the table with filters; refreshed every 5 s.
import { useState } from "preact/hooks";
import { get, type Page } from "../api";
import { RunsChart } from "../chart";
import { Field, Loading, PagerNav, Problem, Section, StateBadge, useLoad, usePager } from "../components";
import { STATE_COLOURS, STATE_TYPES, duration, when } from "../format";
import type { Deployment, Flow, FlowRun, FlowRunStats } from "../types";

const RANGES: [string, number][] = [["last hour", 3600], ["last 24 hours", 86400], ["last 7 days", 7 * 86400]];
const REFRESH_MS = 5000;
const PAGE_SIZE = 50;

export function RunsPage() {
  const [state, setState] = useState("");
  const [flowId, setFlowId] = useState("");
  const [deploymentId, setDeploymentId] = useState("");
  const [range, setRange] = useState(86400);
  const [tags, setTags] = useState("");
  const [upcoming, setUpcoming] = useState(false);
  const flows = useLoad(() => get<Page<Flow>>("/flows", { limit: 200 }), []);
  const deployments = useLoad(() => get<Page<Deployment>>("/deployments", { limit: 200 }), []);
  const pager = usePager(JSON.stringify([state, flowId, deploymentId, range, tags, upcoming]));
  const filters = [state, flowId, deploymentId, range, tags, upcoming, pager.token];
  const runs = useLoad(() => {
    const now = new Date();
    const bound = new Date(now.getTime() + (upcoming ? range : -range) * 1000).toISOString();
    return get<Page<FlowRun>>("/flow-runs", {
      limit: PAGE_SIZE, state, flow_id: flowId, deployment_id: deploymentId, tags, next_token: pager.token,
      sort: upcoming ? "expected_start_asc" : "expected_start",
      expected_start_before: upcoming ? bound : now.toISOString(),
      expected_start_after: upcoming ? now.toISOString() : bound,
    });
  }, filters, REFRESH_MS);
  const stats = useLoad(() => {
    const before = new Date();
    const after = new Date(before.getTime() - range * 1000);
    return get<FlowRunStats>("/flow-runs/stats", {
      after: after.toISOString(), before: before.toISOString(), flow_id: flowId, deployment_id: deploymentId,
    });
  }, [flowId, deploymentId, range], REFRESH_MS);

  return (
    <main id="main">
      <h1>Flow runs</h1>
      <Section title="Runs by state">
        <Problem error={stats.error} what="Run counts" />
        {stats.data && <Counts byState={stats.data.by_state} />}
        {stats.data && <RunsChart stats={stats.data} />}
      </Section>
      <form class="filters" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
        <Field label="State">
          <select value={state} onChange={(e) => setState(e.currentTarget.value)}>
            <option value="">any</option>
            {STATE_TYPES.map((type) => <option key={type} value={type}>{type}</option>)}
          </select>
        </Field>
        <Field label="Flow">
          <select value={flowId} onChange={(e) => setFlowId(e.currentTarget.value)}>
            <option value="">any</option>
            {flows.data?.items.map((flow) => <option key={flow.id} value={flow.id}>{flow.name}</option>)}
          </select>
        </Field>
        <Field label="Deployment">
          <select value={deploymentId} onChange={(e) => setDeploymentId(e.currentTarget.value)}>
            <option value="">any</option>
            {deployments.data?.items.map((d) => <option key={d.id} value={d.id}>{d.flow_name}/{d.name}</option>)}
          </select>
        </Field>
        <Field label="Time range">
          <select value={String(range)} onChange={(e) => setRange(Number(e.currentTarget.value))}>
            {RANGES.map(([label, seconds]) => <option key={seconds} value={String(seconds)}>{upcoming ? label.replace("last", "next") : label}</option>)}
          </select>
        </Field>
        <Field label="Tags (any of, comma separated)">
          <input type="text" value={tags} onChange={(e) => setTags(e.currentTarget.value)} />
        </Field>
        <Field label="Upcoming">
          <input type="checkbox" checked={upcoming} onChange={(e) => setUpcoming(e.currentTarget.checked)} />
        </Field>
      </form>
      <Problem error={runs.error} what="Flow runs" />
      <Loading when={!runs.data && !runs.error} />
      {runs.data && <RunsTable runs={runs.data.items} />}
      {runs.data && <PagerNav pager={pager} nextToken={runs.data.next_token} what="Flow runs" />}
    </main>
  );
}

function Counts({ byState }: { byState: Record<string, number> }) {
  return (
    <ul class="counts">
      {STATE_TYPES.map((type) => (
        <li key={type} style={{ borderColor: STATE_COLOURS[type] }}>
          <strong>{byState[type] ?? 0}</strong> {type.toLowerCase()}
        </li>
      ))}
    </ul>
  );
}

export function RunsTable({ runs }: { runs: FlowRun[] }) {
  if (!runs.length) return <p class="muted">No runs match.</p>;
  return (
    <table class="runs">
      <caption class="sr-only">Flow runs</caption>
      <thead>
        <tr><th scope="col">Run</th><th scope="col">Flow</th><th scope="col">State</th><th scope="col">Expected start</th><th scope="col">Duration</th><th scope="col">Tags</th></tr>
      </thead>
      <tbody>
        {runs.map((run) => (
          <tr key={run.id}>
            <td><a href={`#/runs/${run.id}`}>{run.name}</a></td>
            <td>{run.flow_name ?? run.flow_id}</td>
            <td><StateBadge type={run.state.type} name={run.state.name} /></td>
            <td>{when(run.expected_start_time ?? run.created)}</td>
            <td>{duration(run.start_time, run.end_time)}</td>
            <td>{run.tags.join(", ")}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
