"""Publish an export folder to the Hugging Face Hub, so ``aikd score --model hf://org/name`` loads it."""

from __future__ import annotations

from pathlib import Path

from aikd_cli.errors import AikdError


def check_repo_id(repo_id: str) -> None:
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise AikdError(f"--push-to-hub {repo_id!r}: expected a repository id like org/name")


def push_to_hub(
    folder: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    token: str | None = None,
    endpoint: str | None = None,
    commit_message: str | None = None,
) -> str:
    """Create ``repo_id`` if needed and upload ``folder``; return the commit URL.

    The token comes from the usual places (``HF_TOKEN``, ``hf auth login``) unless given;
    ``endpoint`` defaults to ``HF_ENDPOINT`` / huggingface.co. An existing repository keeps its
    visibility (``private`` only applies when the repository is created).
    """
    from huggingface_hub import HfApi, constants
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    folder = Path(folder)
    check_repo_id(repo_id)
    if constants.is_offline_mode():
        raise AikdError(
            f"cannot push to {repo_id}: Hugging Face offline mode is on (HF_HUB_OFFLINE=1)",
            hint=f"the export is complete in {folder}; unset HF_HUB_OFFLINE and push again with `hf upload {repo_id} {folder}`",
        )
    api = HfApi(endpoint=endpoint, token=token)
    try:
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        info = api.upload_folder(
            repo_id=repo_id,
            folder_path=str(folder),
            commit_message=commit_message or f"aikd export ({folder.name})",
        )
    except (HfHubHTTPError, OfflineModeIsEnabled, OSError, ValueError) as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status in (401, 403):
            hint = (
                "log in with `hf auth login` (or set HF_TOKEN) with a token that can write to this namespace"
            )
        else:
            hint = f"the export is complete in {folder}; retry later, or upload it with `hf upload {repo_id} {folder}`"
        text = " ".join(line.strip("- ") for line in str(exc).strip().splitlines()) or type(exc).__name__
        raise AikdError(f"pushing to {repo_id} failed: {text}", hint=hint) from None
    return str(info.commit_url)
