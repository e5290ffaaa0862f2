# tradefleet image: the API (gunicorn), Celery workers, beat and Flower all run from it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TRADEFLEET_DATA_DIR=/data

WORKDIR /app

# Only what the package needs: no .venv, var/ (secrets, local Redis) or .env.
COPY setup.cfg pyproject.toml ./
COPY core ./core
COPY brokers ./brokers
COPY ingest ./ingest
COPY strategies ./strategies
COPY tasks ./tasks
COPY api ./api
RUN pip install . \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin tradefleet \
    && mkdir -p /data \
    && chown tradefleet:tradefleet /data

USER tradefleet
VOLUME ["/data"]
EXPOSE 8000

CMD ["gunicorn", "api:create_app()", "--bind", "0.0.0.0:8000", "--workers", "2", "--threads", "4", "--timeout", "60", "--access-logfile", "-", "--no-control-socket"]
