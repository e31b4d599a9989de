"""Les bancs de benchmarks/ se lancent : leur aide s'affiche (une aide qui lève une exception empêche de découvrir
leurs options ; argparse lit « % » comme un format). Aucun chronométrage ici."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import RACINE

BANCS = sorted(p for p in (RACINE / "benchmarks").glob("*.py") if "argparse" in p.read_text(encoding="utf-8"))


def test_les_bancs_a_options_sont_trouves() -> None:
    assert {p.name for p in BANCS} >= {"regeneration.py", "generation.py", "accueil.py", "publication_lot.py"}


@pytest.mark.parametrize("banc", BANCS, ids=lambda p: p.name)
def test_aide_du_banc(banc) -> None:
    fini = subprocess.run([sys.executable, str(banc), "--help"], capture_output=True, text=True, timeout=120,
                          cwd=RACINE)
    assert fini.returncode == 0, fini.stderr
    assert fini.stdout.startswith("usage:") and "--" in fini.stdout
