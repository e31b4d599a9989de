"""Texte de chaque article lu dans un document Word produit : la matière des comparaisons de versions.

`textes_articles` lit tout le document. `Articles` lit le même texte à la demande, article par article : le corps
d'un document écrit par dce est découpé en paragraphes et tableaux sur ses octets, sans analyse XML ; seuls les
titres et les articles demandés sont analysés par lxml, avec le même code ; deux articles dont les octets sont
identiques ont le même texte sans être lus (`Articles.empreinte`), et une version voisine du même document reprend
le découpage de l'autre là où leurs octets sont les mêmes. Un document qu'on vient d'assembler n'est pas découpé :
la longueur de chacun de ses éléments est connue (`decoupage_assemble`), ses titres seuls sont cherchés. Tout ce qui
sort de la forme simple qu'écrit dce (déclaration d'espace de noms ailleurs qu'à la racine, DOCTYPE, commentaire,
élément qui englobe des paragraphes au niveau du corps, autre encodage qu'UTF-8…) est lu en entier, comme par
`textes_articles`.
"""

from __future__ import annotations

import re
import zipfile
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from io import BytesIO
from itertools import repeat
from pathlib import Path
from typing import NamedTuple

from lxml import etree

from ..donnees import cache
from ..rendu import ooxml
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


def _contexte(xml: bytes) -> bytes | None:
    """Début du document jusqu'à la balise ouvrante du corps comprise, si le document a la forme simple : encodé en
    UTF-8, sans DOCTYPE, commentaire ni instruction de traitement avant le corps, toutes les déclarations d'espaces de
    noms à la racine, WordprocessingML sous le seul préfixe « w » et sans espace de noms par défaut ; sinon None."""
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
    try:
        espaces = etree.fromstring(contexte + _FERMETURE).nsmap
    except etree.XMLSyntaxError:
        return None
    if None in espaces or espaces.get("w") != W_NS or list(espaces.values()).count(W_NS) != 1:
        return None
    return contexte


def _elements(xml: bytes, debut: int, fin: int | None = None) -> tuple[list[int], list[bytes]] | None:
    """Position et octets de chaque paragraphe ou tableau enfant direct du corps, de `debut` (limite entre deux
    éléments) à la fin du corps, ou à `fin` (début d'un élément) ; None hors de la forme simple."""
    if xml.count(b"xmlns", debut, len(xml) if fin is None else fin):  # une déclaration dans le corps ou après
        return None
    positions: list[int] = []
    elements: list[bytes] = []
    profondeur, pos, element = 0, debut, 0
    jetons = _JETON.finditer(xml, debut) if fin is None else _JETON.finditer(xml, debut, fin)
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
        elif genre == "fin" and profondeur == 0 and fin is None:
            break
        else:  # « <! », « <? », balise inattendue
            return None
        if profondeur == 0:
            positions.append(element)
            elements.append(xml[element:m.end()])
            pos = m.end()
    else:
        if fin is None or profondeur or xml[pos:fin].strip(_BLANCS):
            return None  # corps jamais fermé, ou élément coupé à `fin`
        return positions, elements
    if next(jetons, None) is not None:  # après le corps : ni paragraphe, ni tableau, ni autre corps
        return None
    return positions, elements


_DEBUT_ELEMENT = re.compile(rb"<w:(?:p|tbl)[\s/>]")


def _elements_entiers(elements: list[bytes]) -> bool:
    """Vrai si chacun des `elements` commence comme un paragraphe ou un tableau et finit une balise (vérification
    rapide des longueurs d'un assemblage, où ooxml.Ecrivain écrit chaque élément entier)."""
    return all(map(_DEBUT_ELEMENT.match, elements)) and all(map(bytes.endswith, elements, repeat(b">")))


def _prefixe_commun(a: bytes, b: bytes) -> int:
    n = min(len(a), len(b))
    bas, haut = 0, n + 1  # a[:bas] == b[:bas] ; a[:haut] != b[:haut] (haut = n + 1 : sans objet)
    while haut - bas > 1:
        milieu = (bas + haut) // 2
        if a[bas:milieu] == b[bas:milieu]:
            bas = milieu
        else:
            haut = milieu
    return bas


def _suffixe_commun(a: bytes, b: bytes, n: int) -> int:
    """Longueur du plus long suffixe commun, au plus `n`."""
    la, lb = len(a), len(b)
    bas, haut = 0, n + 1
    while haut - bas > 1:
        milieu = (bas + haut) // 2
        if a[la - milieu:la - bas] == b[lb - milieu:lb - bas]:
            bas = milieu
        else:
            haut = milieu
    return bas


# Découpage d'un document (voir `Articles.decoupage`) : longueur du contexte, position et longueur de chaque élément
# du corps (en octets, tableaux d'entiers non signés `_ENTIERS`), titres d'articles reconnus (rang de l'élément,
# numéro, titre).
Decoupage = tuple[int, bytes, bytes, tuple[tuple[int, tuple[str, str]], ...]]
_ENTIERS = "I"


@lru_cache(maxsize=1)
def _code_du_decoupage() -> bytes:
    """Ce dont dépend le découpage d'un document, hors ses octets : ce module, les styles des titres (ooxml) et lxml
    (qui analyse les titres)."""
    return cache.sources(__file__, ooxml.__file__) + repr((etree.LXML_VERSION, array(_ENTIERS).itemsize)).encode()


def decoupage_assemble(xml: bytes, squelette: bytes, longueurs: dict[bytes, array]) -> Decoupage | None:
    """Le découpage (titres non lus : `Articles(..., titres_a_lire=True)`) du corps `xml` qu'on vient d'assembler
    (`rendu.documents.assemblage`) : `squelette`, le même corps avant l'insertion des fragments, est découpé (quelques
    éléments : couverture, emplacements) ; chaque paragraphe-emplacement (clé de `longueurs`) y est remplacé par des
    éléments de ces longueurs, mis bout à bout. None si l'assemblage ne se lit pas ainsi (squelette hors de la forme
    simple, emplacement ailleurs qu'au niveau du corps, longueur totale différente) : le document est alors découpé."""
    contexte = _contexte(squelette)
    decoupe = _elements(squelette, len(contexte)) if contexte is not None and xml.startswith(contexte) else None
    if contexte is None or decoupe is None:
        return None
    positions, tailles = array(_ENTIERS), array(_ENTIERS)
    decalage, remplaces = 0, 0
    try:
        for position, element in zip(*decoupe):
            fragment = longueurs.get(element)
            if fragment is None:
                positions.append(position + decalage)
                tailles.append(len(element))
                continue
            remplaces += 1
            debut = position + decalage
            for taille in fragment:
                positions.append(debut)
                tailles.append(taille)
                debut += taille
            decalage = debut - position - len(element)
    except OverflowError:  # document de plusieurs gigaoctets
        return None
    if remplaces != sum(squelette.count(e) for e in longueurs) or len(squelette) + decalage != len(xml):
        return None
    return len(contexte), positions.tobytes(), tailles.tobytes(), ()


def cle_decoupage(sha256: str) -> str:
    """Clé, dans le cache, du découpage du document Word dont les octets ont cette empreinte (SHA-256 hexadécimal)."""
    return cache.empreinte(_code_du_decoupage(), sha256)


class Articles:
    """Les articles d'un document, lus à la demande ; `texte(numero)` est exactement `textes_articles(doc)[numero]`
    (ou un article vide)."""

    def __init__(self, docx: bytes | None, rapide: bool = True, voisin: Articles | None = None,
                 xml: bytes | None = None, decoupage: Decoupage | None = None, titres_a_lire: bool = False) -> None:
        """`docx` : octets du document (None : document absent). `rapide` : découper le corps sans l'analyser ; à
        réserver aux documents écrits par dce (un document mal formé ailleurs que dans les articles lus ne serait
        pas refusé). `voisin` : une autre version du même document, déjà découpée ; ce qu'elles ont en commun au
        début et à la fin (octets identiques) n'est pas découpé de nouveau. `xml` : la partie word/document.xml de
        `docx`, si elle est déjà connue (document qui vient d'être assemblé) : le document n'est pas décompressé.
        `decoupage` : celui que `decoupage()` a donné pour ces mêmes octets (gardé dans le cache par la comparaison
        précédente) : repris tel quel, sans rien découper ni analyser ; avec `titres_a_lire`, un découpage sans ses
        titres (`decoupage_assemble`) : ils y sont cherchés comme dans un document découpé, chaque élément vérifié
        (un paragraphe ou un tableau entier)."""
        self._complets: dict[str, TexteClause] | None = None
        self._xml = self._contexte = b""
        self._positions: list[int] = []
        self._elements: list[bytes] = []
        self._titres_lus: dict[int, tuple[str, str]] = {}  # rang d'un élément du corps → numéro et titre d'article
        self._morceaux: dict[str, tuple[str, list[bytes]]] = {}
        self._lus: dict[str, TexteClause] = {}
        self._titres = _titres()
        if docx is None:
            self._complets = {}
            return
        if xml is None:
            with zipfile.ZipFile(BytesIO(docx)) as z:
                xml = z.read("word/document.xml")
        self._xml = xml
        if rapide and decoupage is not None and self._reprendre(decoupage, titres_a_lire):
            return
        if not (rapide and (self._depuis(voisin) if voisin is not None and voisin._contexte else self._decouper())):
            self._tout_lire()

    def decoupage(self) -> Decoupage | None:
        """Le découpage de ce document, à garder pour le reprendre sans le refaire (`Articles(..., decoupage=...)`) ;
        None pour un document lu en entier."""
        if self._complets is not None:
            return None
        try:
            return (len(self._contexte), array(_ENTIERS, self._positions).tobytes(),
                    array(_ENTIERS, map(len, self._elements)).tobytes(), tuple(sorted(self._titres_lus.items())))
        except OverflowError:  # document de plusieurs gigaoctets
            return None

    def _reprendre(self, decoupage: Decoupage, titres_a_lire: bool = False) -> bool:
        """Reprend un découpage gardé de ces octets (`decoupage`) ; faux s'il ne leur correspond pas (entrée de cache
        abîmée) : le document est alors découpé. `titres_a_lire` : voir `__init__`."""
        try:
            taille, octets_positions, octets_longueurs, titres = decoupage
            positions, longueurs = array(_ENTIERS), array(_ENTIERS)
            positions.frombytes(octets_positions)
            longueurs.frombytes(octets_longueurs)
            titres_lus = {int(k): (str(numero), str(titre)) for k, (numero, titre) in titres}
        except (TypeError, ValueError):
            return False
        xml = self._xml
        if (len(positions) != len(longueurs) or not 0 < taille <= len(xml) or xml[taille - 1:taille] != b">"
                or (positions and (positions[0] < taille or positions[-1] + longueurs[-1] > len(xml)))
                or not all(0 <= k < len(positions) for k in titres_lus)):
            return False
        elements = [xml[p:p + n] for p, n in zip(positions, longueurs)]
        if titres_a_lire and not _elements_entiers(elements):
            return False
        self._contexte, self._titres_lus = xml[:taille], titres_lus
        return self._ranger(positions.tolist(), elements, 0, len(elements) if titres_a_lire else 0)

    def _tout_lire(self) -> None:
        corps = _corps(self._xml)
        self._complets = {}
        _parcourir(corps if corps is not None else [], self._titres, self._complets)
        self._xml = self._contexte = b""
        self._positions, self._elements, self._titres_lus, self._morceaux, self._lus = [], [], {}, {}, {}

    def _decouper(self) -> bool:
        contexte = _contexte(self._xml)
        decoupe = _elements(self._xml, len(contexte)) if contexte is not None else None
        if contexte is None or decoupe is None:
            return False
        self._contexte = contexte
        return self._ranger(*decoupe, 0, len(decoupe[1]))

    def _depuis(self, voisin: Articles) -> bool:
        """Découpe le document en reprenant les éléments du début et de la fin qu'il partage, à l'octet, avec
        `voisin` : seule la partie qui diffère est découpée, et ses titres seuls analysés."""
        x, y = self._xml, voisin._xml
        if not x.startswith(voisin._contexte):
            return self._decouper()
        debut = _prefixe_commun(x, y)
        fin = _suffixe_commun(x, y, min(len(x), len(y)) - debut)
        positions, elements = voisin._positions, voisin._elements
        i = bisect_right([p + len(e) for p, e in zip(positions, elements)], debut)  # éléments du début commun
        j = max(i, bisect_left(positions, len(y) - fin))  # premier élément de la fin commune
        decalage = len(x) - len(y)
        a = positions[i - 1] + len(elements[i - 1]) if i else len(voisin._contexte)
        milieu = _elements(x, a, positions[j] + decalage if j < len(positions) else None)
        if milieu is None:
            return False
        self._contexte = voisin._contexte
        n = len(milieu[1])
        self._titres_lus = {k if k < i else k - j + i + n: t for k, t in voisin._titres_lus.items() if k < i or k >= j}
        return self._ranger(positions[:i] + milieu[0] + [p + decalage for p in positions[j:]],
                            elements[:i] + milieu[1] + elements[j:], i, i + n)

    def _analyser(self, morceaux: list[bytes]) -> etree._Element | None:
        """Les paragraphes et tableaux `morceaux`, analysés dans le contexte du document (déclaration XML, racine) ;
        None s'ils ne s'y analysent pas en autant d'éléments."""
        try:
            corps = _corps(self._contexte + b"".join(morceaux) + _FERMETURE)
        except etree.XMLSyntaxError:
            return None
        return corps if corps is not None and len(corps) == len(morceaux) else None

    def _ranger(self, positions: list[int], elements: list[bytes], debut: int, fin: int) -> bool:
        """Range les éléments du corps dans leurs articles, comme `_parcourir`. Les titres des éléments de rang
        `debut` à `fin` sont cherchés (ceux des autres sont connus) : seuls les paragraphes qui peuvent en être (nom
        d'un style de titre ou référence de caractère dans leurs octets) sont analysés."""
        self._positions, self._elements = positions, elements
        candidats: set[int] = set()
        if debut < fin:
            borne = positions[fin] if fin < len(positions) else len(self._xml)
            xml, depart = self._xml, positions[debut]
            for marque in [t.encode("utf-8") for t in self._titres]:
                k = xml.find(marque, depart, borne)
                while k >= 0:
                    candidats.add(bisect_right(positions, k) - 1)
                    k = xml.find(marque, k + 1, borne)
            # référence de caractère (« &# ») : « # » cherché seul (un octet, rare dans un document ; la recherche
            # de deux octets parcourt le corps plusieurs fois plus lentement)
            k = xml.find(b"#", depart + 1, borne)
            while k >= 0:
                if xml[k - 1] == 0x26:  # « & »
                    candidats.add(bisect_right(positions, k - 1) - 1)
                k = xml.find(b"#", k + 1, borne)
        rangs = sorted(candidats)
        analyses = self._analyser([elements[k] for k in rangs]) if rangs else []
        if analyses is None:
            return False
        for k, element in zip(rangs, analyses):
            if element.tag != _P:
                continue
            style = element.find(f"{_W}pPr/{_W}pStyle")
            nom_style = style.get(f"{_W}val") if style is not None else None
            if nom_style in self._titres and (m := _TITRE.match(_texte(element))):
                self._titres_lus[k] = (m.group(1), m.group(2))
        # les éléments d'un titre au suivant (ceux d'avant le premier titre ne sont d'aucun article), par tranches
        titres = self._titres_lus
        rangs = sorted(titres)
        for k, suivant in zip(rangs, rangs[1:] + [len(elements)]):
            numero, titre = titres[k]
            self._morceaux.setdefault(numero, (titre, []))[1].extend(elements[k + 1:suivant])
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
