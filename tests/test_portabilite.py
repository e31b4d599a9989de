"""dce s'importe et génère sur un système sans les modules propres à Unix (Windows) : fcntl, os.killpg, os.setsid,
signal.SIGALRM… simulés absents dans un processus neuf."""

from __future__ import annotations

import subprocess
import sys

from conftest import EXEMPLES, RACINE

SANS_UNIX = """
import os, signal, sys
sys.modules["fcntl"] = None          # « import fcntl » échoue comme sous Windows
sys.modules["resource"] = None
for nom in ("killpg", "setsid", "getpgid", "fork"):
    if hasattr(os, nom):
        delattr(os, nom)
for nom in ("SIGALRM", "SIGKILL", "setitimer", "ITIMER_REAL", "alarm"):
    if hasattr(signal, nom):
        delattr(signal, nom)
import importlib, pkgutil, generateur
for m in pkgutil.walk_packages(generateur.__path__, "generateur."):
    importlib.import_module(m.name)
from generateur.rendu.generation import generer
from pathlib import Path
resultat = generer(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
print(len(resultat.fichiers))
"""


def test_import_et_generation_sans_modules_unix(tmp_path):
    sortie = subprocess.run([sys.executable, "-c", SANS_UNIX, str(EXEMPLES / "restauration-lycees.yaml"),
                             str(tmp_path / "sortie"), str(RACINE)], capture_output=True, text=True, timeout=120)
    assert sortie.returncode == 0, sortie.stderr[-3000:]
    assert int(sortie.stdout.split()[-1]) >= 5
    assert (tmp_path / "sortie" / "2026-FCS-0213-CCAP.docx").is_file()


def test_sortie_coupee_par_head_sans_erreur_interne(tmp_path):
    """`dce expliquer … | head -2` : la sortie fermée en cours de route n'est pas une « erreur interne »."""
    lecteur = subprocess.Popen([sys.executable, "-c", "from generateur.interfaces.cli import main; main()",
                                "--catalogue", str(RACINE), "expliquer", str(EXEMPLES / "travaux-lycee.yaml")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lecteur.stdout.close()  # comme head qui a déjà tout lu : l'explication (plus de 8 Kio) n'a plus de lecteur
    erreurs = lecteur.stderr.read().decode()
    assert lecteur.wait(timeout=120) == 0, erreurs
    assert "Erreur interne" not in erreurs and "Traceback" not in erreurs, erreurs


SANS_OPTIONS = """
import sys
sys.modules["matplotlib"] = None     # options [bilan] et [import] absentes : « import matplotlib » échoue
sys.modules["pypandoc"] = None
from generateur.interfaces.cli import main
main()
"""


def _dce_sans_options(*arguments: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", SANS_OPTIONS, "--catalogue", str(RACINE), *arguments],
                          capture_output=True, text=True, timeout=300, cwd=cwd)


def test_sans_les_options_bilan_et_import_dce_publie_et_dit_ce_qui_manque(tmp_path):
    """Sans matplotlib ni pandoc, dce génère et publie un DCE ; le bilan et l'import d'une clause Word disent en
    français quelle option installer (code 2, pas d'erreur interne, rien d'écrit)."""
    publie = _dce_sans_options("publier", str(EXEMPLES / "amp-espaces-verts.yaml"), "-o", str(tmp_path / "dce"),
                               cwd=tmp_path)
    assert publie.returncode in (0, 1), publie.stderr[-3000:]  # 1 : une obligation signalée dans l'annexe
    assert list((tmp_path / "dce").glob("*-DCE/*-CCAP.docx"))

    # un texte technique du CCTP en Word (lot 3 de l'exemple de travaux) : pandoc manque, dce le dit, rien d'écrit
    travaux = _dce_sans_options("generer", str(EXEMPLES / "travaux-lycee.yaml"), "-o", str(tmp_path / "trx"),
                                cwd=tmp_path)
    assert travaux.returncode == 2, travaux.stderr[-3000:]
    assert "texte technique du CCTP) demande l'option « import » de dce" in travaux.stderr
    assert "Traceback" not in travaux.stderr and not (tmp_path / "trx").exists()

    bilan = _dce_sans_options("bilan", str(EXEMPLES), "-o", str(tmp_path / "bilan"), cwd=tmp_path)
    assert bilan.returncode == 2, bilan.stderr
    assert "le bilan SPASER (graphiques) demande l'option « bilan » de dce" in bilan.stderr
    assert 'pip install "dce[bilan]"' in bilan.stderr and "Traceback" not in bilan.stderr
    assert not (tmp_path / "bilan").exists()

    word = tmp_path / "clause.docx"
    from docx import Document
    document = Document()
    document.add_paragraph("Le titulaire respecte la clause.")
    document.save(word)
    importe = _dce_sans_options("catalogue", "importer", str(word), "-o", str(tmp_path / "c.md"), cwd=tmp_path)
    assert importe.returncode == 2, importe.stderr
    assert "l'import d'un document Word (clause du catalogue ou texte technique du CCTP) demande l'option « import » de dce" in importe.stderr
    assert not (tmp_path / "c.md").exists()


def test_arret_de_libreoffice_sans_killpg(tmp_path, monkeypatch):
    """Sous Windows (pas d'os.killpg), un LibreOffice qui ne répond plus est quand même arrêté (taskkill, sinon
    le processus lui-même ; ici taskkill n'existe pas)."""
    import os

    from generateur.rendu import pdf

    monkeypatch.delattr(os, "killpg", raising=False)
    bloque = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    appel = pdf._Appel([], bloque, tmp_path, tmp_path)
    assert "n'a pas terminé en 0.5 s" in pdf._attendre(appel, 0.5)
    assert bloque.poll() is not None  # arrêté, pas laissé tourner
