"""Profil et temps de calcul de la régénération dans un processus chaud (sans processus de calcul ni démarrage).

Usage : python benchmarks/profil_regeneration.py --n 40 [--parmi 1000] [--profil FICHIER.prof] [--code DOSSIER]
        [--garder DOSSIER]

Fabrique N consultations du banc (`regeneration.corpus`) : les N premières (marchés réels de la DECP, d'un seul lot
le plus souvent, moins coûteux), ou avec `--parmi 1000` N consultations prises à intervalles réguliers dans le lot de
1 000 (30 % de marchés réels, 70 % de consultations synthétiques de 1 à 10 lots : le mélange du banc complet). Les
génère, modifie la clause du banc, puis les régénère
dans ce processus (exécuteur en ligne) : temps de calcul (user + sys) par consultation régénérée, charge de la
machine. `--profil` écrit le profil cProfile de la seule régénération ; `--code` mesure une autre version de dce
(même corpus) ; `--garder` copie les versions régénérées (comparaison à l'octet d'une version à l'autre).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from concurrent.futures import Executor, Future
from pathlib import Path


class EnLigne(Executor):
    """Exécuteur qui calcule chaque tâche tout de suite, dans ce processus."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[override]
        future: Future = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def main() -> None:
    from mesures import analyseur

    parser = analyseur(__doc__)
    parser.add_argument("--n", type=int, default=40, help="consultations régénérées")
    parser.add_argument("--profil", type=Path, help="fichier où écrire le profil (cProfile)")
    parser.add_argument("--code", type=Path, help="dossier d'une autre version de dce (comparaison avant/après)")
    parser.add_argument("--garder", type=Path, help="dossier où garder le lot régénéré")
    parser.add_argument("--parmi", type=int, help="consultations prises à intervalles réguliers dans ce lot")
    parser.add_argument("--clause", help="clause modifiée (chemin sous la racine), défaut : celle du banc")
    args = parser.parse_args()
    ici = Path(__file__).resolve().parent
    if args.code:
        sys.path.insert(0, str(args.code.resolve()))
    import regeneration as banc
    from mesures import charge, cpu_soi

    if args.code:
        sys.path.insert(0, str(args.code.resolve()))
        for nom in [m for m in sys.modules if m == "generateur" or m.startswith("generateur.")]:
            del sys.modules[nom]
    from generateur.lot.regeneration import regenerer

    sys.path.insert(0, str(ici))
    with tempfile.TemporaryDirectory() as tmp:
        dossier, racine = Path(tmp) / "lot", Path(tmp) / "catalogue"
        banc.fabriquer(dossier, args.n, args.parmi)
        banc.copier_catalogue(racine)
        regenerer(dossier, racine, executeur=EnLigne())
        if args.clause:
            banc.CLAUSE_MODIFIEE = args.clause
        banc.modifier_catalogue(racine)
        profil = None
        if args.profil:
            import cProfile

            profil = cProfile.Profile()
            profil.enable()
        debut = cpu_soi()
        bilan = regenerer(dossier, racine, executeur=EnLigne())
        cpu = cpu_soi() - debut
        if profil is not None:
            profil.disable()
            profil.dump_stats(args.profil)
        statuts: dict[str, int] = {}
        for r in bilan.consultations:
            statuts[r.statut] = statuts.get(r.statut, 0) + 1
        traitees = sum(n for s, n in statuts.items() if s != "échec") or 1
        import generateur
        print(f"{Path(generateur.__file__).parent.parent} : {cpu * 1000 / traitees:.0f} ms de calcul par consultation "
              f"({statuts}) ; {charge()}")
        if args.garder:
            shutil.rmtree(args.garder, ignore_errors=True)
            shutil.copytree(dossier, args.garder, ignore=shutil.ignore_patterns("rapports", ".dce-*"))


if __name__ == "__main__":
    main()
