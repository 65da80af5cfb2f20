"""The planner (simulator/planning and deployment/plan.py): its model, the alarm search."""
