"""Running the JavaScript client scenarios of tests/clients with node.

Each scenario prints one JSON document; the Python tests assert on it. The JavaScript side
never asserts, so a failing expectation always shows up as a readable pytest diff.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = ROOT / "tests" / "clients"


def missing_tools() -> str | None:
    """Why the node tests cannot run here, or None when they can."""
    absent = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    return f"{' and '.join(absent)} not found on PATH" if absent else None


@functools.cache
def _install() -> None:
    """scripts/setup-node once per session (it is a no-op when node_modules is current)."""
    done = subprocess.run(
        [str(ROOT / "scripts" / "setup-node")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"scripts/setup-node failed:\n{done.stdout}{done.stderr}")


def require_node() -> None:
    """Skip (with the reason printed by -ra) without node or npm; otherwise install once."""
    reason = missing_tools()
    if reason is not None:
        pytest.skip(f"JavaScript client tests need node and npm: {reason}")
    _install()


def node_env() -> dict[str, str]:
    """A clean environment: no AWS settings or profiles of the machine leak into the client."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(CLIENTS),
        "NODE_NO_WARNINGS": "1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def run_scenario(script: str, params: Mapping[str, Any], *, timeout: float = 30) -> Any:
    """Run tests/clients/<script> with `params` as its JSON argument; return its JSON output."""
    done = subprocess.run(
        ["node", str(CLIENTS / script), json.dumps(params)],
        capture_output=True,
        text=True,
        cwd=CLIENTS,
        env=node_env(),
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0 or not done.stdout.strip():
        raise AssertionError(
            f"node {script} exited {done.returncode}\n"
            f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        )
    return json.loads(done.stdout.strip().splitlines()[-1])
