"""The API answers health and readiness on both databases, and its workers keep their start-up objects
out of the garbage collector's way while they serve."""

import gc

from fastapi.testclient import TestClient

from civicpass.bootstrap import Container
from civicpass.web.app import create_app


def test_health_and_ready_answer(client: TestClient) -> None:
    assert client.get("/health").json()["status"] == "ok"
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "migrations": "ok"}


def test_a_running_worker_keeps_its_start_up_out_of_the_collectors_way(container: Container) -> None:
    """What the app made at start-up is frozen while it serves (full collections skip it) and thawed when
    it stops, so that it is freed in order."""
    gc.unfreeze()  # whatever an earlier test left
    with TestClient(create_app(container=container)) as client:
        assert client.get("/health").status_code == 200
        assert gc.get_freeze_count() > 1000
    assert gc.get_freeze_count() == 0
