"""Schedule arithmetic for the scheduler: cron, interval and RRULE times, their work budget,
and the scheduler's per-deployment plans. Pure (no I/O), like the orchestration kernel, but
server-side only: it needs croniter and dateutil, which the SDK does not install.
"""
