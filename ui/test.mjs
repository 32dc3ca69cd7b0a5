// The dashboard's pure functions (schedule in words, parameter parsing, console links), run
// with `node ui/test.mjs` (tests/unit/test_ui_pure.py runs it). Bundled in memory by esbuild.
import { build } from "esbuild";
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const entry = `
export { describeSchedule, describeCron, describeInterval } from "./schedule";
export { allowsNull, kindOf, parseValue } from "./schema_form";
export { infrastructureLink } from "./infra";
`;
const result = await build({
  stdin: { contents: entry, resolveDir: join(here, "src"), loader: "ts" },
  bundle: true, format: "esm", write: false, jsx: "automatic", jsxImportSource: "preact", logLevel: "error",
});
const ui = await import(`data:text/javascript;base64,${Buffer.from(result.outputFiles[0].text).toString("base64")}`);

const cron = {
  "0 2 * * *": "every day at 02:00",
  "*/15 * * * *": "every 15 minutes",
  "30 9 * * 1": "at 09:30 on Monday",
  "30 9 * * MON,FRI": "at 09:30 on Monday and Friday",
  "0 8 * * 1-5": "at 08:00 on weekdays",
  "0 * * * *": "every hour",
  "5 * * * *": "every hour at minute 5",
  "* * * * *": "every minute",
  "0 0 1 * *": "at 00:00 on day 1 of every month",
  "@daily": "every day at 00:00",
  "0 0 1-7 * *": "cron 0 0 1-7 * *",
};
for (const [expression, words] of Object.entries(cron)) assert.equal(ui.describeCron(expression), words, expression);
assert.equal(ui.describeSchedule({ type: "cron", cron: "0 2 * * *", timezone: "Europe/Paris" }), "every day at 02:00 (Europe/Paris)");
assert.equal(ui.describeSchedule({ type: "interval", interval_seconds: 600 }), "every 10 minutes");
assert.equal(ui.describeInterval(3600), "every hour");
assert.equal(ui.describeInterval(90), "every 90 seconds");
assert.equal(ui.describeSchedule({ type: "rrule", rrule: "FREQ=WEEKLY;BYDAY=MO" }), "FREQ=WEEKLY;BYDAY=MO");

assert.equal(ui.kindOf({ type: "integer" }), "integer");
assert.equal(ui.kindOf({ anyOf: [{ type: "number" }, { type: "null" }] }), "number");
assert.equal(ui.kindOf({ enum: ["a", "b"] }), "enum");
assert.equal(ui.kindOf({ type: "array", items: { type: "string" } }), "json");
assert.deepEqual(ui.parseValue("integer", "3", {}), { value: 3 });
assert.deepEqual(ui.parseValue("integer", "3.5", {}), { error: "expected integer" });
assert.deepEqual(ui.parseValue("number", "x", {}), { error: "expected number" });
assert.deepEqual(ui.parseValue("json", "[1, 2]", {}), { value: [1, 2] });
assert.deepEqual(ui.parseValue("json", "[1,", {}), { error: "expected JSON" });
// What `stratoflow deploy` emits (A's parameter_schema): Optional[str] = None, a Literal, a float.
const emitted = {
  day: { anyOf: [{ type: "string" }, { type: "null" }], default: null, title: "Day" },
  mode: { default: "a", enum: ["a", "b"], title: "Mode", type: "string" },
  rate: { default: 0.5, title: "Rate", type: "number" },
};
assert.equal(ui.kindOf(emitted.day), "string");
assert.equal(ui.allowsNull(emitted.day), true);
assert.equal(ui.kindOf(emitted.mode), "enum");
assert.equal(ui.allowsNull(emitted.mode), false);
assert.deepEqual(ui.parseValue("enum", "b", emitted.mode), { value: "b" });
assert.deepEqual(ui.parseValue("number", "0.25", emitted.rate), { value: 0.25 });
assert.deepEqual(ui.parseValue("enum", "2", { enum: [1, 2] }), { value: 2 });
assert.deepEqual(ui.parseValue("boolean", "true", {}), { value: true });

const task = "arn:aws:ecs:eu-west-1:123456789012:task/stratoflow/0123abcd";
assert.equal(ui.infrastructureLink("ecs", task).href, "https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/stratoflow/tasks/0123abcd");
assert.match(ui.infrastructureLink("lambda", "arn:aws:lambda:us-east-1:123456789012:function:runner").href, /log-group\/%252Faws%252Flambda%252Frunner$/);
assert.match(ui.infrastructureLink("vertex", "projects/p/locations/europe-west4/customJobs/42").href, /vertex-ai\/locations\/europe-west4\/training\/42\?project=p$/);
assert.equal(ui.infrastructureLink("kubernetes", "stratoflow-run-abc"), null);
console.log("ui pure functions: ok");
