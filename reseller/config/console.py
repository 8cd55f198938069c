"""The operator web console (`admin:`): off unless enabled, on a listener of its own.

```yaml
admin:
  enabled: true
  host: 127.0.0.1             # behind a reverse proxy with TLS for anything but loopback
  port: 8081
  secret_env: RESELLER_ADMIN_SECRET   # the session cookie's key, never in the file
  secure_cookie: false        # true when served over HTTPS (behind the proxy)
  idle_minutes: 30            # signed out after this long without a request
  absolute_hours: 12          # and this long after signing in, whatever happens
  sign_ins_per_minute: 5      # failed or not, per account and per address
  figures_seconds: 60         # the dashboard's 30 days of money are at most this old
  client_address_header: null # e.g. X-Real-IP behind a proxy that overwrites it (sign-in limits)
```
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass

from reseller.config.reader import Section, boolean, env_name, integer, text

SECRET_BYTES = 32  # the cookie cipher's key


@dataclass(frozen=True, slots=True)
class ConsoleConfig:
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 8081
    secret_env: str = "RESELLER_ADMIN_SECRET"
    secure_cookie: bool = False
    idle_minutes: int = 30
    absolute_hours: int = 12
    sign_ins_per_minute: int = 5
    # Summing 30 days of orders takes about half a second at 1 000 000 orders a year: the
    # dashboard shows the last sum, made again in the background once it is this old.
    figures_seconds: int = 60
    # As api.client_address_header: behind a reverse proxy every sign-in comes from the proxy's
    # address, so its per-address limit would lock everyone out together.
    client_address_header: str | None = None

    def secret(self) -> bytes | None:
        """The key from the environment: 32 bytes, URL-safe base64 (`secrets.token_urlsafe(32)`
        or `openssl rand -base64 32`); None when unset or not such a key."""
        raw = os.environ.get(self.secret_env, "").strip()
        try:
            key = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        except (binascii.Error, ValueError):
            return None
        return key if len(key) == SECRET_BYTES else None

    def missing_secrets(self) -> list[str]:
        if not self.enabled or self.secret() is not None:
            return []
        return [
            f"admin.secret_env: environment variable {self.secret_env} is not set to a"
            f" {SECRET_BYTES}-byte key in URL-safe base64"
        ]


def read_console(root: Section) -> ConsoleConfig:
    s = root.section("admin")
    settings = ConsoleConfig(
        **s.read(
            ConsoleConfig,
            enabled=boolean,
            host=text,
            port=integer(1, 65535),
            secret_env=env_name,
            secure_cookie=boolean,
            idle_minutes=integer(1, 24 * 60),
            absolute_hours=integer(1, 24 * 30),
            sign_ins_per_minute=integer(1, 1000),
            figures_seconds=integer(0, 3600),
            client_address_header=text,
        )
    )
    s.forbid("secret", "put it in an environment variable and name it in secret_env")
    s.finish()
    return settings
