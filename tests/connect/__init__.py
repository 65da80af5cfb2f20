"""Amazon Connect's semantics (simulator/connect): flows, the interpreter, Invoke blocks, flow logs."""
