"""``python -m hub`` runs the ``phonehub`` command."""

import sys

from hub.cli import main

sys.exit(main())
