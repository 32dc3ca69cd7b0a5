// The task runs of a flow run on a timeline: one bar per task run, drawn as SVG by hand.
import { STATE_COLOURS, duration } from "./format";
import type { TaskRun } from "./types";

const WIDTH = 720;
const ROW = 22;
const LABEL = 200;

export function Gantt({ tasks, end }: { tasks: TaskRun[]; end?: string | null }) {
  const timed = tasks.filter((task) => task.start_time || task.created);
  if (!timed.length) return <p class="muted">No task runs.</p>;
  const startOf = (task: TaskRun) => Date.parse(task.start_time ?? task.created);
  const endOf = (task: TaskRun) => Date.parse(task.end_time ?? end ?? new Date().toISOString());
  const t0 = Math.min(...timed.map(startOf));
  const t1 = Math.max(t0 + 1, ...timed.map(endOf));
  const span = WIDTH - LABEL - 10;
  const x = (t: number) => LABEL + ((t - t0) / (t1 - t0)) * span;
  const height = timed.length * ROW + 24;
  return (
    <svg class="gantt" viewBox={`0 0 ${WIDTH} ${height}`} role="img" aria-label={`Timeline of ${timed.length} task runs over ${duration(new Date(t0).toISOString(), new Date(t1).toISOString())}`}>
      {timed.map((task, row) => {
        const left = x(startOf(task));
        const width = Math.max(2, x(endOf(task)) - left);
        const cached = task.state.name === "Cached";
        const retries = Math.max(0, task.run_count - 1);
        const label = `${task.name}${retries ? ` (${retries} ${retries === 1 ? "retry" : "retries"})` : ""}${cached ? " (cached)" : ""}`;
        return (
          <g key={task.id}>
            <title>{`${label}: ${task.state.name || task.state.type}, ${duration(task.start_time, task.end_time)}`}</title>
            <text x="0" y={row * ROW + 15} font-size="12" fill="#222">{label.slice(0, 32)}</text>
            <rect x={left} y={row * ROW + 4} width={width} height={ROW - 8} rx="3"
              fill={STATE_COLOURS[task.state.type] ?? "#4d4d4d"} stroke-dasharray={cached ? "3 2" : undefined}
              stroke={cached ? "#000" : undefined} />
          </g>
        );
      })}
      <text x={LABEL} y={height - 6} font-size="11" fill="#333">0 s</text>
      <text x={WIDTH - 10} y={height - 6} font-size="11" fill="#333" text-anchor="end">{duration(new Date(t0).toISOString(), new Date(t1).toISOString())}</text>
    </svg>
  );
}
