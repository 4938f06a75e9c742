.PHONY: test bench bench-quick

# Extra options for the end-to-end benchmark, e.g. `make bench E2E="--million --repeat 3"`.
E2E ?=

test:
	python -m pytest

# Every table names the date and the machine. In order:
# 1. end to end (`reconciler plan` as its own process against `reconciler sandbox serve`: 100k
#    numbers, per-number overrides, 5,000 profiles; both carriers; about 10 minutes on 2 cores),
#    then plan CPU ÷ the floor client's CPU (benchmarks/floor.py) per carrier;
# 2. startup: import time of --help, validate and plan (python -X importtime);
# 3. reads at 100 ms latency: wall ÷ ⌈pages/c⌉ × latency per concurrency ceiling, and the
#    concurrency the verbose log says was used and why (about 3 minutes);
# 4. the in-process standard set (1k-1M numbers, both carriers; about 10 minutes).
bench:
	python benchmarks/e2e.py --json benchmarks/results/e2e-latest.jsonl $(E2E)
	@echo
	python benchmarks/startup.py
	@echo
	python benchmarks/concurrency.py
	@echo
	python benchmarks/standard.py

# The 100k/5-profile end-to-end rows, then the in-process set up to 100k; about 5 minutes.
bench-quick:
	python benchmarks/e2e.py --quick --json benchmarks/results/e2e-latest.jsonl $(E2E)
	@echo
	python benchmarks/startup.py
	@echo
	python benchmarks/standard.py --quick
