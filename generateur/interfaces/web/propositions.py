"""Suggestions du SPASER et fichier de réponses, par l'assistant de `dce nouveau` (generateur/interfaces/assistant.py).

Le web ne refait ni le contexte des suggestions, ni leur application, ni l'écriture du fichier de
réponses : il prête ses réponses à un `Assistant` sans terminal et lui demande ces trois choses.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ...droit import suggestions as module_suggestions
from ..assistant import Assistant
from ...erreurs import ErreurDCE
from ...droit.expressions import ErreursJinja
from ...droit.suggestions import Etat

ETAPE = "suggestions"


class _SansTerminal:
    """Interface d'un assistant qui ne dialogue pas : le web pose les questions lui-même."""

    def demander(self, invite: str) -> str:  # pragma: no cover - jamais appelé
        raise RuntimeError(invite)

    def afficher(self, texte: str = "") -> None:
        pass


def assistant(racine: Path, donnees: dict[str, Any]) -> Assistant:
    a = Assistant(racine, _SansTerminal())
    a.donnees = copy.deepcopy(donnees)
    return a


def inconnus(racine: Path, donnees: dict[str, Any]) -> list[str]:
    """Champs d'un fichier envoyé qui ne correspondent à aucune question (ils ne sont pas repris)."""
    a = assistant(racine, donnees)
    return sorted(a.inconnus(donnees, a.q.questions))


def texte_reponses(racine: Path, donnees: dict[str, Any]) -> str:
    """Le fichier de réponses tel que l'écrit `dce nouveau` ; brut (avec un avertissement) s'il est incomplet."""
    try:
        return assistant(racine, donnees).texte_yaml()
    except (ErreurDCE, ValueError, TypeError):
        entete = ("# Fichier de réponses de dce, INCOMPLET : le reprendre dans `dce serveur` (« Reprendre un\n"
                  "# fichier de réponses ») ou avec `dce nouveau --reprendre`, puis `dce generer`.\n")
        return entete + yaml.safe_dump(donnees, allow_unicode=True, sort_keys=False, default_flow_style=False)


@dataclass
class Proposition:
    """Une suggestion qui convient à la consultation, prête à afficher."""

    etat: Etat
    actions: str
    choix: bool | None  # Retenir / Ne pas retenir / pas encore décidé
    justification_libelle: str = ""
    justification_aide: str = ""
    erreurs: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.etat.suggestion.id

    @property
    def refus_possible(self) -> bool:
        return not self.etat.obligatoire or bool(self.etat.suggestion.justification)


def propositions(racine: Path, donnees: dict[str, Any], decisions: dict[str, bool]) -> list[Proposition]:
    """Suggestions qui conviennent aux réponses (contexte des règles calculé par l'assistant)."""
    a = assistant(racine, donnees)
    try:
        etats = module_suggestions.etats(a.suggestions, a.contexte())
    except (ErreurDCE, *ErreursJinja) as exc:
        raise ErreurDCE(getattr(exc, "problemes", None) or str(exc)) from None
    resultat = []
    for e in etats:
        s = e.suggestion
        choix = decisions.get(s.id)
        if choix is None and e.retenue:
            choix = True
        if choix is None and e.justification:
            choix = False
        question = a.q.question(s.justification) if s.justification and e.obligatoire else None
        resultat.append(Proposition(e, a.actions_suggestion(s), choix, question.libelle if question else "",
                                    question.aide if question else ""))
    return resultat


def appliquer(racine: Path, donnees: dict[str, Any], s: module_suggestions.Suggestion, retenue: bool) -> dict[str, Any]:
    """Réponses après acceptation ou refus d'une suggestion (réponses de `active` posées ou retirées)."""
    a = assistant(racine, donnees)
    a.appliquer(s, retenue)
    return a.donnees
