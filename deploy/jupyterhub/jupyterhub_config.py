"""JupyterHub for an *Attention in depth* workshop on one machine (tested by `make workshop-check`).

Run it from the course folder, in the course's environment (`make dev` installs jupyterhub and
configurable-http-proxy into .venv):

    WORKSHOP_PASSWORD='a-long-shared-secret' .venv/bin/jupyterhub -f deploy/jupyterhub/jupyterhub_config.py

Every learner logs in with a name of their choice and the shared password, and gets a home of their own
under WORKSHOP_HOMES with the lessons (notebooks/) and a workspace (my-work/, the exercises), copied
the first time and never overwritten afterwards (tools/workspace.py's rule). Solutions are not copied
unless WORKSHOP_SOLUTIONS=1.

What the settings are for, measured on a 2-core machine (docs/instructor_guide.md has the numbers):
- start and HTTP timeouts of 300 s: 30 servers starting at once on a small machine take minutes; with
  JupyterHub's defaults most of them time out;
- kernels on IPC sockets: 30 servers' TCP kernels on one host once collided on a port;
- OMP_NUM_THREADS=1: the lessons' models are tiny, and 30 kernels each starting a thread per core only
  fight over the cores;
- idle kernels are culled after 20 minutes and an idle server stops after an hour, so a learner who
  walks away gives the memory back.

Security: every learner's server runs as the hub's own Unix user (SimpleLocalProcessSpawner), so learners
are separated by folders, not by permissions. That suits a room of people you trust with a throwaway
machine. For anything else, use system users (LocalProcessSpawner) or Kubernetes (deploy/kubernetes/),
and always put TLS in front of a hub that listens beyond 127.0.0.1.
"""

import hashlib
import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821  (defined by JupyterHub when it loads this file)

COURSE = Path(os.environ.get("COURSE_DIR", Path(__file__).resolve().parents[2]))
HOMES = Path(os.environ.get("WORKSHOP_HOMES", COURSE / ".workshop-homes"))
BIN = Path(sys.executable).parent  # the hub and the learners' servers run from the course environment
sys.path.insert(0, str(COURSE / "tools"))
import workspace  # noqa: E402  (the learner-workspace rule: copy what is missing, never overwrite)

# --- where the hub listens ---------------------------------------------------------------------------
c.JupyterHub.ip = os.environ.get("WORKSHOP_IP", "127.0.0.1")
c.JupyterHub.port = int(os.environ.get("WORKSHOP_PORT", "8000"))
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ.get("WORKSHOP_HUB_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ.get('WORKSHOP_PROXY_API_PORT', '8001')}"
PROXY = COURSE / ".venv/node/node_modules/.bin/configurable-http-proxy"  # `make dev` installs it there
c.ConfigurableHTTPProxy.command = [os.environ.get("WORKSHOP_PROXY", str(PROXY))]
state = Path(os.environ.get("WORKSHOP_STATE", COURSE / ".workshop-state"))
state.mkdir(parents=True, exist_ok=True)
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")

# --- who may log in: any name, one shared password (at least 8 characters) ----------------------------
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = os.environ.get("WORKSHOP_PASSWORD", "")
c.Authenticator.allow_all = True
c.Authenticator.admin_users = set(filter(None, os.environ.get("WORKSHOP_ADMINS", "").split(",")))

# --- each learner's server -------------------------------------------------------------------------------
c.JupyterHub.spawner_class = "simple"  # jupyterhub.spawner.SimpleLocalProcessSpawner
c.SimpleLocalProcessSpawner.home_dir_template = str(HOMES / "{username}")
c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
c.Spawner.args = [
    "--KernelManager.transport=ipc",
    "--MappingKernelManager.cull_idle_timeout=1200",
    "--MappingKernelManager.cull_interval=120",
    "--MappingKernelManager.cull_connected=True",
    "--ServerApp.shutdown_no_activity_timeout=3600",
] + (["--allow-root"] if os.getuid() == 0 else [])  # jupyterhub-singleuser refuses root without it
# IPC kernel sockets live in the runtime folder, and a Unix socket's path must fit in 107 bytes: a home
# such as /srv/.../learner07/.local/share/jupyter/runtime/ does not leave room for a kernel's socket names
# (measured: "ipc path ... is longer than 107 characters"). So each learner gets a short runtime folder.
RUNTIME = Path(os.environ.get("WORKSHOP_RUNTIME", "/tmp/attn-rt"))


def runtime_dir(spawner) -> str:
    folder = RUNTIME / hashlib.sha1(spawner.user.name.encode()).hexdigest()[:10]
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return str(folder)


c.Spawner.environment = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "JUPYTER_RUNTIME_DIR": runtime_dir}
c.Spawner.default_url = "/lab/tree/notebooks"
c.Spawner.start_timeout = 300
c.Spawner.http_timeout = 300
c.JupyterHub.concurrent_spawn_limit = 60


def give_course(spawner):
    """Copy the lessons and the learner's workspace into their home, only what is not there yet."""
    home = Path(spawner.home_dir_template.format(username=spawner.user.name))
    workspace.sync(COURSE / "notebooks", home / "notebooks")
    workspace.sync(COURSE / "exercises", home / "my-work")
    if os.environ.get("WORKSHOP_SOLUTIONS") == "1":
        workspace.sync(COURSE / "solutions", home / "solutions")


c.Spawner.pre_spawn_hook = give_course
