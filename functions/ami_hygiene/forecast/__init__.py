"""`ami-hygiene forecast`: rotation run forward over the coming weeks, read-only (jobs/rotate/forecast.py)."""
