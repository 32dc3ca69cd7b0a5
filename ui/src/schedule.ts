// Schedules in words: the common cron forms, intervals, and an rrule's own text.
export interface Schedule {
  type: "cron" | "interval" | "rrule";
  cron?: string;
  interval_seconds?: number;
  rrule?: string;
  timezone?: string;
}

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const DAY_NAMES: Record<string, number> = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 };
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
  "September", "October", "November", "December"];

const isNumber = (field: string) => /^\d+$/.test(field);
const pad = (value: string) => value.padStart(2, "0");

export function describeSchedule(schedule: Schedule): string {
  const zone = schedule.timezone && schedule.timezone !== "UTC" ? ` (${schedule.timezone})` : "";
  if (schedule.type === "interval") return describeInterval(schedule.interval_seconds ?? 0) + zone;
  if (schedule.type === "rrule") return (schedule.rrule ?? "").trim() + zone;
  return describeCron(schedule.cron ?? "") + (zone || " (UTC)");
}

export function describeInterval(seconds: number): string {
  const units: [number, string][] = [[86400, "day"], [3600, "hour"], [60, "minute"], [1, "second"]];
  for (const [size, unit] of units) {
    if (seconds >= size && seconds % size === 0) {
      const count = seconds / size;
      return count === 1 ? `every ${unit}` : `every ${count} ${unit}s`;
    }
  }
  return `every ${seconds} seconds`;
}

function dayName(field: string): string | null {
  const day = isNumber(field) ? Number(field) % 7 : DAY_NAMES[field.toLowerCase().slice(0, 3)];
  return day === undefined ? null : DAYS[day];
}

function describeDays(field: string): string | null {
  if (field === "1-5") return "on weekdays";
  if (field === "0,6" || field === "6,0" || field === "6-7") return "at weekends";
  const names = field.split(",").map(dayName);
  if (names.some((name) => name === null)) return null;
  return `on ${joinWords(names as string[])}`;
}

function joinWords(words: string[]): string {
  return words.length < 2 ? words.join("") : `${words.slice(0, -1).join(", ")} and ${words[words.length - 1]}`;
}

const MACROS: Record<string, string> = {
  "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
};

/** A cron expression in words when it is a common form, else the expression itself. */
export function describeCron(expression: string): string {
  const text = MACROS[expression.trim().toLowerCase()] ?? expression.trim();
  const fields = text.split(/\s+/);
  if (fields.length !== 5) return `cron ${expression}`;
  const [minute, hour, dom, month, dow] = fields;
  const step = /^\*\/(\d+)$/;
  const everyDay = dom === "*" && month === "*" && dow === "*";
  if (everyDay && hour === "*" && minute === "*") return "every minute";
  if (everyDay && hour === "*" && step.test(minute)) return describeInterval(Number(minute.match(step)![1]) * 60);
  if (everyDay && hour === "*" && isNumber(minute)) return minute === "0" ? "every hour" : `every hour at minute ${Number(minute)}`;
  if (everyDay && isNumber(minute) && step.test(hour)) return `${describeInterval(Number(hour.match(step)![1]) * 3600)} at minute ${Number(minute)}`;
  if (!isNumber(minute) || !isNumber(hour)) return `cron ${expression}`;
  const time = `${pad(hour)}:${pad(minute)}`;
  if (everyDay) return `every day at ${time}`;
  if (dom === "*" && month === "*") {
    const days = describeDays(dow);
    return days ? `at ${time} ${days}` : `cron ${expression}`;
  }
  if (dow === "*" && isNumber(dom)) {
    if (month === "*") return `at ${time} on day ${Number(dom)} of every month`;
    if (isNumber(month)) return `at ${time} on ${Number(dom)} ${MONTHS[Number(month) - 1]} every year`;
  }
  return `cron ${expression}`;
}
