"""Les parties d'un modèle Word rendues sans docxtpl ni python-docx (squelette d'un document, `documents`).

Ce que `DocxTemplate.render` (docxtpl 0.20.2) fait subir au XML d'une partie après son rendu Jinja, et ce que
python-docx (1.2) fait des parties rendues (corps remis dans son document, en-têtes et pieds relus, propriétés du
document), refait sur les chaînes et par lxml, sans ouvrir ni copier le paquet du modèle. Le nettoyage des balises
(`patch_xml`) et la compilation des gabarits Jinja, eux, sont faits une fois par modèle (`documents._preparer`), qui
vérifie sur des variables d'essai que ce rendu donne les octets de docxtpl ; tout ce que ce module ne sait pas
refaire (image, tableau que docxtpl corrigerait…) est rendu par docxtpl.
"""

from __future__ import annotations

import copy
import re
from html import escape
from collections.abc import Iterator
from typing import Any

from lxml import etree

from .ooxml import W_NS

_WP_NS = "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"
_DC = "{http://purl.org/dc/elements/1.1/}"
# propriétés du document que dce écrit (`documents._proprietes_document`) → élément de core.xml (python-docx)
_ELEMENTS_PROPRIETES = {"title": f"{_DC}title", "subject": f"{_DC}subject", "author": f"{_DC}creator",
                        "language": f"{_DC}language"}
# l'analyseur de python-docx (docx.oxml.parser, docx.opc.oxml), sans ses classes d'éléments : mêmes arbres
_ANALYSEUR = etree.XMLParser(remove_blank_text=True, resolve_entities=False)
_REPARATEUR = etree.XMLParser(recover=True)  # celui de `DocxTemplate.fix_tables`


class Listing:
    """`docxtpl.Listing` : texte échappé dont les retours à la ligne deviennent des sauts de ligne Word."""

    def __init__(self, text: Any) -> None:
        if not isinstance(text, (str, bytes)):
            text = str(text)
        self.xml = escape(text)

    def __unicode__(self) -> str:
        return self.xml

    def __str__(self) -> str:
        return self.xml

    def __html__(self) -> str:
        return self.xml


def apres_rendu(xml: str) -> str:
    """Le XML rendu par Jinja comme `DocxTemplate.render_xml_part` le rend : retours à la ligne ajoutés avant les
    paragraphes retirés, accolades échappées rétablies, `Listing` résolus (`resolve_listing`)."""
    xml = xml.replace("\n<w:p ", "<w:p ").replace("\n<w:p>", "<w:p>")  # re.sub(r"\n<w:p([ >])", r"<w:p\1", xml)
    if "{_" in xml:  # accolades échappées : {_{ et {_%
        xml = xml.replace("{_{", "{{")
    if "_}" in xml:  # }_} et %_}
        xml = xml.replace("}_}", "}}")
    if "{_" in xml:
        xml = xml.replace("{_%", "{%")
    if "_}" in xml:
        xml = xml.replace("%_}", "%}")
    return _resoudre_listing(xml)


def _resoudre_listing(xml: str) -> str:
    """`DocxTemplate.resolve_listing` : tabulation, saut de paragraphe (\\a), de ligne et de page dans les textes."""

    def resolve_text(run_properties: str, paragraph_properties: str, m: re.Match[str]) -> str:
        xml = m.group(0).replace(
            "\t",
            "</w:t></w:r>"
            f"<w:r>{run_properties}<w:tab/></w:r>"
            f'<w:r>{run_properties}<w:t xml:space="preserve">',
        )
        xml = xml.replace(
            "\a",
            "</w:t></w:r></w:p>"
            f'<w:p>{paragraph_properties}<w:r>{run_properties}<w:t xml:space="preserve">',
        )
        xml = xml.replace("\n", '</w:t><w:br/><w:t xml:space="preserve">')
        xml = xml.replace(
            "\f",
            "</w:t></w:r></w:p>"
            '<w:p><w:r><w:br w:type="page"/></w:r></w:p>'
            f'<w:p>{paragraph_properties}<w:r>{run_properties}<w:t xml:space="preserve">',
        )
        return xml

    def resolve_run(paragraph_properties: str, m: re.Match[str]) -> str:
        trouve = re.search(r"<w:rPr>.*?</w:rPr>", m.group(0))
        run_properties = trouve.group(0) if trouve else ""
        return re.sub(
            r"<w:t(?: [^>]*)?>.*?</w:t>",
            lambda x: resolve_text(run_properties, paragraph_properties, x),
            m.group(0),
            flags=re.DOTALL,
        )

    def resolve_paragraph(paragraphe: str) -> str:
        trouve = re.search(r"<w:pPr>.*?</w:pPr>", paragraphe)
        paragraph_properties = trouve.group(0) if trouve else ""
        return re.sub(
            r"<w:r(?: [^>]*)?>.*?</w:r>",
            lambda x: resolve_run(paragraph_properties, x),
            paragraphe,
            flags=re.DOTALL,
        )

    # re.sub(r"<w:p(?: [^>]*)?>.*?</w:p>", resolve_paragraph, xml, flags=re.DOTALL), où seuls changent les paragraphes
    # qui ont un caractère à résoudre
    speciaux = sorted(position for caractere in "\t\a\n\f" for position in _positions(xml, caractere))
    if not speciaux:
        return xml
    morceaux = []
    precedent = 0
    rang = 0
    for debut, fin in _paragraphes(xml):
        while rang < len(speciaux) and speciaux[rang] < debut:
            rang += 1
        if rang == len(speciaux):
            break
        if speciaux[rang] < fin:
            morceaux.append(xml[precedent:debut])
            morceaux.append(resolve_paragraph(xml[debut:fin]))
            precedent = fin
    morceaux.append(xml[precedent:])
    return "".join(morceaux)


def _positions(xml: str, caractere: str) -> Iterator[int]:
    """Les positions de `caractere` dans `xml` (str.find : bien plus rapide qu'une classe de caractères de re)."""
    position = xml.find(caractere)
    while position >= 0:
        yield position
        position = xml.find(caractere, position + 1)


def _paragraphes(xml: str) -> Iterator[tuple[int, int]]:
    """Début et fin de chaque paragraphe que trouve re.finditer(r"<w:p(?: [^>]*)?>.*?</w:p>", xml, re.DOTALL), par
    str.find (le motif y cherchait `</w:p>` caractère après caractère)."""
    position = 0
    while True:
        debut = xml.find("<w:p", position)
        if debut < 0:
            return
        suivant = xml[debut + 4:debut + 5]
        if suivant == ">":
            ouvrante = debut + 4
        elif suivant == " ":
            ouvrante = xml.find(">", debut + 5)  # [^>]* puis >
            if ouvrante < 0:  # ni ici ni plus loin
                return
        else:  # <w:pPr>, <w:pStyle…
            position = debut + 1
            continue
        fin = xml.find("</w:p>", ouvrante + 1)
        if fin < 0:
            return
        yield debut, fin + 6
        position = fin + 6


def _tableaux_intacts(arbre: Any, ns: str) -> bool:
    """`DocxTemplate.fix_tables` ne change rien aux tableaux : aucune ligne n'a plus de cellules que la grille n'a de
    colonnes (il en ajouterait), et une ligne au moins couvre toute la grille (il en retirerait). Enfants lus par
    `iterchildren` (C) : ce que `find` et `findall` (ElementPath, en Python) trouvent."""
    tc, tc_pr, grid_span, val = ns + "tc", ns + "tcPr", ns + "gridSpan", ns + "val"
    for tableau in arbre.iter(ns + "tbl"):
        grille = next(tableau.iterchildren(ns + "tblGrid"))  # StopIteration sans grille : fix_tables échouerait
        colonnes = sum(1 for _ in grille.iterchildren(ns + "gridCol"))
        largeur = 0
        for ligne in tableau.iter(ns + "tr"):
            cellules = list(ligne.iterchildren(tc))
            if len(cellules) > colonnes:
                return False
            etendue = 0
            for cellule in cellules:
                proprietes = next(cellule.iterchildren(tc_pr), None)
                fusion = None if proprietes is None else next(proprietes.iterchildren(grid_span), None)
                etendue += 1 if fusion is None else int(fusion.get(val))
            largeur = max(largeur, etendue)
        if colonnes > largeur:
            return False
    return True


def document(xml: str, source: bytes, sections: int | None) -> bytes | None:
    """La partie du corps (document.xml sérialisé par python-docx) : le corps rendu `xml` relu comme docxtpl le relit
    (`fix_tables`, analyseur qui répare), ses images renumérotées (`fix_docpr_ids`), mis à la place du corps du
    document `source` (`map_tree`). None si docxtpl corrigerait un tableau, ou si le nombre de sections n'est pas
    `sections` (notes de bas de page, rendues une fois par section : voir `documents._preparer`)."""
    arbre = etree.fromstring(xml, _REPARATEUR)
    if not _tableaux_intacts(arbre, "{" + arbre.nsmap["w"] + "}"):
        return None
    for numero, element in enumerate(arbre.xpath("//wp:docPr", namespaces={"wp": _WP_NS}), start=1001):
        element.attrib["id"] = str(numero)
    if sections is not None and len(arbre.xpath("./w:p/w:pPr/w:sectPr | ./w:sectPr", namespaces={"w": W_NS})) \
            != sections:
        return None
    cadre = _cadre(source)
    if cadre is not None and arbre.tag == _CORPS and arbre.prefix == "w" and not arbre.attrib \
            and all(cadre[2].get(prefixe) == uri for prefixe, uri in arbre.nsmap.items()):
        corps = etree.tostring(arbre, encoding="UTF-8")
        debut = corps.find(b">") + 1
        if corps.startswith(b"<w:body ") and corps.endswith(b"</w:body>") and corps.find(b"xmlns", debut) < 0:
            return cadre[0] + b"<w:body>" + corps[debut:] + cadre[1]
    racine = copy.deepcopy(_racine(source))
    racine.replace(racine.find(_CORPS), arbre)
    return etree.tostring(racine, encoding="UTF-8", standalone=True)


_CORPS = f"{{{W_NS}}}body"


def _cadre(source: bytes) -> tuple[bytes, bytes, dict[str, str]] | None:
    """Le document `source` autour de son corps : ce qui précède `<w:body>` et ce qui suit `</w:body>` dans ses
    octets, et les espaces de noms que déclare sa racine. Un corps mis à sa place dont les seules déclarations
    d'espaces de noms sont celles de la racine (le XML que docxtpl en tire les répète toutes) les perd
    (`_stripRedundantNamespaceDeclarations` de lxml) : il s'écrit alors entre ces deux morceaux, balise ouvrante sans
    déclarations, comme python-docx écrirait le document entier (`document`, qui le vérifie). None si le corps n'y
    est pas écrit une fois ainsi, si la racine déclare un espace de noms par défaut ou deux fois le même."""
    if source not in _CADRES:
        if len(_CADRES) >= 8:
            _CADRES.clear()
        espaces = dict(_racine(source).nsmap)
        cadre = None
        if source.count(b"<w:body>") == 1 and source.count(b"</w:body>") == 1 and None not in espaces \
                and len(set(espaces.values())) == len(espaces):
            debut, fin = source.index(b"<w:body>"), source.index(b"</w:body>") + len(b"</w:body>")
            cadre = (source[:debut], source[fin:], espaces)
        _CADRES[source] = cadre
    return _CADRES[source]


_CADRES: dict[bytes, tuple[bytes, bytes, dict[str, str]] | None] = {}


def _racine(source: bytes) -> Any:
    """Le document `source` lu comme python-docx le lit, une fois par processus (copié avant d'être changé)."""
    racine = _RACINES.get(source)
    if racine is None:
        if len(_RACINES) >= 8:
            _RACINES.clear()
        racine = _RACINES[source] = etree.fromstring(source, _ANALYSEUR)
    return racine


_RACINES: dict[bytes, Any] = {}


def partie(xml: str) -> bytes:
    """Un en-tête ou un pied de page rendu, relu par python-docx (`map_headers_footers_xml`) puis sérialisé."""
    return etree.tostring(etree.fromstring(xml.encode("utf-8"), _ANALYSEUR), encoding="UTF-8", standalone=True)


def proprietes(essai: bytes, vides: tuple[int, ...], valeurs: dict[str, str]) -> bytes:
    """core.xml avec les propriétés `valeurs` : celui d'un rendu d'essai du même modèle (`essai`, où python-docx a
    déjà ajouté les éléments absents), leurs textes remplacés comme python-docx les remplace. Relu, un élément au
    texte vide n'a plus de texte : python-docx écrit `<dc:identifier></dc:identifier>` pour l'un (propriété rendue
    vide par docxtpl), `<dc:identifier/>` pour l'autre ; les éléments `vides` (rangs dans l'ordre du document)
    retrouvent leur texte vide."""
    racine = etree.fromstring(essai, _ANALYSEUR)
    if vides:
        elements = list(racine.iter())
        for rang in vides:
            elements[rang].text = ""
    for nom, valeur in valeurs.items():  # au plus 255 caractères (documents._proprietes_document)
        racine.find(_ELEMENTS_PROPRIETES[nom]).text = valeur
    return etree.tostring(racine, encoding="UTF-8", standalone=True)
