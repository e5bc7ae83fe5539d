"""`python -m segdemo --help` lists the commands (see segdemo.cli)."""

import sys

from segdemo.cli import main

sys.exit(main())
