"""DCE publiable : AE, bordereau des prix, cadre de mémoire, PDF par LibreOffice, liste des pièces et archive.

LibreOffice n'est lancé que deux fois pour tout le module : une publication complète (toutes les pièces
converties en un passage) et un classeur rempli par un « candidat », converti en PDF/A pour relire les
totaux recalculés. Les autres tests relisent les pièces avec python-docx et openpyxl, ou remplacent
LibreOffice par un faux `soffice` pour les cas d'échec.
"""

from __future__ import annotations

import hashlib
import os
import stat
import io
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from openpyxl import load_workbook

from conftest import EXEMPLES, RACINE, Lu, ecrire, reponses, soffice
from generateur.donnees.formats import typographie
from generateur.pieces import acte_engagement, memoire
from generateur.rendu import classeur_prix, pdf, publication
from generateur.pieces.blocs import Tableau, Titre, texte
from generateur.erreurs import ErreurDCE, ErreurDonnees
from generateur.donnees.formats import nombre, pourcent
from generateur.droit.regles import preparer

NB = "\u00a0"


def _analyse(tmp_path: Path, **modifs):
    return preparer(ecrire(tmp_path, reponses(**modifs)), RACINE)


def _exiger_libreoffice() -> None:
    if soffice() is None:
        pytest.skip("LibreOffice absent sur ce poste (obligatoire sous CI=true)")


@pytest.fixture(scope="module")
def publie(tmp_path_factory):
    """L'exemple des travaux du lycée, publié une fois pour le module (un seul passage de LibreOffice)."""
    _exiger_libreoffice()
    sortie = tmp_path_factory.mktemp("publication")
    return publication.publier(EXEMPLES / "travaux-lycee.yaml", sortie, RACINE)


def _texte_pdf(chemin: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(chemin), "-"], capture_output=True, text=True,
                          check=True).stdout


# -- publication complète (LibreOffice)

def test_chaque_piece_en_word_ou_excel_et_en_pdf(publie):
    analyse = publie.analyse
    noms = [p.fichier.name for p in publie.pieces]
    base = "2026-TRX-0417"
    attendus = [f"{base}-RC.docx"] + [f"{base}-AE-lot-{n}.docx" for n in range(1, 6)] + [
        f"{base}-CCAP.docx", f"{base}-CCTP.docx", f"{base}-DPGF.xlsx", f"{base}-cadre-memoire-technique.docx"]
    assert noms[:len(attendus)] == attendus
    ecrits = {n for n, c in publie.generation.fichiers.items() if c.suffix in (".docx", ".xlsx")}
    internes = {p.fichier.name for p in publie.internes}
    assert ecrits <= set(noms) | internes  # tout ce que `generer` écrit est publié, dans l'un des deux dossiers
    assert {f"{base}-annexe-conformite.docx", f"{base}-tracabilite-SPASER.docx"} <= internes
    assert not internes & set(noms)
    assert not any(n.endswith(".json") for n in noms)
    for p in publie.pieces:
        if p.genre == "acheteur":  # pièce jointe par l'acheteur : publiée telle quelle
            assert p.pdf is None and p.fichier.name.startswith(f"{base}-piece-")
            continue
        assert p.pdf is not None and p.pdf.name == p.fichier.stem + ".pdf"
        contenu = p.pdf.read_bytes()
        assert contenu.startswith(b"%PDF") and len(contenu) > 5000, p.pdf.name
    if shutil.which("pdftotext"):
        assert "Lot 5 – Chauffage, ventilation et plomberie" in _texte_pdf(
            next(p.pdf for p in publie.pieces if p.fichier.suffix == ".xlsx"))
        ae = _texte_pdf(next(p.pdf for p in publie.pieces if p.fichier.name.endswith("AE-lot-2.docx")))
        assert "Je renonce au bénéfice de l’avance" in ae and str(analyse.contexte["reference"]) in ae


def test_liste_des_pieces_et_archive(publie):
    assert publie.archive.name == "2026-TRX-0417-DCE.zip"
    archive = zipfile.ZipFile(publie.archive)
    liste = publication.lire_liste(publie.liste.read_bytes())
    assert archive.namelist() == [l["Fichier"] for l in liste] + [publie.liste.name]
    for ligne in liste:
        contenu = archive.read(ligne["Fichier"])
        assert hashlib.sha256(contenu).hexdigest() == ligne["SHA-256"], ligne["Fichier"]
        assert int(ligne["Taille (octets)"]) == len(contenu)
        assert contenu == (publie.liste.parent / ligne["Fichier"]).read_bytes()
    formats = {}
    for ligne in liste:
        formats.setdefault(ligne["Pièce"], set()).add(ligne["Format"])
    jointes = {p.libelle for p in publie.pieces if p.genre == "acheteur"}
    assert len(jointes) == 3 and all(formats[j] == {"PDF"} for j in jointes)
    assert all(f in ({"DOCX", "PDF"}, {"XLSX", "PDF"}) for n, f in formats.items() if n not in jointes), formats
    assert "Acte d'engagement – lot 3" in formats and "Cadre de mémoire technique" in formats
    assert all(i.date_time == (2020, 1, 1, 0, 0, 0) for i in archive.infolist())
    fichiers = [publie.liste.parent / l["Fichier"] for l in liste] + [publie.liste]
    assert publication.archiver(fichiers) == publie.archive.read_bytes()  # mêmes pièces, mêmes octets


INTERNES = ("annexe-conformite", "tracabilite", "manifeste", "reponses", "DECP")


def test_deux_dossiers_deux_archives(publie):
    """L'archive publique ne contient que ce que voient les candidats, dont chaque pièce que le RC annonce ;
    l'archive interne, l'annexe, la fiche, le manifeste et les réponses ; chacune avec sa liste et ses empreintes."""
    base = "2026-TRX-0417"
    public = zipfile.ZipFile(publie.archive)
    interne = zipfile.ZipFile(publie.archive_interne)
    assert publie.archive_interne.name == f"{base}-interne.zip" and publie.archive.parent == publie.archive_interne.parent
    assert not [n for n in public.namelist() if any(mot in n for mot in INTERNES)], public.namelist()
    noms_internes = interne.namelist()
    for attendu in (f"{base}-annexe-conformite.docx", f"{base}-annexe-conformite.pdf", f"{base}-annexe-conformite.json",
                    f"{base}-tracabilite-SPASER.docx", f"{base}-tracabilite-SPASER.pdf", f"{base}-manifeste.json",
                    f"{base}-reponses.yaml", f"{base}-DECP-lot-1.json", f"{base}-liste-des-pieces-internes.csv"):
        assert attendu in noms_internes, attendu
    assert not set(noms_internes) & set(public.namelist())
    assert interne.read(f"{base}-reponses.yaml") == (EXEMPLES / "travaux-lycee.yaml").read_bytes()
    liste = publication.lire_liste(interne.read(f"{base}-liste-des-pieces-internes.csv"))
    assert [l["Fichier"] for l in liste] + [f"{base}-liste-des-pieces-internes.csv"] == noms_internes
    for ligne in liste:
        assert hashlib.sha256(interne.read(ligne["Fichier"])).hexdigest() == ligne["SHA-256"]
    # le dossier public sur disque est l'archive publique ; le dossier interne, l'archive interne
    assert sorted(p.name for p in publie.dossier.iterdir()) == sorted(public.namelist())
    assert sorted(p.name for p in publie.dossier_interne.iterdir()) == sorted(noms_internes)
    # chaque pièce jointe par l'acheteur est dans l'archive publique, à l'octet, et le RC l'annonce
    rc = Lu(publie.dossier / f"{base}-RC.docx")
    contenu = rc.texte
    for jointe in publie.analyse.contexte["pieces_acheteur"]:
        nom = f"{base}-piece-{Path(jointe['fichier']).stem}.pdf"
        assert public.read(nom) == (EXEMPLES / jointe["fichier"]).read_bytes(), nom
        assert typographie(f"la pièce « {jointe['titre']} »") in contenu, jointe["titre"]
    assert "pièces graphiques, les diagnostics techniques disponibles" not in rc.texte
    liste_publique = publication.lire_liste(public.read(f"{base}-liste-des-pieces.csv"))
    assert "Rapport de repérage de l'amiante avant travaux" in {l["Pièce"] for l in liste_publique}


def test_pdf_accessibles_langue_titre_et_structure(publie):
    """Chaque PDF est balisé (structure lisible par un lecteur d'écran), déclare le français et le titre de la
    pièce ; le RC a ses titres et ses tableaux dans la structure ; le bordereau s'imprime en paysage."""
    pikepdf = pytest.importorskip("pikepdf")
    for p in publie.pieces + publie.internes:
        if p.pdf is None:
            continue
        with pikepdf.open(p.pdf) as document:
            assert str(document.Root.Lang) == "fr-FR", p.pdf.name
            assert bool(document.Root.MarkInfo.Marked) and "/StructTreeRoot" in document.Root, p.pdf.name
            assert "2026-TRX-0417" in str(document.docinfo["/Title"]), p.pdf.name
            assert document.Root.ViewerPreferences.DisplayDocTitle, p.pdf.name
            if p.fichier.suffix == ".xlsx":
                largeur, hauteur = (float(x) for x in document.pages[0].mediabox[2:])
                assert largeur > hauteur  # paysage : les six colonnes à l'échelle 1
    rc = next(p.pdf for p in publie.pieces if p.fichier.name.endswith("-RC.docx"))
    if shutil.which("pdfinfo"):
        infos = subprocess.run(["pdfinfo", str(rc)], capture_output=True, text=True).stdout
        assert re.search(r"Tagged:\s+yes", infos) and "Title:           Règlement de la consultation" in infos
        structure = subprocess.run(["pdfinfo", "-struct", str(rc)], capture_output=True, text=True).stdout
        assert {"H1", "H2", "Table", "L", "LI"} <= set(re.findall(r"^\s*(\w+) \(block\)", structure, re.M))


def test_lignes_de_tableau_insecables_et_bordereau_imprimable(publie):
    """Une ligne de tableau ne se coupe pas entre deux pages et l'en-tête se répète (Word) ; le bordereau tient
    sur la largeur d'une page paysage et répète l'en-tête de ses colonnes (Excel)."""
    ccap = next(p.fichier for p in publie.pieces if p.fichier.name.endswith("-CCAP.docx"))
    xml = zipfile.ZipFile(ccap).read("word/document.xml").decode()
    lignes = re.findall(r"<w:tr>(.*?)</w:tr>", xml)
    assert lignes and all("<w:cantSplit/>" in l for l in lignes)
    tableaux = [t for t in re.findall(r"<w:tbl>(.*?)</w:tbl>", xml) if t.startswith("<w:tblPr><w:tblStyle")]  # hors modèle
    assert any("<w:tblHeader/>" in t for t in tableaux)
    for t in tableaux:  # un tableau court (barème…) est gardé sur une page : ses lignes, sauf la dernière
        rangees = re.findall(r"<w:tr>(.*?)</w:tr>", t)
        if len(rangees) <= 15:
            assert ["<w:keepNext/>" in r for r in rangees] == [True] * (len(rangees) - 1) + [False], t[:200]
    classeur = load_workbook(next(p.fichier for p in publie.pieces if p.fichier.suffix == ".xlsx"))
    for ws in classeur.worksheets:
        assert ws.page_setup.orientation == "landscape" and ws.page_setup.fitToWidth == 1
        assert ws.page_setup.fitToHeight == 0 and ws.sheet_properties.pageSetUpPr.fitToPage
        ligne = int(ws.print_title_rows.split(":")[0].lstrip("$"))
        assert [c.value for c in ws[ligne]][:2] == ["N°", "Désignation"]


def test_pdf_date_de_lancement_et_identifiant_fixes(publie):
    rc = next(p.pdf for p in publie.pieces if p.fichier.name.endswith("-RC.docx"))
    contenu = rc.read_bytes()
    assert b"/CreationDate(D:20261201000000" in contenu
    assert pdf.normaliser(contenu, publie.analyse.contexte["date_lancement"]) == contenu


def test_cadre_de_memoire_concorde_avec_le_rc(publie):
    cadre = next(p.fichier for p in publie.pieces if "cadre-memoire" in p.fichier.name)
    rc = Lu(next(p.fichier for p in publie.pieces if p.fichier.name.endswith("-RC.docx")))
    lues = memoire.rubriques_lues(cadre)
    assert memoire.ecarts_avec_rc(publie.analyse, lues) == []
    # le RC tel qu'il est publié : tableau « Critère | Pondération | Sous-critères »
    tableau = next(t for t in rc.tableaux if t[0][:2] == ["Critère", "Pondération"])
    du_rc = []
    for critere, ponderation, sous in tableau[1:]:
        if critere.startswith("Prix"):
            continue
        if sous == "–":
            du_rc.append((critere, ponderation))
        else:
            du_rc += [(m.group(1), m.group(2)) for m in re.finditer(r"([^;(]+?) \((\d+\s%)[^)]*\)", sous)]
    assert [(r.intitule, pourcent(r.ponderation)) for r in lues] == [(i.strip(), p.replace(" ", NB)) for i, p in du_rc]
    assert [r.intitule for r in lues] == ["Méthodologie et organisation du chantier en site occupé",
                                          "Moyens humains et matériels affectés", "Performance environnementale du chantier"]


def test_acte_d_engagement_reprend_le_ccap(publie):
    analyse = publie.analyse
    ccap = Lu(next(p.fichier for p in publie.pieces if p.fichier.name.endswith("-CCAP.docx")))
    article_avance = ccap.article("Avance")
    article_insertion = ccap.article("Action d’insertion")
    for lot in analyse.contexte["lots"]:
        ae = Lu(next(p.fichier for p in publie.pieces if p.fichier.name.endswith(f"AE-lot-{lot['numero']}.docx")))
        assert typographie(f"lot {lot['numero']} – {lot['intitule']}") in ae.tout
        if lot["avance_taux_pme"] != lot["avance_taux_non_pme"]:
            assert f"au taux de {pourcent(lot['avance_taux_pme'])} si le titulaire est une petite ou moyenne" in ae.texte
            assert f"au taux de {pourcent(lot['avance_taux_non_pme'])} dans les autres cas" in ae.texte
        else:  # un seul taux : pas de tautologie « 15 % si PME, 15 % dans les autres cas »
            assert (f"Une avance de {pourcent(lot['avance_taux_pme'])}" in ae.texte
                    and "que le titulaire soit ou non une petite ou moyenne entreprise" in ae.texte)
            assert "dans les autres cas" not in ae.texte
        assert f"l’article {article_avance} du CCAP" in ae.texte
        assert "\u2610 Je renonce au bénéfice de l’avance" in ae.texte
        assert f"{nombre(lot['heures_insertion'])} heures d’insertion" in ae.texte
        assert f"l’article {article_insertion} du CCAP" in ae.texte
        assert "décomposition du prix global et forfaitaire (DPGF)" in ae.texte
        assert f"TVA ({pourcent(lot['tva'])})" in ae.tout
        assert "{{" not in ae.tout and "**" not in ae.tout
        # le taux PME affiché dans le tableau du CCAP est celui de l'AE
        tableau = next(t for t in ccap.tableaux if t[0][0] == "Lot" and "Avance versée" in t[0])
        ligne = next(l for l in tableau if l[0].startswith(f"{lot['numero']} –"))
        assert ligne[3].startswith(pourcent(lot["avance_taux_pme"]))


# -- classeur rempli par un candidat, recalculé par LibreOffice (PDF/A)

def _remplir(contenu: bytes, prix: float) -> tuple[bytes, dict[str, dict[str, float]]]:
    """Saisit des prix (et les quantités laissées au candidat) ; renvoie le classeur et les totaux attendus."""
    classeur = load_workbook(io.BytesIO(contenu))
    attendus = {}
    for ws in classeur.worksheets:
        ht = 0.0
        for ligne in ws.iter_rows(min_row=1):
            if ligne[0].style == "dce_numero":
                quantite = ligne[3]
                if quantite.style == "dce_saisie_quantite":
                    quantite.value = 3
                prix_unitaire = prix * (ligne[0].value + 0.005)
                if ligne[4].style == "dce_saisie_montant":
                    ligne[4].value = prix_unitaire
                    if isinstance(quantite.value, (int, float)):
                        ht += round(quantite.value * prix_unitaire + 1e-9, 2)
        taux = next((l[5].value for l in ws.iter_rows() if l[0].value == "Taux de TVA du lot"), None)
        if taux is None:
            continue  # BPU sans quantités : pas de montant
        tva = round(ht * taux + 1e-9, 2)
        attendus[ws.title] = {"HT": round(ht, 2), "TVA": tva, "TTC": round(ht + tva, 2), "taux": taux}
    tampon = io.BytesIO()
    classeur.save(tampon)
    return tampon.getvalue(), attendus


def _montants_pdf(texte_page: str) -> dict[str, float]:
    valeurs = {}
    for libelle, cle in (("Montant total HT", "HT"), ("Montant de la TVA", "TVA"), ("Montant total TTC", "TTC")):
        m = re.search(libelle + r"\s+([\d\s\u00a0\u202f]+,\d{2})\s?€", texte_page)
        assert m, (libelle, texte_page)
        valeurs[cle] = float(re.sub(r"\s", "", m.group(1)).replace(",", "."))
    return valeurs


def test_totaux_recalcules_par_libreoffice_et_pdfa(tmp_path):
    _exiger_libreoffice()
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils absent")
    mixte = _analyse(tmp_path, prix={"forme": "mixte"}, lots=[
        {"numero": 1, "intitule": "Papier", "montant_estime": 120000, "taux_tva": 5.5, "lignes_prix": [
            {"designation": "Livraison initiale", "unite": "forfait", "quantite": 1, "forme": "forfaitaire"},
            {"designation": "Étiquetage", "unite": "forfait", "forme": "forfaitaire"},
            {"designation": "Ramette A4", "unite": "ramette", "quantite": 1250.5},
            {"designation": "Ramette A3", "unite": "ramette", "quantite": 300}]},
        {"numero": 2, "intitule": "Petites fournitures", "montant_estime": 60000}])
    travaux = preparer(EXEMPLES / "travaux-lycee.yaml", RACINE)
    fichiers, attendus = [], {}
    for nom, analyse, prix in (("mixte.xlsx", mixte, 12.34), ("travaux.xlsx", travaux, 1017.77)):
        contenu, totaux = _remplir(classeur_prix.produire(analyse).contenu, prix)
        (tmp_path / nom).write_bytes(contenu)
        fichiers.append(tmp_path / nom)
        attendus[nom] = totaux
    pdfs = pdf.convertir(fichiers, tmp_path / "pdf", pdfa=True)  # un seul appel de LibreOffice
    for source, cible in pdfs.items():
        meta = subprocess.run(["pdfinfo", "-meta", str(cible)], capture_output=True, text=True).stdout
        assert "<pdfaid:part>2</pdfaid:part>" in meta, "PDF/A-2 attendu"
        pages = _texte_pdf(cible).split("\f")
        for feuille, totaux in attendus[source.name].items():
            page = next(p for p in pages if f"– {feuille}" in p)
            assert _montants_pdf(page) == {k: v for k, v in totaux.items() if k != "taux"}, (source.name, feuille)
    assert attendus["mixte.xlsx"]["Lot 1"]["taux"] == 0.055
    assert attendus["mixte.xlsx"]["Lot 1"]["HT"] > 0 and attendus["travaux.xlsx"]["Lot 5"]["TTC"] > 0
    # l'avertissement en tête de chaque feuille s'imprime en 9 pt au moins (hauteur des mots dans le PDF)
    for cible in pdfs.values():
        boites = subprocess.run(["pdftotext", "-bbox", str(cible), "-"], capture_output=True, text=True,
                                check=True).stdout
        hauteurs = [float(m.group(2)) - float(m.group(1)) for m in
                    re.finditer(r'yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">protégées</word>', boites)]
        assert hauteurs and min(hauteurs) >= 9, (cible.name, hauteurs)


# -- bordereau des prix (openpyxl)

def test_bordereau_selon_la_forme_des_prix(tmp_path):
    lignes = [{"designation": "Ramette A4", "unite": "ramette", "quantite": 100},
              {"designation": "Forfait de livraison", "unite": "forfait", "quantite": 1, "forme": "forfaitaire"}]
    lots = [{"numero": 1, "intitule": "Papier", "montant_estime": 120000, "lignes_prix": lignes},
            {"numero": 2, "intitule": "Petites fournitures", "montant_estime": 60000,
             "lignes_prix": [{"designation": "Stylo", "unite": "unité"}]}]
    cas = {"unitaire": (["BPU-DQE"], ["BPU"]), "forfaitaire": (["DPGF"], ["DPGF"]), "mixte": (["DPGF", "BPU-DQE"], ["BPU"])}
    for forme, (lot1, lot2) in cas.items():
        analyse = _analyse(tmp_path, prix={"forme": forme}, lots=lots)
        produit = classeur_prix.produire(analyse)
        assert [p.sigle for p in produit.feuilles[0].parties] == lot1, forme
        assert [p.sigle for p in produit.feuilles[1].parties] == lot2, forme
        if forme != "forfaitaire":
            assert any("aucune quantité estimée" in a for a in produit.avertissements)
        assert produit.nom == {"unitaire": "TEST-001-BPU-DQE.xlsx", "forfaitaire": "TEST-001-DPGF.xlsx",
                               "mixte": "TEST-001-DPGF-BPU-DQE.xlsx"}[forme]


def test_bordereau_protege_cellules_du_candidat_et_entete(tmp_path):
    analyse = _analyse(tmp_path, lots=[{"numero": 1, "intitule": "Denrées", "montant_estime": 90000, "taux_tva": 5.5,
                                        "lignes_prix": [{"designation": "Café", "unite": "kg", "quantite": 40}]}])
    classeur = load_workbook(io.BytesIO(classeur_prix.produire(analyse).contenu))
    ws = classeur["Lot 1"]
    assert ws.protection.sheet and classeur.security.lockStructure
    valeurs = [c.value for ligne in ws.iter_rows() for c in ligne if c.value is not None]
    assert "Région Occitanie / Pyrénées-Méditerranée" in valeurs
    assert any(isinstance(v, str) and v.startswith("Consultation TEST-001 – ") for v in valeurs)
    assert "TEST-001" in ws.oddHeader.right.text
    ligne = next(l for l in ws.iter_rows() if l[1].value == "Café")
    assert [c.protection.locked for c in ligne] == [True, True, True, True, False, True]
    assert ligne[5].value == f"=ROUND(D{ligne[0].row}*E{ligne[0].row},2)"
    assert "€" in ligne[4].number_format and "#,##0.00" in ligne[4].number_format
    taux = next(l for l in ws.iter_rows() if l[0].value == "Taux de TVA du lot")
    assert taux[5].value == 0.055 and taux[5].protection.locked
    deverrouillees = {c.coordinate for l in ws.iter_rows() for c in l if not c.protection.locked}
    assert deverrouillees == {f"E{ligne[0].row}", "C6", "D6", "E6", "F6"}


def test_avertissements_du_bordereau_lisibles_a_l_impression():
    """Les avertissements du bordereau (prix HT, cellules jaunes, quantités) sont en 9 pt au moins une fois
    imprimés : corps du style, réduit par l'ajustement des six colonnes à la largeur de la page A4."""
    contenu = classeur_prix.produire(preparer(EXEMPLES / "travaux-lycee.yaml", RACINE)).contenu
    for ws in load_workbook(io.BytesIO(contenu)).worksheets:
        notes = [c for l in ws.iter_rows() for c in l if c.style == "dce_note"]
        assert notes and any("cellules jaunes" in str(c.value) for c in notes), ws.title
        # largeur d'une colonne : (largeur × 7 + 5) pixels à 96 ppp (police Arial 10) ; 0,75 pt par pixel
        contenu_pt = sum((ws.column_dimensions[c].width * 7 + 5) * 0.75 for c in "ABCDEF")
        page_pt = (842 if ws.page_setup.orientation == "landscape" else 595) \
            - 72 * (ws.page_margins.left + ws.page_margins.right)
        echelle = min(1.0, page_pt / contenu_pt) if ws.sheet_properties.pageSetUpPr.fitToPage else 1.0
        assert all(c.font.size * echelle >= 9 for c in notes), (ws.title, [c.font.size for c in notes], echelle)


def test_libelles_longs_du_bordereau_renvoyes_a_la_ligne_et_hauteur_ajustee():
    """NC1 : dans la DPGF de travaux, la désignation longue (retrait de l'amiante, bardage bois) est renvoyée à la
    ligne dans sa cellule et la ligne est assez haute pour son texte : elle ne déborde plus sur la ligne voisine."""
    contenu = classeur_prix.produire(preparer(EXEMPLES / "travaux-lycee.yaml", RACINE)).contenu
    classeur = load_workbook(io.BytesIO(contenu))
    longues = 0
    for ws in classeur.worksheets:
        largeur = ws.column_dimensions["B"].width
        for ligne in ws.iter_rows():
            if ligne[0].style != "dce_numero":
                continue
            designation = str(ligne[1].value)
            assert ligne[1].alignment.wrap_text, (ws.title, designation)
            hauteur = ws.row_dimensions[ligne[0].row].height
            assert hauteur, (ws.title, designation)  # chaque ligne de prix a sa hauteur, pas seulement certaines
            # au plus (7 L + 5) / 6 caractères d'Arial 10 par ligne de texte de 12,75 pt
            lignes_min = -(-len(designation) // int((largeur * 7 + 5) / 6))
            assert hauteur >= 12.75 * lignes_min, (ws.title, designation, hauteur)
            if len(designation) > 100:
                longues += 1
                assert hauteur >= 12.75 * 2
    assert longues >= 2  # « Retrait de l'amiante (entreprise certifiée) : dalles de sol… », « Bardage bois… »


def test_colonne_egalim_du_bordereau_a_renseigner_et_citee_par_le_ccap(tmp_path):
    """RN1 : le CCAP exige que chaque référence du BPU mentionne sa catégorie EGalim ou son label ; la clause qui
    l'exige (en-tête `colonnes_bordereau`) donne au bordereau une colonne à saisir, déverrouillée dans la feuille
    protégée, que le texte du CCAP désigne par son titre. Sans la clause, pas de colonne."""
    from docx import Document

    analyse = preparer(EXEMPLES / "restauration-lycees.yaml", RACINE)
    assert analyse.selection("ccap-alimentation-durable").retenue
    for ws in load_workbook(io.BytesIO(classeur_prix.produire(analyse).contenu)).worksheets:
        entete = next(l for l in ws.iter_rows() if l[0].value == "N°")
        titres = [c.value for c in entete if c.value]
        colonne = titres.index("Catégorie EGalim, signe de qualité ou label")
        lignes = [l for l in ws.iter_rows() if l[0].style == "dce_numero"]
        assert lignes and ws.protection.sheet
        assert all(not l[colonne].protection.locked for l in lignes), ws.title
    sortie = tmp_path / "rl"
    from generateur.interfaces.cli import main
    assert CliRunner().invoke(main, ["generer", str(EXEMPLES / "restauration-lycees.yaml"), "--sortie", str(sortie)]).exit_code == 0
    ccap = "\n".join(p.text for p in Document(next(sortie.glob("*-CCAP.docx"))).paragraphs)
    ccap = ccap.replace("\u00a0", " ").replace("\u202f", " ")
    assert "dans la colonne « Catégorie EGalim, signe de qualité ou label » du bordereau" in ccap
    # famille sans la clause : le bordereau garde ses six colonnes
    ws = load_workbook(io.BytesIO(classeur_prix.produire(
        preparer(EXEMPLES / "nettoyage-hotel-region.yaml", RACINE)).contenu)).worksheets[0]
    assert all(c.value != "Catégorie EGalim, signe de qualité ou label" for l in ws.iter_rows() for c in l)


def test_lignes_types_de_la_famille_si_aucune_ligne(tmp_path):
    analyse = _analyse(tmp_path, prix={"forme": "forfaitaire"})
    produit = classeur_prix.produire(analyse)
    designations = [l.designation for l in produit.feuilles[0].parties[0].lignes]
    assert designations[0].startswith("Ramette de papier A4")  # famille fournitures_bureau
    assert produit.feuilles[0].lignes_types and any("lignes types" in a for a in produit.avertissements)
    ws = load_workbook(io.BytesIO(produit.contenu))["Lot 1"]
    quantites = [l[3] for l in ws.iter_rows() if l[0].style == "dce_numero"]
    assert all(not q.protection.locked for q in quantites)  # DPGF sans quantité : le candidat la donne


def _designations_dpgf(contenu: bytes) -> dict[str, list[tuple[str, str, object]]]:
    """(désignation, unité, quantité) de chaque ligne numérotée, par feuille du classeur produit (.xlsx rouvert)."""
    return {ws.title: [(l[1].value, l[2].value, l[3].value) for l in ws.iter_rows() if l[0].style == "dce_numero"]
            for ws in load_workbook(io.BytesIO(contenu)).worksheets}


def test_dpgf_suit_les_ouvrages_du_texte_technique_sans_lignes_saisies(tmp_path):
    """Un lot de bâtiment sans lignes de prix mais avec le texte technique du maître d'œuvre : la ligne type
    « Ensemble des ouvrages du lot » de la DPGF cède la place à un ouvrage au forfait par intertitre de la section
    « Description des ouvrages » du texte, dans son ordre ; les autres lignes types restent, et l'avertissement le dit.
    Un lot qui donne ses lignes, ou dont le texte n'a pas cette section, n'est pas touché."""
    donnees = yaml.safe_load((EXEMPLES / "travaux-lycee.yaml").read_text(encoding="utf-8"))
    lots = {l["numero"]: l for l in donnees["lots"]}
    del lots[2]["lignes_prix"], lots[4]["lignes_prix"]
    (tmp_path / "cctp").mkdir()
    (tmp_path / "cctp" / "sans-description.md").write_text(
        "# Prescriptions générales\n\nTexte.\n\n## Reconnaissance des existants\n\nTexte.\n", encoding="utf-8")
    lots[4]["cctp_technique"] = "cctp/sans-description.md"
    produit = classeur_prix.produire(preparer(ecrire(tmp_path, donnees), RACINE))
    feuilles = _designations_dpgf(produit.contenu)
    assert feuilles["Lot 2"] == [
        ("Installation, organisation et repli de chantier", "forfait", 1),
        ("Protections, signalisation et maintien en site occupé", "forfait", 1),
        ("Échafaudages et protections", "forfait", 1),
        ("Isolation en fibre de bois", "forfait", 1),
        ("Ossature et bardage bois", "forfait", 1),
        ("Traitement des points singuliers", "forfait", 1),
        ("Tri, évacuation et valorisation des déchets de chantier", "forfait", 1),
        ("Dossier des ouvrages exécutés (DOE) et dossier d’intervention ultérieure", "forfait", 1),
        ("Travaux en régie\u00a0: heure de compagnon", "heure", None)]
    assert ("Ensemble des ouvrages du lot (décomposition détaillée par le candidat)", "forfait", 1) in feuilles["Lot 4"]
    # les désignations saisies paraissent avec la typographie des pièces (apostrophe ’, espaces insécables)
    assert [d for d, _, _ in feuilles["Lot 5"]] == [typographie(l["designation"]) for l in lots[5]["lignes_prix"]]
    lot2, lot4 = (next(a for a in produit.avertissements if a.startswith(f"lot {n}")) for n in (2, 4))
    assert "dont un ouvrage au forfait par intertitre de la description des ouvrages du texte technique" in lot2
    assert "lignes types" in lot4 and "texte technique" not in lot4


def test_motif_des_ouvrages_du_texte_invalide_dit_fichier_et_ligne(tmp_path):
    """Un motif `ouvrages_du_texte` invalide dans les lignes types : erreur qui nomme le fichier, la ligne et la clé."""
    from generateur.pieces import bordereau
    fichier = tmp_path / "bordereaux.yaml"
    fichier.write_text('familles:\n  batiment:\n    - {designation: "Ouvrages", ouvrages_du_texte: "(?i)^(description"}\n',
                       encoding="utf-8")
    with pytest.raises(ErreurDonnees) as exc:
        bordereau._lignes_types(fichier)
    probleme = exc.value.problemes[0]
    assert "motif «\u00a0ouvrages_du_texte\u00a0» invalide" in probleme.message and probleme.ligne == 3
    assert probleme.champ == "familles.batiment.0.ouvrages_du_texte"


# -- cadre de mémoire technique (python-docx, sans LibreOffice)

def _titres(blocs) -> list[str]:
    return [b.texte for b in blocs if isinstance(b, Titre)]


def test_changer_un_critere_change_le_cadre(tmp_path):
    criteres = [{"intitule": "Prix", "ponderation": 50, "type": "prix"},
                {"intitule": "Valeur technique", "ponderation": 30, "type": "technique", "sous_criteres": [
                    {"intitule": "Organisation", "ponderation": 20}, {"intitule": "Moyens", "ponderation": 10}]},
                {"intitule": "Délai de livraison", "ponderation": 10, "type": "delai"},
                {"intitule": "Performance environnementale", "ponderation": 10, "type": "environnemental"}]
    analyse = _analyse(tmp_path, criteres=criteres)
    blocs, _ = memoire.blocs_cadre(analyse)
    titres = _titres(blocs)
    assert f"2.1{NB}– Organisation (20{NB}%)" in titres and f"2.2{NB}– Moyens (10{NB}%)" in titres
    assert f"Article 3 – Délai de livraison (10{NB}%)" in titres
    assert not any("Prix" in t for t in titres)
    assert memoire.ecarts_avec_rc(analyse) == []
    lues = memoire.rubriques_des_titres((b.niveau, b.texte) for b in blocs if isinstance(b, Titre))
    assert [r.intitule for r in lues] == ["Organisation", "Moyens", "Délai de livraison", "Performance environnementale"]
    # un cadre qui ne suit plus le RC est signalé
    faux = [memoire.Rubrique("Valeur technique", "Organisation", 25)] + lues[1:3]
    ecarts = memoire.ecarts_avec_rc(analyse, faux)
    assert any("pondérée à 25" in e and "à 20" in e for e in ecarts)
    assert any(f"«{NB}Performance environnementale{NB}» du RC n'a pas de rubrique" in e for e in ecarts)
    # le même fichier de réponses avec un autre critère donne un autre cadre
    criteres[3] = {"intitule": "Qualité de l'emploi", "ponderation": 10, "type": "social"}
    autre = _titres(memoire.blocs_cadre(_analyse(tmp_path, criteres=criteres))[0])
    assert f"Article 4 – Qualité de l’emploi (10{NB}%)" in autre
    assert not any("Performance environnementale" in t for t in autre)


def _section(blocs, titre: str) -> list:
    debut = next(i for i, b in enumerate(blocs) if isinstance(b, Titre) and b.texte.endswith(titre))
    fin = next((i for i, b in enumerate(blocs[debut + 1:], debut + 1) if isinstance(b, Titre)), len(blocs))
    return blocs[debut + 1:fin]


def test_sections_sociales_et_environnementales_selon_les_clauses(tmp_path):
    insertion = {"insertion": {"actif": True, "facilitateur": "PLIE du Grand Narbonne"}}
    analyse = _analyse(tmp_path, spaser=insertion)
    blocs, _ = memoire.blocs_cadre(analyse)
    assert analyse.selection("ccap-insertion").retenue
    section = _section(blocs, "Insertion professionnelle")
    tableau = next(b for b in section if isinstance(b, Tableau))
    lot1 = next(l for l in analyse.contexte["lots"] if l["numero"] == 1)
    assert [texte(c) for c in tableau.lignes[1][:2]] == ["1 – Papier", nombre(lot1["heures_insertion"])]
    assert len(tableau.lignes) == 1 + sum(1 for l in analyse.contexte["lots"] if l["insertion_lot"])
    assert any("PLIE du Grand Narbonne" in texte(e.segments) for b in section if hasattr(b, "elements")
               for e in b.elements)
    assert not any(t.endswith("Commerce équitable") for t in _titres(blocs))

    sans = memoire.blocs_cadre(_analyse(tmp_path))[0]
    assert not any("Engagements sociaux" in t or "Insertion" in t for t in _titres(sans))

    equitable = _analyse(tmp_path, categorie="restauration_collective", spaser={
        "commerce_equitable": {"actif": True, "produits": ["cafe", "cacao"]}})
    blocs, _ = memoire.blocs_cadre(equitable)
    tableau = next(b for b in _section(blocs, "Commerce équitable") if isinstance(b, Tableau))
    assert [texte(l[0]) for l in tableau.lignes[1:3]] == ["café", "cacao et produits chocolatés"]  # les mots du CCAP
    assert not any(t.endswith("Insertion professionnelle") for t in _titres(blocs))


# -- acte d'engagement (sans LibreOffice)

def test_acte_d_engagement_sans_avance(tmp_path):
    analyse = _analyse(tmp_path, duree_mois=2, prix={"forme": "unitaire"},
                       lots=[{"numero": 1, "intitule": "Petit lot", "montant_estime": 30000,
                              "lignes_prix": [{"designation": "Article", "unite": "unité", "quantite": 10}]}])
    lot = analyse.contexte["lots"][0]
    assert not lot["avance_versee"]
    blocs, titres = acte_engagement.blocs(analyse, lot)
    contenu = "\n".join(texte(b.segments) for b in blocs if hasattr(b, "segments"))
    assert "aucune avance n’est versée" in contenu and "Je renonce" not in contenu
    assert acte_engagement.nom_fichier(analyse, lot) == "TEST-001-AE.docx"  # lot unique
    assert "bordereau des prix unitaires (BPU)" in contenu
    assert any(isinstance(b, Tableau) and texte(b.lignes[-1][0]) == "Montant du DQE" for b in blocs)


def test_acte_d_engagement_d_un_marche_a_tranches(tmp_path):
    """Marché à tranches (CCP R2113-4) : l'AE demande le montant de chaque tranche et renvoie à l'article du CCAP
    sur l'affermissement ; sans tranches, aucun tableau de tranches."""
    tranches = [{"code": "TF", "intitule": "Bâtiment A", "nature": "ferme", "montant_estime": 120000},
                {"code": "TO1", "intitule": "Bâtiment B", "nature": "optionnelle", "montant_estime": 60000,
                 "delai_affermissement_mois": 12}]
    analyse = _analyse(tmp_path, tranches=tranches,
                       lots=[{"numero": 1, "intitule": "Mobilier", "montant_estime": 180000}])
    blocs, _ = acte_engagement.blocs(analyse, analyse.contexte["lots"][0])
    contenu = "\n".join(texte(b.segments) for b in blocs if hasattr(b, "segments"))
    assert "Le candidat reporte ci-dessous le montant de chaque tranche" in contenu
    assert re.search(r"affermie dans les conditions fixées à l’article \d+\.\d+ du CCAP", contenu), contenu
    tableau = next(b for b in blocs if isinstance(b, Tableau) and texte(b.lignes[0][0]) == "Tranche")
    assert [texte(l[0]) for l in tableau.lignes[1:]] == ["TF – Bâtiment A (tranche ferme)",
                                                         "TO1 – Bâtiment B (tranche optionnelle)", "Total des tranches"]
    (tmp_path / "sans").mkdir()
    sans = _analyse(tmp_path / "sans", lots=[{"numero": 1, "intitule": "Mobilier", "montant_estime": 180000}])
    blocs, _ = acte_engagement.blocs(sans, sans.contexte["lots"][0])
    assert not any(isinstance(b, Tableau) and texte(b.lignes[0][0]) == "Tranche" for b in blocs)


# -- LibreOffice absent, conversion manquée ou bloquée (faux soffice)

FAUX_SOFFICE = """#!{python}
import os, sys, time
from pathlib import Path
args = sys.argv[1:]
journal = Path({journal!r})
journal.open("a").write("appel\\n")
if {dormir}:
    time.sleep(30)
sortie = Path(args[args.index("--outdir") + 1])
valeurs = {{args.index("--outdir") + 1, args.index("--convert-to") + 1}}
fichiers = [a for i, a in enumerate(args) if not a.startswith("-") and i not in valeurs]
premier = len(journal.read_text().splitlines()) == 1
for i, f in enumerate(fichiers):
    if premier and i > 0:
        continue  # premier appel : un PDF se perd, comme avec deux conversions sur un même profil
    (sortie / (Path(f).stem + ".pdf")).write_bytes(b"%PDF-1.4 faux")
"""


def _faux_soffice(tmp_path: Path, monkeypatch, dormir: bool = False) -> Path:
    journal = tmp_path / "appels.txt"
    script = tmp_path / "soffice"
    script.write_text(FAUX_SOFFICE.format(python=sys.executable, journal=str(journal), dormir=dormir))
    script.chmod(0o755)
    monkeypatch.setenv("DCE_SOFFICE", str(script))
    return journal


def test_nouvel_essai_d_un_pdf_manquant(tmp_path, monkeypatch):
    journal = _faux_soffice(tmp_path, monkeypatch)
    fichiers = []
    for nom in ("a.docx", "b.docx", "c.xlsx"):
        (tmp_path / nom).write_bytes(b"x")
        fichiers.append(tmp_path / nom)
    resultat = pdf.convertir(fichiers, tmp_path / "pdf", travailleurs=1)
    assert sorted(p.name for p in resultat.values()) == ["a.pdf", "b.pdf", "c.pdf"]
    assert journal.read_text().count("appel") == 2
    assert not any(p.name.startswith(".dce-pdf") for p in (tmp_path / "pdf").iterdir())


def test_delai_depasse(tmp_path, monkeypatch):
    _faux_soffice(tmp_path, monkeypatch, dormir=True)
    (tmp_path / "a.docx").write_bytes(b"x")
    with pytest.raises(ErreurDCE) as erreur:
        pdf.convertir([tmp_path / "a.docx"], tmp_path / "pdf", delai=1, essais=1)
    assert "n'a pas terminé en 1 s" in str(erreur.value) and "a.docx" in str(erreur.value)
    assert not (tmp_path / "pdf" / "a.pdf").exists()


def test_libreoffice_absent(tmp_path, monkeypatch):
    from generateur.interfaces.cli import main

    monkeypatch.setenv("DCE_SOFFICE", str(tmp_path / "nulle-part" / "soffice"))
    fichier = ecrire(tmp_path, reponses())
    sortie = tmp_path / "sortie"
    for commande in (["publier", str(fichier), "--sortie", str(sortie)],
                     ["generer", str(fichier), "--sortie", str(sortie), "--pdf"]):
        resultat = CliRunner().invoke(main, commande)
        assert resultat.exit_code == 2, resultat.output
        assert "LibreOffice est introuvable" in resultat.output and "apt-get install" in resultat.output
        assert not sortie.exists()


def test_generer_pdf_convertit_chaque_piece_word(tmp_path, monkeypatch):
    from generateur.interfaces.cli import main

    journal = _faux_soffice(tmp_path, monkeypatch)
    journal.write_text("appel\n")  # pas de PDF perdu dans ce test
    fichier = ecrire(tmp_path, reponses())
    resultat = CliRunner().invoke(main, ["generer", str(fichier), "--sortie", str(tmp_path / "s"), "--pdf"])
    docx = sorted(p.stem for p in (tmp_path / "s").glob("*.docx"))
    assert docx and sorted(p.stem for p in (tmp_path / "s").glob("*.pdf")) == docx, resultat.output
    assert "TEST-001-RC.pdf" in resultat.output


# -- pièces de l'acheteur, échec de conversion, chemins (faux soffice : pas de LibreOffice)

def _publier_cli(*args: str):
    from generateur.interfaces.cli import main

    return CliRunner().invoke(main, ["publier", *map(str, args)])


def _faux_soffice_complet(tmp_path: Path, monkeypatch) -> None:
    """Faux soffice qui rend tous les PDF du premier coup."""
    _faux_soffice(tmp_path, monkeypatch).write_text("appel\n")


PIECES = [{"titre": "Plans du bâtiment A", "fichier": "pièces jointes/plans A.pdf", "nature": "plans"},
          {"titre": "Liste des sites de livraison", "fichier": "pièces jointes/sites.pdf", "nature": "liste_sites", "lot": 1}]


def _consultation(dossier: Path, pieces=PIECES) -> Path:
    """Un fichier de réponses et ses pièces jointes, dans un dossier dont le nom a des espaces et des accents."""
    (dossier / "pièces jointes").mkdir(parents=True, exist_ok=True)
    for p in PIECES:
        (dossier / p["fichier"]).write_bytes(b"%PDF-1.4 " + p["titre"].encode())
    return ecrire(dossier, reponses(pieces_acheteur=pieces), "réponses de l'acheteur.yaml")


def _etat(dossier: Path) -> dict[str, bytes]:
    return {str(p.relative_to(dossier)): (p.read_bytes() if p.is_file() else b"/") for p in dossier.rglob("*")}


@pytest.mark.parametrize("fichier, raison", [
    ("pièces jointes/absent.pdf", "fichier introuvable"),
    ("../secret.pdf", "« .. » refusé"),
    ("/etc/hostname", "chemin absolu refusé"),
    ("pièces jointes/lien.pdf", "lien symbolique vers un fichier hors du dossier du fichier de réponses"),
    ("pièces jointes", "ce n'est pas un fichier"),
])
def test_piece_de_l_acheteur_absente_ou_hors_du_dossier(tmp_path, monkeypatch, fichier, raison):
    """Règle de sûreté : une pièce jointe reste dans le dossier du fichier de réponses ; absente, illisible ou
    hors du dossier (« .. », chemin absolu, lien symbolique vers l'extérieur) → code 2, libellé du questionnaire,
    rien d'écrit."""
    _faux_soffice_complet(tmp_path, monkeypatch)
    dossier = tmp_path / "consultation été"
    (tmp_path / "secret.pdf").write_bytes(b"%PDF-1.4 hors du dossier")
    (dossier / "pièces jointes").mkdir(parents=True)
    (dossier / "pièces jointes" / "lien.pdf").symlink_to(tmp_path / "secret.pdf")
    pieces = [PIECES[0], {"titre": "Diagnostic plomb", "fichier": fichier, "nature": "diagnostic_plomb"}]
    sortie = tmp_path / "publication"
    resultat = _publier_cli(_consultation(dossier, pieces), "--sortie", sortie)
    assert resultat.exit_code == 2, resultat.output
    assert f"Pièces jointes au dossier par l'acheteur — Pièce 2 — Fichier de la pièce : « {fichier} » : {raison}" \
        in resultat.output
    assert "pieces_acheteur" not in resultat.output  # jamais la clé interne
    assert "ligne" in resultat.output and not sortie.exists()


def test_lien_symbolique_interne_accepte(tmp_path, monkeypatch):
    _faux_soffice_complet(tmp_path, monkeypatch)
    dossier = tmp_path / "c"
    fichier = _consultation(dossier)
    (dossier / "pièces jointes" / "alias.pdf").symlink_to(dossier / "pièces jointes" / "sites.pdf")
    donnees = reponses(pieces_acheteur=[PIECES[0], {**PIECES[1], "fichier": "pièces jointes/alias.pdf"}])
    fichier = ecrire(dossier, donnees, fichier.name)
    resultat = _publier_cli(fichier, "--sortie", tmp_path / "p")
    assert resultat.exit_code == 0, resultat.output
    archive = zipfile.ZipFile(tmp_path / "p" / "TEST-001-DCE.zip")
    assert archive.read("TEST-001-piece-alias.pdf") == (dossier / "pièces jointes" / "sites.pdf").read_bytes()


ECHEC_SOFFICE = """#!{python}
import sys
from pathlib import Path
args = sys.argv[1:]
sortie = Path(args[args.index("--outdir") + 1])
(sortie / "moitie.pdf").write_bytes(b"%PDF-1.4 a moitie")
sys.stderr.write("Error: source file could not be loaded\\n")
sys.exit(1)
"""


def test_echec_pendant_la_conversion_ne_laisse_rien_de_nouveau(tmp_path, monkeypatch):
    (tmp_path / "echec").mkdir()
    script = tmp_path / "echec" / "soffice"
    script.write_text(ECHEC_SOFFICE.format(python=sys.executable))
    script.chmod(0o755)
    fichier = _consultation(tmp_path / "c")
    # dossier de sortie absent : il n'est pas créé
    monkeypatch.setenv("DCE_SOFFICE", str(script))
    sortie = tmp_path / "publications" / "nouvelle"
    resultat = _publier_cli(fichier, "--sortie", sortie)
    assert resultat.exit_code == 2, resultat.output
    assert "LibreOffice n'a pas pu convertir" in resultat.output
    assert not (tmp_path / "publications").exists()
    # une publication précédente : intacte, rien de nouveau à côté
    _faux_soffice_complet(tmp_path, monkeypatch)
    sortie = tmp_path / "publication"
    assert _publier_cli(fichier, "--sortie", sortie).exit_code == 0
    (sortie / "notes de l'acheteuse.txt").write_text("à garder")
    avant = _etat(sortie)
    monkeypatch.setenv("DCE_SOFFICE", str(script))
    ecrire(fichier.parent, reponses(objet="Autre objet de la consultation", pieces_acheteur=PIECES), fichier.name)
    resultat = _publier_cli(fichier, "--sortie", sortie)
    assert resultat.exit_code == 2, resultat.output
    assert _etat(sortie) == avant


@pytest.mark.parametrize("absolu", [False, True], ids=["relatif", "absolu"])
def test_chemins_relatifs_et_absolus_avec_espaces_et_accents(tmp_path, monkeypatch, absolu):
    _faux_soffice_complet(tmp_path, monkeypatch)
    precedent = os.umask(0o022)
    try:
        fichier = _consultation(tmp_path / "Consultations été 2026" / "dossier n° 1")
        monkeypatch.chdir(tmp_path)
        sortie = Path("Publication été") / "DCE à déposer"
        if absolu:
            sortie = tmp_path / sortie
        else:
            fichier = fichier.relative_to(tmp_path)
        resultat = _publier_cli(fichier, "--sortie", sortie)
    finally:
        os.umask(precedent)
    assert resultat.exit_code == 0, resultat.output
    dossier = tmp_path / "Publication été" / "DCE à déposer"
    assert sorted(p.name for p in dossier.iterdir()) == ["TEST-001-DCE", "TEST-001-DCE.zip", "TEST-001-interne",
                                                         "TEST-001-interne.zip"]
    public = zipfile.ZipFile(dossier / "TEST-001-DCE.zip").namelist()
    assert {"TEST-001-piece-plans-A.pdf", "TEST-001-piece-sites.pdf", "TEST-001-RC.pdf"} <= set(public)
    assert "TEST-001-reponses.yaml" in zipfile.ZipFile(dossier / "TEST-001-interne.zip").namelist()
    for p in [dossier, *dossier.rglob("*")]:  # droits de l'umask 022
        assert stat.S_IMODE(p.stat().st_mode) == (0o755 if p.is_dir() else 0o644), p
    # l'annexe de cette consultation a des points à vérifier (adresse du profil d'acheteur à compléter…) :
    # l'archive n'est annoncée que comme un projet (revue 3, B1)
    assert "Projet de DCE, à ne pas déposer sur le profil d'acheteur en l'état" in resultat.output
    assert "Archive à déposer" not in resultat.output


def test_archive_annoncee_a_deposer_seulement_si_l_annexe_peut_etre_signee(tmp_path, monkeypatch):
    """Revue 3, B1 : « Archive à déposer sur le profil d'acheteur » n'est écrit que si l'annexe de conformité est
    « conforme » (ni non-conformité, ni point à vérifier, ni défaut de relecture) ; sinon « Projet de DCE » avec le
    nombre de points à régler, et les points eux-mêmes listés."""
    from generateur.droit.conformite import Conformite

    _faux_soffice_complet(tmp_path, monkeypatch)
    fichier = _consultation(tmp_path / "consultation")
    resultat = _publier_cli(fichier, "--sortie", tmp_path / "projet")
    assert resultat.exit_code == 0, resultat.output
    points = re.search(r"Projet de DCE, à ne pas déposer sur le profil d'acheteur en l'état : .*-DCE\.zip "
                       r"\((\d+)\s+points? de l'annexe de conformité à régler avant le dépôt", resultat.output)
    assert points, resultat.output
    assert int(points.group(1)) == resultat.output.count("  À VÉRIFIER – ") + resultat.output.count("  NON CONFORME – ")
    monkeypatch.setattr(Conformite, "etat", property(lambda self: "conforme"))
    resultat = _publier_cli(fichier, "--sortie", tmp_path / "signable")
    assert resultat.exit_code == 0, resultat.output
    assert "Archive à déposer sur le profil d'acheteur : " in resultat.output and "Projet de DCE" not in resultat.output


def test_travaux_sans_plans_ni_reperage_amiante_a_verifier(tmp_path):
    """Des travaux sans plans ni repérage de l'amiante joints : l'annexe de conformité le signale « À vérifier »
    (code du travail L4412-2) ; le RC ne promet plus de pièces graphiques ni de diagnostics qui ne sont pas joints."""
    import yaml

    from generateur.rendu.generation import generer

    donnees = yaml.safe_load((EXEMPLES / "travaux-lycee.yaml").read_text(encoding="utf-8"))
    pgc = [p for p in donnees.pop("pieces_acheteur") if p["nature"] == "pgc_sps"]
    donnees["chantier"]["amiante_retrait"] = False  # sans repérage joint, pas de retrait déclaré (refusé sinon)
    for nom, pieces, manque in (("aucune", [], "plans ni repérage de l'amiante avant travaux"),
                                ("pgc", pgc, "plans ni repérage de l'amiante avant travaux"),
                                ("plans", pgc + [{"titre": "Plans", "fichier": "p.pdf", "nature": "plans"}],
                                 "repérage de l'amiante avant travaux parmi")):
        fichier = ecrire(tmp_path, {**donnees, "pieces_acheteur": pieces}, f"{nom}.yaml")
        resultat = generer(fichier, tmp_path / nom, RACINE)
        verdict = next(v for v in resultat.conformite.a_verifier if v.id == "pieces-travaux")
        assert typographie(f"Marché de travaux sans {manque}") in verdict.message, verdict.message
        assert "L4412-2" in verdict.message and ("plans ou pièces graphiques" in verdict.message) == (nom != "plans")
        annexe = Lu(tmp_path / nom / "2026-TRX-0417-annexe-conformite.docx")
        assert "À vérifier" in annexe.tout and "repérage de l’amiante avant travaux" in annexe.tout
        rc = Lu(tmp_path / nom / "2026-TRX-0417-RC.docx").texte
        assert "pièces graphiques" not in rc and "diagnostics techniques" not in rc
        assert ("Plan général de coordination" in rc) == bool(pgc and nom != "aucune")
    # pièces jointes : toujours « À vérifier », l'outil ne lit pas leur contenu (jamais « Conforme » sur leur présence)
    avec = generer(EXEMPLES / "travaux-lycee.yaml", tmp_path / "exemple", RACINE)
    verdict = next(v for v in avec.conformite.a_verifier if v.id == "pieces-travaux")
    assert verdict.message.startswith(typographie("À vérifier : contenu non contrôlé par l’outil.")), verdict.message
    assert "Marché de travaux sans" not in verdict.message


# Ce que nomme chaque ligne de la liste « Contenu du dossier de consultation » du RC → fichier du dossier public
ANNONCES = (("règlement de la consultation", "-RC.docx"), ("acte d’engagement", "-AE"), ("(CCAP)", "-CCAP.docx"),
            ("(CCTP)", "-CCTP.docx"), ("(DPGF)", ".xlsx"), ("(BPU)", ".xlsx"), ("cadre de mémoire", "-cadre-memoire"),
            ("Engagements sociaux et environnementaux", "-cadre-memoire"))


@pytest.mark.parametrize("exemple", ["nettoyage-hotel-region.yaml", "restauration-lycees.yaml", "amp-espaces-verts.yaml"])
def test_chaque_piece_annoncee_par_le_rc_est_dans_l_archive(tmp_path, monkeypatch, exemple):
    """Chaque ligne de la liste des pièces du RC désigne un fichier de l'archive publique (visite obligatoire
    comprise : l'attestation est remise à la visite, le RC n'annonce pas de modèle absent du dossier)."""
    _faux_soffice_complet(tmp_path, monkeypatch)
    donnees = yaml_charger(EXEMPLES / exemple)
    pieces = (donnees.get("pieces_acheteur") or []) + PIECES  # celles de l'exemple restent
    donnees["pieces_acheteur"] = pieces
    fichier = _consultation(tmp_path / "c")
    fichier = ecrire(fichier.parent, donnees, fichier.name)
    resultat = _publier_cli(fichier, "--sortie", tmp_path / "p")
    assert resultat.exit_code in (0, 1), resultat.output
    archive = next((tmp_path / "p").glob("*-DCE.zip"))
    noms = zipfile.ZipFile(archive).namelist()
    rc = Lu(next((tmp_path / "p").glob("*-DCE/*-RC.docx")))
    debut = next(i for i, (_, t) in enumerate(rc.paragraphes) if "comprend les pièces suivantes" in t)
    fin = next(i for i, (_, t) in enumerate(rc.paragraphes) if t.startswith("Les formulaires de candidature"))
    annonces = [t for _, t in rc.paragraphes[debut + 1:fin] if t.strip()]
    assert len(annonces) >= 6
    for annonce in annonces:
        jointe = re.search(r"la pièce «\s(.+?)\s»", annonce)
        source = next((p["fichier"] for p in pieces if jointe and typographie(p["titre"]) == jointe.group(1)), None)
        if source:  # pièce jointe par l'acheteur ; sinon une pièce rédigée (« Exigences … » est le CCTP)
            cibles = [f"-piece-{nom_publie_attendu(source)}"]
        else:
            cibles = [suffixe for cle, suffixe in ANNONCES if cle in annonce]
        assert cibles, f"pièce annoncée par le RC sans fichier connu : {annonce}"
        assert any(c in n for c in cibles for n in noms), (annonce, noms)


def yaml_charger(chemin: Path):
    import yaml

    return yaml.safe_load(chemin.read_text(encoding="utf-8"))


def nom_publie_attendu(fichier: str) -> str:
    from generateur.donnees.pieces_jointes import nom_publie

    return nom_publie(fichier, "X").removeprefix("X-piece-")


def test_publication_a_plat_d_une_version_precedente_remplacee(tmp_path, monkeypatch):
    """Une publication à plat d'une version précédente de dce (pièces, liste et REF.zip dans le dossier) est
    remplacée par les deux dossiers ; les fichiers de l'utilisateur restent."""
    _faux_soffice_complet(tmp_path, monkeypatch)
    sortie = tmp_path / "publication"
    sortie.mkdir()
    anciens = ["TEST-001-RC.docx", "TEST-001-RC.pdf", "TEST-001-annexe-conformite.docx"]
    for nom in anciens + ["TEST-001.zip", "mes notes.txt"]:
        (sortie / nom).write_bytes(b"ancien")
    (sortie / "TEST-001-liste-des-pieces.csv").write_text(
        "\ufeffPièce;Fichier;Format;Taille (octets);SHA-256\r\n"
        + "".join(f"x;{nom};DOCX;6;0\r\n" for nom in anciens), encoding="utf-8")
    resultat = _publier_cli(_consultation(tmp_path / "c"), "--sortie", sortie)
    assert resultat.exit_code in (0, 1), resultat.output
    assert "Conversion en PDF par LibreOffice" in resultat.output  # progression affichée pendant l'attente
    assert sorted(p.name for p in sortie.iterdir()) == ["TEST-001-DCE", "TEST-001-DCE.zip", "TEST-001-interne",
                                                        "TEST-001-interne.zip", "mes notes.txt"]


def test_verifier_et_generer_avertissent_d_une_piece_jointe_absente(tmp_path):
    """Avant de publier : dce verifier et dce generer disent quelle pièce jointe manque (sans s'arrêter)."""
    from generateur.interfaces.cli import main

    fichier = _consultation(tmp_path / "c", PIECES)
    fichier = ecrire(fichier.parent, reponses(pieces_acheteur=PIECES + [
        {"titre": "PGC", "fichier": "pièces jointes/pgc.pdf", "nature": "pgc_sps"}]), fichier.name)
    attendu = ("Pièces jointes au dossier par l'acheteur — Pièce 3 — Fichier de la pièce : « pièces jointes/pgc.pdf » : "
               "fichier introuvable (dce publier s'arrêtera tant qu'elle manque).")
    for commande in (["verifier", str(fichier)], ["generer", str(fichier), "-o", str(tmp_path / "s")]):
        resultat = CliRunner().invoke(main, commande)
        assert resultat.exit_code in (0, 1), resultat.output
        assert attendu in resultat.output, resultat.output
        assert "Pièce 1 —" not in resultat.output and "Pièce 2 —" not in resultat.output
