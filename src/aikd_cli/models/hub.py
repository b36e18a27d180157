"""Fetching weights from the Hugging Face Hub, with checks and errors a user can act on.

Everything goes through ``huggingface_hub`` into the normal HF cache (``HF_HOME``), so files are
shared with other tools, work offline once cached (``HF_HUB_OFFLINE=1``), and can be pre-seeded on
air-gapped machines by copying the cache.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from aikd_cli.errors import WeightsError

#: Weight files we can read, most preferred first (used when a repo's file name is not pinned);
#: an ONNX export is picked only from a repo that holds no torch weights.
WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model.bin", "*.pth", "*.pt", "*.ckpt", "*.bin", "*.onnx")


@dataclass(frozen=True)
class HubRef:
    """``hf://org/name[@revision][/path/in/repo]``."""

    repo_id: str
    filename: str | None = None
    revision: str | None = None

    @classmethod
    def parse(cls, uri: str) -> HubRef:
        body = uri.removeprefix("hf://").strip("/")
        parts = body.split("/")
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise WeightsError(f"{uri}: expected hf://org/name[@revision][/file]")
        name, _, revision = parts[1].partition("@")
        filename = "/".join(parts[2:]) or None
        return cls(f"{parts[0]}/{name}", filename, revision or None)

    def __str__(self) -> str:
        rev = f"@{self.revision}" if self.revision else ""
        return f"hf://{self.repo_id}{rev}" + (f"/{self.filename}" if self.filename else "")


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")


def _how_to_fetch(repo_id: str, filename: str | None, revision: str | None) -> str:
    rev = f" --revision {revision}" if revision and revision != "main" else ""
    what = f" {filename}" if filename else ""
    return (
        f"on a machine with internet run `hf download {repo_id}{what}{rev}` and copy the Hugging Face "
        f"cache (~/.cache/huggingface) here, or pass a local file with --model/--detector"
    )


def sha256_of(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: str | Path, expected: str | None, label: str) -> None:
    if expected is None:
        return
    actual = sha256_of(path)
    if actual != expected.lower():
        raise WeightsError(
            f"{label}: checksum mismatch (sha256 {actual[:16]}..., expected {expected[:16]}...)",
            hint=f"the cached file {path} is corrupt or not the published one; delete it and download again",
        )


def download(repo_id: str, filename: str, revision: str | None = None, sha256: str | None = None) -> Path:
    """Return the local path of ``repo_id/filename``, downloading it into the HF cache if needed."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    label = f"{repo_id}/{filename}"
    try:
        path = hf_hub_download(repo_id, filename, revision=revision)
    except (LocalEntryNotFoundError, OfflineModeIsEnabled):
        why = "offline mode is on (HF_HUB_OFFLINE=1)" if _offline() else "the Hugging Face Hub cannot be reached"
        raise WeightsError(
            f"{label}: not in the local Hugging Face cache and {why}",
            hint=_how_to_fetch(repo_id, filename, revision),
        ) from None
    except GatedRepoError:
        raise WeightsError(f"{label}: the repository is gated", hint="accept its terms on the Hub and run `hf auth login`") from None
    except RepositoryNotFoundError:
        raise WeightsError(f"{repo_id}: no such repository on the Hub (or it is private: run `hf auth login`)") from None
    except RevisionNotFoundError:
        raise WeightsError(f"{repo_id}: revision {revision!r} does not exist") from None
    except EntryNotFoundError:
        raise WeightsError(f"{label}: no such file in the repository (revision {revision or 'main'})") from None
    except HfHubHTTPError as exc:
        raise WeightsError(f"{label}: download failed ({exc})") from None
    verify_sha256(path, sha256, label)
    return Path(path)


def list_files(repo_id: str, revision: str | None = None) -> list[str]:
    """Files in a Hub repo: asked of the Hub when online, read from the cached snapshot offline."""
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError

    if not _offline():
        try:
            return list(HfApi().list_repo_files(repo_id, revision=revision))
        except RepositoryNotFoundError:
            raise WeightsError(f"{repo_id}: no such repository on the Hub (or it is private: run `hf auth login`)") from None
        except (HfHubHTTPError, OSError):
            pass  # fall back to the cache below
    try:
        folder = Path(snapshot_download(repo_id, revision=revision, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        why = "offline mode is on (HF_HUB_OFFLINE=1)" if _offline() else "the Hugging Face Hub cannot be reached"
        raise WeightsError(
            f"{repo_id}: not in the local Hugging Face cache and {why}",
            hint=_how_to_fetch(repo_id, None, revision),
        ) from None
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def pick_weight_file(repo_id: str, files: list[str]) -> str:
    """The one weights file of a repo whose file name is not pinned; refuse to guess between two."""
    for pattern in WEIGHT_PATTERNS:
        matches = [f for f in files if fnmatch.fnmatch(Path(f).name, pattern)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise WeightsError(
                f"{repo_id}: several candidate weight files ({', '.join(matches)})",
                hint=f"name one explicitly, e.g. hf://{repo_id}/{matches[0]}",
            )
    raise WeightsError(f"{repo_id}: no weights file found among {', '.join(files) or 'no files'}")


def resolve(ref: HubRef, sha256: str | None = None) -> Path:
    """Download what ``ref`` points to (listing the repo first when no file is named)."""
    filename = ref.filename or pick_weight_file(ref.repo_id, list_files(ref.repo_id, ref.revision))
    return download(ref.repo_id, filename, ref.revision, sha256)
