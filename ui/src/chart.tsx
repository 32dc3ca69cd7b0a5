// Runs over time by state: a stacked bar chart drawn as SVG by hand.
import { STATE_COLOURS, STATE_TYPES } from "./format";
import type { FlowRunStats } from "./types";

const WIDTH = 720;
const HEIGHT = 160;
const AXIS = 20;

export function RunsChart({ stats }: { stats: FlowRunStats }) {
  const buckets = stats.buckets;
  const totals = buckets.map((bucket) => Object.values(bucket.by_state).reduce((a, b) => a + b, 0));
  const max = Math.max(1, ...totals);
  const barWidth = buckets.length ? WIDTH / buckets.length : WIDTH;
  const scale = (HEIGHT - AXIS) / max;
  const total = totals.reduce((a, b) => a + b, 0);
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={`Runs over time: ${total} runs in ${buckets.length} buckets, at most ${max} in one`}>
        {buckets.map((bucket, index) => {
          let y = HEIGHT - AXIS;
          return (
            <g key={bucket.start}>
              <title>{`${new Date(bucket.start).toLocaleString()}: ${totals[index]} runs`}</title>
              {STATE_TYPES.filter((type) => bucket.by_state[type]).map((type) => {
                const height = bucket.by_state[type] * scale;
                y -= height;
                return <rect key={type} x={index * barWidth + 1} y={y} width={Math.max(1, barWidth - 2)} height={height} fill={STATE_COLOURS[type]} />;
              })}
            </g>
          );
        })}
        <line x1="0" x2={WIDTH} y1={HEIGHT - AXIS} y2={HEIGHT - AXIS} stroke="#555" />
        <text x="0" y={HEIGHT - 4} font-size="11" fill="#333">{buckets[0] ? new Date(buckets[0].start).toLocaleString() : ""}</text>
        <text x={WIDTH} y={HEIGHT - 4} font-size="11" fill="#333" text-anchor="end">{new Date(stats.before).toLocaleString()}</text>
        <text x="2" y="12" font-size="11" fill="#333">{max}</text>
      </svg>
    </figure>
  );
}
