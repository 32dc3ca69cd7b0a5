// The fetch client: the API key lives in sessionStorage only; every call sends it as a bearer
// token; a 401 forgets it and goes back to sign-in.
const KEY = "stratoflow.api_key";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
  /** For a route newer than the server may be (stats, states, agents, retry): the server does
   * not have it (404 / 405, or 422 where `/flow-runs/stats` falls on `/flow-runs/{id}`), so the
   * page shows "not available". */
  get missing(): boolean {
    return this.status === 404 || this.status === 405 || this.code === "validation_error";
  }
}

export const getKey = (): string | null => sessionStorage.getItem(KEY);
export const setKey = (key: string): void => sessionStorage.setItem(KEY, key);
export const clearKey = (): void => sessionStorage.removeItem(KEY);

export function signOut(): void {
  clearKey();
  location.hash = "#/sign-in";
}

type Query = Record<string, string | number | boolean | undefined | null>;

function url(path: string, query?: Query): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== "") params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

export async function request<T>(
  method: string,
  path: string,
  options: { query?: Query; body?: unknown; key?: string } = {},
): Promise<T> {
  const key = options.key ?? getKey();
  const headers: Record<string, string> = { Accept: "application/json" };
  if (key) headers.Authorization = `Bearer ${key}`;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url(path, options.query), {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  const data = text ? safeJson(text) : null;
  if (response.status === 401 && options.key === undefined) signOut();
  if (!response.ok) {
    const error = (data as { error?: { code?: string; message?: string } } | null)?.error;
    throw new ApiError(response.status, error?.code ?? "http_error", error?.message ?? response.statusText);
  }
  return data as T;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

export const get = <T>(path: string, query?: Query) => request<T>("GET", path, { query });
export const post = <T>(path: string, body: unknown = {}) => request<T>("POST", path, { body });

export interface Page<T> {
  items: T[];
  next_token: string | null;
}

/** Every item of a paginated route, following `next_token` for at most `maxPages` pages. */
export async function getAll<T>(path: string, query: Query = {}, maxPages = 10): Promise<Page<T>> {
  const items: T[] = [];
  let token: string | null = null;
  for (let page = 0; page < maxPages; page++) {
    const got: Page<T> = await get<Page<T>>(path, { ...query, next_token: token });
    items.push(...got.items);
    token = got.next_token;
    if (!token) break;
  }
  return { items, next_token: token };
}
