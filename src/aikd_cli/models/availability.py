"""Before a command loads anything: are all the weights it names here, and if not, can they come?

Offline, a command that needs three missing files used to fail on the first, and the user learnt
about the second only after fixing it. :func:`ensure_available` looks at every weights reference
of a command at once (local files, registered names, the Hugging Face cache; no network), tries
to fetch what is missing, and when that fails says in one message which weights are missing and
which option takes a local file instead of each.
"""

from __future__ import annotations

from pathlib import Path

from aikd_cli.errors import WeightsError


def missing(ref: str) -> str | None:
    """Why ``ref`` is not here (``None`` when it is, or when it is not a weights reference at all)."""
    from aikd_cli.models import hub, user_models
    from aikd_cli.models.registry import find_spec

    if Path(ref).expanduser().exists():
        return None
    if ref.startswith("hf://"):
        return None if hub.cached(hub.HubRef.parse(ref)) is not None else "not in the Hugging Face cache"
    spec = find_spec(ref)
    if user_models.lookup(spec.name if spec else ref) is not None:
        return None
    if spec is None:  # a mistyped name or path: the loader's own error says so, before anything else
        from aikd_cli.models.loading import resolve_weights

        resolve_weights(ref)
        return None
    if not spec.hosted:
        return f"on no model hub: download {spec.filename} from {spec.url}, then `aikd models add {spec.name} FILE`"
    here = hub.cached(hub.HubRef(spec.repo_id, spec.filename, spec.revision))
    return None if here is not None else "not in the Hugging Face cache"


def ensure_available(refs: list[tuple[str, str | None]]) -> None:
    """``refs`` pairs an option (``--model``) with what the user gave it (or its default); every
    missing file is fetched now, or one :class:`WeightsError` names all that cannot be."""
    from aikd_cli.models.loading import resolve_weights

    gaps = {(option, ref): why for option, ref in refs if ref and (why := missing(str(ref)))}
    if not gaps:
        return
    first_error: WeightsError | None = None
    for (option, ref), why in list(gaps.items()):
        if why.startswith("on no model hub"):
            continue
        try:
            resolve_weights(ref)
            del gaps[option, ref]
        except WeightsError as exc:
            first_error = exc
            break
    if not gaps:
        return
    if len(gaps) == 1:
        (option, ref), why = next(iter(gaps.items()))
        if first_error is None:
            raise WeightsError(f"{ref} ({option}): {why}")
        raise WeightsError(f"{first_error.message} (for {option})", hint=first_error.hint)
    listed = "; ".join(f"{ref} ({option}): {why}" for (option, ref), why in gaps.items())
    reason = f" ({first_error.message})" if first_error is not None else ""
    options = ", ".join(dict.fromkeys(f"{option} FILE" for option, _ in gaps))
    raise WeightsError(
        f"{len(gaps)} weights this command needs are missing{reason}: {listed}",
        hint=f"pass local files ({options}), or register them once: `aikd models add NAME FILE` "
        "and `aikd models default TASK NAME`",
    )
