# MIRR as an OpenEnv environment (a Hugging Face Docker Space, `openenv push`, `openenv validate`).
# The server is `mirr serve` on 0.0.0.0:8000; OpenEnv's readiness check is GET /health.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY . /app
RUN pip install ".[server]" && useradd --create-home --uid 1000 mirr
USER mirr

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"
CMD ["mirr", "serve", "--host", "0.0.0.0", "--port", "8000"]
