"""Outils du service juridique : vérification du catalogue, versions en vigueur, parcours, couverture, import Word.

Chaque type de défaut est semé dans une copie du catalogue ; `dce catalogue verifier` doit le signaler
avec le fichier, la ligne et un message précis, et sortir en erreur.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from docx import Document

from conftest import RACINE, Lu, ecrire, reponses
from generateur.donnees import acheteurs, catalogue
from generateur.pieces import couverture
from generateur.interfaces.cli import main
from generateur.droit.regles import preparer

A_COPIER = ("catalogue.yaml", "questionnaire.yaml", "clauses", "modeles", "acheteurs")


@pytest.fixture
def copie(tmp_path: Path) -> Path:
    """Copie modifiable du catalogue livré."""
    racine = tmp_path / "catalogue"
    racine.mkdir()
    for nom in A_COPIER:
        source = RACINE / nom
        if source.is_dir():
            shutil.copytree(source, racine / nom)
        else:
            shutil.copy2(source, racine / nom)
    return racine


def dce(racine: Path, *arguments: str):
    return CliRunner().invoke(main, ["--catalogue", str(racine), *arguments])


def verifier(racine: Path):
    return dce(racine, "catalogue", "verifier")


def remplacer(fichier: Path, avant: str, apres: str) -> None:
    texte = fichier.read_text(encoding="utf-8")
    assert avant in texte, (fichier, avant)
    fichier.write_text(texte.replace(avant, apres, 1), encoding="utf-8")


def ligne_de(fichier: Path, motif: str) -> int:
    for i, ligne in enumerate(fichier.read_text(encoding="utf-8").split("\n"), start=1):
        if motif in ligne:
            return i
    raise AssertionError((fichier, motif))


def signale(resultat, fichier: str, ligne: int | None, *morceaux: str) -> None:
    """Le résultat est un échec (code 2) et l'une de ses lignes nomme le fichier, la ligne et chaque morceau."""
    assert resultat.exit_code == 2, resultat.output
    lieu = f"{fichier}, ligne {ligne} :" if ligne else f"{fichier}"
    lignes = [l for l in resultat.output.splitlines() if lieu in l and all(m in l for m in morceaux)]
    assert lignes, f"attendu : {lieu} {morceaux}\nobtenu :\n{resultat.output}"


CLAUSE = "clauses/ccap/ccap-duree.md"


def test_catalogue_livre_sans_defaut():
    resultat = verifier(RACINE)
    assert resultat.exit_code == 0, resultat.output
    assert "aucun problème" in resultat.output


# -- un défaut semé par type ---------------------------------------------------------------------------------

def test_identifiant_en_double(copie):
    shutil.copy(copie / "clauses/ccap/ccap-prix.md", copie / "clauses/ccap/ccap-prix-copie.md")
    resultat = verifier(copie)
    assert resultat.exit_code == 2
    assert re.search(r"clauses/ccap/ccap-prix(-copie)?\.md, ligne 2 : « id » : identifiant « ccap-prix » version 1 "
                     r"déjà défini dans ccap-prix(-copie)?\.md", resultat.output), resultat.output


def test_fichier_orphelin_et_clause_hors_dossier(copie):
    (copie / "clauses/ccap/ancienne-clause.docx").write_bytes(b"PK")
    (copie / "clauses/archives").mkdir()
    shutil.copy(copie / "clauses/ccap/ccap-prix.md", copie / "clauses/archives/ccap-prix-2020.md")
    remplacer(copie / "clauses/archives/ccap-prix-2020.md", "id: ccap-prix", "id: ccap-prix-archive")
    resultat = verifier(copie)
    signale(resultat, "clauses/ccap/ancienne-clause.docx", None, "fichier orphelin", "que les fichiers .md")
    signale(resultat, "clauses/archives/ccap-prix-2020.md", None, "fichier de clause orphelin",
            "clauses/rc, clauses/ccap ou clauses/cctp")


def test_article_du_plan_sans_clause(copie):
    (copie / "clauses/ccap/ccap-pieces.md").unlink()
    resultat = verifier(copie)
    signale(resultat, "catalogue.yaml", ligne_de(copie / "catalogue.yaml", "{id: pieces,"),
            "aucun fichier de clause pour l'article « pieces » du plan du CCAP")


def test_action_spaser_inconnue_ou_interne(copie):
    fichier = copie / CLAUSE
    champ(fichier, "actions", '{mise_en_oeuvre: ["99.9", "1.1"]}')
    resultat = verifier(copie)
    ligne = ligne_de(fichier, "actions:")
    signale(resultat, CLAUSE, ligne, "action SPASER « 99.9 » inconnue du référentiel")
    signale(resultat, CLAUSE, ligne, "action SPASER « 1.1 » interne", "dce: false")


@pytest.mark.parametrize("valeur, champ_, attendu", [
    ('["9.2"]', "actions", "étiquette SPASER sans niveau"),
    ('{engagement: ["9.2"]}', "actions.engagement", "niveau « engagement » inconnu pour une étiquette SPASER"),
    ('{rappel: "9.2"}', "actions.rappel", "niveau « rappel » : une liste d'actions est attendue"),
    ('{rappel: [{action: "9.2", quand: "true"}]}', "actions.rappel.0", "étiquette SPASER invalide"),
])
def test_etiquette_spaser_sans_niveau_refusee(copie, valeur, champ_, attendu):
    """Une étiquette SPASER dit son niveau (obligation légale, mise en œuvre, rappel) : l'ancienne liste sans
    niveau et un niveau inconnu sont refusés, avec la ligne, le champ et les niveaux possibles."""
    fichier = copie / CLAUSE
    champ(fichier, "actions", valeur)
    resultat = verifier(copie)
    signale(resultat, CLAUSE, ligne_de(fichier, "actions:"), attendu, f"« {champ_} »")
    if "niveau" in attendu and "inconnu" in attendu or "sans niveau" in attendu:
        assert "obligation_legale (obligation légale)" in resultat.output, resultat.output


def test_condition_si_d_un_lien_verifiee(copie):
    fichier = copie / CLAUSE
    champ(fichier, "actions", '{mise_en_oeuvre: [{action: "11.4", si: "taux_mystere > 3"}]}')
    resultat = verifier(copie)
    signale(resultat, CLAUSE, ligne_de(fichier, "actions:"),
            "condition « si » du lien vers l'action 11.4 lit « taux_mystere »")


@pytest.mark.parametrize("ajout, repere, attendu", [
    ("Texte {% if %} incomplet.", "{% if %}", "syntaxe Jinja invalide"),
    ("Montant : {{ montant_mystere | montant }}.", "montant_mystere",
     "variable « montant_mystere » fournie ni par le questionnaire ni par les règles"),
    ("Voir {{ article('ccap-inexistante') }}.", "ccap-inexistante",
     "renvoi vers la clause « ccap-inexistante », qui n'existe pas"),
])
def test_corps_de_clause_fautif(copie, ajout, repere, attendu):
    fichier = copie / CLAUSE
    fichier.write_text(fichier.read_text(encoding="utf-8") + f"\n{ajout}\n", encoding="utf-8")
    signale(verifier(copie), CLAUSE, ligne_de(fichier, repere), attendu)


def champ(fichier: Path, nom: str, valeur: str) -> None:
    """Remplace la ligne de métadonnées « nom: … » (valeur vide : « nom: »)."""
    texte = fichier.read_text(encoding="utf-8")
    fichier.write_text(re.sub(rf"^{nom}: .*$", f"{nom}: {valeur}".rstrip(), texte, count=1, flags=re.M),
                       encoding="utf-8")


@pytest.mark.parametrize("condition, attendu", [
    ("nature ==", "condition illisible"),
    ("spaser.insertion.actf", "réponse « spaser.insertion.actf » absente du questionnaire"),
    ("nature == 'travail'", "valeur « travail » inconnue pour la réponse « nature »"),
    ("criteres | selectattr('type', 'equalto', 'ecologique') | list", "valeur « ecologique » inconnue pour la réponse « criteres.type »"),
    ("budget > 1000", "la condition lit « budget »"),
])
def test_condition_illisible_ou_reponse_inconnue(copie, condition, attendu):
    fichier = copie / CLAUSE
    champ(fichier, "condition", f'"{condition}"')
    resultat = verifier(copie)
    signale(resultat, CLAUSE, ligne_de(fichier, "condition:"), "« condition »", attendu)


@pytest.mark.parametrize("nom, vide", [("references", "[]"), ("version", ""), ("en_vigueur", "")])
def test_reference_version_ou_vigueur_manquante(copie, nom, vide):
    fichier = copie / CLAUSE
    champ(fichier, nom, vide)
    signale(verifier(copie), CLAUSE, ligne_de(fichier, f"{nom}:"), f"« {nom} »", "champ obligatoire manquant")


def test_versions_qui_se_chevauchent_ou_laissent_un_vide(copie):
    v2 = copie / "clauses/ccap/ccap-duree-v2.md"
    shutil.copy(copie / CLAUSE, v2)
    remplacer(v2, "version: 1", "version: 2")
    remplacer(v2, "en_vigueur: {du: 2019-04-01}", "en_vigueur: {du: 2027-01-01}")
    resultat = verifier(copie)
    signale(resultat, "clauses/ccap/ccap-duree-v2.md", ligne_de(v2, "en_vigueur"),
            "les versions 1 et 2 de « ccap-duree » se chevauchent", "avant le 01/01/2027")
    remplacer(copie / CLAUSE, "en_vigueur: {du: 2019-04-01}", "en_vigueur: {du: 2019-04-01, au: 2026-06-30}")
    resultat = verifier(copie)
    signale(resultat, "clauses/ccap/ccap-duree-v2.md", ligne_de(v2, "en_vigueur"),
            "aucune version de « ccap-duree » n'est en vigueur du 01/07/2026 au 31/12/2026")
    remplacer(copie / CLAUSE, "au: 2026-06-30", "au: 2026-12-31")
    assert verifier(copie).exit_code == 0


def test_modele_word_avec_variable_non_fournie(copie):
    modele = copie / "modeles/dce.docx"
    document = Document(str(modele))
    document.add_paragraph("Visa du contrôleur : {{ visa_controleur }}")
    document.save(str(modele))
    resultat = verifier(copie)
    signale(resultat, "modeles/dce.docx", None, "le modèle attend la variable « visa_controleur »", "que dce ne fournit pas")


def test_valeur_a_completer_statut_et_prefixe(copie):
    fichier = copie / CLAUSE
    champ(fichier, "references", '["A_COMPLETER"]')
    champ(fichier, "statut_juridique", "non_verifie")
    champ(fichier, "note_juridique", '""')
    champ(fichier, "id", "duree-du-marche")
    resultat = verifier(copie)
    signale(resultat, CLAUSE, ligne_de(fichier, "references:"), "valeur « A_COMPLETER » à compléter")
    signale(resultat, CLAUSE, ligne_de(fichier, "statut_juridique"), "sans note_juridique")
    signale(resultat, CLAUSE, ligne_de(fichier, "id:"), "doit commencer par « ccap- »")


def test_tous_les_defauts_d_un_coup(copie):
    """Un seul passage signale chaque défaut, sans s'arrêter au premier."""
    (copie / "clauses/ccap/ccap-pieces.md").unlink()
    fichier = copie / CLAUSE
    fichier.write_text(fichier.read_text(encoding="utf-8") + "\n{{ inconnue }} {{ article('ccap-absente') }}\n",
                       encoding="utf-8")
    (copie / "clauses/rc/notes.txt").write_text("brouillon", encoding="utf-8")
    resultat = verifier(copie)
    assert resultat.exit_code == 2
    assert "4 problèmes à corriger" in resultat.output, resultat.output
    for attendu in ("« pieces »", "« inconnue »", "« ccap-absente »", "notes.txt"):
        assert attendu in resultat.output


# -- versions en vigueur -----------------------------------------------------------------------------------

V1 = """---
id: ccap-clause-datee
version: {version}
en_vigueur: {vigueur}
titre: "Clause datée"
document: CCAP
article: objet
ordre: 90
actions: []
references: ["CCP R2194-1"]
statut_juridique: verifie
condition: "true"
quand: "toujours"
portee: consultation
s_applique_a: toutes
variables: []
decp: []
---
{texte}
"""


def _versions(copie: Path) -> None:
    (copie / "clauses/ccap/ccap-clause-datee.md").write_text(V1.format(
        version=1, vigueur="{du: 2019-04-01, au: 2026-12-31}", texte="Rédaction antérieure au 1er janvier 2027."),
        encoding="utf-8")
    (copie / "clauses/ccap/ccap-clause-datee-2027.md").write_text(V1.format(
        version=2, vigueur="{du: 2027-01-01}", texte="Rédaction issue de la réforme du 1er janvier 2027."),
        encoding="utf-8")


def test_version_en_vigueur_a_la_date_de_lancement(copie, tmp_path):
    _versions(copie)
    assert verifier(copie).exit_code == 0
    avant = preparer(ecrire(tmp_path, reponses(date_lancement="2026-12-31")), copie)
    apres = preparer(ecrire(tmp_path, reponses(date_lancement="2027-01-01")), copie)
    assert avant.selection("ccap-clause-datee").clause.version == 1
    assert apres.selection("ccap-clause-datee").clause.version == 2
    # la consultation lancée en 2026 et régénérée plus tard reste au droit de son lancement
    regeneree = preparer(ecrire(tmp_path, reponses(date_lancement="2026-12-01")), copie)
    assert regeneree.date_droit == dt.date(2026, 12, 1)
    assert regeneree.selection("ccap-clause-datee").clause.version == 1


def test_droit_du_bascule_sur_la_version_nouvelle(copie, tmp_path):
    _versions(copie)
    fichier = ecrire(tmp_path, reponses(date_lancement="2026-12-01"))
    resultat = dce(copie, "generer", str(fichier), "--sortie", str(tmp_path / "sortie"), "--droit-du", "15/01/2027")
    assert resultat.exit_code == 0, resultat.output
    ccap = Lu(tmp_path / "sortie" / "TEST-001-CCAP.docx")
    assert "Rédaction issue de la réforme du 1er janvier 2027." in ccap.texte
    assert "Rédaction antérieure" not in ccap.texte
    manifeste = json.loads((tmp_path / "sortie" / "TEST-001-manifeste.json").read_text(encoding="utf-8"))
    assert manifeste["droit_applicable_au"] == "2027-01-15"
    assert [c["version"] for c in manifeste["clauses"] if c["id"] == "ccap-clause-datee"] == [2]


# -- parcourir le catalogue --------------------------------------------------------------------------------

def test_lister_par_action_document_et_date():
    resultat = dce(RACINE, "catalogue", "lister", "--action", "6.2")
    assert resultat.exit_code == 0, resultat.output
    assert "ccap-insertion" in resultat.output and "ccap-avance " not in resultat.output
    resultat = dce(RACINE, "catalogue", "lister", "--document", "RC", "--chantier", "11")
    assert "rc-lots" in resultat.output and "ccap-" not in resultat.output
    ancien = dce(RACINE, "catalogue", "lister", "--document", "RC", "--en-vigueur-au", "01/06/2025").output
    assert re.search(r"rc-candidature\s+1 .*au 31\u00a0décembre 2025", ancien), ancien
    assert "rc-defaillance-attributaire" not in ancien       # en vigueur depuis le 1er janvier 2026
    recent = dce(RACINE, "catalogue", "lister", "--document", "RC", "--en-vigueur-au", "01/06/2026").output
    assert re.search(r"rc-candidature\s+2 ", recent) and "rc-defaillance-attributaire" in recent
    assert dce(RACINE, "catalogue", "lister", "--action", "six").exit_code == 2


def test_montrer_une_clause():
    resultat = dce(RACINE, "catalogue", "montrer", "ccap-marche-reserve")
    assert resultat.exit_code == 0, resultat.output
    sortie = resultat.output
    for attendu in ("Maintien des conditions de la réservation", "CCP R2113-7", "Règle de sélection : lot.reserve_lot",
                    "spaser.reserve (réponse) : Réservation du marché ou de lots", "lot.reserve (réponse)",
                    "version 1, en vigueur depuis le 1er\u00a0avril 2019 : clauses/ccap/ccap-marche-reserve.md",
                    "13.2 « Mettre en œuvre des achats auprès des entreprises du secteur de l’ESS »"):
        assert attendu in sortie, attendu
    inconnue = dce(RACINE, "catalogue", "montrer", "ccap-marche-reserv")
    assert inconnue.exit_code == 2 and "identifiants proches : ccap-marche-reserve" in inconnue.output


def test_apercu_d_une_clause(tmp_path):
    donnees = reponses(spaser={"reserve": "siae"}, lots=[
        {"numero": 1, "intitule": "Entretien", "montant_estime": 120000},
        {"numero": 2, "intitule": "Papier", "montant_estime": 60000, "reserve": False}])
    fichier = ecrire(tmp_path, donnees)
    sortie = tmp_path / "apercu.docx"
    resultat = dce(RACINE, "catalogue", "apercu", "rc-marche-reserve", "--reponses", str(fichier), "-o", str(sortie))
    assert resultat.exit_code == 0, resultat.output
    lu = Lu(sortie)
    assert any("Marché réservé" in t for t in lu.titres(1))
    assert "le lot n° 1 est réservé aux structures d’insertion par l’activité économique" in lu.texte
    assert "Les autres lots ne sont pas réservés" in lu.texte
    assert "rc-marche-reserve, version 1" in lu.tout
    # une clause écartée par sa règle est rendue pour relecture, avec un avertissement
    resultat = dce(RACINE, "catalogue", "apercu", "ccap-egalite", "--reponses", str(fichier), "-o", str(sortie))
    assert resultat.exit_code == 0 and "l'écarte pour ces réponses" in resultat.output
    assert "Contrat de progrès" in Lu(sortie).texte


# -- couverture du SPASER ----------------------------------------------------------------------------------

def test_toute_action_portable_est_couverte():
    cat = catalogue.charger(RACINE)
    occitanie = acheteurs.charger(RACINE, "occitanie")
    resultat = couverture.calculer(cat, occitanie, dt.date.today())
    assert resultat.portables, "le référentiel déclare des actions portables par un DCE"
    assert [l.action.id for l in resultat.sans_clause] == []
    for ligne in resultat.lignes:
        if not ligne.action.dce:
            assert not ligne.clauses, f"l'action interne {ligne.action.id} ne doit être citée par aucune clause"


def test_couverture_terminal_et_exports(tmp_path):
    resultat = dce(RACINE, "catalogue", "couverture", "--export", str(tmp_path / "couverture.xlsx"))
    assert resultat.exit_code == 0, resultat.output
    assert "Sans clause" not in resultat.output
    assert re.search(r"✓ 18\.1\s+Promouvoir des clauses contractuelles.*ccap-reexamen \(CCAP, rappel\)", resultat.output)
    # chaque clause dit le niveau de son lien ; la synthèse nomme les actions que rien ne met en œuvre au-delà du droit
    assert "rc-critere-social (RC, mise en œuvre ou rappel)" in resultat.output  # compté avec sa clause d'exécution
    assert "rc-variante-insertion (RC, rappel)" in resultat.output  # une faculté n'est jamais comptée
    assert re.search(r"jamais mises en œuvre au-delà du droit\s*: .*19\.3\.$", resultat.output, re.M)
    assert re.search(r"1\.1\s+Sensibiliser.*action interne \(hors DCE\)", resultat.output)
    from openpyxl import load_workbook

    feuille = load_workbook(tmp_path / "couverture.xlsx")["Couverture"]
    lignes = {r[2]: r for r in feuille.iter_rows(min_row=2, values_only=True)}
    assert lignes["3.2"][4:6] == ("DCE", "oui") and "rc-cout-cycle-vie" in lignes["3.2"][6]
    assert lignes["3.1"][4:6] == ("interne", "—")
    dce(RACINE, "catalogue", "couverture", "--export", str(tmp_path / "bis.xlsx"))
    assert (tmp_path / "bis.xlsx").read_bytes() == (tmp_path / "couverture.xlsx").read_bytes()   # reproductible
    resultat = dce(RACINE, "catalogue", "couverture", "--export", str(tmp_path / "couverture.docx"))
    assert resultat.exit_code == 0, resultat.output
    lu = Lu(tmp_path / "couverture.docx")
    assert any(t.startswith("Axe 5 – ") for t in lu.titres(1))
    assert any(l[0] == "19.3" and "ccap-differends" in l[2] and "rappel" in l[2] for t in lu.tableaux for l in t)


def test_couverture_signale_une_action_sans_clause(copie):
    for fichier in (copie / "clauses").rglob("*.md"):
        texte = fichier.read_text(encoding="utf-8")
        if '"18.1"' in texte:
            fichier.write_text(texte.replace('"18.1", ', "").replace(', "18.1"', "").replace('"18.1"', ""),
                               encoding="utf-8")
    resultat = dce(copie, "catalogue", "couverture")
    assert resultat.exit_code == 0, resultat.output
    assert re.search(r"✗ 18\.1\s+Promouvoir.*AUCUNE CLAUSE", resultat.output)
    assert "Sans clause : 18.1." in resultat.output


# -- import d'une clause Word ------------------------------------------------------------------------------

def test_importer_une_clause_word(copie, tmp_path):
    source = tmp_path / "Clause de garantie.docx"
    document = Document()
    document.add_heading("Garantie des fournitures", 1)
    paragraphe = document.add_paragraph("Le titulaire garantit les fournitures pendant ")
    paragraphe.add_run("douze mois").bold = True
    paragraphe.add_run(" à compter de leur ")
    paragraphe.add_run("admission").italic = True
    paragraphe.add_run(". Les modèles {{ ne sont pas }} des variables.")
    document.add_heading("Étendue", 2)
    document.add_paragraph("pièces et main-d'œuvre ;", style="List Bullet")
    document.add_paragraph("déplacements.", style="List Bullet")
    document.add_paragraph("Déclarer la panne.", style="List Number")
    document.add_paragraph("Réparer sous huit jours.", style="List Number")
    tableau = document.add_table(rows=3, cols=2)
    for i, (a, b) in enumerate([("Fourniture", "Durée"), ("Poste de travail", "36 mois"), ("Écran", "24 mois")]):
        tableau.cell(i, 0).text, tableau.cell(i, 1).text = a, b
    document.add_paragraph("La garantie court à compter de l'admission.")
    document.save(str(source))

    resultat = dce(copie, "catalogue", "importer", str(source), "--document", "CCAP")
    assert resultat.exit_code == 0, resultat.output
    clause = copie / "clauses/ccap/ccap-clause-de-garantie.md"
    texte = clause.read_text(encoding="utf-8")
    entete, corps = texte.split("\n---\n", 1)
    meta = yaml.safe_load(entete.removeprefix("---\n"))
    assert meta["id"] == "ccap-clause-de-garantie" and meta["titre"] == "Garantie des fournitures"
    assert meta["references"] == ["A_COMPLETER"] and meta["article"] == "A_COMPLETER"
    assert "Le titulaire garantit les fournitures pendant **douze mois** à compter de leur *admission*." in corps
    assert "### Étendue" in corps
    assert "- pièces et main-d'œuvre ;\n- déplacements." in corps
    assert "1. Déclarer la panne.\n1. Réparer sous huit jours." in corps
    assert re.search(r"\| Fourniture +\| Durée +\|\n\|---\|---\|\n\| Poste de travail +\| 36 mois +\|", corps), corps
    assert "{{ '{{' }} ne sont pas }}" in corps

    # tant que les valeurs « A_COMPLETER » restent, la vérification échoue en les désignant
    verification = verifier(copie)
    nom = "clauses/ccap/ccap-clause-de-garantie.md"
    signale(verification, nom, ligne_de(clause, "references:"), "valeur « A_COMPLETER » à compléter")
    signale(verification, nom, ligne_de(clause, "article:"), "valeur « A_COMPLETER » à compléter")
    # complétée, la clause passe la vérification et se rend comme les autres
    texte = texte.replace("{du: A_COMPLETER}", "{du: 2021-04-01}").replace('["A_COMPLETER"]', '["CCAG-FCS 2021"]')
    clause.write_text(texte.replace("article: A_COMPLETER", "article: financier"), encoding="utf-8")
    assert verifier(copie).exit_code == 0, verifier(copie).output
    from generateur.droit.expressions import ENV_CLAUSES
    from generateur.pieces.markdown_ import vers_blocs
    from generateur.pieces.blocs import Liste, Tableau, Titre

    blocs = vers_blocs(ENV_CLAUSES.from_string(corps).render())
    assert [type(b).__name__ for b in blocs] == ["Paragraphe", "Titre", "Liste", "Liste", "Tableau", "Paragraphe"]
    assert isinstance(blocs[1], Titre) and isinstance(blocs[4], Tableau) and isinstance(blocs[3], Liste)
    assert blocs[3].ordonnee and "{{ ne sont pas }}" in "".join(s.texte for s in blocs[0].segments)
    # un second import du même fichier ne remplace rien sans --forcer
    assert dce(copie, "catalogue", "importer", str(source)).exit_code == 2


# -- le droit et la politique tranchent entre clauses ---------------------------------------------------------

def _retenues(tmp_path: Path, **modifs) -> dict[str, list[int]]:
    analyse = preparer(ecrire(tmp_path, reponses(**modifs)), RACINE)
    return {s.clause.id: s.lots for s in analyse.selections if s.retenue}


def test_lot_reserve_sans_clause_d_insertion(tmp_path):
    lots = [{"numero": 1, "intitule": "Entretien", "montant_estime": 150000},
            {"numero": 2, "intitule": "Vitrerie", "montant_estime": 120000, "reserve": False}]
    retenues = _retenues(tmp_path, nature="services", categorie="nettoyage", cpv="90910000-9", lots=lots,
                         spaser={"insertion": {"actif": True}, "reserve": "siae"})
    assert retenues["ccap-marche-reserve"] == [1] and retenues["rc-marche-reserve"] == [1]
    assert retenues["ccap-insertion"] == [2]
    sans_reserve = _retenues(tmp_path, nature="services", categorie="nettoyage", cpv="90910000-9", lots=lots,
                             spaser={"insertion": {"actif": True}})
    assert sans_reserve["ccap-insertion"] == [1, 2] and "ccap-marche-reserve" not in sans_reserve


@pytest.mark.parametrize("modifs, presente", [
    ({"categorie": "informatique", "cpv": "30200000-1"}, True),                       # famille AGEC : d'office
    ({"categorie": "informatique", "cpv": "30200000-1", "spaser": {"reemploi": {"actif": False}}}, False),
    ({"categorie": "restauration_collective", "cpv": "15000000-8"}, False),
    ({"categorie": "autre", "spaser": {"reemploi": {"actif": True}}}, True),
])
def test_reemploi_selon_la_loi_agec(tmp_path, modifs, presente):
    retenues = _retenues(tmp_path, **modifs)
    assert ("ccap-economie-circulaire" in retenues) is presente
    assert ("cctp-reemploi" in retenues) is presente


def test_critere_cout_et_allotissement(tmp_path):
    criteres = [{"intitule": "Coût global", "ponderation": 60, "type": "cout"},
                {"intitule": "Performance environnementale", "ponderation": 40, "type": "environnemental"}]
    retenues = _retenues(tmp_path, criteres=criteres, lots=[{"numero": 1, "intitule": "Unique", "montant_estime": 90000}],
                         justifications={"absence_allotissement": "Prestation indivisible."})
    assert "rc-cout-cycle-vie" in retenues and "rc-absence-allotissement" in retenues and "rc-lots" not in retenues
    assert "rc-cout-cycle-vie" not in _retenues(tmp_path)


def test_modele_word_sans_emplacement_du_corps(copie, tmp_path, monkeypatch):
    """Un modèle d'acheteur dont le paragraphe {{p corps }} a disparu : signalé par la vérification, et la
    génération s'arrête sur un message qui le nomme, sans écrire de document vide."""
    modele = copie / "modeles/dce.docx"
    document = Document(str(modele))
    paragraphe = next(p for p in document.paragraphs if "corps" in p.text)
    paragraphe._element.getparent().remove(paragraphe._element)
    document.save(str(modele))
    resultat = verifier(copie)
    signale(resultat, "modeles/dce.docx", None, "doit contenir une fois", "{{p corps }}")
    sortie = tmp_path / "sortie"
    monkeypatch.setenv("DCE_RACINE", str(copie))
    res = CliRunner().invoke(main, ["generer", str(RACINE / "exemples/travaux-lycee.yaml"), "-o", str(sortie)])
    assert res.exit_code != 0
    assert "{{p corps }}" in res.output and "dce.docx" in res.output
    assert not sortie.exists() or not list(sortie.iterdir())


def test_execution_lue_seulement_dans_le_rc(copie):
    """`execution('6.2')` (une clause du CCAP ou du CCTP met en œuvre l'action) se lit dans le lien d'un critère du
    RC ; une clause du CCAP ou du CCTP, qui est elle-même une clause d'exécution, ne peut pas la lire."""
    fichier = copie / CLAUSE
    assert "document: CCAP" in fichier.read_text(encoding="utf-8")
    champ(fichier, "actions", '''{mise_en_oeuvre: [{action: "6.2", si: "execution('6.2')"}]}''')
    resultat = verifier(copie)
    signale(resultat, CLAUSE, ligne_de(fichier, "actions:"),
            "condition « si » du lien vers l'action 6.2 lit « execution(…) », qui ne se lit que dans une clause du RC")
    rc = copie / "clauses/rc/rc-critere-social.md"
    assert "execution('6.2')" in rc.read_text(encoding="utf-8")  # le critère social, lui, la lit


def test_correspondance_par_clause_verifiee(copie):
    """`correspondance_clauses` d'un référentiel : la clause existe, porte l'étiquette, et les actions visées sont
    celles du référentiel."""
    fichier = copie / "acheteurs/aix-marseille-provence/referentiel.yaml"
    texte = fichier.read_text(encoding="utf-8")
    avant = '  cctp-perturbateurs: {"1.2": [], "1.3": []}'
    assert avant in texte
    fichier.write_text(texte.replace(avant, '  cctp-perturbateurs: {"1.2": [], "9.9": ["7.7"]}\n  cctp-inconnue: {}'),
                       encoding="utf-8")
    resultat = verifier(copie)
    nom = "acheteurs/aix-marseille-provence/referentiel.yaml"
    ligne = ligne_de(fichier, "  cctp-perturbateurs:")
    signale(resultat, nom, ligne, "la clause « cctp-perturbateurs » ne porte pas l'étiquette « 9.9 »")
    signale(resultat, nom, ligne, "action « 7.7 » absente de ce référentiel")
    signale(resultat, nom, ligne_de(fichier, "  cctp-inconnue:"), "clause « cctp-inconnue » absente du catalogue")
