"""The PostgreSQL advisory-lock keys, all here: two uses sharing a key would block (or skip)
each other for no reason anyone could see. Each key spells its name in ASCII."""

from __future__ import annotations

MIGRATIONS = 0x7265_7365_6C6C_6572  # "reseller": one `migrate` at a time (session lock)
CATALOG_WRITE = 0x6361_7461_6C6F_67  # "catalog": one catalog writer at a time (transaction lock)
BALANCE_JOB = 0x6261_6C61_6E63_65  # "balance": the balance job runs in one process at a time
CATALOG_SYNC_JOB = 0x6361_7473_796E_63  # "catsync": so does the catalog resync job
ALERTS_JOB = 0x616C_6572_7473  # "alerts": one process sends alerts at a time (none twice)
TIERS_JOB = 0x7469_6572_73  # "tiers": one process re-evaluates spend tiers at a time
ROUTING_JOB = 0x726F_7574_696E_67  # "routing": one process refreshes quality and routes
