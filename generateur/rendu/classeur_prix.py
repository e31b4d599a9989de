"""Bordereau des prix (classeur Excel) : une feuille par lot, BPU et DQE, DPGF, ou les deux.

Le candidat ne saisit que les cellules jaunes (prix, quantités qu'il doit fournir, raison sociale) ;
le reste de la feuille est protégé et les montants HT, la TVA au taux du lot et le TTC sont des
formules, recalculées par le tableur. Les lignes viennent du fichier de réponses
(`lots[].lignes_prix`) ou, à défaut, des lignes types de la famille d'achat
(modeles/bordereaux.yaml), signalées comme propositions à adapter.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
import textwrap
import zipfile
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Protection, Side
from openpyxl.workbook.protection import WorkbookProtection
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.worksheet import Worksheet

from ..donnees.fichiers import rezipper
from ..donnees.formats import montant, typographie
from ..droit.regles import Analyse
from ..pieces.bordereau import FeuilleLot, Partie, feuille_du_lot, nom_fichier

FORMAT_EUROS = '[$-40C]#,##0.00\\ "€"'
FORMAT_QUANTITE = "[$-40C]#,##0.###"
FORMAT_TAUX = "[$-40C]0.0\\ %"
POLICE = "Arial"
MARGE_POUCES = 0.6  # marges gauche et droite à l'impression (1,5 cm)
SAISIE = PatternFill("solid", fgColor="FFF2CC")
ENTETE = PatternFill("solid", fgColor="1F3864")
TOTAL = PatternFill("solid", fgColor="D9E1F2")
TRAIT = Side(style="thin", color="808080")
CADRE = Border(left=TRAIT, right=TRAIT, top=TRAIT, bottom=TRAIT)
LARGEURS = dict(zip("ABCDEF", (6, 58, 14, 15, 17, 19)))  # largeur des colonnes, en caractères « 0 »
# colonne que le candidat renseigne pour chaque ligne (catégorie EGalim…) ; la désignation cède la largeur
# qu'elle prend, pour que la feuille tienne encore sur la largeur de la page A4 paysage sans réduire le texte
LARGEUR_A_RENSEIGNER = 24
# openpyxl ne calcule pas la hauteur des lignes (le tableur la calcule à l'ouverture, mais pas toujours à
# l'impression, ni LibreOffice pour un classeur qui n'en donne pas) : on l'estime d'après le texte. Une colonne
# de largeur L mesure (7 L + 5) pixels ; un caractère d'Arial 10 en occupe 6,5 en moyenne (marge comprise),
# et une ligne de texte 13 points.
PIXELS_PAR_CARACTERE = 6.5
POINTS_PAR_LIGNE = 13.0


def _lignes_de_texte(texte: str, largeur: float, corps: float = 10) -> int:
    """Nombre de lignes qu'occupe `texte`, renvoyé à la ligne dans une largeur de `largeur` caractères « 0 »."""
    caracteres = max(1, int((largeur * 7 + 5 - 6) / (PIXELS_PAR_CARACTERE * corps / 10)))
    return sum(max(1, len(textwrap.wrap(morceau, caracteres, break_long_words=True)))
               for morceau in str(texte).split("\n"))


def _ajuster_hauteur(ws: Worksheet, ligne: int, colonnes: str, corps: float = 10) -> None:
    """Hauteur de la ligne : celle de la cellule la plus haute parmi `colonnes` (texte renvoyé à la ligne)."""
    lignes = max(_lignes_de_texte(ws[f"{c}{ligne}"].value or "", ws.column_dimensions[c].width, corps)
                 for c in colonnes)
    ws.row_dimensions[ligne].height = math.ceil(POINTS_PAR_LIGNE * corps / 10 * lignes + 2)


# -- écriture du classeur

def _styles(classeur: Workbook) -> None:
    def style(nom: str, gras: bool = False, taille: float = 10, couleur: str = "000000", format_: str = "General",
              fond: PatternFill | None = None, cadre: bool = False, saisie: bool = False, retour: bool = False,
              horizontal: str | None = None) -> None:
        s = NamedStyle(name=nom)
        s.font = Font(name=POLICE, size=taille, bold=gras, color=couleur)
        s.number_format = format_
        s.alignment = Alignment(wrap_text=retour, vertical="center", horizontal=horizontal)
        if fond:
            s.fill = fond
        if cadre:
            s.border = CADRE
        s.protection = Protection(locked=not saisie)
        classeur.add_named_style(s)

    style("dce_titre", gras=True, taille=12, couleur="1F3864")
    style("dce_texte", retour=False)
    style("dce_note", taille=10, couleur="404040", retour=True)
    style("dce_entete", gras=True, couleur="FFFFFF", fond=ENTETE, cadre=True, retour=True, horizontal="center")
    style("dce_cellule", cadre=True, retour=True)
    style("dce_numero", cadre=True, horizontal="center")
    style("dce_quantite", cadre=True, format_=FORMAT_QUANTITE)
    style("dce_montant", cadre=True, format_=FORMAT_EUROS)
    style("dce_saisie_texte", cadre=True, fond=SAISIE, saisie=True)
    style("dce_saisie_libelle", cadre=True, fond=SAISIE, saisie=True, retour=True)
    style("dce_saisie_montant", cadre=True, fond=SAISIE, saisie=True, format_=FORMAT_EUROS)
    style("dce_saisie_quantite", cadre=True, fond=SAISIE, saisie=True, format_=FORMAT_QUANTITE)
    style("dce_total", gras=True, cadre=True, fond=TOTAL, format_=FORMAT_EUROS)
    style("dce_total_libelle", gras=True, cadre=True, fond=TOTAL)
    style("dce_taux", cadre=True, fond=TOTAL, format_=FORMAT_TAUX)


def _cellule(ws: Worksheet, ligne: int, colonne: int, valeur: Any, style: str, formule: bool = False) -> None:
    """Une cellule ; un texte reste un texte même s'il commence par « = » (une désignation saisie ne devient
    jamais une formule active dans le classeur remis aux candidats) : seules les formules de dce en sont."""
    if isinstance(valeur, str) and not formule:
        valeur = typographie(valeur)  # apostrophe typographique et espaces insécables, comme dans les pièces Word
    c = ws.cell(ligne, colonne, valeur)
    if isinstance(valeur, str) and not formule:
        c.data_type = "s"
    c.style = style


def _titre_feuille(lot: dict[str, Any]) -> str:
    return re.sub(r"[\[\]:*?/\\]", " ", f"Lot {lot['numero']}")[:31]


def _entete(ws: Worksheet, analyse: Analyse, lot: dict[str, Any], parties: list[Partie]) -> int:
    ctx = analyse.contexte
    profil = analyse.acheteur.profil
    objet = " ".join(str(ctx["objet"]).split())
    lignes = [
        (str(profil["nom"]), "dce_titre"),
        (f"Consultation {ctx['reference']} – {objet}", "dce_texte"),
        (f"Lot {lot['numero']} – {lot['intitule']}" if ctx["allotie"] else str(lot["intitule"]), "dce_titre"),
        (" ; ".join(p.titre for p in parties) if parties else "Bordereau des prix", "dce_titre"),
    ]
    for i, (texte, style) in enumerate(lignes, start=1):
        _cellule(ws, i, 1, texte, style)
    ws.cell(2, 1).alignment = Alignment(wrap_text=True, vertical="top")
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=6)
    ws.row_dimensions[2].height = 13 * (1 + len(lignes[1][0]) // 125)
    _cellule(ws, 6, 1, "Candidat (raison sociale et SIRET) :", "dce_texte")
    ws.merge_cells(start_row=6, start_column=3, end_row=6, end_column=6)
    for colonne in range(3, 7):
        ws.cell(6, colonne).style = "dce_saisie_texte"
    notes = ["Prix en euros hors taxes. Le candidat complète les seules cellules jaunes ; les autres cellules "
             "sont protégées et les montants se calculent d'eux-mêmes."]
    if any(p.sigle == "BPU-DQE" for p in parties):
        periode = ("toute la durée du contrat, reconductions comprises" if ctx.get("reconductions")
                   else "toute la durée du contrat")
        notes.append(f"Les quantités du DQE sont estimées pour {periode} ; elles servent au jugement des prix, "
                     "n'ont pas de valeur contractuelle et n'engagent pas l'acheteur.")
    if any(p.sigle == "DPGF" for p in parties):
        notes.append("Les quantités de la DPGF sont indicatives\u00a0: le prix global et forfaitaire reste dû quelles "
                     "que soient les quantités réellement exécutées.")
        if any(l.quantite is None for p in parties if p.sigle == "DPGF" for l in p.lignes):
            notes.append("Une quantité en jaune est à fournir par le candidat.")
    if ctx["forme"] != "marche":
        notes.append(f"Montant maximum du lot pour toute la durée de l'accord-cadre : {montant(lot['montant_estime'])}.")
    _cellule(ws, 7, 1, " ".join(notes), "dce_note")
    ws.merge_cells(start_row=7, start_column=1, end_row=7, end_column=6)
    ws.row_dimensions[7].height = 15 * (1 + len(" ".join(notes)) // 110)
    return 9


def _partie(ws: Worksheet, partie: Partie, debut: int, validation: DataValidation,
            plusieurs: bool, a_renseigner: list[str]) -> tuple[int, str | None]:
    """Écrit une partie à partir de la ligne `debut` ; renvoie la ligne suivante et la référence de son montant HT.

    Quand la feuille a plusieurs parties, chacune a son titre et son sous-total.
    """
    intitulee = sous_total = plusieurs
    if intitulee:
        _cellule(ws, debut, 1, partie.titre, "dce_titre")
        debut += 1
    entete = debut
    colonnes = (["N°", "Désignation", "Unité", "Prix unitaire HT"] if partie.sigle == "BPU" else
                ["N°", "Désignation", "Unité", "Quantité estimée" if partie.sigle == "BPU-DQE" else "Quantité",
                 "Prix unitaire HT", "Montant HT"])
    suite = len(colonnes) + 1  # colonnes que le candidat renseigne pour chaque ligne, après celles des prix
    colonnes += a_renseigner
    for j, titre in enumerate(colonnes, start=1):
        _cellule(ws, entete, j, titre, "dce_entete")
    _ajuster_hauteur(ws, entete, "".join(get_column_letter(j) for j in range(1, len(colonnes) + 1)))
    ligne = entete
    for i, l in enumerate(partie.lignes, start=1):
        ligne += 1
        _cellule(ws, ligne, 1, i, "dce_numero")
        _cellule(ws, ligne, 2, l.designation, "dce_cellule")
        _cellule(ws, ligne, 3, l.unite, "dce_cellule")
        for j in range(suite, suite + len(a_renseigner)):
            _cellule(ws, ligne, j, None, "dce_saisie_libelle")
        _ajuster_hauteur(ws, ligne, "BC")
        if partie.sigle == "BPU":
            _cellule(ws, ligne, 4, None, "dce_saisie_montant")
            validation.add(f"D{ligne}")
            continue
        if l.quantite is not None:
            _cellule(ws, ligne, 4, l.quantite, "dce_quantite")
        elif partie.sigle == "DPGF":
            _cellule(ws, ligne, 4, None, "dce_saisie_quantite")
            validation.add(f"D{ligne}")
        else:
            _cellule(ws, ligne, 4, "non estimée", "dce_cellule")
        _cellule(ws, ligne, 5, None, "dce_saisie_montant")
        validation.add(f"E{ligne}")
        formule = f"=ROUND(D{ligne}*E{ligne},2)" if l.quantite is not None or partie.sigle == "DPGF" else None
        _cellule(ws, ligne, 6, formule, "dce_montant", formule=True)
    if not partie.chiffree:
        return ligne + 2, None
    plage = f"SUM(F{entete + 1}:F{ligne})" if ligne > entete else "0"
    if not sous_total:
        return ligne + 2, plage
    ligne += 1
    libelle = "Total de la DPGF (HT)" if partie.sigle == "DPGF" else "Total du DQE (HT)"
    _cellule(ws, ligne, 1, libelle, "dce_total_libelle")
    ws.merge_cells(start_row=ligne, start_column=1, end_row=ligne, end_column=5)
    for colonne in range(2, 6):
        ws.cell(ligne, colonne).style = "dce_total_libelle"
    _cellule(ws, ligne, 6, "=" + plage, "dce_total", formule=True)
    return ligne + 2, f"F{ligne}"


def _totaux(ws: Worksheet, debut: int, totaux: list[str], tva: float) -> dict[str, str]:
    """Montant total HT, TVA au taux du lot, montant TTC ; renvoie les cellules de chacun."""
    ht, taux, montant_tva, ttc = debut, debut + 1, debut + 2, debut + 3
    lignes = [
        (ht, "Montant total HT", "=" + "+".join(totaux)),
        (taux, "Taux de TVA du lot", tva / 100),
        (montant_tva, "Montant de la TVA", f"=ROUND(F{ht}*F{taux},2)"),
        (ttc, "Montant total TTC", f"=F{ht}+F{montant_tva}"),
    ]
    for numero, libelle, valeur in lignes:
        _cellule(ws, numero, 1, libelle, "dce_total_libelle")
        ws.merge_cells(start_row=numero, start_column=1, end_row=numero, end_column=5)
        for colonne in range(2, 6):
            ws.cell(numero, colonne).style = "dce_total_libelle"
        _cellule(ws, numero, 6, valeur, "dce_taux" if numero == taux else "dce_total", formule=True)
    return {"HT": f"F{ht}", "taux": f"F{taux}", "TVA": f"F{montant_tva}", "TTC": f"F{ttc}"}


def _largeurs(ws: Worksheet, feuille: FeuilleLot) -> None:
    """Largeur des colonnes, fixée avant l'écriture : la hauteur des lignes s'en déduit."""
    for colonne, largeur in LARGEURS.items():
        ws.column_dimensions[colonne].width = largeur
    if not feuille.colonnes:
        return
    ws.column_dimensions["B"].width = LARGEURS["B"] - LARGEUR_A_RENSEIGNER // 2
    for partie in feuille.parties:  # après les colonnes des prix : E pour un BPU, G sinon
        debut = 5 if partie.sigle == "BPU" else 7
        for j in range(debut, debut + len(feuille.colonnes)):
            lettre = get_column_letter(j)
            ws.column_dimensions[lettre].width = max(LARGEURS.get(lettre, 0), LARGEUR_A_RENSEIGNER)


def _mise_en_page(ws: Worksheet, analyse: Analyse) -> None:
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    # paysage, marges de 1,5 cm : les six colonnes tiennent dans la largeur sans réduction, et les avertissements
    # s'impriment dans leur corps (10 pt), non réduits à 6 ou 7 pt par l'ajustement à la largeur de la page
    ws.page_setup.orientation = "landscape"
    ws.page_margins = PageMargins(left=MARGE_POUCES, right=MARGE_POUCES)
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    entetes = [c.row for c in ws["A"] if c.value == "N°" and c.style == "dce_entete"]
    if entetes:  # l'en-tête du tableau des prix est répété en haut de chaque page imprimée
        ws.print_title_rows = f"{entetes[0]}:{entetes[0]}"
    ws.oddHeader.left.text = str(analyse.acheteur.profil["nom_court"])
    ws.oddHeader.right.text = f"{analyse.contexte['reference']} – &A"
    # même pied de page que les pièces Word : la référence de la consultation, puis la page
    ws.oddFooter.left.text = f"Consultation n°\u00a0{analyse.contexte['reference']}"
    ws.oddFooter.right.text = "Page &P / &N"
    ws.protection.sheet = True
    ws.protection.formatColumns = False
    ws.protection.formatRows = False
    ws.protection.selectLockedCells = False
    ws.protection.selectUnlockedCells = False


def _ecrire_feuille(ws: Worksheet, analyse: Analyse, feuille: FeuilleLot) -> dict[str, str]:
    validation = DataValidation(type="decimal", operator="greaterThanOrEqual", formula1="0", allow_blank=True,
                                showErrorMessage=True, errorTitle="Valeur invalide",
                                error="Saisir un nombre positif ou nul, sans unité.")
    ws.add_data_validation(validation)
    _largeurs(ws, feuille)
    ligne = _entete(ws, analyse, feuille.lot, feuille.parties)
    totaux = []
    for partie in feuille.parties:
        ligne, total = _partie(ws, partie, ligne, validation, len(feuille.parties) > 1, feuille.colonnes)
        if total:
            totaux.append(total)
    cellules = _totaux(ws, ligne, totaux, float(feuille.lot["tva"])) if totaux else {}
    _mise_en_page(ws, analyse)
    return cellules


@dataclass
class Bordereau:
    nom: str
    contenu: bytes
    feuilles: list[FeuilleLot]
    totaux: dict[str, dict[str, str]]  # titre de la feuille → {"HT": "F30", "TVA": …, "TTC": …, "taux": …}

    @property
    def avertissements(self) -> list[str]:
        return [a for f in self.feuilles for a in f.avertissements]


def produire(analyse: Analyse) -> Bordereau:
    """Classeur du bordereau des prix, une feuille par lot, en mémoire et reproductible."""
    ctx = analyse.contexte
    classeur = Workbook()
    classeur.remove(classeur.active)
    _styles(classeur)
    feuilles, totaux = [], {}
    for lot in ctx["lots"]:
        feuille = feuille_du_lot(analyse, lot)
        ws = classeur.create_sheet(_titre_feuille(lot))
        totaux[ws.title] = _ecrire_feuille(ws, analyse, feuille)
        feuilles.append(feuille)
    classeur.security = WorkbookProtection(lockStructure=True)
    lancement = dt.datetime.combine(ctx["date_lancement"], dt.time())
    classeur.properties.title = f"{ctx['reference']} – {' ; '.join(sorted({p.titre for f in feuilles for p in f.parties}))}"
    classeur.properties.creator = str(analyse.acheteur.profil["nom"])
    classeur.properties.created = lancement
    tampon = io.BytesIO()
    classeur.save(tampon)
    return Bordereau(nom_fichier(analyse), _fixer_dates(tampon.getvalue(), lancement), feuilles, totaux)


def _fixer_dates(contenu: bytes, date: dt.datetime) -> bytes:
    """openpyxl date le classeur de l'instant d'écriture : on fixe cette date pour des octets reproductibles."""
    entree = zipfile.ZipFile(io.BytesIO(contenu))
    sortie = io.BytesIO()
    horodatage = date.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(sortie, "w", zipfile.ZIP_DEFLATED) as z:
        for nom in entree.namelist():
            donnees = entree.read(nom)
            if nom == "docProps/core.xml":
                donnees = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(<)", rb"\g<1>" + horodatage + rb"\g<2>", donnees)
            z.writestr(nom, donnees)
    return rezipper(sortie.getvalue())
