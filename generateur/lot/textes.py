"""Texte de chaque article lu dans un document Word produit : la matière des comparaisons de versions."""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from lxml import etree

from ..rendu.ooxml import W_NS
from ..rendu.ooxml import Styles

_W = f"{{{W_NS}}}"
_TITRE = re.compile(r"^(?:Article )?(\d+(?:\.\d+)?)\s*–\s*(.*)$", re.DOTALL)

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


def textes_articles(docx: Path) -> dict[str, TexteClause]:
    """Numéro d'article (« 6 ») ou de sous-article (« 6.2 ») → son titre et ses paragraphes.

    Une ligne de tableau devient un paragraphe « cellule | cellule ».
    """
    with zipfile.ZipFile(docx) as z:
        corps = etree.fromstring(z.read("word/document.xml")).find(f"{_W}body")
    styles = Styles()
    titres = {styles.titres[1], styles.titres[2]}
    articles: dict[str, TexteClause] = {}
    courant: TexteClause | None = None
    for element in corps if corps is not None else []:
        if element.tag == f"{_W}p":
            style = element.find(f"{_W}pPr/{_W}pStyle")
            texte = _texte(element)
            nom_style = style.get(f"{_W}val") if style is not None else None
            if nom_style in titres and (m := _TITRE.match(texte)):
                courant = articles.setdefault(m.group(1), TexteClause(m.group(2), []))
            elif courant is not None and texte.strip():
                courant.paragraphes.append(Ligne(texte, nom_style))
        elif element.tag == f"{_W}tbl" and courant is not None:
            for ligne in element.iter(f"{_W}tr"):
                courant.paragraphes.append(Ligne(" | ".join(_texte(c) for c in ligne.findall(f"{_W}tc"))))
    return articles
