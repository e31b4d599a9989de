"""Banc d'essai de la régénération en lot (`dce regenerer`).

Usage : python benchmarks/regeneration.py [--n 100 --n 1000] [--pandoc 10] [--exemples 10] [--dask] [--dask-defaut]
        [--jobs-min 2] [--parmi 3000] [--code DOSSIER]

Pour chaque taille N, un dossier de consultations est fabriqué : les 300 marchés réels de
../shared/data/decp/decp-sample.json (DECP 1.x, 2018-2019) traduits en fichiers de réponses (au plus
la moitié du lot), complétés par des consultations synthétiques (natures et catégories variées, 1 à 10
lots, options SPASER activées ou non, dates de lancement de septembre 2026 à juin 2027). Le lot est
généré une fois, puis la phrase d'une clause retenue partout est modifiée dans une copie du catalogue
et le lot est régénéré avec 1 puis 2 processus, chaque fois depuis le cache que la génération initiale a laissé
(un cache neuf par taille, `DCE_CACHE`, sauf si la variable est donnée : les chiffres ne dépendent pas des lancements
précédents) et dans un processus neuf (mesures : mémoire de
pointe du plus gros processus de calcul et de l'arbre entier, temps mur et temps de calcul user+sys de tout
l'arbre, démarrages compris, hors échantillonneur de la mémoire du banc ; `--dask` ajoute le même lot sur un
LocalCluster Dask aux réglages conseillés, `--dask-defaut` aux réglages par défaut de Dask, et le banc dit le surcoût
de calcul de Dask par rapport aux processus locaux, démarrage du cluster compris et hors ce démarrage, puis pour un
lot suivant sur le même cluster, comme sur un cluster qui reste en place). Enfin : temps
d'un DCE complet dans un processus chaud, et rapport avec le rendu des mêmes clauses par un appel à pandoc par document (même modèle Word en
--reference-doc). Le résultat s'affiche en Markdown, prêt pour le README. `--code DOSSIER` mesure une autre version
de dce (par exemple une extraction de main) avec le même corpus et le même catalogue : comparaison avant/après.
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
sys.path.insert(0, str(Path(__file__).resolve().parent))

from generateur.donnees.cpv import officiel as cpv_officiel  # noqa: E402


def code_mesure(dossier: Path) -> None:
    """`--code` : le paquet `generateur` de `dossier` remplace celui de ce dépôt, déjà importé (nomenclature CPV du
    corpus), qui masquerait l'autre version."""
    sys.path.insert(0, str(Path(dossier).resolve()))
    for module in [m for m in sys.modules if m == "generateur" or m.startswith("generateur.")]:
        del sys.modules[module]


if __name__ == "__mp_main__" and "--code" in sys.argv:
    # processus de calcul d'un LocalCluster Dask (spawn) : il réimporte ce fichier, qui vient de remettre ce dépôt en
    # tête du chemin ; sans cela, ses tâches exécuteraient le code de ce dépôt au lieu de celui de --code
    code_mesure(Path(sys.argv[sys.argv.index("--code") + 1]))

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
    for lot in donnees["lots"]:
        if lot.get("duree_mois", 0) > donnees["duree_mois"]:
            # durée propre d'un lot du modèle (travaux : 10 à 16 mois) : elle ne peut pas dépasser celle du marché
            lot["duree_mois"] = donnees["duree_mois"]
    if donnees.get("chantier", {}).get("preparation_mois", 0) >= donnees["duree_mois"]:
        donnees["chantier"]["preparation_mois"] = donnees["duree_mois"] - 1
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


def depuis_decp(marche: dict[str, Any], rang: int = 0) -> dict[str, Any]:
    """Un marché réel des DECP traduit en fichier de réponses.

    Objet, CPV, montant, durée, forme (accord-cadre), forme du prix viennent des données ; la date de
    lancement est la date de notification décalée de huit ans (le catalogue commence en 2019), moins trois
    mois ; le reste (critères, clauses de l'acheteur) vient du modèle de même nature.
    """
    cpv = str(marche["codeCPV"])[:8].ljust(8, "0")
    officiel = cpv_officiel(cpv)  # « 09123000-8 » : écrit avec sa clé, le code garde son zéro initial dans le YAML
    cpv = officiel.code if officiel else cpv
    nature, categorie = _categorie_decp(cpv)
    nom = MODELES.get((nature, categorie)) or {"travaux": "travaux-lycee", "fournitures": "restauration-lycees",
                                                "services": "nettoyage-hotel-region"}[nature]
    donnees = _exemple(nom)
    objet = " ".join(str(marche["objet"]).split())[:960] + f" (DECP {marche['id']})"
    # référence courte : l'identifiant DECP du marché (« -L1 » compris) tient en 16 caractères ; l'identifiant
    # d'origine, parfois long ou répété dans l'échantillon, reste dans l'objet de la consultation
    donnees.update(reference=f"DECP-{rang:04d}", objet=objet, nature=nature, categorie=categorie, cpv=cpv,
                   duree_mois=max(1, min(240, int(marche.get("dureeMois") or 12))),
                   forme="accord_cadre_bons_commande" if marche["nature"] == "Accord-cadre" else "marche",
                   lieu_execution=str(marche.get("lieuExecution", {}).get("nom", ""))[:200])
    donnees["acheteur"] = "occitanie"
    donnees["spaser"] = {k: v for k, v in donnees.get("spaser", {}).items()
                         if k not in ("commerce_equitable", "alimentation_durable")
                         or categorie == "restauration_collective"}
    if nature != "travaux":
        donnees["spaser"].pop("filiere_btp", None)
    elif donnees.get("chantier", {}).get("preparation_mois", 0) >= donnees["duree_mois"]:
        # marché de travaux court : la période de préparation est comprise dans le délai (CCAG-Travaux art. 18.1.1)
        donnees["chantier"]["preparation_mois"] = donnees["duree_mois"] - 1
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
    reels = [(f"decp-{i:03d}", depuis_decp(m, i)) for i, m in enumerate(marches[: n // 2])]
    alea = random.Random(graine)
    return reels + [(f"syn-{i:05d}", synthetique(i, alea)) for i in range(n - len(reels))]


def _fichiers_cites(donnees: Any) -> set[str]:
    """Chemins relatifs des fichiers que citent les réponses (textes techniques du CCTP, pièces jointes, listes)."""
    if isinstance(donnees, dict):
        return set().union(*(_fichiers_cites(v) for v in donnees.values()))
    if isinstance(donnees, list):
        return set().union(*(_fichiers_cites(v) for v in donnees))
    if isinstance(donnees, str) and donnees.startswith(("cctp/", "pieces/")) and (RACINE / "exemples" / donnees).is_file():
        return {donnees}
    return set()


def fabriquer(dossier: Path, n: int, parmi: int | None = None, decalage: int = 0) -> None:
    """Écrit les réponses de chaque consultation du corpus, avec les fichiers qu'elles citent (copiés de exemples/).
    `parmi` : n consultations prises à intervalles réguliers dans le corpus de `parmi` (même mélange de marchés
    réels et de consultations synthétiques que le lot de cette taille), au lieu des n premières ; `decalage` : à partir
    de la consultation de ce rang (d'autres consultations du même mélange)."""
    tout = corpus(n) if parmi is None else corpus(parmi)
    pas = 1 if parmi is None else max(1, parmi // n)
    for nom, donnees in tout[decalage::pas][:n]:
        (dossier / nom).mkdir(parents=True)
        (dossier / nom / "reponses.yaml").write_text(yaml.safe_dump(donnees, allow_unicode=True, sort_keys=False),
                                                     encoding="utf-8")
        for chemin in sorted(_fichiers_cites(donnees)):
            (dossier / nom / chemin).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(RACINE / "exemples" / chemin, dossier / nom / chemin)


def copier_catalogue(cible: Path) -> None:
    cible.mkdir(parents=True)
    for nom in CATALOGUE:
        (shutil.copytree if (RACINE / nom).is_dir() else shutil.copy)(RACINE / nom, cible / nom)


def modifier_catalogue(racine: Path,
                       phrase: str = "Le présent article a été mis à jour pour le banc d'essai.") -> None:
    chemin = racine / CLAUSE_MODIFIEE
    texte = chemin.read_text(encoding="utf-8")
    debut = texte.index("\n---\n", 4) + 5
    chemin.write_text(texte[:debut] + phrase + "\n\n" + texte[debut:], encoding="utf-8")


# -- mesure dans un processus neuf -----------------------------------------------------------------------

def mesurer(dossier: Path, racine: Path, jobs: int, seulement_impactees: bool, dask: str | None = None) -> dict[str, Any]:
    """Exécuté dans un processus neuf : un lot, sa durée, son temps de calcul (processus principal et processus de
    calcul) et ses mémoires de pointe (Mio) : plus gros processus de calcul, processus principal, arbre entier.

    Le temps de calcul est celui de tout l'arbre (processus principal et processus de calcul, démarrages compris), hors
    échantillonneur de la mémoire du banc (un fil du processus principal qui relit /proc toutes les 100 ms : 3 à 5 %
    d'un cœur, davantage quand l'arbre compte plus de processus, comme avec Dask ; il est retiré des deux côtés).
    `dask` : « conseilles » (réglages `REGLAGES_DASK` du code mesuré, comme l'exemple du guide ; aucun si ce code
    n'en a pas) ou « defaut » (réglages par défaut de Dask) : le lot sur un LocalCluster de `jobs` travailleurs,
    démarrage du cluster compris ; `cpu_demarrage` : calcul de l'arbre jusqu'au cluster prêt (imports de distributed,
    ordonnanceur, nannies, travailleurs)."""
    from mesures import Arbre, cpu_enfants, cpu_soi

    from generateur.lot import regeneration

    resultat: dict[str, Any] = {}
    with Arbre() as arbre:
        cpu, debut = cpu_soi() + cpu_enfants(), time.perf_counter()
        if dask:
            import distributed
            from dask import config as config_dask

            if dask == "conseilles":
                config_dask.set(getattr(regeneration, "REGLAGES_DASK", {}))
            # catalogue du lot, celui que les travailleurs chauffent à leur démarrage (`travailleur_dask`), comme sur
            # une machine de calcul dont l'installation a ce catalogue
            os.environ["DCE_RACINE"] = str(racine)
            with distributed.LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                                          dashboard_address=None) as cluster, distributed.Client(cluster) as client:
                def calcul_du_processus() -> tuple[int, float]:
                    usage = resource.getrusage(resource.RUSAGE_SELF)
                    return os.getpid(), usage.ru_utime + usage.ru_stime

                def calcul_arbre() -> float:
                    """Calcul de tout l'arbre depuis le début, hors échantillonneur : ce processus (ordonnanceur et
                    client), puis chaque autre processus vivant du cluster (travailleurs, nannies) relevé par
                    lui-même, une fois. Les nannies d'un LocalCluster vivent dans ce processus-ci : les relever
                    chacune compterait ce processus, depuis son démarrage, une fois de plus par nanny (c'est ce que
                    faisait la vingt-sixième passe)."""
                    echantillonneur = time.clock_gettime(time.pthread_getcpuclockid(arbre.ident))
                    autres = dict([*client.run(calcul_du_processus).values(),
                                   *client.run(calcul_du_processus, nanny=True).values()])
                    autres.pop(os.getpid(), None)
                    return cpu_soi() + cpu_enfants() - cpu - echantillonneur + sum(autres.values())

                resultat["cpu_demarrage"] = calcul_arbre()
                debut_lot = time.perf_counter()
                # travailleurs donnés, comme dans l'exemple du guide : tâches à leur mesure (`groupes`)
                bilan = regeneration.regenerer(dossier, racine, executeur=client.get_executor(), jobs=jobs,
                                               seulement_impactees=seulement_impactees)
                duree_lot = time.perf_counter() - debut_lot
                resultat["cpu_consultations"] = sum(client.run(calcul_des_taches).values())
                resultat["cpu_dask"] = calcul_arbre()
                # lot suivant sur le même cluster, comme sur un cluster qui reste en place (`dask worker`) : ses
                # travailleurs ont déjà tout importé ; une autre phrase modifiée, le catalogue remis ensuite
                clause = racine / CLAUSE_MODIFIEE
                texte = clause.read_text(encoding="utf-8")
                try:
                    modifier_catalogue(racine, "Le présent article a été mis à jour une seconde fois pour le banc.")
                    avant, debut_suivant = calcul_arbre(), time.perf_counter()
                    regeneration.regenerer(dossier, racine, executeur=client.get_executor(), jobs=jobs,
                                           seulement_impactees=seulement_impactees)
                    resultat["duree_suivant"] = time.perf_counter() - debut_suivant
                    resultat["cpu_suivant"] = calcul_arbre() - avant
                finally:
                    clause.write_text(texte, encoding="utf-8")
                code = set(client.run(lambda: sys.modules["generateur.lot.regeneration"].__file__).values())
                if code != {regeneration.__file__}:
                    raise RuntimeError(f"les travailleurs Dask ont exécuté {code}, pas {regeneration.__file__}")
        else:
            enfants = cpu_enfants()
            bilan = regeneration.regenerer(dossier, racine, jobs=jobs, seulement_impactees=seulement_impactees)
            resultat["cpu_consultations"] = cpu_enfants() - enfants  # processus de calcul, arrêtés par regenerer
        duree = time.perf_counter() - debut
        if not dask:
            duree_lot = duree
        echantillonneur = time.clock_gettime(time.pthread_getcpuclockid(arbre.ident))
    cpu = resultat["cpu_dask"] if dask else cpu_soi() + cpu_enfants() - cpu - echantillonneur
    statuts: dict[str, int] = {}
    for r in bilan.consultations:
        statuts[r.statut] = statuts.get(r.statut, 0) + 1
    duree -= resultat.get("duree_suivant", 0.0)
    return {**resultat, "duree": duree_lot, "duree_totale": duree, "cpu": cpu, "cpu_echantillonneur": echantillonneur,
            "statuts": statuts, "erreurs": [f"{r.dossier} : {r.erreur}" for r in bilan.echecs][:5],
            "rss_principal": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_calcul": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, **arbre.resultat()}


def calcul_des_taches() -> float:
    """Dans un travailleur Dask : temps de calcul de ses fils d'exécution des tâches (ici, les consultations), sans sa
    boucle d'événements (communications, battements de cœur, surveillance)."""
    import threading

    return sum(time.clock_gettime(time.pthread_getcpuclockid(fil.ident)) for fil in threading.enumerate()
               if "Dask-Default-Threads" in fil.name)


def lancer(dossier: Path, racine: Path, jobs: int, seulement_impactees: bool = False, dask: str | None = None,
           code: Path | None = None) -> dict[str, Any]:
    commande = [sys.executable, __file__, "--mesurer", str(dossier), "--racine", str(racine), "--jobs", str(jobs)]
    if seulement_impactees:
        commande.append("--seulement-impactees")
    if dask:
        commande += ["--mesurer-dask", dask]
    if code:
        commande += ["--code", str(code)]
    sortie = subprocess.run(commande, check=True, capture_output=True, text=True).stdout
    return json.loads(sortie.strip().splitlines()[-1])


def documents_par_consultation(dossier: Path) -> float:
    versions = list(dossier.glob("*/versions/*"))
    return sum(len(list(v.glob("*.docx"))) for v in versions) / max(1, len(versions))


# -- un DCE, et la voie pandoc ---------------------------------------------------------------------------

def un_dce(repetitions: int) -> dict[str, tuple[float, float]]:
    """Exemple → (médiane mur, médiane calcul) en ms d'un DCE complet écrit sur disque, processus chaud."""
    from mesures import cpu_soi

    from generateur.rendu.generation import generer

    resultats = {}
    with tempfile.TemporaryDirectory() as sortie:
        for exemple in sorted((RACINE / "exemples").glob("*.yaml")):
            generer(exemple, Path(sortie) / "chauffe", RACINE)
            durees, calculs = [], []
            for i in range(repetitions):
                t, c = time.perf_counter(), cpu_soi()
                generer(exemple, Path(sortie) / str(i), RACINE)
                durees.append(time.perf_counter() - t)
                calculs.append(cpu_soi() - c)
            resultats[exemple.stem] = (statistics.median(durees) * 1000, statistics.median(calculs) * 1000)
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
    from mesures import acceleration_machine, analyseur, charge

    parser = analyseur(__doc__)
    parser.add_argument("--n", type=int, action="append", help="taille(s) de lot (défaut : 100 et 1000)")
    parser.add_argument("--pandoc", type=int, default=10, help="consultations pour la comparaison avec pandoc")
    parser.add_argument("--exemples", type=int, default=10, help="répétitions pour le temps d'un DCE")
    parser.add_argument("--jobs-max", type=int, default=2, help="processus de calcul au plus")
    parser.add_argument("--jobs-min", type=int, default=1, help="2 : ne pas mesurer le lot à 1 processus")
    parser.add_argument("--dask", action="store_true", help="mesurer aussi le lot sur un LocalCluster Dask (réglages "
                        "REGLAGES_DASK du code mesuré, comme l'exemple du guide)")
    parser.add_argument("--dask-defaut", action="store_true", help="mesurer aussi le lot sur un LocalCluster Dask aux "
                        "réglages par défaut de Dask")
    parser.add_argument("--mesurer-dask", choices=["conseilles", "defaut"], help=argparse.SUPPRESS)
    parser.add_argument("--code", type=Path, help="dossier d'une autre version de dce à mesurer (comparaison)")
    parser.add_argument("--repetitions", type=int, default=1, help="lancements de chaque régénération mesurée, "
                        "chacun sur le lot et le cache tels que la génération initiale les a laissés, alternés entre "
                        "exécuteurs : le tableau donne le lancement de durée médiane et l'étendue (la même machine "
                        "varie de ±10 %% d'un lancement à l'autre)")
    parser.add_argument("--parmi", type=int, help="chaque lot pris à intervalles réguliers dans le corpus de cette "
                        "taille : même mélange de marchés réels et synthétiques à chaque N (sinon, les N premières "
                        "consultations du corpus de N : la moitié de marchés réels à 100, 30 %% à 1 000, 10 %% à 3 000)")
    parser.add_argument("--mesurer", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--racine", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--jobs", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--seulement-impactees", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.code:  # le code mesuré vient d'ailleurs (version précédente) ; catalogue et corpus restent ceux-ci
        code_mesure(args.code)
    if args.mesurer:
        print(json.dumps(mesurer(args.mesurer, args.racine, args.jobs, args.seulement_impactees, args.mesurer_dask)))
        return

    lignes = ["| N | exécuteur | génération initiale (mur) | régénération après modification (mur) | calcul, arbre entier "
              "(user+sys, hors échantillonneur du banc) | calcul par consultation | accélération 1 → 2 (mur) | pointe plus gros processus de calcul | "
              "pointe arbre entier (PSS / RSS) | vérification sans changement (`--seulement-impactees`) |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    tailles = args.n or [100, 1000]
    surcouts: list[str] = []
    cache_utilisateur = os.environ.get("DCE_CACHE")
    with tempfile.TemporaryDirectory() as travail:
        travail = Path(travail)
        for n in tailles:
            racine = travail / f"racine-{n}"
            copier_catalogue(racine)
            base = travail / f"lot-{n}"
            fabriquer(base, n, args.parmi)
            # un cache neuf par taille (`DCE_CACHE`, sauf s'il est donné) : les chiffres ne dépendent pas de ce que
            # des lancements précédents ont laissé dans le cache de l'utilisateur (mémoires des consultations d'un
            # même corpus), ni la taille suivante de la précédente ; chaque exécuteur part du cache tel que la
            # génération initiale l'a laissé (celui mesuré d'abord ne prépare pas le suivant)
            cache_neuf = travail / f"cache-{n}" if cache_utilisateur is None else None
            cache_initial = travail / f"cache-{n}-initial"
            if cache_neuf is not None:
                os.environ["DCE_CACHE"] = str(cache_neuf)
            initial = lancer(base, racine, args.jobs_max, code=args.code)
            if initial["erreurs"]:
                print(f"échecs à la génération initiale ({initial['statuts']}) : {initial['erreurs']}", file=sys.stderr)
            par_consultation = documents_par_consultation(base)
            executeurs: list[tuple[str, int, str | None]] = [(f"{jobs} processus", jobs, None)
                                                             for jobs in range(args.jobs_min, args.jobs_max + 1)]
            if args.dask:
                executeurs.append((f"Dask, {args.jobs_max} travailleurs", args.jobs_max, "conseilles"))
            if args.dask_defaut:
                executeurs.append((f"Dask, {args.jobs_max} travailleurs, réglages par défaut", args.jobs_max, "defaut"))
            # chaque mesure sur une copie du lot tel que la génération initiale l'a laissé, dans le cache tel qu'elle
            # l'a laissé ; `--repetitions` : chaque exécuteur mesuré plusieurs fois, les lancements alternés
            copies: dict[tuple[str, int], Path] = {}
            for repetition in range(args.repetitions):
                for nom, _, _ in executeurs:
                    copies[(nom, repetition)] = travail / f"lot-{n}-{len(copies)}"
                    shutil.copytree(base, copies[(nom, repetition)])
            if cache_neuf is not None and len(copies) > 1:  # le premier mesuré le trouve tel quel
                shutil.copytree(cache_neuf, cache_initial, symlinks=True)
            modifier_catalogue(racine)
            reglages = {nom: (jobs, dask) for nom, jobs, dask in executeurs}
            lancements: dict[str, list[dict[str, Any]]] = {nom: [] for nom in reglages}
            for rang, ((nom, _), copie) in enumerate(copies.items()):
                if cache_neuf is not None and rang:
                    shutil.rmtree(cache_neuf)
                    shutil.copytree(cache_initial, cache_neuf, symlinks=True)
                # les copies et les versions du lot mesuré juste avant (des centaines de mégaoctets) attendent
                # encore d'être écrites : sans cela, la première barrière de durabilité du lot (syncfs,
                # `fichiers.barriere`) les écrirait sur le disque, ≈ 1,6 s d'attente de chaque processus de calcul au
                # début du lot (mesuré le 4 décembre), que le lot d'un utilisateur n'a pas
                os.sync()
                jobs, dask = reglages[nom]
                lancements[nom].append(lancer(copie, racine, jobs, dask=dask, code=args.code))
            # le lancement de durée médiane (la plus courte des deux du milieu, en nombre pair), et l'étendue des durées
            # et des calculs de tous (d'un lancement à l'autre, la même machine varie de ±10 %)
            mesures = {nom: sorted(l, key=lambda m: m["duree"])[(len(l) - 1) // 2] for nom, l in lancements.items()}
            processus = [nom for nom, _, dask in executeurs if not dask]
            os.sync()
            verification = lancer(copies[(processus[-1], args.repetitions - 1)], racine, args.jobs_max,
                                  seulement_impactees=True, code=args.code)
            un_seul = mesures[executeurs[0][0]]["duree"]
            for nom, m in mesures.items():
                if m["erreurs"]:
                    print(f"échecs ({nom}) : {m['erreurs']}", file=sys.stderr)
                modifiees = m["statuts"].get("modifiée", 0)
                tous = lancements[nom]
                etendue = (f" ; médiane de {len(tous)} lancements : {min(x['duree'] for x in tous):.1f} à "
                           f"{max(x['duree'] for x in tous):.1f} s" if len(tous) > 1 else "")
                etendue_cpu = (f" ({min(x['cpu'] for x in tous) / n * 1000:.0f} à "
                               f"{max(x['cpu'] for x in tous) / n * 1000:.0f} ms)" if len(tous) > 1 else "")
                ligne = (
                    f"| {n} | {nom} | {initial['duree']:.1f} s ({args.jobs_max} processus) | {m['duree']:.1f} s "
                    f"({modifiees} modifiées{etendue}) | {m['cpu']:.1f} s | {m['cpu'] / n * 1000:.0f} ms{etendue_cpu} | "
                    f"{un_seul / m['duree']:.2f} | {m['rss_calcul']:.0f} Mio | "
                    f"{m['arbre_pss']:.0f} / {m['arbre_rss']:.0f} Mio ({m['processus']} processus ; principal "
                    f"{m['principal_a_la_pointe']:.0f} Mio à la pointe, {m['pointe_principal']:.0f} Mio "
                    f"au plus, synthèse comprise) | "
                    f"{verification['duree']:.1f} s |")
                lignes.append(ligne)
                print(ligne, file=sys.stderr, flush=True)  # au fil de l'eau
            reference = mesures[processus[-1]]
            for nom, jobs, dask in executeurs:
                if dask:
                    m = mesures[nom]
                    sans = m["cpu"] - m["cpu_demarrage"]
                    propre = m["cpu"] - m["cpu_consultations"]
                    propre_reference = reference["cpu"] - reference["cpu_consultations"]
                    surcouts.append(
                        f"- {nom}, N = {n} : **{m['cpu'] / reference['cpu'] - 1:+.0%}** de calcul de tout l'arbre "
                        f"(user+sys, hors échantillonneur du banc) par rapport à {processus[-1]}, démarrage du cluster "
                        f"compris ({m['cpu']:.1f} s contre {reference['cpu']:.1f} s) ; démarrage du cluster jusqu'à "
                        f"ce qu'il soit prêt : {m['cpu_demarrage']:.1f} s ; hors ce démarrage : "
                        f"{sans / reference['cpu'] - 1:+.0%}. Hors calcul des consultations (fils d'exécution des "
                        f"tâches de Dask ; processus de calcul locaux), il reste {propre:.1f} s contre "
                        f"{propre_reference:.1f} s (démarrages, imports et catalogue des travailleurs, boucles "
                        f"d'événements, tâches, synthèse) : surcoût de "
                        f"**{(propre - propre_reference) / reference['cpu']:+.0%}** à calcul des consultations égal "
                        f"(moins sensible à la charge : {m['cpu_consultations']:.1f} s contre "
                        f"{reference['cpu_consultations']:.1f} s pour ce calcul ici). Lot suivant sur le même "
                        f"cluster (travailleurs prêts, une autre phrase modifiée) : "
                        f"**{m['cpu_suivant'] / reference['cpu'] - 1:+.0%}** de calcul de tout l'arbre "
                        f"({m['cpu_suivant']:.1f} s), mur {m['duree_suivant']:.1f} s contre "
                        f"{reference['duree']:.1f} s. Mémoire de l'arbre (PSS, pointe des deux lots) : "
                        f"{m['arbre_pss']:.0f} Mio contre {reference['arbre_pss']:.0f}.")
                    print(surcouts[-1], file=sys.stderr, flush=True)
            for copie in copies.values():
                shutil.rmtree(copie, ignore_errors=True)
            if cache_neuf is not None:
                for dossier in (cache_neuf, cache_initial):
                    shutil.rmtree(dossier, ignore_errors=True)
        if cache_utilisateur is None:  # la suite (un DCE, pandoc) : dans le cache de l'utilisateur, comme ses commandes
            os.environ.pop("DCE_CACHE", None)
        print(f"Documents Word par consultation : {par_consultation:.1f} (RC, CCAP, CCTP, fiche SPASER, annexes)\n")
        print("\n".join(lignes))
        if surcouts:
            print("\nSurcoût de Dask (les travailleurs de Dask importent tout et chargent le catalogue eux-mêmes, à leur "
                  "démarrage s'ils préchargent `generateur.lot.travailleur_dask`, sinon à leur première consultation ; "
                  "les processus locaux en héritent par fork) :\n" + "\n".join(surcouts))

        if args.exemples:
            print("\nUn DCE complet écrit sur disque, dans un processus chaud (médiane, mur / calcul) :")
            for nom, (mur, calcul) in un_dce(args.exemples).items():
                print(f"- {nom} : {mur:.0f} ms / {calcul:.0f} ms")

        if args.pandoc:
            p = comparer_pandoc(args.pandoc, travail / f"lot-{tailles[0]}", RACINE)
            print(f"\nRendu des mêmes clauses, un document à la fois dans un processus chaud ({p['documents']} "
                  f"documents : RC, CCAP et CCTP des exemples et d'un échantillon du lot) : médiane dce "
                  f"{p['dce_ms']:.0f} ms, pandoc {p['pandoc_ms']:.0f} ms ; temps total pandoc / dce = "
                  f"{p['rapport']:.1f}. Par consultation en ligne de commande : benchmarks/commande.py.")
        print("\n" + charge())
        if args.jobs_min == 1 and args.jobs_max == 2:  # l'accélération du lot, à côté de celle de la machine
            print(acceleration_machine())


if __name__ == "__main__":
    main()
