"""Start a data-parallel MXNet script on the distributed KVStore (``dist_sync``).

::

    python -m torch2gluon.launch -n 2 script.py ARGS...
    python -m torch2gluon.launch -n 4 -s 2 --scheduler 10.0.0.1:9091 --local-workers 2 --local-servers 1 script.py
    python -m torch2gluon.launch -n 4 -s 2 --scheduler 10.0.0.1:9091 --local-workers 2 --local-servers 1 --no-scheduler script.py

MXNet's parameter-server KVStore has three roles, chosen by environment
variables that every process reads when it imports ``mxnet``:

``DMLC_ROLE``
    ``scheduler`` (one in all: hands out ranks and addresses), ``server``
    (holds the values and sums what the workers push) or ``worker`` (runs the
    script).
``DMLC_PS_ROOT_URI``, ``DMLC_PS_ROOT_PORT``
    where the scheduler listens (every process of every host).
``DMLC_NUM_WORKER``, ``DMLC_NUM_SERVER``
    how many workers and servers there are in all.
``DMLC_NODE_HOST``
    the address this host's servers and workers are reached at by the
    others (set to ``127.0.0.1`` when everything runs on this host).

In the scheduler and server roles, ``import mxnet`` runs the service and
exits when the workers are done. This launcher starts the scheduler (unless
``--no-scheduler``: it runs on another host), ``--local-servers`` servers and
``--local-workers`` workers (both default to all of them: one host), with
those variables set; every worker also gets ``WORLD_SIZE``, ``LOCAL_RANK``
(0, 1, ... on this host) and ``LOCAL_WORLD_SIZE``, as torchrun sets them
(``LOCAL_RANK`` to choose a device by).
The *rank* of a worker is handed out by the scheduler, not by launch order:
a script reads it from ``kv.rank``.

The workers' output is passed through as it is (not prefixed). When a worker
fails, every other process is stopped and the launcher exits with that
worker's status; otherwise it waits for all of them and exits 0. Ctrl-C and
SIGTERM stop everything. ``--timeout`` stops everything after that many
seconds (exit 124). No process outlives the launcher: each is started in a
session of its own and killed with everything it started.

MXNet's own ``tools/launch.py`` is not used: on Python 3.11 it crashes
(``Thread.isAlive``), leaves its scheduler behind, waits forever after a
worker fails, and joins arguments with spaces under a shell.

Only the standard library is imported here; mxnet is imported by the
processes it starts.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

__all__ = ["main", "launch", "free_port", "EXIT_TIMEOUT"]

EXIT_TIMEOUT = 124
#: seconds the scheduler and servers get to exit by themselves after the last worker
GRACE = 10.0
#: seconds a process gets between SIGTERM and SIGKILL
TERM_WAIT = 3.0


EPILOG = """\
every process reads, when it imports mxnet:
  DMLC_ROLE                             scheduler (one in all), server or worker
  DMLC_PS_ROOT_URI, DMLC_PS_ROOT_PORT   where the scheduler listens
  DMLC_NUM_WORKER, DMLC_NUM_SERVER      how many workers and servers in all
  DMLC_NODE_HOST                        this host's address for the others
workers also get WORLD_SIZE, LOCAL_RANK and LOCAL_WORLD_SIZE (as torchrun sets them).

several hosts: run the launcher on each with the same -n, -s and --scheduler ADDR:PORT
(an address of the scheduler's host), --local-workers/--local-servers for that host's
share and --node-host for its address; --no-scheduler on every host but the scheduler's.

exit status: the first failing worker's, 124 on --timeout, 0 when all workers succeed
"""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m torch2gluon.launch",
        description="Run a script as N data-parallel workers on MXNet's distributed KVStore "
        "(one scheduler, S servers, N workers; DMLC_* variables).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-n", "--num-workers", type=int, required=True, metavar="N", help="workers in all")
    p.add_argument("-s", "--num-servers", type=int, default=1, metavar="S", help="servers in all (default 1)")
    p.add_argument("--scheduler", metavar="HOST:PORT",
                   help="where the scheduler listens (default: 127.0.0.1 and a free port, started here)")
    p.add_argument("--no-scheduler", action="store_true",
                   help="do not start the scheduler here (it runs on the host --scheduler names)")
    p.add_argument("--local-workers", type=int, metavar="K", help="workers to start on this host (default N)")
    p.add_argument("--local-servers", type=int, metavar="K", help="servers to start on this host (default S)")
    p.add_argument("--node-host", metavar="ADDR",
                   help="DMLC_NODE_HOST: this host's address for the others (default 127.0.0.1 when the "
                   "scheduler is on loopback, else unset: ps-lite finds one)")
    p.add_argument("--python", default=sys.executable, help="the interpreter for every process (default: this one)")
    p.add_argument("--timeout", type=float, metavar="S", help="stop everything after S seconds (exit 124)")
    p.add_argument("-m", dest="module", action="store_true", help="run the script as a module (python -m SCRIPT)")
    p.add_argument("script", help="the worker script (or module, with -m)")
    p.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    return p


class _Process:
    def __init__(self, role: str, popen: "subprocess.Popen[bytes]") -> None:
        self.role = role
        self.popen = popen


def _start(role: str, cmd: Sequence[str], env: Dict[str, str], quiet: bool) -> _Process:
    out = subprocess.DEVNULL if quiet else None
    popen = subprocess.Popen(
        list(cmd), env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=None, start_new_session=True
    )
    return _Process(role, popen)


def _signal_group(proc: _Process, sig: int) -> None:
    try:
        os.killpg(proc.popen.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _stop(procs: Sequence[_Process]) -> None:
    """SIGTERM each process group still running, then SIGKILL what is left."""
    alive = [p for p in procs if p.popen.poll() is None]
    for p in alive:
        _signal_group(p, signal.SIGTERM)
    deadline = time.monotonic() + TERM_WAIT
    for p in alive:
        try:
            p.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for p in procs:
        # the group too: a worker's own children (DataLoader workers) may remain
        _signal_group(p, signal.SIGKILL)
        if p.popen.poll() is None:
            try:
                p.popen.kill()
            except ProcessLookupError:
                pass
            p.popen.wait()


def _parse_scheduler(text: Optional[str]) -> Tuple[str, Optional[int]]:
    if not text:
        return "127.0.0.1", None
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"--scheduler must be HOST:PORT, got {text!r}")
    return host, int(port)


def launch(
    script: str,
    args: Sequence[str] = (),
    *,
    num_workers: int,
    num_servers: int = 1,
    scheduler: Optional[str] = None,
    start_scheduler: bool = True,
    local_workers: Optional[int] = None,
    local_servers: Optional[int] = None,
    node_host: Optional[str] = None,
    python: str = sys.executable,
    module: bool = False,
    timeout: Optional[float] = None,
    env: Optional[Dict[str, str]] = None,
) -> int:
    """Start the scheduler, servers and workers; return the exit status (see the module doc)."""
    if num_workers < 1 or num_servers < 1:
        raise ValueError("there must be at least one worker and one server")
    host, port = _parse_scheduler(scheduler)
    if port is None:
        if not start_scheduler:
            raise ValueError("--no-scheduler needs --scheduler HOST:PORT")
        port = free_port(host)
    workers_here = num_workers if local_workers is None else local_workers
    servers_here = num_servers if local_servers is None else local_servers
    if not 0 <= workers_here <= num_workers or not 0 <= servers_here <= num_servers:
        raise ValueError("--local-workers/--local-servers must be between 0 and -n/-s")
    if node_host is None and host in ("127.0.0.1", "localhost"):
        node_host = "127.0.0.1"

    base = dict(os.environ if env is None else env)
    base.update(
        DMLC_PS_ROOT_URI=host,
        DMLC_PS_ROOT_PORT=str(port),
        DMLC_NUM_WORKER=str(num_workers),
        DMLC_NUM_SERVER=str(num_servers),
        WORLD_SIZE=str(num_workers),  # as torchrun sets it (the rank only the scheduler knows)
    )
    if node_host:
        base["DMLC_NODE_HOST"] = node_host
    base.setdefault("PYTHONUNBUFFERED", "1")
    service = [python, "-c", "import mxnet"]
    worker_cmd = [python, "-m", script, *args] if module else [python, script, *args]

    procs: List[_Process] = []
    workers: List[_Process] = []
    received: List[int] = []

    def on_signal(signum: int, frame: object) -> None:
        received.append(signum)

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    status = 0
    try:
        if start_scheduler:
            procs.append(_start("scheduler", service, {**base, "DMLC_ROLE": "scheduler"}, quiet=True))
        for _ in range(servers_here):
            procs.append(_start("server", service, {**base, "DMLC_ROLE": "server"}, quiet=True))
        for i in range(workers_here):
            w_env = {**base, "DMLC_ROLE": "worker", "LOCAL_RANK": str(i), "LOCAL_WORLD_SIZE": str(workers_here)}
            w = _start("worker", worker_cmd, w_env, quiet=False)
            procs.append(w)
            workers.append(w)
        deadline = None if timeout is None else time.monotonic() + timeout
        services_deadline: Optional[float] = None
        while True:
            if received:
                status = 128 + received[0]
                break
            if deadline is not None and time.monotonic() > deadline:
                print(f"torch2gluon.launch: timed out after {timeout:g}s; stopping all processes", file=sys.stderr)
                status = EXIT_TIMEOUT
                break
            codes = [w.popen.poll() for w in workers]
            failed = [c for c in codes if c not in (None, 0)]
            if failed:
                status = failed[0] if failed[0] > 0 else 128 - failed[0]
                print(f"torch2gluon.launch: a worker exited with status {failed[0]}; stopping the others",
                      file=sys.stderr)
                break
            broken = [p for p in procs if p.role != "worker" and p.popen.poll() not in (None, 0)]
            if broken and any(c is None for c in codes):
                code = broken[0].popen.returncode
                print(f"torch2gluon.launch: the {broken[0].role} exited with status {code}; stopping the workers",
                      file=sys.stderr)
                status = code if code > 0 else 128 - code
                break
            if all(c == 0 for c in codes):
                # the services end by themselves once every worker is done
                if services_deadline is None:
                    services_deadline = time.monotonic() + GRACE
                if all(p.popen.poll() is not None for p in procs) or time.monotonic() > services_deadline:
                    break
            time.sleep(0.05)
    finally:
        _stop(procs)
        for s, handler in old.items():
            signal.signal(s, handler)
    return status


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = _parser()
    opts = parser.parse_args(argv)
    args = list(opts.args)
    if args[:1] == ["--"]:
        args = args[1:]
    try:
        return launch(
            opts.script, args, num_workers=opts.num_workers, num_servers=opts.num_servers,
            scheduler=opts.scheduler, start_scheduler=not opts.no_scheduler,
            local_workers=opts.local_workers, local_servers=opts.local_servers,
            node_host=opts.node_host, python=opts.python, module=opts.module, timeout=opts.timeout,
        )
    except ValueError as e:
        parser.error(str(e))
        return 2  # not reached


if __name__ == "__main__":
    sys.exit(main())
