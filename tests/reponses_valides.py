"""Stratégie hypothesis : des fichiers de réponses valides, tirés de questionnaire.yaml.

Chaque question du questionnaire est parcourue dans l'ordre, avec sa condition d'affichage évaluée sur les
réponses déjà tirées (comme l'assistant) ; une question facultative est laissée vide trois fois sur dix (sa valeur
par défaut s'applique). La valeur suit le type de la question et ses bornes (min, max, choix) ; une question
ajoutée au questionnaire est donc tirée sans rien changer ici. Seuls les liens entre réponses que le type ne dit pas
sont écrits à la main : codes CPV de la nomenclature, dates dans l'ordre, pondérations qui font 100 %, numéros de
lots distincts, durée d'un lot au plus celle du marché, montant total égal à la somme des lots. Les textes sont des
textes d'acheteur vraisemblables (apostrophes droites comprises), pas des chaînes arbitraires : la relecture doit
trouver les défauts de l'outil, pas ceux qu'on aurait tapés.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from hypothesis import strategies as st

from generateur.donnees import cpv, questionnaire, reponses
from generateur.droit.expressions import evaluer
from conftest import RACINE

QUESTIONNAIRE = questionnaire.charger(RACINE / "questionnaire.yaml")
PROFILS = sorted(p.name for p in (RACINE / "acheteurs").iterdir() if (p / "acheteur.yaml").exists())

# Codes CPV : ceux des familles d'achat courantes, puis quelques codes de toute la nomenclature.
_RACINES = ["45214220", "45000000", "45233140", "45261210", "45331000", "45310000", "45421000", "45442100",
            "15000000", "15800000", "15110000", "03220000", "55523100", "90910000", "90919200", "77310000",
            "77211400", "30192000", "30197000", "30213000", "48000000", "72000000", "39130000", "18100000",
            "60100000", "34100000", "09310000", "71000000", "79400000", "50000000", "44000000", "33000000"]
CODES_CPV = sorted({cpv.nomenclature()[r].code for r in _RACINES if r in cpv.nomenclature()}
                   | {c.code for i, c in enumerate(cpv.nomenclature().values()) if i % 97 == 0})

# Textes d'acheteur, par dernière partie de l'identifiant de la question ; `_texte` et `_texte_long` sinon.
TEXTES: dict[str, list[str]] = {
    "objet": ["Travaux de rénovation énergétique du lycée Pierre-Paul Riquet à Castelnaudary",
              "Fourniture de denrées alimentaires pour la restauration scolaire",
              "Prestations de nettoyage des locaux de l'Hôtel de Région",
              "Entretien des espaces verts des parcs métropolitains",
              "Acquisition de postes de travail informatiques reconditionnés",
              "Fourniture de vêtements de travail pour les agents des lycées",
              "Mission d'assistance à maîtrise d'ouvrage pour le schéma directeur immobilier",
              "Location de véhicules utilitaires électriques",
              "Fourniture d'électricité d'origine renouvelable.",
              "Réfection de la voirie et des réseaux divers de la zone d'activités"],
    "intitule": ["Gros œuvre", "Menuiseries extérieures", "Électricité courants forts et faibles", "Plomberie",
                 "Fruits et légumes frais", "Produits laitiers", "Épicerie, dont commerce équitable",
                 "Nettoyage des bureaux", "Vitrerie", "Tonte différenciée", "Taille et élagage",
                 "Postes de travail", "Téléphonie mobile", "Vêtements de travail", "Lot unique",
                 "Secteur nord", "Secteur sud (Aude et Pyrénées-Orientales)", "Prix", "Valeur technique",
                 "Performance environnementale", "Insertion professionnelle", "Délai d'intervention",
                 "Coût du cycle de vie", "Méthodologie", "Moyens humains affectés"],
    "designation": ["Tonte des pelouses", "Nettoyage courant des bureaux", "Fourniture de ramettes de papier A4",
                    "Poste de travail reconditionné", "Béton de propreté", "Fenêtre en bois double vitrage",
                    "Intervention ponctuelle à la demande", "Kilogramme de pommes de saison"],
    "unite": ["unité", "m²", "kg", "heure", "forfait", "mois", "passage", "mètre linéaire"],
    "lieu_execution": ["Hôtel de Région, 22 boulevard du Maréchal Juin, 31400 Toulouse",
                       "Lycées publics de l'Hérault et du Gard", "Parcs métropolitains de Marseille",
                       "Sur l'ensemble du territoire régional"],
    "indice": ["BT01", "TP01", "Syntec", "ICHT-rev-TS", "BT47"],
    "mois_zero": ["janvier 2027", "mars 2026", "décembre 2026"],
    "nom": ["Atelier Martin architectes", "Bureau Veritas Construction", "SOCOTEC", "Cabinet Durand OPC",
            "Maison de l'emploi et de la cohésion sociale du Narbonnais", "Direction de l'immobilier de la Région",
            "Agence d'architecture Lamy & associés", "M. Jean Dupont, coordonnateur SPS de niveau 1"],
    "facilitateur": ["PLIE Marseille Provence Métropole", "Maison de l'emploi de Toulouse",
                     "Direction de l'emploi et de la formation de la Région", "Région Occitanie, service des clauses sociales",
                     "Agence départementale d'insertion"],
    "intemperies_station": ["Toulouse-Blagnac (Météo-France)", "Montpellier-Fréjorgues", "Marseille-Marignane"],
    "site_occupe_usagers": ["les élèves, les personnels et les visiteurs du lycée", "les agents et le public"],
    "horaires": ["de 7 h 30 à 18 h, du lundi au vendredi", "de 8 h à 17 h en semaine"],
    "_texte": ["Région Occitanie", "Service des achats", "Site de Montpellier"],
    "_texte_long": ["Les variantes portent sur les matériaux et les méthodes ; elles respectent les performances "
                    "énergétiques et le délai d'exécution.",
                    "Prestation indivisible, sur un site unique, dont la coordination serait impossible entre plusieurs "
                    "titulaires.",
                    "Fournitures livrées sans main-d'œuvre sur site : aucune heure de travail ne peut être réservée.",
                    "Phase 1 : bâtiment A pendant les vacances d'été ; phase 2 : bâtiment B à la rentrée.",
                    "Vent supérieur à 80 km/h ; pluie supérieure à 10 mm par jour.",
                    "Environ 4 000 m² de bureaux, nettoyés en journée."],
}


def _texte(q: questionnaire.Question) -> st.SearchStrategy[str]:
    nom = q.id.rsplit(".", 1)[-1]
    if q.motif:
        return st.from_regex(q.motif, fullmatch=True)
    return st.sampled_from(TEXTES.get(nom) or TEXTES["_texte_long" if q.type == "texte_long" else "_texte"])


def _nombre(q: questionnaire.Question) -> st.SearchStrategy[Any]:
    bas = 0 if q.min is None else q.min
    if q.type == "pourcentage":
        return st.sampled_from([0, 5, 5.5, 10, 15, 20, 25, 30, 50, 60, 80, 100])
    if q.type == "montant" and q.max is None:  # pénalités… : des montants modestes, que le catalogue borne encore
        return st.tuples(st.integers(0, 9), st.integers(max(bas, 1), 300), st.integers(max(bas, 1), 5_000)).map(
            lambda t: t[2] if t[0] == 5 else t[1])  # un sur dix au-delà des plafonds (hypothesis aime les bornes)
    if q.type == "montant":
        haut = min(q.max, 5_000_000)
        return st.one_of(st.integers(max(bas, 1), min(haut, 1_000)), st.integers(max(bas, 1), haut))
    if q.id.endswith("preparation_mois"):  # comprise dans le délai d'exécution : le plus souvent courte
        return st.tuples(st.integers(0, 9), st.integers(bas, 2), st.integers(bas, q.max)).map(
            lambda t: t[2] if t[0] == 5 else t[1])
    return st.integers(bas, 240 if q.max is None else q.max)


def strategie(q: questionnaire.Question) -> st.SearchStrategy[Any]:
    """Valeur d'une question d'après son type et ses bornes (sans les liens avec les autres réponses)."""
    if q.type in ("texte", "texte_long"):
        return _texte(q)
    if q.type in ("montant", "entier", "pourcentage"):
        return _nombre(q)
    if q.type == "choix":
        return st.sampled_from(sorted(q.choix))
    if q.type == "choix_multiple":
        return st.lists(st.sampled_from(sorted(q.choix)), unique=True, max_size=len(q.choix))
    if q.type == "oui_non":
        return st.booleans()
    if q.type == "date":
        return st.dates(dt.date(2024, 1, 1), dt.date(2028, 12, 31))
    raise ValueError(q.type)


def _poser(donnees: dict[str, Any], chemin: str, valeur: Any) -> None:
    *parents, feuille = chemin.split(".")
    for p in parents:
        donnees = donnees.setdefault(p, {})
    donnees[feuille] = valeur


def _visible(q: questionnaire.Question, donnees: dict[str, Any]) -> bool:
    if not q.condition:
        return True
    completees = copy.deepcopy(donnees)
    reponses.completer(completees, QUESTIONNAIRE.questions)
    return bool(evaluer(q.condition, completees))


def _objet(draw: Any, questions: list[questionnaire.Question], donnees: dict[str, Any],
           racine: dict[str, Any] | None = None, special: dict[str, Any] | None = None) -> dict[str, Any]:
    for q in questions:
        if racine is None and not _visible(q, donnees):
            continue
        if q.id in (special or {}):
            valeur = special[q.id](draw, donnees, racine)
            if valeur is not None:
                _poser(donnees, q.id, valeur)
            continue
        if not q.requis and draw(st.integers(0, 9)) < 3:
            continue
        if q.type == "liste":
            continue  # listes imbriquées : tirées par la question qui les porte
        _poser(donnees, q.id, draw(strategie(q)))
    return donnees


def _partage(draw: Any, total: float, n: int) -> list[float]:
    """`n` pondérations entières (ou à une décimale si le total l'est) positives dont la somme vaut `total`."""
    if n == 1:
        return [total]
    coupes = sorted(draw(st.lists(st.integers(1, int(total) - 1), min_size=n - 1, max_size=n - 1, unique=True)))
    bornes = [0, *coupes, int(total)]
    parts = [float(b - a) for a, b in zip(bornes, bornes[1:])]
    parts[-1] += total - int(total)
    return [int(p) if p == int(p) else p for p in parts]


def _lots(draw: Any, donnees: dict[str, Any], _: Any) -> list[dict[str, Any]]:
    q = QUESTIONNAIRE.question("lots")
    n = draw(st.sampled_from([1, 1, 2, 2, 3, 4, 5, 8]))
    numeros = list(range(1, n + 1)) if draw(st.booleans()) else sorted(draw(
        st.lists(st.integers(1, 999), min_size=n, max_size=n, unique=True)))
    lots = []
    for numero in numeros:
        lot: dict[str, Any] = {}
        _objet(draw, q.questions, lot, donnees, SPECIAUX_LOT)
        lot["numero"] = numero
        lots.append(lot)
    return lots


def _duree_lot(draw: Any, lot: dict[str, Any], donnees: dict[str, Any]) -> int | None:
    return draw(st.none() | st.integers(1, donnees["duree_mois"]))


def _cpv(draw: Any, *_: Any) -> str:
    return draw(st.sampled_from(CODES_CPV))


def _cpv_lot(draw: Any, *_: Any) -> str | None:
    return draw(st.none() | st.sampled_from(CODES_CPV))


def _lignes(draw: Any, lot: dict[str, Any], donnees: dict[str, Any]) -> list[dict[str, Any]] | None:
    if draw(st.integers(0, 2)) == 0:
        return None
    q = QUESTIONNAIRE.question("lots.lignes_prix")
    return [_objet(draw, q.questions, {}, donnees) for _ in range(draw(st.integers(1, 4)))]


def _criteres(draw: Any, donnees: dict[str, Any], _: Any) -> list[dict[str, Any]]:
    q = QUESTIONNAIRE.question("criteres")
    types = draw(st.lists(st.sampled_from(sorted(q.questions[2].choix)), min_size=1, max_size=5))
    criteres = []
    for type_, ponderation in zip(types, _partage(draw, 100, len(types))):
        critere = {"intitule": draw(_texte(q.questions[0])), "ponderation": ponderation, "type": type_}
        if ponderation >= 4 and draw(st.integers(0, 3)) == 0:
            n = draw(st.integers(2, 3))
            critere["sous_criteres"] = [{"intitule": draw(_texte(q.questions[0])), "ponderation": p}
                                        for p in _partage(draw, ponderation, n)]
        criteres.append(critere)
    return criteres


def _date_limite(draw: Any, donnees: dict[str, Any], _: Any) -> str:
    jour = donnees["date_lancement"] + dt.timedelta(days=draw(st.integers(1, 90)))
    return f"{jour.isoformat()} {draw(st.sampled_from(['12:00', '16:30', '09:00']))}"


def _date_lancement(draw: Any, *_: Any) -> dt.date:
    # autour des changements de droit de 2026 (seuils, loi Climat et Résilience des 21 et 22 août 2026)
    return draw(st.dates(dt.date(2025, 1, 1), dt.date(2027, 12, 31)) | st.dates(dt.date(2026, 8, 15), dt.date(2026, 8, 31)))


def _montant_total(draw: Any, *_: Any) -> None:
    return None  # posé à la fin, une fois les lots tirés


def _compte_prorata_lot(draw: Any, donnees: dict[str, Any], _: Any) -> int | None:
    return draw(st.none() | st.sampled_from([l["numero"] for l in donnees["lots"]]))


def _montant_minimum(draw: Any, lot: dict[str, Any], donnees: dict[str, Any]) -> float | None:
    """Minimum d'un accord-cadre seulement, au plus le maximum (montant estimé) du lot."""
    if donnees.get("forme", "marche") == "marche" or "montant_estime" not in lot or draw(st.booleans()):
        return None
    return round(lot["montant_estime"] * draw(st.sampled_from([0.1, 0.25, 0.5])), 2)


def _procedure(draw: Any, *_: Any) -> str | None:
    """Procédure choisie : le marché sans publicité, dont le motif dépend des faits de l'achat, est éprouvé par ses
    cas datés (tests/cas/sans-publicite.yaml), pas tiré au hasard."""
    return draw(st.sampled_from([None, "procedure_adaptee", "appel_offres_ouvert", "appel_offres_restreint",
                                 "procedure_negociee", "dialogue_competitif"]))


def _calendrier_dialogue(draw: Any, *_: Any) -> str:
    """Calendrier indicatif du dialogue compétitif : exigé (CCP R2161-24), jamais vide."""
    return draw(st.sampled_from(["Sélection des candidatures puis trois séances de dialogue et remise des offres finales.",
                                 "Deux séances de dialogue en mars, offres finales en mai."]))


def _objets_variantes(draw: Any, donnees: dict[str, Any], _: Any) -> list[str] | None:
    """Objets des variantes : matériaux, réemploi et énergie en travaux seulement (limite du catalogue)."""
    choix = sorted(QUESTIONNAIRE.question("variantes.objets").choix)
    if donnees.get("nature") != "travaux":
        choix = ["insertion"]
    return draw(st.none() | st.lists(st.sampled_from(choix), unique=True, max_size=len(choix)))


SPECIAUX = {"acheteur": lambda draw, *_: draw(st.sampled_from(PROFILS)), "cpv": _cpv, "lots": _lots,
            "criteres": _criteres, "date_lancement": _date_lancement, "date_limite_offres": _date_limite,
            "montant_total_estime": _montant_total, "chantier.compte_prorata_lot": _compte_prorata_lot,
            "procedure_choisie": _procedure, "dialogue.calendrier": _calendrier_dialogue,
            "variantes.objets": _objets_variantes}
# Texte technique du CCTP : un fichier à côté des réponses, qu'un fichier tiré ne peut pas emporter (jamais tiré ; les
# textes importés sont éprouvés par tests/test_metier.py).
SPECIAUX_LOT = {"cpv": _cpv_lot, "duree_mois": _duree_lot, "lignes_prix": _lignes, "cctp_technique": lambda *_: None,
                "montant_minimum": _montant_minimum}


@st.composite
def fichier_de_reponses(draw: Any) -> dict[str, Any]:
    """Un fichier de réponses valide : toutes natures, familles, formes, nombres de lots et options SPASER."""
    donnees = _objet(draw, QUESTIONNAIRE.questions, {}, special=SPECIAUX)
    if draw(st.booleans()):
        donnees["montant_total_estime"] = sum(l["montant_estime"] for l in donnees["lots"])
    donnees["date_lancement"] = donnees["date_lancement"].isoformat()
    return donnees
