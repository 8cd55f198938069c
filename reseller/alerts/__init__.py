"""Alerts: the operator hears of trouble without watching logs.

- `conditions`: what is wrong now, read from the database (the state the metrics gauges show),
  so every process sees the same and a restart sees it again;
- `dedup`: what a destination must be told, given what it was told before (pure): one message
  when a condition starts, one when it grows, a reminder while it lasts, one when it clears;
- `destinations`: webhook and Telegram, each delivery retried with backoff, bounded;
- `notifier`: one check: the conditions, the plan per destination, delivery, the record
  (table `alert_state`). The alerts job runs it under an advisory lock: one process sends.
"""
