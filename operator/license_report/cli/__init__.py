"""Command-line entry points: the operator, one-shot collection, the sandbox."""
