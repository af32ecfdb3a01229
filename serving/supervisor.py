"""`python app.py serve --workers N` (N >= 2): the writer and the web tier as child processes.

The writer starts first (it may backfill history); the web tier starts once the writer's socket
answers. A writer that dies is started again at once (no acknowledged record or command is lost:
each was committed before it was answered); gunicorn replaces its own workers. SIGTERM/SIGINT
stops both.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from settings import ROOT, Settings

log = logging.getLogger(__name__)


def _command(settings: Settings, *args: str) -> list[str]:
    return [sys.executable, str(ROOT / "app.py"), *args, "--city", str(settings.city), "--data-dir", str(settings.data_dir)]


def wait_for_writer(settings: Settings, proc: subprocess.Popen, timeout: float = 600.0) -> bool:
    """True once the writer's socket answers (its startup may simulate weeks of history)."""
    from datasources.remote import local_writer

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        store = local_writer(settings.data_dir)
        if store is not None:
            store.close()
            return True
        time.sleep(0.2)
    return False


def supervise(settings: Settings, workers: int, simulate: bool) -> int:
    writer_args = _command(settings, "writer") + ([] if simulate else ["--no-simulate"])
    web_args = _command(settings, "web", "--workers", str(workers), "--host", settings.host, "--port", str(settings.port))
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    writer = subprocess.Popen(writer_args)
    if not wait_for_writer(settings, writer):
        writer.terminate()
        print("error: the writer did not start (see above)", file=sys.stderr)
        return 1
    web = subprocess.Popen(web_args)
    print(f"CityBrain console on http://{settings.host}:{settings.port}  ({workers} web workers + writer, "
          f"pid {os.getpid()})", flush=True)
    restarts = 0
    try:
        while not stopping:
            time.sleep(0.2)
            if writer.poll() is not None and not stopping:
                restarts += 1
                log.error("writer exited with %s; starting it again (restart %d)", writer.returncode, restarts)
                time.sleep(min(5.0, 0.2 * restarts))
                writer = subprocess.Popen(writer_args)
            if web.poll() is not None and not stopping:
                log.error("web tier exited with %s; starting it again", web.returncode)
                time.sleep(0.5)
                web = subprocess.Popen(web_args)
    finally:
        for proc in (web, writer):  # the web tier first: no request should find the writer gone
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
    return 0


def restore(settings: Settings, source: Path) -> dict:
    """Bring a backup (datasources/writer_service.backup) back into the data folder; the writer
    must be stopped (its file lock is checked by opening the store). The current file is kept
    beside it as citybrain.duckdb.before-restore."""
    import json
    import shutil

    import duckdb

    from datasources.remote import local_writer
    from datasources.writer_service import BACKUP_FILE

    source = Path(source)
    manifest = json.loads((source / "manifest.json").read_text())
    if local_writer(settings.data_dir) is not None:
        raise ValueError("a writer is running on this data folder: stop `serve`/`writer` before restoring")
    target = settings.db_path
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        try:
            duckdb.connect(str(target)).close()  # fails while another process holds the file
        except duckdb.IOException as exc:
            raise ValueError(f"{target} is in use: {exc}") from None
        shutil.move(target, target.with_name(target.name + ".before-restore"))
        wal = target.with_name(target.name + ".wal")
        if wal.exists():
            shutil.move(wal, target.with_name(wal.name + ".before-restore"))
    shutil.copyfile(source / BACKUP_FILE, target)
    with duckdb.connect(str(target)) as con:
        version = con.execute("select coalesce(max(version), 0) from commits").fetchall()[0][0]
    if version != manifest["data_version"]:
        raise ValueError(f"restored file is at version {version}, the manifest says {manifest['data_version']}")
    return {**manifest, "restored_to": str(target)}
