"""Ligne de commande `dce` : le groupe `main` et toutes ses commandes, chacune dans son module commandes_*.py.

Une commande analyse ses options, appelle la bibliothèque et affiche en français ; rien de plus.
"""

from __future__ import annotations

import sys

from . import (  # noqa: F401 - chaque module ajoute ses commandes au groupe `main` en s'important
    commandes_assistant,
    commandes_catalogue,
    commandes_conformite,
    commandes_cpv,
    commandes_equipe,
    commandes_generer,
    commandes_publier,
    commandes_regeneration,
    commandes_serveur,
)
from .groupe import main

__all__ = ["main"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
