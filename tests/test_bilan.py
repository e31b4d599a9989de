"""Bilan SPASER d'un dossier : chaque indicateur comparé à un décompte fait à la main, consultation par consultation."""

from __future__ import annotations

import re
import subprocess
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from conftest import EXEMPLES, RACINE, Lu, convertir_pdf, ecrire, reponses, soffice
from generateur.interfaces.cli import main

PRIX_ENV = [{"intitule": "Prix", "ponderation": 60, "type": "prix"},
            {"intitule": "Performance environnementale", "ponderation": 40, "type": "environnemental"}]
INSERTION = {"insertion": {"actif": True, "facilitateur": "PLIE"}}  # 5 % des heures, 30 € de l'heure (politique)

# Huit consultations de la Région : de part et d'autre du 22 août 2026, du seuil européen (216 000 € HT en
# fournitures et services en 2026) et du seuil de 100 000 € HT de la cible « clause sociale ».
CONSULTATIONS = {
    # 2025 ------------------------------------------------------------------------------------------------------
    # C1 : 180 000 € HT en 2 lots, critère environnemental, aucune considération sociale.
    "2025/c1.yaml": dict(reference="C1", date_lancement="2025-03-10", date_limite_offres="2025-04-30 12:00",
                         criteres=PRIX_ENV),
    # C2 : nettoyage, 300 000 € HT, insertion : 300 000 × 60 % × 5 % ÷ 30 = 300 h ; prix et valeur technique seuls.
    "2025/c2.yaml": dict(reference="C2", date_lancement="2025-09-15", date_limite_offres="2025-11-02 12:00",
                         nature="services", categorie="nettoyage", cpv="90910000-9", spaser=INSERTION,
                         lots=[{"numero": 1, "intitule": "Bureaux", "montant_estime": 300000}],
                         criteres=[{"intitule": "Prix", "ponderation": 70, "type": "prix"},
                                   {"intitule": "Valeur technique", "ponderation": 30, "type": "technique"}]),
    # 2026 ------------------------------------------------------------------------------------------------------
    # C3 : lancée le 20 août 2026 (avant la loi Climat), 80 000 € HT, critère unique du prix.
    "2026/c3.yaml": dict(reference="C3", date_lancement="2026-08-20", date_limite_offres="2026-10-01 12:00",
                         categorie="mobilier", cpv="39100000-3",
                         lots=[{"numero": 1, "intitule": "Chaises", "montant_estime": 80000}],
                         criteres=[{"intitule": "Prix", "ponderation": 100, "type": "prix"}]),
    # C4 : lancée le 22 août 2026, 300 000 € HT ≥ seuil européen, 2 lots avec insertion (200 h + 100 h), critère social.
    "2026/c4.yaml": dict(reference="C4", date_lancement="2026-08-22", date_limite_offres="2026-10-05 12:00",
                         nature="services", categorie="autre", cpv="79000000-4", spaser=INSERTION,
                         lots=[{"numero": 1, "intitule": "Accueil", "montant_estime": 200000},
                               {"numero": 2, "intitule": "Courrier", "montant_estime": 100000}],
                         criteres=[{"intitule": "Prix", "ponderation": 50, "type": "prix"},
                                   {"intitule": "Environnement", "ponderation": 30, "type": "environnemental"},
                                   {"intitule": "Insertion", "ponderation": 20, "type": "social"}]),
    # C5 : denrées, 150 000 € HT, café et thé du commerce équitable.
    "2026/c5.yaml": dict(reference="C5", date_lancement="2026-11-02", date_limite_offres="2026-12-15 12:00",
                         categorie="restauration_collective", cpv="15000000-8", criteres=PRIX_ENV,
                         lots=[{"numero": 1, "intitule": "Épicerie", "montant_estime": 150000, "taux_tva": 5.5}],
                         spaser={"commerce_equitable": {"actif": True, "produits": ["cafe", "the"]}}),
    # C6 : 250 000 € HT ≥ seuil européen, sans clause sociale, absence justifiée (L2112-2-1).
    "2026/c6.yaml": dict(reference="C6", date_lancement="2026-12-01", date_limite_offres="2027-01-15 12:00",
                         nature="services", categorie="autre", cpv="79000000-4", criteres=PRIX_ENV,
                         lots=[{"numero": 1, "intitule": "Études", "montant_estime": 250000}],
                         justifications={"absence_clause_sociale": "Études confiées à des experts, sans main-d'œuvre."}),
    # C7 : 130 000 € HT réservés aux structures d'insertion (L2113-13).
    "2026/c7.yaml": dict(reference="C7", date_lancement="2026-10-05", date_limite_offres="2026-11-20 12:00",
                         nature="services", categorie="espaces_verts", cpv="77310000-6", criteres=PRIX_ENV,
                         lots=[{"numero": 1, "intitule": "Tonte", "montant_estime": 130000}],
                         spaser={"reserve": "siae"}),
    # 2027 ------------------------------------------------------------------------------------------------------
    # C8 : travaux, 250 000 € HT, insertion : 250 000 × 50 % × 5 % ÷ 30 = 208,3 → 209 h.
    "2027/travaux/c8.yaml": dict(reference="C8", date_lancement="2027-02-01", date_limite_offres="2027-03-15 12:00",
                                 nature="travaux", categorie="batiment", cpv="45454000-4", delai_garantie_mois=12,
                                 spaser=INSERTION, criteres=PRIX_ENV,
                                 lots=[{"numero": 1, "intitule": "Toiture", "montant_estime": 250000}]),
}

# Décompte fait à la main d'après les commentaires ci-dessus : (comptées, considérées) par année.
ATTENDU = {
    "consideration_environnementale": {2025: (2, 2), 2026: (5, 5), 2027: (1, 1)},  # condition environnementale partout
    "critere_environnemental": {2025: (1, 2), 2026: (4, 5), 2027: (1, 1)},         # tous sauf C2 et C3
    "clause_sociale": {2025: (1, 2), 2026: (3, 4), 2027: (1, 1)},  # > 100 000 € HT : sans C3 ; clause : C2, C4, C5, C7, C8
    "consideration_sociale": {2025: (1, 2), 2026: (3, 5), 2027: (1, 1)},
    "marches_reserves": {2025: (0, 2), 2026: (1, 5), 2027: (0, 1)},
    "allotissement": {2025: (1, 2), 2026: (1, 5), 2027: (0, 1)},
    # avance de la politique de la Région (15 %, 20 % pour les PME, au-delà du minimum légal : action 11.4)
    "spaser_au_dela_du_droit": {2025: (2, 2), 2026: (5, 5), 2027: (1, 1)},
}
CIBLES = {"consideration_environnementale": {2025: 100, 2026: 100, 2027: 100},
          "critere_environnemental": {2025: 5, 2026: 10, 2027: 10},
          "clause_sociale": {2025: 20, 2026: 30, 2027: 30}}  # 2027 : dernière cible fixée (30 % en 2026)
HEURES = {2025: 300, 2026: 300, 2027: 209}
EQUITABLE = {2025: 0, 2026: 150000, 2027: 0}


@pytest.fixture(scope="module")
def dossier(tmp_path_factory) -> Path:
    racine = tmp_path_factory.mktemp("consultations")
    for chemin, modifs in CONSULTATIONS.items():
        (racine / chemin).parent.mkdir(parents=True, exist_ok=True)
        ecrire((racine / chemin).parent, reponses(**modifs), Path(chemin).name)
    (racine / "notes.txt").write_text("pas un fichier de réponses", encoding="utf-8")
    return racine


@pytest.fixture(scope="module")
def bilan(dossier, tmp_path_factory):
    """Les bilans du dossier (bibliothèque) et leurs fichiers écrits."""
    from generateur.lot.bilan import bilans
    from generateur.lot.rapport_bilan import ecrire as ecrire_bilan

    sortie = tmp_path_factory.mktemp("bilan")
    resultats = bilans(dossier, RACINE)
    ecrire_bilan(resultats, sortie, RACINE)
    return {b.acheteur.id: b for b in resultats}, sortie


def test_indicateurs_egaux_au_decompte_manuel(bilan):
    bilans, _ = bilan
    assert sorted(bilans) == ["occitanie"]
    b = bilans["occitanie"]
    assert b.annees == [2025, 2026, 2027]
    assert [c.reference for c in b.consultations] == ["C1", "C2", "C3", "C4", "C7", "C5", "C6", "C8"]
    for ident, par_annee in ATTENDU.items():
        for annee, (comptees, considerees) in par_annee.items():
            m = b.indicateur(ident).mesures[annee]
            assert (len(m.comptees), len(m.population)) == (comptees, considerees), (ident, annee)
    for ident, par_annee in CIBLES.items():
        assert {a: b.indicateur(ident).mesures[a].cible for a in par_annee} == par_annee, ident
    assert {a: m.total for a, m in b.indicateur("heures_insertion").mesures.items()} == HEURES
    assert {a: m.total for a, m in b.indicateur("commerce_equitable").mesures.items()} == EQUITABLE
    sociale = b.indicateur("clause_sociale").mesures[2026]
    assert [c.reference for c in sociale.comptees] == ["C4", "C7", "C5"] and sociale.part == 75
    assert "C3" not in [c.reference for c in sociale.population]  # 80 000 € HT : hors de la cible
    decp = {(d["annee"], d["valeur"]): [c.reference for c in d["consultations"]] for d in b.decp}
    assert decp[(2026, "Clause sociale")] == ["C4", "C7", "C5"]  # insertion, réservation (ccap-marche-reserve), équitable
    assert decp[(2026, "Critère social")] == ["C4"]
    assert decp[(2026, "Marché réservé")] == ["C7"]
    assert decp[(2026, "Pas de considération sociale")] == ["C3", "C6"]
    assert decp[(2026, "Critère environnemental")] == ["C4", "C7", "C5", "C6"]
    chantiers = {(c["annee"], c["chantier"]): [x.reference for x in c["mettent_en_oeuvre"]] for c in b.chantiers}
    assert chantiers[(2026, 8)] == ["C5"] and chantiers[(2025, 8)] == []   # commerce équitable
    # alimentation durable : C5 n'a pas retenu l'option ; ses spécifications EGalim sont une obligation légale,
    # comptée à part et jamais comme mise en œuvre
    assert chantiers[(2026, 5)] == []
    legales = {(c["annee"], c["chantier"]): [x.reference for x in c["obligations_legales_seules"]] for c in b.chantiers}
    assert legales[(2026, 5)] == ["C5"]
    # chantier 1 (considérations environnementales) : avant le 22 août 2026, le critère environnemental est un choix
    # (C1), mais un critère ne compte jamais seul, sans clause d'exécution qui met en œuvre la même action (règle de
    # comptage, docs/juriste.md) ; depuis, il est imposé (C4 à C8) : obligation légale seule
    assert chantiers[(2025, 1)] == [] and chantiers[(2026, 1)] == []
    assert legales[(2026, 1)] == ["C4", "C7", "C5", "C6"]
    assert all(not c.obligations_non_respectees for c in b.consultations)  # C6 : absence justifiée


def test_classeur_une_feuille_par_indicateur_et_les_lignes(bilan):
    _, sortie = bilan
    wb = load_workbook(sortie / "bilan-SPASER-occitanie.xlsx")
    assert wb.sheetnames == ["Synthèse", "Considération env.", "Critère env.", "Clause sociale",
                             "Considération sociale", "Marchés réservés", "Allotissement", "SPASER au-delà du droit",
                             "Heures d'insertion",
                             "Commerce équitable", "Chantiers", "DECP", "Consultations", "Lots"]
    sociale = {r[0]: r for r in wb["Clause sociale"].iter_rows(min_row=2, values_only=True)}
    assert sociale[2026][1:6] == (4, 3, 0.75, 0.30, 45.0)
    assert sociale[2026][6] == "C4, C7, C5" and sociale[2026][7] == "C6"
    assert wb["Heures d'insertion"]["B4"].value == 209
    lignes = list(wb["Consultations"].iter_rows(min_row=2, values_only=True))
    assert sorted(l[1] for l in lignes) == [f"C{i}" for i in range(1, 9)]
    assert {l[1]: l[0] for l in lignes}["C8"] == "2027/travaux/c8.yaml"
    # chaque chiffre se retrouve dans les lignes : recompte depuis la feuille « Consultations »
    entetes = [c.value for c in wb["Consultations"][1]]
    col = {nom: entetes.index(nom) for nom in ("Année", "Montant estimé (€ HT)", "Clause sociale", "Heures d'insertion")}
    recompte = [l for l in lignes if l[col["Année"]] == 2026 and l[col["Montant estimé (€ HT)"]] > 100000]
    assert (sum(l[col["Clause sociale"]] == "oui" for l in recompte), len(recompte)) == (3, 4)
    assert sum(l[col["Heures d'insertion"]] for l in lignes if l[col["Année"]] == 2027) == 209


def test_rapport_word_chiffres_et_graphiques(bilan):
    _, sortie = bilan
    lu = Lu(sortie / "bilan-SPASER-occitanie.docx")
    synthese = {l[0]: l[1:] for l in next(t for t in lu.tableaux if t[0][0] == "Indicateur")}
    assert synthese["Indicateur"] == ["2025", "2026", "2027"]
    assert synthese["Consultations de plus de 100\u00a0000,00\u00a0€\u00a0HT avec une clause sociale"] == [
        "50\u00a0% (1 sur 2)", "75\u00a0% (3 sur 4)", "100\u00a0% (1 sur 1)"]
    assert synthese["Consultations avec un critère d’attribution environnemental"][1] == "80\u00a0% (4 sur 5)"
    assert synthese["Heures d’insertion prévues"] == ["300 heures", "300 heures", "209 heures"]
    assert synthese["Montant des consultations exigeant des produits du commerce équitable"][1] == "150\u00a0000,00\u00a0€\u00a0HT"
    assert "20\u00a0% en 2025, 30\u00a0% en 2026 et 35\u00a0% en 2028" in lu.texte  # trajectoire lue dans acheteur.yaml
    assert "cible 30\u00a0%\u00a0: atteinte" in lu.texte  # 2027 : 100 % pour une cible de 30 %
    # en lots et en montant : 2026, clause sociale, lots de C4 (2), C7, C5 sur ceux de C4, C7, C5 et C6
    en_lots = {(l[0], l[1]): l[2:] for l in next(t for t in lu.tableaux if t[0][0] == "Indicateur en lots")}
    assert en_lots[("Consultations de plus de 100\u00a0000,00\u00a0€\u00a0HT avec une clause sociale", "2026")] == [
        "4 sur 5 (80\u00a0%)", "580\u00a0000,00\u00a0€\u00a0HT sur 830\u00a0000,00\u00a0€\u00a0HT (69,9\u00a0%)"]
    # quatre graphiques PNG, en pleine largeur (16 cm) et à 150 points par pouce
    assert len(lu.doc.inline_shapes) == 4
    for forme in lu.doc.inline_shapes:
        assert abs(forme.width.mm - 160) < 1
    with zipfile.ZipFile(sortie / "bilan-SPASER-occitanie.docx") as z:
        images = [n for n in z.namelist() if n.startswith("word/media/")]
        assert len(images) == 4
        for nom in images:
            largeur = int.from_bytes(z.read(nom)[16:20], "big")  # en-tête IHDR du PNG
            assert largeur >= 900, nom


def test_bilan_d_une_annee(dossier, tmp_path):
    resultat = CliRunner().invoke(main, ["--catalogue", str(RACINE), "bilan", str(dossier), "--annee", "2025",
                                         "--acheteur", "occitanie", "-o", str(tmp_path)])
    assert resultat.exit_code == 0, resultat.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bilan-SPASER-occitanie-2025.docx",
                                                          "bilan-SPASER-occitanie-2025.xlsx"]
    wb = load_workbook(tmp_path / "bilan-SPASER-occitanie-2025.xlsx")
    assert [l[1] for l in wb["Consultations"].iter_rows(min_row=2, values_only=True)] == ["C1", "C2"]
    vide = CliRunner().invoke(main, ["--catalogue", str(RACINE), "bilan", str(dossier), "--annee", "2031",
                                     "-o", str(tmp_path / "vide")])
    assert vide.exit_code == 2 and "aucune consultation lancée en 2031" in vide.output
    assert not (tmp_path / "vide").exists()


def test_fichier_invalide_ou_reference_en_double(dossier, tmp_path):
    copie = tmp_path / "dossier"
    copie.mkdir()
    ecrire(copie, reponses(reference="X1"), "a.yaml")
    ecrire(copie, reponses(reference="X1"), "b.yaml")
    ecrire(copie, reponses(reference="X2", nature="bidule"), "c.yaml")
    resultat = CliRunner().invoke(main, ["--catalogue", str(RACINE), "bilan", str(copie), "-o", str(tmp_path / "s")])
    assert resultat.exit_code == 2, resultat.output
    assert "2 problèmes" in resultat.output
    assert "b.yaml" in resultat.output and "déjà utilisée par a.yaml" in resultat.output
    assert "c.yaml" in resultat.output and "bidule" in resultat.output
    assert not (tmp_path / "s").exists()


def test_exemples_bilan_decompte_a_la_main(tmp_path):
    """`dce bilan exemples/` : les chiffres de la Région recomptés à la main sur les trois exemples de 2026."""
    resultat = CliRunner().invoke(main, ["--catalogue", str(RACINE), "bilan", str(EXEMPLES), "-o", str(tmp_path)])
    assert resultat.exit_code == 0, resultat.output
    assert "Métropole Aix-Marseille-Provence\u00a0: 1\u00a0consultation, 2026." in resultat.output  # bilan à part
    assert (tmp_path / "bilan-SPASER-aix-marseille-provence.docx").is_file()
    wb = load_workbook(tmp_path / "bilan-SPASER-occitanie.xlsx")
    synthese = {r[0]: r for r in wb["Synthèse"].iter_rows(min_row=2, values_only=True)}
    # trois consultations de la Région en 2026, toutes au-delà de 100 000 € HT, chacune avec un critère
    # environnemental pondéré et une clause sociale (insertion pour les travaux et le nettoyage, commerce
    # équitable pour les denrées) ; deux sont alloties (5 lots chacune) ; le nettoyage est en lot unique.
    assert synthese["Consultations avec un critère d'attribution environnemental"][2:6] == (1, "part", 3, 3)
    assert synthese["Consultations de plus de 100\u00a0000,00\u00a0€\u00a0HT avec une clause sociale"][4:6] == (3, 3)
    assert synthese["Consultations alloties"][4:6] == (3, 2)
    # heures : travaux 1 209 + 780 + 245 + 216 + 720 = 3 170 ; nettoyage 1 380 000 × 80 % × 7 % ÷ 30 = 2 576
    assert synthese["Heures d'insertion prévues"][2] == 3170 + 2576
    # commerce équitable : les denrées des lycées, 1 840 000 + 1 260 000 + 980 000 + 2 600 000 + 600 000
    assert synthese["Montant des consultations exigeant des produits du commerce équitable"][2] == 7280000


@pytest.mark.skipif(soffice() is None, reason="LibreOffice absent (obligatoire sous CI=true)")
def test_rapport_s_ouvre_et_ses_graphiques_sont_sur_les_pages(bilan, tmp_path):
    _, sortie = bilan
    convertir_pdf([sortie / "bilan-SPASER-occitanie.docx"], tmp_path, tmp_path / "profil")
    pdf = tmp_path / "bilan-SPASER-occitanie.pdf"
    texte = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    for n in range(1, 5):
        assert f"Figure {n} –" in texte
    pages = texte.split("\f")
    assert re.search(r"Page 2 / \d+", pages[1])
    images = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert len([l for l in images.splitlines()[2:] if l.strip()]) >= 4


# --- Chaque chiffre se retrouve, lot par lot, dans le classeur ---------------------------------------------------

# Indicateur → colonne « oui / non » de la feuille « Lots » (une consultation compte si un de ses lots compte).
COLONNES_LOTS = {"consideration_environnementale": "Considération environnementale",
                 "critere_environnemental": "Critère environnemental", "clause_sociale": "Clause sociale",
                 "consideration_sociale": "Considération sociale", "marches_reserves": "Marché réservé",
                 "allotissement": "Allotie", "spaser_au_dela_du_droit": "SPASER au-delà du droit"}


def _feuille(wb, nom):
    lignes = list(wb[nom].iter_rows(values_only=True))
    return [dict(zip(lignes[0], l)) for l in lignes[1:]]


def recompter(wb) -> dict[tuple[str, int], tuple]:
    """Recompte chaque ligne de la synthèse depuis les feuilles « Lots » et « Consultations » seules."""
    lots, consultations = _feuille(wb, "Lots"), {c["Référence"]: c for c in _feuille(wb, "Consultations")}
    seuil = 100000  # politique.cibles.clause_sociale.montant_minimal de la Région
    resultat = {}
    for annee in sorted({l["Année"] for l in lots}):
        de_l_annee = [l for l in lots if l["Année"] == annee]
        for ident, colonne in COLONNES_LOTS.items():
            dans = [l for l in de_l_annee if ident != "clause_sociale"
                    or consultations[l["Référence"]]["Montant estimé (€ HT)"] > seuil]
            comptes = [l for l in dans if l[colonne] == "oui"]
            resultat[(ident, annee)] = (len({l["Référence"] for l in dans}), len({l["Référence"] for l in comptes}),
                                        len(dans), len(comptes), sum(l["Montant estimé (€ HT)"] for l in dans),
                                        sum(l["Montant estimé (€ HT)"] for l in comptes))
        for ident, colonne in (("heures_insertion", "Heures d'insertion"),
                               ("commerce_equitable", "Montant commerce équitable (€ HT)")):
            resultat[(ident, annee)] = (sum(l[colonne] for l in de_l_annee),
                                        len({l["Référence"] for l in de_l_annee if l[colonne]}),
                                        len([l for l in de_l_annee if l[colonne]]))
    return resultat


def verifier_synthese_par_les_lots(chemin, libelles: dict[str, str]):
    """Chaque ligne de la synthèse (consultations, lots, montants, heures, euros) égale au recompte des lots."""
    wb = load_workbook(chemin)
    attendu = recompter(wb)
    vues = set()
    for ligne in _feuille(wb, "Synthèse"):
        cle = (libelles[ligne["Indicateur"]], ligne["Année"])
        vues.add(cle)
        if ligne["Unité"] == "part":
            assert (ligne["Consultations considérées"], ligne["Consultations comptées"], ligne["Lots considérés"],
                    ligne["Lots comptés"], ligne["Montant considéré (€ HT)"], ligne["Montant compté (€ HT)"]) \
                == attendu[cle], cle
        else:
            assert (ligne["Valeur"], ligne["Consultations comptées"], ligne["Lots comptés"]) == attendu[cle], cle
    assert vues == set(attendu)
    return wb


def test_chaque_chiffre_se_retrouve_lot_par_lot(bilan):
    bilans, sortie = bilan
    b = bilans["occitanie"]
    wb = verifier_synthese_par_les_lots(sortie / "bilan-SPASER-occitanie.xlsx", {i.libelle: i.id for i in b.indicateurs})
    lots = {(l["Référence"], l["Lot"]): l for l in _feuille(wb, "Lots")}
    assert len(lots) == 10  # C1 et C4 : deux lots chacune
    # C4 : insertion sur ses deux lots (200 h et 100 h), critère social pour tous les lots
    assert (lots[("C4", 1)]["Heures d'insertion"], lots[("C4", 2)]["Heures d'insertion"]) == (200, 100)
    assert lots[("C4", 2)]["considerationsSociales"] == "Clause sociale ; Critère social"
    assert lots[("C1", 2)]["considerationsSociales"] == "Pas de considération sociale"


# --- Commerce équitable : la variante du RC dit « non », le bilan aussi -------------------------------------------

DENREES = dict(categorie="restauration_collective", cpv="15000000-8", nature="fournitures",
               lots=[{"numero": 1, "intitule": "Épicerie", "montant_estime": 150000, "taux_tva": 5.5},
                     {"numero": 2, "intitule": "Boissons", "montant_estime": 50000, "taux_tva": 5.5}])


def test_commerce_equitable_compte_ce_que_disent_les_pieces(tmp_path, generer):
    """Sans commerce équitable imposé, le RC propose une variante équitable (clause qui lit la réponse, fausse) :
    rien n'est compté. Imposé, les deux lots (200 000 € HT) le sont."""
    non = reponses(reference="SANS", variantes={"autorisees": True}, **DENREES)
    oui = reponses(reference="AVEC", spaser={"commerce_equitable": {"actif": True, "produits": ["cafe"]}}, **DENREES)
    docs, _ = generer(non)
    assert "Le dossier de consultation n’impose pas de produits issus du commerce équitable" in docs["RC"].texte
    docs, _ = generer(oui)
    assert "condition relative au commerce équitable" in docs["CCAP"].texte
    dossier = tmp_path / "dossier"
    dossier.mkdir()
    ecrire(dossier, non, "sans.yaml")
    ecrire(dossier, oui, "avec.yaml")
    resultat = CliRunner().invoke(main, ["--catalogue", str(RACINE), "bilan", str(dossier), "-o", str(tmp_path / "s")])
    assert resultat.exit_code == 0, resultat.output
    wb = load_workbook(tmp_path / "s" / "bilan-SPASER-occitanie.xlsx")
    consultations = {c["Référence"]: c for c in _feuille(wb, "Consultations")}
    assert consultations["SANS"]["Commerce équitable"] == "non"
    assert consultations["SANS"]["Montant commerce équitable (€ HT)"] == 0
    assert consultations["AVEC"]["Commerce équitable"] == "oui"
    assert consultations["AVEC"]["Montant commerce équitable (€ HT)"] == 200000
    equitable = _feuille(wb, "Commerce équitable")[0]
    assert (equitable["Montant (€ HT)"], equitable["Consultations concernées"], equitable["Lots concernés"]) == (
        200000, 1, 2)
    assert equitable["Détail par lot"] == "AVEC lot 1\u00a0: 150000, AVEC lot 2\u00a0: 50000"
    from generateur.lot.bilan import bilans
    (b,) = bilans(dossier, RACINE)
    verifier_synthese_par_les_lots(tmp_path / "s" / "bilan-SPASER-occitanie.xlsx",
                                   {i.libelle: i.id for i in b.indicateurs})


def test_clause_sociale_lot_par_lot(tmp_path):
    """Trois lots, insertion écartée sur le lot 2 : 2 lots sur 3 ont une clause sociale, pour 250 000 € HT sur 300 000."""
    dossier = tmp_path / "dossier"
    dossier.mkdir()
    ecrire(dossier, reponses(reference="L3", nature="services", categorie="nettoyage", cpv="90910000-9",
                             spaser=INSERTION, criteres=PRIX_ENV,
                             lots=[{"numero": 1, "intitule": "Nord", "montant_estime": 150000},
                                   {"numero": 2, "intitule": "Centre", "montant_estime": 50000, "insertion": False},
                                   {"numero": 3, "intitule": "Sud", "montant_estime": 100000}]), "l3.yaml")
    from generateur.lot.bilan import bilans
    (b,) = bilans(dossier, RACINE)
    m = b.indicateur("clause_sociale").mesures[2026]
    assert (len(m.comptees), len(m.population)) == (1, 1)
    assert [l.numero for _, l in m.lots_comptes] == [1, 3] and len(m.lots) == 3
    assert (m.montant_compte, m.montant) == (250000, 300000)
    decp = {d["valeur"]: [l.numero for _, l in d["lots"]] for d in b.decp}
    assert decp["Clause sociale"] == [1, 3] and decp["Pas de considération sociale"] == [2]


# --- Graphiques : rien ne dépasse, échelles entières, la cible ne barre pas les valeurs --------------------------

CHANTIERS = ["1. Insérer systématiquement des considérations environnementales dans les achats",
             "13. Développer les achats auprès du secteur de l'insertion par l'activité économique et du handicap",
             "8. Développer les achats de produits issus du commerce équitable"]


@pytest.fixture(scope="module")
def figures():
    """Chaque graphique, avec des valeurs ordinaires et avec des valeurs nulles, construit une fois."""
    import matplotlib.pyplot as plt
    from generateur.rendu import graphiques as g

    libelles = ["Consultations avec une considération environnementale",
                "Consultations de plus de 100 000,00 € HT avec une clause sociale", "Marchés réservés"]
    construites = {
        "parts": g.figure_parts_et_cibles([2025, 2026, 2027], [
            (libelles[0], [0, 100, 50], [5, 100, 45]), (libelles[1], [None, 0, 33.3], [10, 30, 30]),
            (libelles[2], [0, 0, 100], [None, None, None])]),
        "parts nulles": g.figure_parts_et_cibles([2026], [(l, [0], [10]) for l in libelles]),
        "chantiers": g.figure_barres_horizontales(CHANTIERS, [3, 0, 1], ["3 (100 %)", "0 (0 %)", "1 (33 %)"],
                                                  "Consultations mettant en œuvre le chantier"),
        "chantiers nuls": g.figure_barres_horizontales(CHANTIERS, [0, 0, 0], ["0 (0 %)"] * 3,
                                                       "Consultations mettant en œuvre le chantier"),
        "chantiers par niveau": g.figure_barres_horizontales(
            CHANTIERS, [3, 0, 1], ["3 (100 %)", "0 (0 %)", "1 (33 %)"], "Consultations",
            seconde=("Mise en œuvre au-delà du droit", "Obligations légales seules", [0, 3, 2],
                     ["0 (0 %)", "3 (100 %)", "2 (67 %)"])),
        "sommes": g.figure_deux_sommes([2025, 2026, 2027], [300, 5746, 209], [0, 6302000, 0]),
        "sommes nulles": g.figure_deux_sommes([2025, 2026], [0, 0], [0, 0]),
    }
    yield construites
    for figure in construites.values():
        plt.close(figure)


def test_graphiques_rien_ne_depasse_et_graduations_entieres(figures):
    from matplotlib.text import Text

    for nom, figure in figures.items():
        figure.canvas.draw()
        rendu = figure.canvas.get_renderer()
        # tout ce qui est dessiné (textes, graduations, légende, titres d'axe) tient dans l'image
        largeur, hauteur = figure.get_size_inches()
        dessin = figure.get_tightbbox(rendu)
        assert dessin.x0 >= 0 and dessin.y0 >= 0 and dessin.x1 <= largeur and dessin.y1 <= hauteur, (nom, dessin)
        textes = [t for t in figure.findobj(Text) if t.get_visible() and t.get_text().strip()]
        assert any("Consultations" in t.get_text() or "Heures" in t.get_text() for t in textes), nom
        for axe in figure.axes:
            boite = axe.get_window_extent(rendu)
            for t in axe.texts:  # étiquettes des barres : dans le cadre du graphique
                b = t.get_window_extent(rendu)
                assert boite.x0 - 1 <= b.x0 and b.x1 <= boite.x1 + 1 and b.y1 <= boite.y1 + 1, (nom, t.get_text())
            # graduations des comptes (tout sauf l'axe des parts en %) : entiers, sans doublon
            horizontal = nom.startswith("chantiers")
            if not nom.startswith("parts"):
                axis = axe.xaxis if horizontal else axe.yaxis
                bas, haut = axe.get_xlim() if horizontal else axe.get_ylim()
                graduations = [v for v in axis.get_majorticklocs() if bas <= v <= haut]
                etiquettes = [l.get_text() for l in axis.get_ticklabels() if l.get_text()]
                assert len(graduations) >= 2 and all(float(v).is_integer() for v in graduations), (nom, graduations)
                assert len(set(etiquettes)) == len(etiquettes), (nom, etiquettes)


def test_graphiques_la_cible_ne_barre_pas_la_valeur(figures):
    for nom in ("parts", "parts nulles"):
        figure = figures[nom]
        figure.canvas.draw()
        rendu = figure.canvas.get_renderer()
        (axe,) = figure.axes
        boites = [t.get_window_extent(rendu) for t in axe.texts]
        assert len(boites) == (9 if nom == "parts" else 3)
        demi_trait = 3 * figure.dpi / 72 / 2  # traits de 3 points d'épaisseur
        for nuage in axe.collections:
            for x, y in axe.transData.transform(nuage.get_offsets()):
                for b in boites:
                    if b.x0 <= x <= b.x1:
                        assert not (b.y0 - demi_trait < y < b.y1 + demi_trait), (nom, x, y, b)


def test_actions_et_chantiers_par_niveau_se_recomptent_dans_le_classeur(bilan):
    """Le rapport (article 3) et la feuille « Chantiers » se recomptent depuis la feuille « Consultations » : actions
    mises en œuvre au-delà du droit, et, à part, actions et chantiers touchés par les seules obligations légales."""
    _, sortie = bilan
    wb = load_workbook(sortie / "bilan-SPASER-occitanie.xlsx")
    consultations = _feuille(wb, "Consultations")

    def liste(c, colonne):
        return [x for x in (c[colonne] or "").split(", ") if x]
    mises = {a for c in consultations for a in liste(c, "Actions SPASER mises en œuvre au-delà du droit")}
    legales = {a for c in consultations for a in liste(c, "Actions SPASER par obligations légales seulement")} - mises
    assert "11.4" in mises and "9.2" not in mises      # avance de la politique ; le critère social de C4 ne compte
    # pas l'égalité professionnelle sans clause d'exécution qui la met en œuvre (règle de comptage, docs/juriste.md)
    assert "15.3" in legales and "9.2" not in legales  # remise électronique : obligation ; rc-probite : rappel
    avec = sum(1 for c in consultations if liste(c, "Actions SPASER mises en œuvre au-delà du droit"))
    cle = lambda i: [int(x) for x in i.split(".")]  # noqa: E731
    texte = Lu(sortie / "bilan-SPASER-occitanie.docx").texte
    assert (f"au-delà du droit de 2025 à 2027\u00a0: {len(mises)} ("
            + ", ".join(sorted(mises, key=cle)[:-1]) + f" et {sorted(mises, key=cle)[-1]}), par {avec} consultations "
            f"sur {len(consultations)}.") in texte
    assert f"la part due aux obligations légales\u00a0: {len(legales)} autres actions (" in texte
    for ligne in _feuille(wb, "Chantiers"):
        de_l_annee = [c for c in consultations if c["Année"] == ligne["Année"]]
        for colonne, colonne_consultations in (
                ("Mettant en œuvre le chantier au-delà du droit", "Chantiers (au-delà du droit)"),
                ("Par obligations légales seulement", "Chantiers (obligations légales seules)")):
            attendu = [c for c in de_l_annee if str(ligne["Chantier"]) in liste(c, colonne_consultations)]
            assert ligne[colonne] == len(attendu), (ligne["Année"], ligne["Chantier"], colonne)
