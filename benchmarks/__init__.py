"""Latency, throughput and memory benchmark of the gateway against local fakes (`python -m benchmarks.bench`)."""
