"""Copy one model Hugging Face -> Spaces (`upload`) or Spaces -> NFS (`download`).

Each step is idempotent: it is skipped when its completion marker exists (and, with --revision,
records that commit: the marker is what makes the copy content-addressed), files already copied
with the right size are not copied again (a retried Job resumes), and the marker is written last,
so a marker always means "every file is there". The upload streams from the Hub straight into
multipart uploads, so the management node never needs 70 GB of local disk.

The download trusts nothing the bucket says about content: every file it places on the share was first
checked against the hash Hugging Face publishes for it at that revision (SHA-256 for LFS files, the git
blob SHA-1 for the rest), and only the files Hugging Face lists are copied. Whoever else can write the
bucket (another stack's key, a leaked one) cannot get a file of their own served.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

UPLOAD_MARKER = ".upload-complete"
DOWNLOAD_MARKER = ".download-complete"
CHUNK = 64 * 1024 * 1024


def _s3(endpoint: str, region: str):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=os.environ["SPACES_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["SPACES_SECRET_ACCESS_KEY"],
        config=Config(retries={"max_attempts": 10, "mode": "adaptive"}),
    )


def _transfer():
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(multipart_threshold=CHUNK, multipart_chunksize=CHUNK, max_concurrency=4)


def _size(s3, bucket: str, key: str) -> int | None:
    """Size of an object, or None when it does not exist."""
    from botocore.exceptions import ClientError

    try:
        return s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def _marker_revision(body: bytes) -> str | None:
    """The Hugging Face commit a completion marker records (None for an unreadable marker)."""
    try:
        return json.loads(body).get("revision")
    except ValueError:
        return None


class HashMismatch(Exception):
    """A copied file is not the one Hugging Face published."""


def source_hashes(model: str, revision: str, token: str | None) -> dict[str, tuple[str, str, int]]:
    """name -> (algorithm, hex digest, size) as Hugging Face publishes them for `model` at `revision`."""
    from huggingface_hub import HfApi

    info = HfApi(token=token).model_info(model, revision=revision, files_metadata=True)
    hashes = {}
    for sibling in info.siblings:
        lfs = sibling.lfs
        if lfs:
            sha256 = lfs["sha256"] if isinstance(lfs, dict) else lfs.sha256
            hashes[sibling.rfilename] = ("sha256", sha256, int(sibling.size or 0))
        else:
            hashes[sibling.rfilename] = ("git-blob-sha1", sibling.blob_id, int(sibling.size or 0))
    return hashes


def file_digest(path: Path, algorithm: str) -> str:
    """The file's SHA-256, or its git blob id (SHA-1 over `blob <size>\\0` and the bytes)."""
    if algorithm == "sha256":
        digest = hashlib.sha256()
    else:
        digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with path.open("rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, name: str, expected: tuple[str, str, int]) -> None:
    algorithm, want, _size = expected
    got = file_digest(path, algorithm)
    if got != want:
        raise HashMismatch(f"{name}: {algorithm} {got} is not the {want} Hugging Face publishes for it")


def upload(args: argparse.Namespace) -> int:
    """Hugging Face -> s3://bucket/models/<model>/, then the upload marker."""
    from huggingface_hub import HfApi, HfFileSystem

    s3 = _s3(args.endpoint, args.region)
    prefix = f"models/{args.model}/"
    if _size(s3, args.bucket, prefix + UPLOAD_MARKER) is not None:
        have = _marker_revision(s3.get_object(Bucket=args.bucket, Key=prefix + UPLOAD_MARKER)["Body"].read())
        if args.revision is None or have == args.revision:
            print(f"skip: s3://{args.bucket}/{prefix}{UPLOAD_MARKER} exists (revision {have})")
            return 0
        print(f"s3://{args.bucket}/{prefix} holds revision {have}, {args.revision} wanted: copying it")
    token = os.environ.get("HF_TOKEN") or None
    info = HfApi(token=token).model_info(args.model, revision=args.revision, files_metadata=True)
    fs = HfFileSystem(token=token)
    files: dict[str, int] = {}
    for sibling in info.siblings:
        name, size = sibling.rfilename, int(sibling.size or 0)
        files[name] = size
        if _size(s3, args.bucket, prefix + name) == size:
            print(f"have {name}")
            continue
        print(f"copy {name} ({size / 1e9:.2f} GB)", flush=True)
        with fs.open(f"{args.model}/{name}", "rb", revision=info.sha, block_size=CHUNK) as source:
            s3.upload_fileobj(source, args.bucket, prefix + name, Config=_transfer())
    marker = {"model": args.model, "revision": info.sha, "files": files}
    s3.put_object(Bucket=args.bucket, Key=prefix + UPLOAD_MARKER, Body=json.dumps(marker, indent=1).encode())
    print(f"done: {len(files)} files in s3://{args.bucket}/{prefix}")
    return 0


def download(args: argparse.Namespace) -> int:
    """s3://bucket/models/<model>/ -> <target>/<model>/, then the download marker."""
    root = Path(args.target) / args.model
    marker = root / DOWNLOAD_MARKER
    if marker.exists() and (args.revision is None or _marker_revision(marker.read_bytes()) == args.revision):
        print(f"skip: {marker} exists")
        return 0
    s3 = _s3(args.endpoint, args.region)
    prefix = f"models/{args.model}/"
    if _size(s3, args.bucket, prefix + UPLOAD_MARKER) is None:
        print(f"error: s3://{args.bucket}/{prefix}{UPLOAD_MARKER} is missing; the upload Job has not finished", file=sys.stderr)
        return 2
    manifest = json.loads(s3.get_object(Bucket=args.bucket, Key=prefix + UPLOAD_MARKER)["Body"].read())
    if args.revision is not None and manifest.get("revision") != args.revision:
        print(f"error: s3://{args.bucket}/{prefix} holds revision {manifest.get('revision')}, not {args.revision}; "
              "the upload Job has not finished", file=sys.stderr)
        return 2
    revision = args.revision or manifest.get("revision")
    expected = source_hashes(args.model, revision, os.environ.get("HF_TOKEN") or None)
    ignored = sorted(set(manifest.get("files", {})) - set(expected))
    if ignored:
        print(f"not copied (Hugging Face does not list them at {revision}): {', '.join(ignored)}")
    for name, want in expected.items():
        dest = root / name
        # A file only ever reaches its final name after its hash matched (below), so size is enough here.
        if dest.exists() and dest.stat().st_size == want[2]:
            print(f"have {name}")
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(dest.name + ".partial")
        print(f"copy {name} ({want[2] / 1e9:.2f} GB)", flush=True)
        s3.download_file(args.bucket, prefix + name, str(partial), Config=_transfer())
        try:
            verify(partial, name, want)
        except HashMismatch as exc:
            partial.unlink()
            print(f"error: s3://{args.bucket}/{prefix}{exc}; removed, nothing placed", file=sys.stderr)
            return 3
        partial.replace(dest)
    marker.write_text(json.dumps({"model": args.model, "revision": revision,
                                  "files": {name: {"size": w[2], w[0]: w[1]} for name, w in expected.items()}}, indent=1))
    print(f"done: {len(expected)} files in {root}, each verified against Hugging Face's hashes")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("step", choices=("upload", "download"))
    parser.add_argument("--model", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--revision", help="Hugging Face commit to copy (default: the repository's current one)")
    parser.add_argument("--target", default="/models", help="NFS mount point (download only)")
    args = parser.parse_args(argv)
    return upload(args) if args.step == "upload" else download(args)


if __name__ == "__main__":
    sys.exit(main())
