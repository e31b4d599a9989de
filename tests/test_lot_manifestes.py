"""Ce qui entoure la production d'un DCE dans la régénération d'un lot : empreintes des sources gardées le temps d'un
lot seulement."""

from __future__ import annotations

import hashlib
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conftest import EXEMPLES, RACINE
from generateur.lot import rapport_changements as rc
from generateur.pieces import tracabilite


def _sources_essai(racine: Path) -> tuple[Path, Path, Path]:
    (racine / "modeles").mkdir(parents=True)
    (racine / "acheteurs" / "x" / "sous").mkdir(parents=True)
    (racine / "questionnaire.yaml").write_text("q: 1\n", encoding="utf-8")
    (racine / "modeles" / "dce.docx").write_bytes(b"modele 1")
    (racine / "acheteurs" / "x" / "acheteur.yaml").write_text("nom: X\n", encoding="utf-8")
    (racine / "acheteurs" / "x" / "sous" / "logo.png").write_bytes(b"logo")
    (racine / "acheteurs" / "x-y.yaml").write_text("ailleurs\n", encoding="utf-8")
    return racine, racine / "modeles", racine / "acheteurs" / "x"


def test_sources_gardees_le_temps_d_un_lot_seulement(tmp_path):
    """Hors d'un lot, un modèle modifié est relu à chaque génération ; dans un lot, les empreintes des sources sont
    celles de la première lecture (mêmes valeurs, même ordre que relues) ; un autre lot, ou la sortie du lot, relit."""
    racine, modeles, acheteur = _sources_essai(tmp_path)
    premier = tracabilite._sources(racine, modeles, acheteur)
    assert list(premier) == ["questionnaire.yaml", "modeles/dce.docx", "acheteurs/x/acheteur.yaml",
                             "acheteurs/x/sous/logo.png"]
    assert premier["modeles/dce.docx"] == hashlib.sha256(b"modele 1").hexdigest()
    with tracabilite.sources_du_lot(("lot 1", "état")):
        assert tracabilite._sources(racine, modeles, acheteur) == premier
        (modeles / "dce.docx").write_bytes(b"modele 2")
        garde = tracabilite._sources(racine, modeles, acheteur)
        assert garde == premier
        garde["modeles/dce.docx"] = "abîmée"  # une copie : la mémoire du lot n'est pas touchée
        assert tracabilite._sources(racine, modeles, acheteur) == premier
    relues = tracabilite._sources(racine, modeles, acheteur)
    assert relues["modeles/dce.docx"] == hashlib.sha256(b"modele 2").hexdigest()
    with tracabilite.sources_du_lot(("lot 2", "état")):
        assert tracabilite._sources(racine, modeles, acheteur) == relues
        with tracabilite.sources_du_lot(("lot 2", "état")):  # imbriqué : reste actif après
            pass
        (modeles / "dce.docx").write_bytes(b"modele 3")
        assert tracabilite._sources(racine, modeles, acheteur) == relues
    assert tracabilite._sources(racine, modeles, acheteur)["modeles/dce.docx"] == hashlib.sha256(b"modele 3").hexdigest()


def test_sources_du_lot_propres_a_chaque_fil(tmp_path):
    """Deux fils dans des lots qui se chevauchent (exécuteur fourni à plusieurs fils) : le second sort après le
    premier ; ensuite, hors de tout lot, un modèle modifié est relu (un état commun aux fils restait « dans un lot »)."""
    import threading

    racine, modeles, acheteur = _sources_essai(tmp_path)
    entre, sortir = threading.Event(), threading.Event()

    def autre_lot():
        with tracabilite.sources_du_lot(("lot A", "état")):
            tracabilite._sources(racine, modeles, acheteur)
            entre.set()
            sortir.wait(30)

    fil = threading.Thread(target=autre_lot)
    fil.start()
    assert entre.wait(30)
    with tracabilite.sources_du_lot(("lot B", "état")):
        tracabilite._sources(racine, modeles, acheteur)
        sortir.set()
        fil.join()
    (modeles / "dce.docx").write_bytes(b"modele 2")
    assert tracabilite._sources(racine, modeles, acheteur)["modeles/dce.docx"] == hashlib.sha256(b"modele 2").hexdigest()


def test_modele_modifie_entre_deux_lots_du_meme_processus(tmp_path):
    """Deux lots régénérés dans le même processus, le modèle Word modifié entre les deux : le manifeste du second
    enregistre l'empreinte du modèle modifié."""
    from docx import Document
    from docx.shared import Pt

    from conftest import copier_exemple
    from generateur.lot import regeneration

    racine = tmp_path / "racine"
    racine.mkdir()
    for nom in regeneration.CATALOGUE:
        (shutil.copytree if (RACINE / nom).is_dir() else shutil.copy)(RACINE / nom, racine / nom)
    dossier = tmp_path / "consultations"
    copier_exemple(EXEMPLES / "amp-espaces-verts.yaml", dossier / "amp" / "reponses.yaml")
    with ThreadPoolExecutor(1) as executeur:
        regeneration.regenerer(dossier, racine, executeur=executeur)
        modele = racine / "modeles" / "dce.docx"
        document = Document(str(modele))
        document.styles["Normal"].font.size = Pt(10.5)
        document.save(str(modele))
        bilan = regeneration.regenerer(dossier, racine, executeur=executeur)
    assert [r.statut for r in bilan.consultations] == [rc.MODIFIEE]
    manifeste = rc.lire_manifeste(dossier / "amp" / "versions" / "002")
    assert manifeste["entrees"]["sources"]["modeles/dce.docx"] == hashlib.sha256(modele.read_bytes()).hexdigest()
