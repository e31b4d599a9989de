"""Banc d'essai de l'accueil de `dce serveur` (liste des consultations) selon le nombre de consultations.

Usage : python benchmarks/accueil.py [--n 100 --n 1000] [--repetitions 5] [--code DOSSIER]

Un dossier de N consultations est fabriqué à partir des quatre exemples générés une fois (versions par liens
physiques : même manifeste de 100 à 200 Kio, fichier de réponses propre à chaque consultation). La page d'accueil
est demandée par le client de test de Flask, dans le processus du banc : temps mur et temps de calcul (user + sys)
d'une requête, médiane de N requêtes, index du dossier à jour ; puis la première requête sans index (construction de
l'index, une fois). `--code DOSSIER` mesure une autre version de dce (avant l'index : chaque requête relit tout).
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

RACINE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(RACINE))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from mesures import analyseur, charge, cpu_soi  # noqa: E402


def fabriquer(dossier: Path, n: int) -> None:
    from generateur.lot.regeneration import regenerer

    modeles = dossier / "modeles"
    for exemple in sorted((RACINE / "exemples").glob("*.yaml")):
        (modeles / exemple.stem).mkdir(parents=True)
        shutil.copy(exemple, modeles / exemple.stem / "reponses.yaml")
        for cites in ("cctp", "pieces"):  # textes techniques et pièces jointes que citent les réponses
            if (RACINE / "exemples" / cites).is_dir():
                shutil.copytree(RACINE / "exemples" / cites, modeles / exemple.stem / cites)
    echecs = [f"{r.dossier} : {r.erreur}" for r in regenerer(modeles, RACINE, jobs=1).consultations if r.erreur]
    if echecs:
        raise SystemExit("exemples non générés : " + " ; ".join(echecs))
    sources = sorted(p for p in modeles.iterdir() if (p / "courante").is_file())
    lot = dossier / "consultations"
    for i in range(n):
        source = sources[i % len(sources)]
        cible = lot / f"c{i:05d}"
        shutil.copytree(source / "versions", cible / "versions", copy_function=os.link)
        shutil.copy(source / "courante", cible / "courante")
        texte = (source / "reponses.yaml").read_text(encoding="utf-8")
        (cible / "reponses.yaml").write_text(texte.replace("reference: ", f"reference: N{i:05d}-", 1), encoding="utf-8")


def requete(client) -> tuple[float, float]:
    t, c = time.perf_counter(), cpu_soi()
    reponse = client.get("/")
    assert reponse.status_code == 200
    return time.perf_counter() - t, cpu_soi() - c


def main() -> None:
    parser = analyseur(__doc__)
    parser.add_argument("--n", type=int, action="append",
                        help="nombre de consultations (répétable ; défaut : 100 et 1000)")
    parser.add_argument("--repetitions", type=int, default=5, help="requêtes mesurées par taille (médiane)")
    parser.add_argument("--code", type=Path, help="dossier d'une autre version de dce (comparaison avant/après)")
    args = parser.parse_args()
    if args.code:
        sys.path.insert(0, str(args.code.resolve()))
    from generateur.interfaces.web import create_app

    print("| consultations | accueil, index à jour : mur / calcul (médiane) | première requête (sans index) : mur / calcul |")
    print("|---|---|---|")
    for n in args.n or [100, 1000]:
        with tempfile.TemporaryDirectory() as tmp:
            dossier = Path(tmp)
            fabriquer(dossier, n)
            client = create_app(RACINE, dossier / "consultations").test_client()
            client.get("/")  # gabarits compilés, catalogue chargé
            index = dossier / "consultations" / ".dce-index.json"
            index.unlink(missing_ok=True)
            premiere = requete(client)
            mesures = [requete(client) for _ in range(args.repetitions)]
            mur, calcul = statistics.median(m[0] for m in mesures), statistics.median(m[1] for m in mesures)
            print(f"| {n} | {mur * 1000:.0f} ms / {calcul * 1000:.0f} ms | "
                  f"{premiere[0] * 1000:.0f} ms / {premiere[1] * 1000:.0f} ms |")
    print("\n" + charge())


if __name__ == "__main__":
    main()
