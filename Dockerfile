# syntax=docker/dockerfile:1
# Image of source-wootric on Airbyte's Python connector base (Python 3.11, Debian bookworm, user airbyte).
# Locally the base is replaced by a stand-in: --build-arg BASE_IMAGE=localhost/python-connector-base:local
# (scripts/build_base_image.sh). Behind a TLS-intercepting proxy, mount its CA bundle over
# /etc/ssl/certs/ca-certificates.crt for the build only (podman build -v ...:ro); it is never copied in.
ARG BASE_IMAGE=docker.io/airbyte/python-connector-base:4.0.2@sha256:9fdb1888c4264cf6fee473649ecb593f56f58e5d0096a87ee0b231777e2e3e73

FROM ${BASE_IMAGE} AS build
ARG PIP_CERT=/etc/ssl/certs/ca-certificates.crt
ARG PIP_NO_CACHE_DIR=1
ARG PIP_DISABLE_PIP_VERSION_CHECK=1
ARG PIP_ROOT_USER_ACTION=ignore
WORKDIR /build
# A venv without pip: the base's pip installs into it, so the final image carries no installer.
RUN python3 -m venv --without-pip /opt/venv
# requirements.lock is poetry.lock exported with hashes (scripts/lock.sh); the package then goes in with --no-deps.
COPY requirements.lock ./
RUN python3 -m pip --python /opt/venv/bin/python install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY source_wootric ./source_wootric
RUN python3 -m pip --python /opt/venv/bin/python install --no-deps .

FROM ${BASE_IMAGE}
# What Airbyte's platform reads to name the connector and its version (metadata.yaml's; unit_tests/test_metadata.py).
LABEL io.airbyte.name="airbyte/source-wootric" \
      io.airbyte.version="1.1.1"
COPY --from=build /opt/venv /opt/venv
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    AIRBYTE_ENTRYPOINT="source-wootric"
WORKDIR /airbyte/integration_code
USER airbyte
ENTRYPOINT ["source-wootric"]
