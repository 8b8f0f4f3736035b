"""Benchmarks of the local rehearsal: router settings, replicas, load and opening length."""
