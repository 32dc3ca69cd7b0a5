// One flow run: parameters, state history, task-run timeline, logs (live tail, level filter),
// where it runs (with a console link), task failures, Cancel and Retry.
import { useState } from "preact/hooks";
import { ApiError, get, getAll, post } from "../api";
import { Json, Loading, Problem, Section, StateBadge, useLoad } from "../components";
import { LEVELS, duration, levelName, when } from "../format";
import { Gantt } from "../gantt";
import type { FlowRun, Log, State, TaskRun } from "../types";
import { infrastructureLink } from "../infra";

const TERMINAL = new Set(["COMPLETED", "FAILED", "CRASHED", "CANCELLED"]);
const RETRYABLE = new Set(["FAILED", "CRASHED", "CANCELLED"]);

export function RunPage({ id }: { id: string }) {
  const run = useLoad(() => get<FlowRun>(`/flow-runs/${id}`), [id], 5000);
  const live = run.data ? !TERMINAL.has(run.data.state.type) : true;
  const tasks = useLoad(() => getAll<TaskRun>(`/flow-runs/${id}/task-runs`, { limit: 200 }), [id, live], live ? 5000 : undefined);
  // The history is written by the stream consumer (about a second behind the run): polled
  // until its last state is the run's.
  const [historyBehind, setHistoryBehind] = useState(true);
  const states = useLoad(() => get<State[]>(`/flow-runs/${id}/states`), [id, historyBehind], historyBehind ? 1500 : undefined);
  const caughtUp = !!states.data?.length && states.data[states.data.length - 1].timestamp === run.data?.state.timestamp;
  if (caughtUp === historyBehind) setHistoryBehind(!caughtUp);
  const [message, setMessage] = useState<string>();
  const act = (action: "cancel" | "retry") => {
    post(`/flow-runs/${id}/${action}`).then(
      () => { setMessage(`${action === "cancel" ? "Cancel" : "Retry"} requested.`); run.reload(); },
      (err: Error) => setMessage(err instanceof ApiError && err.missing ? `${action}: not available on this server.` : err.message),
    );
  };
  if (!run.data) {
    return <main id="main"><h1>Flow run</h1><Problem error={run.error} what="Flow run" /><Loading when={!run.error} /></main>;
  }
  const flowRun = run.data;
  const history = states.data;
  return (
    <main id="main">
      <h1>{flowRun.name} <StateBadge type={flowRun.state.type} name={flowRun.state.name} /></h1>
      <div class="actions">
        <button type="button" onClick={() => act("cancel")} disabled={TERMINAL.has(flowRun.state.type)}>Cancel</button>
        <button type="button" onClick={() => act("retry")} disabled={!RETRYABLE.has(flowRun.state.type) || !flowRun.deployment_id}>Retry</button>
        {message && <span role="status">{message}</span>}
      </div>
      <dl class="facts">
        <dt>Flow</dt><dd>{flowRun.flow_name ?? flowRun.flow_id}{flowRun.flow_version ? ` (version ${flowRun.flow_version})` : ""}</dd>
        <dt>Deployment</dt><dd>{flowRun.deployment_id ?? "—"}</dd>
        <dt>Expected start</dt><dd>{when(flowRun.expected_start_time)}</dd>
        <dt>Started</dt><dd>{when(flowRun.start_time)}</dd>
        <dt>Duration</dt><dd>{duration(flowRun.start_time, flowRun.end_time)}</dd>
        <dt>Run count</dt><dd>{flowRun.run_count}</dd>
        <dt>Work queue</dt><dd>{flowRun.work_queue ?? "—"}</dd>
        <dt>Runs on</dt><dd><Infrastructure run={flowRun} /></dd>
        <dt>Message</dt><dd>{flowRun.state.message ?? "—"}</dd>
      </dl>
      <Section title="Parameters"><Json value={flowRun.parameters} /></Section>
      <Section title="State history">
        <Problem error={states.error} what="State history" />
        {history && <StateList states={history} />}
      </Section>
      <Section title="Task runs">
        <Problem error={tasks.error} what="Task runs" />
        {tasks.data && <Gantt tasks={tasks.data.items} end={flowRun.end_time} />}
      </Section>
      <Logs id={id} live={live} />
    </main>
  );
}

function Infrastructure({ run }: { run: FlowRun }) {
  if (!run.infrastructure_id) return <>{run.infrastructure ?? "—"}</>;
  const link = infrastructureLink(run.infrastructure ?? "", run.infrastructure_id);
  return (
    <>
      {run.infrastructure} <code>{run.infrastructure_id}</code>
      {link && <> — <a href={link.href} target="_blank" rel="noopener noreferrer">{link.label}</a></>}
    </>
  );
}

function StateList({ states }: { states: State[] }) {
  return (
    <ol class="states">
      {states.map((state, index) => (
        <li key={index}><StateBadge type={state.type} name={state.name} /> {when(state.timestamp)} {state.message ? `— ${state.message}` : ""}</li>
      ))}
    </ol>
  );
}

function Logs({ id, live }: { id: string; live: boolean }) {
  const [level, setLevel] = useState(0);
  const logs = useLoad(() => getAll<Log>(`/flow-runs/${id}/logs`, { limit: 200 }), [id, live], live ? 3000 : undefined);
  const items = logs.data?.items ?? [];
  const shown = items.filter((log) => log.level >= level);
  const failures = items.filter((log) => log.level >= 40 && log.message.includes("Traceback"));
  return (
    <>
      {failures.length > 0 && (
        <Section title="Failures">
          {failures.map((log) => <pre key={log.seq} class="traceback">{log.message}</pre>)}
        </Section>
      )}
      <Section title={live ? "Logs (live)" : "Logs"}>
        <label class="field inline">
          <span>Level</span>
          <select value={String(level)} onChange={(e) => setLevel(Number(e.currentTarget.value))}>
            <option value="0">all</option>
            {LEVELS.map(([value, name]) => <option key={value} value={String(value)}>{name} and above</option>)}
          </select>
        </label>
        <Problem error={logs.error} what="Logs" />
        <div class="logs" role="log" aria-live={live ? "polite" : "off"} tabIndex={0}>
          {shown.map((log) => (
            <div key={log.seq} class={`log level-${levelName(log.level).toLowerCase()}`}>
              <time>{when(log.timestamp)}</time> <b>{levelName(log.level)}</b> {log.name}: {log.message}
            </div>
          ))}
          {!shown.length && <p class="muted">No logs.</p>}
        </div>
      </Section>
    </>
  );
}
