.PHONY: test bench bench-quick

test:
	python -m pytest

# The standard benchmark set (1k-1M numbers, both carriers); about 10 minutes on 2 cores.
bench:
	python benchmarks/standard.py

# Up to 100k numbers; about 2 minutes.
bench-quick:
	python benchmarks/standard.py --quick
