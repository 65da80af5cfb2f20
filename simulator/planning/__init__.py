"""Before the deployment: a Monte Carlo of many deployments per configuration (`model.py`), from a
scenario or a rehearsal's run (`inputs.py`), summarised, drawn and recommended (`report.py`)."""
