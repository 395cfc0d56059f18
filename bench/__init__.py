"""The benchmark: requests, throughput and memory of source-wootric, the Singer tap and a floor loop.

Run it with `.venv/bin/python -m bench` (see `bench/run.py`); the tables are in `bench/results/results.md`. Not part of
the test suite.
"""
