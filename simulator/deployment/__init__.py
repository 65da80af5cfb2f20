"""Starting and following a deployment, and the vocabulary the emulator and the planner share: deployment plans, the alarm rule and composite alarms' rules, the clock, ARNs, the admin token."""
