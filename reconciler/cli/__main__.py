"""``python -m reconciler.cli``: the ``reconciler`` command."""

from . import main

main()
