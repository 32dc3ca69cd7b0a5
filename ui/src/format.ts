// Small pure helpers: times, durations, state colours.
export const STATE_TYPES = ["SCHEDULED", "PENDING", "RUNNING", "COMPLETED", "FAILED", "CRASHED",
  "CANCELLING", "CANCELLED", "PAUSED"] as const;
export type StateType = (typeof STATE_TYPES)[number];

/** Colours with at least 4.5:1 contrast against white text (WCAG AA). */
export const STATE_COLOURS: Record<string, string> = {
  SCHEDULED: "#8a5a00", PENDING: "#5c5c70", RUNNING: "#1b5fb4", COMPLETED: "#1e7a34",
  FAILED: "#b3261e", CRASHED: "#8e1b5a", CANCELLING: "#5a4b9a", CANCELLED: "#4d4d4d",
  PAUSED: "#6b5200",
};

export function when(value: string | null | undefined): string {
  if (!value) return "—";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toLocaleString();
}

export function duration(start?: string | null, end?: string | null): string {
  if (!start) return "—";
  const ms = (end ? Date.parse(end) : Date.now()) - Date.parse(start);
  if (!Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${ms} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export const LEVELS: [number, string][] = [[10, "DEBUG"], [20, "INFO"], [30, "WARNING"], [40, "ERROR"], [50, "CRITICAL"]];
export function levelName(level: number): string {
  let name = "DEBUG";
  for (const [value, label] of LEVELS) if (level >= value) name = label;
  return name;
}
