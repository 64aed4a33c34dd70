"""The submission API: validates jobs, enqueues them by task name, serves their records."""
