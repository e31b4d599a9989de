"""Ce que la consultation fait du SPASER : actions mises en œuvre par les clauses retenues, considérations DECP."""

from __future__ import annotations

from ..donnees.acheteurs import Action
from .regles import Analyse, Selection

SOCIALES = ("Clause sociale", "Critère social", "Marché réservé")
ENVIRONNEMENTALES = ("Clause environnementale", "Critère environnemental")
PAS_SOCIALE = "Pas de considération sociale"
PAS_ENVIRONNEMENTALE = "Pas de considération environnementale"


def _valeurs_decp(valeurs: set[str]) -> dict[str, list[str]]:
    """Les deux champs DECP, dans l'ordre des valeurs du schéma ; « Pas de considération… » s'il n'y en a aucune."""
    sociales = [v for v in SOCIALES if v in valeurs] or [PAS_SOCIALE]
    environnementales = [v for v in ENVIRONNEMENTALES if v in valeurs] or [PAS_ENVIRONNEMENTALE]
    return {"considerationsSociales": sociales, "considerationsEnvironnementales": environnementales}


def _valeurs_des_criteres(analyse: Analyse) -> set[str]:
    """Les critères de jugement sont ceux de la consultation : ils valent pour chaque lot."""
    types = {"environnemental": "Critère environnemental", "social": "Critère social"}
    return {types[c.get("type")] for c in analyse.contexte.get("criteres") or [] if c.get("type") in types}


def considerations_decp(analyse: Analyse) -> dict[str, list[str]]:
    """Valeurs DECP 2.x déduites des clauses retenues et des critères, jamais saisies à la main."""
    valeurs = _valeurs_des_criteres(analyse)
    for s in analyse.retenues():
        valeurs.update(s.clause.decp)
    return _valeurs_decp(valeurs)


def considerations_decp_par_lot(analyse: Analyse) -> dict[int, dict[str, list[str]]]:
    """Valeurs DECP 2.x de chaque lot (un lot est un marché, déclaré à part) : numéro du lot → les deux champs.

    Une clause de portée « lot » ne vaut que pour les lots où sa condition est vraie (insertion, réservation) ;
    une clause de la consultation et les critères de jugement valent pour tous les lots.
    """
    criteres = _valeurs_des_criteres(analyse)
    resultat = {}
    for lot in analyse.contexte["lots"]:
        valeurs = set(criteres)
        for s in analyse.retenues():
            if s.clause.portee != "lot" or lot["numero"] in s.lots:
                valeurs.update(s.clause.decp)
        resultat[lot["numero"]] = _valeurs_decp(valeurs)
    return resultat


def actions_mises_en_oeuvre(analyse: Analyse) -> list[tuple[Action, Selection]]:
    """(action, clause) pour chaque étiquette SPASER d'une clause retenue, dans l'ordre du référentiel."""
    paires = []
    for s in analyse.retenues():
        for etiquette in s.clause.actions:
            for action in analyse.acheteur.actions_pour(etiquette):
                if (action, s) not in paires:
                    paires.append((action, s))
    ordre = {ident: i for i, ident in enumerate(analyse.acheteur.actions)}
    return sorted(paires, key=lambda p: (ordre.get(p[0].id, 0), p[1].clause.document, p[1].numero))
