"""The gateway's signing keys: Ed25519, identified by their RFC 7638 thumbprint.

One active key signs access tokens and internal tokens; retired keys stay in the JWKS until
every token they signed has expired (see deploy/README.md, "rotating the signing keys").
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM = "EdDSA"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(public: Ed25519PublicKey) -> dict[str, str]:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk = {"crv": "Ed25519", "kty": "OKP", "x": _b64(raw)}
    # RFC 7638 thumbprint: members in lexicographic order, no whitespace.
    thumb = _b64(hashlib.sha256(orjson.dumps(jwk, option=orjson.OPT_SORT_KEYS)).digest())
    return {**jwk, "kid": thumb, "alg": ALGORITHM, "use": "sig"}


def load_or_create(path: Path, *, create: bool) -> Ed25519PrivateKey:
    if not path.exists():
        if not create:
            raise FileNotFoundError(f"signing key {path} is missing (generated only in dev)")
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        return key
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return loaded


class Signer:
    def __init__(
        self, active: Ed25519PrivateKey, retired: list[Ed25519PrivateKey], issuer: str
    ) -> None:
        self.key = active
        self.issuer = issuer
        self.jwk = public_jwk(active.public_key())
        self.kid = self.jwk["kid"]
        self._public = {self.kid: active.public_key()}
        published = [self.jwk]
        for old in retired:
            jwk = public_jwk(old.public_key())
            self._public[jwk["kid"]] = old.public_key()
            published.append(jwk)
        self.jwks = {"keys": published}
        self._headers = {"kid": self.kid}

    def sign(self, claims: dict[str, Any], *, audience: str, ttl: int) -> str:
        now = int(time.time())
        payload = {
            **claims,
            "iss": self.issuer,
            "aud": audience,
            "iat": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(payload, self.key, algorithm=ALGORITHM, headers=self._headers)

    def verify(self, token: str, *, audience: str) -> dict[str, Any]:
        """Verifies a token this gateway issued; raises jwt.PyJWTError when it is not valid."""
        header = jwt.get_unverified_header(token)
        kid = header.get("kid")
        key = self._public.get(kid) if isinstance(kid, str) else None  # a list is unhashable
        if key is None or header.get("alg") != ALGORITHM:
            raise jwt.InvalidTokenError("unknown key or algorithm")
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=self.issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            leeway=5,
        )
        return claims
