// A parameter form from a deployment's JSON Schema: string, integer, number, boolean, enum,
// arrays and objects as JSON. Without a schema, one JSON box for all the parameters.
import { useState } from "preact/hooks";
import type { JsonSchema } from "./types";

export type Kind = "string" | "integer" | "number" | "boolean" | "enum" | "json";

/** The input a property gets (Optional[x] is anyOf [x, null]: x's input). */
export function kindOf(schema: JsonSchema): Kind {
  if (schema.enum) return "enum";
  const options = schema.anyOf?.filter((option) => option.type !== "null");
  if (options?.length === 1) return kindOf(options[0]);
  const types = (Array.isArray(schema.type) ? schema.type : [schema.type]).filter((t) => t !== "null");
  if (types.length !== 1) return "json";
  const type = types[0];
  return type === "string" || type === "integer" || type === "number" || type === "boolean" ? type : "json";
}

/** Whether a property takes null (Optional[x]): an empty field then sends nothing, not "". */
export function allowsNull(schema: JsonSchema): boolean {
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  return types.includes("null") || !!schema.anyOf?.some((option) => option.type === "null") || schema.default === null;
}

/** The parameter value of a form field's text, or an error message. */
export function parseValue(kind: Kind, text: string, schema: JsonSchema): { value?: unknown; error?: string } {
  if (kind === "boolean") return { value: text === "true" };
  if (kind === "string") return { value: text };
  if (kind === "enum") {
    const found = (schema.enum ?? []).find((option) => String(option) === text);
    return found === undefined ? { error: "choose one of the values" } : { value: found };
  }
  if (kind === "integer" || kind === "number") {
    const value = Number(text);
    if (text.trim() === "" || Number.isNaN(value)) return { error: `expected ${kind}` };
    if (kind === "integer" && !Number.isInteger(value)) return { error: "expected integer" };
    return { value };
  }
  try {
    return { value: JSON.parse(text) };
  } catch {
    return { error: "expected JSON" };
  }
}

function initialText(kind: Kind, value: unknown): string {
  if (value === undefined || value === null) return kind === "boolean" ? "false" : "";
  return kind === "json" ? JSON.stringify(value) : String(value);
}

interface Props {
  schema: JsonSchema | null | undefined;
  defaults: Record<string, unknown>;
  onSubmit: (parameters: Record<string, unknown>) => void;
  busy?: boolean;
}

export function ParameterForm({ schema, defaults, onSubmit, busy }: Props) {
  const properties = schema?.properties ?? {};
  const names = Object.keys(properties);
  const [texts, setTexts] = useState<Record<string, string>>(() => {
    if (!schema) return { __all__: JSON.stringify(defaults, null, 2) };
    const start: Record<string, string> = {};
    for (const name of names) {
      start[name] = initialText(kindOf(properties[name]), defaults[name] ?? properties[name].default);
    }
    return start;
  });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const set = (name: string, text: string) => setTexts({ ...texts, [name]: text });

  const submit = (event: Event) => {
    event.preventDefault();
    const found: Record<string, string> = {};
    const parameters: Record<string, unknown> = {};
    if (!schema) {
      const parsed = parseValue("json", texts.__all__ ?? "{}", {});
      if (parsed.error || typeof parsed.value !== "object" || parsed.value === null) found.__all__ = "expected a JSON object";
      else Object.assign(parameters, parsed.value);
    }
    for (const name of names) {
      const text = texts[name] ?? "";
      const required = schema?.required?.includes(name);
      if (text === "" && !required && (kindOf(properties[name]) !== "string" || allowsNull(properties[name]))) continue;
      const parsed = parseValue(kindOf(properties[name]), text, properties[name]);
      if (parsed.error) found[name] = parsed.error;
      else parameters[name] = parsed.value;
    }
    setErrors(found);
    if (!Object.keys(found).length) onSubmit(parameters);
  };

  return (
    <form class="params" onSubmit={submit} noValidate>
      {!schema && (
        <FieldRow id="param-all" label="Parameters (JSON)" error={errors.__all__}>
          <textarea id="param-all" rows={4} value={texts.__all__} onInput={(e) => set("__all__", e.currentTarget.value)} />
        </FieldRow>
      )}
      {names.map((name) => (
        <FieldRow key={name} id={`param-${name}`} label={properties[name].title ?? name}
          required={schema?.required?.includes(name)} error={errors[name]} hint={properties[name].description}>
          <Input id={`param-${name}`} schema={properties[name]} text={texts[name] ?? ""} onText={(text) => set(name, text)} />
        </FieldRow>
      ))}
      <button type="submit" disabled={busy}>Run now</button>
    </form>
  );
}

function FieldRow(props: { id: string; label: string; required?: boolean; error?: string; hint?: string; children: preact.ComponentChildren }) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}{props.required ? " (required)" : ""}</label>
      {props.children}
      {props.hint && <small>{props.hint}</small>}
      {props.error && <small class="error" role="alert">{props.label}: {props.error}</small>}
    </div>
  );
}

function Input({ id, schema, text, onText }: { id: string; schema: JsonSchema; text: string; onText: (text: string) => void }) {
  const kind = kindOf(schema);
  if (kind === "boolean") {
    return <input id={id} type="checkbox" checked={text === "true"} onChange={(e) => onText(String(e.currentTarget.checked))} />;
  }
  if (kind === "enum") {
    return (
      <select id={id} value={text} onChange={(e) => onText(e.currentTarget.value)}>
        <option value="">—</option>
        {(schema.enum ?? []).map((option) => <option key={String(option)} value={String(option)}>{String(option)}</option>)}
      </select>
    );
  }
  if (kind === "json") return <textarea id={id} rows={2} value={text} onInput={(e) => onText(e.currentTarget.value)} />;
  const type = kind === "string" ? "text" : "number";
  return <input id={id} type={type} step={kind === "integer" ? "1" : "any"} value={text} onInput={(e) => onText(e.currentTarget.value)} />;
}
