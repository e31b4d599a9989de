"""Texte de chaque article lu dans un document Word produit : la matière des comparaisons de versions.

`textes_articles` lit tout le document. `Articles` lit le même texte à la demande, article par article : le corps
d'un document écrit par dce est découpé en paragraphes et tableaux sans analyse XML (octets), seuls les titres
et les articles demandés sont analysés par lxml ; deux articles dont les octets sont identiques ont le même texte
sans être lus (`Articles.empreinte`). Tout ce qui sort de la forme simple qu'écrit dce (espace de noms déclaré
ailleurs qu'à la racine, commentaires, élément englobant au niveau du corps, tableau imbriqué…) est lu en entier
par `textes_articles`.
"""

from __future__ import annotations

import re
import zipfile
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import NamedTuple

from lxml import etree

from ..rendu.ooxml import W_NS
from ..rendu.ooxml import Styles

_W = f"{{{W_NS}}}"
_TITRE = re.compile(r"^(?:Article )?(\d+(?:\.\d+)?)\s*–\s*(.*)$", re.DOTALL)
_P, _TBL = f"{_W}p", f"{_W}tbl"


class Ligne(NamedTuple):
    """Un paragraphe tel qu'affiché, avec son style (sous-titre, puce…) ; une ligne de tableau : « a | b »."""

    texte: str
    style: str | None = None


@dataclass
class TexteClause:
    """Titre (sans numéro) et paragraphes d'un article ou sous-article, tels qu'affichés."""

    titre: str
    paragraphes: list[Ligne]


def _texte(element: etree._Element) -> str:
    morceaux = []
    for e in element.iter(f"{_W}t", f"{_W}br", f"{_W}tab"):
        if e.tag == f"{_W}t":
            morceaux.append(e.text or "")
        else:
            morceaux.append("\n" if e.tag == f"{_W}br" else "\t")
    return "".join(morceaux)


def _titres() -> set[str]:
    styles = Styles()
    return {styles.titres[1], styles.titres[2]}


def _parcourir(elements: Iterable[etree._Element], titres: set[str], articles: dict[str, TexteClause],
               courant: TexteClause | None = None) -> None:
    """Range les paragraphes et tableaux `elements` (enfants du corps, dans l'ordre) dans leurs articles."""
    for element in elements:
        if element.tag == _P:
            style = element.find(f"{_W}pPr/{_W}pStyle")
            texte = _texte(element)
            nom_style = style.get(f"{_W}val") if style is not None else None
            if nom_style in titres and (m := _TITRE.match(texte)):
                courant = articles.setdefault(m.group(1), TexteClause(m.group(2), []))
            elif courant is not None and texte.strip():
                courant.paragraphes.append(Ligne(texte, nom_style))
        elif element.tag == _TBL and courant is not None:
            for ligne in element.iter(f"{_W}tr"):
                courant.paragraphes.append(Ligne(" | ".join(_texte(c) for c in ligne.findall(f"{_W}tc"))))


def _corps(xml: bytes) -> etree._Element | None:
    return etree.fromstring(xml).find(f"{_W}body")


def textes_articles(docx: Path | bytes) -> dict[str, TexteClause]:
    """Numéro d'article (« 6 ») ou de sous-article (« 6.2 ») → son titre et ses paragraphes.

    Une ligne de tableau devient un paragraphe « cellule | cellule ». `docx` : chemin ou octets du document.
    """
    with zipfile.ZipFile(BytesIO(docx) if isinstance(docx, bytes) else docx) as z:
        corps = _corps(z.read("word/document.xml"))
    articles: dict[str, TexteClause] = {}
    _parcourir(corps if corps is not None else [], _titres(), articles)
    return articles


# -- lecture à la demande --------------------------------------------------------------------------------

# Avec toutes les déclarations d'espaces de noms à la racine, sans espace de noms par défaut et WordprocessingML
# sous le seul préfixe « w », un paragraphe ou un tableau s'écrit forcément « <w:p » ou « <w:tbl » suivi d'un blanc,
# de « / » ou de « > » ; dans un document bien formé, « < » ne figure ni dans un texte ni dans une valeur
# d'attribut, et hors commentaire, section CDATA ou instruction de traitement (refusés : « <! », « <? ») chaque
# « < » ouvre une balise. `_JETON` trouve les balises des paragraphes, des tableaux et du corps, et ces refus ; la
# profondeur des paragraphes et tableaux donne les enfants directs du corps.
_ATTRIBUTS = rb"""(?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*+\s*"""
_JETON = re.compile(rb"<(?:w:(?:(?P<ouvre>p|tbl)" + _ATTRIBUTS + rb"(?P<vide>/?)>|(?:p|tbl|body)[\s/>])"
                    rb"|/w:(?:(?P<ferme>p|tbl)\s*>|(?P<fin>body)\s*>|(?:p|tbl|body)[\s/>])|[!?])")
_CORPS = re.compile(rb"<w:body\s*>")
_ENCODAGE = re.compile(rb"""encoding\s*=\s*["']([^"']*)["']""")
_BLANCS = b" \t\r\n"
_FERMETURE = b"</w:body></w:document>"


def _decouper(xml: bytes) -> tuple[bytes, list[int], list[bytes]] | None:
    """Début du document jusqu'au corps compris ; position et octets de chaque paragraphe ou tableau enfant direct du
    corps ; None si le document sort de la forme simple (il est alors lu en entier)."""
    ouverture = _CORPS.search(xml)
    if ouverture is None:
        return None
    contexte = xml[:ouverture.end()]
    debut = 3 if contexte.startswith(b"\xef\xbb\xbf") else 0
    declaration = contexte.startswith(b"<?xml", debut)
    if declaration:
        encodage = _ENCODAGE.search(contexte, debut, contexte.find(b"?>", debut))
        if encodage and encodage.group(1).lower() not in (b"utf-8", b"utf8"):
            return None
    if b"<!" in contexte or contexte.count(b"<?") != declaration or b"<w:body" in contexte[:ouverture.start()]:
        return None  # DOCTYPE (entités), commentaire, instruction de traitement, corps imbriqué
    if xml.count(b"xmlns") != contexte.count(b"xmlns"):  # une déclaration dans le corps ou après
        return None
    try:
        espaces = etree.fromstring(contexte + _FERMETURE).nsmap
    except etree.XMLSyntaxError:
        return None
    if None in espaces or espaces.get("w") != W_NS or list(espaces.values()).count(W_NS) != 1:
        return None
    positions: list[int] = []
    elements: list[bytes] = []
    profondeur, pos, element = 0, ouverture.end(), 0
    jetons = _JETON.finditer(xml, pos)
    for m in jetons:
        genre = m.lastgroup  # « vide » pour une balise ouvrante de paragraphe ou de tableau
        if genre == "vide":
            if profondeur == 0:
                if m.start() != pos and xml[pos:m.start()].strip(_BLANCS):
                    return None  # autre élément au niveau du corps (contrôle de contenu…)
                element = m.start()
            if not m.group("vide"):
                profondeur += 1
                continue
        elif genre == "ferme":
            profondeur -= 1
            if profondeur < 0:
                return None
        elif genre == "fin" and profondeur == 0:
            break
        else:  # « <! », « <? », balise inattendue
            return None
        if profondeur == 0:
            positions.append(element)
            elements.append(xml[element:m.end()])
            pos = m.end()
    else:
        return None  # corps jamais fermé
    if next(jetons, None) is not None:  # après le corps : ni paragraphe, ni tableau, ni autre corps
        return None
    return contexte, positions, elements


class Articles:
    """Les articles d'un document, lus à la demande ; `texte(numero)` est exactement `textes_articles(doc)[numero]`
    (ou un article vide)."""

    def __init__(self, docx: bytes | None, rapide: bool = True) -> None:
        """`docx` : octets du document (None : document absent). `rapide` : découper le corps sans l'analyser ; à
        réserver aux documents écrits par dce (un document mal formé ailleurs que dans les articles lus ne serait
        pas refusé)."""
        self._complets: dict[str, TexteClause] | None = None
        self._xml = b""
        self._contexte = b""
        self._morceaux: dict[str, tuple[str, list[bytes]]] = {}
        self._lus: dict[str, TexteClause] = {}
        self._titres = _titres()
        if docx is None:
            self._complets = {}
            return
        with zipfile.ZipFile(BytesIO(docx)) as z:
            self._xml = z.read("word/document.xml")
        decoupe = _decouper(self._xml) if rapide else None
        if decoupe is None or not self._ranger(*decoupe):
            self._tout_lire()

    def _tout_lire(self) -> None:
        corps = _corps(self._xml)
        self._complets = {}
        _parcourir(corps if corps is not None else [], self._titres, self._complets)
        self._xml = self._contexte = b""
        self._morceaux, self._lus = {}, {}

    def _analyser(self, morceaux: list[bytes]) -> etree._Element | None:
        """Les paragraphes et tableaux `morceaux`, analysés dans le contexte du document (déclaration XML, racine) ;
        None s'ils ne s'y analysent pas en autant d'éléments."""
        try:
            corps = _corps(self._contexte + b"".join(morceaux) + _FERMETURE)
        except etree.XMLSyntaxError:
            return None
        return corps if corps is not None and len(corps) == len(morceaux) else None

    def _ranger(self, contexte: bytes, positions: list[int], elements: list[bytes]) -> bool:
        """Range les éléments du corps dans leurs articles, comme `_parcourir` ; seuls les paragraphes qui peuvent être
        des titres (nom d'un style de titre ou référence de caractère dans leurs octets) sont analysés."""
        self._contexte = contexte
        marques: set[int] = set()
        for marque in [t.encode("utf-8") for t in self._titres] + [b"&#"]:
            i = self._xml.find(marque, len(contexte))
            while i >= 0:
                marques.add(bisect_right(positions, i) - 1)
                i = self._xml.find(marque, i + 1)
        candidats = sorted(i for i in marques if i >= 0)
        analyses = self._analyser([elements[i] for i in candidats]) if candidats else []
        if analyses is None:
            return False
        titres: dict[int, tuple[str, str]] = {}
        for i, element in zip(candidats, analyses):
            if element.tag != _P:
                continue
            style = element.find(f"{_W}pPr/{_W}pStyle")
            nom_style = style.get(f"{_W}val") if style is not None else None
            if nom_style in self._titres and (m := _TITRE.match(_texte(element))):
                titres[i] = (m.group(1), m.group(2))
        courant: tuple[str, list[bytes]] | None = None
        for i, octets in enumerate(elements):
            if i in titres:
                numero, titre = titres[i]
                courant = self._morceaux.setdefault(numero, (titre, []))
            elif courant is not None:
                courant[1].append(octets)
        return True

    def empreinte(self, numero: str) -> tuple[bytes, str, tuple[bytes, ...]] | None:
        """Ce dont dépend le texte de l'article : deux empreintes égales donnent le même `texte`. None : document lu
        en entier, comparer les textes."""
        if self._complets is not None:
            return None
        titre, morceaux = self._morceaux.get(numero, ("", []))
        return self._contexte, titre, tuple(morceaux)

    def texte(self, numero: str) -> TexteClause:
        if self._complets is None and numero not in self._lus:
            titre, morceaux = self._morceaux.get(numero, ("", []))
            clause = TexteClause(titre, [])
            if morceaux:
                corps = self._analyser(morceaux)
                if corps is None:  # mal formé : la lecture entière le dit, comme textes_articles
                    self._tout_lire()
                    return self.texte(numero)
                _parcourir(corps, self._titres, {}, clause)
            self._lus[numero] = clause
        if self._complets is not None:
            return self._complets.get(numero, TexteClause("", []))
        return self._lus[numero]
