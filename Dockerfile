# genomics-mock: the Google Genomics v1 mock server as a container.
#   docker build -t genomics-mock .
#   docker run -p 8080:8080 -v "$PWD/mock-data:/data" genomics-mock --state /data/state.json
# Options can also be given as GENOMICS_MOCK_* environment variables (see docs/usage.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GENOMICS_MOCK_HOST=0.0.0.0 \
    GENOMICS_MOCK_PORT=8080 \
    GENOMICS_MOCK_STORAGE_ROOT=/data/storage

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

# /_mock/health stays on even with --no-admin; python is the only client in a slim image.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/_mock/health' % os.environ.get('GENOMICS_MOCK_PORT', '8080'), timeout=2)"]

ENTRYPOINT ["genomics-mock", "serve"]
CMD []
