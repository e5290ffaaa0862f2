"""Celery tasks of tradefleet. The app lives in ``tasks/celery.py`` (``celery -A tasks``)."""
