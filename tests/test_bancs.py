"""Les bancs de benchmarks/ se lancent : leur aide s'affiche (une aide qui lève une exception empêche de découvrir
leurs options ; argparse lit « % » comme un format). Aucun chronométrage ici."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from conftest import RACINE

BANCS = sorted(p for p in (RACINE / "benchmarks").glob("*.py") if "parse_args(" in p.read_text(encoding="utf-8"))


def test_les_bancs_a_options_sont_trouves() -> None:
    assert {p.name for p in BANCS} >= {"regeneration.py", "generation.py", "accueil.py", "publication_lot.py",
                                       "commande.py", "controles.py", "equipe.py", "instructions_lot.py",
                                       "profil_regeneration.py"}


@pytest.mark.parametrize("banc", BANCS, ids=lambda p: p.name)
def test_aide_du_banc(banc) -> None:
    fini = subprocess.run([sys.executable, str(banc), "--help"], capture_output=True, text=True, timeout=120,
                          cwd=RACINE)
    assert fini.returncode == 0, fini.stderr
    aide = fini.stdout
    assert aide.startswith("usage : ") and "affiche cette aide et quitte" in aide, aide[:300]
    assert "options :" in aide and "options:" not in aide and "show this help" not in aide
    # chaque option visible dit ce qu'elle fait : son aide suit sur sa ligne, ou sur la suivante, plus indentée
    lignes = aide.splitlines()
    sans_aide = [ligne.strip() for ligne, suivante in zip(lignes, lignes[1:] + [""])
                 if re.fullmatch(r"  -{1,2}[\w-]+(?: [A-Z_]+)?(?:, --[\w-]+)?", ligne)
                 and not re.match(r" {8,}\S", suivante)]
    assert not sans_aide, f"options sans aide : {sans_aide}"


def test_erreur_d_option_en_francais() -> None:
    fini = subprocess.run([sys.executable, str(RACINE / "benchmarks" / "regeneration.py"), "--n", "mille"],
                          capture_output=True, text=True, timeout=120, cwd=RACINE)
    assert fini.returncode == 2
    assert "erreur : option --n : valeur invalide : 'mille'" in fini.stderr, fini.stderr
