"""The kernel provisioner that starts a student's Jupyter kernel inside the grading sandbox.

jupyter_client starts kernels through *provisioners* (registered under the entry point group
``jupyter_client.kernel_provisioners``); :class:`SandboxProvisioner` is jupyter_client's own
local one with the launch wrapped: the kernel command runs under bubblewrap
(:func:`cnnkit.grading.sandbox.bwrap_command`), in fresh cgroups that bound the whole sandbox
(:func:`~cnnkit.grading.sandbox.make_cgroups`), with an empty environment. What the sandbox
shows is a :class:`~cnnkit.grading.sandbox.SandboxSpec` written as JSON by the worker; the kernel
spec names it (:func:`sandboxed_kernel_spec_manager`). Bounds the kernel ran into are appended,
one JSON line per kernel, to the spec's ``events`` file when the kernel is cleaned up.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.provisioning import KernelProvisionerFactory, LocalProvisioner
from traitlets import Unicode

#: The provisioner's name (pyproject.toml registers it under jupyter_client's entry point group).
NAME = "cnnkit-sandbox"


class SandboxProvisioner(LocalProvisioner):
    """jupyter_client's LocalProvisioner, launching the kernel inside the bubblewrap sandbox."""

    spec_file = Unicode("", help="JSON file of the SandboxSpec this kernel runs in").tag(config=True)
    events_file = Unicode("", help="JSON-lines file the bounds the kernel hit are appended to").tag(config=True)

    async def launch_kernel(self, cmd: list[str], **kwargs: Any):
        from .sandbox import SandboxSpec, bwrap_command, make_cgroups, remove_cgroups

        spec = SandboxSpec.from_json(Path(self.spec_file).read_text(encoding="utf-8"))
        remove_cgroups(getattr(self, "_cgroups", []))
        self._spec = spec
        self._cgroups = make_cgroups(spec.limits)
        # bwrap starts with an empty environment (its own /proc/1/environ is visible inside), and with no
        # file of the host open: its /proc/1/fd would otherwise lead the kernel to the worker's log
        kwargs["env"] = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
        kwargs["stdin"] = kwargs["stdout"] = kwargs["stderr"] = subprocess.DEVNULL
        return await super().launch_kernel(bwrap_command(spec, cmd, cgroups=self._cgroups), **kwargs)

    async def cleanup(self, restart: bool = False) -> None:
        from .sandbox import limit_events, remove_cgroups

        await super().cleanup(restart=restart)
        groups = getattr(self, "_cgroups", [])
        events = limit_events(groups, self._spec.limits) if groups else []
        remove_cgroups(groups)
        self._cgroups = []
        if events and self.events_file:
            with open(self.events_file, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"limits": events}) + "\n")


def register() -> None:
    """Make the provisioner known in this process even where the package's entry points are not installed
    (a source checkout run without ``pip install``)."""
    from importlib.metadata import EntryPoint

    factory = KernelProvisionerFactory.instance()
    if NAME not in factory.provisioners:
        factory.provisioners[NAME] = EntryPoint(name=NAME, value=f"{__name__}:SandboxProvisioner",
                                                group=KernelProvisionerFactory.GROUP_NAME)


def sandboxed_kernel_spec_manager(spec_file: Path, events_file: Path) -> KernelSpecManager:
    """A kernel spec manager whose kernels name the sandbox provisioner (and take interrupts as messages:
    bwrap does not pass signals on to the kernel)."""
    register()

    class SandboxedSpecs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str, *args: Any, **kwargs: Any):
            spec = super().get_kernel_spec(kernel_name, *args, **kwargs)
            spec.interrupt_mode = "message"
            spec.metadata = {**spec.metadata, "kernel_provisioner": {
                "provisioner_name": NAME, "config": {"spec_file": str(spec_file), "events_file": str(events_file)}}}
            return spec

    return SandboxedSpecs()
