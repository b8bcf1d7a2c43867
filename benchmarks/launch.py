"""Server CPU per complete LTI launch (login + launch), against a bare-Flask floor in the same run.

Run from a clean checkout:
    .venv/bin/python benchmarks/launch.py [--database sqlite|postgresql|both]
                                          [--launches N] [--concurrency C] [--json] [--check]

For each database it prepares a fresh, migrated database, tool keys and the demo platform's
registration, serves the tool under gunicorn (2 sync workers, LTI_TOOL_DEMO=1), and drives
complete launches over HTTP from client threads: POST /lti/login -> 302 (state, nonce), an
id_token signed *in the client* with the demo platform's key, POST /lti/launch -> 303.

The figure that matters is the server's CPU time per launch: utime+stime of the gunicorn master
and its workers (/proc/<pid>/stat) before and after the measured launches, divided by their
number. Wall-clock throughput and latency are printed too, but on a small shared machine the
client threads compete with the server for the same cores, so they are indicative only. The
same measurement of a bare Flask app (one GET + one POST per "launch", also gunicorn with
2 workers) gives the floor of the stack; the ratio tool/floor is what compares across machines.
"""
from __future__ import annotations

import argparse
import itertools
import json
import logging
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import jwt  # noqa: E402
import requests  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

POSTGRES_URL = os.environ.get("LTI_TOOL_TEST_DATABASE_URL",
                              "postgresql://postgres@127.0.0.1:5432/test")
TARGET_CPU_MS = 1.5  # server CPU per complete launch, from the issue
CLK_TCK = os.sysconf("SC_CLK_TCK")
SECRET_KEY = "benchmark-" + secrets.token_hex(24)
TOOL_APP = "lti_tool:create_app()"
LAUNCH_USERS = ("demo-learner-1", "demo-learner-2", "demo-instructor-1")

BARE_APP = textwrap.dedent('''
    """The floor: the same stack (gunicorn sync workers + Flask) doing nothing but answer."""
    from flask import Flask, redirect, request

    app = Flask(__name__)


    @app.get("/bare/login")
    def login():
        return redirect("http://127.0.0.1/auth?state=s&nonce=n", code=302)


    @app.post("/bare/launch")
    def launch():
        return redirect("/?launch=" + request.form.get("state", ""), code=303)
''')


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- server CPU from /proc -----------------------------------------------------------------
def _stat_fields(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rindex(")") + 2:].split()  # after "pid (comm) ": index 0 is field 3 (state)


def _ppid(pid: int) -> int | None:
    try:
        return int(_stat_fields(pid)[1])
    except (OSError, IndexError, ValueError):
        return None


def _children(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children += [int(c) for c in (task / "children").read_text().split()]
        except FileNotFoundError:  # a kernel without CONFIG_PROC_CHILDREN: scan for the ppid
            return [int(p.name) for p in Path("/proc").iterdir()
                    if p.name.isdigit() and _ppid(int(p.name)) == pid]
    return children


def _schedstat_ns(pid: int) -> int:
    """On-CPU nanoseconds of every thread of pid: precise, a cross-check of the tick counts."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            pass
    return total


@dataclass(frozen=True)
class CpuSample:
    ticks: int  # utime+stime of master and live workers, plus the master's reaped children
    sched_ns: int
    workers: tuple[int, ...]


def server_cpu(master: int) -> CpuSample:
    # fields 14-17: utime, stime, cutime, cstime (cutime/cstime: workers that died and were reaped)
    ticks = sum(int(v) for v in _stat_fields(master)[11:15])
    sched = _schedstat_ns(master)
    workers = tuple(sorted(_children(master)))
    for pid in workers:
        try:
            ticks += sum(int(v) for v in _stat_fields(pid)[11:13])
            sched += _schedstat_ns(pid)
        except OSError:
            pass
    return CpuSample(ticks, sched, workers)


# --- gunicorn ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _has_control_socket() -> bool:
    from gunicorn.config import Config

    return "control_socket_disable" in Config().settings


def server_env(extra: dict[str, str]) -> dict[str, str]:
    """This environment without any LTI_TOOL_* of the caller's, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LTI_TOOL_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


class Gunicorn:
    """gunicorn with 2 sync workers in a subprocess; stopped by SIGTERM (graceful), else SIGKILL."""

    def __init__(self, app: str, port: int, env: dict[str, str], cwd: Path, log_path: Path,
                 workers: int = 2):
        self.base_url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self._log = open(log_path, "wb")
        command = [sys.executable, "-m", "gunicorn", "--workers", str(workers),
                   "--bind", f"127.0.0.1:{port}"]
        if _has_control_socket():
            # gunicorn >= 24 listens on ~/.gunicorn/gunicorn.ctl: one per user, servers collide.
            command.append("--no-control-socket")
        self.process = subprocess.Popen(command + [app], cwd=str(cwd), env=env,
                                        stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self, path: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n"
                                   + self.log_tail())
            try:
                response = requests.get(self.base_url + path, timeout=2, allow_redirects=False)
                if response.status_code < 400 and len(_children(self.process.pid)) >= 2:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn not ready on {self.base_url}{path} after {timeout:.0f} s:\n"
                           + self.log_tail())

    def log_tail(self, lines: int = 30) -> str:
        self._log.flush()
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


# --- databases -----------------------------------------------------------------------------
def postgres_reachable() -> bool:
    from sqlalchemy import create_engine

    from lti_tool.db.session import normalise_url

    try:
        engine = create_engine(normalise_url(POSTGRES_URL), connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False


def fresh_database(kind: str, workdir: Path):
    """(url, drop) of an empty database of this run's own."""
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'launch-benchmark.sqlite3'}", lambda: None
    from sqlalchemy import create_engine, text

    from lti_tool.db.session import normalise_url

    name = f"lti_tool_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(normalise_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return POSTGRES_URL.rsplit("/", 1)[0] + "/" + name, drop


class JwksServer:
    """The demo platform's JWKS, served from this process (see prepare_tool)."""

    def __init__(self, document: dict):
        body = json.dumps(document).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/jwks"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def prepare_tool(database_url: str, keys_dir: Path, base_url: str):
    """Migrate, create the tool's key and the demo platform's, register the demo platform.

    The registration's JWKS URL is pointed at a JwksServer of this process instead of the
    tool's own /demo/jwks: with two sync workers a worker fetching the keys from its own
    gunicorn needs the other worker free, and on SQLite the other worker may be waiting for
    the write lock the fetching worker holds (it has spent the login state already), so the
    first concurrent launches could stall for the HTTP timeout. Each worker fetches once, in
    the warm-up.
    """
    from lti_tool import create_app
    from lti_tool.config import Settings
    from lti_tool.db.migrate import upgrade
    from lti_tool.db.session import get_session
    from lti_tool.demo import seed
    from lti_tool.extensions import demo_keys_dir
    from lti_tool.lti.tool_keys import KeyRing
    from lti_tool.services.platforms import get_registration

    upgrade(database_url)
    settings = Settings.from_env({}, DATABASE_URL=database_url, KEYS_DIR=str(keys_dir), DEMO="1",
                                 BASE_URL=base_url, SECRET_KEY=SECRET_KEY)
    now = datetime.now(timezone.utc)
    platform_keys = KeyRing(demo_keys_dir(settings))
    platform_key = platform_keys.ensure_key(now)
    jwks = JwksServer(platform_keys.jwks(now))
    app = create_app(settings)
    try:
        app.extensions["lti_services"].tool_keys.ensure_key(now)
        with app.app_context():
            registration_id = seed.ensure_demo_registration(get_session(), settings, now)
            get_registration(get_session(), registration_id).key_set_url = jwks.url
            get_session().commit()
    except BaseException:
        jwks.stop()
        raise
    finally:
        app.extensions["db_engine"].dispose()
    return settings, platform_key, jwks


# --- the clients ---------------------------------------------------------------------------
@dataclass
class RunResult:
    count: int
    errors: int
    seconds: float
    latencies_ms: list[float] = field(repr=False)
    first_error: str | None = None

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the successful calls' latencies."""
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def drive(one, count: int, concurrency: int) -> RunResult:
    """`count` calls of one(session) -> error text or None, from `concurrency` threads.

    Each thread has its own requests.Session (gunicorn's sync workers close the connection
    after every response, so this mostly carries the cookies)."""
    counter = itertools.count()
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []

    def worker() -> None:
        session = requests.Session()
        mine: list[float] = []
        while next(counter) < count:
            started = time.perf_counter()
            try:
                error = one(session)
            except Exception as exc:  # noqa: BLE001 - counted and reported
                error = f"{type(exc).__name__}: {exc}"
            if error is None:
                mine.append((time.perf_counter() - started) * 1000)
            else:
                with lock:
                    errors.append(error)
        session.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    return RunResult(count, len(errors), seconds, latencies, errors[0] if errors else None)


class LaunchClient:
    """One complete launch per call; the id_token is signed here, in the client process."""

    def __init__(self, base_url: str, settings, platform_key):
        from lti_tool.demo import seed

        self.base_url = base_url
        self.settings = settings
        self.kid = platform_key.kid
        # Parsed once: given a PEM, PyJWT would load (and check) the RSA key on every signature.
        self.private_key = serialization.load_pem_private_key(platform_key.private_pem.encode(),
                                                              password=None)
        self.users = itertools.cycle([seed.USERS_BY_ID[u] for u in LAUNCH_USERS])
        self._users_lock = threading.Lock()
        self.login_params = {"iss": seed.issuer(settings),
                             "target_link_uri": base_url + "/lti/launch",
                             "lti_message_hint": "benchmark", "client_id": seed.CLIENT_ID,
                             "lti_deployment_id": seed.DEPLOYMENT_ID}

    def __call__(self, session: requests.Session) -> str | None:
        from lti_tool.demo.platform import launch_claims

        with self._users_lock:
            user = next(self.users)
        response = session.post(self.base_url + "/lti/login", allow_redirects=False,
                                data={**self.login_params, "login_hint": user.id})
        if response.status_code != 302:
            return f"login answered {response.status_code}: {response.text[:300]}"
        query = parse_qs(urlparse(response.headers["Location"]).query)
        state, nonce = query["state"][0], query["nonce"][0]
        token = jwt.encode(launch_claims(self.settings, user, nonce, None), self.private_key,
                           algorithm="RS256", headers={"kid": self.kid})
        # The session sends back the state cookie the login set (path /lti/).
        response = session.post(self.base_url + "/lti/launch", allow_redirects=False,
                                data={"id_token": token, "state": state})
        if response.status_code != 303:
            return f"launch answered {response.status_code}: {response.text[:300]}"
        return None


class BareClient:
    """One GET + one POST of the size of a launch's form, against the bare Flask app."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.form = {"id_token": secrets.token_urlsafe(1400), "state": secrets.token_urlsafe(32)}

    def __call__(self, session: requests.Session) -> str | None:
        response = session.get(self.base_url + "/bare/login", allow_redirects=False)
        if response.status_code != 302:
            return f"bare GET answered {response.status_code}"
        response = session.post(self.base_url + "/bare/launch", data=self.form,
                                allow_redirects=False)
        if response.status_code != 303:
            return f"bare POST answered {response.status_code}"
        return None


@dataclass
class Measured:
    launches: int
    errors: int
    launches_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_launch: float  # from utime+stime clock ticks
    cpu_ms_per_launch_schedstat: float  # the same from /proc/<pid>/task/*/schedstat (ns)
    first_error: str | None


def measure(server: Gunicorn, client, launches: int, warmup: int, concurrency: int) -> Measured:
    warm = drive(client, warmup, concurrency)
    if warm.errors:
        raise RuntimeError(f"warm-up failed: {warm.first_error}\n{server.log_tail()}")
    before = server_cpu(server.process.pid)
    result = drive(client, launches, concurrency)
    after = server_cpu(server.process.pid)
    if before.workers != after.workers:
        log(f"  note: gunicorn workers changed during the run: {before.workers} -> {after.workers}")
    return Measured(
        launches=launches, errors=result.errors, launches_per_s=launches / result.seconds,
        p50_ms=result.percentile(50), p99_ms=result.percentile(99),
        cpu_ms_per_launch=(after.ticks - before.ticks) * 1000 / CLK_TCK / launches,
        cpu_ms_per_launch_schedstat=(after.sched_ns - before.sched_ns) / 1e6 / launches,
        first_error=result.first_error,
    )


# --- one database --------------------------------------------------------------------------
def bench_floor(workdir: Path, launches: int, warmup: int, concurrency: int) -> Measured:
    module_dir = workdir / "floor"
    module_dir.mkdir(exist_ok=True)
    (module_dir / "bare_floor_app.py").write_text(BARE_APP)
    env = server_env({"PYTHONPATH": str(module_dir)})
    server = Gunicorn("bare_floor_app:app", free_port(), env, module_dir,
                      workdir / "floor-gunicorn.log")
    try:
        server.wait_ready("/bare/login")
        return measure(server, BareClient(server.base_url), launches, warmup, concurrency)
    finally:
        server.stop()


def bench_tool(kind: str, workdir: Path, launches: int, warmup: int, concurrency: int,
               app_spec: str = TOOL_APP) -> Measured:
    database_url, drop = fresh_database(kind, workdir)
    server = jwks = None
    try:
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        keys_dir = workdir / f"keys-{kind}"
        settings, platform_key, jwks = prepare_tool(database_url, keys_dir, base_url)
        env = server_env({"LTI_TOOL_DATABASE_URL": database_url, "LTI_TOOL_KEYS_DIR": str(keys_dir),
                          "LTI_TOOL_DEMO": "1", "LTI_TOOL_BASE_URL": base_url,
                          "LTI_TOOL_SECRET_KEY": SECRET_KEY})
        server = Gunicorn(app_spec, port, env, REPO_ROOT, workdir / f"tool-{kind}-gunicorn.log")
        server.wait_ready("/healthz")
        client = LaunchClient(base_url, settings, platform_key)
        return measure(server, client, launches, warmup, concurrency)
    finally:
        if server is not None:
            server.stop()
        if jwks is not None:
            jwks.stop()
        drop()


def run(kind: str, args) -> dict:
    """One database's figures; a failure is reported in the result and the next database runs."""
    workdir = Path(tempfile.mkdtemp(prefix=f"lti-launch-bench-{kind}-"))
    result: dict = {"database": kind, "app": args.app, "concurrency": args.concurrency,
                    "target_cpu_ms_per_launch": TARGET_CPU_MS, "tool": None, "floor": None,
                    "ratio": None, "meets_target": False, "failure": None}
    try:
        log(f"[{kind}] floor: bare Flask, {args.launches} GET+POST pairs ...")
        floor = bench_floor(workdir, args.launches, args.warmup, args.concurrency)
        result["floor"] = asdict(floor)
        log(f"[{kind}] tool: {args.launches} complete launches ...")
        tool = bench_tool(kind, workdir, args.launches, args.warmup, args.concurrency, args.app)
        result["tool"] = asdict(tool)
        if floor.cpu_ms_per_launch:
            result["ratio"] = tool.cpu_ms_per_launch / floor.cpu_ms_per_launch
        result["meets_target"] = tool.errors == 0 and tool.cpu_ms_per_launch <= TARGET_CPU_MS
    except Exception as exc:  # noqa: BLE001 - reported, and the exit status says so
        result["failure"] = f"{type(exc).__name__}: {exc}"
        log(f"[{kind}] FAILED: {result['failure']}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def print_table(results: list[dict]) -> None:
    rows = [("database", "launches", "errors", "launches/s", "p50 ms", "p99 ms",
             "server CPU ms/launch", "(schedstat)", "floor CPU ms/pair", "ratio",
             f"≤ {TARGET_CPU_MS} ms")]
    for r in results:
        tool, floor = r["tool"], r["floor"]
        floor_cpu = f"{floor['cpu_ms_per_launch']:.2f}" if floor else "-"
        if tool is None:
            rows.append((r["database"], "failed", *["-"] * 6, floor_cpu, "-", "NO"))
            continue
        rows.append((r["database"], str(tool["launches"]), str(tool["errors"]),
                     f"{tool['launches_per_s']:.0f}", f"{tool['p50_ms']:.1f}",
                     f"{tool['p99_ms']:.1f}", f"{tool['cpu_ms_per_launch']:.2f}",
                     f"({tool['cpu_ms_per_launch_schedstat']:.2f})", floor_cpu,
                     f"{r['ratio']:.1f}x" if r["ratio"] else "-",
                     "yes" if r["meets_target"] else "NO"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        print("  ".join(cell.rjust(width) if index and i else cell.ljust(width)
                        for i, (cell, width) in enumerate(zip(row, widths))))
    first = results[0]
    print(f"\n{first['concurrency']} client threads; gunicorn with 2 sync workers serving "
          f"{first['app']}.\n"
          "Server CPU = utime+stime of the gunicorn master and workers per launch (login + "
          "launch), from clock ticks;\nin brackets the same from schedstat (ns). The database "
          "server's own CPU is not included.\n"
          "Floor = the same for a bare Flask app answering one GET + one POST.")
    for r in results:
        if r["failure"]:
            print(f"{r['database']}: FAILED: {r['failure']}")
        elif r["tool"]["first_error"]:
            print(f"{r['database']}: {r['tool']['errors']} failed launches, the first: "
                  f"{r['tool']['first_error']}")


def _interrupted(signum, _frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"),
                        help="default: both when PostgreSQL is reachable at "
                             "LTI_TOOL_TEST_DATABASE_URL, else sqlite")
    parser.add_argument("--launches", type=int, default=2000,
                        help="measured launches per database (default 2000)")
    parser.add_argument("--warmup", type=int, default=100,
                        help="unmeasured launches first (default 100)")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads (default 4)")
    parser.add_argument("--app", default=TOOL_APP,
                        help=f"gunicorn app served as the tool (default {TOOL_APP!r}); to try a "
                             "variant importable from PYTHONPATH")
    parser.add_argument("--json", action="store_true",
                        help="print the results as JSON instead of a table")
    parser.add_argument("--check", action="store_true",
                        help=f"exit 1 when a database is above {TARGET_CPU_MS} ms per launch")
    args = parser.parse_args(argv)
    if args.launches < 1 or args.concurrency < 1 or args.warmup < 0:
        parser.error("--launches and --concurrency must be positive, --warmup not negative")
    # Before create_app's basicConfig(INFO): keeps alembic's and the tool's INFO lines out.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    database = args.database
    reachable = database in (None, "both", "postgresql") and postgres_reachable()
    if database is None:
        database = "both" if reachable else "sqlite"
        if not reachable:
            log(f"PostgreSQL not reachable at {POSTGRES_URL}: SQLite only")
    elif database != "sqlite" and not reachable:
        parser.error(f"PostgreSQL not reachable at {POSTGRES_URL} (set LTI_TOOL_TEST_DATABASE_URL)")
    kinds = ["sqlite", "postgresql"] if database == "both" else [database]

    # SIGTERM (and SIGINT, even when inherited as ignored) unwind through the finally blocks
    # that stop the servers and drop the throwaway database.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _interrupted)
    results = [run(kind, args) for kind in kinds]
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_table(results)
    if any(r["failure"] or r["tool"]["errors"] for r in results):
        return 2
    if args.check and not all(r["meets_target"] for r in results):
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt as interrupted:
        log(f"interrupted ({interrupted}); servers stopped, throwaway databases dropped")
        sys.exit(130)
