"""Raccourcis de la lecture des réponses et du droit (issue 22, septième passe) : chacun comparé au chemin lent."""

from __future__ import annotations

from pathlib import Path

import pytest

from generateur.donnees import yaml_lignes

RACINE = Path(__file__).resolve().parents[1]
FICHIERS_YAML = sorted([*RACINE.glob("exemples/*.yaml"), RACINE / "catalogue.yaml", RACINE / "questionnaire.yaml",
                        *RACINE.glob("acheteurs/**/*.yaml")])

TEXTES = [
    "a: texte\nb: 'cité'\nc: \"0138\"\nd: 0138\ne: 1:30\nf: 2026-01-02\ng: ~\nh: oui\ni: true\nj: 1.5\nk: 1_000\n",
    "base: &b {x: un, y: [deux, \"3\", 4]}\nautre:\n  <<: *b\n  z: cinq\nliste: [*b, *b]\nclé: |\n  bloc\n  de texte\n",
    "- &a un\n- *a\n- {? complexe : valeur, 12: douze, 1.5: virgule, true: vrai}\n",
]


def _lent(texte: str, fichier: str, monkeypatch: pytest.MonkeyPatch) -> yaml_lignes.Document:
    """La lecture d'avant : chaque texte construit par PyYAML (construct_object), nœuds distincts comptés d'avance."""
    with monkeypatch.context() as m:
        m.setattr(yaml_lignes, "_TEXTE", object())  # aucune balise ne l'égale : le constructeur de PyYAML
        compter = yaml_lignes._Lecture.limite.fget

        def d_avance(self: yaml_lignes._Lecture) -> int:
            return compter(self)

        m.setattr(yaml_lignes._Lecture, "limite", property(d_avance))
        return yaml_lignes.lire_texte(texte, fichier)


@pytest.mark.parametrize("texte", TEXTES + [f.read_text(encoding="utf-8") for f in FICHIERS_YAML])
def test_textes_lus_comme_par_le_constructeur_de_pyyaml(texte, monkeypatch):
    """Un texte YAML rendu tel quel (sans construct_object) : mêmes données, mêmes types, mêmes lignes."""
    rapide = yaml_lignes.lire_texte(texte, "f.yaml")
    lent = _lent(texte, "f.yaml", monkeypatch)
    assert rapide.donnees == lent.donnees
    assert repr(rapide.donnees) == repr(lent.donnees)  # mêmes types (texte, entier, date…), même ordre des clés
    assert rapide.lignes == lent.lignes


def test_limite_des_alias_comptee_au_premier_alias():
    """Les nœuds distincts ne sont comptés qu'au premier alias ; la limite est celle d'avant (LIMITE_ALIAS plus les
    nœuds écrits) et un document sans alias n'est pas parcouru une fois de plus."""
    yaml_lignes._importer_yaml()
    chargeur = yaml_lignes._Chargeur("a: &x [1, 2, {b: 3}]\nc: *x\n")
    racine = chargeur.get_single_node()
    lecture = yaml_lignes._Lecture(yaml_lignes.Document(None, "f"), chargeur, [], racine)
    assert lecture._limite is None
    assert lecture.limite == yaml_lignes.LIMITE_ALIAS + yaml_lignes._noeuds_distincts(racine)
    chargeur.dispose()
    doc = yaml_lignes.lire_texte("a: [1, 2]\nb: {c: d}\n", "f")
    assert doc.donnees == {"a": [1, 2], "b": {"c": "d"}}


def test_bombe_d_alias_toujours_refusee():
    texte = "a: &a [x, x, x, x, x, x, x, x, x]\n"
    for i, c in enumerate("bcdefgh"):
        texte += f"{c}: &{c} [{','.join(['*' + 'abcdefgh'[i]] * 9)}]\n"
    with pytest.raises(yaml_lignes.ErreurDonnees, match="trop d'éléments repris par des alias"):
        yaml_lignes.lire_texte(texte, "f")
