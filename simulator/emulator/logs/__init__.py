"""CloudWatch Logs: log groups, streams and events, filter patterns and metric filters."""
