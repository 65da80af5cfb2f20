"""Starting and following a deployment, and the vocabulary the emulator and the planner share: deployment plans, the alarm rule, the clock, ARNs, the admin token."""
