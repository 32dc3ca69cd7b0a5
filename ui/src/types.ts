// The API's shapes the pages read (docs/api.md, GET /openapi.json).
import type { Schedule } from "./schedule";

export interface State {
  type: string;
  name: string;
  timestamp: string;
  message?: string | null;
  scheduled_time?: string | null;
  cache_key?: string | null;
}
export interface FlowRun {
  id: string; name: string; flow_id: string; flow_name?: string | null; flow_version?: string | null;
  deployment_id?: string | null; parameters: Record<string, unknown>; state: State; run_count: number;
  work_queue?: string | null; infrastructure?: string | null; tags: string[];
  expected_start_time?: string | null; start_time?: string | null; end_time?: string | null;
  heartbeat?: string | null; agent_id?: string | null; infrastructure_id?: string | null;
  created: string; updated: string;
}
export interface TaskRun {
  id: string; name: string; task_key: string; dynamic_key: string; cache_key?: string | null;
  state: State; run_count: number; subflow_run_id?: string | null;
  start_time?: string | null; end_time?: string | null; created: string; updated: string;
}
export interface Log {
  flow_run_id: string; task_run_id?: string | null; level: number; name: string; message: string;
  timestamp: string; seq: number;
}
export interface Flow { id: string; name: string; tags: string[]; created: string }
export interface DeploymentSchedule { id: string; schedule: Schedule; active: boolean }
export interface Deployment {
  id: string; flow_id: string; flow_name: string; name: string; entrypoint: string;
  description?: string | null; parameters: Record<string, unknown>; work_queue: string;
  infrastructure: string; schedules: DeploymentSchedule[]; paused: boolean; tags: string[];
  parameter_schema?: JsonSchema | null; flow_version?: string | null; created: string; updated: string;
}
export interface JsonSchema {
  type?: string | string[]; title?: string; description?: string; properties?: Record<string, JsonSchema>;
  required?: string[]; default?: unknown; enum?: unknown[]; items?: JsonSchema; anyOf?: JsonSchema[];
}
export interface WorkQueue { name: string; paused: boolean; concurrency_limit?: number | null; created: string }
export interface Agent { id: string; name: string; type: string; work_queue: string; last_heartbeat: string; active_runs?: number | null }
export interface ConcurrencyLimit { tag: string; limit: number; active_slots: string[]; created: string }
export interface FlowRunStats {
  after: string; before: string; bucket_seconds: number; by_state: Record<string, number>;
  buckets: { start: string; by_state: Record<string, number> }[];
}
