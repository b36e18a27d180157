"""``python -m aikd_cli`` is the same as the ``aikd`` command (and what ``torchrun -m`` starts)."""

from aikd_cli.cli.app import main

if __name__ == "__main__":
    main()
