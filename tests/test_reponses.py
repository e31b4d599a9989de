"""Fichier de réponses : validation complète, messages français avec fichier, ligne et champ."""

from __future__ import annotations

import json

from click.testing import CliRunner

from generateur.donnees import questionnaire
from generateur.donnees.reponses import charger
from generateur.erreurs import ErreurDonnees
from generateur.interfaces.cli import main
from conftest import RACINE, ecrire, reponses
from conftest import reponses as reponses_base


def _erreurs(tmp_path, texte: str) -> tuple[int, str]:
    fichier = tmp_path / "reponses.yaml"
    fichier.write_text(texte, encoding="utf-8")
    resultat = CliRunner().invoke(main, ["generer", str(fichier), "--sortie", str(tmp_path / "sortie")])
    return resultat.exit_code, resultat.output


VALIDE = """\
acheteur: occitanie
reference: "T-1"
objet: "Fournitures de bureau"
nature: fournitures
cpv: "30192000-1"
date_lancement: 2026-12-01
date_limite_offres: "2027-01-15 12:00"
duree_mois: 12
lots:
  - numero: 1
    intitule: "Papier"
    montant_estime: 50000
criteres:
  - {intitule: "Prix", ponderation: 70, type: prix}
  - {intitule: "Environnement", ponderation: 30, type: environnemental}
"""


def test_fichier_valide_genere(tmp_path):
    code, sortie = _erreurs(tmp_path, VALIDE)
    assert code == 0, sortie
    assert (tmp_path / "sortie" / "T-1-CCAP.docx").is_file()


def test_tous_les_problemes_sont_signales_avec_leur_ligne(tmp_path):
    texte = VALIDE.replace("nature: fournitures", "nature: fourniture").replace(
        "duree_mois: 12", "duree_mois: 0\ncouleur: bleu").replace('cpv: "30192000-1"', 'cpv: "ABC"')
    code, sortie = _erreurs(tmp_path, texte)
    assert code == 2
    assert "3 problèmes" in sortie or "4 problèmes" in sortie
    assert "ligne 4 : Nature du marché : valeur « fourniture » non autorisée" in sortie
    assert "ligne 5 : Code CPV principal : format invalide « ABC »" in sortie
    assert "ligne 8 : Durée du marché (en mois) : valeur 0 trop petite : au moins 1 attendu" in sortie
    assert "champ inconnu « couleur »" in sortie
    assert not (tmp_path / "sortie").exists(), "aucun document ne doit être écrit"


def test_code_a_zero_initial_sans_guillemets_explique(tmp_path):
    """« cpv: 09134100 » sans guillemets est lu comme le nombre 9134100 : le message dit d'écrire la réponse entre
    guillemets (un gazole ou un produit agricole a un code CPV qui commence par 0)."""
    code, sortie = _erreurs(tmp_path, VALIDE.replace('cpv: "30192000-1"', "cpv: 09134100"))
    assert code == 2
    sortie = " ".join(sortie.split())
    assert "Code CPV principal : valeur invalide « 9134100 » : un texte est attendu" in sortie
    assert "écrire la réponse entre guillemets" in sortie and "perd ses zéros initiaux" in sortie
    assert not (tmp_path / "sortie").exists()


def test_reponse_obligatoire_manquante(tmp_path):
    code, sortie = _erreurs(tmp_path, VALIDE.replace('objet: "Fournitures de bureau"\n', ""))
    assert code == 2
    assert "Objet de la consultation : réponse obligatoire" in sortie and "« objet »" not in sortie


def test_erreur_dans_un_lot_nomme_le_champ_et_la_ligne(tmp_path):
    code, sortie = _erreurs(tmp_path, VALIDE.replace("montant_estime: 50000", "montant_estime: -5"))
    assert code == 2
    assert "ligne 12 : Lot 1 — Montant estimé du lot (€ HT) : valeur -5 trop petite" in sortie


def test_cle_en_double_et_yaml_invalide(tmp_path):
    code, sortie = _erreurs(tmp_path, VALIDE.replace("duree_mois: 12", "duree_mois: 12\nduree_mois: 14"))
    assert code == 2 and "ligne 9 : « duree_mois » : clé en double" in sortie
    code, sortie = _erreurs(tmp_path, VALIDE.replace("nature: fournitures", "nature: [fournitures"))
    assert code == 2 and "YAML invalide" in sortie and "ligne" in sortie


def test_balise_python_refusee(tmp_path):
    code, sortie = _erreurs(tmp_path, VALIDE.replace('objet: "Fournitures de bureau"',
                                                      "objet: !!python/object/apply:os.system ['echo pirate']"))
    assert code == 2 and "balise YAML non autorisée" in sortie


def test_ponderations_et_dates_verifiees(tmp_path):
    texte = VALIDE.replace("ponderation: 30", "ponderation: 20").replace("2026-12-01", "1900-01-01")
    code, sortie = _erreurs(tmp_path, texte)
    assert code == 2
    assert "somme des pondérations des critères vaut 90 %" in sortie
    assert "Date de lancement de la consultation : date 01/01/1900 hors des bornes admises" in sortie


def test_lot_en_double(tmp_path):
    donnees = reponses()
    donnees["lots"][1]["numero"] = 1
    resultat = CliRunner().invoke(main, ["generer", str(ecrire(tmp_path, donnees)), "-o", str(tmp_path / "s")])
    assert resultat.exit_code == 2
    assert "numéro de lot 1 en double" in resultat.output


def test_profil_acheteur_inconnu(tmp_path):
    code, sortie = _erreurs(tmp_path, VALIDE.replace("acheteur: occitanie", "acheteur: bretagne"))
    assert code == 2
    assert "profil d'acheteur « bretagne » introuvable" in sortie and "occitanie" in sortie


def test_schema_json_du_questionnaire_valide_les_exemples():
    from jsonschema import Draft202012Validator
    from generateur.donnees import questionnaire
    from generateur.donnees.reponses import _vers_json
    import yaml

    schema = questionnaire.charger(RACINE / "questionnaire.yaml").schema()
    Draft202012Validator.check_schema(schema)
    json.dumps(schema)
    for exemple in (RACINE / "exemples").glob("*.yaml"):
        donnees = _vers_json(yaml.safe_load(exemple.read_text(encoding="utf-8")))
        erreurs = list(Draft202012Validator(schema).iter_errors(donnees))
        assert not erreurs, (exemple.name, [e.message for e in erreurs])


def _toutes_les_questions(questions, prefixe=""):
    for q in questions:
        chemin = f"{prefixe}{q.id}"
        yield q, chemin
        if q.type == "liste":
            yield from _toutes_les_questions(q.questions, f"{chemin}.0.")


INVALIDES = {"texte": ["§", {"a": 1}], "texte_long": [["liste"]], "montant": ["beaucoup", -5], "entier": ["douze", -1],
             "pourcentage": ["cent", 101], "date": ["demain"], "date_heure": ["bientôt"], "oui_non": ["peut-être"],
             "choix": ["zz-inconnu"], "choix_multiple": [["zz-inconnu"]], "liste": ["pas une liste"]}


def test_aucune_erreur_du_questionnaire_ne_montre_une_cle_interne(tmp_path):
    """Chaque question reçoit chaque sorte de valeur invalide : le message la désigne par les mots du
    questionnaire (« Lot 1 — Montant estimé du lot »), jamais par sa clé (« lots.0.montant_estime »)."""
    from generateur.donnees import saisie

    q = questionnaire.charger(RACINE / "questionnaire.yaml")
    vus = 0
    for question, chemin in _toutes_les_questions(q.questions):
        for valeur in INVALIDES[question.type]:
            donnees = reponses_base()
            if ".0." in chemin:
                liste = chemin.split(".0.")[0]
                if not saisie.lire(donnees, liste):
                    saisie.ecrire(donnees, liste, [{}])
            saisie.ecrire(donnees, chemin, valeur)
            fichier = ecrire(tmp_path, donnees)
            try:
                charger(fichier, q)
            except ErreurDonnees as exc:
                for p in exc.problemes:
                    texte = str(p)
                    vus += 1
                    assert ("." not in chemin or chemin not in texte) and f"« {question.id} »" not in texte, texte
                    assert ".yaml" not in texte.split(" : ", 1)[1] and "acheteurs/" not in texte, texte
                    assert p.champ is None or p.libelle, texte
    assert vus >= 100  # chaque sorte de valeur invalide a bien produit ses erreurs


def test_copie_des_reponses_comme_deepcopy():
    """`reponses.copier` (copie rapide des réponses, valider et analyser) : même résultat que copy.deepcopy,
    dictionnaires et listes neufs à tous les niveaux, structure partagée (alias YAML) partagée dans la copie, objets
    inconnus copiés par deepcopy."""
    import copy
    import datetime as dt
    from collections import OrderedDict

    from generateur.donnees.reponses import copier

    partage = {"code": "BT01", "parts": [60, 40]}
    boucle: list = [1]
    boucle.append(boucle)
    donnees = {"objet": "Lycée", "montant": 1.5, "lots": [{"numero": 1, "index": [partage]}, {"numero": 2, "index": [partage]}],
               "date": dt.date(2026, 9, 1), "limite": dt.datetime(2026, 10, 1, 12), "vide": None, "oui": True,
               "ordonne": OrderedDict(a=[1]), "boucle": boucle}
    copie = copier(donnees)
    attendu = copy.deepcopy(donnees)
    assert repr(copie) == repr(attendu)
    assert copie["lots"][0]["index"][0] is copie["lots"][1]["index"][0] is not partage
    assert copie["boucle"][1] is copie["boucle"] is not boucle
    assert type(copie["ordonne"]) is OrderedDict and copie["ordonne"]["a"] is not donnees["ordonne"]["a"]
    copie["lots"][0]["index"][0]["parts"].append(0)
    copie["lots"][1]["montant"] = 3
    assert donnees == {**attendu, "boucle": donnees["boucle"]} and partage["parts"] == [60, 40]
