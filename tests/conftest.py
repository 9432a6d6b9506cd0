"""Test-wide setup: LiteLLM must never reach the internet, whatever a test imports first."""

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS", "true")


import pytest  # noqa: E402


@pytest.fixture
def redis_server(tmp_path_factory):
    """A private redis-server on a free loopback port for one test (see tests/redis_server.py)."""
    from tests.redis_server import RedisServer

    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "redis_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.redis)
