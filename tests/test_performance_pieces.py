"""Mémoires et raccourcis de la couche des pièces (issue 22) : ils ne changent rien de visible et suivent leurs
entrées. Aucun chronométrage ici (voir benchmarks/)."""

from __future__ import annotations

import pytest

from conftest import EXEMPLES, RACINE
from generateur.donnees import catalogue
from generateur.pieces import croises


def _pieces_relues(exemple: str) -> tuple[object, dict]:
    from generateur.droit.regles import preparer
    from generateur.pieces import relecture
    from generateur.pieces.assemblage import blocs_document
    from generateur.pieces.tracabilite import fiche

    analyse = preparer(EXEMPLES / exemple, RACINE)
    blocs = {doc: blocs_document(analyse, doc)[0] for doc in analyse.catalogue.documents}
    blocs["Fiche de traçabilité"] = fiche(analyse)[0]
    return analyse, {nom: relecture.piece(nom, b) for nom, b in blocs.items()}


@pytest.mark.parametrize("exemple", sorted(p.name for p in EXEMPLES.glob("*.yaml")))
def test_controles_croises_gardes_memes_defauts_que_sans_memoire(exemple, monkeypatch):
    """Les correspondances gardées par texte donnent les mêmes défauts, dans le même ordre, que des recherches
    refaites à chaque fois (mémoire vidée à chaque texte)."""
    analyse, pieces = _pieces_relues(exemple)
    croises._TROUVES.clear()
    premier = croises.controler(analyse.catalogue, pieces)
    repris = croises.controler(analyse.catalogue, pieces)
    monkeypatch.setattr(croises, "TEXTES_AU_PLUS", 0)
    sans = croises.controler(analyse.catalogue, pieces)
    assert premier == repris == sans


def test_controles_croises_gardes_suivent_le_texte():
    """Chaque contrôle croisé du catalogue, appliqué tour à tour à son exemple fautif et à son texte correct (les
    textes de l'un et de l'autre étant gardés) : le défaut suit le texte, à chaque tour."""
    cat = catalogue.charger(RACINE)
    controles = [c for c in croises.controles(cat) if c.correct]
    assert controles
    for _ in range(2):
        for c in controles:
            fautif = [d for d in croises.appliquer(c, croises.pieces_d_exemple(c.exemple)) if d.regle == c.id]
            assert fautif, c.id
            assert croises.appliquer(c, croises.pieces_d_exemple(c.correct)) == [], c.id


def test_controles_croises_memoire_bornee(monkeypatch):
    """Au-delà de TEXTES_AU_PLUS textes gardés, la mémoire repart de zéro : elle ne grandit pas avec le lot."""
    import re

    monkeypatch.setattr(croises, "TEXTES_AU_PLUS", 5)
    croises._TROUVES.clear()
    croises._GARDES[0] = 0
    motif, autre = re.compile(r"\d+"), re.compile(r"[a-z]+")
    for i in range(23):
        assert [m.group(0) for m in croises._trouves(motif, f"lot {i}")] == [str(i)]
        assert [m.group(0) for m in croises._trouves(autre, f"lot {i}")] == ["lot"]
        assert sum(len(d) for d in croises._TROUVES.values()) <= 5

