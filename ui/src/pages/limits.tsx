// Concurrency limits by tag and the runs holding their slots.
import { get, type Page } from "../api";
import { Loading, Problem, useLoad } from "../components";
import { when } from "../format";
import type { ConcurrencyLimit } from "../types";

export function LimitsPage() {
  const limits = useLoad(() => get<Page<ConcurrencyLimit>>("/concurrency-limits", { limit: 200 }), [], 10000);
  return (
    <main id="main">
      <h1>Concurrency limits</h1>
      <Problem error={limits.error} what="Concurrency limits" />
      <Loading when={!limits.data && !limits.error} />
      {limits.data && (
        <table>
          <caption class="sr-only">Concurrency limits</caption>
          <thead><tr><th scope="col">Tag</th><th scope="col">Limit</th><th scope="col">In use</th><th scope="col">Holders</th><th scope="col">Created</th></tr></thead>
          <tbody>
            {limits.data.items.map((l) => (
              <tr key={l.tag}>
                <td>{l.tag}</td><td>{l.limit}</td><td>{l.active_slots.length}</td>
                <td>{l.active_slots.map((id) => <code key={id} title={id}>{id.slice(0, 8)} </code>)}</td>
                <td>{when(l.created)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {limits.data && !limits.data.items.length && <p class="muted">No concurrency limits.</p>}
    </main>
  );
}
