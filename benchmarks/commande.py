"""Banc d'essai de la commande entière : `dce generer EXEMPLE` lancé comme le lance un utilisateur, processus neuf.

Usage : python benchmarks/commande.py [--repetitions 5]

Pour chaque exemple : temps mur et temps de calcul (user + sys) du processus entier (démarrage de Python, imports,
chargement du catalogue, génération, écriture), médiane de N lancements, cache des modèles compilés chaud
(lancements précédents) puis froid (dossier de cache vide, `DCE_CACHE`) ; le démarrage seul (imports de la ligne
de commande). Puis la même consultation par pandoc : un processus pandoc par document (RC, CCAP, CCTP, mêmes
clauses rendues, même modèle Word en --reference-doc), comme le ferait un script qui l'appelle, contre une
consultation entière de dce (cinq documents Word, annexes, contrôles, manifeste) : le rapport par consultation.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RACINE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(RACINE))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from mesures import analyseur, charge, cpu_enfants  # noqa: E402

DCE = [sys.executable, "-m", "generateur.interfaces.cli"]
# Dossier du code mesuré : `python -m` met le dossier courant en tête du chemin d'import (avant PYTHONPATH) ;
# `--code` le remplace donc aussi.
CODE = RACINE


def une_fois(commande: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(mur, calcul) d'un processus neuf, en secondes."""
    cpu, debut = cpu_enfants(), time.perf_counter()
    subprocess.run(commande, check=True, capture_output=True, cwd=CODE, env=env)
    return time.perf_counter() - debut, cpu_enfants() - cpu


def mediane(mesures: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(m[0] for m in mesures), statistics.median(m[1] for m in mesures)


def main() -> None:
    parser = analyseur(__doc__)
    parser.add_argument("--repetitions", type=int, default=5, help="lancements de la commande par exemple (médiane)")
    parser.add_argument("--code", type=Path, help="dossier d'une autre version de dce (comparaison avant/après)")
    args = parser.parse_args()
    env = {**os.environ, "DCE_RACINE": str(RACINE)}
    if args.code:  # la commande mesurée vient d'ailleurs ; ses modules sont compilés comme ceux-ci
        global CODE
        CODE = args.code.resolve()
        env["PYTHONPATH"] = str(args.code.resolve())
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(args.code.resolve() / "generateur")], check=True)
        sys.path.insert(0, str(args.code.resolve()))
    print("| exemple | `dce generer`, processus entier, cache chaud, même dossier de sortie (pièces reprises) : "
          "mur / calcul | cache chaud, dossier de sortie neuf (pièces assemblées sur leur squelette) : mur / calcul | cache froid : mur / calcul "
          "| pandoc, 3 processus (RC, CCAP, CCTP) : mur / calcul | rapport pandoc / dce (calcul, dossier neuf) |")
    print("|---|---|---|---|---|---|")
    import pypandoc

    from regeneration import markdown_document

    from generateur.droit.regles import preparer
    from generateur.rendu.generation import PIECES, modele_de

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        demarrage = mediane([une_fois([sys.executable, "-c", "import generateur.interfaces.cli"], env)
                             for _ in range(args.repetitions)])
        for exemple in sorted((RACINE / "exemples").glob("*.yaml")):
            sortie = tmp / exemple.stem
            une_fois(DCE + ["generer", str(exemple), "--sortie", str(sortie)], env)  # cache chaud
            chaud = mediane([une_fois(DCE + ["generer", str(exemple), "--sortie", str(sortie)], env)
                             for _ in range(args.repetitions)])
            neuf = mediane([une_fois(DCE + ["generer", str(exemple), "--sortie", str(tmp / f"{exemple.stem}-{i}")],
                                     env) for i in range(args.repetitions)])
            froids = []
            for i in range(max(1, args.repetitions // 2)):
                cache = tmp / f"cache-{exemple.stem}-{i}"
                froids.append(une_fois(DCE + ["generer", str(exemple), "--sortie", str(sortie)],
                                       {**env, "DCE_CACHE": str(cache)}))
                shutil.rmtree(cache, ignore_errors=True)
            froid = mediane(froids)
            analyse = preparer(exemple, RACINE)
            textes = {d: markdown_document(analyse, d) for d in PIECES}
            pandoc = []
            for _ in range(args.repetitions):
                cpu, debut = cpu_enfants(), time.perf_counter()
                for document in PIECES:
                    pypandoc.convert_text(textes[document], "docx", format="markdown",
                                          outputfile=str(tmp / f"{document}.docx"),
                                          extra_args=[f"--reference-doc={modele_de(analyse, document)}"])
                pandoc.append((time.perf_counter() - debut, cpu_enfants() - cpu))
            p = mediane(pandoc)
            print(f"| {exemple.stem} | {chaud[0]:.2f} s / {chaud[1]:.2f} s | {neuf[0]:.2f} s / {neuf[1]:.2f} s | "
                  f"{froid[0]:.2f} s / {froid[1]:.2f} s | {p[0]:.2f} s / {p[1]:.2f} s | {p[1] / neuf[1]:.1f} |")
    print(f"\nDémarrage seul (`import generateur.interfaces.cli`, processus neuf) : {demarrage[0]:.2f} s mur, "
          f"{demarrage[1]:.2f} s de calcul (médiane de {args.repetitions}).")
    print(charge())


if __name__ == "__main__":
    main()
