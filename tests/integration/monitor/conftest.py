"""Fixtures for the monitor's integration tests."""

from __future__ import annotations

import pytest

from .tls import TlsFiles, make_ca_and_server


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A private CA and a server certificate for 127.0.0.1 / localhost, made once per run."""
    return make_ca_and_server(tmp_path_factory.mktemp("tls"))
