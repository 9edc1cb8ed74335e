# stocksignal: one image for every process (`stocksignal run processor|projector|api|
# marketplace-sync`, `stocksignal topics create`, ...). docker-compose.yml builds and runs it.
#
#   docker build -t stocksignal .
#   docker run --rm stocksignal --help
#
# Two stages: the first installs the package and its dependencies into a virtualenv, the
# second copies only that virtualenv (no pip cache, no sources). Every dependency ships
# binary wheels for CPython 3.11 on glibc (x86_64 and arm64), so no compiler is needed.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/stocksignal
WORKDIR /src
# pyproject.toml names README.md as the readme, so the build needs it. setup.py copies the
# Avro schemas (schemas/, outside the package) into the wheel as package data
# (stocksignal/contract/avsc/), where an installed package finds them.
COPY pyproject.toml setup.py MANIFEST.in README.md ./
COPY services/ services/
COPY schemas/ schemas/
RUN /opt/stocksignal/bin/pip install .
# Fail the build, not the first start, when the schemas are not found or do not load.
RUN /opt/stocksignal/bin/python -c "\
from stocksignal.contract.schemas import schema_dir; \
from stocksignal.contract import make_codec; \
d = schema_dir(); \
assert d.name == 'avsc' and 'site-packages' in str(d), d; \
make_codec(''); \
print('schemas:', d)" \
 && /opt/stocksignal/bin/stocksignal --help > /dev/null


FROM ${PYTHON_IMAGE}
# The source commit, reported by every process as stocksignal_build_info{commit}:
#   docker build --build-arg COMMIT=$(git rev-parse --short HEAD) -t stocksignal .
ARG COMMIT=""
LABEL org.opencontainers.image.title="stocksignal" \
      org.opencontainers.image.description="Kafka stream processor for trustworthy ecommerce stock availability" \
      org.opencontainers.image.licenses="Apache-2.0"

# STOCKSIGNAL_STATE_DIR: the processor's RocksDB state; mount a volume there (see
# docker-compose.yml). The web, API and metrics hosts listen on every interface inside a
# container (their defaults are 127.0.0.1); without tokens the API and the inspection API then
# refuse to start unless STOCKSIGNAL_ALLOW_UNAUTHENTICATED=true (docs/operations.md#http-security).
ENV PATH=/opt/stocksignal/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    STOCKSIGNAL_STATE_DIR=/var/lib/stocksignal/state \
    STOCKSIGNAL_WEB_HOST=0.0.0.0 \
    STOCKSIGNAL_API_HOST=0.0.0.0 \
    STOCKSIGNAL_METRICS_HOST=0.0.0.0 \
    STOCKSIGNAL_BUILD_COMMIT=${COMMIT}

COPY --from=build /opt/stocksignal /opt/stocksignal

# An unprivileged user owning the state directory. A named volume mounted on
# /var/lib/stocksignal starts with this ownership.
RUN groupadd --system --gid 10001 stocksignal \
 && useradd --system --uid 10001 --gid stocksignal --home-dir /var/lib/stocksignal --shell /usr/sbin/nologin stocksignal \
 && mkdir -p /var/lib/stocksignal/state \
 && chown -R stocksignal:stocksignal /var/lib/stocksignal
USER stocksignal
WORKDIR /var/lib/stocksignal

# 6066: processor inspection API and /metrics; 8080: storefront API; 9108: projector and
# marketplace-sync metrics (STOCKSIGNAL_METRICS_PORT).
EXPOSE 6066 8080 9108

ENTRYPOINT ["stocksignal"]
CMD ["--help"]
