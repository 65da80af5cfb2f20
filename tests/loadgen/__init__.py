"""The load generator (simulator/loadgen) in real Locust runs: options, pacing, statistics, the web UI, production's traffic."""
