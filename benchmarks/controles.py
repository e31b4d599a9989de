"""Temps de calcul des contrôles et de la relecture (`pieces.lecture.controler`) des exemples, processus chaud.

Usage : python benchmarks/controles.py [--n 20] [--code DOSSIER]

Prépare chaque exemple de exemples/ une fois, assemble ses pièces et sa fiche (comme `generation.produire_dce`),
lance `controler` sur elles une fois (mise en route), puis N fois : temps de
calcul (user + sys) par appel, par exemple et en moyenne, et la charge de la machine. `--code` mesure une autre
version de dce (à alterner avec la version courante : la machine est partagée).
"""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> None:
    from mesures import analyseur

    parser = analyseur(__doc__)
    parser.add_argument("--n", type=int, default=20, help="contrôles mesurés par exemple (médiane)")
    parser.add_argument("--code", type=Path, help="dossier d'une autre version de dce (comparaison avant/après)")
    args = parser.parse_args()
    ici = Path(__file__).resolve().parent
    sys.path.insert(0, str(ici))
    from mesures import charge, cpu_soi

    if args.code:
        sys.path.insert(0, str(args.code.resolve()))
    from generateur.droit.regles import preparer
    from generateur.pieces.assemblage import blocs_document
    from generateur.pieces.lecture import controler
    from generateur.pieces.tracabilite import fiche

    racine = ici.parent
    temps = {}
    for exemple in sorted((racine / "exemples").glob("*.yaml")):
        analyse = preparer(exemple, racine)
        corps = {doc: blocs_document(analyse, doc)[0] for doc in analyse.catalogue.documents}
        blocs_fiche = fiche(analyse)[0]
        controler(analyse, corps, blocs_fiche=blocs_fiche)
        debut = cpu_soi()
        for _ in range(args.n):
            controler(analyse, corps, blocs_fiche=blocs_fiche)
        temps[exemple.stem] = (cpu_soi() - debut) * 1000 / args.n
    import generateur
    print(f"{Path(generateur.__file__).parent.parent} : " + " ; ".join(f"{k} {v:.1f}" for k, v in temps.items())
          + f" ; moyenne {sum(temps.values()) / len(temps):.1f} ms par appel ; {charge()}")


if __name__ == "__main__":
    main()
