# syntax=docker/dockerfile:1
# surge-monitor image: one image runs a worker (default), the simulator or any CLI command:
#   docker build -t surge-monitor:0.1.0 .
#   docker run --rm -e SURGE_KAFKA_BROKER=kafka://kafka:19092 surge-monitor:0.1.0            # worker
#   docker run --rm surge-monitor:0.1.0 simulate --scenario launch-day --hours 6 --speed 60
# Base pinned to a patch release of Python 3.11 on Debian 12; pin the digest too
# (python:3.11.14-slim-bookworm@sha256:...) where your registry policy asks for it.

FROM python:3.11.14-slim-bookworm AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# A compiler only here, for any dependency without a wheel on the target platform.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY streams ./streams
COPY detectors ./detectors
# A regular (not editable) install: the final stage gets the venv and nothing of /src.
RUN pip install --upgrade pip && pip install . && surge-monitor --help >/dev/null

FROM python:3.11.14-slim-bookworm
LABEL org.opencontainers.image.title="surge-monitor" \
      org.opencontainers.image.description="Real-time NHS 111 surge monitor (Faust workers, simulator, CLI)"
# SURGE_METRICS_HOST=0.0.0.0: the worker's default is 127.0.0.1 (safe on a shared host), but in a
# container loopback is the container's own, so Prometheus, the kubelet's probes and the
# HEALTHCHECK through the published port would see nothing. The container's network namespace is
# the boundary here; compose publishes the port on 127.0.0.1 only and Kubernetes restricts it with
# a NetworkPolicy.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SURGE_METRICS_HOST=0.0.0.0 \
    SURGE_LOG_FORMAT=json
RUN groupadd --system --gid 10001 surge \
    && useradd --system --uid 10001 --gid surge --home-dir /var/lib/surge --no-create-home \
       --shell /usr/sbin/nologin surge \
    && mkdir -p /var/lib/surge \
    && chown surge:surge /var/lib/surge
COPY --from=builder /opt/venv /opt/venv
# Faust's data directory (<app id>-data) is created here; mount a volume (or an emptyDir with a
# read-only root filesystem).
WORKDIR /var/lib/surge
USER 10001:10001
EXPOSE 9108
# For the worker (the default command); `docker run ... simulate` should pass --no-healthcheck,
# compose disables it for non-worker services.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('SURGE_METRICS_PORT', '9108') + '/metrics', timeout=4)"]
ENTRYPOINT ["surge-monitor"]
CMD ["worker"]
