"""API keys: 128 random bits shown once; only their SHA-256 is stored.

A plain hash is enough for keys of this entropy (no password stretching needed), and lookup by
hash through a unique index takes the same path whether the key exists or not.
"""

from __future__ import annotations

import hashlib
import secrets


def new_key() -> str:
    return secrets.token_hex(16)  # 32 hex characters, the shape SMM panels use


def key_hash(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()
