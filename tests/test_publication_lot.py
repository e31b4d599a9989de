"""Publication en lot d'un dossier de consultations (`dce publier DOSSIER`) : mêmes sorties qu'une publication
seule, LibreOffice démarré une fois pour tout le lot, chaque consultation tout ou rien, échecs rapportés.

Un seul passage du vrai LibreOffice (deux exemples en lot, un en seul) ; les autres tests remplacent LibreOffice
par un faux `soffice` qui compte ses appels.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import EXEMPLES, copier_exemple, ecrire, reponses, soffice
from generateur.rendu import publication


def _publier_cli(*args: str):
    from generateur.interfaces.cli import main

    resultat = CliRunner().invoke(main, ["publier", *map(str, args)])
    resultat.texte = resultat.output.replace("\u00a0", " ")  # espaces insécables des nombres
    return resultat


def _texte_pdf(chemin: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(chemin), "-"], capture_output=True, text=True,
                          check=True).stdout


def _fichiers(dossier: Path) -> dict[str, Path]:
    return {str(p.relative_to(dossier)): p for p in sorted(dossier.rglob("*")) if p.is_file()}


def test_lot_identique_a_une_publication_seule(tmp_path):
    if soffice() is None:
        pytest.skip("LibreOffice absent sur ce poste (obligatoire sous CI=true)")
    lot = tmp_path / "consultations"
    for exemple in ("nettoyage-hotel-region", "amp-espaces-verts"):
        copier_exemple(EXEMPLES / f"{exemple}.yaml", lot / exemple / "reponses.yaml")
    resultat = _publier_cli(lot)
    assert resultat.exit_code == 0, resultat.output
    assert "2 consultations" in resultat.texte and "2 publiées, 0 en échec" in resultat.texte

    seul = copier_exemple(EXEMPLES / "nettoyage-hotel-region.yaml", tmp_path / "seul" / "reponses.yaml")
    assert _publier_cli(seul, "--sortie", tmp_path / "seul" / "publication").exit_code == 0
    en_lot, a_part = _fichiers(lot / "nettoyage-hotel-region" / "publication"), _fichiers(tmp_path / "seul" / "publication")
    assert list(en_lot) == list(a_part)
    assert any(n.endswith("-DCE.zip") for n in en_lot) and any(n.endswith(".pdf") for n in en_lot)
    for nom, chemin in en_lot.items():
        if nom.endswith(".pdf"):
            assert _texte_pdf(chemin) == _texte_pdf(a_part[nom]), nom
            assert "Nettoyage" in _texte_pdf(chemin) or not nom.endswith("-RC.pdf")
        else:  # pièces, listes avec empreintes, archives : à l'octet
            assert chemin.read_bytes() == a_part[nom].read_bytes(), nom
    autre = lot / "amp-espaces-verts" / "publication"
    assert (autre / "AMP-2026-EV-041-DCE.zip").is_file()
    assert "AMP-2026-EV-041" in _texte_pdf(autre / "AMP-2026-EV-041-DCE" / "AMP-2026-EV-041-RC.pdf")


# -- faux soffice : appels comptés, échec ciblé

FAUX_SOFFICE = """#!{python}
import sys
from pathlib import Path
args = sys.argv[1:]
with open({journal!r}, "a") as j:
    j.write("appel\\n")
sortie = Path(args[args.index("--outdir") + 1])
valeurs = {{args.index("--outdir") + 1, args.index("--convert-to") + 1}}
for i, f in enumerate(args):
    if f.startswith("-") or i in valeurs or "ECHEC" in f:
        continue  # une pièce dont le nom contient ECHEC n'est jamais convertie
    (sortie / (Path(f).stem + ".pdf")).write_bytes(b"%PDF-1.4 faux " + Path(f).name.encode())
"""


@pytest.fixture
def journal(tmp_path, monkeypatch) -> Path:
    journal = tmp_path / "appels.txt"
    script = tmp_path / "outils" / "soffice"
    script.parent.mkdir()
    script.write_text(FAUX_SOFFICE.format(python=sys.executable, journal=str(journal)))
    script.chmod(0o755)
    monkeypatch.setenv("DCE_SOFFICE", str(script))
    return journal


def _lot(dossier: Path, references: dict[str, str]) -> Path:
    for nom, reference in references.items():
        (dossier / nom).mkdir(parents=True)
        ecrire(dossier / nom, reponses(reference=reference))
    return dossier


def test_un_seul_libreoffice_pour_tout_le_lot(tmp_path, journal):
    lot = _lot(tmp_path / "lot", {"a": "LOT-A", "b": "LOT-B", "c/sous": "LOT-C"})
    resultat = _publier_cli(lot, "--travailleurs", "1")
    assert resultat.exit_code == 0, resultat.output
    assert "3 consultations" in resultat.texte and "3 publiées, 0 en échec" in resultat.texte
    assert journal.read_text().splitlines() == ["appel"]  # une instance pour les trois consultations
    for nom, reference in (("a", "LOT-A"), ("b", "LOT-B"), ("c/sous", "LOT-C")):
        sortie = lot / nom / "publication"
        liste = publication.lire_liste((sortie / f"{reference}-DCE" / f"{reference}-liste-des-pieces.csv").read_bytes())
        pdfs = [ligne["Fichier"] for ligne in liste if ligne["Format"] == "PDF"]
        assert f"{reference}-RC.pdf" in pdfs and f"{reference}-CCAP.pdf" in pdfs
        # chaque PDF est celui de sa propre pièce, pas celui d'une autre consultation
        assert (sortie / f"{reference}-DCE" / f"{reference}-CCAP.pdf").read_bytes().endswith(
            f"{reference}-CCAP.docx".encode())


def test_une_consultation_en_echec_n_empeche_pas_les_autres(tmp_path, journal):
    lot = _lot(tmp_path / "lot", {"bonne": "LOT-BON", "pdf-impossible": "LOT-ECHEC", "meme-reference": "LOT-BON"})
    (lot / "illisible").mkdir()
    (lot / "illisible" / "reponses.yaml").write_text("reference: [\n")
    # une publication précédente de la consultation qui va échouer : elle reste intacte
    ancienne = lot / "pdf-impossible" / "publication"
    ancienne.mkdir()
    (ancienne / "notes.txt").write_text("à garder")
    resultat = _publier_cli(lot, "--travailleurs", "1")
    assert resultat.exit_code == 1, resultat.output
    assert "4 consultations" in resultat.texte and "2 publiées, 2 en échec" in resultat.texte
    assert "pdf-impossible : LOT-ECHEC-RC.docx : LibreOffice n'a pas pu convertir ce fichier en PDF" in resultat.texte
    assert "illisible : " in resultat.texte and "YAML invalide" in resultat.texte
    assert sorted(p.name for p in ancienne.iterdir()) == ["notes.txt"]  # rien de nouveau, rien d'écrit à moitié
    assert not list((lot / "pdf-impossible").glob(".*"))  # pas de dossier en préparation laissé
    assert not (lot / "illisible" / "publication").exists()
    # deux consultations de même référence : chacune ses PDF (deux passages, les noms ne s'écrasent pas)
    for nom in ("bonne", "meme-reference"):
        assert (lot / nom / "publication" / "LOT-BON-DCE.zip").is_file()
        assert (lot / nom / "publication" / "LOT-BON-DCE" / "LOT-BON-RC.pdf").read_bytes().startswith(b"%PDF")


def test_sortie_commune_et_dossier_sans_consultation(tmp_path, journal):
    lot = _lot(tmp_path / "lot", {"x": "LOT-X"})
    sortie = tmp_path / "publications"
    resultat = _publier_cli(lot, "--sortie", sortie)
    assert resultat.exit_code == 0
    assert (sortie / "x" / "LOT-X-DCE.zip").is_file() and not (lot / "x" / "publication").exists()
    # progression d'un lot d'une consultation : accordée au singulier
    assert "Rédaction des pièces (1 consultation)…" in resultat.texte
    assert "pièces, 1 consultation)…" in resultat.texte and "1 consultations" not in resultat.texte
    vide = tmp_path / "vide"
    vide.mkdir()
    resultat = _publier_cli(vide)
    assert resultat.exit_code == 2 and "aucune consultation" in resultat.texte
