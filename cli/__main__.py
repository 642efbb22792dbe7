"""``python -m cli`` runs the ``phonehub`` command."""

import sys

from cli.main import main

sys.exit(main())
