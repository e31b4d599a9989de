"""Évaluation sûre des règles et des clauses : Jinja en bac à sable, variables indéfinies interdites.

Les juristes écrivent conditions et calculs comme des expressions Jinja ; rien n'est passé à
`eval`. Les valeurs saisies par l'acheteur sont des données : le rendu des clauses les
échappe pour Markdown avant que Markdown ne les voie.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Callable

from jinja2 import StrictUndefined, Template, nodes
from jinja2.exceptions import TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from ..donnees.formats import FILTRES


class MarkdownSur(str):
    """Texte Markdown produit par le moteur (et non saisi) : il n'est pas échappé."""


_ECHAPPER = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~])")
_CONTROLES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def echapper_markdown(valeur: Any) -> Any:
    """Rend une valeur inerte pour Markdown : elle apparaîtra telle quelle dans le document."""
    if valeur is None or isinstance(valeur, MarkdownSur):
        return "" if valeur is None else valeur
    if isinstance(valeur, bool):
        return "oui" if valeur else "non"
    if isinstance(valeur, (int, float)):
        return valeur
    texte = str(valeur)
    texte = _CONTROLES.sub("", texte)
    texte = re.sub(r"\s*\n\s*", " ", texte)
    texte = texte.replace("&", "&amp;").replace("<", "&lt;")
    return _ECHAPPER.sub(r"\\\1", texte)


def _environnement(finalize: Callable[[Any], Any] | None = None) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        finalize=finalize,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTRES)
    return env


ENV_EXPRESSIONS = _environnement()
ENV_CLAUSES = _environnement(finalize=echapper_markdown)

ErreursJinja = (TemplateError, SecurityError, TypeError, ValueError, ZeroDivisionError, KeyError,
                AttributeError, IndexError, OverflowError)


@lru_cache(maxsize=4096)
def compiler(expression: str) -> Callable[..., Any]:
    """Compile une expression (mise en cache : les règles sont évaluées des milliers de fois)."""
    return ENV_EXPRESSIONS.compile_expression(expression, undefined_to_none=False)


def evaluer(expression: str, contexte: dict[str, Any]) -> Any:
    """Évalue une expression ; une variable absente lève UndefinedError."""
    resultat = compiler(expression)(**contexte)
    if isinstance(resultat, StrictUndefined):
        str(resultat)  # lève UndefinedError avec le nom de la variable
    return resultat


@lru_cache(maxsize=4096)
def chemins_utilises(expression: str) -> tuple[str, ...]:
    """Chemins de données lus par une expression (« spaser.insertion.actif », « lot.montant_estime »)."""
    arbre = ENV_EXPRESSIONS.parse("{{ " + expression + " }}")
    chemins: list[str] = []

    def chemin(noeud: nodes.Node) -> str | None:
        if isinstance(noeud, nodes.Name):
            return noeud.name
        if isinstance(noeud, nodes.Getattr):
            base = chemin(noeud.node)
            return f"{base}.{noeud.attr}" if base else None
        return None

    def visiter(noeud: nodes.Node) -> None:
        if isinstance(noeud, (nodes.Getattr, nodes.Name)):
            trouve = chemin(noeud)
            if trouve:
                chemins.append(trouve)
                return
        for enfant in noeud.iter_child_nodes():
            visiter(enfant)

    visiter(arbre)
    resultat: list[str] = []
    for c in chemins:
        if c not in resultat and c not in ("true", "false", "none", "param"):
            resultat.append(c)
    return tuple(resultat)


def message_erreur(exc: BaseException) -> str:
    """Message français pour une erreur d'évaluation."""
    if isinstance(exc, UndefinedError):
        texte = str(exc)
        nom = re.search(r"'([^']+)' is undefined", texte)
        if nom:
            return f"variable inconnue « {nom.group(1)} »"
        attribut = re.search(r"has no attribute '([^']+)'", texte)
        if attribut:
            return f"donnée absente « {attribut.group(1)} »"
        return f"variable indéfinie ({texte})"
    if isinstance(exc, TemplateSyntaxError):
        return f"syntaxe Jinja invalide, ligne {exc.lineno} : {exc.message}"
    if isinstance(exc, SecurityError):
        return "opération interdite dans le bac à sable"
    if isinstance(exc, ZeroDivisionError):
        return "division par zéro"
    return f"{type(exc).__name__} : {exc}"


def modele_clause(clause: Any) -> Template:
    """Modèle Jinja d'une clause du catalogue, compilé une fois par chargement du catalogue."""
    if clause.modele_compile is None:
        clause.modele_compile = ENV_CLAUSES.from_string(clause.corps)
    return clause.modele_compile
