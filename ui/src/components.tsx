// Small shared components and the data hook every page uses.
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "./api";
import { STATE_COLOURS } from "./format";

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | Error | undefined;
  reload: () => void;
}

/** Load `fetcher()` now, again when `deps` change, and every `refreshMs` if given. */
export function useLoad<T>(fetcher: () => Promise<T>, deps: unknown[], refreshMs?: number): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<ApiError | Error>();
  const latest = useRef(fetcher);
  latest.current = fetcher;
  const reload = useCallback(() => {
    latest.current().then(
      (value) => { setData(value); setError(undefined); },
      (err: Error) => setError(err),
    );
  }, []);
  useEffect(() => {
    reload();
    if (!refreshMs) return undefined;
    const timer = setInterval(reload, refreshMs);
    return () => clearInterval(timer);
  }, deps);
  return { data, error, reload };
}

export function StateBadge({ type, name }: { type: string; name?: string }) {
  return (
    <span class="badge" style={{ background: STATE_COLOURS[type] ?? "#4d4d4d" }}>
      {name || type}
    </span>
  );
}

export function NotAvailable({ what }: { what: string }) {
  return <p class="muted" role="status">{what}: not available on this server.</p>;
}

/** The error of a load, or "not available" for a route this server does not have. */
export function Problem({ error, what }: { error: Error | undefined; what: string }) {
  if (!error) return null;
  if (error instanceof ApiError && error.missing) return <NotAvailable what={what} />;
  return <p class="error" role="alert">{what}: {error.message}</p>;
}

export function Section({ title, children }: { title: string; children: ComponentChildren }) {
  return (
    <section aria-label={title}>
      <h2>{title}</h2>
      {children}
    </section>
  );
}

export function Loading({ when }: { when: boolean }) {
  return when ? <p class="muted" role="status">Loading…</p> : null;
}

export function Json({ value }: { value: unknown }) {
  return <pre class="json">{JSON.stringify(value, null, 2)}</pre>;
}

export function Field({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <label class="field">
      <span>{label}</span>
      {children}
    </label>
  );
}
