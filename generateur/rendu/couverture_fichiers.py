"""Couverture du SPASER par le catalogue, en fichiers : document Word et classeur Excel."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from ..pieces.couverture import Couverture, blocs
from ..donnees.formats import date_longue

def docx(couverture: Couverture, modele: Path, version_catalogue: str) -> bytes:
    """Rapport Word dans le modèle de l'acheteur."""
    from .documents import produire, variables_acheteur

    titre = "Couverture du SPASER par le catalogue de clauses"
    variables = {
        **variables_acheteur(couverture.acheteur.profil, couverture.acheteur.logo()),
        "titre_document": titre, "sigle_document": "SPASER",
        "objet": str(couverture.acheteur.referentiel.get("titre", "")),
        "objet_court": "Couverture du SPASER", "reference": f"catalogue {version_catalogue}",
        "procedure": "", "date_limite": "", "date_lancement": date_longue(couverture.jour),
    }
    corps, titres = blocs(couverture)
    return produire(modele, variables, corps, titres)


def xlsx(couverture: Couverture) -> bytes:
    """Classeur : une ligne par action (filtrable), puis une feuille des clauses par action."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    classeur = Workbook()
    feuille = classeur.active
    feuille.title = "Couverture"
    entete = ["Axe", "Chantier", "Action", "Intitulé de l'action", "Portée", "Couverte", "Clauses", "Pièces"]
    feuille.append(entete)
    rouge = PatternFill("solid", fgColor="F4CCCC")
    for l in couverture.lignes:
        feuille.append([
            f"{l.action.axe.get('numero')}. {l.action.axe.get('titre')}",
            f"{l.action.chantier.get('numero')}. {l.action.chantier.get('titre')}",
            l.action.id, l.action.titre,
            "DCE" if l.action.dce else "interne",
            ("oui" if l.couverte else "non") if l.action.dce else "—",
            "\n".join(f"{c.id} – {c.titre}" for c in l.clauses),
            ", ".join(l.documents),
        ])
        if l.action.dce and not l.couverte:
            for cellule in feuille[feuille.max_row]:
                cellule.fill = rouge
    for cellule in feuille[1]:
        cellule.font = Font(bold=True)
    for colonne, largeur in zip("ABCDEFGH", (28, 34, 8, 60, 9, 9, 60, 14)):
        feuille.column_dimensions[colonne].width = largeur
    for ligne in feuille.iter_rows(min_row=2):
        for cellule in ligne:
            cellule.alignment = Alignment(wrap_text=True, vertical="top")
    feuille.freeze_panes = "A2"
    feuille.auto_filter.ref = feuille.dimensions

    detail = classeur.create_sheet("Clauses par action")
    detail.append(["Action", "Clause", "Version", "Pièce", "Article", "Titre", "Références", "Niveau du lien"])
    for l in couverture.lignes:
        for c in l.clauses:
            detail.append([l.action.id, c.id, c.version, c.document, c.article, c.titre, " ; ".join(c.references),
                           l.niveaux_de(c)])
    for cellule in detail[1]:
        cellule.font = Font(bold=True)
    for colonne, largeur in zip("ABCDEFGH", (8, 32, 8, 8, 22, 50, 60, 30)):
        detail.column_dimensions[colonne].width = largeur
    detail.freeze_panes = "A2"
    fixe = dt.datetime(2020, 1, 1)
    classeur.properties.created = fixe
    classeur.properties.modified = fixe
    tampon = io.BytesIO()
    classeur.save(tampon)
    return _classeur_reproductible(tampon.getvalue())


def _classeur_reproductible(contenu: bytes) -> bytes:
    """Mêmes données → mêmes octets, comme les pièces Word : openpyxl date le classeur de l'enregistrement."""
    import re
    import zipfile

    from ..donnees.fichiers import rezipper

    entree = zipfile.ZipFile(io.BytesIO(contenu))
    sortie = io.BytesIO()
    with zipfile.ZipFile(sortie, "w", zipfile.ZIP_DEFLATED) as z:
        for nom in entree.namelist():
            donnees = entree.read(nom)
            if nom == "docProps/core.xml":
                donnees = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2020-01-01T00:00:00Z", donnees)
            z.writestr(nom, donnees)
    return rezipper(sortie.getvalue())
