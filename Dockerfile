# xray-heal dashboard on a CUDA-capable PyTorch base.
# Build: docker build -t xray-heal .
# Run:   docker run --gpus all -p 8050:8050 -v xray-heal-data:/data xray-heal
# A Celery worker from the same image (scale-out, see README):
#        docker run --gpus all -e XRAY_HEAL_BROKER=redis://web:6379/0 -v /shared:/data xray-heal xray-heal worker
FROM pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    XRAY_HEAL_HOST=0.0.0.0 \
    XRAY_HEAL_PORT=8050 \
    XRAY_HEAL_DATA=/data

RUN useradd --create-home --uid 1000 xray \
    && mkdir -p /data /app \
    && chown xray:xray /data /app

WORKDIR /app
COPY --chown=xray:xray . /app
# the base image's torch satisfies the project's torch range, so pip keeps it
RUN pip install --no-cache-dir -e ".[serve,celery]"

USER 1000
VOLUME ["/data"]
EXPOSE 8050
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8050/healthz', timeout=4)"]

# one worker process (the diskcache of background jobs is per machine), threads for requests
CMD ["gunicorn", "--bind", "0.0.0.0:8050", "--workers", "1", "--threads", "8", "--timeout", "120", "dashboard.wsgi:server"]
