"""Pure data of a report: models, month windows, aggregation, hashing, packaging.

Nothing here does I/O or imports a framework or a client, so every rule about
the figures can be tested with plain values.
"""
