"""The contract tests that need a broker reuse the integration fixture that finds one."""

from tests.integration.conftest import bootstrap_servers

__all__ = ["bootstrap_servers"]
