// Work queues and the agents polling them (last heartbeat).
import { get, type Page } from "../api";
import { Loading, PagerNav, Problem, Section, useLoad, usePager } from "../components";
import { when } from "../format";
import type { Agent, WorkQueue } from "../types";

export function WorkPage() {
  const queues = useLoad(() => get<Page<WorkQueue>>("/work-queues", { limit: 200 }), [], 10000);
  const agentPages = usePager("");
  const agents = useLoad(() => get<Page<Agent>>("/agents", { limit: 50, next_token: agentPages.token }), [agentPages.token], 10000);
  return (
    <main id="main">
      <h1>Work queues and agents</h1>
      <Section title="Work queues">
        <Problem error={queues.error} what="Work queues" />
        <Loading when={!queues.data && !queues.error} />
        {queues.data && (
          <table>
            <caption class="sr-only">Work queues</caption>
            <thead><tr><th scope="col">Queue</th><th scope="col">Paused</th><th scope="col">Concurrency limit</th><th scope="col">Created</th></tr></thead>
            <tbody>
              {queues.data.items.map((q) => (
                <tr key={q.name}><td>{q.name}</td><td>{q.paused ? "yes" : "no"}</td><td>{q.concurrency_limit ?? "none"}</td><td>{when(q.created)}</td></tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      <Section title="Agents">
        <Problem error={agents.error} what="Agents" />
        {agents.data && (
          <table>
            <caption class="sr-only">Agents</caption>
            <thead><tr><th scope="col">Agent</th><th scope="col">Type</th><th scope="col">Work queue</th><th scope="col">Last heartbeat</th><th scope="col">Active runs</th></tr></thead>
            <tbody>
              {agents.data.items.map((a) => (
                <tr key={a.id}><td>{a.name} <code>{a.id.slice(0, 8)}</code></td><td>{a.type}</td><td>{a.work_queue}</td><td>{when(a.last_heartbeat)}</td><td>{a.active_runs ?? "—"}</td></tr>
              ))}
            </tbody>
          </table>
        )}
        {agents.data && <PagerNav pager={agentPages} nextToken={agents.data.next_token} what="Agents" />}
      </Section>
    </main>
  );
}
