"""Reading the user's inputs (simulator/scenario): scenario files, SAM templates, handler checks."""
