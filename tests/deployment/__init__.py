"""The deployment (simulator/deployment): the driver, the alarm lint, traffic shifting."""
