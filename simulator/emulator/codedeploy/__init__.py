"""CodeDeploy for Lambda in the emulator: configurations, deployments that shift an alias's traffic
on the emulated clock, alarm polling, lifecycle hooks, stop and rollback."""
