"""The benchmark of the deployed stack (`make bench`, `make bench-quick`): see bench/run.py."""
