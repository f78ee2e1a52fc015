"""What tests import: builders, clients, runners. Plain modules, so that no test imports a
conftest; the fixtures built on them are in ``tests/plugins``."""
