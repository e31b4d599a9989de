"""Fabrique le modèle Word par défaut des pièces du DCE : ``modeles/dce.docx``.

Usage : ``python modeles/fabriquer_modele.py [chemin_de_sortie]``

Le même modèle sert à toutes les pièces (CCAP, CCTP, RC, fiche de traçabilité).
Le générateur le remplit avec docxtpl (``autoescape=True``) ; il ne contient
aucune logique, seulement la mise en page et des balises :

- page de garde : ``{{ logo }}`` (InlineImage docxtpl ou chaîne vide),
  ``{{ acheteur_nom }}``, ``{{ acheteur_adresse }}`` (``Listing`` docxtpl ou
  chaîne : chaque saut de ligne y devient un retour à la ligne),
  ``{{ titre_document }}``, ``{{ sigle_document }}``, ``{{ objet }}``,
  ``{{ reference }}``, ``{{ procedure }}``, ``{{ date_limite }}``,
  ``{{ date_lancement }}``, ``{{ representant }}`` ;
- sommaire : un paragraphe contenant seulement ``{{p sommaire }}`` ;
- corps : un paragraphe contenant seulement ``{{p corps }}`` ;
- en-tête : ``{{ acheteur_nom_court }}``, ``{{ sigle_document }}``, ``{{ reference }}`` ;
- pied de page : ``{{ objet_court }}`` (la référence de la consultation : « Consultation n° … ») et « Page X / Y » (champs PAGE et NUMPAGES).

Un acheteur peut remplacer ``dce.docx`` par son propre fichier Word (charte
graphique, logo, polices), à condition d'y conserver les mêmes balises et les
mêmes styles. Le générateur écrit le sommaire et le corps en WordprocessingML
et désigne les styles par leur identifiant (styleId) :

- paragraphes : ``Normal``, ``Heading1`` (« heading 1 », articles),
  ``Heading2`` (« heading 2 », sous-articles), ``Heading3`` (« heading 3 »,
  intertitre non numéroté), ``Heading4`` à ``Heading6`` (« heading 4 » à
  « heading 6 », titres inférieurs d'un texte technique importé dans le CCTP ;
  facultatifs : à défaut, le titre prend le style du niveau présent le plus proche),
  ``ListBullet`` / ``ListBullet2`` (« List Bullet »),
  ``ListNumber`` / ``ListNumber2`` (« List Number »), ``TableauTexte``
  (« Tableau texte », texte des cellules), ``TOC1`` / ``TOC2`` (« toc 1 »,
  « toc 2 », entrées du sommaire), ``TOCHeading`` (« TOC Heading ») ;
- tableau : ``Tableau`` (« Tableau DCE », ligne d'en-tête foncée) ;
- numérotation : les listes à puces et numérotées pointent vers deux
  définitions ``w:abstractNum`` repérables par leur nom et leur ``w:nsid``
  (voir ``PUCES`` et ``NUMEROS`` ci-dessous). Pour recommencer la
  numérotation à chaque clause, le générateur ajoute un ``w:num`` avec
  ``w:lvlOverride``/``w:startOverride`` vers l'``abstractNum`` de ``ListNumber``.

Dans Word, on vérifie ces noms avec le volet Styles (Ctrl+Alt+Maj+S) ;
« heading 1 » y apparaît sous le nom localisé « Titre 1 ».

Le fichier produit est identique d'une exécution à l'autre (dates et ordre
des parties figés) : on peut le versionner et comparer les constructions.
"""

from __future__ import annotations

import datetime
import io
import sys
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

from docx import Document
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import parse_xml
from docx.shared import Twips
from lxml import etree

SORTIE = Path(__file__).with_name("dce.docx")

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W = f'xmlns:w="{W_NS}"'

# Charte : une seule couleur d'accent, sobre.
ACCENT = "1F3864"  # bleu foncé
GRIS = "595959"  # textes secondaires
FILET = "8496B0"  # filets des tableaux
FOND_CLAIR = "E9EDF5"  # cellules d'étiquettes de la page de garde
POLICE = "Arial"  # LibreOffice la remplace par Liberation Sans (mêmes métriques)

# Page A4 en vingtièmes de point (1 cm = 567).
PAGE_LARGEUR, PAGE_HAUTEUR = 11906, 16838
MARGE_HAUT, MARGE_BAS, MARGE_GAUCHE, MARGE_DROITE = 1418, 1134, 1418, 1134
LARGEUR_TEXTE = PAGE_LARGEUR - MARGE_GAUCHE - MARGE_DROITE  # 9354 = 16,5 cm

# Numérotation. ListBullet -> w:num 1 -> w:abstractNum 1 (nsid 0DCE0B01) ;
# ListNumber -> w:num 2 -> w:abstractNum 2 (nsid 0DCE0A02). Pour recommencer
# une liste numérotée à 1 dans chaque clause, le générateur ajoute
#   <w:num w:numId="N"><w:abstractNumId w:val="2"/>
#     <w:lvlOverride w:ilvl="0"><w:startOverride w:val="1"/></w:lvlOverride></w:num>
# et met <w:numPr><w:ilvl w:val="0"/><w:numId w:val="N"/></w:numPr> sur les
# paragraphes ListNumber de la liste. Il retrouve l'abstractNum par le style
# (ListNumber -> numId -> abstractNumId) ou, si un acheteur a refait le modèle
# dans Word (qui renumérote les identifiants), par w:name ou w:nsid.
PUCES = {"abstract_id": 1, "num_id": 1, "nsid": "0DCE0B01", "nom": "DCE puces"}
NUMEROS = {"abstract_id": 2, "num_id": 2, "nsid": "0DCE0A02", "nom": "DCE numéros"}

DATE_FIXE = (2025, 1, 1, 0, 0, 0)
RT_STYLES_WITH_EFFECTS = "http://schemas.microsoft.com/office/2007/relationships/stylesWithEffects"


# --------------------------------------------------------------------------
# Styles
# --------------------------------------------------------------------------

def _style(
    type_: str,
    style_id: str,
    nom: str,
    *,
    base: str | None = "Normal",
    suivant: str | None = None,
    ppr: str = "",
    rpr: str = "",
    extra: str = "",
    qformat: bool = True,
    defaut: bool = False,
) -> str:
    """Un élément w:style ; ppr/rpr sont le contenu de w:pPr/w:rPr, dans l'ordre du schéma."""
    return (
        f'<w:style w:type="{type_}"' + (' w:default="1"' if defaut else "") + f' w:styleId="{style_id}">'
        f'<w:name w:val="{nom}"/>'
        + (f'<w:basedOn w:val="{base}"/>' if base else "")
        + (f'<w:next w:val="{suivant}"/>' if suivant else "")
        + ("<w:qFormat/>" if qformat else "")
        + (f"<w:pPr>{ppr}</w:pPr>" if ppr else "")
        + (f"<w:rPr>{rpr}</w:rPr>" if rpr else "")
        + extra
        + "</w:style>"
    )


def _taille(demi_points: int) -> str:
    return f'<w:sz w:val="{demi_points}"/><w:szCs w:val="{demi_points}"/>'


def _bordure(cote: str, epaisseur: int, couleur: str, espace: int = 1) -> str:
    return f'<w:{cote} w:val="single" w:sz="{epaisseur}" w:space="{espace}" w:color="{couleur}"/>'


SANS_CESURE = "<w:suppressAutoHyphens/>"


def styles_xml() -> str:
    """Le styles.xml complet : valeurs par défaut, puis chaque style utilisé."""
    defauts = (
        "<w:docDefaults><w:rPrDefault><w:rPr>"
        f'<w:rFonts w:ascii="{POLICE}" w:eastAsia="{POLICE}" w:hAnsi="{POLICE}" w:cs="{POLICE}"/>'
        + _taille(21)
        + '<w:lang w:val="fr-FR" w:eastAsia="fr-FR" w:bidi="ar-SA"/>'
        "</w:rPr></w:rPrDefault>"
        '<w:pPrDefault><w:pPr><w:spacing w:after="120" w:line="264" w:lineRule="auto"/>'
        "</w:pPr></w:pPrDefault></w:docDefaults>"
    )
    titre_tab = f'<w:tabs><w:tab w:val="right" w:leader="dot" w:pos="{LARGEUR_TEXTE}"/></w:tabs>'
    styles = [
        # --- Styles par défaut exigés par Word ---
        _style("paragraph", "Normal", "Normal", base=None, defaut=True,
               ppr='<w:widowControl/><w:spacing w:after="120" w:line="264" w:lineRule="auto"/>'
                   '<w:jc w:val="both"/>'),
        '<w:style w:type="character" w:default="1" w:styleId="DefaultParagraphFont">'
        '<w:name w:val="Default Paragraph Font"/><w:uiPriority w:val="1"/><w:semiHidden/>'
        "<w:unhideWhenUsed/></w:style>",
        '<w:style w:type="table" w:default="1" w:styleId="TableNormal"><w:name w:val="Normal Table"/>'
        '<w:uiPriority w:val="99"/><w:semiHidden/><w:unhideWhenUsed/><w:tblPr>'
        '<w:tblInd w:w="0" w:type="dxa"/><w:tblCellMar><w:top w:w="0" w:type="dxa"/>'
        '<w:left w:w="108" w:type="dxa"/><w:bottom w:w="0" w:type="dxa"/>'
        '<w:right w:w="108" w:type="dxa"/></w:tblCellMar></w:tblPr></w:style>',
        '<w:style w:type="numbering" w:default="1" w:styleId="NoList"><w:name w:val="No List"/>'
        '<w:uiPriority w:val="99"/><w:semiHidden/><w:unhideWhenUsed/></w:style>',
        # --- Titres du corps ---
        _style("paragraph", "Heading1", "heading 1", suivant="Normal",
               ppr="<w:keepNext/><w:keepLines/>"
                   f"<w:pBdr>{_bordure('bottom', 6, ACCENT, 2)}</w:pBdr>" + SANS_CESURE
                   + '<w:spacing w:before="360" w:after="160" w:line="240" w:lineRule="auto"/>'
                   '<w:jc w:val="left"/><w:outlineLvl w:val="0"/>',
               rpr=f'<w:b/><w:bCs/><w:color w:val="{ACCENT}"/>' + _taille(26)),
        _style("paragraph", "Heading2", "heading 2", suivant="Normal",
               ppr="<w:keepNext/><w:keepLines/>" + SANS_CESURE
                   + '<w:spacing w:before="240" w:after="100" w:line="240" w:lineRule="auto"/>'
                   '<w:jc w:val="left"/><w:outlineLvl w:val="1"/>',
               rpr=f'<w:b/><w:bCs/><w:color w:val="{ACCENT}"/>' + _taille(22)),
        _style("paragraph", "Heading3", "heading 3", suivant="Normal",
               ppr="<w:keepNext/><w:keepLines/>" + SANS_CESURE
                   + '<w:spacing w:before="180" w:after="80"/><w:jc w:val="left"/><w:outlineLvl w:val="2"/>',
               rpr="<w:b/><w:bCs/><w:i/><w:iCs/>" + _taille(21)),
        # Titres 4 à 6 : hiérarchie d'un texte technique importé dans le CCTP, sous l'intertitre de niveau 3
        *(_style("paragraph", f"Heading{n}", f"heading {n}", suivant="Normal",
                 ppr="<w:keepNext/><w:keepLines/>" + SANS_CESURE
                     + f'<w:spacing w:before="{avant}" w:after="{apres}"/><w:jc w:val="left"/>'
                     f'<w:outlineLvl w:val="{n - 1}"/>',
                 rpr=rpr)
          for n, avant, apres, rpr in ((4, 140, 60, '<w:i/><w:iCs/><w:u w:val="single"/>' + _taille(21)),
                                       (5, 120, 60, "<w:i/><w:iCs/>" + _taille(20)),
                                       (6, 120, 40, _taille(20)))),
        # --- Listes (liées aux définitions de numbering.xml) ---
        _liste_style("ListBullet", "List Bullet", PUCES, 0),
        _liste_style("ListBullet2", "List Bullet 2", PUCES, 1),
        _liste_style("ListNumber", "List Number", NUMEROS, 0),
        _liste_style("ListNumber2", "List Number 2", NUMEROS, 1),
        # --- Tableaux ---
        _style("paragraph", "TableauTexte", "Tableau texte",
               ppr=SANS_CESURE + '<w:spacing w:before="20" w:after="20" w:line="240" w:lineRule="auto"/>'
                   '<w:jc w:val="left"/>',
               rpr=_taille(19)),
        _style("table", "Tableau", "Tableau DCE", base="TableNormal",
               ppr='<w:spacing w:before="20" w:after="20" w:line="240" w:lineRule="auto"/><w:jc w:val="left"/>',
               rpr=_taille(19),
               extra="<w:tblPr><w:tblBorders>"
                     + "".join(_bordure(c, 4, FILET, 0)
                               for c in ("top", "left", "bottom", "right", "insideH", "insideV"))
                     + '</w:tblBorders><w:tblCellMar><w:top w:w="40" w:type="dxa"/>'
                     '<w:left w:w="85" w:type="dxa"/><w:bottom w:w="40" w:type="dxa"/>'
                     '<w:right w:w="85" w:type="dxa"/></w:tblCellMar></w:tblPr>'
                     '<w:tblStylePr w:type="firstRow"><w:pPr><w:keepNext/></w:pPr>'
                     '<w:rPr><w:b/><w:bCs/><w:color w:val="FFFFFF"/></w:rPr>'
                     "<w:trPr><w:tblHeader/></w:trPr>"
                     f'<w:tcPr><w:shd w:val="clear" w:color="auto" w:fill="{ACCENT}"/></w:tcPr>'
                     "</w:tblStylePr>"),
        # --- Sommaire ---
        _style("paragraph", "TOCHeading", "TOC Heading", suivant="Normal",
               ppr=f"<w:keepNext/><w:pBdr>{_bordure('bottom', 6, ACCENT, 2)}</w:pBdr>" + SANS_CESURE
                   + '<w:spacing w:before="0" w:after="240" w:line="240" w:lineRule="auto"/>'
                   '<w:jc w:val="left"/><w:outlineLvl w:val="9"/>',
               rpr=f'<w:b/><w:bCs/><w:color w:val="{ACCENT}"/>' + _taille(32)),
        _style("paragraph", "TOC1", "toc 1", suivant="Normal",
               ppr=titre_tab + SANS_CESURE
                   + '<w:spacing w:before="120" w:after="40" w:line="240" w:lineRule="auto"/>'
                   '<w:jc w:val="left"/>',
               rpr="<w:b/><w:bCs/>"),
        _style("paragraph", "TOC2", "toc 2", suivant="Normal",
               ppr=titre_tab + SANS_CESURE
                   + '<w:spacing w:before="0" w:after="40" w:line="240" w:lineRule="auto"/>'
                   '<w:ind w:left="284"/><w:jc w:val="left"/>'),
        # --- En-tête et pied de page ---
        _style("paragraph", "Header", "header",
               ppr=f"<w:pBdr>{_bordure('bottom', 4, ACCENT, 4)}</w:pBdr>"
                   f'<w:tabs><w:tab w:val="right" w:pos="{LARGEUR_TEXTE}"/></w:tabs>' + SANS_CESURE
                   + '<w:spacing w:after="0" w:line="240" w:lineRule="auto"/><w:jc w:val="left"/>',
               rpr=f'<w:color w:val="{GRIS}"/>' + _taille(17)),
        _style("paragraph", "Footer", "footer",
               ppr=SANS_CESURE + '<w:spacing w:before="60" w:after="0" w:line="240" w:lineRule="auto"/>'
                   '<w:jc w:val="left"/>',
               rpr=f'<w:color w:val="{GRIS}"/>' + _taille(16)),
        # --- Page de garde ---
        _style("paragraph", "CouvertureAcheteur", "Couverture acheteur",
               ppr=SANS_CESURE + '<w:spacing w:before="120" w:after="40"/><w:jc w:val="left"/>',
               rpr=f'<w:b/><w:bCs/><w:color w:val="{ACCENT}"/>' + _taille(24)),
        _style("paragraph", "CouvertureAdresse", "Couverture adresse",
               ppr=SANS_CESURE + '<w:spacing w:after="0" w:line="240" w:lineRule="auto"/><w:jc w:val="left"/>',
               rpr=f'<w:color w:val="{GRIS}"/>' + _taille(19)),
        _style("paragraph", "Title", "Title", suivant="Subtitle",
               ppr=f"<w:pBdr>{_bordure('top', 18, ACCENT, 18)}</w:pBdr>" + SANS_CESURE
                   + '<w:spacing w:before="2000" w:after="120" w:line="240" w:lineRule="auto"/><w:jc w:val="center"/>',
               rpr=f'<w:b/><w:bCs/><w:color w:val="{ACCENT}"/>' + _taille(44)),
        _style("paragraph", "Subtitle", "Subtitle", suivant="Normal",
               ppr=f"<w:pBdr>{_bordure('bottom', 18, ACCENT, 18)}</w:pBdr>" + SANS_CESURE
                   + '<w:spacing w:before="0" w:after="720" w:line="240" w:lineRule="auto"/><w:jc w:val="center"/>',
               rpr=f'<w:color w:val="{ACCENT}"/><w:spacing w:val="40"/>' + _taille(32)),
        _style("paragraph", "CouvertureEtiquette", "Couverture étiquette",
               ppr="<w:keepNext/>" + SANS_CESURE + '<w:spacing w:after="60"/><w:jc w:val="center"/>',
               rpr=f'<w:caps/><w:color w:val="{GRIS}"/><w:spacing w:val="10"/>' + _taille(17)),
        _style("paragraph", "CouvertureObjet", "Couverture objet",
               ppr=SANS_CESURE + '<w:spacing w:after="600" w:line="260" w:lineRule="auto"/><w:jc w:val="center"/>',
               rpr="<w:b/><w:bCs/>" + _taille(28)),
        _style("paragraph", "CouvertureMention", "Couverture mention",
               ppr=f"<w:pBdr>{_bordure('top', 4, FILET, 6)}</w:pBdr>" + SANS_CESURE
                   + '<w:spacing w:after="0"/><w:jc w:val="center"/>',
               rpr=f'<w:color w:val="{GRIS}"/>' + _taille(18)),
    ]
    return (
        f'<w:styles {W}>' + defauts + "".join(styles) + "</w:styles>"
    )


def _liste_style(style_id: str, nom: str, definition: dict, niveau: int) -> str:
    ilvl = f'<w:ilvl w:val="{niveau}"/>' if niveau else ""
    return _style(
        "paragraph", style_id, nom,
        ppr=f'<w:numPr>{ilvl}<w:numId w:val="{definition["num_id"]}"/></w:numPr>'
            '<w:spacing w:after="60"/>',
    )


# --------------------------------------------------------------------------
# Numérotation
# --------------------------------------------------------------------------

# Symboles et formats par niveau ; les niveaux suivants reprennent le cycle.
_PUCES_NIVEAUX = ["•", "–", "▪"]
_NUMEROS_NIVEAUX = [("decimal", "{}."), ("lowerLetter", "{})"), ("lowerRoman", "{}.")]
_STYLES_NIVEAU = {0: ("ListBullet", "ListNumber"), 1: ("ListBullet2", "ListNumber2")}


def _abstract_num(definition: dict, puces: bool) -> str:
    niveaux = []
    for ilvl in range(9):
        retrait = 425 * (ilvl + 1)
        style = _STYLES_NIVEAU.get(ilvl)
        pstyle = f'<w:pStyle w:val="{style[0] if puces else style[1]}"/>' if style else ""
        if puces:
            fmt, texte = "bullet", _PUCES_NIVEAUX[ilvl % 3]
            rpr = f'<w:rPr><w:rFonts w:ascii="{POLICE}" w:hAnsi="{POLICE}" w:hint="default"/></w:rPr>'
        else:
            fmt, modele = _NUMEROS_NIVEAUX[ilvl % 3]
            texte = modele.format(f"%{ilvl + 1}")
            rpr = ""
        niveaux.append(
            f'<w:lvl w:ilvl="{ilvl}"><w:start w:val="1"/><w:numFmt w:val="{fmt}"/>{pstyle}'
            f'<w:lvlText w:val="{texte}"/><w:lvlJc w:val="left"/>'
            f'<w:pPr><w:ind w:left="{retrait}" w:hanging="340"/></w:pPr>{rpr}</w:lvl>'
        )
    return (
        f'<w:abstractNum w:abstractNumId="{definition["abstract_id"]}">'
        f'<w:nsid w:val="{definition["nsid"]}"/><w:multiLevelType w:val="hybridMultilevel"/>'
        f'<w:name w:val="{definition["nom"]}"/>' + "".join(niveaux) + "</w:abstractNum>"
    )


def numbering_xml() -> str:
    """Deux définitions (puces, numéros) et une instance w:num pour chacune."""
    nums = "".join(
        f'<w:num w:numId="{d["num_id"]}"><w:abstractNumId w:val="{d["abstract_id"]}"/></w:num>'
        for d in (PUCES, NUMEROS)
    )
    return (
        f"<w:numbering {W}>" + _abstract_num(PUCES, True) + _abstract_num(NUMEROS, False)
        + nums + "</w:numbering>"
    )


# --------------------------------------------------------------------------
# Paramètres du document
# --------------------------------------------------------------------------

def settings_xml() -> str:
    """Français, césure automatique, mise à jour des champs (sommaire) à l'ouverture dans Word."""
    mswu = 'w:uri="http://schemas.microsoft.com/office/word"'
    return (
        f"<w:settings {W}>"
        '<w:zoom w:percent="100"/>'
        '<w:defaultTabStop w:val="708"/>'
        "<w:autoHyphenation/>"
        '<w:consecutiveHyphenLimit w:val="2"/>'
        '<w:hyphenationZone w:val="425"/>'
        "<w:doNotHyphenateCaps/>"
        '<w:characterSpacingControl w:val="doNotCompress"/>'
        '<w:updateFields w:val="true"/>'
        "<w:compat>"
        f'<w:compatSetting w:name="compatibilityMode" {mswu} w:val="15"/>'
        f'<w:compatSetting w:name="overrideTableStyleFontSizeAndJustification" {mswu} w:val="1"/>'
        f'<w:compatSetting w:name="enableOpenTypeFeatures" {mswu} w:val="1"/>'
        f'<w:compatSetting w:name="doNotFlipMirrorIndents" {mswu} w:val="1"/>'
        "</w:compat>"
        '<w:themeFontLang w:val="fr-FR"/>'
        '<w:clrSchemeMapping w:bg1="light1" w:t1="dark1" w:bg2="light2" w:t2="dark2" '
        'w:accent1="accent1" w:accent2="accent2" w:accent3="accent3" w:accent4="accent4" '
        'w:accent5="accent5" w:accent6="accent6" w:hyperlink="hyperlink" '
        'w:followedHyperlink="followedHyperlink"/>'
        '<w:decimalSymbol w:val=","/>'
        '<w:listSeparator w:val=";"/>'
        "</w:settings>"
    )


APP_XML = (
    "<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n"
    '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties" '
    'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
    "<Template>Normal.dotm</Template><Application>dce</Application><DocSecurity>0</DocSecurity>"
    "<ScaleCrop>false</ScaleCrop><LinksUpToDate>false</LinksUpToDate><SharedDoc>false</SharedDoc>"
    "<HyperlinksChanged>false</HyperlinksChanged><AppVersion>16.0000</AppVersion></Properties>"
).encode("utf-8")


# --------------------------------------------------------------------------
# Contenu : page de garde, sommaire, corps, en-tête, pied de page
# --------------------------------------------------------------------------

def _run(texte: str, rpr: str = "") -> str:
    rpr = f"<w:rPr>{rpr}</w:rPr>" if rpr else ""
    return f'<w:r>{rpr}<w:t xml:space="preserve">{escape(texte)}</w:t></w:r>'


def _para(style: str, *runs: str, ppr: str = "") -> str:
    return f'<w:p {W}><w:pPr><w:pStyle w:val="{style}"/>{ppr}</w:pPr>{"".join(runs)}</w:p>'


def _champ(instruction: str, resultat: str = "1") -> str:
    """Champ complexe (PAGE, NUMPAGES…) avec un résultat provisoire que Word et LibreOffice recalculent."""
    return (
        '<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
        f'<w:r><w:instrText xml:space="preserve"> {instruction} </w:instrText></w:r>'
        '<w:r><w:fldChar w:fldCharType="separate"/></w:r>'
        f"<w:r><w:t>{resultat}</w:t></w:r>"
        '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
    )


def _cellule(largeur: int, contenu: str, fond: str | None = None) -> str:
    shd = f'<w:shd w:val="clear" w:color="auto" w:fill="{fond}"/>' if fond else ""
    return (
        f'<w:tc><w:tcPr><w:tcW w:w="{largeur}" w:type="dxa"/>{shd}<w:vAlign w:val="center"/></w:tcPr>'
        f"{contenu}</w:tc>"
    )


def tableau_couverture() -> str:
    """Cadre à deux colonnes de la page de garde (références de la consultation)."""
    lignes = [
        ("Référence", "{{ reference }}"),
        ("Procédure", "{{ procedure }}"),
        ("Date limite de remise des plis", "{{ date_limite }}"),
        ("Date de lancement", "{{ date_lancement }}"),
    ]
    col1 = 3402  # 6 cm
    col2 = LARGEUR_TEXTE - col1
    bordures = (
        "".join(_bordure(c, 8, ACCENT, 0) for c in ("top", "left", "bottom", "right"))
        + _bordure("insideH", 4, FILET, 0) + _bordure("insideV", 4, FILET, 0)
    )
    rangs = "".join(
        '<w:tr><w:trPr><w:cantSplit/><w:trHeight w:val="454" w:hRule="atLeast"/></w:trPr>'
        + _cellule(col1, _para("TableauTexte", _run(etiquette, f'<w:b/><w:color w:val="{ACCENT}"/>')),
                   FOND_CLAIR)
        + _cellule(col2, _para("TableauTexte", _run(valeur, _taille(21))))
        + "</w:tr>"
        for etiquette, valeur in lignes
    )
    return (
        f'<w:tbl {W}><w:tblPr><w:tblW w:w="{LARGEUR_TEXTE}" w:type="dxa"/><w:jc w:val="center"/>'
        f"<w:tblBorders>{bordures}</w:tblBorders><w:tblLayout w:type=\"fixed\"/>"
        '<w:tblCellMar><w:left w:w="113" w:type="dxa"/><w:right w:w="113" w:type="dxa"/></w:tblCellMar>'
        '<w:tblLook w:val="0000" w:firstRow="0" w:lastRow="0" w:firstColumn="0" w:lastColumn="0" '
        'w:noHBand="1" w:noVBand="1"/></w:tblPr>'
        f'<w:tblGrid><w:gridCol w:w="{col1}"/><w:gridCol w:w="{col2}"/></w:tblGrid>{rangs}</w:tbl>'
    )


def corps_du_modele() -> list[str]:
    """Les blocs du corps, dans l'ordre : garde, sommaire, corps."""
    # Mention en bas de la page de garde : paragraphe encadré (w:framePr) calé
    # sur la marge basse, quelle que soit la longueur de l'objet.
    cadre_bas = (
        f'<w:framePr w:w="{LARGEUR_TEXTE}" w:wrap="notBeside" w:hAnchor="margin" '
        'w:vAnchor="margin" w:xAlign="center" w:yAlign="bottom"/>'
    )
    return [
        _para("CouvertureAdresse", _run("{{ logo }}"), ppr='<w:spacing w:after="120"/>'),
        _para("CouvertureAcheteur", _run("{{ acheteur_nom }}")),
        _para("CouvertureAdresse", _run("{{ acheteur_adresse }}")),
        _para("Title", _run("{{ titre_document }}")),
        _para("Subtitle", _run("{{ sigle_document }}")),
        _para("CouvertureEtiquette", _run("Objet de la consultation")),
        _para("CouvertureObjet", _run("{{ objet }}")),
        tableau_couverture(),
        _para("CouvertureMention",
              _run("Pouvoir adjudicateur : ", "<w:b/>"),
              _run("{{ acheteur_nom }} — représenté par {{ representant }}"),
              ppr=cadre_bas),
        # Paragraphe d'ancrage du cadre, minuscule : LibreOffice ancre un cadre au
        # paragraphe qui le suit ; sans lui, le cadre partirait avec le titre
        # « Sommaire » sur la page suivante (constaté avec LibreOffice 7.4).
        _para("Normal", ppr='<w:spacing w:before="0" w:after="0" w:line="20" w:lineRule="exact"/>'),
        # Sommaire : nouvelle page, titre non numéroté hors plan, puis la balise.
        # Le générateur y met des paragraphes TOC1/TOC2 (lien interne + champ
        # PAGEREF vers un signet posé sur le titre) sans champ TOC englobant :
        # LibreOffice recalcule alors les numéros de page à l'export PDF, alors
        # qu'il fige le contenu d'un champ TOC tel qu'il a été écrit.
        _para("TOCHeading", _run("Sommaire"), ppr="<w:pageBreakBefore/>"),
        _para("Normal", _run("{{p sommaire }}")),
        # Saut de page seul dans son paragraphe : le corps commence en haut de page.
        f'<w:p {W}><w:pPr><w:pStyle w:val="Normal"/><w:spacing w:after="0"/></w:pPr>'
        '<w:r><w:br w:type="page"/></w:r></w:p>',
        _para("Normal", _run("{{p corps }}")),
    ]


def entete_xml() -> list[str]:
    return [
        _para("Header",
              _run("{{ acheteur_nom_court }}", "<w:b/>"),
              "<w:r><w:tab/></w:r>",
              _run("{{ sigle_document }} — {{ reference }}")),
    ]


def pied_xml() -> list[str]:
    """Tableau sans bordure à trois colonnes : objet court à gauche, pagination centrée."""
    c1, c2 = 3827, 1700
    c3 = LARGEUR_TEXTE - c1 - c2
    pagination = _para(
        "Footer",
        _run("Page "), _champ("PAGE"), _run(" / "), _champ("NUMPAGES"),
        ppr='<w:jc w:val="center"/>',
    )
    tableau = (
        f'<w:tbl {W}><w:tblPr><w:tblW w:w="{LARGEUR_TEXTE}" w:type="dxa"/>'
        f"<w:tblBorders>{_bordure('top', 4, ACCENT, 0)}</w:tblBorders>"
        '<w:tblLayout w:type="fixed"/><w:tblCellMar><w:left w:w="0" w:type="dxa"/>'
        '<w:right w:w="0" w:type="dxa"/></w:tblCellMar>'
        '<w:tblLook w:val="0000" w:firstRow="0" w:lastRow="0" w:firstColumn="0" w:lastColumn="0" '
        'w:noHBand="1" w:noVBand="1"/></w:tblPr>'
        f'<w:tblGrid><w:gridCol w:w="{c1}"/><w:gridCol w:w="{c2}"/><w:gridCol w:w="{c3}"/></w:tblGrid>'
        "<w:tr>"
        f'<w:tc><w:tcPr><w:tcW w:w="{c1}" w:type="dxa"/></w:tcPr>'
        f'{_para("Footer", _run("{{ objet_court }}"))}</w:tc>'
        f'<w:tc><w:tcPr><w:tcW w:w="{c2}" w:type="dxa"/></w:tcPr>{pagination}</w:tc>'
        f'<w:tc><w:tcPr><w:tcW w:w="{c3}" w:type="dxa"/></w:tcPr>{_para("Footer")}</w:tc>'
        "</w:tr></w:tbl>"
    )
    # Word exige un paragraphe après un tableau : on le réduit à presque rien.
    fin = _para("Footer", ppr='<w:spacing w:before="0" w:after="0" w:line="20" w:lineRule="exact"/>')
    return [tableau, fin]


def _ajouter_blocs(
    conteneur: etree._Element, blocs: list[str], avant: etree._Element | None = None
) -> None:
    """Ajoute les blocs XML à la fin du conteneur, ou juste avant l'élément `avant`."""
    for bloc in blocs:
        element = parse_xml(bloc)
        if avant is not None:
            avant.addprevious(element)
        else:
            conteneur.append(element)


# --------------------------------------------------------------------------
# Assemblage
# --------------------------------------------------------------------------

def fabriquer(sortie: Path = SORTIE) -> Path:
    doc = Document()
    paquet = doc.part.package

    # Parties inutiles du gabarit python-docx (Word 2010 lirait stylesWithEffects
    # au lieu de nos styles) : on les détache, elles ne seront pas écrites.
    for rid, rel in list(doc.part.rels.items()):
        if rel.reltype in (RT.CUSTOM_XML, RT_STYLES_WITH_EFFECTS):
            del doc.part.rels[rid]
    for rid, rel in list(paquet.rels.items()):
        if rel.reltype == RT.THUMBNAIL:
            del paquet.rels[rid]

    doc.part._styles_part._element = parse_xml(styles_xml())
    doc.part.numbering_part._element = parse_xml(numbering_xml())
    doc.part._settings_part._element = parse_xml(settings_xml())
    for rel in paquet.rels.values():
        if rel.reltype == RT.EXTENDED_PROPERTIES:
            rel.target_part._blob = APP_XML

    # Page A4, en-tête et pied absents de la page de garde (première page distincte).
    section = doc.sections[0]
    section.page_width, section.page_height = Twips(PAGE_LARGEUR), Twips(PAGE_HAUTEUR)
    section.top_margin, section.bottom_margin = Twips(MARGE_HAUT), Twips(MARGE_BAS)
    section.left_margin, section.right_margin = Twips(MARGE_GAUCHE), Twips(MARGE_DROITE)
    section.header_distance, section.footer_distance = Twips(709), Twips(454)
    section.different_first_page_header_footer = True

    corps = doc.element.body
    for enfant in list(corps):
        if enfant.tag != f"{{{W_NS}}}sectPr":
            corps.remove(enfant)
    _ajouter_blocs(corps, corps_du_modele(), avant=corps.sectPr)

    for histoire, blocs in (
        (section.header, entete_xml()),
        (section.footer, pied_xml()),
        (section.first_page_header, [_para("Normal", ppr='<w:spacing w:after="0"/>')]),
        (section.first_page_footer, [_para("Normal", ppr='<w:spacing w:after="0"/>')]),
    ):
        histoire.is_linked_to_previous = False
        element = histoire._element
        for enfant in list(element):
            element.remove(enfant)
        _ajouter_blocs(element, blocs)

    proprietes = doc.core_properties
    proprietes.title = "Modèle des pièces du DCE"
    proprietes.subject = "Dossier de consultation des entreprises"
    proprietes.author = "dce"
    proprietes.last_modified_by = "dce"
    proprietes.comments = (
        "Modèle par défaut ; remplaçable par un fichier Word portant les mêmes balises et styles."
    )
    proprietes.keywords = ""
    proprietes.category = ""
    proprietes.revision = 1
    proprietes.created = proprietes.modified = datetime.datetime(*DATE_FIXE)

    tampon = io.BytesIO()
    doc.save(tampon)
    _ecrire_zip_fige(tampon.getvalue(), sortie)
    return sortie


def _ecrire_zip_fige(contenu: bytes, sortie: Path) -> None:
    """Réécrit le paquet avec des dates figées pour un fichier identique à chaque construction."""
    temporaire = sortie.with_suffix(".docx.tmp")
    with zipfile.ZipFile(io.BytesIO(contenu)) as source, \
            zipfile.ZipFile(temporaire, "w", zipfile.ZIP_DEFLATED) as cible:
        for info in source.infolist():
            fige = zipfile.ZipInfo(info.filename, date_time=DATE_FIXE)
            fige.compress_type = zipfile.ZIP_DEFLATED
            fige.external_attr = 0o644 << 16
            cible.writestr(fige, source.read(info.filename))
    temporaire.replace(sortie)


if __name__ == "__main__":
    chemin = fabriquer(Path(sys.argv[1]) if len(sys.argv) > 1 else SORTIE)
    print(chemin)
