"""``aikd align``: aligned crops and the landmark CSV; options from :mod:`aikd_cli.tasks.align.options`."""

from __future__ import annotations

import inspect
from dataclasses import replace
from typing import Annotated

from aikd_cli.cli.common import err, escape, handle_errors, out, plural, progress_bar, shown
from aikd_cli.cli.generate import command
from aikd_cli.cli.options import alias, use_alias
from aikd_cli.tasks.align.options import AlignOptions

_RELATIVE = inspect.Parameter("relative", inspect.Parameter.KEYWORD_ONLY, default=False,
                              annotation=Annotated[bool, alias("--relative")])


@command(AlignOptions, extra=[_RELATIVE])
@handle_errors
def align(options: AlignOptions, relative: bool = False) -> None:
    """Write aligned face crops (PNG, mirroring the input tree) and OUTPUT/landmarks.csv with the landmarks and the 2x3 transform used for each face.

    The CSV can be fed back to [bold]score[/], [bold]align[/] or [bold]distill[/] as --landmarks.

    [bold]Examples[/]

      aikd align photos/ -o aligned/
      aikd align photos/ -o misaligned/ --perturb 3 --seed 1
      aikd align photos/ -o misaligned/ --perturb 0.05 --perturb-unit iod
      aikd align photos/ -o aligned/ --landmarks aligned_before/landmarks.csv --size 224
      aikd align photos/ -o aligned/ --shard 2/8      # part 2 of 8 ... then: aikd align --merge -o aligned/
      torchrun --nproc-per-node 4 -m aikd_cli align photos/ -o aligned/
    """
    unit = use_alias("iod" if relative else None, options.perturb_unit, "--relative", "--perturb-unit iod")
    options = replace(options, perturb_unit=unit)
    options.validate()  # before torch: a typo is answered in a second
    from aikd_cli.tasks.align.aligning import run
    from aikd_cli.utils.distributed import is_main_process

    with progress_bar("aligning") as update:
        result = run(options, progress=update)
    if not is_main_process():  # a torchrun rank other than 0: rank 0 reports for the job
        return
    counts = ", ".join(f"{v} {k}" for k, v in sorted(result.status_counts.items()))
    out.print(f"{plural(result.crops, 'crop')} written to {shown(result.output)} ({counts}); landmarks: {shown(result.csv)}")
    if result.merged:
        err.print(f"joined {plural(len(result.merged), 'part')} (the parts are kept: {escape(result.merged[0].name)} ...)")
    else:
        err.print(f"{plural(result.images, 'image')} processed")
    if options.shard:
        err.print(f"when every part is written, join them: aikd align --merge -o {escape(options.output)}")
