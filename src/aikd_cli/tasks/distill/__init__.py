"""``aikd distill``: AI-KD knowledge distillation of alignment-invariant quality students.

``from aikd_cli.tasks.distill import DistillConfig, distill`` does what the command does.
"""

from aikd_cli.tasks.distill.config import DistillConfig, read_config_file, resolve_config
from aikd_cli.tasks.distill.engine import DistillResult, distill, load_run_config, prepare_run

__all__ = [
    "DistillConfig",
    "DistillResult",
    "distill",
    "load_run_config",
    "prepare_run",
    "read_config_file",
    "resolve_config",
]
