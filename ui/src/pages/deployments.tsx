// Deployments: schedules in words, next runs, pause/resume, Run now with the parameter form.
import { useState } from "preact/hooks";
import { get, post, type Page } from "../api";
import { Loading, PagerNav, Problem, useLoad, usePager } from "../components";
import { when } from "../format";
import { ParameterForm } from "../schema_form";
import { describeSchedule } from "../schedule";
import type { Deployment, FlowRun } from "../types";

export function DeploymentsPage() {
  const pager = usePager("");
  const deployments = useLoad(() => get<Page<Deployment>>("/deployments", { limit: 20, next_token: pager.token }), [pager.token]);
  return (
    <main id="main">
      <h1>Deployments</h1>
      <Problem error={deployments.error} what="Deployments" />
      <Loading when={!deployments.data && !deployments.error} />
      {deployments.data?.items.map((deployment) => (
        <DeploymentCard key={deployment.id} deployment={deployment} onChange={deployments.reload} />
      ))}
      {deployments.data && !deployments.data.items.length && <p class="muted">No deployments.</p>}
      {deployments.data && <PagerNav pager={pager} nextToken={deployments.data.next_token} what="Deployments" />}
    </main>
  );
}

/** The five soonest expected starts (sorted here too: an API without `sort` answers newest first). */
function nextStarts(runs: FlowRun[]): string[] {
  return runs.map((run) => run.expected_start_time ?? "").filter(Boolean).sort().slice(0, 5);
}

function DeploymentCard({ deployment, onChange }: { deployment: Deployment; onChange: () => void }) {
  const [open, setOpen] = useState(false);
  const [message, setMessage] = useState<string>();
  const [busy, setBusy] = useState(false);
  const upcoming = useLoad(() => get<Page<FlowRun>>("/flow-runs", {
    deployment_id: deployment.id, state: "SCHEDULED", limit: 50, sort: "expected_start_asc",
    expected_start_after: new Date().toISOString(),
  }), [deployment.id, message]);
  const toggle = () => post(`/deployments/${deployment.id}/${deployment.paused ? "resume" : "pause"}`).then(onChange, (err: Error) => setMessage(err.message));
  const runNow = (parameters: Record<string, unknown>) => {
    setBusy(true);
    post<FlowRun>(`/deployments/${deployment.id}/runs`, { parameters }).then(
      (run) => { setBusy(false); location.hash = `#/runs/${run.id}`; },
      (err: Error) => { setBusy(false); setMessage(err.message); },
    );
  };
  const headingId = `deployment-${deployment.id}`;
  return (
    <article class="card" aria-labelledby={headingId}>
      <h2 id={headingId}>{deployment.flow_name}/{deployment.name} {deployment.paused && <span class="badge paused">paused</span>}</h2>
      <dl class="facts">
        <dt>Schedules</dt>
        <dd>{deployment.schedules.length ? deployment.schedules.map((s) => `${describeSchedule(s.schedule)}${s.active ? "" : " (inactive)"}`).join("; ") : "none"}</dd>
        <dt>Next runs</dt>
        <dd>
          {upcoming.data && (nextStarts(upcoming.data.items).map(when).join(", ") || "none scheduled")}
          <Problem error={upcoming.error} what="Next runs" />
          <Loading when={!upcoming.data && !upcoming.error} />
        </dd>
        <dt>Work queue</dt><dd>{deployment.work_queue} ({deployment.infrastructure})</dd>
        <dt>Flow version</dt><dd>{deployment.flow_version ?? "—"}</dd>
        <dt>Entrypoint</dt><dd><code>{deployment.entrypoint}</code></dd>
      </dl>
      <div class="actions">
        <button type="button" onClick={toggle}>{deployment.paused ? "Resume" : "Pause"}</button>
        <button type="button" aria-expanded={open} onClick={() => setOpen(!open)}>Run now…</button>
        {message && <span role="alert" class="error">{message}</span>}
      </div>
      {open && <ParameterForm schema={deployment.parameter_schema} defaults={deployment.parameters} onSubmit={runNow} busy={busy} />}
    </article>
  );
}
