"""`python -m segdemo --help` lists the commands (see segdemo.cli)."""

import sys

from segdemo import process

process.tune()  # before torch is imported by the CLI

from segdemo.cli import main  # noqa: E402

sys.exit(main())
