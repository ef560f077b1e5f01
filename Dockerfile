# syntax=docker/dockerfile:1
# One image for the five domain services and the gateway. Which app a container runs is its command, e.g.
#   docker run civic:TAG uvicorn services.funeral.main:app --host 0.0.0.0 --port 8000
# (the default command runs the gateway). Configuration is CIVIC_* environment variables only (civic/config.py).
#
# Base images are pinned by tag here; pin them by digest (name:tag@sha256:…) in the registry you build from.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm
# Keep in step with UV_VERSION in the Makefile: the lock file format is uv's (a test checks they agree).
ARG UV_VERSION=0.13.8

# ---- build: resolve nothing, install exactly uv.lock into /app/.venv ----
FROM ${PYTHON_IMAGE} AS build
ARG UV_VERSION
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy
RUN python -m pip install "uv==${UV_VERSION}"
WORKDIR /src
# Dependencies first, in their own layer: a code change does not reinstall them.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project --compile-bytecode
# Then the project itself, as a regular (non-editable) install: the runtime image needs no source tree.
COPY civic ./civic
COPY contracts ./contracts
COPY services ./services
COPY gateway ./gateway
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --compile-bytecode

# ---- runtime: the interpreter and the virtualenv, nothing that builds ----
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CIVIC_DATA_DIR=/tmp/civic \
    CIVIC_LOG_JSON=true
RUN groupadd --system --gid 10001 civic \
    && useradd --system --uid 10001 --gid civic --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin civic
COPY --from=build --chown=root:root /app/.venv /app/.venv
WORKDIR /app
# A numeric user, so that Kubernetes' runAsNonRoot can verify it without resolving names.
USER 10001:10001
EXPOSE 8000
# Liveness only (/healthz): readiness (/readyz: database and broker) is the orchestrator's business.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["uvicorn", "gateway.main:app", "--host", "0.0.0.0", "--port", "8000", "--no-access-log", "--timeout-graceful-shutdown", "20"]
