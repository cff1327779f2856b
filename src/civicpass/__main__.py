"""``python -m civicpass`` runs the CLI."""

from civicpass.cli import main

main()
