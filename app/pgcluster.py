"""A private PostgreSQL + PostGIS cluster: the embedded default store and the test server.

The cluster listens on a Unix socket only (no TCP port to collide with) unless TCP is turned on
(:meth:`Cluster.configure_tcp`, ``gridwatch db start --listen``): then readers (``app.readers``) connect
over TCP with SCRAM-SHA-256 passwords and nobody else can; the owner keeps trust on the socket only.
PostgreSQL refuses to run as root, so when we are root the server runs as an unprivileged system user
(``postgres``).
"""
from __future__ import annotations

import glob
import hashlib
import ipaddress
import json
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

SUPERUSER = "gridwatch"
DEFAULT_PORT = 5432
#: the group role of the read-only accounts (app.readers.READER_GROUP; here so the cluster needs no app import)
READER_GROUP = "gridwatch_readers"
#: the database readers may reach over TCP
READER_DATABASE = "gridwatch"
#: pg_hba address keywords accepted by ``--allow`` beside CIDRs
ALLOW_KEYWORDS = ("samenet", "samehost", "all")


def parse_listen(text: str) -> tuple[str, int]:
    """``ADDR[:PORT]`` → (address, port): ``0.0.0.0``, ``*``, ``192.168.1.5:5433``, ``[::]:5433``, ``::1``."""
    text = (text or "").strip()
    port = DEFAULT_PORT
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"{text!r}: expected [IPv6]:PORT")
        port_text = rest[1:] if rest else ""
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, ""
    if port_text:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise ValueError(f"{port_text!r} is not a port (1-65535)")
        port = int(port_text)
    if host != "*":
        try:
            host = str(ipaddress.ip_address(host))
        except ValueError:
            raise ValueError(f"{host!r} is not an IP address (or * for every interface)") from None
    return host, port


def parse_allow(text: str) -> str:
    """One ``--allow`` value: a CIDR (``192.168.1.0/24``; a bare address means that host) or
    ``samenet`` / ``samehost`` / ``all`` (pg_hba's keywords)."""
    text = (text or "").strip().lower()
    if text in ALLOW_KEYWORDS:
        return text
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        raise ValueError(f"{text!r} is not a CIDR (192.168.1.0/24) nor one of {', '.join(ALLOW_KEYWORDS)}") from None


def hba_lines(tcp: dict | None) -> list[str]:
    """pg_hba.conf for the cluster: trust on the socket (whose directory only the server user can enter)
    for the owner only, passwords for readers everywhere, and over TCP readers only, to their database.
    Any other role (one made by hand with LOGIN, say) is refused on the socket too: the owner's trust is
    not lent to whoever can name a role."""
    lines = ["# written by gridwatch (app/pgcluster.py); `gridwatch db start --listen/--no-listen` rewrites it",
             "# TYPE  DATABASE  USER  ADDRESS  METHOD",
             f"local   all  {SUPERUSER}  trust",
             # the owner may stream this cluster to a standby (``Cluster.standby_of``), on the socket only
             f"local   replication  {SUPERUSER}  trust",
             f"local   all  +{READER_GROUP}  scram-sha-256",
             "local   all  all  reject"]
    for allow in (tcp or {}).get("allow", []):
        lines.append(f"host    {READER_DATABASE}  +{READER_GROUP}  {allow}  scram-sha-256")
    lines.append("# no other host line: over TCP nobody but a reader is let in, the owner included")
    return lines


class ClusterError(RuntimeError):
    """The embedded cluster cannot be created or started; the message says what to do."""


def find_bindir() -> Path:
    """The newest PostgreSQL server bindir on this machine (``/usr/lib/postgresql/N/bin``)."""
    env = os.environ.get("GRIDWATCH_PG_BINDIR")
    candidates = [env] if env else sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                                          key=lambda p: int(Path(p).parent.name), reverse=True)
    for cand in candidates:
        if cand and (Path(cand) / "initdb").exists():
            return Path(cand)
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise ClusterError("PostgreSQL server binaries not found: install them with "
                       "`apt-get install postgresql-15 postgresql-15-postgis-3` (make demo does this)")


def _can_reach(user: str, path: Path) -> bool:
    """Whether ``user`` can traverse every ancestor of ``path`` (so it can use a directory we give it)."""
    probe = path.parent
    while not probe.exists():
        probe = probe.parent
    r = subprocess.run(["runuser", "-u", user, "--", "test", "-x", str(probe)], capture_output=True)
    return r.returncode == 0


class Cluster:
    """A PostgreSQL cluster under ``root`` (``pgdata/``, ``run/`` socket dir, ``postgres.log``).

    Parameters
    ----------
    root
        Directory of the cluster. When running as root and the server user cannot reach it, the
        cluster lives in a directory under ``/var/tmp`` instead, named after ``root``.
    fast
        Turn off fsync and friends: for throw-away test clusters only.
    """

    def __init__(self, root: str | os.PathLike, *, fast: bool = False, server_user: str = "postgres"):
        self.requested_root = Path(root).resolve()
        self.fast = fast
        self.server_user = server_user if os.geteuid() == 0 else None
        self.root = self.requested_root
        if self.server_user:
            try:
                pwd.getpwnam(self.server_user)
            except KeyError:
                raise ClusterError(f"running as root needs the unprivileged user {self.server_user!r} "
                                   "to run PostgreSQL; create it (`adduser --system postgres`)") from None
            if not _can_reach(self.server_user, self.requested_root):
                digest = hashlib.sha1(str(self.requested_root).encode()).hexdigest()[:10]
                self.root = Path(tempfile.gettempdir().replace("/tmp", "/var/tmp")) / f"gridwatch-pg-{digest}"
        self.datadir = self.root / "pgdata"
        self.sockdir = self.root / "run"
        self.logfile = self.root / "postgres.log"
        self.tcp_file = self.root / "tcp.json"
        self._bindir: Path | None = None

    @property
    def bindir(self) -> Path:
        if self._bindir is None:
            self._bindir = find_bindir()
        return self._bindir

    # -- running commands -------------------------------------------------------------
    def _run(self, args: list[str], *, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.server_user:
            cmd = ["runuser", "-u", self.server_user, "--", *cmd]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if check and r.returncode != 0:
            log_tail = ""
            if self.logfile.exists():
                log_tail = "\n".join(self.logfile.read_text(errors="replace").splitlines()[-15:])
            raise ClusterError(f"{args[0]} failed ({r.returncode}): {r.stderr.strip() or r.stdout.strip()}"
                               + (f"\n--- {self.logfile} ---\n{log_tail}" if log_tail else ""))
        return r

    def _own(self, path: Path) -> None:
        if self.server_user:
            pw = pwd.getpwnam(self.server_user)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def _make_dirs(self) -> None:
        """The cluster's directory and socket directory, for the server user only."""
        for d in (self.root, self.sockdir):
            d.mkdir(parents=True, exist_ok=True)
            os.chmod(d, 0o700)
            self._own(d)

    # -- lifecycle --------------------------------------------------------------------
    @property
    def initialised(self) -> bool:
        return (self.datadir / "PG_VERSION").exists()

    def init(self) -> bool:
        """Create the cluster if it does not exist. Returns True when it was created now."""
        if self.initialised:
            return False
        self._make_dirs()
        self._run(["initdb", "-D", str(self.datadir), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8",
                   "--locale=C.UTF-8", "--no-instructions"])
        conf = ["listen_addresses = ''", f"unix_socket_directories = '{self.sockdir}'",
                "max_connections = 60", "shared_buffers = 128MB", "timezone = 'UTC'"]
        if self.fast:
            conf += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        with open(self.datadir / "postgresql.auto.conf", "a") as fh:
            fh.write("\n".join(conf) + "\n")
        return True

    # -- TCP (opt-in) ------------------------------------------------------------------
    @property
    def tcp(self) -> dict | None:
        """The persisted TCP setting ``{"address", "port", "allow": [...]}``, or None (socket only)."""
        try:
            return json.loads(self.tcp_file.read_text())
        except FileNotFoundError:
            return None

    @property
    def port(self) -> int:
        return (self.tcp or {}).get("port", DEFAULT_PORT)

    def configure_tcp(self, address: str | None, port: int = DEFAULT_PORT, allow: list[str] | tuple = ()) -> bool:
        """Persist TCP on ``address:port`` for readers from ``allow`` (pg_hba addresses), or turn TCP off
        (``address=None``). Applied at the next start; returns True when the setting changed."""
        before = self.tcp
        after = None if address is None else {"address": address, "port": int(port), "allow": list(allow)}
        if after == before:
            return False
        self.root.mkdir(parents=True, exist_ok=True)
        if after is None:
            self.tcp_file.unlink(missing_ok=True)
        else:
            self.tcp_file.write_text(json.dumps(after, indent=1) + "\n")
        return True

    def _apply_config(self) -> None:
        """Write the TCP setting into postgresql.auto.conf and pg_hba.conf (before a start)."""
        tcp = self.tcp
        managed = {"listen_addresses": f"'{tcp['address'] if tcp else ''}'", "port": str(self.port),
                   "password_encryption": "'scram-sha-256'"}
        auto = self.datadir / "postgresql.auto.conf"
        kept = [line for line in auto.read_text().splitlines()
                if line.split("=", 1)[0].strip() not in managed]
        auto.write_text("\n".join(kept + [f"{k} = {v}" for k, v in managed.items()]) + "\n")
        (self.datadir / "pg_hba.conf").write_text("\n".join(hba_lines(tcp)) + "\n")

    def restart(self) -> None:
        """Restart (a changed listen address or port needs it)."""
        self._apply_config()
        self._run(["pg_ctl", "-D", str(self.datadir), "-l", str(self.logfile), "-m", "fast", "-w", "-t", "60",
                   "restart"])

    def running(self) -> bool:
        if not self.initialised:
            return False
        return self._run(["pg_ctl", "-D", str(self.datadir), "status"], check=False).returncode == 0

    def start(self) -> bool:
        """Initialise if needed and start. Returns True when it was started now."""
        self.init()
        if self.running():
            return False
        if not self.logfile.exists():
            self.logfile.touch()
            self._own(self.logfile)
        self._apply_config()
        self._run(["pg_ctl", "-D", str(self.datadir), "-l", str(self.logfile), "-w", "-t", "60", "start"])
        return True

    def standby_of(self, primary: "Cluster") -> None:
        """Make this (new, not initialised) cluster a hot standby of ``primary``, and start it: a base backup
        over the primary's socket that writes ``standby.signal`` and ``primary_conninfo``
        (``pg_basebackup -R``), then this cluster's own socket. Its URL is then ``database_read_url``
        (docs/scaling.md, step 2); both clusters run on this machine, as the same server user."""
        if self.initialised:
            raise ClusterError(f"{self.datadir} holds a cluster already: a standby starts from an empty directory "
                               "(after a failed attempt, destroy() this cluster and call again)")
        primary._apply_config()  # a primary started by an older gridwatch: its pg_hba gains the replication line
        primary._run(["pg_ctl", "-D", str(primary.datadir), "reload"])
        self._make_dirs()
        primary._run(["pg_basebackup", "-D", str(self.datadir), "-R", "-X", "stream", "-c", "fast",
                      "-h", str(primary.sockdir), "-p", str(primary.port), "-U", SUPERUSER])
        # the copy has the primary's settings: its own socket instead, and its own durability (a later line wins)
        durable = "off" if self.fast else "on"
        with open(self.datadir / "postgresql.auto.conf", "a") as fh:
            fh.write(f"unix_socket_directories = '{self.sockdir}'\nhot_standby = on\n"
                     + "".join(f"{k} = {durable}\n" for k in ("fsync", "synchronous_commit", "full_page_writes")))
        self.start()

    def stop(self) -> bool:
        if not self.running():
            return False
        self._run(["pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "stop"])
        return True

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    # -- databases --------------------------------------------------------------------
    def _port_query(self) -> str:
        return "" if self.port == DEFAULT_PORT else f"&port={self.port}"

    def url(self, database: str = "gridwatch") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@/{database}?host={self.sockdir}{self._port_query()}"

    def psql_url(self, database: str = "gridwatch") -> str:
        return f"postgresql://{SUPERUSER}@/{database}?host={self.sockdir}{self._port_query()}"

    def _conninfo(self, database: str) -> str:
        return f"host={self.sockdir} port={self.port} user={SUPERUSER} dbname={database}"

    def ensure_database(self, name: str = "gridwatch") -> bool:
        """Create database ``name`` with PostGIS if missing. Returns True when created now."""
        import psycopg

        with psycopg.connect(self._conninfo("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
        with psycopg.connect(self._conninfo(name), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        return not exists

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self._conninfo("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
