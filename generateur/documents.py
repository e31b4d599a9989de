"""Modèle Word de l'acheteur + blocs → fichier .docx (rendu docxtpl, écriture atomique et reproductible)."""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.opc.pkgwriter import PackageWriter
from docx.shared import Mm
from docxtpl import DocxTemplate, InlineImage, Listing
from jinja2 import Environment, Template
from lxml import etree
from markupsafe import Markup

from .blocs import Bloc, Image, Titre
from .erreurs import ErreurDonnees, Probleme
from .ooxml import W_NS, Ecrivain, Numerotation, Styles, texte_permis

_W = f"{{{W_NS}}}"
DATE_ZIP = (2020, 1, 1, 0, 0, 0)
# Corps et sommaire, écrits par ooxml, sont insérés après le rendu docxtpl : ils n'ont à passer ni par
# Jinja ni par les expressions régulières de docxtpl (le plus gros du temps de rendu d'un long document).
_EMPLACEMENT = "\u2063dce-emplacement:"


class _EnvironnementModele(Environment):
    """Environnement Jinja de docxtpl qui compile une seule fois chaque partie d'un modèle Word.

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


class _Modele(DocxTemplate):
    """DocxTemplate qui ne nettoie qu'une fois (patch_xml, des expressions régulières) chaque partie d'un modèle."""

    def patch_xml(self, src_xml: str) -> str:
        if src_xml not in _PARTIES_NETTOYEES:
            if len(_PARTIES_NETTOYEES) >= 256:
                _PARTIES_NETTOYEES.clear()
            _PARTIES_NETTOYEES[src_xml] = super().patch_xml(src_xml)
        return _PARTIES_NETTOYEES[src_xml]


def _styles(modele: DocxTemplate) -> tuple[Styles, int]:
    """Lit dans le modèle la numérotation liée aux styles de liste, et le premier numId libre."""
    styles = Styles()
    document = modele.get_docx()
    numerotation = document.part.numbering_part.element
    abstraits = {}
    numeros = []
    for num in numerotation.findall(f"{_W}num"):
        ident = int(num.get(f"{_W}numId"))
        numeros.append(ident)
        abstraits[ident] = int(num.find(f"{_W}abstractNumId").get(f"{_W}val"))
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


def _ajouter_numerotation(modele: DocxTemplate, numerotation: Numerotation) -> None:
    racine = modele.docx.part.numbering_part.element  # get_docx() rechargerait le modèle vierge
    fin = racine.find(f"{_W}numIdMacAtCleanup")
    for xml in numerotation.xml():
        element = etree.fromstring(xml)
        if fin is not None:
            fin.addprevious(element)
        else:
            racine.append(element)


def zip_reproductible(parties: dict[str, bytes]) -> bytes:
    """Même contenu → mêmes octets : dates fixes et ordre stable des parties d'un paquet Office."""
    sortie = io.BytesIO()
    with zipfile.ZipFile(sortie, "w", zipfile.ZIP_DEFLATED) as z:
        for nom in sorted(parties, key=lambda n: (n != "[Content_Types].xml", n)):
            info = zipfile.ZipInfo(nom, DATE_ZIP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, parties[nom])
    return sortie.getvalue()


def rezipper(contenu: bytes) -> bytes:
    """Fichier Office déjà écrit (openpyxl…) → le même, reproductible."""
    entree = zipfile.ZipFile(io.BytesIO(contenu))
    return zip_reproductible({nom: entree.read(nom) for nom in entree.namelist()})


class _Collecteur:
    """Reçoit les parties du paquet python-docx au lieu de les compresser : une seule compression au total."""

    def __init__(self) -> None:
        self.parties: dict[str, bytes] = {}

    def write(self, uri: Any, blob: bytes) -> None:
        self.parties[uri.membername] = blob

    def close(self) -> None:
        pass


def _paquet(tpl: DocxTemplate) -> bytes:
    tpl.pre_processing()
    paquet = tpl.docx.part.package
    collecteur = _Collecteur()
    PackageWriter._write_content_types_stream(collecteur, paquet.parts)
    PackageWriter._write_pkg_rels(collecteur, paquet.rels)
    PackageWriter._write_parts(collecteur, paquet.parts)
    return zip_reproductible(collecteur.parties)


def _image(tpl: DocxTemplate, image: Image) -> str:
    """Ajoute l'image au paquet Word et rend son élément wp:inline (largeur fixée, hauteur proportionnelle)."""
    inline = tpl.docx.part.new_pic_inline(io.BytesIO(image.donnees), Mm(image.largeur_mm), None)
    inline.docPr.set("descr", texte_permis(image.description))
    return inline.xml


def _inserer(tpl: DocxTemplate, fragments: dict[str, str]) -> None:
    """Remplace chaque paragraphe-emplacement par son fragment WordprocessingML, après le rendu."""
    corps = tpl.docx.element.body
    for p in list(corps.iter(f"{_W}p")):
        texte = "".join(t.text or "" for t in p.iter(f"{_W}t"))
        nom = texte.removeprefix(_EMPLACEMENT)
        if nom != texte and nom in fragments:
            for element in parse_xml(f'<w:body {nsdecls("w", "r", "wp", "a", "pic")}>{fragments[nom]}</w:body>'):
                p.addprevious(element)
            p.getparent().remove(p)
    # Comme docxtpl au rendu : identifiants des images (wp:docPr) uniques, dans l'ordre du document.
    for i, element in enumerate(corps.iter(qn("wp:docPr")), start=1001):
        element.set("id", str(i))


def produire(modele: Path, variables: dict[str, Any], blocs: list[Bloc], titres: list[Titre]) -> bytes:
    """Rend un document complet en mémoire."""
    try:
        tpl = _Modele(str(modele))
        styles, premier = _styles(tpl)
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise ErreurDonnees(Probleme(f"modèle Word illisible ({exc})", modele)) from None
    numerotation = Numerotation(premier, styles.abstract_numeros)
    ecrivain = Ecrivain(styles, numerotation, lambda image: _image(tpl, image))
    contexte = {cle: texte_permis(v) if isinstance(v, str) else v for cle, v in variables.items()}
    fragments = {"corps": ecrivain.blocs(blocs), "sommaire": ecrivain.sommaire(titres)}
    for nom in fragments:
        contexte[nom] = Markup(f"<w:p><w:r><w:t>{_EMPLACEMENT}{nom}</w:t></w:r></w:p>")
    if isinstance(contexte.get("acheteur_adresse"), list):
        contexte["acheteur_adresse"] = Listing(texte_permis("\n".join(contexte["acheteur_adresse"])))
    logo = contexte.get("logo")
    contexte["logo"] = InlineImage(tpl, str(logo), height=Mm(22)) if logo else ""
    tpl.render(contexte, _ENV_MODELE, autoescape=True)
    _inserer(tpl, fragments)
    proprietes = tpl.docx.core_properties  # titre du PDF et de la fenêtre Word : la pièce, pas le modèle
    proprietes.title = texte_permis(f"{variables.get('titre_document', '')} – {variables.get('reference', '')}")[:255]
    proprietes.subject = texte_permis(str(variables.get("objet", "")))[:255]
    proprietes.author = texte_permis(str(variables.get("acheteur_nom", "")))[:255]
    _ajouter_numerotation(tpl, numerotation)
    return _paquet(tpl)


def ecrire_atomique(chemin: Path, contenu: bytes) -> None:
    """Écrit un fichier d'un coup : un arrêt brutal laisse l'ancien fichier ou le nouveau, jamais un mélange."""
    chemin.parent.mkdir(parents=True, exist_ok=True)
    fd, temporaire = tempfile.mkstemp(prefix=f".{chemin.name}.", suffix=".tmp", dir=chemin.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(contenu)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporaire, chemin)
    except BaseException:
        try:
            os.unlink(temporaire)
        except FileNotFoundError:
            pass
        raise
