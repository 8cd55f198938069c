"""The drivers: thin loops that claim work, call upstream and hand the answer to one order
lifecycle transition: `dispatch` (orders), `requests` (refills, cancels), `polling` (statuses,
refill statuses), `balances`, and `scheduler` (the APScheduler jobs)."""
