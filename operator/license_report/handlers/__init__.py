"""kopf handlers: thin translations of Kubernetes events into report runs."""
