"""CloudWatch in the emulator: the AWS/Lambda metrics of every invocation, and metric alarms."""
