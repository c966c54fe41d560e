"""The production HTTP server: gunicorn, ``workers`` processes of ``threads`` threads each (``gthread``).

Why processes: a request spends most of its time in Python (Flask, SQLAlchemy, GeoPandas), and one
process runs Python on one core at a time, so a threaded server (waitress) used one of the two cores
and queued Open311 reports behind map reads (docs/deployment.md has the figures). Everything a
request depends on lives in PostgreSQL (log-in sessions, the log-in throttle, incidents), and what a
process caches (the grid index) is checked against the database on each use, so any worker may
answer any request.

The application is loaded once in the master and forked (``preload_app``): workers start in well
under a second and share the imported libraries' memory. The database pool is dropped in each new
worker, so no connection is ever shared across processes.
"""
from __future__ import annotations

import gc
import os
import sys

from gunicorn.app.base import BaseApplication

#: default worker count: two per core (each worker waits on PostgreSQL part of the time)
DEFAULT_WORKERS = 2 * (os.cpu_count() or 1)
#: default threads per worker: enough to overlap database waits, few enough to keep the GIL cool
DEFAULT_THREADS = 4


class Server(BaseApplication):
    """gunicorn running one WSGI ``application`` with the options of ``gridwatch serve``."""

    def __init__(self, application, *, host: str, port: int, workers: int, threads: int, on_fork=None,
                 log_level: str = "warning"):
        self.application = application
        self.options = {
            "bind": f"{host}:{port}", "workers": workers, "threads": threads, "worker_class": "gthread",
            "preload_app": True, "timeout": 120, "graceful_timeout": 20,
            # one connection per request, and a worker takes a connection only when a thread is free:
            # with keep-alive (or more connections than threads) a busy worker keeps accepting, its
            # clients queue behind its threads while other workers idle (p99 of 22 s at 50 clients)
            "keepalive": 0, "worker_connections": threads,
            "loglevel": log_level, "accesslog": None, "errorlog": "-", "proc_name": "gridwatch",
            "control_socket_disable": True,  # no socket file in $HOME; stop with SIGTERM/SIGINT
            "post_fork": lambda _arbiter, _worker: on_fork() if on_fork else None,
        }
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return self.application


def warm(application) -> None:
    """Build what each process would otherwise build on its first requests, once, before forking: the grid
    and community index of the geocoder (0.5 s of CPU each time, and every thread of every worker built
    its own while the first reports waited) and the map pages' boundary and camera layers. Each stays
    checked against the database on use. A database that is not up yet only leaves them cold."""
    from app import web
    from app.dashboards.pages import map_frames
    from app.geocoding import community_index, grid_index

    try:
        with application.app_context():
            s = web.db_session()
            grid_index(s)
            community_index(s)
            map_frames(s, web.settings().basemap, None)
    except Exception as exc:  # noqa: BLE001  a cold cache is slower, not wrong
        application.logger.warning("caches not warmed before forking: %s", str(exc).splitlines()[0])


def serve(application, *, host: str, port: int, workers: int, threads: int, database=None) -> None:
    """Serve ``application`` until SIGINT or SIGTERM; returns after the running requests are done.

    ``database`` (an ``app.db.Database``) is used to warm the caches (``warm``), then its connections are
    closed; each forked worker starts with an empty pool of its own.
    """
    from gunicorn.http import wsgi

    wsgi.SERVER = "gridwatch"  # the Server header names no server software (nor its version)

    def fresh_pool():
        if database is not None:
            database.engine.dispose(close=False)  # inherited connections belong to the master

    server = Server(application, host=host, port=port, workers=workers, threads=threads, on_fork=fresh_pool)
    if database is not None:
        warm(application)
        database.engine.dispose()  # the master's connections closed: nothing opened here reaches a worker
    gc.freeze()  # the loaded libraries' objects: never scanned by a worker's collector, never copied on write
    master = os.getpid()
    try:
        server.run()
    except SystemExit as exc:
        if os.getpid() != master:
            # a worker (forked inside run) leaves once gunicorn has closed its connections; skipping the
            # interpreter's final collection over the inherited heap saves seconds per worker at stop
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(exc.code if isinstance(exc.code, int) else 0)
        if exc.code not in (0, None):  # the arbiter leaves the same way, once every worker has stopped
            raise
