// Where a run ran, as a console link: Lambda / ECS log group in CloudWatch, the ECS task, the
// Kubernetes Job (no console: its name), the Vertex custom job.
export interface InfraLink { href: string; label: string }

const REGION = /arn:aws[a-z-]*:[a-z0-9-]+:([a-z0-9-]+):/;

export function infrastructureLink(kind: string, id: string): InfraLink | null {
  const region = id.match(REGION)?.[1];
  if (id.startsWith("arn:") && id.includes(":task/") && region) {
    const [, cluster, task] = id.split(":task/")[1].match(/^([^/]+)\/(.+)$/) ?? [];
    if (cluster && task) {
      return { href: `https://${region}.console.aws.amazon.com/ecs/v2/clusters/${cluster}/tasks/${task}`, label: "ECS task console" };
    }
  }
  if (id.startsWith("arn:") && id.includes(":log-group:") && region) {
    const group = id.split(":log-group:")[1].replace(/:\*$/, "");
    return { href: `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#logsV2:log-groups/log-group/${encodeURIComponent(encodeURIComponent(group))}`, label: "CloudWatch logs" };
  }
  if (id.startsWith("arn:") && id.includes(":function:") && region) {
    const name = id.split(":function:")[1].split(":")[0];
    const group = encodeURIComponent(encodeURIComponent(`/aws/lambda/${name}`));
    return { href: `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#logsV2:log-groups/log-group/${group}`, label: "CloudWatch logs" };
  }
  const vertex = id.match(/^projects\/([^/]+)\/locations\/([^/]+)\/customJobs\/([^/]+)$/);
  if (vertex) {
    const [, project, location, job] = vertex;
    return { href: `https://console.cloud.google.com/vertex-ai/locations/${location}/training/${job}?project=${project}`, label: "Vertex AI console" };
  }
  if (kind === "kubernetes") return null; // the id is the Job name, shown as is
  return null;
}
