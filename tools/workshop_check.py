"""Load check for a workshop hub: N learners log in at once and each runs a lesson.

    python tools/workshop_check.py --users 5            # what `make workshop-check USERS=5` runs

It starts a throwaway JupyterHub on 127.0.0.1 from the shipped config (deploy/jupyterhub/), with its
state and the learners' homes in a temporary folder, creates N users through the hub's REST API, starts
their servers all at once, then runs a lesson in every server at the same time through the Jupyter
server API (a kernel per learner, each code cell sent over the kernel's websocket). It prints each
server's spawn time, the lesson's run time per learner, every failure, and the machine's peak memory,
then stops everything it started (servers, hub, proxy, kernels) and checks that nothing is left.

Bounded: at most 60 users, a deadline for the spawns and for the lesson runs; it only talks to 127.0.0.1.
Exit status 0 when every server started and every lesson ran without an error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import nbformat
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "deploy" / "jupyterhub" / "jupyterhub_config.py"
MAX_USERS = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def used_memory_mb() -> float:
    info = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, value = line.split(":", 1)
            info[key] = int(value.split()[0])
    return (info["MemTotal"] - info["MemAvailable"]) / 1024


def learners_rss_mb(homes: Path) -> float:
    """Resident memory of the processes working inside ``homes``: the learners' servers and kernels."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if not os.readlink(entry / "cwd").startswith(str(homes)):
                continue
            with open(entry / "status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        except (OSError, StopIteration, ValueError):
            continue
    return total / 1024


class MemorySampler(threading.Thread):
    """Every 0.5 s: the machine's used memory and the learners' processes' resident memory; keeps the peaks."""

    def __init__(self, homes: Path):
        super().__init__(daemon=True)
        self.homes = homes
        self.baseline = self.peak = used_memory_mb()
        self.learners_peak = 0.0
        self._done = threading.Event()

    def run(self):
        while not self._done.wait(0.5):
            self.peak = max(self.peak, used_memory_mb())
            self.learners_peak = max(self.learners_peak, learners_rss_mb(self.homes))

    def stop(self):
        self._done.set()
        self.join()


class Hub:
    """A JupyterHub process started from the shipped config, with a service token for the API."""

    def __init__(self, tmp: Path, proxy: str):
        self.tmp, self.token = tmp, secrets.token_hex(24)
        self.port, self.hub_port, self.proxy_api_port = free_port(), free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        override = tmp / "check_config.py"
        override.write_text(
            f"exec(compile(open({str(CONFIG)!r}).read(), {str(CONFIG)!r}, 'exec'))\n"
            "c.JupyterHub.services = [{'name': 'workshop-check', 'api_token': %r}]\n"
            "c.JupyterHub.load_roles = [{'name': 'workshop-check', 'services': ['workshop-check'], "
            "'scopes': ['admin:users', 'admin:servers', 'access:servers', 'read:users']}]\n" % self.token)
        env = dict(os.environ, WORKSHOP_IP="127.0.0.1", WORKSHOP_PORT=str(self.port),
                   WORKSHOP_HUB_PORT=str(self.hub_port), WORKSHOP_PROXY_API_PORT=str(self.proxy_api_port),
                   WORKSHOP_PROXY=proxy, WORKSHOP_STATE=str(tmp / "state"), WORKSHOP_HOMES=str(tmp / "homes"),
                   WORKSHOP_RUNTIME=str(tmp / "rt"),
                   WORKSHOP_PASSWORD=secrets.token_hex(8), COURSE_DIR=str(ROOT),
                   CONFIGPROXY_AUTH_TOKEN=secrets.token_hex(16))
        self.log = open(tmp / "jupyterhub.log", "w")
        self.proc = subprocess.Popen([str(Path(sys.executable).parent / "jupyterhub"), "-f", str(override)],
                                     cwd=tmp, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    async def api(self, method: str, path: str, body=None, timeout: float = 60):
        client = AsyncHTTPClient()
        request = HTTPRequest(f"{self.url}/hub/api{path}", method=method,
                              headers={"Authorization": f"token {self.token}"},
                              body=None if body is None and method == "GET" else json.dumps(body or {}),
                              request_timeout=timeout, allow_nonstandard_methods=True)
        response = await client.fetch(request, raise_error=False)
        if response.code >= 400:
            raise RuntimeError(f"{method} {path}: HTTP {response.code} {response.body[:200]!r}")
        return json.loads(response.body) if response.body else None

    async def wait_ready(self, deadline: float):
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the hub exited with {self.proc.returncode}; see {self.tmp / 'jupyterhub.log'}")
            try:
                await self.api("GET", "/", timeout=5)
                return
            except Exception:
                await asyncio.sleep(0.5)
        raise RuntimeError("the hub did not answer in time")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the hub stops its servers and its proxy on exit
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


async def spawn(hub: Hub, user: str, deadline: float) -> tuple[float | None, str]:
    start = time.monotonic()
    try:
        await hub.api("POST", f"/users/{user}/server", {}, timeout=30)
        while time.monotonic() < deadline:
            model = await hub.api("GET", f"/users/{user}", timeout=30)
            server = (model.get("servers") or {}).get("")
            if server and server.get("ready"):
                return time.monotonic() - start, ""
            if not server and not model.get("pending"):
                return None, "the server stopped while starting"
            await asyncio.sleep(1)
        return None, "not ready before the deadline"
    except Exception as exc:
        return None, str(exc)[:200]


async def run_lesson(hub: Hub, user: str, cells: list[str], deadline: float) -> tuple[float | None, str]:
    """Starts a kernel in the user's server and runs ``cells`` in it; stops at the first error."""
    base = f"{hub.url}/user/{user}/api"
    headers = {"Authorization": f"token {hub.token}"}
    client = AsyncHTTPClient()
    start = time.monotonic()
    kernel_id = None
    try:
        response = await client.fetch(HTTPRequest(f"{base}/kernels", method="POST", headers=headers,
                                                  body=json.dumps({"name": "python3"}), request_timeout=120))
        kernel_id = json.loads(response.body)["id"]
        ws_url = f"ws://127.0.0.1:{hub.port}/user/{user}/api/kernels/{kernel_id}/channels"
        ws = await websocket_connect(HTTPRequest(ws_url, headers=headers, request_timeout=120),
                                     max_message_size=256 * 1024 * 1024)
        session = uuid.uuid4().hex
        for i, code in enumerate(cells):
            msg_id = uuid.uuid4().hex
            ws.write_message(json.dumps({
                "header": {"msg_id": msg_id, "username": user, "session": session, "msg_type": "execute_request",
                           "version": "5.3", "date": ""},
                "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                            "allow_stdin": False, "stop_on_error": True}}))
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None, f"cell {i} not finished before the deadline"
                raw = await asyncio.wait_for(ws.read_message(), timeout=remaining)
                if raw is None:
                    return None, f"the kernel's websocket closed during cell {i}"
                if isinstance(raw, bytes):
                    continue  # binary frames carry widget buffers, not replies
                msg = json.loads(raw)
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                if msg["msg_type"] == "error":
                    return None, f"cell {i} raised {msg['content']['ename']}: {msg['content']['evalue'][:120]}"
                if msg["msg_type"] == "execute_reply":
                    if msg["content"]["status"] != "ok":
                        return None, f"cell {i} ended with status {msg['content']['status']}"
                    break
        ws.close()
        return time.monotonic() - start, ""
    except (HTTPClientError, OSError, asyncio.TimeoutError, KeyError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {str(exc)[:160]}"
    finally:
        if kernel_id:
            try:
                await client.fetch(HTTPRequest(f"{base}/kernels/{kernel_id}", method="DELETE", headers=headers,
                                               request_timeout=30), raise_error=False)
            except Exception:
                pass


def leftover_processes(tmp: Path) -> list[int]:
    """PIDs of processes whose working folder is inside ``tmp`` (servers, kernels, the hub, its proxy)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if os.readlink(entry / "cwd").startswith(str(tmp)):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def summary(values: list[float]) -> str:
    if not values:
        return "none"
    values = sorted(values)
    return f"median {values[len(values) // 2]:.1f} s, max {values[-1]:.1f} s"


async def check(users: int, lesson: Path, proxy: str, spawn_timeout: float, run_timeout: float, tmp: Path) -> int:
    cells = [c.source for c in nbformat.read(lesson, as_version=4).cells if c.cell_type == "code"]
    AsyncHTTPClient.configure(None, max_clients=max(10, 2 * users))
    sampler = MemorySampler(tmp / "homes")
    sampler.start()
    hub = Hub(tmp, proxy)
    try:
        await hub.wait_ready(time.monotonic() + 120)
        names = [f"learner{i:02d}" for i in range(users)]
        await hub.api("POST", "/users", {"usernames": names})
        print(f"hub up on {hub.url}; starting {users} servers at once ...", flush=True)
        deadline = time.monotonic() + spawn_timeout
        spawned = await asyncio.gather(*(spawn(hub, name, deadline) for name in names))
        ready = [n for n, (t, _) in zip(names, spawned) if t is not None]
        print(f"{len(ready)} / {users} servers started; spawn time {summary([t for t, _ in spawned if t])}", flush=True)
        print(f"running {lesson.name} ({len(cells)} code cells) in each at once ...", flush=True)
        deadline = time.monotonic() + run_timeout
        runs = await asyncio.gather(*(run_lesson(hub, name, cells, deadline) for name in ready))
        ok_runs = [t for t, _ in runs if t is not None]
        print(f"{len(ok_runs)} / {len(ready)} lesson runs finished without error; run time {summary(ok_runs)}")
        failures = [f"  {n}: spawn failed: {why}" for n, (t, why) in zip(names, spawned) if t is None]
        failures += [f"  {n}: lesson failed: {why}" for n, (t, why) in zip(ready, runs) if t is None]
        for name in ready:
            try:
                await hub.api("DELETE", f"/users/{name}/server", timeout=60)
            except Exception as exc:
                failures.append(f"  {name}: stopping the server failed: {exc}")
    finally:
        hub.stop()
        sampler.stop()
    time.sleep(1)
    left = leftover_processes(tmp)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    extra = sampler.peak - sampler.baseline
    print(f"machine memory in use: {sampler.baseline / 1024:.1f} GiB before, peak {sampler.peak / 1024:.1f} GiB "
          f"(+{extra / 1024:.2f} GiB); the learners' servers and kernels together peaked at "
          f"{sampler.learners_peak / 1024:.2f} GiB resident, "
          f"{sampler.learners_peak / max(users, 1):.0f} MB per learner")
    if left:
        failures.append(f"  {len(left)} process(es) outlived the hub and were killed: {left}")
    if failures:
        print("FAILURES:\n" + "\n".join(failures))
        return 1
    print(f"OK: {users} learners, every server started, every lesson ran, nothing left running.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=5)
    parser.add_argument("--lesson", default=str(ROOT / "notebooks" / "03_basic_attention.ipynb"))
    parser.add_argument("--proxy", default=str(ROOT / ".venv/node/node_modules/.bin/configurable-http-proxy"))
    parser.add_argument("--spawn-timeout", type=float, default=600, help="seconds for all servers to start")
    parser.add_argument("--run-timeout", type=float, default=900, help="seconds for all lessons to run")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs) afterwards")
    args = parser.parse_args(argv)
    if not 1 <= args.users <= MAX_USERS:
        parser.error(f"--users must be between 1 and {MAX_USERS}, got {args.users}")
    if Path(args.proxy).exists():
        args.proxy = str(Path(args.proxy).resolve())  # the hub runs in a temporary folder: no relative paths
    elif shutil.which(args.proxy):
        args.proxy = shutil.which(args.proxy)
    else:
        parser.error(f"configurable-http-proxy not found at {args.proxy}; `make dev` installs it")
    tmp = Path(tempfile.mkdtemp(prefix="workshop-check-"))
    try:
        return asyncio.run(check(args.users, Path(args.lesson), args.proxy, args.spawn_timeout, args.run_timeout, tmp))
    finally:
        if args.keep:
            print(f"logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
