"""Relecture du juriste sur l'exemple de travaux (revue, section 2) : ce qui était faux, relu dans les pièces.

Publicité tranchée (T10), retrait de l'amiante affecté à un lot (T3), une seule règle pour les horaires de livraison
et le PPSPS (T8), diagnostic PEMD cité seulement s'il est joint (T6), mentions de fournitures ou de services hors de
leur place dans un marché de travaux (T11 à T17). Chaque test génère les pièces et relit le .docx ou le .xlsx.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import EXEMPLES, Lu, ecrire, RACINE

EXEMPLE = EXEMPLES / "travaux-lycee.yaml"
REPONSES: dict[str, Any] = yaml.safe_load(EXEMPLE.read_text(encoding="utf-8"))


def normal(texte: str) -> str:
    return texte.replace("\u00a0", " ").replace("\u202f", " ")


def _piece(fichiers: dict[str, Path], suffixe: str) -> Lu:
    return Lu(next(p for n, p in fichiers.items() if n.endswith(suffixe)))


@pytest.fixture(scope="module")
def lycee(exemples_generes) -> dict[str, Lu]:
    fichiers = exemples_generes["travaux-lycee"]
    return {cle: _piece(fichiers, f"-{cle}.docx") for cle in ("RC", "CCAP", "CCTP")}


def _generer(tmp_path: Path, donnees: dict[str, Any]):
    from generateur.rendu.generation import generer

    resultat = generer(ecrire(tmp_path, donnees), tmp_path / "sortie", RACINE)
    lus = {nom.rsplit("-", 1)[1].removesuffix(".docx"): Lu(chemin)
           for nom, chemin in resultat.fichiers.items() if nom.endswith(".docx")}
    return lus, resultat


def test_rc_dit_le_support_de_publicite_choisi(lycee):
    """T10 : l'exemple choisit le BOAMP ; le RC le dit, sans alternative « BOAMP ou journal »."""
    assert REPONSES["publicite_support"] == "boamp"
    rc = normal(lycee["RC"].texte)
    assert ("L’avis d’appel à la concurrence est publié au Bulletin officiel des annonces des marchés publics "
            "(BOAMP), support choisi par l’acheteur en application de l’article R2131-12") in rc
    assert "ou journal d’annonces légales" not in rc


def test_diagnostic_pemd_cite_seulement_s_il_est_joint(lycee, tmp_path):
    """T6 : sans pièce « Diagnostic PEMD » jointe, le CCTP ne renvoie à aucun diagnostic « joint au dossier » ;
    avec la pièce déclarée, il la nomme."""
    cctp = normal(lycee["CCTP"].texte)
    assert "diagnostic" not in cctp.lower().replace("diagnostic des produits, équipements", "")
    assert "Avant toute dépose, le titulaire identifie avec le maître d’œuvre les produits, équipements et " \
           "matériaux réemployables" in cctp
    donnees = copy.deepcopy(REPONSES)
    donnees["pieces_acheteur"].append({"titre": "Diagnostic PEMD de l'externat", "nature": "diagnostic_pemd",
                                       "fichier": "pieces/travaux-lycee/plan-rez-de-chaussee.pdf"})
    lus, _ = _generer(tmp_path, donnees)
    cctp = normal(lus["CCTP"].texte)
    assert ("figure dans la pièce « Diagnostic PEMD de l’externat » jointe au dossier de consultation. Le titulaire "
            "en met en œuvre les préconisations") in cctp
    assert "Avant toute dépose, le titulaire identifie" not in cctp
    # le paragraphe suivant de la clause reste un paragraphe distinct, dans les deux cas
    for lu in (lycee["CCTP"], lus["CCTP"]):
        assert any(t.startswith("Les matériaux et produits de réemploi prévus") for _, t in lu.paragraphes)


def _classeur(analyse) -> dict[str, list[str]]:
    """Désignations lues dans chaque feuille du bordereau produit (.xlsx rouvert)."""
    import io

    from openpyxl import load_workbook

    from generateur.rendu import classeur_prix

    classeur = load_workbook(io.BytesIO(classeur_prix.produire(analyse).contenu))
    return {ws.title: [str(c.value) for ligne in ws.iter_rows() for c in ligne if isinstance(c.value, str)]
            for ws in classeur.worksheets}


def test_retrait_de_l_amiante_affecte_au_lot_1(lycee, tmp_path):
    """T3 : le repérage amiante est joint et les réponses disent qu'il y a des matériaux à retirer, affectés au lot 1 :
    le RC exige la certification pour ce lot, le CCTP décrit le plan de retrait et les modes opératoires, la DPGF du
    lot 1, et elle seule, a une ligne de retrait."""
    from generateur.droit.regles import preparer

    assert REPONSES["chantier"]["amiante_retrait"] is True and REPONSES["chantier"]["amiante_lot"] == 1
    rc, cctp = normal(lycee["RC"].texte), normal(lycee["CCTP"].texte)
    numero_rc = lycee["RC"].article("Certification des entreprises de retrait de l’amiante")
    numero_cctp = lycee["CCTP"].article("Retrait des matériaux contenant de l’amiante")
    assert numero_rc.startswith("5.")  # article « Présentation des candidatures et des offres »
    assert ("Le lot n° 1 (Gros œuvre et démolition) comprend le retrait des matériaux contenant de l’amiante relevés "
            "dans la pièce « Rapport de repérage de l’amiante avant travaux » jointe au dossier de consultation") in rc
    assert "(articles R4412-129 et suivants du code du travail ; arrêté du 14 décembre 2012)" in rc
    assert "ou une certification équivalente" in rc
    assert f"dans les conditions de l’article {numero_cctp} du CCTP" in rc
    assert "est exécuté par le titulaire du lot n° 1 (Gros œuvre et démolition)" in cctp
    assert "plan de démolition, de retrait ou d’encapsulage prévu par l’article R4412-133 du code du travail" in cctp
    assert "descriptif des processus mis en œuvre (modes opératoires)" in cctp
    assert "trente jours au moins avant le démarrage des travaux de retrait (article R4412-137" in cctp
    assert f"dans les conditions de l’article {numero_rc} du RC" in cctp
    ccap = normal(lycee["CCAP"].texte)  # tâche de la période de préparation du lot
    assert ("pour le lot n° 1, établit le plan de démolition, de retrait ou d’encapsulage de l’amiante et les modes "
            f"opératoires du retrait, décrits à l’article {numero_cctp} du CCTP") in ccap
    # l'exemple décompose le retrait par matériau (quantités du repérage) : la ligne forfaitaire générique n'est
    # pas ajoutée en double ; les lignes de retrait sont au seul lot 1
    feuilles = _classeur(preparer(EXEMPLE, RACINE))
    avec = [titre for titre, textes in feuilles.items() if any("amiante" in t.lower() for t in textes)]
    assert len(avec) == 1 and avec[0].startswith("Lot 1"), avec
    lot1 = feuilles[avec[0]]
    assert not any(t.startswith(("Retrait des matériaux contenant de l’amiante",
                                 "Retrait des matériaux contenant de l'amiante")) for t in lot1)
    retraits = [t for t in lot1 if "amiante" in t.lower()]
    assert len(retraits) == 3 and any("dalles de sol vinyle-amiante" in t for t in retraits), retraits


def test_sans_retrait_d_amiante_ni_certification_ni_ligne(tmp_path):
    """Sans matériaux à retirer : ni article du RC, ni du CCTP, ni ligne de DPGF."""
    from generateur.droit.regles import preparer

    donnees = copy.deepcopy(REPONSES)
    donnees["chantier"]["amiante_retrait"] = False
    for lot in donnees["lots"]:  # les lignes de retrait que l'acheteur avait écrites partent avec le retrait
        lot["lignes_prix"] = [ligne for ligne in lot.get("lignes_prix", [])
                              if "amiante" not in ligne["designation"].lower()]
    lus, resultat = _generer(tmp_path, donnees)
    assert "R4412-129" not in lus["RC"].tout and "R4412-133" not in lus["CCTP"].tout
    assert "encapsulage" not in lus["CCAP"].tout
    feuilles = _classeur(preparer(tmp_path / "reponses.yaml", RACINE))
    assert not any("amiante" in t.lower() for textes in feuilles.values() for t in textes)


def test_retrait_d_amiante_dans_un_autre_lot_et_ligne_deja_ecrite(tmp_path):
    """Affecté au lot 5, le retrait y prend sa ligne ; une ligne d'amiante déjà écrite par l'acheteur n'est pas
    doublée."""
    from generateur.droit.regles import preparer

    donnees = copy.deepcopy(REPONSES)
    donnees["lots"][4]["lignes_prix"].append({"designation": "Désamiantage du conduit de chaufferie", "unite": "forfait",
                                              "quantite": 1})
    donnees["chantier"]["amiante_lot"] = 5
    lus, _ = _generer(tmp_path, donnees)
    assert "Le lot n° 5 (Chauffage, ventilation et plomberie) comprend le retrait" in normal(lus["RC"].texte)
    feuilles = _classeur(preparer(tmp_path / "reponses.yaml", RACINE))
    lot5 = next(textes for titre, textes in feuilles.items() if titre.startswith("Lot 5"))
    assert sum("amiante" in t.lower() for t in lot5) == 1, lot5


@pytest.mark.parametrize("modifs, message", [
    ({"amiante_lot": 9}, "aucun lot n° 9 dans la consultation"),
    ({"amiante_lot": None}, "indiquer le numéro du lot qui exécute le retrait"),
])
def test_lot_du_retrait_d_amiante_mal_designe(tmp_path, modifs, message):
    from click.testing import CliRunner

    from generateur.interfaces.cli import main

    donnees = copy.deepcopy(REPONSES)
    donnees["chantier"].update(modifs)
    resultat = CliRunner().invoke(main, ["generer", str(ecrire(tmp_path, donnees)), "-o", str(tmp_path / "s")])
    assert resultat.exit_code == 2, resultat.output
    assert message in normal(resultat.output), resultat.output
    assert "Lot auquel le retrait de l’amiante est affecté" in resultat.output or \
           "Lot auquel le retrait de l'amiante est affecté" in resultat.output
    assert not (tmp_path / "s").exists()


def test_retrait_d_amiante_sans_reperage_joint_refuse(tmp_path):
    from click.testing import CliRunner

    from generateur.interfaces.cli import main

    donnees = copy.deepcopy(REPONSES)
    donnees["pieces_acheteur"] = [p for p in donnees["pieces_acheteur"] if p["nature"] != "diagnostic_amiante"]
    resultat = CliRunner().invoke(main, ["generer", str(ecrire(tmp_path, donnees)), "-o", str(tmp_path / "s")])
    assert resultat.exit_code == 2, resultat.output
    assert "le retrait suppose le repérage de l" in resultat.output and "Matériaux contenant de l" in resultat.output


def test_une_seule_regle_pour_les_livraisons_et_le_ppsps(lycee):
    """T8 : les horaires de livraison et d'accès des véhicules et le délai de remise du PPSPS sont fixés une fois,
    par les réponses, dans le CCAP ; aucun autre délai de PPSPS ni d'autres horaires de livraison n'y figurent."""
    chantier = REPONSES["chantier"]
    ccap = normal(lycee["CCAP"].texte)
    assert ("Les livraisons, les approvisionnements et les évacuations, ainsi que l’accès des véhicules du chantier au "
            f"site, n’ont lieu qu’aux horaires suivants : {normal(chantier['horaires_livraison'])}") in ccap
    assert "les livraisons de 8 h 30" not in ccap and "empruntent des accès et des horaires distincts" not in ccap
    regle = f"au plus tard {chantier['ppsps_delai_jours']} jours avant le début de son intervention sur le chantier"
    phrases = [p for p in ccap.split("\n") if "PPSPS" in p and "remet" in p]
    assert phrases and all(regle in p for p in phrases), phrases
    assert "(PPSPS) pendant la période de préparation" not in ccap


def test_pgc_de_l_exemple_reprend_la_regle_du_ccap():
    """La pièce PGC de l'exemple (fichier de l'acheteur) dit les mêmes horaires d'accès et le même délai de PPSPS
    que les réponses qui fixent le CCAP."""
    import shutil
    import subprocess

    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) absent")
    pgc = next(p for p in REPONSES["pieces_acheteur"] if p["nature"] == "pgc_sps")
    texte = " ".join(subprocess.run(["pdftotext", str(EXEMPLES / pgc["fichier"]), "-"], capture_output=True,
                                    text=True, check=True).stdout.split())
    assert "de 7 h 30 à 8 h et de 9 h à 16 h" in texte and "de 7 h 30 à 8 h et de 9 h à 16 h" in \
        REPONSES["chantier"]["horaires_livraison"]
    assert f"{REPONSES['chantier']['ppsps_delai_jours']} jours avant son intervention" in texte


def test_mentions_de_fournitures_ou_de_services_absentes_des_travaux(lycee, exemples_generes):
    """T11 à T16 : ni reconduction, ni tranche, ni « suite de l'exécution » après la réception, ni indicateurs de
    biens livrés, ni « continuité du service » ; les attestations d'assurance renvoient à leur article."""
    ccap, cctp = normal(lycee["CCAP"].texte), normal(lycee["CCTP"].tout)
    assert "reconductible" not in ccap  # T11
    assert "tranche" not in ccap  # T12
    assert "pour la suite de l’exécution" not in ccap  # T13
    assert "les difficultés rencontrées et les solutions qui y ont été apportées" in ccap
    assurances = lycee["CCAP"].article("Assurances")  # T14
    assert f"fournit les attestations d’assurance prévues à l’article {assurances} ;" in ccap
    assert "prévues au CCAP" not in ccap
    assert "pour les biens livrés" not in cctp and "quantités livrées" not in cctp  # T15
    assert "montants hors taxes des travaux exécutés, par poste de la décomposition des prix" in cctp
    assert "continuité du service" not in cctp  # T16 (CCTP ; le cadre de mémoire : test suivant)
    # hors travaux, les mentions propres aux fournitures et services restent
    nettoyage = normal(_piece(exemples_generes["nettoyage-hotel-region"], "-CCAP.docx").texte)
    assert "pour la suite de l’exécution" in nettoyage


def test_cadre_de_memoire_un_lot_coche_par_cadre(tmp_path):
    """T16, T17 : le cadre de mémoire des travaux ne parle pas de « continuité du service » ; il porte une case par
    lot, à cocher, au lieu d'énumérer les cinq lots comme objet d'un seul cadre."""
    from generateur.droit.regles import preparer
    from generateur.pieces.blocs import Tableau
    from generateur.pieces.lecture import texte_blocs
    from generateur.pieces.memoire import blocs_cadre

    blocs = blocs_cadre(preparer(EXEMPLE, RACINE))[0]
    texte = normal(texte_blocs(blocs))
    assert "continuité du service" not in texte
    assert "garantir la qualité des ouvrages et le respect des délais" in texte
    cellules = {"".join(s.texte for s in ligne[0]): "".join(s.texte for s in ligne[1])
                for b in blocs if isinstance(b, Tableau) for ligne in b.lignes if len(ligne) == 2}
    lot = normal(cellules["Lot pour lequel le présent cadre est remis (un cadre complété par lot\u00a0: cocher une seule case)"])
    assert lot.split("\n") == [f"☐ lot {l['numero']} – {normal(l['intitule']).replace(chr(39), '’')}"
                               for l in REPONSES["lots"]]


def _verdict_pgc(tmp_path: Path, donnees: dict[str, Any]):
    from generateur.droit.regles import preparer
    from generateur.pieces.lecture import controler

    fichier = ecrire(tmp_path, donnees, f"r{len(list(tmp_path.glob('r*.yaml')))}.yaml")
    return next(v for v in controler(preparer(fichier, RACINE)).verdicts if v.id == "pgc-ccap")


def test_pgc_relu_contre_le_ccap(tmp_path):
    """Le texte du PGC joint (PDF de l'exemple, ou Markdown) est relu : mêmes horaires et même délai de PPSPS que le
    CCAP, conforme ; un horaire ou un délai différent, « À vérifier », avec ce qui diffère."""
    assert _verdict_pgc(tmp_path, copy.deepcopy(REPONSES)).statut == "conforme"
    donnees = copy.deepcopy(REPONSES)
    donnees["chantier"]["horaires_livraison"] = "de 8 h 30 à 11 h 30 et de 14 h à 16 h"
    donnees["chantier"]["ppsps_delai_jours"] = 15
    verdict = _verdict_pgc(tmp_path, donnees)
    assert verdict.statut == "a_verifier"
    message = normal(verdict.message)
    assert "horaires 7 h 30 à 8 h, 9 h à 16 h, absents des horaires du CCAP" in message, message
    assert "PPSPS remis 30 jours avant l’intervention, le CCAP dit « au plus tard 15 jours avant" in message.replace(
        "'", "’"), message
    # un PGC en Markdown, sans délai de PPSPS alors que le CCAP n'en fixe pas : seuls les horaires comptent
    (tmp_path / "pgc.md").write_text("# PGC\n\nAccès des véhicules de 7 h à 9 h.\n", encoding="utf-8")
    donnees = copy.deepcopy(REPONSES)
    donnees["chantier"].pop("ppsps_delai_jours")
    donnees["pieces_acheteur"] = [p for p in donnees["pieces_acheteur"] if p["nature"] != "pgc_sps"] + [
        {"titre": "PGC", "fichier": "pgc.md", "nature": "pgc_sps"}]
    verdict = _verdict_pgc(tmp_path, donnees)
    assert verdict.statut == "a_verifier" and "horaires 7 h à 9 h" in normal(verdict.message), verdict.message
    assert "PPSPS remis" not in verdict.message


def test_exigence_propre_des_variantes_apres_la_liste_et_accord_du_lieu(lycee):
    """Section 1 de la revue, C4 : l'exigence minimale propre au besoin n'est plus collée en tête de la liste des
    exigences générales ; C12 : le lieu d'exécution s'accorde avec « prestations », quel que soit l'objet."""
    paragraphes = lycee["RC"].paragraphes
    i = next(k for k, (_, t) in enumerate(paragraphes) if "les variantes respectent les exigences minimales" in t)
    suite = paragraphes[i + 1:]
    assert suite[0][0] == "List Bullet" and suite[0][1].startswith("elles portent sur le même objet")
    propre = next(t for s, t in suite if s != "List Bullet")
    exigence = REPONSES["variantes"]["exigences_minimales"].rstrip(".").replace("'", "’")
    assert normal(propre) == f"Elles respectent en outre l’exigence minimale propre au présent besoin : « {exigence} »."
    cctp = normal(lycee["CCTP"].texte)
    assert f"Les prestations sont exécutées à l’adresse ou sur le territoire suivant : {REPONSES['lieu_execution']}." in cctp
    assert "Saint-Orens-de-Gameville, exécutées" not in cctp
