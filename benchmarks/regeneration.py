"""Banc d'essai de la régénération en lot (`dce regenerer`).

Usage : python benchmarks/regeneration.py [--n 100 --n 400] [--pandoc 10] [--exemples 10]

Pour chaque taille N, un dossier de consultations est fabriqué : les 300 marchés réels de
../shared/data/decp/decp-sample.json (DECP 1.x, 2018-2019) traduits en fichiers de réponses (au plus
la moitié du lot), complétés par des consultations synthétiques (natures et catégories variées, 1 à 10
lots, options SPASER activées ou non, dates de lancement de septembre 2026 à juin 2027). Le lot est
généré une fois, puis la phrase d'une clause retenue partout est modifiée dans une copie du catalogue
et le lot est régénéré avec 1 puis 2 processus (chaque mesure dans un processus neuf : mémoire de
pointe du processus principal et du plus gros processus de calcul). Enfin : temps d'un DCE complet,
et rapport avec le rendu des mêmes clauses par un appel à pandoc par document (même modèle Word en
--reference-doc). Le résultat s'affiche en Markdown, prêt pour le README.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

RACINE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(RACINE))

DECP = RACINE.parent / "shared" / "data" / "decp" / "decp-sample.json"
CATALOGUE = ("catalogue.yaml", "questionnaire.yaml", "clauses", "modeles", "acheteurs")
# Modification appliquée au catalogue entre la génération et la régénération : une phrase de plus dans
# une clause que toutes les consultations retiennent.
CLAUSE_MODIFIEE = "clauses/ccap/ccap-objet.md"

# Modèle de réponses par nature et catégorie : un exemple du dépôt, dont on fait varier lots et options.
MODELES = {
    ("fournitures", "restauration_collective"): "restauration-lycees",
    ("travaux", "batiment"): "travaux-lycee",
    ("services", "nettoyage"): "nettoyage-hotel-region",
    ("services", "espaces_verts"): "amp-espaces-verts",
}
AUTRES = {  # catégorie → (nature, modèle, CPV)
    "fournitures_bureau": ("fournitures", "restauration-lycees", "30192000-1"),
    "mobilier": ("fournitures", "restauration-lycees", "39130000-2"),
    "informatique": ("fournitures", "restauration-lycees", "30213000-5"),
    "textile": ("fournitures", "restauration-lycees", "18100000-0"),
    "travaux_publics": ("travaux", "travaux-lycee", "45233000-9"),
    "prestations_intellectuelles": ("services", "nettoyage-hotel-region", "71000000-8"),
    "transport": ("services", "nettoyage-hotel-region", "60100000-9"),
    "energie": ("fournitures", "restauration-lycees", "09310000-5"),
}
ECOLABELS = ["produits_nettoyage", "papier", "bois", "textile", "informatique", "peinture", "mobilier"]


def _exemple(nom: str) -> dict[str, Any]:
    return yaml.safe_load((RACINE / "exemples" / f"{nom}.yaml").read_text(encoding="utf-8"))


def _lots(modele: dict[str, Any], nombre: int, alea: random.Random) -> list[dict[str, Any]]:
    """`nombre` lots tirés de ceux du modèle (montants variés), renumérotés."""
    lots = []
    for i in range(nombre):
        lot = copy.deepcopy(alea.choice(modele["lots"]))
        lot["numero"] = i + 1
        lot["montant_estime"] = round(lot["montant_estime"] * alea.uniform(0.2, 2.5), -2)
        if i >= len(modele["lots"]):
            lot["intitule"] = f"{lot['intitule']} (secteur {i + 1})"
        lots.append(lot)
    return lots


def _options(donnees: dict[str, Any], alea: random.Random) -> None:
    """Options SPASER et de procédure activées ou non au hasard (dans ce que le questionnaire permet)."""
    spaser = donnees.setdefault("spaser", {})
    spaser.setdefault("insertion", {})["actif"] = alea.random() < 0.6
    if alea.random() < 0.5:
        spaser["ecolabels"] = {"actif": True, "familles": alea.sample(ECOLABELS, alea.randint(1, 3))}
    else:
        spaser["ecolabels"] = {"actif": False}
    spaser["perturbateurs_endocriniens"] = alea.random() < 0.5
    spaser["plastique_usage_unique"] = alea.random() < 0.5
    if donnees["nature"] == "travaux":
        spaser["filiere_btp"] = alea.random() < 0.7
    donnees.setdefault("variantes", {})["autorisees"] = alea.choice([True, False, None])
    donnees["forme"] = alea.choice(["marche", "accord_cadre_bons_commande"])
    donnees["visite"] = alea.choice(["aucune", "facultative", "obligatoire"])


def _dates(donnees: dict[str, Any], lancement: dt.date) -> None:
    donnees["date_lancement"] = lancement
    donnees["date_limite_offres"] = f"{lancement + dt.timedelta(days=40):%Y-%m-%d} 12:00"


def synthetique(i: int, alea: random.Random) -> dict[str, Any]:
    """Une consultation synthétique mais vraisemblable."""
    if alea.random() < 0.5:
        (nature, categorie), nom = alea.choice(list(MODELES.items()))
        cpv = None
    else:
        categorie, (nature, nom, cpv) = alea.choice(list(AUTRES.items()))
    donnees = _exemple(nom)
    donnees.update(reference=f"SYN-{i:05d}", categorie=categorie, nature=nature)
    if cpv:
        donnees["cpv"] = cpv
        donnees["spaser"] = {k: v for k, v in donnees.get("spaser", {}).items()
                             if k not in ("commerce_equitable", "alimentation_durable")}
    donnees["lots"] = _lots(donnees, alea.randint(1, 10), alea)
    if cpv:
        for lot in donnees["lots"]:
            lot["cpv"] = cpv
    donnees["duree_mois"] = alea.choice([6, 12, 18, 24, 36, 48])
    _options(donnees, alea)
    _dates(donnees, dt.date(2026, 9, 1) + dt.timedelta(days=alea.randint(0, 300)))
    return donnees


def _categorie_decp(cpv: str) -> tuple[str, str]:
    division = cpv[:2]
    if division == "45":
        return "travaux", ("travaux_publics" if cpv[:3] in ("452", "453") else "batiment")
    table = {"55": ("services", "restauration_collective"), "15": ("fournitures", "restauration_collective"),
             "90": ("services", "nettoyage"), "77": ("services", "espaces_verts"),
             "30": ("fournitures", "fournitures_bureau"),
             "39": ("fournitures", "mobilier"), "18": ("fournitures", "textile"), "09": ("fournitures", "energie"),
             "60": ("services", "transport"), "34": ("fournitures", "transport"),
             "71": ("services", "prestations_intellectuelles"),
             "79": ("services", "prestations_intellectuelles"), "72": ("services", "informatique"),
             "48": ("fournitures", "informatique")}
    if division in table:
        return table[division]
    return ("fournitures", "autre") if int(division) < 45 else ("services", "autre")


def depuis_decp(marche: dict[str, Any]) -> dict[str, Any]:
    """Un marché réel des DECP traduit en fichier de réponses.

    Objet, CPV, montant, durée, forme (accord-cadre), forme du prix viennent des données ; la date de
    lancement est la date de notification décalée de huit ans (le catalogue commence en 2019), moins trois
    mois ; le reste (critères, clauses de l'acheteur) vient du modèle de même nature.
    """
    cpv = str(marche["codeCPV"])[:8].ljust(8, "0")
    nature, categorie = _categorie_decp(cpv)
    nom = MODELES.get((nature, categorie)) or {"travaux": "travaux-lycee", "fournitures": "restauration-lycees",
                                                "services": "nettoyage-hotel-region"}[nature]
    donnees = _exemple(nom)
    objet = " ".join(str(marche["objet"]).split())[:1000]
    donnees.update(reference=f"DECP-{marche['id']}"[:40], objet=objet, nature=nature, categorie=categorie, cpv=cpv,
                   duree_mois=max(1, min(240, int(marche.get("dureeMois") or 12))),
                   forme="accord_cadre_bons_commande" if marche["nature"] == "Accord-cadre" else "marche",
                   lieu_execution=str(marche.get("lieuExecution", {}).get("nom", ""))[:200])
    donnees["acheteur"] = "occitanie"
    donnees["spaser"] = {k: v for k, v in donnees.get("spaser", {}).items()
                         if k not in ("commerce_equitable", "alimentation_durable")
                         or categorie == "restauration_collective"}
    if nature != "travaux":
        donnees["spaser"].pop("filiere_btp", None)
    variation = "revisable" if marche["formePrix"] == "Révisable" else "ferme"
    donnees["prix"] = {**donnees.get("prix", {}), "variation": variation}
    lot = {"numero": 1, "intitule": objet[:200], "montant_estime": max(1.0, float(marche["montant"])), "cpv": cpv}
    donnees["lots"] = [lot]
    notification = dt.date.fromisoformat(marche["dateNotification"])
    _dates(donnees, notification.replace(year=notification.year + 8) - dt.timedelta(days=90))
    return donnees


def corpus(n: int, graine: int = 2026) -> list[tuple[str, dict[str, Any]]]:
    """(nom de dossier, réponses) : marchés DECP (au plus la moitié) puis consultations synthétiques."""
    marches = json.loads(DECP.read_text(encoding="utf-8"))["marches"] if DECP.is_file() else []
    reels = [(f"decp-{i:03d}", depuis_decp(m)) for i, m in enumerate(marches[: n // 2])]
    alea = random.Random(graine)
    return reels + [(f"syn-{i:05d}", synthetique(i, alea)) for i in range(n - len(reels))]


def fabriquer(dossier: Path, n: int) -> None:
    for nom, donnees in corpus(n):
        (dossier / nom).mkdir(parents=True)
        (dossier / nom / "reponses.yaml").write_text(yaml.safe_dump(donnees, allow_unicode=True, sort_keys=False),
                                                     encoding="utf-8")


def copier_catalogue(cible: Path) -> None:
    cible.mkdir(parents=True)
    for nom in CATALOGUE:
        (shutil.copytree if (RACINE / nom).is_dir() else shutil.copy)(RACINE / nom, cible / nom)


def modifier_catalogue(racine: Path) -> None:
    chemin = racine / CLAUSE_MODIFIEE
    texte = chemin.read_text(encoding="utf-8")
    debut = texte.index("\n---\n", 4) + 5
    chemin.write_text(texte[:debut] + "Le présent article a été mis à jour pour le banc d'essai.\n\n" + texte[debut:],
                      encoding="utf-8")


# -- mesure dans un processus neuf -----------------------------------------------------------------------

def mesurer(dossier: Path, racine: Path, jobs: int, seulement_impactees: bool) -> dict[str, Any]:
    """Exécuté dans un processus neuf : un lot, sa durée et les mémoires de pointe (Mio)."""
    from generateur.lot.regeneration import regenerer

    debut = time.perf_counter()
    bilan = regenerer(dossier, racine, jobs=jobs, seulement_impactees=seulement_impactees)
    duree = time.perf_counter() - debut
    statuts: dict[str, int] = {}
    for r in bilan.consultations:
        statuts[r.statut] = statuts.get(r.statut, 0) + 1
    return {"duree": duree, "statuts": statuts,
            "erreurs": [f"{r.dossier} : {r.erreur}" for r in bilan.echecs][:5],
            "rss_principal": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_calcul": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def lancer(dossier: Path, racine: Path, jobs: int, seulement_impactees: bool = False) -> dict[str, Any]:
    commande = [sys.executable, __file__, "--mesurer", str(dossier), "--racine", str(racine), "--jobs", str(jobs)]
    if seulement_impactees:
        commande.append("--seulement-impactees")
    sortie = subprocess.run(commande, check=True, capture_output=True, text=True).stdout
    return json.loads(sortie.strip().splitlines()[-1])


def documents_par_consultation(dossier: Path) -> float:
    versions = list(dossier.glob("*/versions/*"))
    return sum(len(list(v.glob("*.docx"))) for v in versions) / max(1, len(versions))


# -- un DCE, et la voie pandoc ---------------------------------------------------------------------------

def un_dce(repetitions: int) -> dict[str, float]:
    from generateur.rendu.generation import generer

    resultats = {}
    with tempfile.TemporaryDirectory() as sortie:
        for exemple in sorted((RACINE / "exemples").glob("*.yaml")):
            generer(exemple, Path(sortie) / "chauffe", RACINE)
            durees = []
            for i in range(repetitions):
                t = time.perf_counter()
                generer(exemple, Path(sortie) / str(i), RACINE)
                durees.append(time.perf_counter() - t)
            resultats[exemple.stem] = statistics.median(durees) * 1000
    return resultats


def markdown_document(analyse, document: str) -> str:
    """Le document en un seul Markdown : titres d'articles et clauses rendues (mêmes textes que la voie dce)."""
    from generateur.pieces.assemblage import rendre_clause

    morceaux = []
    for numero, article, selections in analyse.plans[document]:
        morceaux.append(f"# Article {numero} – {article['titre']}\n")
        for s in selections:
            if s.numero != numero:
                morceaux.append(f"## {s.numero} – {s.clause.titre}\n")
            morceaux.append(rendre_clause(analyse, s) + "\n")
    return "\n".join(morceaux)


def comparer_pandoc(n: int, dossier: Path, racine: Path) -> dict[str, float]:
    """Temps par document (RC, CCAP, CCTP) : voie dce (blocs → WordprocessingML → docxtpl) contre un appel pandoc."""
    import pypandoc

    from generateur.pieces.assemblage import blocs_document
    from generateur.rendu.documents import produire
    from generateur.rendu.generation import PIECES, modele_de, variables_modele
    from generateur.droit.regles import preparer

    dce, pandoc = [], []
    lot = sorted(dossier.glob("*/reponses.yaml"))
    echantillon = sorted((RACINE / "exemples").glob("*.yaml")) + lot[:: max(1, len(lot) // max(1, n))][:n]
    with tempfile.TemporaryDirectory() as tmp:
        for reponses in echantillon:
            analyse = preparer(reponses, racine)
            for document in PIECES:
                modele = modele_de(analyse, document)
                t = time.perf_counter()
                blocs, titres = blocs_document(analyse, document)
                produire(modele, variables_modele(analyse, document, document), blocs, titres)
                dce.append(time.perf_counter() - t)
                t = time.perf_counter()
                pypandoc.convert_text(markdown_document(analyse, document), "docx", format="markdown",
                                      outputfile=str(Path(tmp) / f"{document}.docx"),
                                      extra_args=[f"--reference-doc={modele}"])
                pandoc.append(time.perf_counter() - t)
    return {"dce_ms": statistics.median(dce) * 1000, "pandoc_ms": statistics.median(pandoc) * 1000,
            "rapport": sum(pandoc) / sum(dce), "documents": len(dce)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, action="append", help="taille(s) de lot (défaut : 100 et 400)")
    parser.add_argument("--pandoc", type=int, default=10, help="consultations pour la comparaison avec pandoc")
    parser.add_argument("--exemples", type=int, default=10, help="répétitions pour le temps d'un DCE")
    parser.add_argument("--jobs-max", type=int, default=2)
    parser.add_argument("--mesurer", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--racine", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--jobs", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--seulement-impactees", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mesurer:
        print(json.dumps(mesurer(args.mesurer, args.racine, args.jobs, args.seulement_impactees)))
        return

    lignes = ["| N | jobs | génération initiale | régénération après modification | documents/s | "
              "accélération | pointe processus principal | pointe processus de calcul | vérification sans changement "
              "(`--seulement-impactees`) |", "|---|---|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as travail:
        travail = Path(travail)
        for n in args.n or [100, 400]:
            racine = travail / f"racine-{n}"
            copier_catalogue(racine)
            base = travail / f"lot-{n}"
            fabriquer(base, n)
            initial = lancer(base, racine, args.jobs_max)
            if initial["erreurs"]:
                print(f"échecs à la génération initiale ({initial['statuts']}) : {initial['erreurs']}", file=sys.stderr)
            par_consultation = documents_par_consultation(base)
            copies = {}
            for jobs in range(1, args.jobs_max + 1):
                copies[jobs] = travail / f"lot-{n}-{jobs}"
                shutil.copytree(base, copies[jobs])
            modifier_catalogue(racine)
            mesures = {jobs: lancer(copies[jobs], racine, jobs) for jobs in copies}
            verification = lancer(copies[args.jobs_max], racine, args.jobs_max, seulement_impactees=True)
            for jobs, m in mesures.items():
                if m["erreurs"]:
                    print(f"échecs ({jobs} jobs) : {m['erreurs']}", file=sys.stderr)
                modifiees = m["statuts"].get("modifiée", 0)
                debit = modifiees * par_consultation / m["duree"]
                lignes.append(
                    f"| {n} | {jobs} | {initial['duree']:.1f} s ({args.jobs_max} jobs) | {m['duree']:.1f} s "
                    f"({modifiees} modifiées) | {debit:.1f} | "
                    f"{mesures[1]['duree'] / m['duree']:.2f} | {m['rss_principal']:.0f} Mio | {m['rss_calcul']:.0f} Mio | "
                    f"{verification['duree']:.1f} s |")
            shutil.rmtree(copies[1])
        print(f"Documents Word par consultation : {par_consultation:.1f} (RC, CCAP, CCTP, fiche SPASER, annexes)\n")
        print("\n".join(lignes))

        print("\nUn DCE complet (médiane, un processus) :")
        for nom, ms in un_dce(args.exemples).items():
            print(f"- {nom} : {ms:.0f} ms")

        if args.pandoc:
            p = comparer_pandoc(args.pandoc, travail / f"lot-{(args.n or [100, 400])[0]}", RACINE)
            print(f"\nRendu des mêmes clauses, un document à la fois ({p['documents']} documents : RC, CCAP et CCTP "
                  f"des exemples et d'un échantillon du lot) : médiane dce {p['dce_ms']:.0f} ms, pandoc "
                  f"{p['pandoc_ms']:.0f} ms ; temps total pandoc / dce = {p['rapport']:.1f}.")
        charge = os.getloadavg()
        print(f"\nCharge de la machine à la fin (1, 5, 15 min) : {charge[0]:.1f} / {charge[1]:.1f} / {charge[2]:.1f} "
              f"sur {os.cpu_count()} cœurs.")


if __name__ == "__main__":
    main()
