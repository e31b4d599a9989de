"""Banc d'essai de la publication en lot (`dce publier DOSSIER`) : LibreOffice démarré une fois pour tout le lot.

Usage : python benchmarks/publication_lot.py [--n 10] [--n 50] [--travailleurs N] [--seules 4]

Pour chaque taille N, un dossier de N consultations est fabriqué à partir des quatre exemples du dépôt (à tour de
rôle, chacun avec ses pièces jointes et textes techniques, référence propre à chaque consultation), puis publié par
`dce publier DOSSIER` lancé comme le lance un utilisateur (processus neuf) : temps mur, temps de calcul (user + sys)
de tout l'arbre (Python et LibreOffice), par consultation. `--seules K` : les K premières consultations publiées
chacune par son propre `dce publier reponses.yaml` (un LibreOffice par consultation), pour comparer. Le résultat
s'affiche en Markdown avec la charge de la machine : les temps murs n'ont de sens que sur une machine calme.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

RACINE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from mesures import analyseur, charge, cpu_enfants  # noqa: E402

EXEMPLES = ("amp-espaces-verts", "nettoyage-hotel-region", "restauration-lycees", "travaux-lycee")
DCE = [sys.executable, "-m", "generateur.interfaces.cli"]


def fabriquer(dossier: Path, n: int) -> list[Path]:
    """N consultations, une par sous-dossier, aux références toutes différentes (pas deux PDF de même nom)."""
    fichiers = []
    for i in range(n):
        exemple = EXEMPLES[i % len(EXEMPLES)]
        consultation = dossier / f"{i + 1:03d}-{exemple}"
        consultation.mkdir(parents=True)
        for annexe in ("pieces", "cctp"):
            shutil.copytree(RACINE / "exemples" / annexe, consultation / annexe)
        donnees = yaml.safe_load((RACINE / "exemples" / f"{exemple}.yaml").read_text(encoding="utf-8"))
        donnees["reference"] = f"BANC-{i + 1:04d}"
        (consultation / "reponses.yaml").write_text(yaml.safe_dump(donnees, allow_unicode=True, sort_keys=False),
                                                    encoding="utf-8")
        fichiers.append(consultation / "reponses.yaml")
    return fichiers


def lancer(arguments: list[str]) -> tuple[float, float]:
    """Temps mur et temps de calcul de tout l'arbre (processus et ses enfants, LibreOffice compris)."""
    avant_cpu, debut = cpu_enfants(), time.perf_counter()
    resultat = subprocess.run(DCE + arguments, cwd=RACINE, capture_output=True, text=True, check=False)
    mur, cpu = time.perf_counter() - debut, cpu_enfants() - avant_cpu
    if resultat.returncode != 0:
        sys.exit(f"échec de dce {' '.join(arguments)} :\n{resultat.stdout}\n{resultat.stderr}")
    return mur, cpu


def main() -> None:
    parser = analyseur(__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, action="append", help="taille du lot (répétable ; défaut : 10)")
    parser.add_argument("--travailleurs", type=int, help="appels LibreOffice simultanés (défaut de dce publier)")
    parser.add_argument("--seules", type=int, default=0, metavar="K",
                        help="publier aussi K consultations une à une, pour comparer")
    args = parser.parse_args()
    options = ["--travailleurs", str(args.travailleurs)] if args.travailleurs else []
    lignes = ["| mesure | N | mur | mur par consultation | calcul (user + sys) de l'arbre par consultation |",
              "|---|---|---|---|---|"]
    for n in args.n or [10]:
        with tempfile.TemporaryDirectory(prefix="dce-banc-publier-") as tmp:
            fichiers = fabriquer(Path(tmp) / "consultations", n)
            mur, cpu = lancer(["publier", str(Path(tmp) / "consultations"), *options])
            lignes.append(f"| `dce publier DOSSIER` (lot) | {n} | {mur:.1f} s | {mur / n:.2f} s | {cpu / n:.2f} s |")
            k = min(args.seules, n)
            if k:
                murs, cpus = zip(*(lancer(["publier", str(f), "-o", str(f.parent / "seule"), *options])
                                   for f in fichiers[:k]))
                lignes.append(f"| `dce publier reponses.yaml`, une à une | {k} | {sum(murs):.1f} s | "
                              f"{sum(murs) / k:.2f} s | {sum(cpus) / k:.2f} s |")
    print("\n".join(lignes))
    print()
    print(charge() + f" Processeurs : {os.cpu_count()}.")


if __name__ == "__main__":
    main()
