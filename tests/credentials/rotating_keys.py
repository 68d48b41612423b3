"""A key issuer that rotates keys on the test server as an STS would (see
:class:`RotatingKeys`), for the library's and the command line's rotation tests."""

from __future__ import annotations

import secrets
import threading
from datetime import datetime, timedelta, timezone

from fsspec_unified import Credentials

LIFETIME_S = 2.0
IDENTITY = "rotating"


class RotatingKeys:
    """A key issuer: every call makes a new key pair valid for ``LIFETIME_S``; a thread
    revokes each pair on the server (and the OSS gateway) as soon as it expires."""

    def __init__(self, server, gateway=None) -> None:
        self._server = server
        self._gateway = gateway
        self._live: list[Credentials] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._revoker = threading.Thread(target=self._revoke_expired, daemon=True)
        self.issued = 0
        self.revoked = 0

    def __enter__(self) -> RotatingKeys:
        self._revoker.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._revoker.join()
        with self._lock:
            for credentials in self._live:
                self._forget(credentials)
            self._live = []
            self._server.set_identity(IDENTITY, [])

    def __call__(self) -> Credentials:
        credentials = Credentials(
            "RK" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30), None,
            datetime.now(timezone.utc) + timedelta(seconds=LIFETIME_S))
        with self._lock:
            self._live.append(credentials)
            if self._gateway is not None:
                self._gateway.add_identity(credentials.access_key, credentials.secret_key)
            self._apply()
            self.issued += 1
        return credentials

    def _revoke_expired(self) -> None:
        while not self._stop.wait(0.05):
            with self._lock:
                expired = [c for c in self._live if c.expires_in_s() <= 0]
                if expired:
                    self._live = [c for c in self._live if c not in expired]
                    for credentials in expired:
                        self._forget(credentials)
                    self._apply()
                    self.revoked += len(expired)

    def _forget(self, credentials: Credentials) -> None:
        if self._gateway is not None:
            self._gateway.remove_identity(credentials.access_key)

    def _apply(self) -> None:
        self._server.set_identity(IDENTITY, [(c.access_key, c.secret_key) for c in self._live])
