"""Kedro pipelines: thin nodes over the core."""
