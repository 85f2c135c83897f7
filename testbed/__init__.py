"""What sesh's tests and benchmarks run on: real servers and deployments started on
loopback, broken stores for the kit to catch, shared helpers. A development package: it is
not in the wheel (``pyproject.toml`` packages ``sesh*`` only)."""
