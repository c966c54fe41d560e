"""Serve gridwatch on 127.0.0.1 for the client tests, in a process of its own:
``python -m tests.clients.serve DATABASE_URL VAR_DIR [SETTINGS_JSON]`` prints ``PORT <n>`` once it listens
(``SETTINGS_JSON``: further settings, e.g. ``{"open311_anonymous_reads": true}``).

A process, not a thread of the test process: pyogrio keeps the GIL while GDAL reads a layer's pages, so a
server thread in the same interpreter would wait for GDAL, and GDAL for it, until the HTTP time-out.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main(url: str, var_dir: str, extra: str = "{}") -> None:
    import json

    from werkzeug.serving import make_server

    from app import create_app
    from app.config import Settings
    from app.db import Database, make_engine

    settings = Settings({"var_dir": var_dir, "secret_key": "ogc-clients-secret", "data_dir": str(ROOT / "data"),
                         **json.loads(extra)},
                        environ={}, config_file=Path(var_dir) / "none.toml")
    app = create_app(settings, database=Database(make_engine(url)))
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request; errors still logged
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(f"PORT {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(*sys.argv[1:4])
