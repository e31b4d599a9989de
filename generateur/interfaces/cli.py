"""Ligne de commande `dce` : le groupe `main` et toutes ses commandes, chacune dans son module commandes_*.py.

Une commande analyse ses options, appelle la bibliothèque et affiche en français ; rien de plus.
"""

from __future__ import annotations

import atexit
import gc
import sys

# Le temps des imports, ramasse-miettes arrêté ; puis ce qu'ils ont créé (modules, classes, fonctions, tables : des
# centaines de milliers d'objets qui vivent autant que le processus) est gelé (gc.freeze) : les collectes ne le
# reparcourent plus. Les collectes pendant les imports et celles qui les reparcouraient ensuite coûtaient ≈ 3 % d'une
# commande `dce generer` (callgrind). Un ramasse-miettes déjà arrêté le reste.
_ACTIF = gc.isenabled()
gc.disable()
try:
    from .groupe import main

    # module de chaque commande : seul celui de la commande appelée est importé (Groupe.get_command)
    main.modules = {
        "nouveau": "commandes_assistant", "verifier": "commandes_assistant", "expliquer": "commandes_assistant",
        "questionnaire": "commandes_assistant", "catalogue": "commandes_catalogue", "annexe": "commandes_conformite",
        "bilan": "commandes_conformite", "cpv": "commandes_cpv", "utilisateur": "commandes_equipe",
        "base": "commandes_equipe", "generer": "commandes_generer", "publier": "commandes_publier",
        "regenerer": "commandes_regeneration", "serveur": "commandes_serveur",
    }
finally:
    gc.freeze()
    if _ACTIF:
        gc.enable()

# À la sortie, après tous les autres gestionnaires (dont l'écriture des mémoires du cache disque) : ce qui vit encore
# (catalogue, mémoires, DCE produit…) est gelé, et les collectes de la fin de l'interpréteur ne le parcourent plus
# (≈ 2,5 % des instructions de `dce generer`, callgrind). Les fichiers de dce sont fermés explicitement.
atexit.register(gc.freeze)

__all__ = ["main"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
