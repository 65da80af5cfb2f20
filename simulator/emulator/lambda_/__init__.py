"""Lambda in the emulator: functions, versions, aliases with weighted routing, and Invoke."""
