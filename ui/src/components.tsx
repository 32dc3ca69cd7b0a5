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
  const sent = useRef(0);
  const reload = useCallback(() => {
    // Only the answer of the latest request is shown: an older one (filters changed while it
    // was in flight) arriving last must not overwrite it.
    const mine = ++sent.current;
    latest.current().then(
      (value) => { if (mine === sent.current) { setData(value); setError(undefined); } },
      (err: Error) => { if (mine === sent.current) setError(err); },
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

export interface Pager {
  /** The `next_token` of the page shown (undefined: the first page). */
  token: string | undefined;
  /** The page number shown, from 1. */
  number: number;
  next: (token: string) => void;
  previous: () => void;
}

/** Next/previous over `next_token` pages; back to the first page when `key` (the filters) changes. */
export function usePager(key: string): Pager {
  const [at, setAt] = useState<{ key: string; tokens: string[] }>({ key, tokens: [] });
  const tokens = at.key === key ? at.tokens : [];
  return {
    token: tokens[tokens.length - 1],
    number: tokens.length + 1,
    next: (token) => setAt({ key, tokens: [...tokens, token] }),
    previous: () => setAt({ key, tokens: tokens.slice(0, -1) }),
  };
}

/** "Previous" / "Next" buttons under a table of one page. */
export function PagerNav({ pager, nextToken, what }: { pager: Pager; nextToken: string | null | undefined; what: string }) {
  if (pager.number === 1 && !nextToken) return null;
  return (
    <nav class="pager" aria-label={`${what} pages`}>
      <button type="button" onClick={pager.previous} disabled={pager.number === 1}>Previous</button>
      <span>page {pager.number}</span>
      <button type="button" onClick={() => nextToken && pager.next(nextToken)} disabled={!nextToken}>Next</button>
    </nav>
  );
}
