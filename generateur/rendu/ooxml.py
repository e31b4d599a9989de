"""Blocs → WordprocessingML : le seul module qui écrit du XML Word.

Les styles sont désignés par leur identifiant dans le modèle (Heading1, ListNumber, Tableau…) ;
un modèle d'acheteur qui les définit autrement garde la main sur l'apparence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from typing import Callable

from ..donnees import cache
from ..donnees.formats import typographie
from ..pieces.blocs import Bloc, Image, Liste, Paragraphe, ParagrapheRevise, SautDePage, Segment, Tableau, Titre

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
# Modifications suivies : auteur et date fixes, pour qu'un même écart donne les mêmes octets.
AUTEUR_REVISION = "dce"
DATE_REVISION = "2020-01-01T00:00:00Z"
_INVALIDE_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_A_ECHAPPER = re.compile('[&<>"\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]')  # ce que change `echapper`


def texte_permis(texte: str) -> str:
    """Retire les caractères interdits en XML 1.0 (caractères de contrôle) ; le reste est gardé tel quel."""
    return _INVALIDE_XML.sub("", texte)


def echapper(texte: str) -> str:
    """Texte → contenu XML sûr (caractères interdits en XML 1.0 retirés)."""
    if _A_ECHAPPER.search(texte) is None:  # le cas de presque tous les textes : rien à changer
        return texte
    texte = texte_permis(texte)
    return texte.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


@dataclass
class Styles:
    """Identifiants des styles du modèle, et liste numérotée de référence pour les redémarrages."""

    titres: dict[int, str] = field(default_factory=lambda: {1: "Heading1", 2: "Heading2", 3: "Heading3",
                                                             4: "Heading4", 5: "Heading5", 6: "Heading6"})
    normal: str = "Normal"
    puces: str = "ListBullet"
    numeros: str = "ListNumber"
    tableau: str = "Tableau"
    sommaire: dict[int, str] = field(default_factory=lambda: {1: "TOC1", 2: "TOC2"})
    abstract_numeros: int | None = None   # abstractNum de la liste numérotée du modèle
    num_puces: int | None = None          # instance w:num des puces du modèle


@dataclass
class Numerotation:
    """Nouvelles instances de numérotation (une par liste numérotée : la numérotation redémarre)."""

    premier_id: int
    abstract: int | None
    nouvelles: list[int] = field(default_factory=list)

    def nouvelle(self) -> int | None:
        if self.abstract is None:
            return None
        ident = self.premier_id + len(self.nouvelles)
        self.nouvelles.append(ident)
        return ident

    def xml(self) -> list[str]:
        """Éléments w:num à ajouter à numbering.xml."""
        return [
            f'<w:num xmlns:w="{W_NS}" w:numId="{n}"><w:abstractNumId w:val="{self.abstract}"/>'
            f'<w:lvlOverride w:ilvl="0"><w:startOverride w:val="1"/></w:lvlOverride></w:num>'
            for n in self.nouvelles
        ]


def _run(texte: str, gras: bool = False, italique: bool = False, balise: str = "w:t", surligne: bool = False) -> str:
    """Un run Word ; `surligne` : surlignage jaune (valeur à compléter avant publication)."""
    proprietes = ("<w:b/>" if gras else "") + ("<w:i/>" if italique else "") + \
        ('<w:highlight w:val="yellow"/>' if surligne else "")
    rpr = f"<w:rPr>{proprietes}</w:rPr>" if proprietes else ""
    if "\n" not in texte:  # une seule ligne : le cas de presque tous les runs
        contenu = f'<{balise} xml:space="preserve">{echapper(texte)}</{balise}>' if texte else ""
    else:
        contenu = "<w:br/>".join(
            f'<{balise} xml:space="preserve">{echapper(m)}</{balise}>' if m else "" for m in texte.split("\n"))
    return f"<w:r>{rpr}{contenu}</w:r>"


def runs(segments: list[Segment]) -> str:
    # segment d'une ligne sans mise en forme (presque tous) : écrit ici, comme `_run` l'écrirait
    return "".join([f'<w:r><w:t xml:space="preserve">{echapper(s.texte)}</w:t></w:r>'
                    if not (s.gras or s.italique or s.a_completer) and s.texte and "\n" not in s.texte
                    else _run(s.texte, s.gras, s.italique, "w:t", s.a_completer) for s in segments])


def _runs_gras(segments: list[Segment]) -> str:
    """`runs` de ces segments mis en gras (cellules d'en-tête), sans créer de segments : `Segment` applique la
    typographie à son texte, appliquée ici de même."""
    return "".join([_run(typographie(s.texte), True, s.italique, "w:t", s.a_completer) for s in segments])


LIGNES_TABLEAU_GARDE = 15


def paragraphe(contenu: str, style: str | None = None, num: tuple[int, int] | None = None,
               centre: bool = False, garder: bool = False) -> str:
    ppr = ""
    if style:
        ppr += f'<w:pStyle w:val="{style}"/>'
    if garder:
        ppr += "<w:keepNext/>"
    if num:
        ppr += f'<w:numPr><w:ilvl w:val="{num[0]}"/><w:numId w:val="{num[1]}"/></w:numPr>'
    if centre:
        ppr += '<w:jc w:val="center"/>'
    return f"<w:p>{'<w:pPr>' + ppr + '</w:pPr>' if ppr else ''}{contenu}</w:p>"


_VIDE = paragraphe("")  # paragraphe vide (après un tableau, sommaire sans titre)


def _annonce(p: Paragraphe) -> bool:
    """Paragraphe qui annonce ce qui suit (il finit par deux-points)."""
    return bool(p.segments) and p.segments[-1].texte.rstrip().endswith(":")


# XML déjà écrit sous l'identité de ce qu'il écrit : runs d'un paragraphe ou d'un élément de liste, tableau entier (ni
# signet ni numérotation n'y entrent). Les blocs des clauses, gardés par les mémoires du Markdown, sont les mêmes objets
# d'une consultation à l'autre, et jamais modifiés (markdown_.vers_blocs) : une pièce rendue de nouveau (clause
# modifiée) n'écrit plus que ses titres ; un bloc propre à un document s'en va avec lui (cache.ParObjet).
_XML = cache.ParObjet(16_384)


class Ecrivain:
    """Écrit les blocs d'un document ; tient les signets et la numérotation des listes."""

    def __init__(self, styles: Styles, numerotation: Numerotation, images: Callable[[Image], str] | None = None):
        self.styles = styles
        self.numerotation = numerotation
        self.signets = 0
        self.images = images  # image → élément wp:inline du paquet Word (fourni par documents.py)
        self._styles_titres: dict[int, str] = {}  # niveau → style (`titre`)

    def titre(self, t: Titre) -> str:
        # niveau absent du modèle : style du niveau présent le plus proche au-dessus
        style = self._styles_titres.get(t.niveau)
        if style is None:
            style = self._styles_titres[t.niveau] = \
                self.styles.titres[max([n for n in self.styles.titres if n <= t.niveau] or [3])]
        contenu = _run(t.texte)
        if t.signet:
            self.signets += 1
            contenu = (f'<w:bookmarkStart w:id="{self.signets}" w:name="{t.signet}"/>{contenu}'
                       f'<w:bookmarkEnd w:id="{self.signets}"/>')
        return paragraphe(contenu, style, garder=True)

    def liste(self, liste: Liste, niveau: int = 0, num: int | None = None) -> str:
        xml: list[str] = []
        self._liste(liste, niveau, num, xml)
        return "".join(xml)

    def _liste(self, liste: Liste, niveau: int, num: int | None, xml: list[str]) -> None:
        """Les paragraphes de la liste (sous-listes comprises, à leur place), ajoutés à `xml`."""
        if num is None:
            num = self.numerotation.nouvelle() if liste.ordonnee else self.styles.num_puces
        style = self.styles.numeros if liste.ordonnee else self.styles.puces
        for element in liste.elements:
            contenu = _XML.obtenir(element, lambda: runs(element.segments))  # noqa: B023 - appelée tout de suite
            xml.append(paragraphe(contenu, style, (niveau, num) if num is not None else None))
            if element.sous_liste:
                sous = element.sous_liste
                sous_num = num if sous.ordonnee == liste.ordonnee else None
                self._liste(sous, niveau + 1, sous_num, xml)

    def tableau(self, t: Tableau) -> str:
        """Le tableau seul (élément w:tbl) ; dans le corps, un paragraphe vide le suit (`bloc`, `elements`)."""
        return _XML.obtenir(t, lambda: self._tableau(t), aussi=(self.styles.tableau,))

    def _tableau(self, t: Tableau) -> str:
        colonnes = max((len(l) for l in t.lignes), default=1)
        largeurs = t.largeurs or [100 // colonnes] * colonnes
        grille = "".join(f'<w:gridCol w:w="{int(9600 * l / 100)}"/>' for l in largeurs)
        lignes = []
        # Un tableau court (barème, pondérations) reste sur une page : chaque ligne, sauf la dernière, est gardée
        # avec la suivante ; un tableau long se coupe entre deux lignes, jamais dans une ligne (cantSplit), et
        # répète sa ligne d'en-tête (tblHeader).
        garder = len(t.lignes) <= LIGNES_TABLEAU_GARDE
        # début de chaque cellule, par colonne : sa largeur ne dépend que de la colonne
        debuts = [f'<w:tc><w:tcPr><w:tcW w:w="{int(5000 * largeurs[j] / 100) if j < len(largeurs) else 0}" '
                  'w:type="pct"/></w:tcPr>' for j in range(colonnes)]
        for i, ligne in enumerate(t.lignes):
            entete = t.entete and i == 0
            trpr = "<w:trPr><w:tblHeader/><w:cantSplit/></w:trPr>" if entete else "<w:trPr><w:cantSplit/></w:trPr>"
            garder_ligne = garder and i < len(t.lignes) - 1
            cellules = []
            for j in range(colonnes):
                segments = ligne[j] if j < len(ligne) else []
                contenu = _runs_gras(segments) if entete else runs(segments)
                cellules.append(f'{debuts[j]}{paragraphe(contenu, "TableauTexte", garder=garder_ligne)}</w:tc>')
            lignes.append(f"<w:tr>{trpr}{''.join(cellules)}</w:tr>")
        return (f'<w:tbl><w:tblPr><w:tblStyle w:val="{self.styles.tableau}"/><w:tblW w:w="5000" w:type="pct"/>'
                f'<w:tblLook w:val="{"04A0" if t.entete else "0480"}" w:firstRow="{int(t.entete)}" w:lastRow="0" '
                f'w:firstColumn="0" w:lastColumn="0" '
                f'w:noHBand="0" w:noVBand="1"/></w:tblPr><w:tblGrid>{grille}</w:tblGrid>{"".join(lignes)}</w:tbl>')

    def bloc(self, b: Bloc, garder: bool = False) -> str:
        """`garder` : le paragraphe reste sur la page de ce qui le suit."""
        if isinstance(b, Titre):
            return self.titre(b)
        if isinstance(b, Paragraphe):
            return paragraphe(_XML.obtenir(b, lambda: runs(b.segments)), b.style, centre=b.centre, garder=garder)
        if isinstance(b, Liste):
            return self.liste(b)
        if isinstance(b, Tableau):
            return self.tableau(b) + _VIDE
        if isinstance(b, SautDePage):
            return '<w:p><w:r><w:br w:type="page"/></w:r></w:p>'
        if isinstance(b, ParagrapheRevise):
            return self.paragraphe_revise(b)
        if isinstance(b, Image) and self.images is not None:
            return paragraphe(f"<w:r><w:drawing>{self.images(b)}</w:drawing></w:r>", centre=True, garder=True)
        raise TypeError(b)

    def _revision(self, genre: str) -> str:
        """Attributs d'une marque de révision ; son w:id suit celui des signets (unique dans le document)."""
        self.signets += 1
        balise = "w:ins" if genre == "+" else "w:del"
        return f'{balise} w:id="{self.signets}" w:author="{AUTEUR_REVISION}" w:date="{DATE_REVISION}"'

    def paragraphe_revise(self, p: ParagrapheRevise) -> str:
        """Paragraphe en modifications suivies (w:ins / w:del), que Word et LibreOffice acceptent ou refusent."""
        contenu = []
        for genre, texte in p.morceaux:
            if genre == "=":
                contenu.append(_run(texte))
            else:
                ouverture = self._revision(genre)
                run = _run(texte) if genre == "+" else _run(texte, balise="w:delText")
                contenu.append(f"<{ouverture}>{run}</{ouverture.split(' ', 1)[0]}>")
        ppr = f'<w:pStyle w:val="{p.style}"/>' if p.style else ""
        if p.marque:
            ppr += f"<w:rPr><{self._revision(p.marque)}/></w:rPr>"
        return f"<w:p>{'<w:pPr>' + ppr + '</w:pPr>' if ppr else ''}{''.join(contenu)}</w:p>"

    def blocs(self, blocs: list[Bloc]) -> str:
        return "".join(self.elements(blocs))

    def elements(self, blocs: list[Bloc]) -> list[str]:
        """Ce que `blocs` écrit, élément par élément du corps (un paragraphe ou un tableau par chaîne, dans l'ordre) :
        la régénération en tire le découpage du document en articles sans le relire (lot/textes.py)."""
        xml: list[str] = []
        for b, suivant in zip(blocs, [*blocs[1:], None]):
            if isinstance(b, Liste):
                self._liste(b, 0, None, xml)
            elif isinstance(b, Tableau):
                xml += (self.tableau(b), _VIDE)
            else:
                # « Une avance est versée : » ne finit pas une page dont la liste commence la suivante.
                xml.append(self.bloc(b, garder=suivant is not None and isinstance(b, Paragraphe) and _annonce(b)))
        return xml

    def sommaire(self, titres: list[Titre]) -> str:
        return "".join(self.elements_sommaire(titres))

    def elements_sommaire(self, titres: list[Titre]) -> list[str]:
        """Table des matières remplie : une entrée par titre, avec un renvoi de page (PAGEREF) vers son signet.

        Pas de champ TOC englobant : LibreOffice garderait alors les numéros de page provisoires,
        alors qu'il recalcule chaque PAGEREF à la mise en page (vérifié en PDF). Word les met à jour
        à l'ouverture (updateFields dans settings.xml du modèle).
        """
        xml = []
        for t in titres:
            entree = (f'<w:hyperlink w:anchor="{t.signet}" w:history="1">{_run(t.texte)}<w:r><w:tab/></w:r>'
                      '<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
                      f'<w:r><w:instrText xml:space="preserve"> PAGEREF {t.signet} \\h </w:instrText></w:r>'
                      '<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>1</w:t></w:r>'
                      '<w:r><w:fldChar w:fldCharType="end"/></w:r></w:hyperlink>')
            xml.append(paragraphe(entree, self.styles.sommaire.get(t.niveau, self.styles.sommaire[2])))
        return xml or [_VIDE]
