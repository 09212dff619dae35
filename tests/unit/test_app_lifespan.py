"""The HTTP app closes the services it serves when it shuts down (FastAPI lifespan)."""

from fastapi.testclient import TestClient

from actors.entrypoints.http.app import create_app
from actors.infra.config import load_settings


class SpyServices:
    """Just what create_app reads, and a close that counts its calls."""

    def __init__(self) -> None:
        self.settings = load_settings({"JWT_SECRET": "j" * 40})
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def test_services_are_closed_when_the_app_stops():
    services = SpyServices()
    with TestClient(create_app(services)) as client:
        assert client.get("/health").json() == {"status": "ok"}
        assert services.closed == 0  # open while it serves
    assert services.closed == 1


def test_every_route_is_registered():
    paths = create_app(SpyServices()).openapi()["paths"]
    assert {
        "/v1/mints",
        "/v1/mints/{ticket_id}",
        "/v1/transfers",
        "/v1/transfers/{transfer_id}",
        "/v1/events/{event_id}",
        "/v1/mints/{ticket_id}/retry",
        "/v1/mints/{ticket_id}/cancel",
        "/health",
        "/ready",
        "/balance",
        "/metrics",
    } <= set(paths)


def test_v1_routes_still_need_a_token():
    with TestClient(create_app(SpyServices())) as client:
        res = client.get("/v1/mints/T-1")
    assert res.status_code == 401 and res.headers["WWW-Authenticate"] == "Bearer"
