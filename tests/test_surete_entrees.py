"""Sûreté des entrées (issue 21, revue robustesse-2026-12) : le bac à sable tient, les entrées piégées sont
refusées avec un message clair et le code 2, sans rien écrire, en un temps et une mémoire bornés.

Chaque test reproduit un défaut de la revue (numéro entre parenthèses) par la commande réelle, appelée dans le
processus (CliRunner) : code de sortie, message lu par l'utilisateur, fichiers présents ou absents.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import EXEMPLES, RACINE
from generateur.donnees import catalogue as module_catalogue
from generateur.interfaces.cli import main


def dce(*arguments: str | Path) -> tuple[int, str]:
    """Lance `dce …` dans le processus : code de sortie et tout ce qu'a vu l'utilisateur."""
    resultat = CliRunner().invoke(main, [str(a) for a in arguments])
    assert resultat.exit_code != 3 and "Traceback" not in resultat.output, resultat.output
    assert not isinstance(resultat.exception, Exception) or isinstance(resultat.exception, SystemExit), \
        resultat.exception
    return resultat.exit_code, resultat.output


def copie_catalogue(tmp_path: Path) -> Path:
    racine = tmp_path / "catalogue"
    racine.mkdir()
    for nom in ("catalogue.yaml", "questionnaire.yaml"):
        shutil.copy(RACINE / nom, racine / nom)
    for nom in ("clauses", "modeles", "acheteurs"):
        shutil.copytree(RACINE / nom, racine / nom)
    module_catalogue.charger.cache_clear()
    return racine


def ajouter(fichier: Path, avant: str, apres: str) -> None:
    texte = fichier.read_text(encoding="utf-8")
    assert avant in texte, avant
    fichier.write_text(texte.replace(avant, apres, 1), encoding="utf-8")


EXEMPLE = EXEMPLES / "travaux-lycee.yaml"


# --- 1. le bac à sable ne touche pas au système ------------------------------------------------------------

ATTAQUES = {
    "ecrire": '{{ param.catalogue.racine.joinpath("../ecrit-par-une-clause.txt").write_text("x") }}',
    "lire": "{{ param.catalogue.racine.joinpath('/etc/os-release').read_text() }}",
    "supprimer": '{{ param.catalogue.racine.joinpath("../temoin.txt").unlink() }}',
    "attribut interne": "{{ param._catalogue.racine }}",
    "methode de la fonction": "{{ param.__call__.__self__ }}",
    "renvoi": "{{ article.__globals__ }}",
    "modifier les reponses": "{{ lots.clear() }}{{ lots|length }}",
}


@pytest.mark.parametrize("attaque", list(ATTAQUES))
def test_clause_piegee_ne_lit_ni_n_ecrit_ni_ne_supprime(tmp_path, attaque):
    racine = copie_catalogue(tmp_path)
    temoin = tmp_path / "temoin.txt"
    temoin.write_text("intact", encoding="utf-8")
    clause = racine / "clauses" / "ccap" / "ccap-prix.md"
    clause.write_text(clause.read_text(encoding="utf-8") + "\nSECRET[" + ATTAQUES[attaque] + "]\n", encoding="utf-8")
    code, sortie = dce("--catalogue", racine, "generer", EXEMPLE, "--sortie", tmp_path / "s")
    assert code == 2, sortie
    assert "ccap-prix" in sortie and ("bac à sable" in sortie or "donnée absente" in sortie), sortie
    assert not (tmp_path / "ecrit-par-une-clause.txt").exists()
    assert temoin.read_text(encoding="utf-8") == "intact"
    assert "PRETTY_NAME" not in sortie
    assert not (tmp_path / "s").exists()


def test_condition_et_calcul_pieges_refuses_et_signales(tmp_path):
    racine = copie_catalogue(tmp_path)
    ajouter(racine / "clauses" / "ccap" / "ccap-prix.md", 'condition: "true"',
            "condition: \"param.catalogue.racine.joinpath('../par-une-condition.txt').write_text('x')\"")
    ajouter(racine / "catalogue.yaml", "expression: \"lots | length > 1\"",
            "expression: \"(lots | length > 1) and param.catalogue.racine.joinpath('../par-un-calcul.txt')"
            ".write_text('x') != 0\"")
    code, sortie = dce("--catalogue", racine, "generer", EXEMPLE, "--sortie", tmp_path / "s")
    assert code == 2 and "allotie" in sortie, sortie
    code, sortie = dce("--catalogue", racine, "catalogue", "verifier")
    assert code == 2
    assert "ccap-prix.md" in sortie and "catalogue.yaml" in sortie and "accès interdit à « catalogue »" in sortie, sortie
    assert not list(tmp_path.glob("par-un*.txt")) and not (tmp_path / "s").exists()


def test_catalogue_verifier_signale_l_evasion_dans_une_clause(tmp_path):
    racine = copie_catalogue(tmp_path)
    clause = racine / "clauses" / "ccap" / "ccap-prix.md"
    texte = clause.read_text(encoding="utf-8")
    clause.write_text(texte + "\n{{ param.catalogue.racine.joinpath('x').write_text('x') }}\n", encoding="utf-8")
    code, sortie = dce("--catalogue", racine, "catalogue", "verifier")
    assert code == 2
    ligne = texte.count("\n") + 2
    assert f"ccap-prix.md, ligne {ligne}" in sortie and "accès interdit à « write_text »" in sortie, sortie


def test_le_contexte_des_modeles_ne_contient_que_des_donnees():
    """Revue de tout ce qu'une clause reçoit : des données, ou des fonctions dont aucun attribut n'est lisible."""
    import datetime as dt

    from generateur.droit.expressions import ENV_CLAUSES, ErreursJinja
    from generateur.droit.regles import contexte_clause, preparer

    analyse = preparer(EXEMPLE, RACINE)
    selection = next(s for s in analyse.selections if s.retenue)
    donnees = (dict, list, tuple, str, int, float, dt.date, type(None))

    def parcourir(valeur, chemin):
        if isinstance(valeur, dict):
            for k, v in valeur.items():
                yield from parcourir(v, f"{chemin}.{k}")
        elif isinstance(valeur, (list, tuple)):
            for i, v in enumerate(valeur):
                yield from parcourir(v, f"{chemin}.{i}")
        else:
            yield chemin, valeur

    contexte = contexte_clause(analyse, selection)
    fonctions = []
    for chemin, valeur in parcourir(contexte, ""):
        if not isinstance(valeur, donnees):
            assert callable(valeur), (chemin, type(valeur))
            fonctions.append(chemin.lstrip("."))
    assert sorted(fonctions) == ["action", "article", "param", "retenue"]
    for nom in fonctions:
        for attribut in ("catalogue", "_catalogue", "lus", "__self__", "__globals__", "__closure__", "__dict__"):
            with pytest.raises(ErreursJinja):
                ENV_CLAUSES.from_string(f"{{{{ {nom}.{attribut}.x }}}}").render(contexte)


# --- 11. bornes de temps et de taille au rendu et aux règles ----------------------------------------------

PIEGES_CLAUSE = {
    "boucles imbriquées": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "boucles sur une liste multipliée": "{% for a in lots * 1000 %}{% for b in lots * 1000 %}{% for c in lots * 1000 %}"
                                        "{% endfor %}{% endfor %}{% endfor %}",
    "puissance": "{{ 9**(9**9) }}",
    "texte énorme": "{{ 'x' * 10**9 }}",
    "liste énorme": "{{ ('x' * 10**6) * 10**4 }}",
    "sortie énorme": "{{ 'x' | center(10**8) }}",
    "macro récursive": "{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}",
}


@pytest.mark.parametrize("piege", list(PIEGES_CLAUSE))
def test_clause_sans_fin_ou_enorme_arretee_et_nommee(tmp_path, monkeypatch, piege):
    from generateur.droit import expressions

    monkeypatch.setattr(expressions, "LIMITE_SECONDES", 1.0)  # 5 s en vrai : le test n'attend pas pour rien
    racine = copie_catalogue(tmp_path)
    clause = racine / "clauses" / "ccap" / "ccap-prix.md"
    clause.write_text(clause.read_text(encoding="utf-8") + "\n" + PIEGES_CLAUSE[piege] + "\n", encoding="utf-8")
    debut = time.monotonic()
    code, sortie = dce("--catalogue", racine, "generer", EXEMPLE, "--sortie", tmp_path / "s")
    assert time.monotonic() - debut < 30
    assert code == 2 and "ccap-prix" in sortie and "limite du bac à sable dépassée" in sortie, sortie
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("condition", ["9**(9**9) > 0", "(lots|length + 8)**(9**9) > 0"])
def test_regle_sans_fin_arretee_et_nommee(tmp_path, condition):
    racine = copie_catalogue(tmp_path)
    ajouter(racine / "clauses" / "ccap" / "ccap-prix.md", 'condition: "true"', f'condition: "{condition}"')
    debut = time.monotonic()
    code, sortie = dce("--catalogue", racine, "generer", EXEMPLE, "--sortie", tmp_path / "s")
    assert code == 2 and "ccap-prix" in sortie and "puissance trop grande" in sortie, sortie
    code, sortie = dce("--catalogue", racine, "catalogue", "verifier")
    assert time.monotonic() - debut < 30
    assert not (tmp_path / "s").exists()


def test_clause_ordinaire_non_bornee():
    """Les bornes ne gênent pas les calculs réels : puissances et produits usuels, boucles courtes."""
    from generateur.droit.expressions import ENV_EXPRESSIONS, evaluer

    assert evaluer("2 ** 10 + 1.05 ** 12 > 1025", {}) is True
    assert ENV_EXPRESSIONS.from_string("{% for i in range(3) %}{{ i * 2 }}{% endfor %}{{ '-' * 3 }}").render() == "024---"
