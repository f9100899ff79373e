"""The proof scenarios reuse the integration fixtures: real broker, real workers."""

from tests.integration.conftest import bootstrap_servers, browser, deployment

__all__ = ["bootstrap_servers", "browser", "deployment"]
