"""Build a Hugging Face Hub cache on disk, so the real download code runs offline in tests."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path


def seed_hub_cache(
    cache_dir: str | Path,
    repo_id: str,
    files: dict[str, bytes | Path],
    commit: str | None = None,
    branch: str = "main",
) -> str:
    """Lay out ``models--org--name/{blobs,snapshots/<commit>,refs/<branch>}`` like huggingface_hub.

    ``files`` maps a path in the repo to its bytes or to a file to copy. Returns the commit hash.
    """
    repo_dir = Path(cache_dir) / ("models--" + repo_id.replace("/", "--"))
    commit = commit or hashlib.sha1(repo_id.encode()).hexdigest()
    snapshot = repo_dir / "snapshots" / commit
    (repo_dir / "blobs").mkdir(parents=True, exist_ok=True)
    (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        data = Path(content).read_bytes() if isinstance(content, Path) else content
        blob = repo_dir / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        target = snapshot / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() or target.is_symlink():
            target.unlink()
        try:
            target.symlink_to(Path("../" * (len(Path(name).parts) + 1)) / "blobs" / blob.name)
        except OSError:
            shutil.copyfile(blob, target)
    (repo_dir / "refs" / branch).write_text(commit)
    return commit
