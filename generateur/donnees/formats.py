"""Mise en forme française des montants, pourcentages et dates (Babel, locale fr_FR), accord en nombre
(`pluriel`), coordonnées d'un organisme, typographie des textes produits et marques des valeurs « à compléter »."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Iterable

from babel.core import Locale
from babel.dates import format_date, format_time
from babel.numbers import format_currency, format_decimal, format_percent

LOCALE = "fr_FR"
# La locale analysée une fois : passée en texte, chaque mise en forme Babel l'analysait de nouveau (Locale.parse, pour
# la mise en forme et pour chaque symbole lu), près de la moitié du temps d'un nombre mis en forme.
_LOCALE = Locale.parse(LOCALE)
ESPACE_FINE = "\u202f"
INSECABLE = "\u00a0"


def _decimal(valeur: Any) -> Decimal:
    return Decimal(str(valeur)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def euros(valeur: Any) -> str:
    """800000 → « 800 000,00 € » (espaces insécables)."""
    return _euros(_decimal(valeur))


# Les mises en forme Babel sont mises en cache sur la valeur décimale (Babel convertit de même tout
# nombre en Decimal(str(valeur))) : en lot, les mêmes taux et montants reviennent sans cesse.
@lru_cache(maxsize=512)
def _euros(valeur: Decimal) -> str:
    return format_currency(valeur, "EUR", locale=_LOCALE).replace(ESPACE_FINE, INSECABLE)


def montant(valeur: Any) -> str:
    """800000 → « 800 000,00 € HT »."""
    return euros(valeur) + INSECABLE + "HT"


def montant_ttc(valeur: Any) -> str:
    """800000 → « 800 000,00 € TTC »."""
    return euros(valeur) + INSECABLE + "TTC"


def nombre(valeur: Any, decimales: int = 0) -> str:
    """833 → « 833 » ; 12345.6 → « 12 345,6 »."""
    return _nombre(Decimal(str(valeur)), decimales)


@lru_cache(maxsize=512)
def _nombre(valeur: Decimal, decimales: int) -> str:
    motif = "#,##0" + ("." + "#" * decimales if decimales else "")
    return format_decimal(valeur, format=motif, locale=_LOCALE).replace(ESPACE_FINE, INSECABLE)


def pourcent(valeur: Any) -> str:
    """15 → « 15 % » ; 5.5 → « 5,5 % » (la valeur est exprimée en points)."""
    return _pourcent(Decimal(str(valeur)))


@lru_cache(maxsize=2048)
def _pourcent(valeur: Decimal) -> str:
    texte = format_percent(valeur / 100, format="#,##0.##\u00a0%", locale=_LOCALE)
    return texte.replace(ESPACE_FINE, INSECABLE)


def date_longue(valeur: dt.date | None) -> str:
    """date(2026, 11, 21) → « 21 novembre 2026 » ; le 1er du mois s'écrit « 1er »."""
    if valeur is None:
        return ""
    if isinstance(valeur, dt.datetime):
        valeur = valeur.date()
    return _date_longue(valeur)


# Les mises en forme Babel des dates et des heures (motif analysé, locale relue à chaque appel) sont gardées par
# valeur : une même date (lancement, remise des offres) est écrite plusieurs fois par consultation.
@lru_cache(maxsize=2048, typed=True)
def _date_longue(valeur: dt.date) -> str:
    texte = format_date(valeur, format="d MMMM y", locale=_LOCALE)
    if valeur.day == 1:
        texte = "1er" + texte[1:]
    return texte.replace(" ", INSECABLE, 1)


def date_heure(valeur: dt.datetime | dt.date | None) -> str:
    """datetime(2027, 1, 15, 12, 0) → « 15 janvier 2027 à 12 h 00 »."""
    if valeur is None:
        return ""
    if not isinstance(valeur, dt.datetime):
        return date_longue(valeur)
    return f"{date_longue(valeur)} à {_heure(valeur.hour, valeur.minute)}"


@lru_cache(maxsize=2048)
def _heure(heure: int, minute: int) -> str:
    """« 12 h 00 » : le motif ne lit que l'heure et les minutes."""
    return format_time(dt.time(heure, minute), format="H' h 'mm", locale=_LOCALE).replace(" ", INSECABLE)


def liste_fr(elements: Iterable[Any]) -> str:
    """["a", "b", "c"] → « a, b et c »."""
    elements = [str(e) for e in elements]
    if len(elements) <= 1:
        return "".join(elements)
    return ", ".join(elements[:-1]) + " et " + elements[-1]


# Valeur d'un profil d'acheteur marquée « à compléter » : le texte entre ces deux caractères (zone d'usage
# privé d'Unicode, qu'aucune saisie ne contient) traverse Jinja et Markdown, puis devient un segment surligné
# (pieces/markdown_.py, rendu/ooxml.py). Jamais un blanc dans une pièce.
DEBUT_A_COMPLETER = "\ue000"
FIN_A_COMPLETER = "\ue001"
_MARQUES = re.compile("[\ue000\ue001]")


def a_completer(libelle: str) -> str:
    """« numéro SIRET de l'acheteur » → texte marqué « [à compléter : numéro SIRET de l'acheteur] »."""
    return f"{DEBUT_A_COMPLETER}[à compléter{INSECABLE}: {libelle}]{FIN_A_COMPLETER}"


def sans_marques(texte: str) -> str:
    """Texte débarrassé des marques « à compléter » (titres, fiche, messages)."""
    return _MARQUES.sub("", texte)


_TYPO = (
    (re.compile(r"(?<=\w)'"), "\u2019"),                     # l'acheteur → l’acheteur (apostrophe typographique)
    (re.compile(r" (?=[:;!?»])|(?<=«) "), INSECABLE),         # espace insécable avant : ; ! ? » et après «
    (re.compile(r"(?<=\d) (?=%)"), INSECABLE),                 # 15 % → 15 % insécable
)


@lru_cache(maxsize=8192)
def typographie(texte: str) -> str:
    """Typographie française homogène d'un texte produit : apostrophe typographique (’) après une lettre, espace
    insécable avant « : ; ! ? » et « % », et à l'intérieur des guillemets. Une adresse internet est intacte."""
    for motif, remplacement in _TYPO:
        texte = motif.sub(remplacement, texte)
    return texte


def pluriel(n: Any, singulier: str, pluriel_: str | None = None, avec_nombre: bool = True) -> str:
    """Accord en nombre : (1, "action") → « 1 action » ; (29, "action") → « 29 actions » ;
    (2, "lot retenu", "lots retenus") → « 2 lots retenus ». `avec_nombre=False` rend le seul mot.

    En français, 0 et 1 gouvernent le singulier. Filtre Jinja : {{ n | pluriel('action') }}."""
    quantite = n if isinstance(n, (int, float)) else len(n)
    mot = singulier if abs(quantite) < 2 else (pluriel_ or _pluriel_regulier(singulier))
    return f"{nombre(quantite)}{INSECABLE}{mot}" if avec_nombre else mot


def _pluriel_regulier(expression: str) -> str:
    """Pluriel régulier de chaque mot d'une expression courte (« action couverte » → « actions couvertes ») ;
    les mots invariables ou irréguliers se donnent explicitement."""
    return " ".join(m if m.endswith(("s", "x", "z")) or not m[-1:].isalpha() else m + "s" for m in expression.split(" "))


def coordonnees(organisme: Any) -> str:
    """Organisme du profil d'acheteur (tribunal, instance de médiation) → texte rédigé :
    « Tribunal administratif de Toulouse, 68 rue Raymond IV, BP 7007, 31068 Toulouse Cedex 7 (téléphone : …,
    courriel : …, site : …) ». Une valeur « à compléter » (texte) est rendue telle quelle."""
    if not isinstance(organisme, Mapping):
        return str(organisme)
    texte = ", ".join([str(organisme["nom"]), *(str(l) for l in organisme.get("adresse") or [])])
    contacts = [f"{libelle}{INSECABLE}: {organisme[cle]}" for cle, libelle in
                (("telephone", "téléphone"), ("courriel", "courriel"), ("site", "site")) if organisme.get(cle)]
    return texte + (f" ({', '.join(contacts)})" if contacts else "")


FILTRES = {
    "euros": euros,
    "montant": montant,
    "montant_ttc": montant_ttc,
    "nombre": nombre,
    "pourcent": pourcent,
    "date_longue": date_longue,
    "date_heure": date_heure,
    "liste_fr": liste_fr,
    "pluriel": pluriel,
    "coordonnees": coordonnees,
}
