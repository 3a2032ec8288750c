"""Load and crash test of `fairtwin serve`: concurrent simulated raters, a SIGKILL mid-run.

Usage:
    python benchmarks/bench_serve_load.py [--raters 50] [--answers 20] [--kill-after 0.4]
                                          [--workdir runs/bench-serve] [--json OUT]

Loopback only, bounded: it samples a small run (4 training weeks), registers ``--raters``
raters, starts `fairtwin serve` as a subprocess, and runs one thread per rater that answers
``--answers`` pairs through the JSON API (GET /api/next, POST /api/answer), retrying the same
request when the server is unreachable. After ``--kill-after`` of all answers the server is
killed with SIGKILL and started again. At the end it checks in the database that every answer a
client saw acknowledged is there, exactly once, with its choice, and that every rater has
exactly ``--answers`` answers; it reports answers per second and the latency percentiles of the
acknowledged answers (a request that spanned the restart counts from its first attempt).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from fairtwin.elicit import PreferenceStore
from fairtwin.pipeline import ExperimentConfig, load_scenario, sample_stage
from fairtwin.runfolder import RunFolder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(run: Path, db: Path, port: int, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-c", "from fairtwin.cli import main; import sys; sys.exit(main())",
           "serve", "--run", str(run), "--db", str(db), "--port", str(port), "--select", "random"]
    proc = subprocess.Popen(cmd, stdout=open(log, "a"), stderr=subprocess.STDOUT)
    deadline = time.time() + 180  # a loaded machine can take long to import the app
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"the server did not start; see {log}")


def call(url: str, token: str, body: dict | None = None, timeout: float = 30.0) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if body is not None else "GET",
                                 headers={"Authorization": f"Bearer {token}",
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read())


def retrying(fn, stop: threading.Event):  # type: ignore[no-untyped-def]
    """Call until it answers. A server killed mid-response can also leave a bad status line or
    a cut-off body (http.client.HTTPException, a JSON ValueError), not only a refused or reset
    connection: the same request is retried (answers are idempotent by query id)."""
    while True:
        try:
            return fn()
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError,
                http.client.HTTPException, ValueError):
            if stop.is_set():
                raise
            time.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raters", type=int, default=50)
    ap.add_argument("--answers", type=int, default=20)
    ap.add_argument("--kill-after", type=float, default=0.4,
                    help="Share of all answers after which the server is SIGKILLed (0: never).")
    ap.add_argument("--workdir", type=Path, default=Path("runs/bench-serve"))
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.workdir.exists():
        shutil.rmtree(args.workdir)
    run, db, log = args.workdir / "run", args.workdir / "study.db", args.workdir / "server.log"
    run.mkdir(parents=True)
    config = ExperimentConfig().override(scenario={"n_train": 4}, n_jobs=2)
    folder = RunFolder(run)
    config.save(folder.config)
    sample_stage(config, load_scenario(config)).save(folder.samples)
    store = PreferenceStore(db)
    tokens = [store.add_rater(f"sim{k:03d}")[1] for k in range(args.raters)]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = {"proc": start_server(run, db, port, log)}
    total = args.raters * args.answers
    done = [0]
    lock = threading.Lock()
    stop = threading.Event()
    acked: list[tuple[int, str, int]] = []  # (query_id, choice, rater index)
    latencies: list[float] = []
    errors: list[str] = []

    def rater(k: int) -> None:
        rng = np.random.default_rng(k)
        try:
            for _ in range(args.answers):
                nxt = retrying(lambda: call(f"{base}/api/next", tokens[k]), stop)
                choice = str(rng.choice(["a", "b", "tie"]))
                body = {"query_id": nxt["query_id"], "choice": choice}
                t0 = time.perf_counter()
                res = retrying(lambda b=body: call(f"{base}/api/answer", tokens[k], b), stop)
                dt = time.perf_counter() - t0
                if res.get("outcome") not in ("recorded", "duplicate"):
                    errors.append(f"rater {k}: {res}")
                with lock:
                    acked.append((nxt["query_id"], choice, k))
                    latencies.append(dt)
                    done[0] += 1
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(f"rater {k}: {exc!r}")

    threads = [threading.Thread(target=rater, args=(k,)) for k in range(args.raters)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    killed_at = None
    if args.kill_after > 0:
        while done[0] < args.kill_after * total and any(t.is_alive() for t in threads):
            time.sleep(0.01)
        killed_at = done[0]
        os.kill(server["proc"].pid, signal.SIGKILL)
        server["proc"].wait()
        time.sleep(0.5)
        server["proc"] = start_server(run, db, port, log)
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    server["proc"].send_signal(signal.SIGTERM)
    server["proc"].wait(30)

    rows = store.answers()
    in_db = {(r.query_id, r.choice) for r in rows}
    per_rater = {}
    for r in rows:
        per_rater[r.rater] = per_rater.get(r.rater, 0) + 1
    missing = [a for a in acked if (a[0], a[1]) not in in_db]
    query_ids = [r.query_id for r in rows]
    checks = {
        "answers_in_db": len(rows),
        "expected": total,
        "acknowledged": len(acked),
        "acknowledged_missing_from_db": len(missing),
        "duplicate_query_ids": len(query_ids) - len(set(query_ids)),
        "raters_with_wrong_count": sum(1 for k in range(args.raters)
                                       if per_rater.get(f"sim{k:03d}", 0) != args.answers),
        "client_errors": len(errors),
    }
    ok = (len(rows) == total == len(acked) and not missing and not errors
          and checks["duplicate_query_ids"] == 0 and checks["raters_with_wrong_count"] == 0)
    lat = np.array(latencies) * 1000
    report = {
        "raters": args.raters, "answers_each": args.answers, "wall_s": wall,
        "answers_per_s": len(acked) / wall,
        "latency_ms": {"p50": float(np.percentile(lat, 50)), "p95": float(np.percentile(lat, 95)),
                       "max": float(lat.max())},
        "sigkill_after_answers": killed_at, "checks": checks, "ok": ok,
    }
    print(f"# fairtwin serve under load: {args.raters} raters × {args.answers} answers, "
          f"SIGKILL after {killed_at} answers" if killed_at is not None else "no kill")
    print(f"{len(acked)} answers in {wall:.1f} s: {report['answers_per_s']:.0f} answers/s; "
          f"latency p50 {report['latency_ms']['p50']:.0f} ms, p95 {report['latency_ms']['p95']:.0f} ms, "
          f"max {report['latency_ms']['max']:.0f} ms")
    print("database checks: " + ", ".join(f"{k} {v}" for k, v in checks.items()))
    print("every acknowledged answer is in the database exactly once: " + ("yes" if ok else "NO"))
    for e in errors[:5]:
        print("  " + e)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
