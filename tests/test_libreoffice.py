"""Chaque document généré s'ouvre dans LibreOffice ; le sommaire porte les vrais numéros de page."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import convertir_pdf, soffice


@pytest.fixture(scope="module")
def pdfs(exemples_generes, tmp_path_factory) -> dict[str, Path]:
    if soffice() is None:
        pytest.skip("LibreOffice absent sur ce poste (obligatoire sous CI=true)")
    dossier = tmp_path_factory.mktemp("pdf")
    docx = [p for fichiers in exemples_generes.values() for n, p in fichiers.items() if n.endswith(".docx")]
    convertir_pdf(docx, dossier, tmp_path_factory.mktemp("profil-lo"))  # un seul appel pour tout le lot
    return {p.name: dossier / (p.stem + ".pdf") for p in docx}


def _texte(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def test_chaque_document_s_ouvre(pdfs):
    assert len(pdfs) == 20  # 4 exemples × 5 documents Word
    for nom, pdf in pdfs.items():
        assert pdf.is_file() and pdf.stat().st_size > 5000, nom
        assert pdf.read_bytes().startswith(b"%PDF"), nom


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils absent")
def test_sommaire_et_pagination(pdfs):
    for nom, pdf in pdfs.items():
        pages = _texte(pdf).split("\f")
        assert len(pages) >= 3, nom
        assert re.search(r"Page 2 / \d+", pages[1]), nom
        sommaire = pages[1]
        numeros = [int(n) for n in re.findall(r"Article \d+ – .*?\.{3,}\s*(\d+)\s*$", sommaire, re.M)]
        assert numeros, (nom, sommaire[:500])
        assert numeros[0] >= 3 and numeros == sorted(numeros), (nom, numeros)
        assert "{{" not in "".join(pages) and "**" not in "".join(pages), nom
