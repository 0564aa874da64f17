# genomics-mock: the Google Genomics v1 mock server as a container.
#   docker build -t genomics-mock .
#   mkdir -p mock-data && docker run -p 8080:8080 --user "$(id -u):$(id -g)" -v "$PWD/mock-data:/data" genomics-mock
# State (/data/state.json) and the gs:// stand-in (/data/storage, created at start when a mounted
# volume hides it) live in the one /data volume. Options go after the image name or in
# GENOMICS_MOCK_* environment variables (see docs/usage.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GENOMICS_MOCK_HOST=0.0.0.0 \
    GENOMICS_MOCK_PORT=8080 \
    GENOMICS_MOCK_STATE=/data/state.json \
    GENOMICS_MOCK_STORAGE_ROOT=/data/storage \
    GENOMICS_MOCK_URL_FILE=/tmp/genomics-mock.url

WORKDIR /src
COPY pyproject.toml README.md ./
COPY spec ./spec
COPY mockserver ./mockserver
COPY contracts ./contracts

# Install as a wheel (the OpenAPI document is packaged inside), then drop the sources.
RUN pip install --no-cache-dir /src \
    && rm -rf /src \
    && groupadd --gid 10001 mock \
    && useradd --create-home --uid 10001 --gid 10001 --shell /usr/sbin/nologin mock \
    && mkdir -p /data/storage \
    && chown -R 10001:10001 /data

USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080

# 'genomics-mock health' probes /_mock/health (on even with --no-admin) at the URL the server wrote
# to GENOMICS_MOCK_URL_FILE, so a --port given after the image name is followed too.
HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=3 \
    CMD ["genomics-mock", "health"]

ENTRYPOINT ["genomics-mock", "serve"]
CMD []
