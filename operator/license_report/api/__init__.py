"""The ``LicenseReportRequest`` API: pydantic models that are the single source of truth.

The CRD in ``crds/`` is generated from these models (``license-report crd``),
and a test fails when the committed file and the models differ.
"""
