"""Ligne de commande `dce` : le groupe `main` et toutes ses commandes, chacune dans son module commandes_*.py.

Une commande analyse ses options, appelle la bibliothèque et affiche en français ; rien de plus.
"""

from __future__ import annotations

import gc
import sys

# Le temps des imports, ramasse-miettes arrêté ; puis ce qu'ils ont créé (modules, classes, fonctions, tables : des
# centaines de milliers d'objets qui vivent autant que le processus) est gelé (gc.freeze) : les collectes ne le
# reparcourent plus. Les collectes pendant les imports et celles qui les reparcouraient ensuite coûtaient ≈ 3 % d'une
# commande `dce generer` (callgrind). Un ramasse-miettes déjà arrêté le reste.
_ACTIF = gc.isenabled()
gc.disable()
try:
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
finally:
    gc.freeze()
    if _ACTIF:
        gc.enable()

__all__ = ["main"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
