"""Evidence files in an S3-compatible bucket (AWS S3, or MinIO, Ceph RGW ... by
`s3_endpoint_url`): the object `<s3_prefix><key>`, with the SHA-256 recorded at upload also as
its metadata (`x-amz-meta-sha256`), so the bucket can be audited without the database.

boto3 is blocking: `storage.EvidenceStore` makes every call here in a worker thread (its
docstring says why). One client per app (`storage.evidence_store`); boto3 clients are safe to
share between threads, and each holds a connection pool.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from services.findings.settings import FindingsSettings

log = logging.getLogger(__name__)

PART = 8 * 1024 * 1024
MISSING = frozenset({"NoSuchKey", "404"})
DELETE_BATCH = 1000  # the most one DeleteObjects call takes


class S3Backend:
    """Files are uploaded whole (one PUT) up to `multipart_threshold`, in parts above it, so a
    file of hundreds of MB is neither one long request nor retried from its start."""

    def __init__(
        self, client: Any, bucket: str, prefix: str, *, multipart_threshold: int = PART
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=max(multipart_threshold, 5 * 1024 * 1024),  # S3's least part
            max_concurrency=4,
            preferred_transfer_client="classic",
        )

    @classmethod
    def from_settings(cls, settings: FindingsSettings) -> S3Backend:
        assert settings.s3_bucket is not None  # the settings refuse s3 without one
        return cls(s3_client(settings), settings.s3_bucket, settings.s3_prefix)

    def object_key(self, key: str) -> str:
        return self.prefix + key

    def put(self, tmp: Path, key: str, sha256: str) -> None:
        self.client.upload_file(
            str(tmp),
            self.bucket,
            self.object_key(key),
            ExtraArgs={"Metadata": {"sha256": sha256}},
            Config=self.transfer,
        )

    def open(self, key: str) -> Any:
        """botocore's StreamingBody: read(n) and close(), as `storage.Readable` asks."""
        try:
            found = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in MISSING:
                raise FileNotFoundError(self.object_key(key)) from None
            raise
        return found["Body"]

    def delete(self, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start : start + DELETE_BATCH]
            answer = self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": self.object_key(k)} for k in batch], "Quiet": True},
            )
            for error in answer.get("Errors", []):
                log.error(
                    "could not remove evidence object %s: %s",
                    error.get("Key"),
                    error.get("Message"),
                )


def s3_client(settings: FindingsSettings) -> Any:
    """A client of its own session (the default session is not for sharing between threads).
    Without keys in the settings, boto3's chain finds them (AWS_* variables, a role)."""
    options: dict[str, Any] = {
        "connect_timeout": 5,
        "read_timeout": 60,
        "retries": {"mode": "standard", "max_attempts": 3},
        # a few requests at once, each uploading up to 4 parts in parallel
        "max_pool_connections": 32,
    }
    if settings.s3_endpoint_url:
        # Other S3-compatible stores are reached by path (`host/bucket/key`): a bucket name as
        # a subdomain of `minio:9000` resolves nowhere. And not all of them take the CRC
        # checksums boto3 adds to every request since 1.36: only where the API requires one.
        options["s3"] = {"addressing_style": "path"}
        options["request_checksum_calculation"] = "when_required"
        options["response_checksum_validation"] = "when_required"
    secret = settings.s3_secret_access_key
    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key_id,
        aws_secret_access_key=secret.get_secret_value() if secret is not None else None,
        config=Config(**options),
    )
