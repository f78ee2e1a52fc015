# The license-report-operator image: `license-report run`, as a non-root user.
#
#   docker build -t license-report-operator:0.1.0 .
#
# Two stages: the builder turns the source into a wheel; the runtime stage
# installs that wheel and its dependencies from binary wheels only (nothing is
# compiled, so no build tools), then removes pip itself. The entry point is
# exec-form, so nothing needs a shell at run time. The chart runs it with a
# read-only root filesystem and a writable emptyDir at /tmp.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Only what the wheel is made of (see .dockerignore): metadata, readme, package.
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN python -m pip wheel --no-deps --wheel-dir /dist .

FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=builder /dist/ /tmp/dist/
RUN python -m pip install --only-binary=:all: /tmp/dist/*.whl \
 && python -m pip uninstall --yes pip setuptools wheel \
 && rm -rf /tmp/dist
# A numeric user (65532, "nonroot" by convention) so that Kubernetes can check
# runAsNonRoot without a passwd entry.
USER 65532:65532
WORKDIR /tmp
# kopf's liveness endpoint (--liveness http://0.0.0.0:8080/healthz) and the
# Prometheus metrics (--metrics-address 0.0.0.0:8081, /metrics).
EXPOSE 8080 8081
LABEL org.opencontainers.image.title="license-report-operator" \
      org.opencontainers.image.description="Kong Gateway license-usage reports, as a Kubernetes operator" \
      org.opencontainers.image.licenses="Apache-2.0"
ENTRYPOINT ["license-report", "run"]
