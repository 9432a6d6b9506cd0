# subgate in a container. Build:  docker build -t subgate .
#
# The container listens on 0.0.0.0, so the gateway refuses to start without client keys: mount a config
# whose gateway.api-keys is not empty (a copy of config/litellm.yaml with a key added), either over
# /app/config/litellm.yaml or anywhere with SUBGATE_CONFIG pointing at it. Accounts live in the volume.
#
#   docker run -d --name subgate -p 127.0.0.1:8317:8317 \
#     -v subgate-auth:/root/.cli-proxy-api -v "$PWD/my-config.yaml:/app/config/litellm.yaml:ro" subgate
#   docker run -it --rm -v subgate-auth:/root/.cli-proxy-api subgate python -m gateway login claude --paste
#   docker run -it --rm -v subgate-auth:/root/.cli-proxy-api subgate python -m gateway login codex --device
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY custom_providers ./custom_providers
COPY amp ./amp
COPY config ./config
RUN pip install . && mkdir -p -m 700 /root/.cli-proxy-api

EXPOSE 8317
VOLUME /root/.cli-proxy-api

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('SUBGATE_PORT', '8317'), timeout=4)"

# Run from /app so `python -m gateway.amp` finds /app/config/litellm.yaml (or $SUBGATE_CONFIG).
CMD ["python", "-m", "gateway.amp", "--host", "0.0.0.0"]
