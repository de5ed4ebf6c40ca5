"""Scheduled jobs that roll the counter's raw keys into each site's summary and history."""
