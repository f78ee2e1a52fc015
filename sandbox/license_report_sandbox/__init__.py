"""Stand-ins for what cannot run here: a Kong Admin API simulator and a Kong datastore.

Used by the tests, the benchmarks and the sandbox; the product never imports them.
"""
