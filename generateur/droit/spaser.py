"""Ce que la consultation fait du SPASER : actions mises en œuvre par les clauses retenues, considérations DECP."""

from __future__ import annotations

from ..donnees.acheteurs import Action
from .regles import Analyse, Selection

SOCIALES = ("Clause sociale", "Critère social", "Marché réservé")


ENVIRONNEMENTALES = ("Clause environnementale", "Critère environnemental")


def considerations_decp(analyse: Analyse) -> dict[str, list[str]]:
    """Valeurs DECP 2.x déduites des clauses retenues et des critères, jamais saisies à la main."""
    valeurs: set[str] = set()
    for s in analyse.retenues():
        valeurs.update(s.clause.decp)
    for critere in analyse.contexte.get("criteres") or []:
        if critere.get("type") == "environnemental":
            valeurs.add("Critère environnemental")
        elif critere.get("type") == "social":
            valeurs.add("Critère social")
    sociales = [v for v in SOCIALES if v in valeurs] or ["Pas de considération sociale"]
    environnementales = [v for v in ENVIRONNEMENTALES if v in valeurs] or ["Pas de considération environnementale"]
    return {"considerationsSociales": sociales, "considerationsEnvironnementales": environnementales}


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
