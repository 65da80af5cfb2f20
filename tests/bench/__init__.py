"""The benchmarks under bench/: their smoke runs, their figures and the instruction budget."""
