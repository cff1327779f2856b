"""``civicpass serve --seed`` as a subprocess for the end-to-end tests, and what they do through it."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from tests.support import resident_id_number


@dataclass
class Server:
    url: str
    process: subprocess.Popen[str]
    output: Path
    schema: str | None = None

    def text(self) -> str:
        return self.output.read_text()

    def wait_for(self, pattern: str, timeout: float = 10) -> re.Match[str]:
        """The first match of ``pattern`` in what the server printed, waiting for it to appear."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := re.search(pattern, self.text()):
                return found
            time.sleep(0.05)
        raise AssertionError(f"{pattern!r} not in the server's output:\n{self.text()}")

    def enrol(self, phone: str, name: str, serial: str) -> tuple[dict[str, str], dict[str, object]]:
        """Enrol a resident over HTTP with the one-time code the console messenger printed."""
        started = httpx2.post(self.url + "/v1/phone-verifications", json={"phone": phone}).json()
        code = self.wait_for(rf"\[civicpass sms\] to \+86{phone}: .*?(\d{{6}})", timeout=5).group(1)
        ticket = httpx2.post(
            f"{self.url}/v1/phone-verifications/{started['id']}/confirm", json={"code": code}
        ).json()
        enrolled = httpx2.post(
            self.url + "/v1/residents",
            json={
                "verification_token": ticket["verification_token"],
                "name": name,
                "document": {"type": "resident_id", "number": resident_id_number(serial=serial)},
                "region_code": "440106",
            },
        )
        assert enrolled.status_code == 201, enrolled.text
        body: dict[str, object] = enrolled.json()
        return {"Authorization": f"Bearer {body['access_token']}"}, body


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serving(workdir: Path, settings: Mapping[str, str], schema: str | None = None) -> Iterator[Server]:
    """Start ``civicpass serve --seed`` in ``workdir`` with these ``CIVICPASS_*`` settings; stop it after."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CIVICPASS_")},
        "CIVICPASS_PORT": str(port),
        "CIVICPASS_PASSWORD_TIME_COST": "1",
        "CIVICPASS_PASSWORD_MEMORY_COST": "1024",
        "CIVICPASS_COOKIE_SECURE": "false",
        **settings,
    }
    output = workdir / "server.log"
    with output.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "civicpass", "serve", "--seed"],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}:\n{output.read_text()}")
        try:
            if httpx2.get(url + "/health", timeout=1).status_code == 200:
                break
        except httpx2.TransportError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("server did not answer /health within 60 s:\n" + output.read_text())
    try:
        yield Server(url, process, output, schema)
    finally:
        process.terminate()
        process.wait(timeout=15)
