"""Lecture sûre des fichiers YAML, avec le numéro de ligne de chaque champ.

PyYAML compose l'arbre des nœuds (chargement sûr : aucune balise Python) ; on le convertit
nous-mêmes pour relever la ligne de chaque chemin et refuser les clés en double.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import pickle
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import cache
from .fichiers import lire_borne
from ..erreurs import ErreurDonnees, Probleme

# PyYAML, importé à la première analyse (`_importer_yaml`) : un document déjà analysé est relu du cache disque, et une
# commande dont tout est en cache (`dce generer` relancé) ne l'importe pas (≈ 9 ms de démarrage).
yaml: Any = None


def _importer_yaml() -> Any:
    """PyYAML, importé une fois ; et son chargeur, libyaml (CSafeLoader) quand PyYAML l'embarque : même analyse sûre,
    dix fois plus rapide."""
    global yaml, _Chargeur
    if yaml is None:
        import yaml as module

        _Chargeur = getattr(module, "CSafeLoader", module.SafeLoader)
        yaml = module
    return yaml


_Chargeur: Any = None
TAILLE_MAX = 5 * 1024 * 1024  # 5 Mio : bien au-delà d'un fichier de réponses réel


@dataclass
class Document:
    """Données YAML lues et, pour chaque chemin (« lots.0.intitule »), sa ligne."""

    donnees: Any
    fichier: Path | str
    lignes: dict[str, int] = field(default_factory=dict)
    octets: bytes | None = None  # le fichier tel qu'il a été lu (son empreinte est celle des données analysées)

    def ligne(self, chemin: str) -> int | None:
        """Ligne du chemin, ou du plus proche parent connu."""
        while chemin:
            if chemin in self.lignes:
                return self.lignes[chemin]
            chemin = chemin.rpartition(".")[0]
        return self.lignes.get("", None)


_BALISES_SURES = {f"tag:yaml.org,2002:{t}" for t in
                  ("map", "seq", "str", "int", "float", "bool", "null", "timestamp", "binary", "merge")}
_FUSION = "tag:yaml.org,2002:merge"
# Éléments construits par le détour d'un alias « *nom », au-delà du nombre d'éléments écrits dans le fichier : une
# bombe d'alias (9 niveaux de 9 alias, 342 octets) en demanderait des centaines de millions ; un fichier réel,
# quelques centaines (une liste de lignes de prix reprise d'un lot à l'autre).
LIMITE_ALIAS = 10_000
LIMITE_CHIFFRES = 4_300  # au-delà, Python refuse de convertir un texte en entier


class _Trop(Exception):
    """Le développement des alias dépasse LIMITE_ALIAS."""


@dataclass
class _Lecture:
    doc: Document
    chargeur: Any
    problemes: list[Probleme]
    racine: Any = None  # nœud racine : ses nœuds distincts, comptés au premier alias rencontré (voir `limite`)
    vus: set[int] = field(default_factory=set)
    par_alias: int = 0
    _limite: int | None = None

    @property
    def limite(self) -> int:
        """LIMITE_ALIAS, plus le nombre de nœuds écrits dans le fichier : compté une fois, au premier élément construit
        par le détour d'un alias (un fichier sans alias, presque tous, n'a pas à être parcouru une fois de plus)."""
        if self._limite is None:
            self._limite = LIMITE_ALIAS + (_noeuds_distincts(self.racine) if self.racine is not None else 0)
        return self._limite

    def probleme(self, message: str, noeud: yaml.Node, chemin: str) -> None:
        self.problemes.append(Probleme(message, self.doc.fichier, noeud.start_mark.line + 1, chemin or None))


def _noeuds_distincts(racine: yaml.Node) -> int:
    """Nombre de nœuds écrits dans le fichier (un alias ne compte pas : il désigne un nœud déjà compté)."""
    vus: set[int] = set()
    pile = [racine]
    while pile:
        noeud = pile.pop()
        if id(noeud) in vus:
            continue
        vus.add(id(noeud))
        if isinstance(noeud, yaml.SequenceNode):
            pile.extend(noeud.value)
        elif isinstance(noeud, yaml.MappingNode):
            pile.extend(n for paire in noeud.value for n in paire)
    return len(vus)


def _construire(noeud: yaml.Node, chemin: str, lecture: _Lecture, alias: bool = False) -> Any:
    doc = lecture.doc
    doc.lignes.setdefault(chemin, noeud.start_mark.line + 1)
    alias = alias or id(noeud) in lecture.vus
    lecture.vus.add(id(noeud))
    if alias:
        lecture.par_alias += 1
        if lecture.par_alias > lecture.limite:
            raise _Trop
    if noeud.tag not in _BALISES_SURES:
        lecture.probleme(f"balise YAML non autorisée « {noeud.tag} »", noeud, chemin)
        return None
    if isinstance(noeud, yaml.MappingNode):
        return _dictionnaire(noeud, chemin, lecture, alias)
    if isinstance(noeud, yaml.SequenceNode):
        return [
            _construire(n, f"{chemin}.{i}" if chemin else str(i), lecture, alias)
            for i, n in enumerate(noeud.value)
        ]
    return _scalaire(noeud, chemin, lecture)


def _dictionnaire(noeud: yaml.MappingNode, chemin: str, lecture: _Lecture, alias: bool) -> dict[str, Any]:
    """Un dictionnaire ; les clés de fusion « <<: *base » complètent les clés écrites (sans les remplacer)."""
    resultat: dict[str, Any] = {}
    fusions: list[yaml.Node] = []
    for cle_noeud, valeur_noeud in noeud.value:
        if cle_noeud.tag == _FUSION:
            fusions.extend(valeur_noeud.value if isinstance(valeur_noeud, yaml.SequenceNode) else [valeur_noeud])
            continue
        cle = _scalaire(cle_noeud, chemin, lecture) if isinstance(cle_noeud, yaml.ScalarNode) else None
        if not isinstance(cle, (str, int, float, bool)) or cle is None:
            lecture.probleme("clé invalide", cle_noeud, "")
            continue
        cle = str(cle)
        sous = f"{chemin}.{cle}" if chemin else cle
        if cle in resultat:
            lecture.probleme("clé en double", cle_noeud, sous)
            continue
        lecture.doc.lignes.setdefault(sous, cle_noeud.start_mark.line + 1)
        resultat[cle] = _construire(valeur_noeud, sous, lecture, alias)
    for source in fusions:
        fusionne = _construire(source, chemin, lecture, True)
        if not isinstance(fusionne, dict):
            lecture.probleme("« << » ne peut fusionner qu'un ensemble de champs « clé : valeur »", source, chemin)
            continue
        for cle, valeur in fusionne.items():
            resultat.setdefault(cle, valeur)
    return resultat


_ENTIER_DECIMAL = re.compile(r"[-+]?[0-9][0-9_]*")
_TEXTE = "tag:yaml.org,2002:str"


def _scalaire(noeud: yaml.ScalarNode, chemin: str, lecture: _Lecture) -> Any:
    """Un scalaire, avec les seules conversions sans surprise : un entier écrit avec des zéros initiaux est
    décimal (YAML 1.2, et non octal comme en YAML 1.1 : « 024 » vaut 24), une durée sexagésimale (« 1:30 »)
    reste un texte, une date inexistante est une erreur qui dit sa ligne."""
    texte = noeud.value
    if noeud.tag == "tag:yaml.org,2002:str" and not noeud.style and _ENTIER_DECIMAL.fullmatch(texte):
        noeud.tag = "tag:yaml.org,2002:int"  # « 0138 » sans guillemets : texte en YAML 1.1, décimal en YAML 1.2
    if noeud.tag == "tag:yaml.org,2002:int":
        chiffres = texte.replace("_", "")
        if len(chiffres) > LIMITE_CHIFFRES:
            lecture.probleme(f"nombre trop long ({len(chiffres)} chiffres, au plus {LIMITE_CHIFFRES})", noeud, chemin)
            return None
        if _ENTIER_DECIMAL.fullmatch(texte):
            return int(chiffres, 10)
        if ":" in texte:
            return texte
    elif noeud.tag == _TEXTE:  # ce que rend le constructeur de PyYAML pour un texte (construct_yaml_str), sans lui
        return texte
    elif noeud.tag == "tag:yaml.org,2002:float" and ":" in texte:
        return texte
    elif noeud.tag == "tag:yaml.org,2002:timestamp":
        try:
            return lecture.chargeur.construct_object(noeud)
        except (ValueError, OverflowError):
            lecture.probleme(f"date inexistante « {texte} » (attendu : une date réelle, AAAA-MM-JJ)", noeud, chemin)
            return None
    return lecture.chargeur.construct_object(noeud)


def lire_texte(texte: str, fichier: Path | str) -> Document:
    """Analyse un texte YAML ; lève ErreurDonnees avec fichier et ligne."""
    _importer_yaml()
    doc = Document(None, fichier)
    problemes: list[Probleme] = []
    try:
        chargeur = _Chargeur(texte)
    except yaml.reader.ReaderError as exc:
        raise ErreurDonnees(_caractere_interdit(exc, texte, fichier)) from None
    try:
        racine = chargeur.get_single_node()
        if racine is not None:
            lecture = _Lecture(doc, chargeur, problemes, racine)
            doc.donnees = _construire(racine, "", lecture)
    except _Trop:
        problemes.append(Probleme(f"trop d'éléments repris par des alias « * » (plus de {lecture.limite}) : écrire "
                                  "les valeurs sans alias", fichier))
    except yaml.MarkedYAMLError as exc:
        marque = exc.problem_mark or exc.context_mark
        ligne = marque.line + 1 if marque else None
        raison = (exc.problem or exc.context or "").strip()
        caractere = texte[marque.index:marque.index + 1] if marque and marque.index is not None else ""
        problemes.append(Probleme(f"YAML invalide ({_traduire(raison, exc.context or '', caractere)})", fichier, ligne))
    except yaml.reader.ReaderError as exc:  # libyaml lit au fil de l'analyse
        problemes.append(_caractere_interdit(exc, texte, fichier))
    except yaml.YAMLError as exc:  # pragma: no cover - erreurs sans position
        problemes.append(Probleme(f"YAML invalide ({_traduire(str(exc))})", fichier))
    except RecursionError:
        problemes.append(Probleme("YAML invalide (imbrication trop profonde)", fichier))
    finally:
        chargeur.dispose()
    if problemes:
        raise ErreurDonnees(problemes)
    return doc


def _caractere_interdit(exc: yaml.reader.ReaderError, texte: str, fichier: Path | str) -> Probleme:
    ligne = texte.count("\n", 0, exc.position) + 1 if isinstance(exc.position, int) else None
    return Probleme(f"caractère interdit en YAML (code {exc.character:#x})", fichier, ligne)


LUS_MAX = 4096  # documents analysés gardés au plus (fichiers de réponses d'un dossier de consultations)


def lire(chemin: Path | str, garder: bool = False) -> Document:
    """Lit un fichier YAML (taille limitée, UTF-8 exigé). Le document analysé est gardé dans le cache disque sous
    l'empreinte de ses octets et du code qui l'analyse (un fichier invalide ne l'est jamais) : un fichier de réponses
    relu sans changement (régénération, index du dossier, nouvelle commande), copié ou déplacé, n'est pas analysé de
    nouveau. Le chemin n'entre pas dans l'empreinte : l'analyse n'en dépend pas (il ne sert qu'aux messages d'un
    fichier invalide, jamais gardé) ; le document rendu porte le chemin lu. `garder` : fichier du catalogue relu à
    chaque commande (questionnaire, profil et référentiel d'un acheteur…), gardé à part, parmi peu d'autres ; sinon,
    parmi les LUS_MAX derniers documents lus."""
    chemin = Path(chemin)
    try:
        taille = chemin.stat().st_size
    except OSError:
        raise ErreurDonnees(Probleme("fichier introuvable", chemin)) from None
    if taille > TAILLE_MAX:
        raise ErreurDonnees(Probleme(f"fichier trop volumineux ({taille} octets, maximum {TAILLE_MAX})", chemin))
    try:
        with chemin.open("rb") as flux:
            octets = lire_borne(flux, taille, TAILLE_MAX)  # st_size ne dit rien d'un tube ni de /dev/zero
    except OSError as exc:
        raise ErreurDonnees(Probleme(f"lecture impossible ({exc.strerror})", chemin)) from None
    if len(octets) > TAILLE_MAX:
        raise ErreurDonnees(Probleme(f"fichier trop volumineux (plus de {TAILLE_MAX} octets)", chemin))
    try:
        texte = octets.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")  # comme read_text
    except UnicodeDecodeError as exc:
        raise ErreurDonnees(Probleme(f"le fichier n'est pas encodé en UTF-8 (octet {exc.start})", chemin)) from None
    cle = cache.empreinte(octets, _version_analyse())
    doc = cache.objet("yaml" if garder else "yaml-lus", cle, lambda: lire_texte(texte, chemin),
                      garder=64 if garder else LUS_MAX)
    doc.fichier = chemin  # gardé sous les seuls octets : lu peut-être à un autre chemin (copie, déplacement)
    doc.octets = octets  # lu une seule fois : analyse et empreinte portent sur les mêmes octets (pas recopiés au cache)
    return doc


@lru_cache(maxsize=1)
def _version_analyse() -> bytes:
    """Ce qui change le résultat de l'analyse d'un même texte : ce module et la version de PyYAML."""
    return Path(__file__).read_bytes() + cache.version_paquet("yaml")


# Messages de l'analyseur YAML (libyaml ou PyYAML, formulations voisines) → français. Le premier fragment
# trouvé dans le message l'emporte ; l'ordre va du plus précis au plus général.
_TRADUCTIONS = [
    ("could not find expected ':'", "« : » attendu"),
    ("found unexpected ':'", "« : » inattendu"),
    ("mapping values are not allowed", "valeur inattendue à cet endroit (un « : » de trop, ou une indentation "
                                       "incorrecte ? mettre entre guillemets un texte qui contient « : »)"),
    ("mapping keys are not allowed", "clé inattendue à cet endroit (indentation incorrecte ?)"),
    ("sequence entries are not allowed", "élément de liste « - » inattendu à cet endroit (indentation incorrecte ?)"),
    ("tab character", "tabulation interdite, indenter avec des espaces"),
    ("'\\t'", "tabulation interdite, indenter avec des espaces"),
    ("cannot start any token", "caractère qui ne peut pas commencer une valeur (@, `, %…) : mettre la valeur "
                               "entre guillemets"),
    ("expected ',' or ']'", "« , » ou « ] » attendu (liste entre crochets non fermée ?)"),
    ("expected ',' or '}'", "« , » ou « } » attendu (accolade non fermée ?)"),
    ("node content", "valeur attendue (crochet ou accolade non fermé ?)"),
    ("expected <block end>, but found '-'", "élément de liste mal indenté"),
    ("expected <block end>", "indentation incorrecte"),
    ("did not find expected key", "clé attendue (indentation incorrecte ?)"),
    ("expected '-' indicator", "tiret de liste attendu (indentation incorrecte ?)"),
    ("invalid indentation or unclosed", "indentation incorrecte, ou crochet ou accolade non fermé"),
    ("undefined alias", "alias non défini"),
    ("duplicate anchor", "ancre « & » définie deux fois"),
    ("second occurrence", "ancre « & » définie deux fois"),
    ("undefined tag handle", "balise YAML non autorisée"),
    ("could not determine a constructor for the tag", "balise YAML non autorisée"),
    ("exceeded maximum nesting depth", "imbrication trop profonde : trop de crochets, d'accolades ou de retraits"),
    ("invalid Unicode character escape", "séquence d'échappement Unicode invalide entre guillemets doubles : "
                                         "écrire le caractère lui-même plutôt que son code « \\u… »"),
    ("indentation indicator", "indicateur d'indentation 0 interdit après « | » ou « > » (un chiffre de 1 à 9)"),
    ("intendation indicator", "indicateur d'indentation 0 interdit après « | » ou « > » (un chiffre de 1 à 9)"),
    ("hexdecimal number", "séquence d'échappement invalide entre guillemets doubles (\\x, \\u ou \\U suivi de "
                          "chiffres hexadécimaux)"),
    ("hexadecimal number", "séquence d'échappement invalide entre guillemets doubles (\\x, \\u ou \\U suivi de "
                           "chiffres hexadécimaux)"),
    ("incompatible YAML document", "version de YAML non prise en charge (directive « %YAML »)"),
    ("version number", "directive « %YAML » invalide"),
    ("unknown escape character", "séquence d'échappement inconnue entre guillemets doubles (doubler la barre "
                                 "oblique inverse, ou employer des apostrophes)"),
    ("found another document", "un seul document attendu : retirer le séparateur « --- » en trop"),
    ("single document", "un seul document attendu : retirer le séparateur « --- » en trop"),
    ("document indicator", "séparateur de document « --- » ou « ... » inattendu"),
    ("document separator", "séparateur de document « --- » ou « ... » inattendu"),
    ("document start", "début de document attendu (texte en trop au premier niveau ?)"),
    ("comment or a line break", "texte en trop après la valeur (un « # » de commentaire doit suivre une espace)"),
    ("comment or line break", "texte en trop après la valeur (un « # » de commentaire doit suivre une espace)"),
    ("directive", "directive « % » invalide ou répétée"),
    ("alphabetic", "nom d'ancre « & », d'alias « * » ou de balise « ! » invalide (lettres et chiffres seulement)"),
    ("alphabetical", "nom d'ancre « & », d'alias « * » ou de balise « ! » invalide (lettres et chiffres seulement)"),
    ("whitespace or line break", "espace ou retour à la ligne attendu (après une balise « ! » ?)"),
    ("URI", "balise « ! » invalide"),
    ("expected '>'", "balise « ! » invalide"),
    ("UTF-8 octet", "balise « ! » invalide"),
    ("control characters are not allowed", "caractère de contrôle interdit"),
    ("unacceptable character", "caractère de contrôle interdit"),
    ("end of stream", "fin de fichier inattendue"),
]


def _traduire(raison: str, contexte: str = "", caractere: str = "") -> str:
    if caractere == "\t":
        return "tabulation interdite, indenter avec des espaces"
    for fragment, francais in _TRADUCTIONS:
        if fragment in raison:
            if "quoted scalar" in contexte and "end of stream" in raison:
                return "guillemet non fermé"
            return francais
    return "syntaxe invalide à cet endroit"  # message de l'analyseur non traduit : la ligne guide la correction


# Types d'un schéma JSON, dans les mots de l'utilisateur.
TYPES_FR = {"string": "un texte", "number": "un nombre", "integer": "un nombre entier",
            "boolean": "oui ou non (true / false)", "array": "une liste", "object": "un ensemble de champs",
            "null": "vide"}


def _type_de(valeur: Any) -> str:
    for nom, types in (("boolean", bool), ("integer", int), ("number", float), ("string", str), ("array", list),
                       ("object", dict), ("null", type(None))):
        if isinstance(valeur, types):
            return TYPES_FR[nom]
    return "une date" if isinstance(valeur, dt.date) else type(valeur).__name__


_validateurs: dict[int, Any] = {}  # un validateur par schéma (les schémas sont des constantes des modules)
_SCHEMAS = cache.ParObjet(64)  # chaque schéma et son pickle (clé des verdicts de validation)


@lru_cache(maxsize=1)
def version_jsonschema() -> str | None:
    """jsonschema tel qu'il sera importé par ce processus (chemin et date), sans l'importer ; None s'il est
    introuvable."""
    spec = importlib.util.find_spec("jsonschema")
    if spec is None or not spec.origin:
        return None
    try:
        return f"{spec.origin}:{os.stat(spec.origin).st_mtime_ns}"
    except OSError:
        return None


def cle_validation(donnees: Any, schema: dict[str, Any]) -> str | None:
    """Clé du verdict « ces données sont conformes à ce schéma » (`cache.marquer("validations", …)`, réponses et
    fichiers YAML du catalogue) : empreinte des données, du schéma et de jsonschema ; None si elle ne peut pas être
    calculée (jsonschema introuvable, données qui ne se picklent pas)."""
    version = version_jsonschema()
    if version is None:
        return None
    try:
        octets_schema = _SCHEMAS.obtenir(schema, lambda: pickle.dumps(schema, protocol=4))
        return cache.empreinte(pickle.dumps(donnees, protocol=4), octets_schema, version)
    except (pickle.PicklingError, TypeError, RecursionError, AttributeError):
        return None


def structure(doc: Document, schema: dict[str, Any]) -> list[Probleme]:
    """Écarts d'un fichier YAML (catalogue, questionnaire, en-tête de clause) à son schéma JSON : chaque champ
    mal typé, manquant ou inconnu, avec sa ligne. Des données déjà trouvées conformes au même schéma ne sont pas
    revalidées (verdict favorable gardé dans le cache disque, comme pour les réponses) : jsonschema n'est alors pas
    importé."""
    cle = cle_validation(doc.donnees, schema)
    if cle is not None and cache.marque("validations", cle):
        return []
    problemes = []
    validateur = _validateurs.get(id(schema))
    if validateur is None:
        from jsonschema import Draft202012Validator  # importé au besoin : hors du chemin d'une commande en cache

        validateur = _validateurs[id(schema)] = Draft202012Validator(schema)
    for err in sorted(validateur.iter_errors(doc.donnees), key=lambda e: [str(p) for p in e.path]):
        chemin = ".".join(str(p) for p in err.absolute_path)
        if err.validator == "type":
            attendus = [err.validator_value] if isinstance(err.validator_value, str) else err.validator_value
            attendus = [a for a in attendus if a != "null"] or attendus  # « vide » compte comme absent
            message = (f"{' ou '.join(TYPES_FR[a] for a in attendus)} attendu (trouvé : {_type_de(err.instance)}"
                       + (f" « {str(err.instance)[:60]} »" if isinstance(err.instance, (str, int, float)) else "") + ")")
        elif err.validator == "required":
            nom = re.search(r"'([^']+)'", err.message)
            chemin = ".".join(filter(None, [chemin, nom.group(1) if nom else ""]))
            message = "champ obligatoire manquant"
        elif err.validator == "additionalProperties":
            inconnus = re.findall(r"'([^']+)'", err.message)
            message = f"champ inconnu ({', '.join(inconnus[:3])})"
        elif err.validator == "propertyNames":
            message = f"nom « {err.instance} » non autorisé"
        elif err.validator == "enum":
            message = f"valeur « {err.instance} » non autorisée ; valeurs possibles : {', '.join(map(str, err.validator_value))}"
        elif err.validator == "minItems":
            message = f"au moins {err.validator_value} élément(s) attendu(s)"
        elif err.validator == "minimum":
            message = f"valeur {err.instance} trop petite : au moins {err.validator_value} attendu"
        else:
            message = "valeur invalide"
        problemes.append(Probleme(message, doc.fichier, doc.ligne(chemin), chemin or None))
    if not problemes and cle is not None:
        cache.marquer("validations", cle)
    return problemes


def en_date(valeur: Any) -> dt.date | None:
    """Convertit une date YAML ou une chaîne JJ/MM/AAAA ou AAAA-MM-JJ."""
    if valeur is None or isinstance(valeur, dt.date) and not isinstance(valeur, dt.datetime):
        return valeur
    if isinstance(valeur, dt.datetime):
        return valeur.date()
    texte = str(valeur).strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(texte, fmt).date()
        except ValueError:
            continue
    raise ValueError(texte)
