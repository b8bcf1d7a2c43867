"""The tool's own RSA signing keys: generated on disk, rotated, published as a JWKS."""
from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto.jwk import JWK

MANIFEST = "keys.json"
KEY_BITS = 2048


class KeyRingError(Exception):
    """The key folder cannot be read or written."""


@dataclass(frozen=True)
class ToolKey:
    kid: str  # RFC 7638 thumbprint of the public key
    created_at: datetime
    private_pem: str
    public_jwk: dict
    public_pem: str

    @classmethod
    def from_private_pem(cls, private_pem: str, created_at: datetime) -> "ToolKey":
        # Parsing a private key checks it, which is slow: done once per key, not per request.
        jwk = JWK.from_pem(private_pem.encode())
        public = json.loads(jwk.export_public())
        public.update({"kid": jwk.thumbprint(), "alg": "RS256", "use": "sig"})
        public_pem = jwk.export_to_pem(private_key=False).decode()
        return cls(public["kid"], created_at, private_pem, public, public_pem)


@dataclass(frozen=True)
class KeyStatus:
    """A key's role now: `signing` (the newest), `published` (in the JWKS until `published_until`), `retired`."""

    kid: str
    created_at: datetime
    role: str
    published_until: datetime | None = None


class KeyRing:
    """Keys in a folder; re-read when the manifest changes, so a rotation reaches every worker."""

    def __init__(self, folder: str | Path, grace: timedelta = timedelta(days=7)):
        self.folder = Path(folder)
        self.grace = grace
        self._lock = threading.Lock()
        self._loaded_mtime: float | None = None
        self._keys: list[ToolKey] = []
        self._manifest = os.fspath(self.folder / MANIFEST)  # stat()ed on every call of keys(): no Path each time

    @property
    def manifest_path(self) -> Path:
        return self.folder / MANIFEST

    def keys(self) -> list[ToolKey]:
        """All keys, oldest first."""
        try:
            mtime = os.stat(self._manifest).st_mtime_ns
        except FileNotFoundError:
            return []
        if mtime != self._loaded_mtime:
            with self._lock:
                self._keys = self._read()
                self._loaded_mtime = mtime
        return self._keys

    def _read(self) -> list[ToolKey]:
        entries = json.loads(self.manifest_path.read_text())
        keys = []
        for entry in entries:
            pem = (self.folder / entry["file"]).read_text()
            keys.append(ToolKey.from_private_pem(pem, datetime.fromisoformat(entry["created_at"])))
        return sorted(keys, key=lambda k: k.created_at)

    def signing_key(self) -> ToolKey:
        keys = self.keys()
        if not keys:
            raise KeyRingError(f"no signing key in {self.folder}: run `lti-tool keys rotate`")
        return keys[-1]

    def published(self, now: datetime) -> list[ToolKey]:
        """The newest key plus every older one whose successor is younger than the grace period."""
        keys = self.keys()
        return [key for i, key in enumerate(keys)
                if i == len(keys) - 1 or keys[i + 1].created_at > now - self.grace]

    def statuses(self, now: datetime) -> list[KeyStatus]:
        """Every key with its role, oldest first (for `keys list` and the admin console)."""
        keys = self.keys()
        published = {key.kid for key in self.published(now)}
        result = []
        for i, key in enumerate(keys):
            if i == len(keys) - 1:
                result.append(KeyStatus(key.kid, key.created_at, "signing"))
            else:
                role = "published" if key.kid in published else "retired"
                result.append(KeyStatus(key.kid, key.created_at, role, keys[i + 1].created_at + self.grace))
        return result

    def jwks(self, now: datetime) -> dict:
        return {"keys": [key.public_jwk for key in reversed(self.published(now))]}

    def ensure_key(self, now: datetime) -> ToolKey:
        keys = self.keys()
        return keys[-1] if keys else self.rotate(now)

    def rotate(self, now: datetime) -> ToolKey:
        """Add a new newest key; older keys stay published for the grace period."""
        self.folder.mkdir(parents=True, exist_ok=True)
        private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
        key = ToolKey.from_private_pem(pem, now)
        file_name = f"{key.kid}.pem"
        _write_private(self.folder / file_name, pem)
        entries = json.loads(self.manifest_path.read_text()) if self.manifest_path.exists() else []
        entries.append({"kid": key.kid, "file": file_name, "created_at": now.astimezone(timezone.utc).isoformat()})
        tmp = self.manifest_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(entries, indent=2))
        os.replace(tmp, self.manifest_path)
        return key


def _write_private(path: Path, pem: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(pem)
