"""Kong Gateway license-usage reports, collected declaratively on Kubernetes."""
