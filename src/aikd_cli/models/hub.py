"""Fetching weights from the Hugging Face Hub, with checks and errors a user can act on.

Everything goes through ``huggingface_hub`` into the normal HF cache (``HF_HOME``), so files are
shared with other tools, work offline once cached (``HF_HUB_OFFLINE=1``), and can be pre-seeded on
air-gapped machines by copying the cache. Registered (pinned) weights are taken from the cache
without asking the Hub first. Every network failure -- no DNS, refused connection, timeout, proxy,
HTTP 5xx, rate limit -- becomes one :class:`~aikd_cli.errors.WeightsError` within a few seconds: the
Hub is asked once with a short timeout and never retried.
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

#: Seconds to wait for the Hub's first answer (``AIKD_HUB_TIMEOUT`` overrides it).
DEFAULT_TIMEOUT_S = 5.0

_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy")
_DNS_FAILURES = ("name or service not known", "nodename nor servname", "getaddrinfo", "name resolution",
                 "no address associated")


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


@dataclass(frozen=True)
class Fetched:
    """A local weights file; ``downloaded`` is true when this call brought it into the cache."""

    path: Path
    downloaded: bool


def timeout_s() -> float:
    try:
        return float(os.environ.get("AIKD_HUB_TIMEOUT", DEFAULT_TIMEOUT_S))
    except ValueError:
        return DEFAULT_TIMEOUT_S


def _offline() -> bool:
    from huggingface_hub import constants

    return bool(getattr(constants, "HF_HUB_OFFLINE", False))


def _endpoint() -> str:
    from huggingface_hub import constants

    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _reason(exc: BaseException) -> str | None:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(status, int) and (status in (407, 408, 429) or status >= 500):
        return {
            407: "the proxy asks for authentication (HTTP 407)",
            429: "the Hub is rate-limiting this machine (HTTP 429)",
        }.get(status, f"the Hub answered HTTP {status}")
    name, text = type(exc).__name__, _first_line(exc)
    if "Proxy" in name:
        return f"the proxy failed ({text})"
    if "Timeout" in name or isinstance(exc, TimeoutError):
        return f"no answer within {timeout_s():g} s"
    if any(s in text.lower() for s in _DNS_FAILURES):
        return "its host name cannot be resolved (no network or no DNS)"
    if "refused" in text.lower():
        return "the connection was refused"
    if any(w in name for w in ("Connect", "Network", "RemoteProtocol")) or isinstance(exc, ConnectionError):
        return f"the connection failed ({text})"
    return None


def network_reason(exc: BaseException) -> str | None:
    """A few words on the network failure behind ``exc`` (or anything in its cause chain), or
    ``None`` when it is not a network failure."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if (reason := _reason(cur)) is not None:
            return reason
        cur = cur.__cause__ or cur.__context__
    return None


def _describe(exc: BaseException) -> str:
    """Why the Hub gave no file when the network is fine: the HTTP status, else the root cause."""
    cur: BaseException = exc
    for _ in range(16):
        status = getattr(getattr(cur, "response", None), "status_code", None)
        if isinstance(status, int):
            return f"it answered HTTP {status}"
        nxt = cur.__cause__ or cur.__context__
        if nxt is None:
            break
        cur = nxt
    return _first_line(cur)


def _unreachable(label: str, exc: BaseException | None, ref: HubRef) -> WeightsError:
    """One line for "the file is not cached and the Hub did not give it", with the next step."""
    rev = f" --revision {ref.revision}" if ref.revision and ref.revision != "main" else ""
    what = f" {ref.filename}" if ref.filename else ""
    fetch = (f"on a machine with internet run `hf download {ref.repo_id}{what}{rev}` and copy the Hugging Face "
             f"cache (~/.cache/huggingface) here, or pass a local file")
    if _offline():
        return WeightsError(f"{label}: not in the local Hugging Face cache and offline mode is on (HF_HUB_OFFLINE=1)",
                            hint=f"unset HF_HUB_OFFLINE to download it; or {fetch}")
    reason = network_reason(exc) if exc is not None else "no answer"
    proxy = next((os.environ[v] for v in _PROXY_VARIABLES if os.environ.get(v)), None)
    if reason is not None and proxy:
        reason += f" (through the proxy {proxy})"
    where = f"the Hugging Face Hub ({_endpoint()})"
    why = f"{where} cannot be reached: {reason}" if reason is not None else f"{where} gave no file: {_describe(exc)}"
    first = "wait a few minutes or log in with `hf auth login`" if reason and "429" in reason else \
        "check the network and proxy settings (HTTPS_PROXY)"
    return WeightsError(f"{label}: not in the local Hugging Face cache and {why}",
                        hint=f"{first}; or {fetch}; HF_HUB_OFFLINE=1 skips the Hub for cached files")


def sha256_of(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify_file(path: str | Path, expected: str | None, label: str, size: int | None = None) -> None:
    """Refuse ``path`` unless it has the published size and sha256 (where they are known)."""
    actual_size = Path(path).stat().st_size
    if size is not None and actual_size != size:
        raise WeightsError(
            f"{label}: {actual_size:,} bytes, expected {size:,}: not the published file",
            hint=f"delete {path} and download it again",
        )
    if expected is None:
        return
    actual = sha256_of(path)
    if actual != expected.lower():
        raise WeightsError(
            f"{label}: checksum mismatch (sha256 {actual[:16]}..., expected {expected[:16]}...)",
            hint=f"the file {path} is corrupt or not the published one; delete it and download again",
        )


def _cached(repo_id: str, filename: str, revision: str | None) -> Path | None:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(hf_hub_download(repo_id, filename, revision=revision, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        return None


def download(
    repo_id: str,
    filename: str,
    revision: str | None = None,
    sha256: str | None = None,
    *,
    size: int | None = None,
    prefer_cache: bool = False,
) -> Fetched:
    """The local copy of ``repo_id/filename``, downloaded into the HF cache if needed and verified.

    ``prefer_cache`` takes a cached copy without asking the Hub (pinned registry weights).
    """
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
    ref = HubRef(repo_id, filename, revision)
    cached = _cached(repo_id, filename, revision) if prefer_cache else None
    if cached is not None:
        verify_file(cached, sha256, label, size)
        return Fetched(cached, False)
    try:
        if not _offline():
            _probe(ref)
        path = Path(hf_hub_download(repo_id, filename, revision=revision, endpoint=_endpoint(),
                                    etag_timeout=timeout_s()))
    except (LocalEntryNotFoundError, OfflineModeIsEnabled) as exc:
        raise _unreachable(label, exc, ref) from None
    except GatedRepoError:
        raise WeightsError(f"{label}: the repository is gated", hint="accept its terms on the Hub and run `hf auth login`") from None
    except RepositoryNotFoundError:
        raise WeightsError(f"{repo_id}: no such repository on the Hub (or it is private: run `hf auth login`)") from None
    except RevisionNotFoundError:
        raise WeightsError(f"{repo_id}: revision {revision!r} does not exist") from None
    except EntryNotFoundError:
        raise WeightsError(f"{label}: no such file in the repository (revision {revision or 'main'})") from None
    except Exception as exc:  # HfHubHTTPError, OSError, and the HTTP client's own errors
        if network_reason(exc) is None and not isinstance(exc, (HfHubHTTPError, OSError)):
            raise
        if (stale := _cached(repo_id, filename, revision)) is not None:  # the Hub is down: use the cache
            verify_file(stale, sha256, label, size)
            return Fetched(stale, False)
        if network_reason(exc) is not None or isinstance(exc, HfHubHTTPError):
            raise _unreachable(label, exc, ref) from None
        raise WeightsError(f"{label}: download failed ({_first_line(exc)})") from exc
    verify_file(path, sha256, label, size)
    return Fetched(path, True)


def _probe(ref: HubRef) -> None:
    """Ask the Hub about one file, once, with the short timeout. huggingface_hub itself retries a
    failed look-up for about half a minute when the file is not cached; this fails first."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    get_hf_file_metadata(hf_hub_url(ref.repo_id, ref.filename, revision=ref.revision, endpoint=_endpoint()),
                         timeout=timeout_s())


def _cached_listing(ref: HubRef) -> list[str] | None:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        folder = Path(snapshot_download(ref.repo_id, revision=ref.revision, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        return None
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def list_files(repo_id: str, revision: str | None = None, *, prefer_cache: bool = False) -> list[str]:
    """Files in a Hub repo: from the cached snapshot (first when ``prefer_cache``, or when the Hub
    cannot be reached), else asked of the Hub with one short request."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

    ref = HubRef(repo_id, None, revision)
    cached = _cached_listing(ref) if prefer_cache or _offline() else None
    if cached is not None:
        return cached
    error: BaseException | None = None
    if not _offline():
        try:
            info = HfApi(endpoint=_endpoint()).model_info(repo_id, revision=revision, timeout=timeout_s())
            return sorted(s.rfilename for s in info.siblings or [])
        except RepositoryNotFoundError:
            raise WeightsError(f"{repo_id}: no such repository on the Hub (or it is private: run `hf auth login`)") from None
        except RevisionNotFoundError:
            raise WeightsError(f"{repo_id}: revision {revision!r} does not exist") from None
        except Exception as exc:  # HfHubHTTPError, OSError and the HTTP client's own errors
            if network_reason(exc) is None:
                if isinstance(exc, (HfHubHTTPError, OSError)):
                    raise WeightsError(f"{repo_id}: cannot list the repository ({_first_line(exc)})") from exc
                raise
            error = exc
    cached = _cached_listing(ref)
    if cached is None:
        raise _unreachable(repo_id, error, ref)
    return cached


def cached(ref: HubRef) -> Path | None:
    """The cached copy of what ``ref`` points to, or ``None``; never uses the network."""
    filename = ref.filename
    if filename is None:
        files = _cached_listing(ref)
        try:
            filename = pick_weight_file(ref.repo_id, files) if files else None
        except WeightsError:
            return None
    return _cached(ref.repo_id, filename, ref.revision) if filename else None


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


def resolve(ref: HubRef, sha256: str | None = None, *, size: int | None = None, prefer_cache: bool = False) -> Fetched:
    """Download what ``ref`` points to (listing the repo first when no file is named)."""
    filename = ref.filename or pick_weight_file(ref.repo_id, list_files(ref.repo_id, ref.revision, prefer_cache=prefer_cache))
    return download(ref.repo_id, filename, ref.revision, sha256, size=size, prefer_cache=prefer_cache)
