"""JupyterHub configuration of the cnnkit trial class (written for JupyterHub 6.1).

``hub/launch.py`` (``make hub``) prepares a state folder and starts ``jupyterhub -f`` on this file
with ``CNNKIT_HUB_SETTINGS`` naming the JSON file it wrote there: ports, the proxy's command, the
class's users and their roles, and the per-role Jupyter config folders. Nothing here is specific to
one machine; on a real hub copy what you need (the spawner's command and environment, the roles).

Two ways to run, chosen by the launcher:

* ``system``: the hub runs as root, every user is a real Unix account (PAM checks the password)
  and each single-user server runs under that account (JupyterHub's LocalProcessSpawner);
* ``local``: no root, so no accounts: one password per user from the state folder, every server
  runs as whoever started the hub, with its own home under the state folder
  (SimpleLocalProcessSpawner). A trial of the workflow, with no isolation between users.
"""
import json
import os

from jupyterhub.auth import Authenticator
from traitlets import Dict

c = get_config()  # noqa: F821  (provided by JupyterHub when it reads this file)

with open(os.environ["CNNKIT_HUB_SETTINGS"]) as _f:
    S = json.load(_f)

# -- network: everything on localhost unless the launcher was told otherwise -------------------
c.JupyterHub.ip = S["ip"]
c.JupyterHub.port = S["port"]
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = S["hub_port"]
c.ConfigurableHTTPProxy.command = [S["proxy_command"]]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{S['proxy_api_port']}"
c.ConfigurableHTTPProxy.should_start = True
c.Spawner.ip = "127.0.0.1"

# -- state: all of it in the state folder --------------------------------------------------------
c.JupyterHub.db_url = "sqlite:///" + os.path.join(S["hub_dir"], "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(S["hub_dir"], "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = os.path.join(S["hub_dir"], "jupyterhub.pid")
# stop every single-user server and the proxy when the hub stops (Ctrl+C)
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True

# -- who may log in ------------------------------------------------------------------------------
ROLES = S["roles"]  # user name -> "instructor" | "student"
c.Authenticator.allowed_users = set(ROLES)
c.Authenticator.admin_users = {name for name, role in ROLES.items() if role == "instructor"}


class ClassPasswordAuthenticator(Authenticator):
    """One password per user, from the state folder (the ``local`` mode, where there are no accounts)."""

    passwords = Dict(help="user name -> password").tag(config=True)

    async def authenticate(self, handler, data):
        name, password = data.get("username", ""), data.get("password", "")
        expected = self.passwords.get(name)
        if expected is not None and password == expected:
            return name
        return None


if S["mode"] == "system":
    c.JupyterHub.authenticator_class = "pam"
    c.PAMAuthenticator.service = "login"
    c.PAMAuthenticator.open_sessions = False
    c.JupyterHub.spawner_class = "localprocess"  # each server runs as its Unix user, in its home
else:
    with open(S["passwords_file"]) as _f:
        c.ClassPasswordAuthenticator.passwords = json.load(_f)
    c.JupyterHub.authenticator_class = ClassPasswordAuthenticator
    c.JupyterHub.spawner_class = "simple"
    c.SimpleLocalProcessSpawner.home_dir_template = os.path.join(S["home_root"], "{username}")
    if os.geteuid() == 0:
        c.Spawner.args = ["--allow-root"]

# -- the single-user servers: cnnkit's environment, JupyterLab, nbgrader per role --------------------
c.Spawner.cmd = [os.path.join(S["venv_bin"], "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.start_timeout = 180  # a loaded 2-core machine imports JupyterLab slowly
c.Spawner.http_timeout = 180


def _config_path(spawner):
    """The user's role first, then what everyone shares (the exchange)."""
    role = ROLES.get(spawner.user.name, "student")
    return os.pathsep.join([S["jupyter_config"][role], S["jupyter_config"]["common"]])


c.Spawner.environment = {
    "PATH": os.pathsep.join([S["venv_bin"], "/usr/local/bin", "/usr/bin", "/bin"]),
    "JUPYTER_CONFIG_PATH": _config_path,
    # every process of the class carries this mark: the launcher sweeps up by it when it stops
    "CNNKIT_HUB_STATE": S["state"],
}
