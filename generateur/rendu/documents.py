"""Modèle Word de l'acheteur + blocs → fichier .docx (rendu docxtpl, reproductible) ; vérification des modèles."""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import io
import json
import os
import pickle
import re
import stat
import sys
import zipfile
import zlib
from array import array
from functools import lru_cache
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

import orjson
from jinja2 import Template
from markupsafe import Markup

from ..donnees.formats import typographie
from ..pieces.blocs import Bloc, Image, Titre
from ..donnees import cache, fichiers, yaml_lignes
from ..droit.expressions import BacASable, ErreursJinja, message_erreur
from ..erreurs import ErreurDonnees, Probleme
from .ooxml import W_NS, Ecrivain, Numerotation, Styles, texte_permis
from ..donnees.fichiers import zip_reproductible

if TYPE_CHECKING:
    from docxtpl import DocxTemplate

# python-docx, docxtpl et lxml (≈ 50 ms d'import) ne sont importés que pour rendre un document : une commande dont
# toutes les pièces Word sont reprises d'une génération précédente (`produire`) s'en passe.
_W = f"{{{W_NS}}}"
# Corps et sommaire, écrits par ooxml, sont insérés après le rendu docxtpl : ils n'ont à passer ni par
# Jinja ni par les expressions régulières de docxtpl (le plus gros du temps de rendu d'un long document).
_EMPLACEMENT = "\u2063dce-emplacement:"
# Variables qu'un modèle Word peut employer : fournies par generation.variables_modele (et par les rapports),
# plus les deux emplacements que dce remplit. `dce catalogue verifier` signale toute autre variable.
VARIABLES_MODELE = ("acheteur_nom", "acheteur_nom_court", "acheteur_adresse", "representant", "titre_document",
                    "sigle_document", "objet", "objet_court", "reference", "procedure", "date_limite",
                    "date_lancement", "logo")
EMPLACEMENTS = ("corps", "sommaire")


def variables_acheteur(profil: dict[str, Any], logo: Path | None) -> dict[str, Any]:
    """Les variables du modèle qui présentent l'acheteur (couverture, en-tête), d'après son profil."""
    return {"acheteur_nom": profil["nom"], "acheteur_nom_court": profil["nom_court"],
            "acheteur_adresse": list(profil.get("adresse") or []), "representant": profil["representant"],
            "logo": logo}


class _EnvironnementModele(BacASable):
    """Environnement Jinja de docxtpl qui compile une seule fois chaque partie d'un modèle Word.

    Un modèle Word vient d'un acheteur ou d'ailleurs : il est rendu dans le même bac à sable que les clauses
    (attributs des seules données ; `logo`, une image docxtpl, ne mène pas au système de fichiers).

    Le XML des parties (corps, en-têtes, pieds, propriétés) est le même d'un document à l'autre : seul
    le contexte change. En lot, la compilation coûtait plus que le rendu.
    """

    @lru_cache(maxsize=512)  # noqa: B019 - un seul environnement, vivant tout le processus
    def _compiler(self, source: str) -> Template:
        return super().from_string(source)

    def from_string(self, source, globals=None, template_class=None):  # type: ignore[override]
        if globals is None and template_class is None and isinstance(source, str):
            return self._compiler(source)
        return super().from_string(source, globals, template_class)


_ENV_MODELE = _EnvironnementModele(autoescape=True)
_PARTIES_NETTOYEES: dict[str, str] = {}


@lru_cache(maxsize=16)
def _document_vierge(chemin: str, _date: int, _taille: int) -> Any:
    """Le modèle ouvert par python-docx, une fois par fichier (date et taille dans la clé : relu s'il change)."""
    from docx import Document
    from docx.opc.exceptions import PackageNotFoundError
    from lxml import etree

    try:
        return Document(chemin)
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, etree.XMLSyntaxError) as exc:
        raise ErreurDonnees(Probleme(f"modèle Word illisible, fichier .docx corrompu ou d'un autre format ({exc})",
                                     chemin)) from None


@lru_cache(maxsize=1)
def _classe_modele() -> type[DocxTemplate]:
    """`_Modele`, sous-classe de DocxTemplate (docxtpl importé au premier rendu)."""
    from docxtpl import DocxTemplate

    class _Modele(DocxTemplate):
        """DocxTemplate qui part d'une copie du modèle déjà ouvert, et ne nettoie qu'une fois (patch_xml, des
        expressions régulières) chaque partie d'un modèle."""

        def init_docx(self, reload: bool = True) -> None:
            if not self.docx or (self.is_rendered and reload):
                etat = os.stat(self.template_file)
                # Copier l'arbre du paquet déjà lu coûte moitié moins que relire le .docx.
                self.docx = copy.deepcopy(_document_vierge(str(self.template_file), etat.st_mtime_ns, etat.st_size))
                self.is_rendered = False

        sources: list[tuple[str, str]] | None = None  # si liste : les parties rendues et leur XML nettoyé (`_preparer`)

        def render_xml_part(self, src_xml: str, part: Any, context: Any, jinja_env: Any = None) -> str:
            if self.sources is not None:
                self.sources.append((part.partname.membername, src_xml))
            return super().render_xml_part(src_xml, part, context, jinja_env)

        def patch_xml(self, src_xml: str) -> str:
            if src_xml not in _PARTIES_NETTOYEES:
                if len(_PARTIES_NETTOYEES) >= 256:
                    _PARTIES_NETTOYEES.clear()
                _PARTIES_NETTOYEES[src_xml] = super().patch_xml(src_xml)
            return _PARTIES_NETTOYEES[src_xml]

    return _Modele


def _styles(document: Any) -> tuple[Styles, int]:
    """Lit dans le modèle la numérotation liée aux styles de liste, et le premier numId libre."""
    styles = Styles()
    numerotation = document.part.numbering_part.element
    abstraits = {}
    numeros = []
    for num in numerotation.findall(f"{_W}num"):
        ident = int(num.get(f"{_W}numId"))
        numeros.append(ident)
        abstraits[ident] = int(num.find(f"{_W}abstractNumId").get(f"{_W}val"))
    presents = {style.get(f"{_W}styleId") for style in document.styles.element.findall(f"{_W}style")}
    # titres 4 à 6 (texte technique importé) : facultatifs dans le modèle de l'acheteur
    styles.titres = {n: s for n, s in styles.titres.items() if n <= 3 or s in presents}
    for style in document.styles.element.findall(f"{_W}style"):
        ident = style.get(f"{_W}styleId")
        num = style.find(f"{_W}pPr/{_W}numPr/{_W}numId")
        if num is None:
            continue
        num_id = int(num.get(f"{_W}val"))
        if ident == styles.numeros:
            styles.abstract_numeros = abstraits.get(num_id)
        elif ident == styles.puces:
            styles.num_puces = num_id
    return styles, max(numeros, default=0) + 1


@lru_cache(maxsize=64)
def _styles_du_modele(chemin: str, _date: int, _taille: int) -> tuple[Styles, int]:
    """`_styles` du modèle déjà ouvert, lus une fois par modèle."""
    return _styles(_document_vierge(chemin, _date, _taille))


def _ajouter_numerotation(modele: DocxTemplate, numerotation: Numerotation) -> None:
    from lxml import etree

    racine = modele.docx.part.numbering_part.element  # get_docx() rechargerait le modèle vierge
    fin = racine.find(f"{_W}numIdMacAtCleanup")
    for xml in numerotation.xml():
        element = etree.fromstring(xml)
        if fin is not None:
            fin.addprevious(element)
        else:
            racine.append(element)


class _Collecteur:
    """Reçoit les parties du paquet python-docx au lieu de les compresser : une seule compression au total."""

    def __init__(self) -> None:
        self.parties: dict[str, bytes] = {}

    def write(self, uri: Any, blob: bytes) -> None:
        self.parties[uri.membername] = blob

    def close(self) -> None:
        pass


def _parties(tpl: DocxTemplate) -> dict[str, bytes]:
    """Les parties du paquet python-docx, sérialisées (nom dans le zip → octets), dans l'ordre du paquet."""
    from docx.opc.pkgwriter import PackageWriter

    tpl.pre_processing()
    paquet = tpl.docx.part.package
    collecteur = _Collecteur()
    PackageWriter._write_content_types_stream(collecteur, paquet.parts)
    PackageWriter._write_pkg_rels(collecteur, paquet.rels)
    PackageWriter._write_parts(collecteur, paquet.parts)
    return collecteur.parties


def _paquet(tpl: DocxTemplate, corps: Callable[[bytes], bytes]) -> bytes:
    """Parties du paquet python-docx → .docx ; `corps` transforme document.xml sérialisé (insertion des fragments)."""
    parties = _parties(tpl)
    nom = tpl.docx.part.partname.membername
    parties[nom] = corps(parties[nom])
    return zip_reproductible(parties)


class _Images:
    """Ajoute les images du corps au paquet Word et rend leur élément wp:inline (largeur fixée, hauteur proportionnelle).

    Leurs identifiants wp:docPr suivent ceux que docxtpl donne aux images du modèle (à partir de 1000) :
    uniques dans le document, et les mêmes d'une génération à l'autre.
    """

    PREMIER = 100_001

    def __init__(self, tpl: DocxTemplate) -> None:
        self.tpl = tpl
        self.suivant = self.PREMIER

    def __call__(self, image: Image) -> str:
        from docx.shared import Mm

        inline = self.tpl.docx.part.new_pic_inline(io.BytesIO(image.donnees), Mm(image.largeur_mm), None)
        inline.docPr.set("descr", texte_permis(image.description))
        inline.docPr.set("id", str(self.suivant))
        self.suivant += 1
        return inline.xml


def _emplacement(nom: str) -> str:
    """Paragraphe que le rendu docxtpl met à la place de ``{{p nom }}`` et que le fragment remplacera."""
    return f"<w:p><w:r><w:t>{_EMPLACEMENT}{nom}</w:t></w:r></w:p>"


def _inserer(xml: bytes, fragments: dict[str, str] | dict[str, bytes], modele: Path) -> bytes:
    """Remplace, dans document.xml déjà sérialisé, chaque paragraphe-emplacement par son fragment.

    Le corps n'est ainsi jamais analysé par lxml : il passe tel qu'ooxml l'a écrit, préfixe w: compris
    (déclaré à la racine de tout document Word).
    """
    debut = xml.find(b"<w:document ")
    if debut < 0 or f'xmlns:w="{W_NS}"'.encode() not in xml[debut:xml.find(b">", debut)]:
        raise ErreurDonnees(Probleme("modèle Word inhabituel : l'espace de noms WordprocessingML n'est pas déclaré "
                                     "avec le préfixe « w » à la racine du document", modele))
    for nom, fragment in fragments.items():
        emplacement = _emplacement(nom).encode("utf-8")
        nombre = xml.count(emplacement)
        if nombre == 0 and nom == "sommaire":
            continue  # un modèle sans sommaire est permis
        if nombre != 1:
            raise ErreurDonnees(Probleme(f"le modèle Word doit contenir une fois, seul dans son paragraphe, "
                                         f"{{{{p {nom} }}}} (trouvé {nombre} fois)", modele))
        xml = xml.replace(emplacement, fragment if isinstance(fragment, bytes) else fragment.encode("utf-8"))
    return xml


# Sous-dossier du cache : verdicts « ces entrées donnent ce document » (voir `produire`).
DOCUMENTS = "documents"


def _installation(module: str) -> bytes:
    """Une bibliothèque telle qu'elle est installée, sans l'importer : texte de son module (python-docx et docxtpl y
    écrivent leur version), chemin, taille et date (une autre version, même réinstallée au même endroit, diffère)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin:
        return b"absent"
    etat = os.stat(spec.origin)
    entete = f"{spec.origin}:{etat.st_size}:{etat.st_mtime_ns}\0".encode()
    return entete + (Path(spec.origin).read_bytes() if spec.origin.endswith(".py") else b"")


@lru_cache(maxsize=1)
def _code_du_rendu() -> str:
    """Ce dont dépend le rendu d'un document, hors ses entrées : modules de dce qui l'écrivent, bibliothèques (docxtpl,
    python-docx, lxml, Jinja, zlib) et version de Python (format des pickles qui servent d'empreinte). Les
    bibliothèques du rendu ne sont pas importées pour autant : une commande dont toutes les pièces sont reprises
    s'en passe."""
    import jinja2
    import zlib

    from .. import __version__
    from ..donnees import formats
    from ..droit import expressions
    from ..pieces import blocs
    from . import ooxml

    direct = Path(__file__).with_name("rendu_direct.py")  # sans l'importer (il importe lxml)
    modules = (__file__, direct, ooxml.__file__, fichiers.__file__, formats.__file__, blocs.__file__,
               expressions.__file__)
    bibliotheques = [_installation(m) for m in ("docx", "docxtpl", "lxml", "lxml.etree")]
    return cache.empreinte(cache.sources(*modules), __version__, sys.version, *bibliotheques,
                           jinja2.__version__, zlib.ZLIB_RUNTIME_VERSION)


@lru_cache(maxsize=64)
def _empreinte_fichier(chemin: str, _date: int, _taille: int) -> str:
    return hashlib.sha256(Path(chemin).read_bytes()).hexdigest()


def _fichier(chemin: Path) -> str:
    etat = chemin.stat()
    return _empreinte_fichier(str(chemin), etat.st_mtime_ns, etat.st_size)


# Empreinte de chaque bloc déjà écrit pour l'empreinte d'un document, sous l'identité du bloc (`_serialiser`) : les
# blocs des clauses, gardés par les mémoires du Markdown, sont les mêmes objets d'une consultation à l'autre, et
# jamais modifiés (markdown_.vers_blocs) ; un bloc propre à une consultation s'en va avec elle (cache.ParObjet).
_EMPREINTES_BLOCS = cache.ParObjet(16_384)
_OPTIONS_ORJSON = orjson.OPT_PASSTHROUGH_SUBCLASS


def _empreinte_bloc(bloc: Bloc) -> str:
    return hashlib.sha256(orjson.dumps(bloc, option=_OPTIONS_ORJSON)).hexdigest()


def _serialiser(blocs: list[Bloc], titres: list[Titre]) -> bytes:
    """Les blocs et les titres d'un document, sérialisés pour son empreinte : par orjson (trois fois plus vite que
    pickle), chaque bloc autre qu'un titre remplacé par son empreinte (SHA-256 de son JSON, chaîne hexadécimale), gardée
    sous l'identité du bloc (`_EMPREINTES_BLOCS`) : les blocs des clauses ne sont écrits qu'une fois par processus ;
    un titre, propre à chaque document, est écrit tel quel. Sinon, par pickle (bloc avec des octets, comme une image,
    ou valeur qu'orjson n'écrit pas exactement : sous-classe de str, entier de plus de 64 bits).

    orjson écrit chaque bloc (dataclass) comme l'objet JSON de ses champs, sans sa classe : les classes de blocs
    (pieces/blocs.py, dont le texte entre dans `_code_du_rendu`) ont chacune un jeu de champs que nulle autre n'a
    (vérifié par les tests), et ce sont tous les attributs que lit le rendu ; une empreinte (chaîne) ne se confond
    pas avec un titre (objet). Ce qu'orjson confond encore, le rendu (ooxml.Ecrivain) ne le distingue pas : un tuple
    et une liste (itérés, indexés) ; aucun bloc ne porte de nombre à virgule hors des images (un NaN s'écrirait comme
    None)."""
    try:
        obtenir = _EMPREINTES_BLOCS.obtenir
        parties = [b if type(b) is Titre else obtenir(b, lambda b=b: _empreinte_bloc(b)) for b in blocs]
        return b"orjson" + orjson.dumps((parties, titres), option=_OPTIONS_ORJSON)
    except TypeError:  # orjson.JSONEncodeError en est une
        return b"pickle" + pickle.dumps((blocs, titres), protocol=5)


def empreinte_modele(modele: Path, variables: dict[str, Any]) -> str | None:
    """Empreinte de ce dont dépend un document que `produire` rend, hors ses blocs et ses titres : contenu du modèle
    Word et du logo, variables, code du rendu et réglages du zip ; None si un fichier est illisible (le rendu le
    dira)."""
    try:
        logo = variables.get("logo")
        zip_ = f"{fichiers.NIVEAU_COMPRESSION} {fichiers.DATE_ZIP}"  # lus à chaque appel : réglages du zip écrit
        return cache.empreinte(_code_du_rendu(), zip_, _fichier(modele), _fichier(Path(logo)) if logo else "",
                               json.dumps(variables, default=str, sort_keys=True, ensure_ascii=False))
    except (OSError, TypeError, ValueError):
        return None


def empreinte_entrees(modele: Path, variables: dict[str, Any], blocs: list[Bloc], titres: list[Titre],
                      empreinte: str | None = None) -> str | None:
    """Empreinte de tout ce dont dépend le document que `produire` rend : `empreinte_modele`, blocs et titres
    (`_serialiser`, ou `empreinte` : celle de ce dont ils dépendent, donnée par l'appelant) ; None si un fichier est
    illisible (le rendu le dira)."""
    base = empreinte_modele(modele, variables)
    if base is None:
        return None
    if empreinte is not None:
        return cache.empreinte(base, "blocs", empreinte)
    try:
        return cache.empreinte(base, _serialiser(blocs, titres))
    except (pickle.PicklingError, TypeError, ValueError):
        return None


def produire(modele: Path, variables: dict[str, Any], blocs: list[Bloc], titres: list[Titre],
             reprise: bool = False, precedent: Path | None = None, empreinte: str | None = None, *,
             contenu: Callable[[], tuple[list[Bloc], list[Titre]]] | None = None) -> bytes:
    """Rend un document complet en mémoire ; `variables` : exactement VARIABLES_MODELE.

    `reprise` (pièces d'un DCE, que la génération suivante pourra reprendre) : le verdict « ces entrées donnent ces
    octets » est gardé dans le cache de l'utilisateur (sous-dossier `documents`, un fichier vide par verdict, nommé
    par l'empreinte des entrées — modèle, variables, blocs, code du rendu — et celle des octets). `precedent` : le même
    document d'une génération précédente ; si ses octets sont ceux que des entrées identiques ont déjà donnés, ils
    sont repris tels quels au lieu d'être rendus de nouveau (le rendu est reproductible : même résultat à l'octet) ;
    sinon, le document est assemblé sur le squelette gardé de son modèle rendu avec ses variables (`_produire`).
    `empreinte` : celle de tout ce dont dépendent les blocs et les titres (`assemblage.empreinte_piece`,
    `tracabilite.empreinte_fiche`), qui tient lieu de leur sérialisation dans l'empreinte des entrées. `contenu` : à
    la place de `blocs` et `titres`, la fonction qui les fait, appelée seulement s'il faut les sérialiser ou rendre
    le document (fiche de traçabilité reprise sous son empreinte : ses blocs ne sont pas faits). Sans cache
    (`DCE_CACHE=0`), tout est rendu."""
    if set(variables) != set(VARIABLES_MODELE):
        raise ValueError(f"variables du modèle : {sorted(set(variables) ^ set(VARIABLES_MODELE))}")
    sans_cache = not reprise or cache.dossier(DOCUMENTS) is None
    if contenu is not None and (sans_cache or empreinte is None):
        (blocs, titres), contenu = contenu(), None
    if sans_cache:
        return _produire(modele, variables, blocs, titres)
    cle = empreinte_entrees(modele, variables, blocs, titres, empreinte)
    if cle is not None and precedent is not None:
        octets = lire_precedent(precedent)
        verdict = cache.empreinte(cle, hashlib.sha256(octets).digest()) if octets is not None else None
        if verdict is not None and cache.marque(DOCUMENTS, verdict):
            cache.marquer(DOCUMENTS, verdict)  # verdict resservi : le dernier à quitter le cache quand il est plein
            return octets
    if contenu is not None:
        blocs, titres = contenu()
    octets = _produire(modele, variables, blocs, titres)
    if cle is not None:
        verdict = cache.empreinte(cle, hashlib.sha256(octets).digest())
        if not cache.marque(DOCUMENTS, verdict):
            cache.marquer(DOCUMENTS, verdict)
    return octets


TAILLE_PRECEDENT_MAX = 64 * 1024 * 1024  # un document Word de dce en fait moins d'un mégaoctet


def lire_precedent(chemin: Path) -> bytes | None:
    """Les octets du document d'une génération précédente (`produire`), s'il est un fichier ordinaire de taille
    raisonnable ; None sinon (absent, illisible, tube ou périphérique au même nom : ouvert sans attendre, jamais lu)."""
    try:
        fd = os.open(chemin, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError:
        return None
    try:
        etat = os.fstat(fd)
        if not stat.S_ISREG(etat.st_mode) or etat.st_size > TAILLE_PRECEDENT_MAX:
            return None
        with os.fdopen(fd, "rb", closefd=False) as flux:
            octets = fichiers.lire_borne(flux, etat.st_size, TAILLE_PRECEDENT_MAX)
        return octets if len(octets) <= TAILLE_PRECEDENT_MAX else None
    except OSError:
        return None
    finally:
        os.close(fd)


def _produire(modele: Path, variables: dict[str, Any], blocs: list[Bloc], titres: list[Titre]) -> bytes:
    """Le document, assemblé sur le squelette gardé du modèle rendu avec ces variables (`_squelette` : les
    variables d'une pièce ou de ses modifications suivies sont les mêmes d'une génération à l'autre), sinon rendu par
    docxtpl et python-docx (`_produire_complet`) ; mêmes octets dans les deux cas."""
    if not any(isinstance(b, Image) for b in blocs):  # une image du corps ajoute une partie au paquet
        squelette = _squelette(modele, variables)
        if squelette is not None:
            octets = _assembler(squelette, modele, blocs, titres)
            if octets is not None:
                return octets
    return _produire_complet(modele, variables, blocs, titres)


def _ouvrir(modele: Path) -> tuple[Styles, int, DocxTemplate]:
    """Styles et premier numéro de liste libre du modèle, et le modèle prêt à rendre (copie du modèle ouvert)."""
    try:
        etat = modele.stat()
        styles, premier = _styles_du_modele(str(modele), etat.st_mtime_ns, etat.st_size)
        tpl = _classe_modele()(str(modele))
        tpl.init_docx()
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise ErreurDonnees(Probleme(f"modèle Word illisible ({exc})", modele)) from None
    return styles, premier, tpl


def _rendre_modele(tpl: DocxTemplate, modele: Path, variables: dict[str, Any], fragments: Any) -> None:
    """Le modèle rendu par docxtpl avec les variables (les emplacements `fragments` marqués, remplis après la
    sérialisation) et ses propriétés de document."""
    from docx.shared import Mm
    from docxtpl import InlineImage, Listing

    contexte = _contexte(variables, fragments, Listing)
    logo = contexte.get("logo")
    contexte["logo"] = InlineImage(tpl, str(logo), height=Mm(22)) if logo else ""
    try:
        tpl.render(contexte, _ENV_MODELE, autoescape=True)
    except ErreursJinja as exc:
        raise ErreurDonnees(Probleme(f"modèle Word impossible à rendre : {message_erreur(exc)}", modele)) from None
    proprietes = tpl.docx.core_properties
    for nom, valeur in _proprietes_document(variables).items():
        setattr(proprietes, nom, valeur)


def _contexte(variables: dict[str, Any], fragments: Any, listing: Callable[[str], Any]) -> dict[str, Any]:
    """Le contexte du rendu Jinja d'un modèle (hors logo) : les emplacements `fragments` marqués, l'adresse en
    `listing` (une ligne par élément)."""
    # typographie : la couverture et les en-têtes suivent la même typographie que le corps (pieces/blocs.py)
    contexte = {cle: texte_permis(typographie(v)) if isinstance(v, str) else v for cle, v in variables.items()}
    for nom in fragments:
        contexte[nom] = Markup(_emplacement(nom))
    if isinstance(contexte.get("acheteur_adresse"), list):
        contexte["acheteur_adresse"] = listing(texte_permis("\n".join(contexte["acheteur_adresse"])))
    return contexte


def _proprietes_document(variables: dict[str, Any]) -> dict[str, str]:
    """Les propriétés du document (core.xml) que dce écrit : titre du PDF et de la fenêtre Word (la pièce, pas le
    modèle), sujet, auteur, langue (reprise par le PDF balisé, pour les lecteurs d'écran)."""
    return {"title": texte_permis(f"{variables.get('titre_document', '')} – {variables.get('reference', '')}")[:255],
            "subject": texte_permis(str(variables.get("objet", "")))[:255],
            "author": texte_permis(str(variables.get("acheteur_nom", "")))[:255],
            "language": "fr-FR"}


def _produire_complet(modele: Path, variables: dict[str, Any], blocs: list[Bloc], titres: list[Titre]) -> bytes:
    styles, premier, tpl = _ouvrir(modele)
    numerotation = Numerotation(premier, styles.abstract_numeros)
    ecrivain = Ecrivain(replace(styles), numerotation, _Images(tpl))
    fragments = dict(zip(EMPLACEMENTS, (ecrivain.blocs(blocs), ecrivain.sommaire(titres))))
    _rendre_modele(tpl, modele, variables, fragments)
    _ajouter_numerotation(tpl, numerotation)
    return _paquet(tpl, lambda xml: _inserer(xml, fragments, modele))


# Squelettes : le modèle Word rendu avec les variables d'une pièce (couverture, en-têtes, propriétés), sérialisé,
# avant l'insertion du corps et de la numérotation des listes. D'une régénération à l'autre, les variables d'une
# pièce ne changent pas : son squelette est gardé dans le cache de l'utilisateur (sous-dossier `squelettes`, au plus
# SQUELETTES_MAX), et le document s'assemble sans docxtpl ni python-docx (le rendu docxtpl, la copie et la
# sérialisation du modèle faisaient la moitié du temps d'un document). Les parties que le rendu ne change pas sont
# gardées une fois par modèle (le gabarit). Un squelette à calculer (variables neuves : nouvelle consultation,
# nouvelle version des modifications suivies) est rendu sans docxtpl ni python-docx lui aussi, quand le modèle le
# permet (`_preparer`, `rendu_direct`) : seules les parties qui ont des balises passent par Jinja.
SQUELETTES = "squelettes"
SQUELETTES_MAX = 16_384  # cinq pièces par consultation : les squelettes d'un lot de 3 000 consultations (≈ 3,5 Kio chacun)
_SONDE = 999_999  # instances de numérotation d'essai : l'ajout par chaînes donne-t-il les octets de python-docx ?
# Variables du rendu d'essai de `_preparer` : caractères à échapper, adresse sur deux lignes, champ vide.
_ESSAI: dict[str, Any] = {**{nom: f"« {nom} » & <b>\"'</b>" for nom in VARIABLES_MODELE}, "objet_court": "",
                          "acheteur_adresse": ["1, rue d'Essai & fils", "<75000> Paris"], "logo": None}
_BALISES = ("{{", "{%", "{#")  # délimiteurs de Jinja (environnement par défaut : `_ENV_MODELE`)


@dataclass
class _Rapide:
    """De quoi rendre le squelette d'un modèle sans docxtpl ni python-docx (`_squelette_direct`)."""

    sources: dict[str, str]  # partie rendue par Jinja → son XML nettoyé par docxtpl (corps, en-têtes et pieds à balises)
    proprietes: str  # partie des propriétés du document (core.xml)
    essai: bytes  # core.xml du rendu d'essai
    vides: tuple[int, ...]  # ses éléments au texte vide (et non absent), rang dans l'ordre du document
    sections: int | None  # sections du rendu d'essai, si le modèle a des notes de bas de page (rendues par section)
    autres: dict[str, bytes | None]  # toutes les parties, comme dans un squelette : les autres y sont déjà


@dataclass
class _Gabarit:
    """Le modèle Word sans rendu : ses styles, son premier numéro de liste libre, ses parties sérialisées, sa partie du
    corps, celle de la numérotation si des instances w:num s'y ajoutent par chaînes et ce devant quoi elles s'ajoutent,
    et de quoi le rendre sans docxtpl (None : rendu par docxtpl)."""

    styles: Styles
    premier: int
    parties: dict[str, bytes]
    document: str
    numerotation: str | None
    fin: bytes
    rapide: _Rapide | None


@dataclass
class _Squelette:
    """Le modèle rendu avec des variables : ses parties sérialisées, compressées (zlib ; None : celle du gabarit,
    inchangée)."""

    gabarit: str  # clé du gabarit
    parties: dict[str, bytes | None]
    document: str  # partie du corps (emplacements du corps et du sommaire)
    numerotation: str | None  # partie de la numérotation, si des instances w:num s'y ajoutent par chaînes
    fin: bytes  # ce devant quoi s'ajoutent les instances w:num


_GABARITS: dict[str, _Gabarit] = {}  # quelques modèles par processus


def _cle_gabarit(modele: Path) -> str:
    return cache.empreinte(_code_du_rendu(), "gabarit", _fichier(modele))


def _gabarit(modele: Path, cle: str) -> _Gabarit:
    if cle not in _GABARITS:
        gabarit = cache.objet(SQUELETTES + "-gabarits", cle, lambda: _calculer_gabarit(modele), garder=16)
        if not isinstance(gabarit, _Gabarit):
            gabarit = _calculer_gabarit(modele)
        if len(_GABARITS) >= 8:
            _GABARITS.clear()
        _GABARITS[cle] = gabarit
    return _GABARITS[cle]


def _calculer_gabarit(modele: Path) -> _Gabarit:
    styles, premier, tpl = _ouvrir(modele)
    gabarit = _Gabarit(styles, premier, _parties(tpl), tpl.docx.part.partname.membername, None, b"", None)
    gabarit.rapide = _preparer(tpl, modele, gabarit)  # rend `tpl` ; la numérotation n'en change pas
    try:
        partie = tpl.docx.part.numbering_part
    except (KeyError, NotImplementedError):
        partie = None
    if partie is not None:
        # l'ajout par chaînes n'est retenu que s'il donne, sur des instances d'essai, les octets de python-docx
        nom = partie.partname.membername
        xml = gabarit.parties[nom]
        fin = b"<w:numIdMacAtCleanup" if partie.element.find(f"{_W}numIdMacAtCleanup") is not None else b"</w:numbering>"
        sonde = Numerotation(_SONDE, styles.abstract_numeros if styles.abstract_numeros is not None else 0)
        sonde.nouvelle(), sonde.nouvelle()
        _ajouter_numerotation(tpl, sonde)
        if xml.count(fin) == 1 and _inserer_numeros(xml, fin, sonde) == partie.blob:  # blob : ce qu'écrit python-docx
            gabarit.numerotation, gabarit.fin = nom, fin
    return gabarit


def _preparer(tpl: DocxTemplate, modele: Path, gabarit: _Gabarit) -> _Rapide | None:
    """De quoi rendre les squelettes du modèle sans docxtpl : le modèle `tpl` (pas encore rendu) est rendu par
    docxtpl avec des variables d'essai, en notant le XML nettoyé de chaque partie que Jinja rend ; les parties sans
    balises et celles que docxtpl ne rend pas sont les mêmes pour toutes les variables (sauf logo, rendu par docxtpl :
    voir `_squelette_direct`). None si le modèle demande ce que `rendu_direct` ne sait pas refaire (notes de bas de
    page à balises, propriétés du document à balises ou absentes, partie rendue deux fois), si le rendu d'essai
    échoue, ou si le rendu direct des variables d'essai n'a pas les octets de docxtpl."""
    try:
        tpl.sources = sources = []
        _rendre_modele(tpl, modele, _ESSAI, dict.fromkeys(EMPLACEMENTS))
        tpl.sources = None
        essai = _parties(tpl)
        entetes = {rel.target_part.partname.membername for rel in tpl.docx.part.rels.values()
                   if rel.reltype in (tpl.HEADER_URI, tpl.FOOTER_URI) and not rel.is_external}
        noms = [nom for nom, _ in sources if nom == gabarit.document or nom in entetes]  # les notes : par section
        paquet = tpl.docx.part.package
        proprietes = [p.partname.membername for p in paquet.iter_parts() if p.content_type == _TYPE_PROPRIETES]
        if len(set(noms)) != len(noms) or gabarit.document not in noms or len(proprietes) != 1 \
                or any(b in gabarit.parties.get(proprietes[0], b"{{") for b in (x.encode() for x in _BALISES)):
            return None
        rendues: dict[str, str] = {}
        notes = False
        for nom, source in sources:
            balises = any(b in source for b in _BALISES)
            if nom == gabarit.document or (nom in entetes and balises):
                rendues[nom] = re.sub(r"<w:p([ >])", r"\n<w:p\1", source)  # comme DocxTemplate.render_xml_part
            elif nom not in entetes:  # notes de bas de page
                if balises:
                    return None
                notes = True
        vides = tuple(i for i, e in enumerate(tpl.docx.core_properties._element.iter()) if e.text == "")
        rapide = _Rapide(rendues, proprietes[0], essai[proprietes[0]], vides,
                         len(tpl.docx.sections) if notes else None, {n: _forme(gabarit, n, o) for n, o in essai.items()})
        direct = _rendre_direct(gabarit, rapide, _ESSAI)
        if direct is None or any(essai[n] != o for n, o in direct.items()):
            return None
        return rapide
    except Exception:  # noqa: BLE001 - un modèle que le rendu direct ne sait pas rendre est rendu par docxtpl
        return None


_TYPE_PROPRIETES = "application/vnd.openxmlformats-package.core-properties+xml"


def _forme(gabarit: _Gabarit, nom: str, octets: bytes) -> bytes | None:
    """Une partie telle qu'un squelette la garde : None si c'est celle du gabarit, sinon compressée."""
    return None if gabarit.parties.get(nom) == octets else zlib.compress(octets, 1)


def _rendre_direct(gabarit: _Gabarit, rapide: _Rapide, variables: dict[str, Any]) -> dict[str, bytes] | None:
    """Les parties que le rendu du modèle avec `variables` change (corps, en-têtes et pieds à balises, propriétés du
    document), sérialisées sans docxtpl ni python-docx, avec leurs octets (`rendu_direct`) ; None si le modèle
    rendu demande docxtpl (logo, tableau à corriger…) ou si le rendu échoue (le rendu par docxtpl dira l'erreur)."""
    if variables.get("logo"):
        return None
    from . import rendu_direct

    contexte = _contexte(variables, dict.fromkeys(EMPLACEMENTS), rendu_direct.Listing)
    contexte["logo"] = ""
    try:
        parties: dict[str, bytes] = {}
        for nom, source in rapide.sources.items():
            xml = rendu_direct.apres_rendu(_ENV_MODELE.from_string(source).render(contexte))
            if nom != gabarit.document:
                parties[nom] = rendu_direct.partie(xml)
                continue
            document = rendu_direct.document(xml, gabarit.parties[nom], rapide.sections)
            if document is None:
                return None
            parties[nom] = document
        parties[rapide.proprietes] = rendu_direct.proprietes(rapide.essai, rapide.vides, _proprietes_document(variables))
    except Exception:  # noqa: BLE001 - le rendu par docxtpl lèvera la même erreur, ou dira la sienne
        return None
    return parties


def _squelette(modele: Path, variables: dict[str, Any]) -> _Squelette | None:
    """Le squelette du modèle rendu avec `variables`, gardé ou calculé ; None sans cache (`DCE_CACHE=0`) ou si un
    fichier est illisible (le rendu complet le dira)."""
    if cache.dossier(SQUELETTES) is None:
        return None
    try:
        logo = variables.get("logo")
        cle_gabarit = _cle_gabarit(modele)
        cle = cache.empreinte(cle_gabarit, "squelette", _fichier(Path(logo)) if logo else "",
                              json.dumps(variables, default=str, sort_keys=True, ensure_ascii=False))
    except (OSError, TypeError, ValueError):
        return None
    squelette = cache.objet(SQUELETTES, cle, lambda: _calculer_squelette(modele, variables, cle_gabarit),
                            garder=SQUELETTES_MAX)
    return squelette if isinstance(squelette, _Squelette) and squelette.gabarit == cle_gabarit else None


def _inserer_numeros(xml: bytes, fin: bytes, numerotation: Numerotation) -> bytes:
    """numbering.xml sérialisé, avec les instances w:num de `numerotation` ajoutées devant `fin` (comme
    `_ajouter_numerotation` avant la sérialisation : l'espace de noms w est déclaré à la racine)."""
    ajout = "".join(x.replace(f' xmlns:w="{W_NS}"', "", 1) for x in numerotation.xml()).encode("utf-8")
    return xml.replace(fin, ajout + fin, 1)


def _calculer_squelette(modele: Path, variables: dict[str, Any], cle_gabarit: str) -> _Squelette:
    gabarit = _gabarit(modele, cle_gabarit)
    return _squelette_direct(gabarit, cle_gabarit, variables) or _squelette_docxtpl(modele, gabarit, cle_gabarit,
                                                                                    variables)


def _squelette_direct(gabarit: _Gabarit, cle_gabarit: str, variables: dict[str, Any]) -> _Squelette | None:
    """Le squelette rendu sans docxtpl ni python-docx (`_rendre_direct`) ; None si le modèle ou les variables le
    demandent."""
    rapide = gabarit.rapide
    parties = _rendre_direct(gabarit, rapide, variables) if rapide is not None else None
    if parties is None:
        return None
    return _Squelette(cle_gabarit, {n: _forme(gabarit, n, parties[n]) if n in parties else o
                                    for n, o in rapide.autres.items()}, gabarit.document, gabarit.numerotation,
                      gabarit.fin)


def _squelette_docxtpl(modele: Path, gabarit: _Gabarit, cle_gabarit: str, variables: dict[str, Any]) -> _Squelette:
    """Le squelette rendu par docxtpl et sérialisé par python-docx."""
    _, _, tpl = _ouvrir(modele)
    _rendre_modele(tpl, modele, variables, dict.fromkeys(EMPLACEMENTS))
    return _Squelette(cle_gabarit, {n: _forme(gabarit, n, o) for n, o in _parties(tpl).items()}, gabarit.document,
                      gabarit.numerotation, gabarit.fin)


def _assembler(squelette: _Squelette, modele: Path, blocs: list[Bloc], titres: list[Titre]) -> bytes | None:
    """Le document assemblé sur son squelette ; None si le corps demande ce que le squelette ne sait pas ajouter
    (instances de numérotation dans un modèle où l'ajout par chaînes ne donne pas les octets de python-docx)."""
    gabarit = _gabarit(modele, squelette.gabarit)
    if set(squelette.parties) - set(gabarit.parties) - {n for n, o in squelette.parties.items() if o is not None}:
        return None
    numerotation = Numerotation(gabarit.premier, gabarit.styles.abstract_numeros)
    ecrivain = Ecrivain(replace(gabarit.styles), numerotation, None)
    # chaque fragment élément par élément (paragraphe ou tableau), encodé : leurs longueurs disent où chacun se trouve
    elements = [[e.encode("utf-8") for e in ecrivain.elements(blocs)],
                [e.encode("utf-8") for e in ecrivain.elements_sommaire(titres)]]
    if numerotation.nouvelles and squelette.numerotation is None:
        return None
    parties = {n: gabarit.parties[n] if o is None else zlib.decompress(o) for n, o in squelette.parties.items()}
    if numerotation.nouvelles:
        nom = squelette.numerotation
        parties[nom] = _inserer_numeros(parties[nom], squelette.fin, numerotation)
    avant = parties[squelette.document]
    parties[squelette.document] = _inserer(avant, {n: b"".join(e) for n, e in zip(EMPLACEMENTS, elements)}, modele)
    octets = zip_reproductible(parties)
    if squelette.document == CORPS:
        if len(_CORPS_ASSEMBLES) >= CORPS_ASSEMBLES_MAX:
            del _CORPS_ASSEMBLES[next(iter(_CORPS_ASSEMBLES))]
        longueurs = {_emplacement(n).encode("utf-8"): array(_ENTIERS, map(len, e))
                     for n, e in zip(EMPLACEMENTS, elements)}
        _CORPS_ASSEMBLES[id(octets)] = (octets, parties[CORPS], Assemblage(avant, longueurs))
    return octets


# Corps (word/document.xml) des derniers documents assemblés, sous l'identité de leurs octets (gardés avec), et ce
# dont il est fait (`Assemblage`) : la régénération découpe aussitôt la nouvelle pièce en articles
# (lot/rapport_changements.comparer) sans la décompresser ni chercher où commence chacun de ses éléments.
CORPS = "word/document.xml"
CORPS_ASSEMBLES_MAX = 8
_ENTIERS = "I"


class Assemblage(NamedTuple):
    """Comment un corps a été assemblé : `squelette`, word/document.xml du modèle rendu, avant l'insertion des
    fragments ; `longueurs`, pour chaque paragraphe-emplacement (ses octets), celles des éléments du corps (paragraphes,
    tableaux), en octets, qui l'ont remplacé, dans l'ordre (un emplacement absent du modèle, sommaire permis, n'a rien
    remplacé)."""

    squelette: bytes
    longueurs: dict[bytes, array]


_CORPS_ASSEMBLES: dict[int, tuple[bytes, bytes, Assemblage]] = {}


def corps_assemble(octets: bytes) -> bytes | None:
    """word/document.xml du document `octets` (cet objet même) si `produire` vient de l'assembler, sinon None."""
    deja = _CORPS_ASSEMBLES.get(id(octets))
    return deja[1] if deja is not None and deja[0] is octets else None


def assemblage(octets: bytes) -> Assemblage | None:
    """Comment `produire` vient d'assembler le corps du document `octets` (cet objet même) ; None sinon."""
    deja = _CORPS_ASSEMBLES.get(id(octets))
    return deja[2] if deja is not None and deja[0] is octets else None


def verifier_modeles(racine: Path) -> list[Probleme]:
    """Défauts des modèles Word du catalogue (modeles/*.docx) et de ceux que désignent les profils d'acheteurs :
    modèle illisible, variable que dce ne fournit pas, modèle impossible à rendre ou sans emplacement du corps."""
    problemes: list[Probleme] = []
    fichiers = sorted((racine / "modeles").glob("*.docx"))
    for profil in sorted((racine / "acheteurs").glob("*/acheteur.yaml")):
        try:
            doc = yaml_lignes.lire(profil)
        except ErreurDonnees as exc:
            problemes.extend(exc.problemes)
            continue
        for nom in ((doc.donnees or {}).get("modeles") or {}).values():
            fichiers.append(profil.parent / str(nom))
    from docxtpl import DocxTemplate

    connues = set(VARIABLES_MODELE) | set(EMPLACEMENTS)
    for fichier in fichiers:
        try:
            attendues = DocxTemplate(str(fichier)).get_undeclared_template_variables()
        except Exception as exc:  # noqa: BLE001 - un modèle illisible est un défaut à signaler
            problemes.append(Probleme(f"modèle Word illisible ({exc})", fichier))
            continue
        for nom in sorted(set(attendues) - connues):
            problemes.append(Probleme(f"le modèle attend la variable « {nom} », que dce ne fournit pas "
                                      f"(disponibles : {', '.join(sorted(connues))})", fichier))
        if not set(attendues) - connues:
            problemes.extend(_rendu_modele(fichier))
    return problemes


def _rendu_modele(fichier: Path) -> list[Probleme]:
    """Un document vide rendu avec le modèle : le corps (et le sommaire) trouvent leur place."""
    essai: dict[str, Any] = {nom: "" for nom in VARIABLES_MODELE}
    essai.update(acheteur_adresse=[], logo=None)
    try:
        produire(fichier, essai, [], [])
    except ErreurDonnees as exc:
        return list(exc.problemes)
    except Exception as exc:  # noqa: BLE001 - un modèle que docxtpl ne sait pas rendre est un défaut à signaler
        return [Probleme(f"modèle Word impossible à rendre ({type(exc).__name__} : {exc})", fichier)]
    return []
