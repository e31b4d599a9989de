"""Données essentielles (DECP 2.0.3) : un fichier par lot écrit par `dce generer`, validé par le schéma officiel.

Avant attribution, l'export ne peut pas tout dire : les champs que seule l'attribution fait connaître manquent.
Chaque fichier est donc validé deux fois : tel quel, ses seules erreurs sont ces champs manquants (tout le reste est
conforme, valeurs et vocabulaire) ; complété comme le ferait l'acheteur après attribution, il est valide.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import yaml
from click.testing import CliRunner
from jsonschema import Draft7Validator

from conftest import RACINE, Lu, ecrire, reponses
from generateur.interfaces.cli import main

DOSSIER_SCHEMA = RACINE / "generateur" / "pieces" / "decp_schema"
SCHEMA = json.loads((DOSSIER_SCHEMA / "schema-decp-v2.0.3.json").read_text(encoding="utf-8"))
VALIDATEUR = Draft7Validator(SCHEMA)

# Ce que l'acheteur ajoute après attribution (liste donnée par le README, partie « Données essentielles »).
APRES_ATTRIBUTION = {"marcheInnovant", "offresRecues", "attributionAvance", "typeGroupementOperateurs", "lieuExecution",
                     "dateNotification", "datePublicationDonnees", "montant", "sousTraitanceDeclaree", "titulaires"}
# Proposés par dce quand il le peut : numéro d'ordre (16 caractères au plus), SIRET de l'acheteur (profil).
SI_POSSIBLE = {"id", "acheteur"}
ATTRIBUTION = {"id": "2026-0001", "acheteur": {"id": "23310001600012"}, "marcheInnovant": False, "offresRecues": 4,
               "attributionAvance": True, "tauxAvance": 0.3, "typeGroupementOperateurs": "Pas de groupement",
               "lieuExecution": {"code": "31555", "typeCode": "Code commune"}, "dateNotification": "2027-03-01",
               "datePublicationDonnees": "2027-03-15", "montant": 118000.5, "sousTraitanceDeclaree": False,
               "titulaires": [{"titulaire": {"typeIdentifiant": "SIRET", "id": "55204599900869"}}]}


def erreurs(document: dict) -> list[str]:
    return [e.message for e in VALIDATEUR.iter_errors(document)]


def verifier_fichier(chemin: Path) -> dict:
    """Le document d'un lot : conforme au schéma une fois complété ; seuls manquent les champs de l'attribution."""
    document = json.loads(chemin.read_text(encoding="utf-8"))
    (marche,) = document["marches"]["marche"]
    manquants = set()
    for message in erreurs(document):
        champ = re.fullmatch(r"'(\w+)' is a required property", message)
        assert champ, (chemin.name, message)  # aucune autre erreur : types, motifs et vocabulaire du schéma
        manquants.add(champ.group(1))
    assert APRES_ATTRIBUTION <= manquants <= APRES_ATTRIBUTION | SI_POSSIBLE, (chemin.name, manquants)
    complete = {"marches": {"marche": [{**{k: v for k, v in ATTRIBUTION.items() if k not in marche}, **marche}]}}
    assert erreurs(complete) == [], chemin.name
    return marche


def test_schema_copie_sans_changement_et_correspondances_dans_son_vocabulaire():
    sources = (DOSSIER_SCHEMA / "SOURCES.md").read_text(encoding="utf-8")
    empreinte = hashlib.sha256((DOSSIER_SCHEMA / "schema-decp-v2.0.3.json").read_bytes()).hexdigest()
    assert empreinte in sources and "139bercy/format-commande-publique" in sources
    proprietes = SCHEMA["definitions"]["marche"]["properties"]
    definitions = SCHEMA["definitions"]["marche"]["definitions"]
    permis = {"ccag": proprietes["ccag"]["enum"], "techniques": definitions["techniqueArray"]["items"]["enum"],
              "modalites_execution": definitions["modaliteExecutionArray"]["items"]["enum"],
              "forme_prix": proprietes["formePrix"]["enum"], "types_prix": definitions["typePrixArray"]["items"]["enum"]}
    table = yaml.safe_load((DOSSIER_SCHEMA / "correspondances.yaml").read_text(encoding="utf-8"))
    for section, valeurs in permis.items():
        for libelle in table[section].values():
            for v in libelle if isinstance(libelle, list) else [libelle]:
                assert v in valeurs, (section, v)
    assert table["nature"] in proprietes["nature"]["enum"]
    # toutes les valeurs possibles des réponses et des calculs ont leur libellé
    questionnaire = yaml.safe_load((RACINE / "questionnaire.yaml").read_text(encoding="utf-8"))
    questions = {q["id"]: q for s in questionnaire["sections"] for q in s.get("questions", [])}
    assert set(table["ccag"]) == set(questions["ccag_choisi"]["choix"])
    assert set(table["techniques"]) == set(table["modalites_execution"]) == set(questions["forme"]["choix"])
    assert set(table["forme_prix"]) == set(questions["prix.forme"]["choix"])
    assert set(table["types_prix"]) == set(questions["prix.variation"]["choix"]) - {"auto"}


def test_exemples_un_fichier_decp_par_lot_valide(exemples_generes):
    for exemple, fichiers in exemples_generes.items():
        manifeste = json.loads(next(p for n, p in fichiers.items() if n.endswith("manifeste.json")).read_text("utf-8"))
        reponses_ = manifeste["reponses"]
        decp = sorted((n for n in fichiers if "-DECP" in n), key=lambda n: int(re.sub(r"\D", "", n[-7:]) or 0))
        lots = reponses_["lots"]
        assert len(decp) == len(lots), exemple
        fiche = Lu(next(p for n, p in fichiers.items() if n.endswith("tracabilite-SPASER.docx")))
        tableau = next(t for t in fiche.tableaux if t[0][0] == "Lot" and t[0][1] == "considerationsSociales")
        for nom, lot, par_lot, ligne in zip(decp, lots, manifeste["decp"], tableau[1:]):
            marche = verifier_fichier(fichiers[nom])
            assert nom in manifeste["fichiers"]  # empreinte gardée par le manifeste
            assert marche["objet"].endswith(f"Lot {lot['numero']} : {lot['intitule']}") or len(lots) == 1
            assert marche["dureeMois"] == (lot.get("duree_mois") or reponses_["duree_mois"])
            # mêmes considérations, lot par lot, dans l'export, le manifeste et la fiche de traçabilité
            assert par_lot["lot"] == lot["numero"]
            for champ in ("considerationsSociales", "considerationsEnvironnementales"):
                assert marche[champ] == par_lot[champ], (exemple, lot["numero"])
            assert ligne == [str(lot["numero"]),
                             "\u00a0; ".join(marche["considerationsSociales"]["considerationSociale"]),
                             "\u00a0; ".join(marche["considerationsEnvironnementales"]["considerationEnvironnementale"])]
    restauration = json.loads(exemples_generes["restauration-lycees"]["2026-FCS-0213-DECP-lot-1.json"].read_text("utf-8"))
    (marche,) = restauration["marches"]["marche"]
    assert marche["ccag"] == "Fournitures courantes et services"  # et non le code interne « FCS »
    assert marche["id"] == "2026-FCS-0213-L1"
    assert marche["techniques"] == {"technique": ["Accord-cadre"]}
    assert marche["modalitesExecution"] == {"modaliteExecution": ["Bons de commande"]}
    nettoyage = exemples_generes["nettoyage-hotel-region"]
    assert "2026-SRV-0388-DECP.json" in nettoyage  # lot unique : un seul marché, sans numéro de lot


def test_considerations_lot_par_lot_sur_une_consultation_a_quatre_lots(tmp_path):
    """Lot 1 réservé aux SIAE ; lot 2 avec insertion ; lot 3 sans insertion (choix) ; lot 4 sous le seuil
    d'insertion de la politique (90 000 € HT) : seuls les lots 1 et 2 ont une considération sociale."""
    donnees = reponses(
        reference="EV-4L", nature="services", categorie="espaces_verts", cpv="77310000-6",
        spaser={"insertion": {"actif": True, "facilitateur": "PLIE"}, "reserve": "siae"},
        justifications={"absence_clause_sociale": "Arrosage par un dispositif automatique ; désherbage ponctuel sous "
                                                  "le seuil d'insertion de la politique d'achat."},
        lots=[{"numero": 1, "intitule": "Tonte", "montant_estime": 130000},
              {"numero": 2, "intitule": "Élagage", "montant_estime": 200000, "reserve": False},
              {"numero": 3, "intitule": "Arrosage", "montant_estime": 150000, "reserve": False, "insertion": False},
              {"numero": 4, "intitule": "Désherbage", "montant_estime": 50000, "reserve": False}])
    fichier = ecrire(tmp_path, donnees)
    resultat = CliRunner().invoke(main, ["--catalogue", str(RACINE), "generer", str(fichier), "--sortie",
                                         str(tmp_path / "sortie")])
    assert resultat.exit_code == 0, resultat.output
    sortie = tmp_path / "sortie"
    sociales = {}
    for n in range(1, 5):
        marche = verifier_fichier(sortie / f"EV-4L-DECP-lot-{n}.json")
        assert marche["id"] == f"EV-4L-L{n}" and marche["ccag"] == "Fournitures courantes et services"
        sociales[n] = marche["considerationsSociales"]["considerationSociale"]
        # critère environnemental de la consultation et condition environnementale : pour chaque lot
        assert marche["considerationsEnvironnementales"]["considerationEnvironnementale"] == [
            "Clause environnementale", "Critère environnemental"]
    assert sociales == {1: ["Clause sociale", "Marché réservé"], 2: ["Clause sociale"],
                        3: ["Pas de considération sociale"], 4: ["Pas de considération sociale"]}
    # ce que disent les pièces : la réservation et l'insertion du CCAP ne visent que ces lots
    ccap = Lu(sortie / "EV-4L-CCAP.docx")
    heures = next(t for t in ccap.tableaux if t[0][-1] == "Heures d’insertion minimales")
    assert [l[0] for l in heures[1:]] == ["2"]
    reservation = ccap.texte[ccap.texte.rindex("Maintien des conditions de la réservation"):][:300]
    assert re.search(r"lots? n° 1 (sont|est) réservés?", reservation), reservation


def test_procedure_et_prix_par_lot_marche_subsequent_et_petits_lots(tmp_path):
    """Marché subséquent : identifiant de l'accord-cadre et procédure de l'accord-cadre ; petit lot passé en
    procédure adaptée au sein d'un appel d'offres ouvert : sa propre procédure ; prix fermes non actualisables de
    fournitures courantes : « Définitif ferme », fermes actualisables choisis : « Définitif actualisable »."""
    subsequent = reponses(reference="MS-1", marche_subsequent=True, duree_mois=6,
                          accord_cadre_initial={"reference": "2025-FCS-0042", "procedure": "appel_offres_restreint"},
                          lots=[{"numero": 1, "intitule": "Papier", "montant_estime": 250000}])
    petits = reponses(reference="PL-1", petits_lots_procedure_adaptee=True, duree_mois=12, prestations_courantes=True,
                      lots=[{"numero": 1, "intitule": "Papier", "montant_estime": 300000},
                            {"numero": 2, "intitule": "Enveloppes", "montant_estime": 40000}])
    actualisables = reponses(reference="FA-1", duree_mois=12, prestations_courantes=True,
                             prix={"variation": "ferme_actualisable"})
    for donnees in (subsequent, petits, actualisables):
        donnees.update(date_lancement="2026-06-01", date_limite_offres="2026-07-20 12:00")  # avant la loi Climat
        fichier = ecrire(tmp_path, donnees, f"{donnees['reference']}.yaml")
        resultat = CliRunner().invoke(main, ["--catalogue", str(RACINE), "generer", str(fichier), "--sortie",
                                             str(tmp_path / donnees["reference"])])
        assert resultat.exit_code == 0, resultat.output
    marche = verifier_fichier(tmp_path / "MS-1" / "MS-1-DECP.json")
    assert marche["idAccordCadre"] == "2025-FCS-0042" and marche["procedure"] == "Appel d'offres restreint"
    lot1 = verifier_fichier(tmp_path / "PL-1" / "PL-1-DECP-lot-1.json")
    lot2 = verifier_fichier(tmp_path / "PL-1" / "PL-1-DECP-lot-2.json")
    assert (lot1["procedure"], lot2["procedure"]) == ("Appel d'offres ouvert", "Procédure adaptée")
    assert lot1["typesPrix"]["typePrix"] == ["Définitif ferme"] and "idAccordCadre" not in lot1
    for n in (1, 2):
        fa = verifier_fichier(tmp_path / "FA-1" / f"FA-1-DECP-lot-{n}.json")
        assert fa["typesPrix"]["typePrix"] == ["Définitif actualisable"]


def test_identifiant_trop_long_derive_sans_separateurs_ou_refuse(exemples_generes, tmp_path):
    """« AMP-2026-EV-041-L1 » (18 caractères) dépasse les 16 caractères d'IdentifiantMarche : l'identifiant est la
    référence sans ses séparateurs suivie du lot ; chaque exemple a son identifiant ; une référence trop longue
    même compactée arrête la génération (code 2, message avec le libellé de la question), sans rien écrire."""
    maximum = SCHEMA["definitions"]["marche"]["definitions"]["IdentifiantMarche"]["maxLength"]
    assert maximum == 16
    amp = exemples_generes["amp-espaces-verts"]
    for n in (1, 2):
        marche = verifier_fichier(amp[f"AMP-2026-EV-041-DECP-lot-{n}.json"])
        assert marche["id"] == f"AMP2026EV041L{n}"
    for exemple, fichiers in exemples_generes.items():
        for nom in (n for n in fichiers if "-DECP" in n):
            (marche,) = json.loads(fichiers[nom].read_text("utf-8"))["marches"]["marche"]
            assert 1 <= len(marche.get("id", "")) <= maximum, (exemple, nom)

    trop_long = reponses(reference="2026-DIRECTION-ACHATS-00123")
    fichier = ecrire(tmp_path, trop_long)
    sortie = tmp_path / "sortie"
    resultat = CliRunner().invoke(main, ["--catalogue", str(RACINE), "generer", str(fichier), "--sortie", str(sortie)])
    assert resultat.exit_code == 2, resultat.output
    assert "« Référence de la consultation »" in resultat.output and "16 caractères" in resultat.output
    assert "2026DIRECTIONACHATS00123" in resultat.output
    assert not sortie.exists() or not any(sortie.iterdir())
