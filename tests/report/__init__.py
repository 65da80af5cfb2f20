"""A run's results (simulator/report): the record, the analysis, the judge, lateness, the verdict."""
