"""Mise en forme française des montants, pourcentages et dates (comme Babel, locale fr_FR), accord en nombre
(`pluriel`), coordonnées d'un organisme, typographie des textes produits et marques des valeurs « à compléter »."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Iterable

LOCALE = "fr_FR"
ESPACE_FINE = "\u202f"
INSECABLE = "\u00a0"

# Les nombres, montants, pourcentages et dates sont écrits ici comme les écrit Babel avec les données de la locale
# fr_FR (CLDR) : motifs « #,##0.00 ¤ » (euros), « #,##0.## » (nombres), « #,##0.## % » (pourcentages, en points),
# « d MMMM y » et « H' h 'mm » (dates et heures), séparateur de milliers (espace fine, rendue insécable), virgule
# décimale, signe « - », arrondi du contexte décimal (au plus proche, à égalité au pair). Babel chargeait à chaque
# commande les données de la locale entière (≈ 25 ms de démarrage, plus que tout le reste de la mise en forme) ;
# tests/test_performance.py compare ces mises en forme à celles de Babel, valeur par valeur. Une valeur que ce
# chemin ne couvre pas (infinie, NaN, trop de chiffres pour le contexte décimal) est mise en forme par Babel.
MOIS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre",
        "décembre")
_QUANTUMS = {n: Decimal(10) ** -n for n in range(3)}


def _chiffres(valeur: Decimal, echelle: int, decimales_min: int, decimales_max: int) -> str | None:
    """`NumberPattern.apply` de Babel pour un motif « #,##0.0# » (groupes de 3, au moins un chiffre entier, de
    `decimales_min` à `decimales_max` décimales) et son signe ; séparateur de milliers : espace insécable. None si
    la valeur sort de ce chemin (Babel la met alors en forme)."""
    if not valeur.is_finite() or valeur.adjusted() >= 24:  # quantize lèverait ou Babel écrirait « ∞ »
        return None
    valeur = valeur.scaleb(echelle)
    signe = "-" if valeur.is_signed() else ""
    entier, _, fraction = f"{abs(valeur).normalize().quantize(_QUANTUMS[decimales_max]):f}".partition(".")
    groupes = []
    while len(entier) > 3:
        groupes.append(entier[-3:])
        entier = entier[:-3]
    groupes.append(entier)
    texte = signe + INSECABLE.join(reversed(groupes))
    fraction = (fraction or "0").ljust(decimales_min, "0")
    if decimales_max == 0 or (decimales_min == 0 and int(fraction) == 0):
        return texte
    while len(fraction) > decimales_min and fraction[-1] == "0":
        fraction = fraction[:-1]
    return f"{texte},{fraction}"


def _babel(fonction: str, *args: Any, **kwargs: Any) -> str:
    """Mise en forme par Babel (valeur hors du chemin de `_chiffres`), espace fine rendue insécable."""
    import babel.numbers

    return getattr(babel.numbers, fonction)(*args, locale=LOCALE, **kwargs).replace(ESPACE_FINE, INSECABLE)


def _decimal(valeur: Any) -> Decimal:
    return Decimal(str(valeur)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def euros(valeur: Any) -> str:
    """800000 → « 800 000,00 € » (espaces insécables)."""
    valeur = _decimal(valeur)
    return _euros(valeur, valeur.is_signed())


# Les mises en forme sont mises en cache sur la valeur décimale (comme Babel, tout nombre est converti en
# Decimal(str(valeur))) : en lot, les mêmes taux et montants reviennent sans cesse. Le signe est dans la clé : -0 et 0
# sont égaux (même entrée du cache) mais Babel écrit « -0 », et le texte ne doit pas dépendre de l'ordre des appels.
@lru_cache(maxsize=512)
def _euros(valeur: Decimal, _signe: bool) -> str:
    texte = _chiffres(valeur, 0, 2, 2)
    return _babel("format_currency", valeur, "EUR") if texte is None else texte + INSECABLE + "€"


def montant(valeur: Any) -> str:
    """800000 → « 800 000,00 € HT »."""
    return euros(valeur) + INSECABLE + "HT"


def montant_ttc(valeur: Any) -> str:
    """800000 → « 800 000,00 € TTC »."""
    return euros(valeur) + INSECABLE + "TTC"


def nombre(valeur: Any, decimales: int = 0) -> str:
    """833 → « 833 » ; 12345.6 → « 12 345,6 »."""
    valeur = Decimal(str(valeur))
    return _nombre(valeur, decimales, valeur.is_signed())


@lru_cache(maxsize=512)
def _nombre(valeur: Decimal, decimales: int, _signe: bool) -> str:
    texte = _chiffres(valeur, 0, 0, decimales) if decimales in _QUANTUMS else None
    if texte is None:
        return _babel("format_decimal", valeur, format="#,##0" + ("." + "#" * decimales if decimales else ""))
    return texte


def pourcent(valeur: Any) -> str:
    """15 → « 15 % » ; 5.5 → « 5,5 % » (la valeur est exprimée en points)."""
    valeur = Decimal(str(valeur))
    return _pourcent(valeur, valeur.is_signed())


@lru_cache(maxsize=2048)
def _pourcent(valeur: Decimal, _signe: bool) -> str:
    valeur = valeur / 100
    texte = _chiffres(valeur, 2, 0, 2)
    return _babel("format_percent", valeur, format="#,##0.##\u00a0%") if texte is None else texte + INSECABLE + "%"


def date_longue(valeur: dt.date | None) -> str:
    """date(2026, 11, 21) → « 21 novembre 2026 » ; le 1er du mois s'écrit « 1er »."""
    if valeur is None:
        return ""
    if isinstance(valeur, dt.datetime):
        valeur = valeur.date()
    return _date_longue(valeur)


# Une même date (lancement, remise des offres) est écrite plusieurs fois par consultation : gardée par valeur.
@lru_cache(maxsize=2048, typed=True)
def _date_longue(valeur: dt.date) -> str:
    """Motif Babel « d MMMM y » (jour sans zéro, mois en toutes lettres, année sans remplissage)."""
    jour = "1er" if valeur.day == 1 else str(valeur.day)
    return f"{jour}{INSECABLE}{MOIS[valeur.month - 1]} {valeur.year}"


def date_heure(valeur: dt.datetime | dt.date | None) -> str:
    """datetime(2027, 1, 15, 12, 0) → « 15 janvier 2027 à 12 h 00 »."""
    if valeur is None:
        return ""
    if not isinstance(valeur, dt.datetime):
        return date_longue(valeur)
    return f"{date_longue(valeur)} à {_heure(valeur.hour, valeur.minute)}"


def _heure(heure: int, minute: int) -> str:
    """« 12 h 00 » : motif Babel « H' h 'mm », espaces insécables."""
    return f"{heure}{INSECABLE}h{INSECABLE}{minute:02d}"


def liste_fr(elements: Iterable[Any], conjonction: str = "et") -> str:
    """["a", "b", "c"] → « a, b et c » (« a, b ou c » avec la conjonction « ou »)."""
    elements = [str(e) for e in elements]
    if len(elements) <= 1:
        return "".join(elements)
    return f"{', '.join(elements[:-1])} {conjonction} {elements[-1]}"


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


# Chaque motif commence par le caractère qu'il remplace (puis regarde autour) : l'expression régulière le cherche
# directement, au lieu d'essayer chaque position du texte (« (?<=\w)' », même correspondance, trois fois plus lent).
_TYPO = (
    (re.compile(r"'(?<=\w')"), "\u2019"),                    # l'acheteur → l’acheteur (apostrophe typographique)
    (re.compile(r" (?:(?=[:;!?»])|(?<=« ))"), INSECABLE),      # espace insécable avant : ; ! ? » et après «
    (re.compile(r" (?=%)(?<=\d )"), INSECABLE),                # 15 % → 15 % insécable
)
_APOSTROPHE, _PONCTUATION, _POURCENT = (motif for motif, _ in _TYPO)


@lru_cache(maxsize=8192)
def typographie(texte: str) -> str:
    """Typographie française homogène d'un texte produit : apostrophe typographique (’) après une lettre, espace
    insécable avant « : ; ! ? » et « % », et à l'intérieur des guillemets. Une adresse internet est intacte.

    Chaque motif n'est appliqué qu'au texte qui contient le signe sans lequel il ne trouve rien (même résultat que
    les trois substitutions à la suite) : la plupart des textes n'ont ni apostrophe droite, ni ponctuation double,
    ni « % » (≈ 5 ms par commande, mesuré)."""
    if "'" in texte:
        texte = _APOSTROPHE.sub("\u2019", texte)
    if ":" in texte or ";" in texte or "!" in texte or "?" in texte or "»" in texte or "«" in texte:
        texte = _PONCTUATION.sub(INSECABLE, texte)
    if "%" in texte:
        texte = _POURCENT.sub(INSECABLE, texte)
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
