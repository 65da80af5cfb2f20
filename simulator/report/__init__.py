"""A run's results: the record, the analysis, the statistical judge, lateness, the figure, the verdict."""
