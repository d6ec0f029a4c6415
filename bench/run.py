"""Command line of the benchmark: scenarios x connection counts x endpoints, as JSON lines.

Results go to stdout, one JSON object per line; progress and diagnostics go to stderr, so
`python -m bench ... > results.jsonl` keeps a clean record. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.client import Endpoint
from bench.loadgen import LoadSpec, run_load
from bench.scenarios import (
    SCENARIOS,
    SIGNING,
    Context,
    Options,
    Prepared,
    Skip,
    create_pool,
    prefill,
)
from bench.signrate import raw_sign_rate
from bench.stats import ratio
from bench.wire import Api, ApiError, Credentials, RequestBuilder

DEFAULT_ENDPOINT = "http://127.0.0.1:4599"  # idpool serve's default port
REPO_ROOT = Path(__file__).resolve().parent.parent
FIELD_ORDER = (
    "scenario",
    "endpoint",
    "connections",
    "requests",
    "errors",
    "rps",
    "p50_ms",
    "p99_ms",
)


def event_loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop when available (about twice the generator capacity of the default loop)."""
    if name in {"auto", "uvloop"}:
        try:
            import uvloop
        except ImportError:
            if name == "uvloop":
                raise
        else:
            return uvloop.new_event_loop
    return asyncio.new_event_loop


def emit(record: dict[str, Any]) -> None:
    ordered = {k: record[k] for k in FIELD_ORDER if k in record}
    ordered.update({k: v for k, v in record.items() if k not in ordered})
    print(json.dumps(ordered), flush=True)


def note(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _int_list(text: str) -> list[int]:
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(
            f"expected positive integers separated by commas: {text!r}"
        )
    return values


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    add = parser.add_argument
    add(
        "--endpoint",
        default=DEFAULT_ENDPOINT,
        help=f"server under test (default {DEFAULT_ENDPOINT})",
    )
    add(
        "--compare",
        metavar="URL",
        help="run every scenario against this endpoint too and print ratios",
    )
    add(
        "--scenarios",
        default="default",
        help="comma-separated names, 'default', 'all' or 'none' (references only); "
        f"known: {', '.join(SCENARIOS)}",
    )
    add(
        "--connections",
        type=_int_list,
        default=[16, 64],
        help="closed-loop connection counts (16,64)",
    )
    add("--duration", type=float, default=10.0, help="recorded seconds per run (10)")
    add("--warmup", type=float, default=2.0, help="unrecorded seconds before each run (2)")
    add("--requests", type=int, help="record this many requests instead of a duration")
    add(
        "--repeat",
        type=int,
        default=1,
        help="run each measurement N times and report the median run by rps (1)",
    )
    add("--timeout", type=float, default=30.0, help="per-request timeout in seconds (30)")
    add(
        "--setup-timeout", type=float, default=1800.0, help="bound of one scenario's setup (1800 s)"
    )
    add(
        "--users",
        type=int,
        default=1000,
        help="logins / developer users / identities cycled (1000)",
    )
    add("--list-pool-size", type=int, default=10_000, help="identities of list-identities-10k")
    add("--large-pool-size", type=int, default=1_000_000, help="identities of list-identities-1m")
    add("--with-1m", action="store_true", help="also run list-identities-1m (long prefill)")
    add("--list-pool-id", help="use this pre-filled pool for the list scenarios (see --prefill)")
    add("--max-prefill", type=int, help="skip list scenarios needing a larger prefill (endpoint)")
    add(
        "--compare-max-prefill",
        type=int,
        default=20_000,
        help="the same bound for the compare endpoint (20000; moto fills about 300/s)",
    )
    add(
        "--prefill",
        type=int,
        metavar="N",
        help="only create N guest identities in a pool, report, exit",
    )
    add("--pool-id", help="pool for --prefill (default: a new pool)")
    add("--prefill-connections", type=int, default=64, help="connections used by --prefill (64)")
    add("--raw-sign-rate", action="store_true", help="measure RS512 signatures/s in-process first")
    add("--sign-seconds", type=float, default=3.0, help="duration of the raw signing measurement")
    add(
        "--sign-processes",
        type=_int_list,
        default=[1],
        help="process counts for it (1; e.g. 1,2); the first is the reference of vs_raw_sign",
    )
    add("--trivial-uvicorn", action="store_true", help="measure a trivial uvicorn handler first")
    add("--null-server", action="store_true", help="measure the generator against a no-op server")
    add(
        "--server-cpu",
        default="0",
        help="CPU for the helper servers via taskset ('none' to not pin; default 0)",
    )
    add("--access-key", default="test")
    add("--secret-key", default="test")
    add("--region", default="us-east-1")
    add("--loop", choices=["auto", "uvloop", "asyncio"], default="auto")
    add("--label", help="free text copied into every result line (e.g. the storage backend)")
    return parser


def select_scenarios(spec: str, with_1m: bool) -> list[str]:
    if spec == "none":
        return []
    if spec in {"default", "all"}:
        names = [n for n, s in SCENARIOS.items() if s.default or (spec == "all" and n != "trivial")]
    else:
        names = [part.strip() for part in spec.split(",") if part.strip()]
        unknown = [n for n in names if n not in SCENARIOS]
        if unknown:
            raise SystemExit(
                f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(SCENARIOS)}"
            )
    if with_1m and "list-identities-1m" not in names:
        names.append("list-identities-1m")
    return names


# --- helper servers --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pin(cpu: str) -> list[str]:
    if cpu == "none" or not shutil.which("taskset") or (os.cpu_count() or 1) < 2:
        return []
    return ["taskset", "-c", cpu]


@contextmanager
def helper_server(kind: str, cpu: str) -> Iterator[str]:
    """Start `python -m bench.servers KIND` on a free loopback port; yield its URL."""
    port = _free_port()
    command = [*_pin(cpu), sys.executable, "-m", "bench.servers", kind, "--port", str(port)]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env)
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{kind} server exited with {process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{kind} server did not listen on port {port}") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


# --- the run ---------------------------------------------------------------------------------


class Runner:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.credentials = Credentials(args.access_key, args.secret_key, args.region)
        self.sign_rate: float | None = None
        self.trivial_rps: dict[int, float] = {}

    def spec(self, connections: int) -> LoadSpec:
        a = self.args
        return LoadSpec(
            connections=connections,
            duration_s=a.duration,
            warmup_s=a.warmup,
            requests=a.requests,
            timeout_s=a.timeout,
        )

    def options(self, *, compare: bool) -> Options:
        a = self.args
        return Options(
            users=a.users,
            list_pool_size=a.list_pool_size,
            large_pool_size=a.large_pool_size,
            list_pool_id=None if compare else a.list_pool_id,
            max_prefill=a.compare_max_prefill if compare else a.max_prefill,
        )

    def base(self, record: dict[str, Any]) -> dict[str, Any]:
        if self.args.label:
            record["label"] = self.args.label
        return record

    async def measure(
        self, name: str, url: str, prepared: Prepared, connections: int
    ) -> dict[str, Any]:
        endpoint = Endpoint.parse(url)
        builder = RequestBuilder(endpoint, self.credentials)
        runs = [
            await run_load(endpoint, builder, prepared.workload, self.spec(connections))
            for _ in range(self.args.repeat)
        ]
        summary = sorted(runs, key=lambda run: float(run["rps"]))[len(runs) // 2]
        if len(runs) > 1:
            summary["rps_runs"] = [run["rps"] for run in runs]
        record = {
            "scenario": name,
            "endpoint": url,
            "connections": connections,
            **summary,
            **prepared.info,
        }
        if name in SIGNING and self.sign_rate:
            record["vs_raw_sign"] = ratio(summary["rps"], self.sign_rate)
        if connections in self.trivial_rps and name != "trivial-uvicorn":
            record["vs_trivial"] = ratio(summary["rps"], self.trivial_rps[connections])
        emit(self.base(record))
        return record

    async def reference_server(self, kind: str, name: str) -> None:
        try:
            with helper_server(kind, self.args.server_cpu) as url:
                ctx = Context(Api(Endpoint.parse(url), self.credentials), Options())
                prepared = await SCENARIOS["trivial"].setup(ctx)
                ctx.api.close()
                for connections in self.args.connections:
                    record = await self.measure(name, url, prepared, connections)
                    if kind == "trivial":
                        self.trivial_rps[connections] = record["rps"]
        except RuntimeError as exc:
            emit(self.base({"scenario": name, "skipped": str(exc)}))

    async def prepare(self, name: str, ctx: Context, url: str) -> Prepared | None:
        started = time.perf_counter()
        note(f"setting up {name} on {url}")
        try:
            async with asyncio.timeout(self.args.setup_timeout):
                prepared = await SCENARIOS[name].setup(ctx)
        except (Skip, ApiError) as exc:
            emit(self.base({"scenario": name, "endpoint": url, "skipped": str(exc)}))
            return None
        except TimeoutError:
            reason = f"setup took longer than --setup-timeout {self.args.setup_timeout:g} s"
            emit(self.base({"scenario": name, "endpoint": url, "skipped": reason}))
            return None
        prepared.info["setup_s"] = round(time.perf_counter() - started, 3)
        return prepared

    async def scenarios(self, names: Sequence[str]) -> None:
        a = self.args
        targets = [(a.endpoint, False)] + ([(a.compare, True)] if a.compare else [])
        contexts = {
            url: Context(
                Api(Endpoint.parse(url), self.credentials), self.options(compare=is_compare)
            )
            for url, is_compare in targets
        }
        try:
            for name in names:
                prepared = {url: await self.prepare(name, contexts[url], url) for url, _ in targets}
                for connections in a.connections:
                    results = {}
                    for url, _ in targets:
                        ready = prepared[url]
                        if ready is not None:
                            results[url] = await self.measure(name, url, ready, connections)
                    if a.compare and len(results) == 2:
                        mine, theirs = results[a.endpoint], results[a.compare]
                        emit(
                            self.base(
                                {
                                    "scenario": name,
                                    "connections": connections,
                                    "endpoint": a.endpoint,
                                    "compare": a.compare,
                                    "ratio": ratio(mine["rps"], theirs["rps"]),
                                    "p99_speedup": ratio(theirs.get("p99_ms"), mine.get("p99_ms")),
                                }
                            )
                        )
        finally:
            for ctx in contexts.values():
                ctx.api.close()

    async def prefill_only(self) -> None:
        a = self.args
        api = Api(Endpoint.parse(a.endpoint), self.credentials, connections=a.prefill_connections)
        try:
            pool_id = a.pool_id or await create_pool(api, "prefill")
            result = await prefill(api, pool_id, a.prefill)
        except ApiError as exc:
            emit(self.base({"scenario": "prefill", "endpoint": a.endpoint, "skipped": str(exc)}))
            return
        finally:
            api.close()
        emit(
            self.base(
                {
                    "scenario": "prefill",
                    "endpoint": a.endpoint,
                    "connections": a.prefill_connections,
                    **result,
                }
            )
        )

    async def main(self) -> None:
        a = self.args
        if a.prefill:
            await self.prefill_only()
            return
        if a.raw_sign_rate:
            for processes in a.sign_processes:
                record = raw_sign_rate(a.sign_seconds, processes)
                # The first process count listed is the reference of `vs_raw_sign`.
                if self.sign_rate is None:
                    self.sign_rate = record["signs_per_s"]
                emit(self.base(record))
        if a.null_server:
            await self.reference_server("null", "generator-capacity")
        if a.trivial_uvicorn:
            await self.reference_server("trivial", "trivial-uvicorn")
        await self.scenarios(select_scenarios(a.scenarios, a.with_1m))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for url in filter(None, [args.endpoint, args.compare]):
        try:
            endpoint = Endpoint.parse(url)
        except ValueError as exc:
            raise SystemExit(str(exc)) from exc
        if not _is_loopback(endpoint.host):
            raise SystemExit(f"{url}: the benchmark only loads loopback endpoints")
    with asyncio.Runner(loop_factory=event_loop_factory(args.loop)) as runner:
        try:
            runner.run(Runner(args).main())
        except KeyboardInterrupt:
            return 130
    return 0
