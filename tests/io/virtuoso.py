"""Start OpenLink Virtuoso (Debian's ``virtuoso-opensource``) on 127.0.0.1 for tests and benchmarks.

A fresh database in a temporary folder, free ports, ``dba``/``dba`` (a new database's
default), stopped at the end. Endpoints as Virtuoso names them:

* ``/sparql``: SPARQL query (anonymous, read-only);
* ``/sparql-auth``: SPARQL query and 1.1 Update, HTTP Digest authentication;
* ``/sparql-graph-crud-auth``: the Graph Store Protocol, HTTP Digest authentication.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

USER, PASSWORD = "dba", "dba"

INI = """\
[Database]
DatabaseFile = {d}/virtuoso.db
ErrorLogFile = {d}/virtuoso.log
LockFile = {d}/virtuoso.lck
TransactionFile = {d}/virtuoso.trx
xa_persistent_file = {d}/virtuoso.pxa
ErrorLogLevel = 7
FileExtend = 200
MaxCheckpointRemap = 2000
Striping = 0
TempStorage = TempDatabase

[TempDatabase]
DatabaseFile = {d}/virtuoso-temp.db
TransactionFile = {d}/virtuoso-temp.trx
MaxCheckpointRemap = 2000
Striping = 0

[Parameters]
ServerPort = 127.0.0.1:{sql}
DisableUnixSocket = 1
DisableTcpSocket = 0
MaxClientConnections = 10
CheckpointInterval = 60
CaseMode = 2
DirsAllowed = ., {d}
NumberOfBuffers = 20000
MaxDirtyBuffers = 15000
MaxQueryMem = 1G
ThreadsPerQuery = 2
MaxSortedTopRows = {max_sorted}

[HTTPServer]
ServerPort = 127.0.0.1:{http}
ServerRoot = {d}
MaxClientConnections = 10
ServerThreads = 10
Charset = UTF-8
EnabledGzipContent = 0

[SPARQL]
ResultSetMaxRows = {max_rows}
MaxQueryCostEstimationTime = 400
MaxQueryExecutionTime = 300
"""


def virtuoso_binary() -> str | None:
    """The Virtuoso server executable, or None when the package is not installed."""
    return shutil.which("virtuoso-t")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Virtuoso:
    base: str
    proc: subprocess.Popen
    folder: Path

    @property
    def sparql(self) -> str:
        return self.base + "/sparql"

    @property
    def update(self) -> str:
        return self.base + "/sparql-auth"

    @property
    def gsp(self) -> str:
        return self.base + "/sparql-graph-crud-auth"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)


def start_virtuoso(folder: Path, *, deadline_s: float = 90.0, max_rows: int = 10_000,
                   max_sorted: int = 10_000_000) -> Virtuoso:
    """Virtuoso on free loopback ports with a new database in ``folder``; up within ``deadline_s``.

    ``max_rows`` is ``ResultSetMaxRows``: Virtuoso silently cuts every answer to it.
    ``max_sorted`` is ``MaxSortedTopRows`` (Virtuoso's default, 10,000, refuses any
    ``ORDER BY`` page whose LIMIT + OFFSET is larger: raise it to read big graphs).
    """
    binary = virtuoso_binary()
    if binary is None:
        raise FileNotFoundError("virtuoso-t is not installed (apt-get install virtuoso-opensource)")
    folder.mkdir(parents=True, exist_ok=True)
    http, sql = free_port(), free_port()
    ini = folder / "virtuoso.ini"
    ini.write_text(INI.format(d=folder, sql=sql, http=http, max_rows=max_rows, max_sorted=max_sorted))
    log = open(folder / "stdout.log", "wb")
    proc = subprocess.Popen([binary, "+foreground", "+configfile", str(ini)], cwd=folder, stdout=log,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{http}"
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"virtuoso-t exited with {proc.returncode}: "
                               f"{(folder / 'stdout.log').read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(base + "/sparql?query=ASK%7B%7D", timeout=2) as r:
                if r.status == 200:
                    return Virtuoso(base, proc, folder)
        except OSError:
            time.sleep(0.25)
    proc.kill()
    proc.wait(timeout=30)
    raise RuntimeError(f"Virtuoso did not answer within {deadline_s:g} s")
