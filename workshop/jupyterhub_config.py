# The layerlab workshop hub: one machine, one Unix user per learner, the course live rootless.
#
# Start it with `sudo make hub` (which runs workshop/install first, then JupyterHub with this
# file). Instructors: every setting below says what it does and why; docs/workshop-hub.md is
# the guide. The settings you are most likely to change are read from the environment, so
# you can change them without editing this file:
#
#   WORKSHOP_PORT=8000          the port learners' browsers use (the hub uses the next two)
#   WORKSHOP_IP=127.0.0.1       where it listens; put a TLS proxy in front for a real class
#   WORKSHOP_ADMIN=instructor   the instructor's hub name: sign up with it FIRST
#   WORKSHOP_MEM_LIMIT=1G       memory per learner (their server, kernels, everything)
#   WORKSHOP_PIDS_LIMIT=512     processes per learner
#   WORKSHOP_CULL_AFTER=3600    seconds of inactivity before a learner's server is stopped
#   WORKSHOP_PREFIX=/opt/layerlab-workshop      the software workshop/install put there
#   WORKSHOP_STATE=/var/lib/layerlab-workshop   the hub's database and secrets (root only)
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)  # for learner_spawner.py next to this file

prefix = os.environ.get("WORKSHOP_PREFIX", "/opt/layerlab-workshop")
state = os.environ.get("WORKSHOP_STATE", "/var/lib/layerlab-workshop")
port = int(os.environ.get("WORKSHOP_PORT", "8000"))
ip = os.environ.get("WORKSHOP_IP", "127.0.0.1")
admin = os.environ.get("WORKSHOP_ADMIN", "instructor")
venv_bin = os.path.join(prefix, "venv", "bin")
os.makedirs(state, mode=0o700, exist_ok=True)

c = get_config()  # noqa: F821  (JupyterHub provides get_config when it loads this file)

# --- Where the hub listens -------------------------------------------------------------
# Learners' browsers talk to configurable-http-proxy (from npm) on WORKSHOP_PORT; the hub
# itself and the proxy's API sit on the next two ports, on loopback only.
c.JupyterHub.ip = ip
c.JupyterHub.port = port
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = port + 1
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{port + 2}"
c.ConfigurableHTTPProxy.command = [
    os.path.join(prefix, "node", "node_modules", ".bin", "configurable-http-proxy")
]
# The database and cookie secret live in WORKSHOP_STATE (mode 0700): delete that directory
# after the class to forget every account (the Unix accounts stay; see the guide).
c.JupyterHub.db_url = f"sqlite:///{os.path.join(state, 'jupyterhub.sqlite')}"
c.JupyterHub.cookie_secret_file = os.path.join(state, "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = os.path.join(state, "jupyterhub.pid")
c.ConfigurableHTTPProxy.pid_file = os.path.join(state, "jupyterhub-proxy.pid")

# --- Who may log in: self sign-up, approved by the instructor ----------------------------
# NativeAuthenticator: each learner picks a name and their own password at /hub/signup;
# nobody can log in until an admin approves them at /hub/authorize. No shared password.
# The admin account is approved at sign-up, so sign up as WORKSHOP_ADMIN before you share
# the address (the hub listens on 127.0.0.1 until you change WORKSHOP_IP).
c.JupyterHub.authenticator_class = "nativeauthenticator.NativeAuthenticator"
c.Authenticator.admin_users = {admin}
c.Authenticator.allow_all = True  # everyone the authenticator approved; it approves nobody alone
c.NativeAuthenticator.open_signup = False
c.NativeAuthenticator.minimum_password_length = 8
c.NativeAuthenticator.check_common_password = True
# Names become Unix accounts (jupyter-NAME), so keep them to what useradd accepts.
c.Authenticator.username_pattern = r"^[a-z][a-z0-9_-]{0,23}$"

# --- Each learner's server: their own Unix user, their own limits -------------------------
# LearnerSpawner (learner_spawner.py) is JupyterHub's LocalProcessSpawner that creates the
# Unix account jupyter-NAME (home mode 0700) and starts the server in a root-owned cgroup.
c.JupyterHub.spawner_class = "learner_spawner.LearnerSpawner"
c.Spawner.mem_limit = os.environ.get("WORKSHOP_MEM_LIMIT", "1G")
c.LearnerSpawner.pids_limit = int(os.environ.get("WORKSHOP_PIDS_LIMIT", "512"))
c.Spawner.cmd = [os.path.join(venv_bin, "jupyterhub-singleuser")]
c.Spawner.environment = {
    "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    # git refuses a repository owned by another user; this file marks the course safe.
    "GIT_CONFIG_SYSTEM": os.path.join(prefix, "gitconfig"),
}
# Learners' servers run at nice 10, so that the hub and the proxy keep answering when the
# whole class computes at once (on 2 cores, 30 servers starting together starved the proxy
# and the hub gave up on them). At most 10 servers start at the same time; a learner who
# logs in during a rush is told to try again in a few seconds.
c.LearnerSpawner.nice = 10
c.JupyterHub.concurrent_spawn_limit = 10
# A server needs a few CPU-seconds to start; when a whole class logs in at once on a small
# machine they queue for the CPUs, so allow far more than the defaults (30 s and 60 s).
c.Spawner.http_timeout = 300
c.Spawner.start_timeout = 300

# --- Handing out the course: an nbgitpuller link -----------------------------------------
# The first page a learner sees clones the course (published by workshop/install from this
# checkout) into ~/layerlab and opens the start notebook. Later visits pull news in and
# never overwrite a learner's own changes. Share the same link yourself:
#   http://HOST:PORT/hub/user-redirect/git-pull?repo=file://PREFIX/course.git&branch=main
#       &targetpath=layerlab&urlpath=lab/tree/layerlab/notebooks/00-start-here.ipynb
course_repo = f"file://{os.path.join(prefix, 'course.git')}"
c.Spawner.default_url = (
    f"/git-pull?repo={course_repo}&branch=main&targetpath=layerlab"
    "&urlpath=lab/tree/layerlab/notebooks/00-start-here.ipynb"
)

# --- Stop idle servers ----------------------------------------------------------------------
# jupyterhub-idle-culler stops a learner's server after WORKSHOP_CULL_AFTER seconds without
# activity (their files stay; the next login starts it again). That frees memory for the
# others when someone leaves without logging out.
cull_after = int(os.environ.get("WORKSHOP_CULL_AFTER", "3600"))
c.JupyterHub.load_roles = [
    {
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    }
]
c.JupyterHub.services = [
    {
        "name": "idle-culler",
        "command": [
            os.path.join(venv_bin, "python"),
            "-m",
            "jupyterhub_idle_culler",
            f"--timeout={cull_after}",
        ],
    }
]
