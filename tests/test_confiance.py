"""Confiance dans l'annexe de conformité : un verdict « Conforme » cite sa preuve (pièce, article, texte), jamais la
seule présence d'un fichier ; l'annexe parle le vocabulaire de l'acheteur, pas celui de l'outil."""

from __future__ import annotations

import json

from click.testing import CliRunner

from conftest import RACINE, Lu, ecrire, reponses
from test_robustesse import catalogue_modifie
from generateur.droit.regles import preparer
from generateur.interfaces.cli import main
from generateur.pieces.lecture import controler

NBSP = "\u00a0"


def _annexe(exemples_generes, exemple):
    fichiers = exemples_generes[exemple]
    annexe = json.loads(next(p for n, p in fichiers.items() if n.endswith("annexe-conformite.json")).read_text("utf-8"))
    return {c["id"]: c for c in annexe["controles"]}, fichiers


def test_option_imposee_retenue_prouvee_par_la_clause_qui_l_applique(exemples_generes):
    """Métropole AMP, au-delà du seuil européen : la clause d'insertion imposée (L2112-2-1) est prouvée par l'article
    du CCAP qui l'applique, pas par la phrase « retenue » recopiée des réponses."""
    controles, _ = _annexe(exemples_generes, "amp-espaces-verts")
    options = controles["options-imposees"]
    assert options["verdict"] == "conforme"
    assert [(p["piece"], p["article"]) for p in options["preuves"]] == [("CCAP", "5.2")]
    assert "l’obligation posée par l’article L2112-2-1" in options["preuves"][0]["extrait"]


def test_pieces_jointes_de_travaux_jamais_conformes_sur_leur_presence(exemples_generes, tmp_path):
    """Plans, repérage de l'amiante, PGC joints : « À vérifier : contenu non contrôlé par l'outil » ; absents : le
    constat dit lesquels manquent (RAPPORT S2)."""
    controles, fichiers = _annexe(exemples_generes, "travaux-lycee")
    joints = controles["pieces-travaux"]
    assert joints["verdict_libelle"] == "À vérifier" and joints["preuves"] == []
    assert joints["constat"].startswith(f"À vérifier{NBSP}: contenu non contrôlé par l’outil.")
    assert "«\u00a0Rapport de repérage de l’amiante avant travaux\u00a0»" in joints["constat"]
    word = Lu(next(p for n, p in fichiers.items() if n.endswith("annexe-conformite.docx")))
    (ligne,) = [l for t in word.tableaux for l in t if len(l) == 5 and l[0].startswith("Pour des travaux, les plans")]
    assert ligne[2] == "À vérifier" and ligne[4] == ""
    travaux = reponses(nature="travaux", categorie="batiment", cpv="45214220-8",
                       objet="Travaux de rénovation énergétique du lycée")
    v = {v.id: v for v in controler(preparer(ecrire(tmp_path, travaux), RACINE)).verdicts}
    assert v["pieces-travaux"].statut == "a_verifier"
    assert "Marché de travaux sans plans ni repérage de l’amiante avant travaux" in v["pieces-travaux"].message


def test_fait_cite_en_preuve_sans_piece_ni_article_refuse_au_chargement(tmp_path):
    racine = catalogue_modifie(tmp_path, '      piece: "CCTP"\n      article: "articles qui nomment chaque lot"\n', "")
    resultat = CliRunner().invoke(main, ["--catalogue", str(racine), "generer", str(ecrire(tmp_path, reponses())),
                                         "--sortie", str(tmp_path / "sortie")])
    assert resultat.exit_code == 2, resultat.output
    assert "un fait cité en preuve dit sa pièce (« piece ») et son article" in resultat.output.replace("\u00a0", " ")
    assert "catalogue.yaml, ligne" in resultat.output and not (tmp_path / "sortie").exists()


def test_preuve_sans_article_rend_le_verdict_a_verifier(tmp_path):
    """Un « Conforme » dont une preuve ne dit pas son article n'est pas signable : il devient « À vérifier »."""
    racine = catalogue_modifie(tmp_path, '      article: "rubriques notées"\n', '      article: "{{ \'\' }}"\n')
    v = {v.id: v for v in controler(preparer(ecrire(tmp_path, reponses()), racine)).verdicts}
    assert v["criteres-pieces"].statut == "a_verifier"
    assert "Preuve sans pièce ni article" in v["criteres-pieces"].message
    v = {v.id: v for v in controler(preparer(ecrire(tmp_path, reponses(), "b.yaml"), RACINE)).verdicts}
    assert v["criteres-pieces"].statut == "conforme"
    assert ("Cadre de mémoire technique", "rubriques notées") in {(p["piece"], p["article"]) for p in v["criteres-pieces"].preuves}


def test_fiche_de_la_metropole_ne_cite_pas_la_politique_de_la_region(exemples_generes):
    """Chaque fiche parle des paramètres de son acheteur (RAPPORT S7)."""
    fichiers = exemples_generes["amp-espaces-verts"]
    for suffixe in ("tracabilite-SPASER.docx", "annexe-conformite.docx"):
        texte = Lu(next(p for n, p in fichiers.items() if n.endswith(suffixe))).texte
        assert "Occitanie" not in texte and "duree_minimale" not in texte, suffixe


def test_provenance_regionale_dans_une_specification_signalee(tmp_path):
    """RAPPORT R8 : « livrés […] pour les produits régionaux » dans la description d'un lot (CCTP) réserve une
    exigence à une origine (CCP R2111-7) ; le texte vient des réponses : la relecture le signale, bloquant. L'exemple
    de restauration décrit désormais son exigence sans origine."""
    import yaml

    donnees = yaml.safe_load((RACINE / "exemples" / "restauration-lycees.yaml").read_text(encoding="utf-8"))
    propre = controler(preparer(ecrire(tmp_path, donnees, "propre.yaml"), RACINE))
    assert not [d for d in propre.defauts if d.regle == "provenance-locale"]
    for texte in ("pour les produits régionaux", "en privilégiant les légumes locaux"):
        donnees["lots"][0]["description"] = f"Fruits et légumes frais, livrés au plus tard 48 heures après la récolte {texte}."
        defauts = [d for d in controler(preparer(ecrire(tmp_path, donnees), RACINE)).defauts
                   if d.regle == "provenance-locale"]
        assert [(d.piece, d.article, d.bloquant) for d in defauts] == [("CCTP", "Article 1 – Objet du marché", True)], texte
        assert texte.split()[-1] in defauts[0].extrait
