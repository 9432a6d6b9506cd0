"""`--workers N`: the supervisor that owns the signals and speaks for the whole gateway while it stops.

uvicorn's own supervisor sends each worker SIGTERM on the first Ctrl-C and then waits for them without
a deadline or a word, so with several workers a stream ran on silently (or was cut without an error
event by the next signal). Here the workers are uvicorn's (`uvicorn.supervisors.multiprocess.Process`:
spawned on the shared socket, health-checked over a pipe), each serving through gateway/serve.py's
GatewayServer in its supervised mode; the supervisor does what one worker does alone:

- first SIGINT/SIGTERM: every worker stops accepting and drains; one line with the whole gateway's
  count, "draining N requests, up to G s (Ctrl-C again to stop now)";
- at `gateway.shutdown-grace-seconds`, or at a second signal: SIGUSR1 to every worker, which stops
  its requests with an error their clients can read (gateway/drain.py) and records them;
- a third signal: the workers are killed.

Each worker publishes how many requests it has in flight in a shared integer (gateway/drain.py keeps
it current), so the counts in those lines are the gateway's, not one worker's. Usage reaches the
shared store from each worker's own shutdown (gateway/background.py) before the worker exits.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import time
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Process

from gateway.logging_setup import WORKER_ENV
from gateway.serve import GatewayServer, requests_text

log = logging.getLogger("subgate")

# SIGHUP too: uvicorn's supervisor restarted the workers on it; left at its default it would end the
# supervisor alone and leave the workers serving without one
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Worker(Process):
    """One uvicorn worker process serving through a supervised GatewayServer."""

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket], grace: float, index: int) -> None:
        self.grace = grace
        self.index = index
        self.in_flight: Any = multiprocessing.get_context("spawn").Value("i", 0, lock=False)
        super().__init__(config, sockets)

    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            self._server = GatewayServer(config=self.config, grace=self.grace, in_flight=self.in_flight)
        return self._server

    def target(self, sockets: list[socket.socket] | None = None) -> None:  # runs in the worker
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C while loading: the supervisor decides
        os.environ[WORKER_ENV] = str(self.index)  # gateway/logging_setup.py: shared state said once
        super().target(sockets)

    def send(self, sig: int) -> None:
        pid = self.process.pid
        if pid is not None and self.process.exitcode is None:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def alive(self) -> bool:
        return self.process.is_alive()


class Supervisor:
    def __init__(self, config: uvicorn.Config, sock: socket.socket, workers: int, grace: float) -> None:
        self.config = config
        self.sockets = [sock]
        self.count = workers
        self.grace = grace
        self.workers: list[Worker] = []
        self.pending: list[int] = []
        self.signals = 0
        self.status = 0

    def _queue(self, sig: int, frame: FrameType | None) -> None:
        self.pending.append(sig)

    def in_flight(self) -> int:
        return sum(max(0, int(w.in_flight.value)) for w in self.workers if w.alive())

    def run(self) -> int:
        originals = {sig: signal.signal(sig, self._queue) for sig in STOP_SIGNALS}
        try:
            for _ in range(self.count):
                self._start_worker()
            while not self.signals and not self.status:
                time.sleep(0.25)
                self._take_signals()
                if not self.signals:
                    self._keep_alive()
            self._stop()
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)
        return self.status

    def _start_worker(self, index: int | None = None) -> None:
        worker = Worker(self.config, self.sockets, self.grace, len(self.workers) if index is None else index)
        worker.start()
        if index is None:
            self.workers.append(worker)
        else:
            self.workers[index] = worker

    def _keep_alive(self) -> None:
        for index, worker in enumerate(self.workers):
            if worker.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            worker.kill()  # hung or gone
            worker.join()
            if worker.exitcode == STARTUP_FAILURE:  # broken config or app: every new worker would fail alike
                log.error("a worker failed to start; stopping")
                self.status = STARTUP_FAILURE
                return
            log.warning("worker %s ended (exit code %s); starting another", worker.pid, worker.exitcode)
            self._start_worker(index)

    def _take_signals(self) -> None:
        while self.pending:
            self.pending.pop(0)
            self.signals += 1
            if self.signals == 1:
                self._drain()
            elif self.signals == 2:
                self._stop_requests("second signal")
            elif self.signals == 3:
                log.info("third signal: quitting now")
                for worker in self.workers:
                    worker.kill()

    def _drain(self) -> None:
        in_flight = self.in_flight()
        if in_flight:
            log.info("draining %s, up to %g s (Ctrl-C again to stop now)", requests_text(in_flight), self.grace)
        else:
            log.info("stopping: no request in flight")
        for worker in self.workers:
            worker.send(signal.SIGTERM)

    def _stop_requests(self, why: str) -> None:
        in_flight = self.in_flight()
        if in_flight:
            log.info("%s: stopping %s now, each with an error its client can read", why, requests_text(in_flight))
        for worker in self.workers:
            worker.send(signal.SIGUSR1)

    def _stop(self) -> None:
        if not self.signals:  # a worker failed to start
            self.signals = 1
            for worker in self.workers:
                worker.send(signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        while any(w.alive() for w in self.workers):
            time.sleep(0.1)
            self._take_signals()
            if deadline is not None and time.monotonic() >= deadline and self.signals == 1:
                deadline = None
                self._stop_requests("the grace period is over")
        for worker in self.workers:
            worker.process.join()
