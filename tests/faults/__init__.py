"""Fault tests: real `cpa serve` processes, real signals, real PostgreSQL stops (`make faults`)."""
