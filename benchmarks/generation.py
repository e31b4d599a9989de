"""Banc d'essai : temps de génération d'un DCE complet (RC, CCAP, CCTP, fiche SPASER, manifeste).

Usage : python benchmarks/generation.py [--repetitions N]
Affiche, pour chaque exemple, le temps médian d'une génération complète, le temps du chargement du
catalogue (fait une fois par processus) et la mémoire maximale du processus.
"""

from __future__ import annotations

import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

RACINE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(RACINE))

from generateur.donnees import catalogue  # noqa: E402
from generateur.rendu.generation import generer  # noqa: E402


def main() -> None:
    from mesures import analyseur

    parser = analyseur(__doc__)
    parser.add_argument("--repetitions", type=int, default=20, help="générations mesurées par exemple (médiane)")
    args = parser.parse_args()
    debut = time.perf_counter()
    catalogue.charger(RACINE)
    chargement = time.perf_counter() - debut
    print(f"chargement du catalogue : {chargement * 1000:.0f} ms")
    with tempfile.TemporaryDirectory() as sortie:
        for exemple in sorted((RACINE / "exemples").glob("*.yaml")):
            generer(exemple, Path(sortie) / "chauffe", RACINE)
            durees = []
            for i in range(args.repetitions):
                t = time.perf_counter()
                generer(exemple, Path(sortie) / str(i), RACINE)
                durees.append(time.perf_counter() - t)
            print(f"{exemple.stem:28s} médiane {statistics.median(durees) * 1000:6.0f} ms"
                  f"   min {min(durees) * 1000:6.0f} ms   ({args.repetitions} DCE complets)")
    print(f"mémoire maximale : {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} Mio")


if __name__ == "__main__":
    main()
