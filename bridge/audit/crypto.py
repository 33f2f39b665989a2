"""Hash and signature algorithms of the audit log, chosen by name and recorded.

SHA-256 with Ed25519 (the ``cryptography`` package) by default; SM3 with SM2
(the ``gmssl`` package) for deployments bound to the national commercial
algorithms. Key files are small JSON documents naming their algorithm.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.errors import ConfigError

HASHES = ("sha256", "sm3")
SIGNATURES = ("ed25519", "sm2")


def digest(algorithm: str, data: bytes) -> str:
    """The hex digest of ``data`` under ``algorithm`` (sha256 or sm3)."""
    if algorithm == "sha256":
        return hashlib.sha256(data).hexdigest()
    if algorithm == "sm3":
        from gmssl import func, sm3  # type: ignore[import-untyped]

        return str(sm3.sm3_hash(func.bytes_to_list(data)))
    raise ConfigError(f"audit.hash: unknown algorithm {algorithm!r}")


@dataclass(frozen=True)
class PublicKey:
    """A verification key: enough to check checkpoints, never to make them."""

    algorithm: str
    hex: str

    @property
    def key_id(self) -> str:
        return hashlib.sha256(f"{self.algorithm}:{self.hex}".encode()).hexdigest()[:16]

    def verify(self, message: bytes, signature: str) -> bool:
        """Whether ``signature`` (hex) is this key's signature over ``message``."""
        try:
            if self.algorithm == "ed25519":
                return _ed25519_verify(self.hex, message, signature)
            if self.algorithm == "sm2":
                return _sm2(None, self.hex).verify_with_sm3(signature, message) is True
        except (ValueError, TypeError):
            return False
        raise ConfigError(f"audit.signature: unknown algorithm {self.algorithm!r}")


@dataclass(frozen=True)
class PrivateKey:
    """The bridge's signing key."""

    algorithm: str
    hex: str
    public: PublicKey

    def sign(self, message: bytes) -> str:
        """The hex signature over ``message``."""
        if self.algorithm == "ed25519":
            from cryptography.hazmat.primitives.asymmetric import ed25519

            key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(self.hex))
            return key.sign(message).hex()
        signer = _sm2(self.hex, self.public.hex)
        return str(signer.sign_with_sm3(message, secrets.token_hex(32)))


def generate(algorithm: str) -> PrivateKey:
    """A new key pair for ``algorithm``."""
    if algorithm == "ed25519":
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519

        key = ed25519.Ed25519PrivateKey.generate()
        raw = serialization.Encoding.Raw
        private = key.private_bytes(
            raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        ).hex()
        public = key.public_key().public_bytes(raw, serialization.PublicFormat.Raw)
        return PrivateKey(algorithm, private, PublicKey(algorithm, public.hex()))
    if algorithm == "sm2":
        return _sm2_generate()
    raise ConfigError(f"audit.signature: unknown algorithm {algorithm!r}")


def save_keys(key: PrivateKey, private_path: Path, public_path: Path) -> None:
    """Write the key pair; the private file readable by its owner only."""
    private_path.parent.mkdir(parents=True, exist_ok=True)
    public_path.parent.mkdir(parents=True, exist_ok=True)
    body = {"algorithm": key.algorithm, "private": key.hex, "public": key.public.hex}
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(body, out)
    public = {"algorithm": key.algorithm, "public": key.public.hex}
    public_path.write_text(json.dumps(public), encoding="utf-8")


def load_private(path: Path) -> PrivateKey:
    """Read a private key file written by :func:`save_keys`."""
    data = _read_key(path)
    public = PublicKey(data["algorithm"], data["public"])
    return PrivateKey(data["algorithm"], data["private"], public)


def load_public(path: Path) -> PublicKey:
    """Read a public key file (or take the public half of a private one)."""
    data = _read_key(path)
    return PublicKey(data["algorithm"], data["public"])


def _read_key(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"audit key file {path} not found") from exc
    except ValueError as exc:
        raise ConfigError(f"audit key file {path}: {exc}") from exc
    if data.get("algorithm") not in SIGNATURES or "public" not in data:
        raise ConfigError(f"audit key file {path}: not an audit key")
    return dict(data)


def _ed25519_verify(public_hex: str, message: bytes, signature: str) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex))
    try:
        key.verify(bytes.fromhex(signature), message)
    except InvalidSignature:
        return False
    return True


def _sm2(private_hex: str | None, public_hex: str) -> Any:
    from gmssl import sm2  # type: ignore[import-untyped]

    curve = sm2.CryptSM2(private_key=private_hex, public_key=public_hex)
    # gmssl takes a leading "04" for the uncompressed-point marker and strips
    # it with lstrip, which also eats the key's own leading 0s and 4s: one key
    # in 256 (x starting with 0x04) would sign and verify with a wrong point
    curve.public_key = public_hex
    return curve


def _sm2_generate() -> PrivateKey:
    from gmssl import sm2  # type: ignore[import-untyped]

    order = int(sm2.default_ecc_table["n"], 16)
    scalar = secrets.randbelow(order - 1) + 1
    private = f"{scalar:064x}"
    curve = sm2.CryptSM2(private_key=private, public_key="")
    public = curve._kg(scalar, sm2.default_ecc_table["g"])
    return PrivateKey("sm2", private, PublicKey("sm2", public))
