"""Une réponse saisie au clavier ou lue dans un fichier : conversion et contrôle selon le type de la question.

L'assistant (`dce nouveau`) s'en sert pour refuser une saisie sur-le-champ, avec la raison en français,
et les suggestions pour vérifier les valeurs qu'elles proposent. Les bornes viennent du questionnaire.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal
from typing import Any

from . import formats
from .questionnaire import Question

OUI = {"o", "oui", "y", "yes", "v", "vrai", "true", "1"}
NON = {"n", "non", "no", "f", "faux", "false", "0"}
AUCUN = {"aucun", "aucune", "rien", "vide"}
INS = "\u00a0"
LONGUEUR_TEXTE = 2000  # comme le schéma JSON du questionnaire pour un texte court
_DATE = re.compile(r"^(?:(\d{1,2})/(\d{1,2})/(\d{4})|(\d{4})-(\d{1,2})-(\d{1,2}))$")
_DATE_HEURE = re.compile(r"^(\S+)(?:\s+(?:à\s+)?(\d{1,2})\s*[h:]\s*(\d{2})?(?::\d{2})?)?$", re.IGNORECASE)


class SaisieInvalide(ValueError):
    """Réponse refusée ; le message dit pourquoi, en français."""


def sans_accents(texte: str) -> str:
    """« Épuration » → « epuration » : une recherche par mot ne dépend ni des accents ni de la casse."""
    decompose = unicodedata.normalize("NFKD", texte.casefold())
    return "".join(c for c in decompose if not unicodedata.combining(c))


def lire_nombre(texte: str) -> Decimal:
    """Nombre écrit à la française → Decimal : « 1 200 000 », « 1.200.000 », « 1 200 000,50 », « 5,5 » ou « 5.5 ».

    Le seul analyseur de nombres de dce (Babel, locale fr_FR), pour le terminal comme pour le navigateur :
    espaces (même insécables) et points de milliers, virgule décimale ; un seul point reste décimal.
    ValueError si le texte n'est pas un nombre.
    """
    t = re.sub(r"[\s\u00a0\u202f]+", "\u202f", texte.strip())
    if "," in t or t.count(".") > 1:
        t = t.replace(".", "")  # points de milliers
    from babel.numbers import NumberFormatError, parse_decimal  # saisie seulement : pas au démarrage de `dce generer`

    try:
        valeur = parse_decimal(t, locale=formats.LOCALE, strict=True)
    except NumberFormatError:
        raise ValueError(f"« {texte} » n'est pas un nombre") from None
    if not valeur.is_finite():
        raise ValueError(f"« {texte} » n'est pas un nombre")
    return valeur


def _decimal(texte: str, q: Question) -> Decimal:
    t = texte.strip().lower()
    if "ttc" in t:
        raise SaisieInvalide("montant hors taxes attendu (HT), pas toutes taxes comprises")
    t = re.sub(r"(€|euros?|eur\b|\bht\b|%)", "", t)
    try:
        return lire_nombre(t)
    except ValueError:
        exemple = "1 450 000" if q.type == "montant" else "5,5"
        raise SaisieInvalide(f"nombre attendu, par exemple {exemple}") from None


def _borner(valeur: Any, minimum: Any, maximum: Any, afficher: Any = str) -> None:
    if minimum is not None and valeur < minimum:
        raise SaisieInvalide(f"valeur trop petite : au moins {afficher(minimum)}")
    if maximum is not None and valeur > maximum:
        raise SaisieInvalide(f"valeur trop grande : au plus {afficher(maximum)}")


def _nombre_python(valeur: Decimal) -> int | float:
    return int(valeur) if valeur == valeur.to_integral_value() else float(valeur)


def _date(valeur: Any) -> dt.date:
    if isinstance(valeur, dt.datetime):
        return valeur.date()
    if isinstance(valeur, dt.date):
        return valeur
    m = _DATE.match(str(valeur).strip())
    if not m:
        raise SaisieInvalide("date attendue au format JJ/MM/AAAA, par exemple 01/12/2026")
    jour, mois, annee = (m.group(1), m.group(2), m.group(3)) if m.group(1) else (m.group(6), m.group(5), m.group(4))
    try:
        return dt.date(int(annee), int(mois), int(jour))
    except ValueError:
        raise SaisieInvalide(f"date inexistante « {str(valeur).strip()} »") from None


def lire_date_heure(valeur: Any) -> str:
    if isinstance(valeur, dt.datetime):
        return valeur.strftime("%Y-%m-%d %H:%M")
    texte = str(valeur).strip().replace("T", " ")
    m = _DATE_HEURE.match(texte)
    if not m:
        raise SaisieInvalide("date et heure attendues, par exemple 15/01/2027 12:00")
    jour = _date(m.group(1))
    if m.group(2) is None:
        raise SaisieInvalide("heure attendue après la date, par exemple 15/01/2027 12:00")
    heure, minute = int(m.group(2)), int(m.group(3) or 0)
    if heure > 23 or minute > 59:
        raise SaisieInvalide(f"heure inexistante « {heure}:{minute:02d} »")
    return f"{jour.isoformat()} {heure:02d}:{minute:02d}"


def _choix(q: Question, jeton: Any) -> str:
    texte = str(jeton).strip()
    cles = list(q.choix)
    if texte.isdigit() and 1 <= int(texte) <= len(cles):
        return cles[int(texte) - 1]
    for cle, libelle in q.choix.items():
        if texte.casefold() in (cle.casefold(), str(libelle).casefold()):
            return cle
    raise SaisieInvalide(f"choix inconnu « {texte} » : taper un numéro de 1 à {len(cles)} ou un code "
                         f"({', '.join(cles)})")


def interpreter(q: Question, valeur: Any) -> Any:
    """Valeur saisie (texte) ou lue dans un fichier → valeur du fichier de réponses ; SaisieInvalide sinon.

    Une réponse vide (None) est rendue telle quelle : c'est à l'appelant de savoir si elle est permise.
    """
    if valeur is None:
        return None
    t = q.type
    if t in ("texte", "texte_long"):
        if isinstance(valeur, (dict, list)):
            raise SaisieInvalide("texte attendu")
        texte = " ".join(str(valeur).split()) if t == "texte" else str(valeur).strip()
        longueur = q.max_longueur or (100000 if t == "texte_long" else LONGUEUR_TEXTE)
        if len(texte) > longueur:
            raise SaisieInvalide(f"texte trop long ({len(texte)} caractères, au plus {longueur})")
        if texte and q.motif and not re.search(q.motif, texte):
            precision = f" ; {q.aide}" if q.aide else ""
            raise SaisieInvalide(f"format invalide « {texte[:80]} »{precision}")
        return texte
    if t == "oui_non":
        if isinstance(valeur, bool):
            return valeur
        mot = str(valeur).strip().casefold()
        if mot in OUI:
            return True
        if mot in NON:
            return False
        raise SaisieInvalide("répondre o (oui) ou n (non)")
    if t == "entier":
        if isinstance(valeur, bool):
            raise SaisieInvalide("nombre entier attendu")
        try:
            decimal = Decimal(valeur) if isinstance(valeur, int) else lire_nombre(str(valeur))
        except ValueError:
            decimal = None
        if decimal is None or decimal != decimal.to_integral_value():
            raise SaisieInvalide("nombre entier attendu, par exemple 12")
        entier = int(decimal)
        _borner(entier, q.min, q.max, formats.nombre)
        return entier
    if t in ("montant", "pourcentage"):
        if isinstance(valeur, bool):
            raise SaisieInvalide("nombre attendu")
        nombre = Decimal(str(valeur)) if isinstance(valeur, (int, float)) else _decimal(str(valeur), q)
        if t == "montant":
            nombre = nombre.quantize(Decimal("0.01"))
            _borner(nombre, 0 if q.min is None else q.min, q.max, formats.montant)
        else:
            _borner(nombre, 0 if q.min is None else q.min, 100 if q.max is None else q.max, formats.pourcent)
        return _nombre_python(nombre)
    if t == "date":
        jour = _date(valeur)
        minimum = _date(q.min) if q.min is not None else None
        maximum = _date(q.max) if q.max is not None else None
        _borner(jour, minimum, maximum, lambda d: d.strftime("%d/%m/%Y"))
        return jour
    if t == "date_heure":
        return lire_date_heure(valeur)
    if t == "choix":
        return _choix(q, valeur)
    if t == "choix_multiple":
        if isinstance(valeur, str):
            if valeur.strip().casefold() in AUCUN:
                return []
            jetons: list[Any] = [j for j in re.split(r"[,;]", valeur) if j.strip()]
        elif isinstance(valeur, list):
            jetons = valeur
        else:
            raise SaisieInvalide("liste de choix attendue")
        resultat: list[str] = []
        for jeton in jetons:
            cle = _choix(q, jeton)
            if cle not in resultat:
                resultat.append(cle)
        return resultat
    raise SaisieInvalide(f"type de question « {t} » non saisissable directement")


def afficher(q: Question, valeur: Any, pour_saisie: bool = False) -> str:
    """Valeur lisible : « 1 450 000,00 € HT », « oui », « 01/12/2026 » (saisie) ou « 1er décembre 2026 »."""
    if valeur is None:
        return ""
    t = q.type
    if t == "oui_non" and isinstance(valeur, bool):
        return "oui" if valeur else "non"
    if t == "montant" and isinstance(valeur, (int, float)):
        return formats.montant(valeur)
    if t == "pourcentage" and isinstance(valeur, (int, float)):
        return formats.pourcent(valeur)
    if t == "entier" and isinstance(valeur, int):
        return formats.nombre(valeur)
    if t == "date" and isinstance(valeur, dt.date):
        return valeur.strftime("%d/%m/%Y") if pour_saisie else formats.date_longue(valeur)
    if t == "date_heure":
        try:
            moment = dt.datetime.strptime(lire_date_heure(valeur), "%Y-%m-%d %H:%M")
        except SaisieInvalide:
            return str(valeur)
        return moment.strftime("%d/%m/%Y %H:%M") if pour_saisie else formats.date_heure(moment)
    if t == "choix":
        return str(q.choix.get(valeur, valeur))
    if t == "choix_multiple" and isinstance(valeur, list):
        return ", ".join(str(q.choix.get(v, v)) for v in valeur) or "aucun"
    if t == "liste" and isinstance(valeur, list):
        return f"{len(valeur)} élément{'s' if len(valeur) > 1 else ''}"
    return str(valeur)


def attendu(q: Question) -> str:
    """Ce que la question attend, pour l'aide : type et bornes."""
    t = q.type
    if t in ("texte", "texte_long"):
        return "un texte" + (" (format imposé, voir ci-dessus)" if q.motif else "")
    if t == "oui_non":
        return "o (oui) ou n (non)"
    if t == "entier":
        bornes = _bornes(q.min, q.max, formats.nombre)
        return "un nombre entier" + bornes
    if t == "montant":
        minimum = q.min if q.min is not None else 0
        return "un montant hors taxes en euros, par exemple 1 450 000" + _bornes(minimum, q.max, formats.montant)
    if t == "pourcentage":
        return "un pourcentage, par exemple 5,5" + _bornes(q.min if q.min is not None else 0,
                                                          q.max if q.max is not None else 100, formats.pourcent)
    if t == "date":
        return "une date JJ/MM/AAAA" + _bornes(_date(q.min) if q.min else None, _date(q.max) if q.max else None,
                                              lambda d: d.strftime("%d/%m/%Y"))
    if t == "date_heure":
        return "une date et une heure, par exemple 15/01/2027 12:00"
    if t == "choix":
        return "le numéro, le code ou le libellé d'un choix"
    if t == "choix_multiple":
        return "des numéros ou des codes séparés par des virgules, ou « aucun »"
    return "une liste"


def _bornes(minimum: Any, maximum: Any, rendu: Any) -> str:
    if minimum is not None and maximum is not None:
        return f", de {rendu(minimum)} à {rendu(maximum)}"
    if minimum is not None:
        return f", au moins {rendu(minimum)}"
    if maximum is not None:
        return f", au plus {rendu(maximum)}"
    return ""


def lire(donnees: Any, chemin: str) -> Any:
    """Valeur au chemin « spaser.insertion.actif » ou « lots.0.intitule » ; None si absente."""
    valeur = donnees
    for morceau in chemin.split("."):
        if isinstance(valeur, dict):
            valeur = valeur.get(morceau)
        elif isinstance(valeur, list) and morceau.isdigit() and int(morceau) < len(valeur):
            valeur = valeur[int(morceau)]
        else:
            return None
    return valeur


def ecrire(donnees: dict[str, Any], chemin: str, valeur: Any) -> None:
    """Range une valeur à son chemin, en créant les ensembles intermédiaires."""
    *parents, feuille = chemin.split(".")
    noeud: Any = donnees
    for morceau in parents:
        if isinstance(noeud, list):
            noeud = noeud[int(morceau)]
            continue
        if not isinstance(noeud.get(morceau), (dict, list)):
            noeud[morceau] = {}
        noeud = noeud[morceau]
    if isinstance(noeud, list):
        noeud[int(feuille)] = valeur
    else:
        noeud[feuille] = valeur
