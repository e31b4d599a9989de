"""Lecture et validation d'un fichier de réponses : tous les problèmes d'un coup, avec leur ligne."""

from __future__ import annotations

import copy
import math
import pickle
import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import cache, cpv, yaml_lignes
from . import questionnaire as module_questionnaire
from ..erreurs import ErreurDonnees, Probleme
from .formats import montant
from .questionnaire import Question, Questionnaire

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError


@dataclass
class Reponses:
    """Réponses validées et complétées par les valeurs par défaut."""

    donnees: dict[str, Any]
    fichier: Path | str
    document: yaml_lignes.Document


def _vers_json(valeur: Any) -> Any:
    if isinstance(valeur, dt.datetime):
        return valeur.strftime("%Y-%m-%d %H:%M")
    if isinstance(valeur, dt.date):
        return valeur.isoformat()
    if isinstance(valeur, dict):
        return {k: _vers_json(v) for k, v in valeur.items()}
    if isinstance(valeur, list):
        return [_vers_json(v) for v in valeur]
    return valeur


# Valeurs immuables des réponses, que `copier` ne recopie pas (types exacts : une sous-classe passe par deepcopy).
_IMMUABLES = frozenset({str, int, float, bool, type(None), dt.date, dt.datetime, dt.time})


def copier(valeur: Any) -> Any:
    """`copy.deepcopy` de réponses (dictionnaires, listes, textes, nombres, dates), plusieurs fois plus rapide :
    dictionnaires et listes recopiés à tous les niveaux, une structure partagée (alias YAML) le restant dans la copie
    comme avec deepcopy ; textes, nombres et dates, immuables, repris tels quels ; tout autre objet confié à
    deepcopy. Les réponses sont copiées deux fois par consultation (valider, analyser)."""
    return valeur if type(valeur) in _IMMUABLES else _copier(valeur, {})


def _copier(valeur: Any, memo: dict[int, Any]) -> Any:
    genre = type(valeur)
    if genre is dict:
        copie = memo.get(id(valeur))
        if copie is None:
            copie = memo[id(valeur)] = {}
            for cle, v in valeur.items():
                copie[cle] = v if type(v) in _IMMUABLES else _copier(v, memo)
        return copie
    if genre is list:
        copie = memo.get(id(valeur))
        if copie is None:
            copie = memo[id(valeur)] = []
            copie.extend([v if type(v) in _IMMUABLES else _copier(v, memo) for v in valeur])
        return copie
    if genre in _IMMUABLES:
        return valeur
    return copy.deepcopy(valeur, memo)


_EXEMPLES = {"montant": "1 450 000", "pourcentage": "5,5", "entier": "12", "date": "2026-12-01",
             "date_heure": "2027-01-15 12:00", "oui_non": "oui"}
# Caractères de contrôle collés d'un traitement de texte : un saut de ligne manuel de Word (Maj+Entrée) arrive
# en « \v », un saut de page en « \f ». Ils deviennent des retours à la ligne ; les autres caractères de
# contrôle (C0 sauf tabulation et retour à la ligne, DEL, C1) sont retirés. Les pièces et les contrôles qui les
# relisent voient ainsi le même texte (un intitulé de lot reste identique d'une pièce à l'autre).
_SAUTS = re.compile(r"\r\n?|[\v\f\x1c-\x1e\x85]")
_CONTROLES = re.compile(r"[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f]")


def normaliser(valeur: Any) -> Any:
    """Textes des réponses sans caractère de contrôle (voir _SAUTS et _CONTROLES) ni espace au début ou à la fin, à
    tous les niveaux."""
    if isinstance(valeur, str):  # espaces de début et de fin retirées : « 2026-TRX-01 » et non « 2026-TRX-01 . »
        return _CONTROLES.sub("", _SAUTS.sub("\n", valeur)).strip()
    if isinstance(valeur, dict):
        return {k: normaliser(v) for k, v in valeur.items()}
    if isinstance(valeur, list):
        return [normaliser(v) for v in valeur]
    return valeur


_TYPES_FR = yaml_lignes.TYPES_FR


def _message(err: ValidationError, questionnaire: Questionnaire, chemin: str) -> tuple[str, str]:
    """Message français et chemin du champ pour une erreur jsonschema."""
    v = err.validator
    q = questionnaire.question(chemin) if chemin else None
    if v == "anyOf":
        # champ facultatif : seule la branche non vide intéresse l'acheteur
        sous = [e for e in err.context if e.schema_path and e.schema_path[0] == 0]
        if sous:
            return _message(min(sous, key=lambda e: len(e.path)), questionnaire, chemin)
    if v == "required":
        manquant = re.search(r"'([^']+)'", err.message)
        nom = manquant.group(1) if manquant else "?"
        champ = f"{chemin}.{nom}" if chemin else nom
        return "réponse obligatoire", champ
    if v == "additionalProperties":
        en_trop = re.findall(r"'([^']+)'", err.message)
        noms = ", ".join(f"« {n} »" for n in en_trop[: len(en_trop)])
        return (f"champ inconnu {noms} : vérifier l'orthographe du nom de la question (la liste des questions est "
                "donnée par « dce questionnaire schema »)"), chemin
    if v == "type":
        attendu = err.validator_value
        attendu = attendu if isinstance(attendu, str) else attendu[0]
        exemple = _EXEMPLES.get(q.type if q else "", "")
        guillemets = ""
        if attendu == "string" and isinstance(err.instance, int) and not isinstance(err.instance, bool):
            # « cpv: 09123000 » sans guillemets est lu comme un nombre, qui perd ses zéros initiaux
            guillemets = (" ; écrire la réponse entre guillemets (par exemple « \"09123000\" ») : sans guillemets, "
                          "une suite de chiffres est lue comme un nombre et perd ses zéros initiaux")
        return (f"valeur invalide « {err.instance} » : {_TYPES_FR.get(attendu, attendu)} est attendu"
                + (f", par exemple {exemple}" if exemple else "") + guillemets), chemin
    if v == "enum":
        libelles = (q.choix or {}) if q else {}
        possibles = ", ".join(f"{x} ({libelles[x]})" if x in libelles else str(x) for x in err.validator_value)
        return f"valeur « {err.instance} » non autorisée ; valeurs possibles : {possibles}", chemin
    if v == "pattern":
        if q and q.id == "cpv" and cpv.codes_du_mot(str(err.instance)):  # un mot : les codes qui le portent
            return str(cpv.codes_du_mot(str(err.instance))), chemin
        aide = f" ; {q.aide}" if q and q.aide else ""
        return f"format invalide « {str(err.instance)[:80]} »{aide}", chemin
    if v == "format":
        return f"date invalide « {err.instance} » (attendu : AAAA-MM-JJ)", chemin
    if v in ("minimum", "exclusiveMinimum"):
        return f"valeur {err.instance} trop petite : au moins {err.validator_value} attendu", chemin
    if v in ("maximum", "exclusiveMaximum"):
        return f"valeur {err.instance} trop grande : au plus {err.validator_value} attendu", chemin
    if v == "maxLength":
        return f"texte trop long ({len(err.instance)} caractères, au plus {err.validator_value})", chemin
    if v == "minItems":
        n = err.validator_value
        return f"au moins {n} élément{'s' if n > 1 else ''} attendu{'s' if n > 1 else ''}", chemin
    if v == "maxItems":
        return f"au plus {err.validator_value} éléments attendus", chemin
    if v == "uniqueItems":
        return "valeurs en double dans la liste", chemin
    return err.message, chemin


def completer(donnees: dict[str, Any], questions: list[Question]) -> None:
    """Ajoute les valeurs par défaut (None pour une question facultative sans défaut)."""
    for q in questions:
        *parents, feuille = q.id.split(".")
        noeud = donnees
        for p in parents:
            if not isinstance(noeud.get(p), dict):
                noeud[p] = {}
            noeud = noeud[p]
        if noeud.get(feuille) is None:
            noeud[feuille] = copier(q.defaut)
        valeur = noeud[feuille]
        if q.type == "liste" and isinstance(valeur, list):
            for element in valeur:
                if isinstance(element, dict):
                    completer(element, q.questions)
        elif q.type == "date" and valeur is not None:
            noeud[feuille] = yaml_lignes.en_date(valeur)
        elif q.type == "date_heure" and valeur is not None:
            noeud[feuille] = lire_date_heure(valeur)


# « 2027-01-15 12:00 » : ce que lit strptime au format "%Y-%m-%d %H:%M", chiffres écrits en entier.
_DATE_HEURE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2})")


def lire_date_heure(valeur: Any) -> dt.datetime:
    if isinstance(valeur, dt.datetime):
        return valeur.replace(tzinfo=None)
    if isinstance(valeur, dt.date):
        return dt.datetime(valeur.year, valeur.month, valeur.day, 12, 0)
    texte = str(valeur).strip().replace("T", " ").replace("h", ":")
    if (forme := _DATE_HEURE.fullmatch(texte)) is not None:  # la forme du questionnaire, sans strptime (≈ 3 ms d'import)
        try:
            return dt.datetime(*map(int, forme.groups()))
        except ValueError:
            pass
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M", "%Y-%m-%d", "%d/%m/%Y"):
        try:
            resultat = dt.datetime.strptime(texte, fmt)
            return resultat if "%H" in fmt else resultat.replace(hour=12)
        except ValueError:
            continue
    raise ValueError(texte)


def verifications(d: dict[str, Any], doc: yaml_lignes.Document, questionnaire: Questionnaire) -> list[Probleme]:
    """Contrôles qu'un schéma JSON ne sait pas exprimer (dates bornées, sommes, numéros uniques)."""
    problemes: list[Probleme] = []

    def pb(message: str, champ: str, nature: str = "incoherence") -> None:
        problemes.append(Probleme(message, doc.fichier, doc.ligne(champ), champ, nature=nature))

    for chemin in ("date_lancement", "date_limite_offres"):
        q = questionnaire.question(chemin)
        valeur = d.get(chemin)
        if q is None or valeur is None:
            continue
        jour = valeur.date() if isinstance(valeur, dt.datetime) else valeur
        borne_min = yaml_lignes.en_date(q.min) if q.min else dt.date(2019, 4, 1)
        borne_max = yaml_lignes.en_date(q.max) if q.max else dt.date(2100, 12, 31)
        if not borne_min <= jour <= borne_max:
            pb(f"date {jour.strftime('%d/%m/%Y')} hors des bornes admises (du {borne_min.strftime('%d/%m/%Y')}"
               f" au {borne_max.strftime('%d/%m/%Y')} : le code de la commande publique est en vigueur depuis le 1er avril 2019)",
               chemin, "invalide")
    if d.get("date_lancement") and d.get("date_limite_offres"):
        if d["date_limite_offres"].date() <= d["date_lancement"]:
            pb("la date limite de remise des plis doit suivre la date de lancement", "date_limite_offres")
    numeros: dict[int, int] = {}
    for i, lot in enumerate(d.get("lots") or []):
        n = lot.get("numero")
        if n is not None and n in numeros:
            pb(f"numéro de lot {n} en double (déjà utilisé par le lot en position {numeros[n] + 1})", f"lots.{i}.numero")
        numeros.setdefault(n, i)
        if (lot.get("duree_mois") or d.get("duree_mois") or 0) > (d.get("duree_mois") or 0):
            pb("la durée du lot dépasse la durée du marché", f"lots.{i}.duree_mois")
    codes = [("cpv", d.get("cpv"))] + [(f"lots.{i}.cpv", l.get("cpv")) for i, l in enumerate(d.get("lots") or [])]
    for chemin, code in codes:
        erreur = cpv.probleme(code) if code else None
        if erreur:
            pb(erreur, chemin, "invalide")  # un code absent de la nomenclature est une valeur refusée
    total = d.get("montant_total_estime")
    montants = [l.get("montant_estime") for l in d.get("lots") or []]
    somme = sum(m for m in montants if m is not None)
    if total is not None and montants and None not in montants and abs(total - somme) > 0.005:
        pb(f"la somme des montants des lots ({montant(somme)}) diffère du montant total estimé ({montant(total)})",
           "lots")  # signalée sur la page des lots, où la somme se corrige
    criteres = d.get("criteres") or []
    if criteres and all(c.get("ponderation") is not None for c in criteres):
        total = sum(c.get("ponderation") or 0 for c in criteres)
        if abs(total - 100) > 1e-6:
            pb(f"la somme des pondérations des critères vaut {total:g} % au lieu de 100 %", "criteres")
        for i, c in enumerate(criteres):
            sous = c.get("sous_criteres") or []
            if sous and c.get("ponderation") is not None and all(x.get("ponderation") is not None for x in sous):
                total_sous = sum(s.get("ponderation") or 0 for s in sous)
                if abs(total_sous - (c.get("ponderation") or 0)) > 1e-6:
                    pb(f"la somme des sous-critères ({total_sous:g} %) diffère de la pondération du critère "
                       f"({c.get('ponderation'):g} %)", f"criteres.{i}.sous_criteres")
    return problemes


def _non_finis(valeur: Any, chemin: str) -> list[str]:
    """Chemins des nombres NaN ou infinis (« lots.0.montant_estime|nan »)."""
    if isinstance(valeur, float) and not math.isfinite(valeur):
        return [f"{chemin}|{'nan' if math.isnan(valeur) else 'inf'}"]
    if isinstance(valeur, dict):  # chemin construit pour les seuls nombres à virgule, dictionnaires et listes
        return [c for k, v in valeur.items() if isinstance(v, _A_PARCOURIR)
                for c in _non_finis(v, f"{chemin}.{k}" if chemin else str(k))]
    if isinstance(valeur, list):
        return [c for i, v in enumerate(valeur) if isinstance(v, _A_PARCOURIR)
                for c in _non_finis(v, f"{chemin}.{i}" if chemin else str(i))]
    return []


_A_PARCOURIR = (float, dict, list)  # seuls où _non_finis peut trouver quelque chose


# Mémoire disque des réponses validées : des réponses déjà validées (génération, puis régénération après la
# modification d'une clause) ne sont ni normalisées, ni contrôlées, ni complétées de nouveau (six parcours des
# réponses). La clé couvre tout ce que lit la validation : les réponses telles que lues, le questionnaire chargé
# (questions, sections, nomenclatures), le code qui valide (ce module, la lecture des dates, le questionnaire, les
# codes CPV et leur nomenclature) et jsonschema. Des réponses refusées ne sont jamais gardées : le refus se redit.
MEMOIRE_VALIDEES = "reponses-validees"
VALIDEES_MAX = 4096  # fichiers de réponses gardés au plus (≈ 10 Kio chacun : ceux d'un dossier de consultations)
_CODE: list[str] = []  # empreinte du code qui valide, calculée à la première validation


def _cle_validees(donnees: dict[str, Any], questionnaire: Questionnaire) -> str | None:
    if not _CODE:
        version = yaml_lignes.version_jsonschema()
        if version is None:
            return None
        _CODE.append(cache.empreinte(cache.sources(__file__, yaml_lignes.__file__, module_questionnaire.__file__,
                                                   cpv.__file__, cpv.FICHIER), version))
    try:
        return cache.empreinte(_CODE[0], module_questionnaire.empreinte(questionnaire), pickle.dumps(donnees, protocol=5))
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError, ValueError):
        return None


def valider(doc: yaml_lignes.Document, questionnaire: Questionnaire) -> Reponses:
    """Valide des réponses déjà lues ; lève ErreurDonnees avec tous les problèmes. Des réponses déjà validées sont
    relues dans la mémoire disque des réponses validées (voir MEMOIRE_VALIDEES) : mêmes réponses normalisées
    (`doc.donnees`), mêmes réponses complétées."""
    if not isinstance(doc.donnees, dict):
        raise ErreurDonnees(Probleme("le fichier de réponses doit être un ensemble de champs « clé : valeur »",
                                     doc.fichier, 1))
    cle = _cle_validees(doc.donnees, questionnaire)
    if cle is None or cache.dossier(MEMOIRE_VALIDEES) is None:
        return _valider(doc, questionnaire)
    validees: list[Reponses] = []

    def calculer() -> tuple[dict[str, Any], dict[str, Any]]:
        validees.append(_valider(doc, questionnaire))
        return doc.donnees, validees[0].donnees

    try:
        normalisees, donnees = cache.objet(MEMOIRE_VALIDEES, cle, calculer, garder=VALIDEES_MAX)
    except (TypeError, AttributeError, RecursionError):  # valeur qui ne se met pas en pickle : validées, pas gardées
        if validees:
            return validees[0]
        raise
    if validees:  # validées à l'instant
        return validees[0]
    doc.donnees = normalisees
    return Reponses(donnees, doc.fichier, doc)


def _valider(doc: yaml_lignes.Document, questionnaire: Questionnaire) -> Reponses:
    doc.donnees = normaliser(doc.donnees)
    problemes: list[Probleme] = [
        Probleme("valeur non numérique (NaN) : un nombre fini est attendu", doc.fichier, doc.ligne(chemin), chemin)
        for chemin in _non_finis(doc.donnees, "") if "nan" in chemin.split("|")[-1]
    ]
    problemes = [Probleme(p.message, p.fichier, p.ligne, p.champ.split("|")[0]) for p in problemes]
    for err in _erreurs_schema(_vers_json(doc.donnees), questionnaire):
        chemin = ".".join(str(p) for p in err.absolute_path)
        message, champ = _message(err, questionnaire, chemin)
        problemes.append(Probleme(message, doc.fichier, doc.ligne(champ), champ,
                                  nature="manquante" if err.validator in ("required", "minItems") else "invalide"))
    for p in problemes:
        p.nature = p.nature or "invalide"
    donnees = copier(doc.donnees)
    if any(p.nature != "manquante" for p in problemes):
        raise ErreurDonnees(nommes(sorted(problemes, key=lambda p: p.ligne or 0), questionnaire))
    try:
        completer(donnees, questionnaire.questions)
    except ValueError as exc:
        raise ErreurDonnees(Probleme(f"date invalide « {exc} »", doc.fichier, nature="invalide")) from None
    # Réponses seulement incomplètes : les contrôles croisés (dates, sommes) portent déjà sur ce qui est donné,
    # pour qu'une date limite antérieure au lancement se voie dès sa page, sans attendre la fin du questionnaire.
    problemes = sorted(problemes, key=lambda p: p.ligne or 0) + verifications(donnees, doc, questionnaire)
    if problemes:
        raise ErreurDonnees(nommes(problemes, questionnaire))
    return Reponses(donnees, doc.fichier, doc)


def _erreurs_schema(donnees: Any, questionnaire: Questionnaire) -> list[ValidationError]:
    """Écarts des réponses au schéma du questionnaire (jsonschema), dans l'ordre des champs. Des réponses déjà
    trouvées conformes au même schéma par la même version de jsonschema ne sont pas revalidées : le verdict
    favorable est gardé dans le cache disque (`cache.marquer`) ; jsonschema n'est alors pas même importé."""
    schema = _SCHEMAS.obtenir(questionnaire, questionnaire.schema)
    cle = yaml_lignes.cle_validation(donnees, schema)
    if cle is not None and cache.marque("validations", cle):
        return []
    from jsonschema import Draft202012Validator, FormatChecker

    validateur = Draft202012Validator(schema, format_checker=FormatChecker())
    erreurs = sorted(validateur.iter_errors(donnees), key=lambda e: [str(p) for p in e.path])
    if not erreurs and cle is not None:
        cache.marquer("validations", cle)
    return erreurs


# Schéma JSON de chaque questionnaire chargé, calculé une fois (il ne change pas : un questionnaire modifié est un autre
# objet) ; le même objet sert ensuite à la clé du verdict (`yaml_lignes.cle_validation`).
_SCHEMAS = cache.ParObjet(8)


def nommes(problemes: list[Probleme], questionnaire: Questionnaire) -> list[Probleme]:
    """Chaque problème désigne sa question avec les mots du questionnaire (« Lot 1 — Montant estimé du lot »),
    jamais par sa clé interne ; le chemin technique reste dans `champ` (ancres, retour à la question)."""
    for p in problemes:
        if p.champ and not p.libelle:
            p.libelle = questionnaire.libelle(p.champ)
    return problemes


def charger(fichier: Path | str, questionnaire: Questionnaire) -> Reponses:
    """Lit et valide un fichier de réponses."""
    return valider(yaml_lignes.lire(fichier), questionnaire)
