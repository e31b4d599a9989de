"""Codes CPV validés par la nomenclature officielle (CPV 2008), et recherche par mot."""

from __future__ import annotations

import csv

import pytest
from click.testing import CliRunner

from conftest import RACINE, ecrire, reponses
from generateur.donnees import cpv
from generateur.interfaces.cli import main


def dce(*args: str):
    return CliRunner().invoke(main, ["--catalogue", str(RACINE), *args])


def test_la_nomenclature_est_complete_et_chaque_code_officiel_est_accepte():
    with open(cpv.FICHIER, encoding="utf-8", newline="") as f:
        lignes = list(csv.DictReader(f))
    assert len(cpv.nomenclature()) == len(lignes) == 9454
    assert all(cpv.probleme(l["code"]) is None for l in lignes)
    assert cpv.probleme("45454000") is None  # sans chiffre de contrôle : accepté
    assert cpv.probleme("4545").startswith("« 4545 » n'a pas la forme d'un code CPV")
    source = RACINE.parent / "shared" / "data" / "cpv" / "cpv-2008.csv"  # la liste d'origine, si elle est là
    if source.is_file():
        assert source.read_bytes() == cpv.FICHIER.read_bytes()


@pytest.mark.parametrize("code, attendu", [
    ("45454000-5", "chiffre de contrôle faux dans « 45454000-5 » : le code CPV de « Travaux de restructuration » "
                   "est 45454000-4"),
    ("99999999-9", "code CPV « 99999999-9 » absent de la nomenclature CPV 2008 ; codes les plus proches : "),
    ("4545", "format invalide « 4545 » ; Nomenclature du vocabulaire commun pour les marchés publics"),
])
def test_code_faux_refuse_avec_le_code_le_plus_proche(tmp_path, code, attendu):
    resultat = dce("verifier", str(ecrire(tmp_path, reponses(cpv=code))))
    assert resultat.exit_code == 2, resultat.output
    assert attendu in resultat.output


def test_code_faux_d_un_lot_refuse(tmp_path):
    donnees = reponses()
    donnees["lots"][1]["cpv"] = "30192000-2"
    resultat = dce("verifier", str(ecrire(tmp_path, donnees)))
    assert resultat.exit_code == 2
    assert "le code CPV de « Fournitures de bureau » est 30192000-1" in resultat.output


def test_recherche_par_mot_sans_accents_et_par_chiffres():
    resultat = dce("cpv", "chercher", "peinture", "--nombre", "30")
    assert resultat.exit_code == 0
    assert "45442100-8  Travaux de peinture" in resultat.output.splitlines()
    assert [c.code for c in cpv.chercher("travaux peinture", 1)] == ["45442100-8"]
    assert "45252130-8" in [c.code for c in cpv.chercher("epuration")]  # « Équipement de station d'épuration »
    par_chiffres = [c.code for c in cpv.chercher("4544210")]
    assert par_chiffres[0] == "45442100-8" and all(c.startswith("4544210") for c in par_chiffres)
    vide = dce("cpv", "chercher", "zzzzzz")
    assert vide.exit_code == 1 and "aucun code CPV ne correspond à « zzzzzz »" in vide.output
