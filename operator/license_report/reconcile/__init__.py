"""One report run: ask the sources, aggregate, hand back what to write."""
