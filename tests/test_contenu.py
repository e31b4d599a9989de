"""Contenu des pièces : aucune pièce fausse en silence (issue 14, points 2, 3 et 6).

On génère, on relit le texte des pièces comme un acheteur, et l'on vérifie qu'aucun défaut de rendu n'y reste :
structure de données imprimée, valeur « à compléter » en texte brut, blanc avant un point, pluriel « (s) »,
valeur sentinelle ; un profil d'acheteur incomplet arrête la génération, ou son champ est surligné.
"""

from __future__ import annotations

import html
import re
import shutil
import zipfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from conftest import RACINE, Lu, ecrire, reponses
from generateur.interfaces.cli import main

EXEMPLES = ("travaux-lycee", "restauration-lycees", "nettoyage-hotel-region", "amp-espaces-verts")
PIECES = ("RC", "CCAP", "CCTP", "tracabilite-SPASER")


# -- relire un document : texte surligné et texte ordinaire

_RUN = re.compile(r"<w:r>(.*?)</w:r>", re.S)
_T = re.compile(r"<w:t[^>]*>([^<]*)</w:t>")


def runs(docx: Path) -> list[tuple[str, bool]]:
    """(texte, surligné) de chaque run du corps du document."""
    xml = zipfile.ZipFile(docx).read("word/document.xml").decode("utf-8")
    return [(html.unescape("".join(_T.findall(r))), "<w:highlight" in r) for r in _RUN.findall(xml)]


def texte_ordinaire(docx: Path) -> str:
    """Le texte qui n'est pas surligné (ce qu'un lecteur prendrait pour rédigé)."""
    return "".join(t if not surligne else "□" for t, surligne in runs(docx))


# Texte écrit dans le modèle Word livré (modeles/dce.docx, couverture), pas produit par dce : hors de ce contrôle.
TEXTE_DU_MODELE = "Pouvoir adjudicateur :"


def defauts(texte: str) -> list[str]:
    """Défauts de rendu visibles dans un texte de pièce."""
    texte = texte.replace(TEXTE_DU_MODELE, "")
    trouves = []
    for motif, quoi in ((r"\{'", "structure de données imprimée"), (r"\['", "liste Python imprimée"),
                        (r"à compléter", "« à compléter » en texte brut"),
                        (r"[a-zé’'] [.,](?!\d)", "blanc avant la ponctuation"),
                        (r"\((?:s|x|e|es)\)", "pluriel « (s) »"), (r"\b999\b", "valeur sentinelle 999"),
                        (r"\{\{|\{%|%\}|\}\}", "syntaxe Jinja restée"),
                        (r"\w'", "apostrophe droite (typographie non homogène)"),
                        (r"\w [:;!?%»]|« ", "espace ordinaire là où une insécable est due")):
        for m in re.finditer(motif, texte):
            trouves.append(f"{quoi} : …{texte[max(0, m.start() - 50):m.end() + 30]}…")
    return trouves


@pytest.mark.parametrize("exemple", EXEMPLES)
def test_exemples_sans_defaut_de_rendu(exemples_generes, exemple):
    fichiers = exemples_generes[exemple]
    for piece in PIECES:
        chemin = next(p for n, p in fichiers.items() if n.endswith(f"-{piece}.docx"))
        assert defauts(texte_ordinaire(chemin)) == [], (exemple, piece)


def test_reglement_des_differends_redige(exemples_generes):
    ccap = Lu(next(p for n, p in exemples_generes["travaux-lycee"].items() if n.endswith("-CCAP.docx")))
    assert ("relève de la compétence de la juridiction suivante\u00a0: Tribunal administratif de Toulouse, 68 rue "
            "Raymond IV, BP 7007, 31068 Toulouse Cedex 7 (courriel\u00a0: greffe.ta-toulouse@juradm.fr, "
            "site\u00a0: https://toulouse.tribunal-administratif.fr).") in ccap.texte
    assert ("compétente pour l’acheteur\u00a0: Comité consultatif interrégional de règlement amiable des différends "
            "ou litiges relatifs aux marchés publics (CCIRA) de Bordeaux, Préfecture de la région") in ccap.texte
    assert "'nom'" not in ccap.tout and "{'" not in ccap.tout


def test_politique_sans_avance_sous_le_seuil_ne_l_ecrit_pas(exemples_generes):
    ccap = Lu(next(p for n, p in exemples_generes["amp-espaces-verts"].items() if n.endswith("-CCAP.docx")))
    assert "999" not in ccap.tout
    assert "en deçà de ce montant" not in ccap.texte
    assert "lorsque le montant initial est supérieur à 50\u00a0000,00\u00a0€\u00a0HT" in ccap.texte
    region = Lu(next(p for n, p in exemples_generes["travaux-lycee"].items() if n.endswith("-CCAP.docx")))
    assert "la durée d’exécution est supérieure à 3\u00a0mois" in region.texte


# -- profil d'acheteur : complet, ou la génération le dit

def racine_avec_copie(tmp_path: Path, copie: str) -> Path:
    """Racine de catalogue dont seul le dossier `copie` (acheteurs, clauses) est une copie modifiable ; le reste
    renvoie au dépôt par des liens."""
    racine = tmp_path / "racine"
    racine.mkdir()
    for nom in ("catalogue.yaml", "questionnaire.yaml", "clauses", "modeles", "acheteurs"):
        if nom == copie:
            shutil.copytree(RACINE / nom, racine / nom)
        else:
            (racine / nom).symlink_to(RACINE / nom)
    return racine


@pytest.fixture
def profil(tmp_path: Path):
    """Racine dont le profil « occitanie » est modifiable : profil(siret=...) → (racine, fichier de réponses)."""
    racine = racine_avec_copie(tmp_path, "acheteurs")
    fichier = racine / "acheteurs" / "occitanie" / "acheteur.yaml"

    def _profil(**champs):
        donnees = yaml.safe_load(fichier.read_text(encoding="utf-8"))
        donnees.update(champs)
        for champ in [c for c, v in champs.items() if v is RETIRE]:
            del donnees[champ]
        fichier.write_text(yaml.safe_dump(donnees, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return racine, ecrire(tmp_path, reponses())

    return _profil


RETIRE = object()  # profil(siret=RETIRE) : le champ est retiré du profil


def generer_cli(racine: Path, fichier: Path, sortie: Path):
    return CliRunner().invoke(main, ["--catalogue", str(racine), "generer", str(fichier), "--sortie", str(sortie)])


@pytest.mark.parametrize("champ, valeur, message", [
    ("siret", "", "« siret » : valeur vide"),
    ("siret", RETIRE, "« siret » : champ obligatoire manquant"),
    ("siret", "20005379100015", "« siret » : SIRET « 20005379100015 » invalide"),
    ("siret", "2000537910001", "« siret » : SIRET « 2000537910001 » invalide"),
    ("profil_acheteur", "[adresse à compléter]", "« profil_acheteur » : adresse du profil d'acheteur"),
    ("tribunal", {"nom": "Tribunal administratif de Toulouse"}, "« tribunal.adresse » : adresse manquante"),
    ("mediateur", "CCIRA de Bordeaux", "« mediateur » : un organisme est attendu"),
    ("siret", {"a_completer": ""}, "« siret » : valeur à compléter mal écrite"),
])
def test_profil_incomplet_arrete_la_generation(profil, tmp_path, champ, valeur, message):
    racine, fichier = profil(**{champ: valeur})
    resultat = generer_cli(racine, fichier, tmp_path / "sortie")
    assert resultat.exit_code == 2, resultat.output
    assert "acheteurs/occitanie/acheteur.yaml, ligne" in resultat.output
    assert message in resultat.output
    assert not (tmp_path / "sortie").exists()


def test_profil_complet_imprime_ses_valeurs(profil, tmp_path):
    racine, fichier = profil(siret="200 053 791 00014", profil_acheteur="https://marches.example.fr/occitanie")
    resultat = generer_cli(racine, fichier, tmp_path / "sortie")
    assert resultat.exit_code == 0, resultat.output
    ccap = Lu(next((tmp_path / "sortie").glob("*-CCAP.docx")))
    rc = Lu(next((tmp_path / "sortie").glob("*-RC.docx")))
    assert "Le numéro SIRET de l'acheteur à indiquer est le 20005379100014." in ccap.texte.replace("’", "'")
    assert "profil d’acheteur\u00a0: https://marches.example.fr/occitanie." in rc.texte
    for docx in (tmp_path / "sortie").glob("*.docx"):
        assert not any(s for _, s in runs(docx)), docx.name


@pytest.mark.parametrize("identifiant", ["occitanie", "aix-marseille-provence"])
def test_valeurs_reelles_des_profils_validees_sourcees_et_imprimees(identifiant, exemples_generes):
    """Les valeurs réelles des deux acheteurs ne sont écrites que si une source publique les donne, citée dans le
    profil (`sources`) ; elles passent la validation (clé de Luhn, adresse internet) et paraissent au RC et au CCAP
    générés ; les autres restent explicitement « à compléter »."""
    from urllib.parse import urlparse

    from generateur.donnees.acheteurs import charger, siret_valide

    acheteur = charger(RACINE, identifiant)
    a_completer = {c.champ for c in acheteur.a_completer if c.nature == "à compléter"}
    exemple = next(n for n in sorted(exemples_generes)
                   if yaml.safe_load((RACINE / "exemples" / f"{n}.yaml").read_text(encoding="utf-8"))["acheteur"]
                   == identifiant)
    pieces = {n.rsplit("-", 1)[-1]: p for n, p in exemples_generes[exemple].items() if n.endswith(("-RC.docx", "-CCAP.docx"))}
    ccap, rc = (Lu(pieces[f"{n}.docx"]).texte.replace("'", "’") for n in ("CCAP", "RC"))
    if "siret" in a_completer:
        assert "Le numéro SIRET de l’acheteur à indiquer est le [à compléter" in ccap
    else:
        siret = acheteur.profil["siret"]
        assert siret_valide(siret) and acheteur.profil["sources"]["siret"].strip()
        assert siret in acheteur.profil["sources"]["siret"]  # la source cite la valeur écrite
        assert f"Le numéro SIRET de l’acheteur à indiquer est le {siret}." in ccap
    if "profil_acheteur" in a_completer:
        assert "profil d’acheteur\u00a0: [à compléter" in rc
    else:
        url = acheteur.profil["profil_acheteur"]
        assert urlparse(url).scheme == "https" and acheteur.profil["sources"]["profil_acheteur"].strip()
        assert f"profil d’acheteur\u00a0: {url}" in rc


@pytest.mark.parametrize("sources, message", [
    ({"siret": ""}, "« sources.siret » : source vide"),
    ({"telephone": "annuaire"}, "« sources.telephone » : champ inconnu"),
    ("une page web", "« sources » : les sources s'écrivent champ par champ"),
])
def test_source_du_profil_mal_ecrite_arrete_la_generation(profil, tmp_path, sources, message):
    racine, fichier = profil(sources=sources)
    resultat = generer_cli(racine, fichier, tmp_path / "sortie")
    assert resultat.exit_code == 2, resultat.output
    assert message in resultat.output and "acheteurs/occitanie/acheteur.yaml, ligne" in resultat.output
    assert not (tmp_path / "sortie").exists()


def test_champ_a_completer_surligne_et_recense(profil, tmp_path):
    racine, fichier = profil(siret={"a_completer": "numéro SIRET de l’Hôtel de Région"})
    resultat = generer_cli(racine, fichier, tmp_path / "sortie")
    assert resultat.exit_code == 0, resultat.output
    ccap = next((tmp_path / "sortie").glob("*-CCAP.docx"))
    surlignes = [t for t, s in runs(ccap) if s]
    assert "[à compléter\u00a0: numéro SIRET de l’Hôtel de Région]" in surlignes
    assert "Le numéro SIRET de l’acheteur à indiquer est le □." in texte_ordinaire(ccap).replace("'", "’")
    from generateur.droit.regles import preparer
    analyse = preparer(fichier, racine)
    recenses = {(c.champ, c.nature): c.libelle for c in analyse.a_completer}
    assert recenses[("siret", "à compléter")] == "numéro SIRET de l’Hôtel de Région"
    assert "ressort territorial du CCIRA de Bordeaux" in recenses[("mediateur", "à vérifier")]


def _annexe(sortie: Path) -> dict:
    import json

    return json.loads(next(sortie.glob("*-annexe-conformite.json")).read_text(encoding="utf-8"))


def test_valeur_du_profil_a_completer_point_de_l_annexe_et_refus_strict(profil, tmp_path):
    """Issue 14, point 3 : une valeur que le profil marque « à compléter » est surlignée dans les pièces et fait
    passer le contrôle « profil de l'acheteur » de l'annexe à « À vérifier » en la nommant ; elle n'est pas comptée
    comme un défaut de rédaction par la relecture ; `--strict` refuse de rien écrire tant qu'elle manque."""
    racine, fichier = profil(siret={"a_completer": "numéro SIRET de l’Hôtel de Région"},
                             profil_acheteur="https://marches.example.fr/occitanie")
    resultat = generer_cli(racine, fichier, tmp_path / "sortie")
    assert resultat.exit_code == 0, resultat.output
    annexe = _annexe(tmp_path / "sortie")
    controle = next(c for c in annexe["controles"] if c["id"] == "profil-acheteur")
    assert controle["verdict_libelle"] == "À vérifier" and controle["preuves"] == []
    assert ("Valeur manquante dans le profil de l’acheteur, surlignée en jaune dans les pièces\u00a0: numéro SIRET de "
            "l’Hôtel de Région") in controle["constat"]
    assert "ressort territorial du CCIRA de Bordeaux" in controle["constat"]  # organisme « à vérifier » du profil
    assert not [d for d in annexe["relecture"] if "SIRET" in d["extrait"]]
    assert annexe["synthese"]["etat"] != "conforme"
    strict = CliRunner().invoke(main, ["--catalogue", str(racine), "generer", str(fichier), "--sortie",
                                       str(tmp_path / "strict"), "--strict"])
    assert strict.exit_code == 2, strict.output
    assert "Profil de l'acheteur : valeur manquante, surlignée dans les pièces (« numéro SIRET de l’Hôtel de Région »)" \
        in strict.output.replace("\u00a0", " ")
    assert not (tmp_path / "strict").exists()


def test_profil_complet_controle_conforme_avec_sa_preuve(profil, tmp_path):
    """Un profil sans valeur à compléter ni à vérifier : le contrôle est « Conforme » et cite l'article du RC où
    paraît l'adresse du profil d'acheteur."""
    racine, fichier = profil(profil_acheteur="https://marches.example.fr/occitanie",
                             mediateur={"nom": "Comité consultatif interrégional de règlement amiable de Bordeaux",
                                        "adresse": ["Préfecture de la région Nouvelle-Aquitaine", "33077 Bordeaux"]})
    resultat = generer_cli(racine, fichier, tmp_path / "sortie")
    assert resultat.exit_code == 0, resultat.output
    controle = next(c for c in _annexe(tmp_path / "sortie")["controles"] if c["id"] == "profil-acheteur")
    assert controle["verdict_libelle"] == "Conforme", controle
    (preuve,) = controle["preuves"]
    assert preuve["piece"] == "RC" and "https://marches.example.fr/occitanie" in preuve["extrait"]


# -- fiche de traçabilité : lisible sans connaître Jinja

def test_fiche_regle_en_francais_et_reponses_comme_des_reponses(exemples_generes):
    fiche = Lu(next(p for n, p in exemples_generes["travaux-lycee"].items() if n.endswith("-tracabilite-SPASER.docx")))
    # trois tableaux : mises en œuvre au-delà du droit, obligations légales, rappels
    tableaux = [t for t in fiche.tableaux if t[0][-1] == "Règle appliquée"]
    assert len(tableaux) == 3
    regles = {(l[0], l[3], l[4]): l[5] for t in tableaux for l in t[1:]}
    assert regles[("1.2", "3.1", "Produits écolabellisés (cctp-ecolabels, v1)")] == (
        "Quand l’acheteur exige des écolabels — réponse lue\u00a0: «\u00a0Exigences d’écolabels\u00a0»\u00a0: oui.")
    # un lien restreint par `si` dit ce qui a décidé de son niveau : 1.3 pour les familles que cite le SPASER
    assert regles[("1.3", "3.1", "Produits écolabellisés (cctp-ecolabels, v1)")].endswith(
        " Niveau selon la réponse «\u00a0Familles de produits soumises à écolabel\u00a0»\u00a0: "
        "peintures et vernis et bois et produits dérivés.")
    assert regles[("2.2", "3.2", "Chantier à faibles nuisances et gestion des déchets (cctp-travaux-environnement, v1)")] == (
        "Pour un marché de travaux — réponse lue\u00a0: «\u00a0Nature du marché\u00a0»\u00a0: Travaux.")
    assert regles[("1.4", "8.1", "Pénalités (ccap-penalites, v1)")] == "Toujours."  # article 8.1 depuis les articles de chantier
    insertion = next(r for (_, _, c), r in regles.items() if "(ccap-insertion," in c)
    assert insertion.endswith("lots retenus\u00a0: 1, 2, 3, 4 et 5.")
    for regle in regles.values():  # ni expression Jinja, ni structure de données, ni nom interne
        assert not re.search(r"==|\||selectattr|\{'|\['|spaser\.|lot\.", regle), regle
    # écolabels, insertion sous le seuil européen, avance et retenue de la politique de la Région au-delà du minimum
    # légal ; ni la condition environnementale obligatoire, ni les variantes (bas carbone, insertion), simples
    # facultés comptées en rappel (relecture du juriste, S4)
    assert "5\u00a0actions à ce niveau\u00a0: 1.2, 1.3, 6.2, 6.3, 11.4." in fiche.texte
    assert [l[0] for l in tableaux[0][1:]] == ["1.2", "1.3", "6.2", "6.3", "6.3", "11.4", "11.4"]
    assert ("2.1", "RC") in {(l[0], l[2]) for l in tableaux[2][1:]}  # variante de réemploi : rappel
    assert ("2.2", "CCAP") in {(l[0], l[2]) for l in tableaux[1][1:]}  # condition environnementale : obligation


def test_fiche_ne_copie_jamais_tous_les_lots(generer):
    lignes = [{"designation": f"Article {i}", "unite": "u", "quantite": 10} for i in range(200)]
    # une copie des lignes par lot : écrites telles quelles, sans alias YAML (que le chargeur borne)
    lots = [{"numero": n, "intitule": f"Lot {n}", "montant_estime": 50000, "lignes_prix": [dict(l) for l in lignes]}
            for n in range(1, 21)]
    lus, _ = generer(reponses(lots=lots, spaser={"insertion": {"actif": True}}))
    fiche = lus["SPASER"]
    plus_longue = max(len(c) for t in fiche.tableaux for l in t for c in l)
    assert plus_longue < 1000
    assert "Article 199" not in fiche.tout and "{'" not in fiche.tout


# -- variantes de consultation : le texte reste vrai

def _pieces(lus) -> dict[str, Path]:
    return {cle: lu.chemin for cle, lu in lus.items() if cle in ("RC", "CCAP", "CCTP", "SPASER")}


@pytest.mark.parametrize("reconductions, attendu", [(0, False), (1, True)])
def test_reconductions_comprises_seulement_s_il_y_en_a(generer, reconductions, attendu):
    lus, _ = generer(reponses(forme="accord_cadre_bons_commande", reconductions=reconductions,
                              lots=[{"numero": 1, "intitule": "Papier", "montant_estime": 180000}]))
    for cle, chemin in _pieces(lus).items():
        assert defauts(texte_ordinaire(chemin)) == [], cle
    texte = lus["RC"].texte + lus["CCAP"].texte
    assert ("reconductions comprises" in texte) is attendu


def test_cctp_sans_specification_environnementale_ne_l_annonce_pas(generer):
    lus, _ = generer(reponses(nature="services", categorie="autre", cpv="79000000-4",
                              spaser={"ecolabels": {"actif": False}, "insertion": {"actif": False}}))
    cctp = lus["CCTP"]
    assert "Spécifications environnementales" not in cctp.titres(1)
    assert "spécifications environnementales figurent" not in cctp.texte
    assert "articles suivants" not in cctp.texte
    for cle, chemin in _pieces(lus).items():
        assert defauts(texte_ordinaire(chemin)) == [], cle
    # les lots sans description sont décrits par leurs réponses, jamais par un renvoi à des articles absents
    assert "qui mentionnent ce lot" not in cctp.tout
    assert "Services relevant de l’intitulé du lot (code CPV 79000000-4), pour une durée d’exécution de 24\u00a0mois." \
        in cctp.tout


def test_cctp_avec_specifications_les_cite_par_numero(exemples_generes):
    cctp = Lu(next(p for n, p in exemples_generes["travaux-lycee"].items() if n.endswith("-CCTP.docx")))
    assert "Article 3 – Spécifications environnementales" in cctp.titres(1)
    assert "Article 4 – Spécifications sociales" in cctp.titres(1)
    assert ("les spécifications environnementales figurent à l’article 3 et les spécifications sociales à l’article 4 "
            "du présent CCTP.") in cctp.texte


# -- renvois : une cible absente arrête la génération et dit quelle réponse manque

CLAUSE_RENVOI = """---
{{id: ccap-renvoi-essai, version: 1, en_vigueur: {{du: 2019-04-01}}, titre: "Clause d'essai", document: CCAP,
  article: objet, ordre: 95, references: ["CCP R2151-10"], statut_juridique: verifie, condition: "true",
  quand: "toujours", s_applique_a: toutes, renvois: [{{id: cible, objet: "{objet}", {cible}, sinon: {sinon}}}]}}
---
{corps}
"""


@pytest.fixture
def catalogue_copie(tmp_path: Path):
    """Racine dont le dossier des clauses est une copie modifiable."""
    return racine_avec_copie(tmp_path, "clauses")


@pytest.mark.parametrize("cible, message", [
    ("reponse: lieu_execution", "répondre à la question « Lieu d'exécution »"),
    ("clause: cctp-alimentation", "la clause « Denrées alimentaires : saisonnalité, qualité et traçabilité » n'est pas "
                                  "retenue ; elle l'est pour un achat de denrées alimentaires"),
    ("piece: CCTP, article: social", "aucune clause n'est retenue à l'article « social » du CCTP"),
])
def test_renvoi_vers_une_cible_absente_dit_quelle_reponse_manque(catalogue_copie, tmp_path, cible, message):
    (catalogue_copie / "clauses/ccap/ccap-renvoi-essai.md").write_text(CLAUSE_RENVOI.format(
        objet="les lieux de livraison", cible=cible, sinon="erreur", corps="Voir {{ renvoi('cible') }}."),
        encoding="utf-8")
    donnees = reponses(spaser={"insertion": {"actif": False}})
    resultat = generer_cli(catalogue_copie, ecrire(tmp_path, donnees), tmp_path / "sortie")
    assert resultat.exit_code == 2, resultat.output
    assert ("le CCAP (clause « Clause d'essai ») renvoie à un contenu absent de cette consultation, les lieux de "
            "livraison : ") in resultat.output
    assert message in resultat.output
    assert not (tmp_path / "sortie").exists()


def test_renvoi_present_nomme_l_article(catalogue_copie, tmp_path):
    (catalogue_copie / "clauses/ccap/ccap-renvoi-essai.md").write_text(CLAUSE_RENVOI.format(
        objet="les spécifications environnementales du CCTP", cible="piece: CCTP, article: environnement",
        sinon="erreur", corps="Les exigences figurent à {{ renvoi('cible') }}."), encoding="utf-8")
    resultat = generer_cli(catalogue_copie, ecrire(tmp_path, reponses()), tmp_path / "sortie")
    assert resultat.exit_code == 0, resultat.output
    ccap = Lu(next((tmp_path / "sortie").glob("*-CCAP.docx")))
    assert "Les exigences figurent à l’article 3 du CCTP." in ccap.texte


def test_renvoi_vers_une_piece_de_l_acheteur(catalogue_copie, tmp_path):
    """Une clause qui renvoie à une pièce jointe par l'acheteur (liste du personnel, des sites…) la nomme par son
    titre quand elle est jointe ; sinon la génération s'arrête et dit quelle pièce joindre, en mots du questionnaire."""
    (catalogue_copie / "clauses/ccap/ccap-renvoi-essai.md").write_text(CLAUSE_RENVOI.format(
        objet="la liste du personnel à reprendre", cible="piece_acheteur: liste_personnel", sinon="erreur",
        corps="La liste du personnel figure dans {{ renvoi('cible') }}."), encoding="utf-8")
    resultat = generer_cli(catalogue_copie, ecrire(tmp_path, reponses()), tmp_path / "sans")
    assert resultat.exit_code == 2, resultat.output
    assert ("joindre au dossier la pièce « Liste du personnel affecté au marché en cours (reprise du personnel) » "
            "(question « Pièces jointes au dossier par l'acheteur »)") in resultat.output
    assert not (tmp_path / "sans").exists()
    donnees = reponses(pieces_acheteur=[
        {"titre": "Liste du personnel *en place*", "fichier": "pieces/personnel.pdf", "nature": "liste_personnel"},
        {"titre": "Plans", "fichier": "pieces/plans.pdf", "nature": "plans"}])
    resultat = generer_cli(catalogue_copie, ecrire(tmp_path, donnees), tmp_path / "avec")
    assert resultat.exit_code == 0, resultat.output
    ccap = Lu(next((tmp_path / "avec").glob("*-CCAP.docx")))
    assert ("La liste du personnel figure dans la pièce «\xa0Liste du personnel *en place*\xa0» jointe au dossier de "
            "consultation.") in ccap.texte


@pytest.mark.parametrize("cible, sinon, corps, message", [
    ("piece_acheteur: organigramme", "erreur", "Texte.", "renvoi « cible » vers une pièce de l'acheteur de nature « organigramme », inconnue"),
    ("piece: CCTP, article: inexistant", "erreur", "Texte.", "renvoi « cible » vers l'article « inexistant », absent du plan du CCTP"),
    ("clause: cctp-inexistante", "erreur", "Texte.", "renvoi « cible » vers la clause « cctp-inexistante », qui n'existe pas"),
    ("reponse: variantes.inconnue", "erreur", "Texte.", "renvoi « cible » vers la réponse « variantes.inconnue », absente du questionnaire"),
    ("reponse: lieu_execution", "texte", "Texte.", "renvoi « cible » (sinon: texte) jamais lu par la clause"),
    ("reponse: lieu_execution", "erreur", "{{ renvoi('autre') }}", "renvoi('autre') non déclaré dans l'en-tête"),
])
def test_verification_des_renvois(catalogue_copie, cible, sinon, corps, message):
    (catalogue_copie / "clauses/ccap/ccap-renvoi-essai.md").write_text(CLAUSE_RENVOI.format(
        objet="un contenu", cible=cible, sinon=sinon, corps=corps), encoding="utf-8")
    resultat = CliRunner().invoke(main, ["--catalogue", str(catalogue_copie), "catalogue", "verifier"])
    assert resultat.exit_code == 2, resultat.output
    assert "ccap-renvoi-essai.md" in resultat.output and message in resultat.output


def test_verification_exige_la_regle_lisible(catalogue_copie):
    fichier = catalogue_copie / "clauses/ccap/ccap-prix.md"
    fichier.write_text(fichier.read_text(encoding="utf-8").replace('quand: "toujours"\n', ""), encoding="utf-8")
    resultat = CliRunner().invoke(main, ["--catalogue", str(catalogue_copie), "catalogue", "verifier"])
    assert resultat.exit_code == 2, resultat.output
    assert "ccap-prix.md" in resultat.output and "« quand » : règle lisible manquante" in resultat.output


def test_fiche_valeurs_calculees_en_francais(exemples_generes):
    fiche = Lu(next(p for n, p in exemples_generes["travaux-lycee"].items() if n.endswith("-tracabilite-SPASER.docx")))
    tableau = next(t for t in fiche.tableaux if t[0][0] == "Valeur calculée")
    lignes = {l[0]: l[2] for l in tableau[1:]}
    assert lignes["Appel d’offres ouvert au-delà du seuil européen, procédure adaptée en deçà, sauf choix exprès."] \
        == "Procédure adaptée"
    assert not any(re.fullmatch(r"[a-z_]+", l[0]) for l in tableau[1:])  # aucun nom interne de calcul


@pytest.mark.parametrize("exemple, attendu", [("nettoyage-hotel-region", False), ("travaux-lycee", True)])
def test_mois_zero_des_offres_finales_seulement_s_il_y_a_negociation(exemples_generes, exemple, attendu):
    ccap = Lu(next(p for n, p in exemples_generes[exemple].items() if n.endswith("-CCAP.docx")))
    rc = Lu(next(p for n, p in exemples_generes[exemple].items() if n.endswith("-RC.docx")))
    assert ("offres finales" in ccap.texte) is attendu
    assert any("négociation" in t.lower() for t in rc.titres(1) + rc.titres(2)) is attendu
