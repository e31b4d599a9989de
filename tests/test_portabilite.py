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
