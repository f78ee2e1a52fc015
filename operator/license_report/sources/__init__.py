"""Where figures come from: the Kong Admin API, the PostgreSQL datastore, the license."""
