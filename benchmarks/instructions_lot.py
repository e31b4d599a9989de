"""Instructions comptées (callgrind) d'une régénération dans l'état d'un grand lot : mesure insensible à la charge.

Usage : python benchmarks/instructions_lot.py [--n 40] [--parmi 1000] [--processus 2] [--code DOSSIER]
        [--sans-callgrind]

Le banc de 1 000 (`regeneration.py`) mesure des temps ; sur une machine partagée, ils varient de ±20 % d'une minute à
l'autre (README, « Performances ») : un gain de 10 % ne s'y voit pas. Ce banc compte les instructions de la seule
régénération de N consultations du mélange du lot (`--parmi`), dans l'état où un lot de centaines de consultations
met les mémoires disque partagées (relecture, contrôles croisés, Markdown) : elles gardent les textes communs, pas
ceux propres à chaque consultation, qui n'y tiennent pas. Dans un cache neuf (`DCE_CACHE` temporaire) :

1. les N consultations mesurées sont générées (processus à part) ;
2. la clause du banc est modifiée, les mémoires partagées effacées, puis N autres consultations du même mélange
   sont générées (processus à part) : les mémoires partagées reprennent les textes communs, dont ceux de la clause
   modifiée ;
3. les N consultations mesurées sont régénérées dans un processus neuf (exécuteur en ligne, `PYTHONHASHSEED=0`),
   compté par callgrind (valgrind) : instructions de tout le processus, démarrage compris. En ligne, les contrôles
   croisés se servent des mémoires disque, comme `dce generer` (les processus de calcul d'un lot, non).

`--processus P` : l'étape 3 est un vrai lot à P processus de calcul (`regenerer(..., jobs=P)`, comme `dce regenerer
--jobs P`), chemin des processus de calcul compris (contrôles croisés sans mémoire disque, tâches, fil de
publication) ; callgrind suit les processus créés par fork (un fichier par processus) : le total est celui de tout
l'arbre.

`--copie` : l'étape 3 régénère une copie du dossier des N consultations, faite avant le comptage (comme le banc de
1 000, qui copie le lot avant chaque mesure, ou un service qui déplace ses dossiers) : ce qui est gardé sous le chemin
d'un fichier plutôt que sous son contenu s'y voit.

`--code` mesure une autre version de dce (même corpus, même catalogue) ; `--sans-callgrind` donne le seul temps de
calcul de l'étape 3 (sans valgrind). Quelques minutes sous valgrind pour N = 40.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ICI = Path(__file__).resolve().parent
MEMOIRES_PARTAGEES = ("relecture", "croises", "markdown")


def _etape(dossier: Path, racine: Path, code: Path | None, processus: int) -> None:
    """Dans un processus à part : régénère le lot (étape « generer » : la première fois, ses consultations sont
    nouvelles ; « regenerer » : l'étape mesurée), en ligne, ou par `processus` processus de calcul."""
    sys.path.insert(0, str(code or ICI.parent))
    from profil_regeneration import EnLigne
    from generateur.lot.regeneration import regenerer
    from mesures import cpu_enfants, cpu_soi

    debut = cpu_soi() + cpu_enfants()
    if processus:
        bilan = regenerer(dossier, racine, jobs=processus)
    else:
        bilan = regenerer(dossier, racine, executeur=EnLigne())
    statuts = {r.statut for r in bilan.consultations}
    print(f"{(cpu_soi() + cpu_enfants() - debut) * 1000 / max(1, len(bilan.consultations)):.0f} ms de calcul par "
          f"consultation ({', '.join(sorted(statuts))})")


def _lancer(etape: str, dossier: Path, racine: Path, code: Path | None, env: dict[str, str],
            devant: list[str] | None = None, processus: int = 0) -> str:
    commande = [*(devant or []), sys.executable, str(Path(__file__).resolve()), "--etape", etape, "--dossier",
                str(dossier), "--racine", str(racine), "--processus", str(processus)]
    commande += ["--code", str(code)] if code else []
    return subprocess.run(commande, check=True, capture_output=True, text=True, env=env).stdout.strip()


def main() -> None:
    from mesures import analyseur

    parser = analyseur(__doc__)
    parser.add_argument("--n", type=int, default=40, help="consultations régénérées")
    parser.add_argument("--parmi", type=int, default=1000,
                        help="consultations prises à intervalles réguliers dans ce lot")
    parser.add_argument("--processus", type=int, default=0, help="0 : en ligne ; P : lot à P processus de calcul")
    parser.add_argument("--code", type=Path, help="dossier d'une autre version de dce (comparaison avant/après)")
    parser.add_argument("--sans-callgrind", action="store_true", help="sans valgrind : temps de calcul seul")
    parser.add_argument("--copie", action="store_true", help="régénérer une copie du dossier mesuré")
    parser.add_argument("--etape", help=argparse.SUPPRESS)
    parser.add_argument("--dossier", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--racine", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    code = args.code.resolve() if args.code else None
    sys.path.insert(0, str(ICI))
    if args.etape:
        _etape(args.dossier, args.racine, code, args.processus)
        return
    if not args.sans_callgrind and shutil.which("valgrind") is None:
        sys.exit("valgrind introuvable (paquet Debian « valgrind ») ; --sans-callgrind pour le seul temps de calcul")
    import regeneration as banc

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        mesure, autres, racine = base / "mesure", base / "autres", base / "catalogue"
        pas = max(1, args.parmi // args.n)
        banc.fabriquer(mesure, args.n, args.parmi)
        banc.fabriquer(autres, args.n, args.parmi, decalage=pas // 2)
        banc.copier_catalogue(racine)
        env = {**os.environ, "DCE_CACHE": str(base / "cache"), "PYTHONHASHSEED": "0"}
        _lancer("generer", mesure, racine, code, env)
        banc.modifier_catalogue(racine)
        for fichier in (base / "cache" / "memoires").iterdir():
            if fichier.name.split("-")[0] in MEMOIRES_PARTAGEES:
                fichier.unlink()
        _lancer("generer", autres, racine, code, env)  # générées avec la clause modifiée : ses textes sont communs
        if args.copie:
            shutil.copytree(mesure, base / "copie", symlinks=True)
            mesure = base / "copie"
            os.sync()  # la copie sur le disque avant la mesure : la première barrière de durabilité ne l'écrit pas
        if args.sans_callgrind:
            print(_lancer("regenerer", mesure, racine, code, env, processus=args.processus))
            return
        sorties = base / "callgrind"
        sorties.mkdir()
        resultat = _lancer("regenerer", mesure, racine, code, env,
                           ["valgrind", "--tool=callgrind", f"--callgrind-out-file={sorties}/callgrind.out.%p"],
                           args.processus)
        comptes = [int(re.search(r"^(?:summary|totals): (\d+)", f.read_text(), re.MULTILINE).group(1))
                   for f in sorted(sorties.iterdir())]
        import generateur
        version = code or Path(generateur.__file__).resolve().parent.parent
        portee = f"lot à {args.processus} processus de calcul, {len(comptes)} processus comptés" if args.processus \
            else "en ligne"
        portee += ", dossier copié" if args.copie else ""
        print(f"{version} : {sum(comptes) / 1e9:.2f} milliards d'instructions pour {args.n} consultations "
              f"régénérées ({portee} ; lot débordé, démarrage compris) ; {resultat}")


if __name__ == "__main__":
    main()
