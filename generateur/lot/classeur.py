"""Classeur du bilan SPASER (openpyxl) : une feuille par indicateur, et la feuille des consultations.

Chaque chiffre est suivi des références des consultations qui le fondent : on retrouve toute valeur
dans la feuille « Consultations », une ligne par fichier de réponses, et dans la feuille « Lots », une ligne par
lot (chaque lot est un marché, déclaré à part dans les données essentielles) : les indicateurs se comptent aussi
en lots et en montant estimé.
"""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from .bilan import Bilan, Consultation, Indicateur, LotBilan, Mesure

ENTETE = PatternFill("solid", fgColor="1F4E79")
POURCENT = "0.0%"
EUROS = '#,##0.00 "€"'
ENTIER = "#,##0"
LARGEUR_MAX = 60


def _refs(consultations: list[Consultation]) -> str:
    return ", ".join(c.reference for c in consultations)


def _refs_lots(lots: list[tuple[Consultation, LotBilan]]) -> str:
    """« C4 lot 1, C4 lot 2 »."""
    return ", ".join(f"{c.reference} lot {l.numero}" for c, l in lots)


def _en_lots(m: Mesure) -> list[Any]:
    """Lots considérés, lots comptés, part des lots, montant considéré, montant compté, part du montant."""
    return [len(m.lots), len(m.lots_comptes), _fraction(m.part_lots), m.montant, m.montant_compte,
            _fraction(m.part_montant)]


EN_LOTS = ["Lots considérés", "Lots comptés", "Part des lots", "Montant considéré (€ HT)", "Montant compté (€ HT)",
           "Part du montant"]


def _oui_non(valeur: bool) -> str:
    return "oui" if valeur else "non"


def _feuille(classeur: Workbook, titre: str, entetes: list[str], lignes: list[list[Any]],
             formats: dict[int, str] | None = None) -> None:
    """Tableau avec en-tête figé, filtre automatique et largeurs adaptées."""
    feuille = classeur.create_sheet(titre[:31])
    feuille.append(entetes)
    for cellule in feuille[1]:
        cellule.font = Font(bold=True, color="FFFFFF")
        cellule.fill = ENTETE
        cellule.alignment = Alignment(wrap_text=True, vertical="top")
    for ligne in lignes:
        feuille.append(ligne)
    for colonne, format_ in (formats or {}).items():
        for (cellule,) in feuille.iter_rows(min_row=2, min_col=colonne, max_col=colonne):
            cellule.number_format = format_
    for i, entete in enumerate(entetes, start=1):
        longueur = max([len(str(entete))] + [len(str(l[i - 1])) for l in lignes if i - 1 < len(l) and l[i - 1] is not None])
        feuille.column_dimensions[get_column_letter(i)].width = min(LARGEUR_MAX, max(10, longueur + 2))
    feuille.freeze_panes = "A2"
    feuille.auto_filter.ref = feuille.dimensions


def _fraction(part: float | None) -> float | None:
    return None if part is None else part / 100


def _lignes_indicateur(indicateur: Indicateur) -> tuple[list[str], list[list[Any]], dict[int, str]]:
    if indicateur.genre == "part":
        entetes = ["Année", "Consultations considérées", "Consultations comptées", "Part", "Cible de l'année",
                   "Écart à la cible (points)", "Références comptées", "Références non comptées", *EN_LOTS,
                   "Lots comptés (références)"]
        lignes = [[a, len(m.population), len(m.comptees), _fraction(m.part), _fraction(m.cible),
                   None if m.cible is None or m.part is None else round(m.part - m.cible, 1),
                   _refs(m.comptees), _refs([c for c in m.population if c not in m.comptees]), *_en_lots(m),
                   _refs_lots(m.lots_comptes)]
                  for a, m in sorted(indicateur.mesures.items())]
        return entetes, lignes, {4: POURCENT, 5: POURCENT, 11: POURCENT, 12: EUROS, 13: EUROS, 14: POURCENT}
    heures = indicateur.unite == "heures"
    unite = "Heures" if heures else "Montant (€ HT)"
    entetes = ["Année", unite, "Consultations concernées", "Détail par consultation", "Lots concernés",
               "Détail par lot"]
    lignes = [[a, m.total, len(m.comptees),
               ", ".join(f"{c.reference}\u00a0: {c.heures_insertion if heures else c.montant_commerce_equitable}"
                         for c in m.comptees),
               len(m.lots_comptes),
               ", ".join(f"{c.reference} lot {l.numero}\u00a0: {l.heures_insertion if heures else l.montant_commerce_equitable}"
                         for c, l in m.lots_comptes)]
              for a, m in sorted(indicateur.mesures.items())]
    return entetes, lignes, {2: ENTIER if heures else EUROS}


NOMS_FEUILLES = {
    "consideration_environnementale": "Considération env.",
    "critere_environnemental": "Critère env.",
    "clause_sociale": "Clause sociale",
    "consideration_sociale": "Considération sociale",
    "marches_reserves": "Marchés réservés",
    "allotissement": "Allotissement",
    "spaser_au_dela_du_droit": "SPASER au-delà du droit",
    "heures_insertion": "Heures d'insertion",
    "commerce_equitable": "Commerce équitable",
}


def classeur(bilan: Bilan) -> bytes:
    """Le classeur complet, en mémoire."""
    wb = Workbook()
    synthese = wb.active
    synthese.title = "Synthèse"
    entetes = ["Indicateur", "Année", "Valeur", "Unité", "Consultations considérées", "Consultations comptées",
               "Cible de l'année", "Définition", "Cible de la politique", *EN_LOTS]
    synthese.append(entetes)
    for i in bilan.indicateurs:
        for a, m in sorted(i.mesures.items()):
            part = i.genre == "part"
            synthese.append([i.libelle, a, _fraction(m.part) if part else m.total,
                             "part" if part else ("heures" if i.unite == "heures" else "€ HT"),
                             len(m.population), len(m.comptees), _fraction(m.cible), i.definition, i.cible_libelle,
                             *_en_lots(m)])
            synthese.cell(synthese.max_row, 3).number_format = POURCENT if part else (
                ENTIER if i.unite == "heures" else EUROS)
            for colonne, format_ in ((7, POURCENT), (12, POURCENT), (13, EUROS), (14, EUROS), (15, POURCENT)):
                synthese.cell(synthese.max_row, colonne).number_format = format_
    for cellule in synthese[1]:
        cellule.font = Font(bold=True, color="FFFFFF")
        cellule.fill = ENTETE
    for lettre, largeur in zip("ABCDEFGHIJKLMNO", (58, 8, 14, 8, 14, 14, 12, 60, 60, 10, 10, 10, 16, 16, 10)):
        synthese.column_dimensions[lettre].width = largeur
    synthese.freeze_panes = "A2"

    for i in bilan.indicateurs:
        entetes_i, lignes, formats = _lignes_indicateur(i)
        _feuille(wb, NOMS_FEUILLES.get(i.id, i.id), entetes_i, lignes, formats)

    _feuille(wb, "Chantiers",
             ["Année", "Axe", "Chantier", "Intitulé du chantier", "Consultations de l'année",
              "Mettant en œuvre le chantier au-delà du droit", "Part", "Dont considération environnementale", "Part",
              "Dont critère environnemental", "Part", "Références", "Par obligations légales seulement", "Part",
              "Références (obligations légales seules)"],
             [[c["annee"], c["axe"], c["chantier"], c["titre"], c["consultations"], len(c["mettent_en_oeuvre"]),
               len(c["mettent_en_oeuvre"]) / c["consultations"] if c["consultations"] else None,
               len(c["consideration_environnementale"]),
               len(c["consideration_environnementale"]) / len(c["mettent_en_oeuvre"]) if c["mettent_en_oeuvre"] else None,
               len(c["critere_environnemental"]),
               len(c["critere_environnemental"]) / len(c["mettent_en_oeuvre"]) if c["mettent_en_oeuvre"] else None,
               _refs(c["mettent_en_oeuvre"]), len(c["obligations_legales_seules"]),
               len(c["obligations_legales_seules"]) / c["consultations"] if c["consultations"] else None,
               _refs(c["obligations_legales_seules"])] for c in bilan.chantiers],
             {7: POURCENT, 9: POURCENT, 11: POURCENT, 14: POURCENT})

    par_annee = {a: sum(1 for c in bilan.consultations if c.annee == a) for a in bilan.annees}
    lots_par_annee = {a: sum(c.lots for c in bilan.consultations if c.annee == a) for a in bilan.annees}
    _feuille(wb, "DECP", ["Année", "Champ", "Valeur", "Consultations", "Part", "Références", "Lots",
                          "Part des lots", "Lots (références)"],
             [[d["annee"], d["champ"], d["valeur"], len(d["consultations"]),
               len(d["consultations"]) / par_annee[d["annee"]], _refs(d["consultations"]), len(d["lots"]),
               len(d["lots"]) / lots_par_annee[d["annee"]], _refs_lots(d["lots"])] for d in bilan.decp],
             {5: POURCENT, 8: POURCENT})

    _feuille(wb, "Consultations",
             ["Fichier", "Référence", "Objet", "Date de lancement", "Année", "Nature", "Famille d'achat", "Procédure",
              "Montant estimé (€ HT)", "Lots", "Allotie", "Considération environnementale", "Critère environnemental",
              "Considération sociale", "Clause sociale", "Marché réservé", "Heures d'insertion",
              "Commerce équitable", "Montant commerce équitable (€ HT)", "considerationsSociales",
              "considerationsEnvironnementales", "Actions SPASER mises en œuvre au-delà du droit",
              "Chantiers (au-delà du droit)", "Actions SPASER par obligations légales seulement",
              "Chantiers (obligations légales seules)", "Obligations non respectées"],
             [[c.fichier, c.reference, c.objet, c.date_lancement, c.annee, c.nature, c.categorie, c.procedure,
               c.montant_total, c.lots, _oui_non(c.allotie), _oui_non(c.consideration_environnementale),
               _oui_non(c.critere_environnemental), _oui_non(c.consideration_sociale), _oui_non(c.clause_sociale),
               _oui_non(c.marche_reserve), c.heures_insertion, _oui_non(c.commerce_equitable),
               c.montant_commerce_equitable, " ; ".join(c.decp_sociales), " ; ".join(c.decp_environnementales),
               ", ".join(c.actions), ", ".join(str(ch) for _, ch in c.chantiers),
               ", ".join(c.actions_obligations), ", ".join(str(ch) for _, ch in c.chantiers_obligations),
               ", ".join(c.obligations_non_respectees)] for c in bilan.consultations],
             {4: "DD/MM/YYYY", 9: EUROS, 17: ENTIER, 19: EUROS})

    _feuille(wb, "Lots",
             ["Fichier", "Référence", "Année", "Lot", "Intitulé du lot", "Montant estimé (€ HT)", "Allotie",
              "Considération environnementale", "Critère environnemental", "Considération sociale", "Clause sociale",
              "Marché réservé", "Heures d'insertion", "Commerce équitable", "Montant commerce équitable (€ HT)",
              "considerationsSociales", "considerationsEnvironnementales", "SPASER au-delà du droit"],
             [[c.fichier, c.reference, c.annee, l.numero, l.intitule, l.montant, _oui_non(c.allotie),
               _oui_non(l.consideration_environnementale), _oui_non(l.critere_environnemental),
               _oui_non(l.consideration_sociale), _oui_non(l.clause_sociale), _oui_non(l.marche_reserve),
               l.heures_insertion, _oui_non(l.commerce_equitable), l.montant_commerce_equitable,
               " ; ".join(l.decp_sociales), " ; ".join(l.decp_environnementales), _oui_non(bool(c.actions))]
              for c in bilan.consultations for l in c.detail_lots],
             {6: EUROS, 13: ENTIER, 15: EUROS})
    tampon = io.BytesIO()
    wb.save(tampon)
    return tampon.getvalue()
