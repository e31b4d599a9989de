"""Le CCAP et le RC d'un vrai marché de travaux : chaque article relu dans les pièces, avec les valeurs des réponses.

L'exemple des travaux du lycée (exemples/travaux-lycee.yaml) est généré une fois ; ses variantes (un seul lot,
sans site occupé, valeurs qui dérogent au CCAG-Travaux) sont générées depuis ses réponses modifiées.
"""

from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from conftest import EXEMPLES, RACINE, Lu, ecrire
from generateur.donnees.formats import typographie
from generateur.interfaces.cli import main

EXEMPLE = EXEMPLES / "travaux-lycee.yaml"
REPONSES: dict[str, Any] = yaml.safe_load(EXEMPLE.read_text(encoding="utf-8"))
CATALOGUE: dict[str, Any] = yaml.safe_load((RACINE / "catalogue.yaml").read_text(encoding="utf-8"))


def _param(nom: str) -> Any:
    return CATALOGUE["parametres"][nom]["valeurs"][-1]["valeur"]


def normal(texte: str) -> str:
    return texte.replace("\u00a0", " ").replace("\u202f", " ")


def section(lu: Lu, debut: str) -> str:
    """Texte d’un article ou sous-article : de son titre au titre suivant de même niveau ou de niveau supérieur."""
    paragraphes = lu.paragraphes
    for i, (style, texte) in enumerate(paragraphes):
        m = re.match(r"heading ([12])$", style.lower())
        if m and debut.lower() in texte.lower():
            niveau = int(m.group(1))
            contenu = []
            for style2, texte2 in paragraphes[i + 1:]:
                m2 = re.match(r"heading (\d)$", style2.lower())
                if m2 and int(m2.group(1)) <= niveau:
                    break
                contenu.append(texte2)
            return normal("\n".join(contenu))
    raise AssertionError(f"aucun article « {debut} » : {lu.titres(1) + lu.titres(2)}")


def tableau(lu: Lu, *entete: str) -> list[list[str]]:
    """Le tableau dont l’en-tête commence par ces colonnes (texte normalisé)."""
    for t in lu.tableaux:
        if [normal(c) for c in t[0][: len(entete)]] == list(entete):
            return [[normal(c) for c in ligne] for ligne in t]
    raise AssertionError(f"aucun tableau {entete} : {[t[0] for t in lu.tableaux]}")


def euros(valeur: float) -> str:
    return f"{valeur:,.2f} €".replace(",", " ").replace(".", ",")


@pytest.fixture(scope="module")
def lycee(exemples_generes) -> dict[str, Lu]:
    fichiers = exemples_generes["travaux-lycee"]
    return {cle: Lu(fichiers[nom]) for nom in fichiers for cle in ("RC", "CCAP") if nom.endswith(f"-{cle}.docx")}


def _generer(tmp_path: Path, donnees: dict[str, Any]) -> dict[str, Lu]:
    from generateur.rendu.generation import generer

    resultat = generer(ecrire(tmp_path, donnees), tmp_path / "sortie", RACINE)
    return {nom.rsplit("-", 1)[1].removesuffix(".docx"): Lu(chemin)
            for nom, chemin in resultat.fichiers.items() if nom.endswith(".docx")}


def _copie_racine(tmp_path: Path) -> Path:
    """Copie modifiable du catalogue, du questionnaire, des clauses, des modèles et des profils."""
    racine = tmp_path / "racine"
    racine.mkdir()
    for nom in ("catalogue.yaml", "questionnaire.yaml", "clauses", "modeles", "acheteurs"):
        (shutil.copytree if (RACINE / nom).is_dir() else shutil.copy)(RACINE / nom, racine / nom)
    return racine


def _variante(**modifs: Any) -> dict[str, Any]:
    donnees = copy.deepcopy(REPONSES)
    for chemin, valeur in modifs.items():
        noeud = donnees
        *parents, feuille = chemin.split("__")
        for p in parents:
            noeud = noeud.setdefault(p, {})
        noeud[feuille] = valeur
    return donnees


# -- l'exemple complet

def test_intervenants_dans_le_rc_et_le_ccap(lycee):
    intervenants = REPONSES["intervenants"]
    ccap = section(lycee["CCAP"], "Intervenants")
    for nom in (intervenants["maitre_oeuvre"]["nom"], intervenants["opc"]["nom"],
                intervenants["controleur_technique"]["nom"], intervenants["coordonnateur_sps"]["nom"]):
        assert typographie(nom) in ccap  # tel qu'imprimé, en typographie française
    assert "direction de l’exécution des travaux (DET)" in ccap
    assert "sécurité des personnes dans les établissements recevant du public (SEI)" in ccap
    assert "stabilité des avoisinants" not in ccap  # mission non confiée
    assert lycee["CCAP"].article("Intervenants") == "1.3"

    rc = tableau(lycee["RC"], "Intervenant", "Désignation")
    assert dict((l[0], l[1]) for l in rc[1:]) == {
        "Maître d’œuvre": normal(typographie(intervenants["maitre_oeuvre"]["nom"])),
        "Ordonnancement, pilotage et coordination (OPC)": normal(typographie(intervenants["opc"]["nom"])),
        "Contrôleur technique": normal(typographie(intervenants["controleur_technique"]["nom"]))
        + " (missions L, LE, SEI, HAND et TH)",
        "Coordonnateur SPS": normal(typographie(intervenants["coordonnateur_sps"]["nom"])),
    }
    assert "missions sont précisées à l’article 1.3 du CCAP" in section(lycee["RC"], "Intervenants")


def test_preparation_calendrier_ordres_de_service_et_delais_par_lot(lycee):
    ccap = lycee["CCAP"]
    preparation = section(ccap, "Période de préparation")
    assert f"période de préparation de {REPONSES['chantier']['preparation_mois']} mois" in preparation
    assert "par dérogation" not in preparation  # deux mois : la durée du CCAG
    assert "PPSPS" in preparation and "dispositions propres au site occupé" in preparation

    calendrier = section(ccap, "calendrier détaillé")
    assert "élaboré par le titulaire de la mission OPC" in calendrier
    assert "datés, numérotés et notifiés" in calendrier
    delais = tableau(ccap, "Lot", "Intitulé", "Délai d’exécution (mois)")
    assert delais[1:] == [[str(l["numero"]), typographie(l["intitule"]), str(l["duree_mois"])] for l in REPONSES["lots"]]
    # la durée générale renvoie à la préparation, sans second tableau des durées
    assert "commencer la période de préparation, dans les conditions fixées à l’article 3.2" in section(ccap, "Article 3")
    assert not any(t[0][:3] == ["Lot", "Intitulé", "Durée (mois)"] for t in ccap.tableaux)


def test_ae_de_chaque_lot_renvoie_a_l_article_des_delais_par_lot(lycee, tmp_path):
    """Chaque AE donne le délai de son lot et renvoie à l'article du CCAP qui le fixe (délais par lot), non à
    la durée générale ; le CCAP 3.1 dit que le délai de chaque lot est fixé à cet article, le délai global
    restant celui de l'opération."""
    from generateur.droit.regles import preparer
    from generateur.rendu.publication import pieces_complementaires

    ccap = lycee["CCAP"]
    par_lot = ccap.article("Délais par lot")
    duree = section(ccap, ccap.article("Durée et délais") + "\u00a0– Durée")
    assert (f"Le délai d’exécution de chaque lot est fixé à l’article {par_lot} ; l’opération est achevée dans un "
            f"délai global de {REPONSES['duree_mois']} mois") in duree
    assert f"Le délai d’exécution des travaux est de {REPONSES['duree_mois']} mois" not in duree
    delais = {int(l[0]): l[2] for l in tableau(ccap, "Lot", "Intitulé", "Délai d’exécution (mois)")[1:]}

    analyse = preparer(EXEMPLE, RACINE)
    pieces, _ = pieces_complementaires(analyse)
    aes = [(nom, contenu) for nom, genre, _, contenu in pieces if genre == "AE"]
    assert len(aes) == len(REPONSES["lots"])
    for nom, contenu in aes:
        (tmp_path / nom).write_bytes(contenu)
        numero = int(nom.removesuffix(".docx").rsplit("-", 1)[1])
        ae = normal(Lu(tmp_path / nom).texte)
        assert (f"La durée d’exécution du lot est de {delais[numero]} mois, dans les conditions fixées à "
                f"l’article {par_lot} du CCAP.") in ae, nom


def test_intemperies(lycee):
    texte = section(lycee["CCAP"], "intempéries")
    chantier = REPONSES["chantier"]
    assert f"fixé à {chantier['intemperies_jours']} jours ouvrables" in texte
    assert chantier["intemperies_station"] in texte
    assert "rafales dépassent 70 km/h" in texte
    assert "L5424-8" in texte


def test_chantier_prorata_et_site_occupe(lycee):
    ccap = lycee["CCAP"]
    prorata = section(ccap, "compte prorata")
    assert "Le titulaire du lot n° 1 (Gros œuvre et démolition) avance les dépenses d’intérêt commun" in prorata
    site = section(ccap, "site occupé")
    chantier = REPONSES["chantier"]
    assert chantier["site_occupe_usagers"] in site
    assert "phase 1, aile nord (bâtiment B)" in site
    assert chantier["horaires"] in site
    assert "pendant les périodes de vacances scolaires" in site
    assert "issues de secours" in site


def test_penalites_de_chantier_aux_montants_choisis(lycee):
    penalites = tableau(lycee["CCAP"], "Manquement", "Pénalité")
    montants = REPONSES["chantier"]["penalites"]
    assert euros(montants["absence_reunion"]) + " HT par absence" in penalites[1][1]
    assert euros(montants["retard_documents"]) + " HT par jour" in penalites[2][1]
    assert euros(montants["retard_levee_reserves"]) + " HT par jour" in penalites[3][1]
    assert "prévus à l’article 9.3" in penalites[2][0] and "délai fixé à l’article 9.1" in penalites[3][0]


def test_reception_gpa_doe_et_assurances(lycee):
    ccap = lycee["CCAP"]
    reception = section(ccap, "Réception des travaux")
    assert f"délai de {_param('travaux_opr_jours')} jours" in reception
    assert f"lève les réserves dans un délai de {REPONSES['chantier']['reserves_delai_jours']} jours" in reception
    assert "procès-verbal de levée des réserves" in reception
    assert f"délai de garantie de {REPONSES['delai_garantie_mois']} mois" in reception
    gpa = section(ccap, "parfait achèvement")
    assert f"est de {REPONSES['delai_garantie_mois']} mois à compter de la date d’effet" in gpa and "44.2" in gpa
    doe = section(ccap, "DIUO")
    assert f"délai de {REPONSES['chantier']['doe_delai_mois']} mois" in doe
    assert f"retenue provisoire de {euros(REPONSES['chantier']['retenue_doe'])} HT par lot" in doe
    assurances = section(ccap, "Assurances")
    assert "responsabilité civile" in assurances and "L241-1" in assurances
    assert f"délai de {_param('travaux_assurance_jours')} jours" in assurances
    assert ccap.article("Assurances") == "10"


def test_index_de_revision_par_lot(lycee):
    indices = {l[0]: l[2] for l in tableau(lycee["CCAP"], "Lot", "Intitulé", "Index de référence")[1:]}
    libelles = _param("index_travaux")
    assert indices["1"] == normal(typographie(f"50 % × index BT03 « {libelles['BT03']['libelle']} » + "
                                              f"50 % × index BT06 « {libelles['BT06']['libelle']} »"))  # « Gros œuvre » dans l'intitulé
    assert indices["2"] == "index BT52 « Imperméabilité de façades »"  # isolation par l'extérieur
    assert indices["3"] == normal(typographie(f"50 % × index BT19b « {libelles['BT19b']['libelle']} » + "
                                              f"50 % × index BT43 « {libelles['BT43']['libelle']} »"))  # corps d'état choisi
    assert indices["4"] == "index BT46 « Peinture, tenture, revêtements muraux »"
    assert indices["5"].startswith("40 % × index BT40 « Chauffage central (à l’exclusion du chauffage électrique) »")
    assert "30 % × index BT41" in indices["5"] and "30 % × index BT38" in indices["5"]
    # aucun identifiant de série n'est vérifié : aucun n'est imprimé
    texte = normal(lycee["CCAP"].tout)
    assert "série INSEE" not in texte and libelles["BT46"]["idbank"] not in texte


def test_index_reconnu_par_le_cpv_et_identifiant_imprime_une_fois_verifie(tmp_path):
    racine = _copie_racine(tmp_path)
    catalogue = racine / "catalogue.yaml"
    texte = catalogue.read_text(encoding="utf-8")
    ligne = '          BT47: {libelle: "Électricité", idbank: "001710979", idbank_verifie: false}'
    assert ligne in texte
    catalogue.write_text(texte.replace(ligne, ligne.replace("false", "true")), encoding="utf-8")
    # intitulés sans mot reconnu : le code CPV désigne le corps d'état (le début le plus long l'emporte)
    donnees = _variante(lots=[{"numero": 1, "intitule": "Lot technique", "cpv": "45311000-0", "montant_estime": 300000},
                              {"numero": 2, "intitule": "Clos et toit", "cpv": "45261211-6", "montant_estime": 200000}])
    from generateur.rendu.generation import generer

    resultat = generer(ecrire(tmp_path, donnees), tmp_path / "sortie", racine)
    ccap = Lu(next(c for n, c in resultat.fichiers.items() if n.endswith("-CCAP.docx")))
    indices = tableau(ccap, "Lot", "Intitulé", "Index de référence")
    assert indices[1][2] == "index BT47 « Électricité » (série INSEE n° 001710979)"
    assert indices[2][2] == "index BT32 « Couverture en tuiles en terre cuite »"  # identifiant non vérifié : absent


def test_recapitulatif_des_derogations(lycee, tmp_path):
    lignes = tableau(lycee["CCAP"], "Article du CCAP", "Article du CCAG-Travaux auquel il est dérogé", "Objet")[1:]
    assert ["8.2", "19.2"] in [l[:2] for l in lignes]
    assert not {"28.1", "44.1", "40"} & {l[1] for l in lignes}  # valeurs du CCAG : pas de dérogation
    assert lycee["CCAP"].titres(1)[-1] == "Article 13 – Dérogations au CCAG"

    docs = _generer(tmp_path, _variante(chantier__preparation_mois=1, chantier__doe_delai_mois=2,
                                        delai_garantie_mois=24))
    ccap = docs["CCAP"]
    lignes = tableau(ccap, "Article du CCAP", "Article du CCAG-Travaux auquel il est dérogé", "Objet")[1:]
    recap = {l[1]: l[0] for l in lignes}
    assert recap["28.1"] == ccap.article("Période de préparation")
    assert recap["44.1"] == ccap.article("parfait achèvement")
    assert recap["40"] == ccap.article("DIUO")
    assert "par dérogation à l’article 28.1 du CCAG-Travaux" in section(ccap, "Période de préparation")
    assert "est de 24 mois, par dérogation à l’article 44.1" in section(ccap, "parfait achèvement")


def test_un_seul_lot_sans_site_occupe(tmp_path):
    lot = {k: v for k, v in REPONSES["lots"][0].items() if k != "duree_mois"}
    donnees = _variante(lots=[lot], chantier__site_occupe=False, chantier__intemperies_jours=0, chantier__penalites={},
                        intervenants={"opc": {"mode": "aucun"}},
                        justifications={"absence_allotissement": "Opération de gros œuvre indissociable."})
    docs = _generer(tmp_path, donnees)
    ccap, rc = docs["CCAP"], docs["RC"]
    titres = " / ".join(ccap.titres(1) + ccap.titres(2))
    assert "site occupé" not in titres and "compte prorata" not in titres
    assert "Organisation et sujétions du chantier" not in titres
    calendrier = section(ccap, "calendrier")
    assert "Le délai d’exécution du marché, période de préparation comprise, est de 18 mois" in calendrier
    assert "Le titulaire établit le programme d’exécution" in calendrier
    assert "Aucune journée d’intempéries prévisible n’est déduite" in section(ccap, "intempéries")
    assert "Aucune mission d’ordonnancement" in section(ccap, "Intervenants")
    assert "dispositions propres au site occupé" not in section(ccap, "Période de préparation")
    intervenants = dict((l[0], l[1]) for l in tableau(rc, "Intervenant", "Désignation")[1:])
    assert intervenants["Contrôleur technique"] == "aucun"
    assert intervenants["Ordonnancement, pilotage et coordination (OPC)"] == "pas de mission distincte"
    penalites = tableau(ccap, "Manquement", "Pénalité")  # montants par défaut du service juridique
    assert euros(_param("penalite_absence_reunion_defaut")) in penalites[1][1]


ARTICLES_TRAVAUX = ("Intervenants", "Période de préparation", "calendrier détaillé", "intempéries", "compte prorata",
                    "site occupé", "Pénalités de chantier", "Réception", "parfait achèvement", "DIUO", "Assurances")


@pytest.mark.parametrize("exemple", ["restauration-lycees", "nettoyage-hotel-region", "amp-espaces-verts"])
def test_aucun_article_de_travaux_hors_travaux(exemples_generes, exemple):
    fichiers = exemples_generes[exemple]
    ccap = Lu(next(c for n, c in fichiers.items() if n.endswith("-CCAP.docx")))
    rc = Lu(next(c for n, c in fichiers.items() if n.endswith("-RC.docx")))
    titres = " / ".join(ccap.titres(1) + ccap.titres(2) + rc.titres(1) + rc.titres(2)).lower()
    for titre in ARTICLES_TRAVAUX:
        assert titre.lower() not in titres, titre
    assert "Objets des variantes" not in rc.texte and "index BT" not in ccap.tout


def test_variantes_une_seule_liste_reprise_a_l_identique(lycee):
    rc = lycee["RC"]

    def puces_apres(debut: str) -> list[str]:
        return rc.puces_apres(debut, normal)

    objets = puces_apres("Les variantes ne peuvent porter que sur les objets suivants")
    libelles = {o["id"]: normal(o["libelle"]) for o in _param("variantes_objets")}
    attendus = [libelles[o] for o in REPONSES["variantes"]["objets"]]  # l'insertion, non cochée, n'y est pas
    assert objets == attendus and libelles["insertion"] not in rc.texte
    materiaux = puces_apres("Conformément à l’article L228-4")
    assert materiaux == objets
    assert libelles["energie"] not in rc.texte  # objet non retenu par l'acheteur
    texte = normal(rc.texte)
    assert "uniquement" not in section(rc, "Variantes") and "peuvent notamment proposer" not in texte


def test_penalite_au_dessus_du_plafond_refusee(tmp_path):
    plafond = _param("penalite_absence_reunion_plafond")
    fichier = ecrire(tmp_path, _variante(chantier__penalites={"absence_reunion": plafond + 400}))
    sortie = tmp_path / "sortie"
    resultat = CliRunner().invoke(main, ["generer", str(fichier), "--sortie", str(sortie)])
    assert resultat.exit_code == 2, resultat.output
    message = normal(resultat.output)
    assert f"Pénalité pour absence à une réunion de chantier de {euros(plafond + 400)}" in message
    assert f"dépasse le plafond de {euros(plafond)} par absence" in message
    # la réponse est nommée par son libellé, jamais par sa clé interne
    assert "Pénalité pour absence à une réunion de chantier (€ HT par absence) :" in message
    assert "chantier.penalites.absence_reunion" not in message and "reponses.yaml, ligne" in message
    assert not sortie.exists()
    # au plafond exactement : accepté
    fichier = ecrire(tmp_path, _variante(chantier__penalites={"absence_reunion": plafond}), "au-plafond.yaml")
    assert CliRunner().invoke(main, ["generer", str(fichier), "--sortie", str(sortie)]).exit_code == 0


def test_preparation_plus_longue_que_le_delai_refusee(tmp_path):
    fichier = ecrire(tmp_path, _variante(duree_mois=2, chantier__preparation_mois=2,
                                         lots=[{"numero": 1, "intitule": "Peinture", "montant_estime": 90000}]))
    resultat = CliRunner().invoke(main, ["generer", str(fichier), "--sortie", str(tmp_path / "s")])
    assert resultat.exit_code == 2, resultat.output
    assert "Période de préparation de 2 mois" in normal(resultat.output)


def test_donnees_des_corps_d_etat_coherentes():
    """Chaque corps d’état du questionnaire a son index dans le catalogue, chaque index son libellé."""
    questionnaire = yaml.safe_load((RACINE / "questionnaire.yaml").read_text(encoding="utf-8"))
    lots = next(q for s in questionnaire["sections"] for q in s["questions"] if q["id"] == "lots")
    choix = next(q for q in lots["questions"] if q["id"] == "corps_etat")["choix"]
    corps = _param("corps_etat_travaux")
    index = _param("index_travaux")
    assert set(choix) == set(corps)
    for nom, c in corps.items():
        assert sum(i["part"] for i in c["index"]) == 100, nom
        for i in c["index"]:
            assert i["code"] in index and i["code"] in choix[nom], (nom, i["code"])
    assert {m["corps_etat"] for m in _param("corps_etat_mots")} <= set(corps)
    assert set(_param("corps_etat_cpv").values()) <= set(corps)


def test_sans_periode_de_preparation(tmp_path):
    ccap = _generer(tmp_path, _variante(chantier__preparation_mois=0))["CCAP"]
    texte = normal(ccap.texte)
    assert "le marché ne comporte pas de période de préparation" in section(ccap, "Période de préparation")
    assert "période de préparation comprise" not in texte and "pendant la période de préparation" not in texte
    lignes = tableau(ccap, "Article du CCAP", "Article du CCAG-Travaux auquel il est dérogé", "Objet")[1:]
    assert [ccap.article("Période de préparation"), "28.1"] in [l[:2] for l in lignes]


def test_lot_du_compte_prorata_inconnu_refuse(tmp_path):
    fichier = ecrire(tmp_path, _variante(chantier__compte_prorata_lot=9))
    resultat = CliRunner().invoke(main, ["generer", str(fichier), "--sortie", str(tmp_path / "s")])
    assert resultat.exit_code == 2, resultat.output
    assert "aucun lot n° 9 dans la consultation (lots n° 1, 2, 3, 4, 5)" in normal(resultat.output)


def test_verification_des_limites_du_catalogue(tmp_path):
    racine = _copie_racine(tmp_path)
    catalogue = racine / "catalogue.yaml"
    texte = catalogue.read_text(encoding="utf-8")
    texte = texte.replace("  - champ: chantier.penalites.absence_reunion\n",
                          "  - champ: chantier.penalites.absence_reunions\n", 1)
    texte = texte.replace("penalite_retard_documents is none or penalite_retard_documents <=",
                          "penalite_retard_document is none or penalite_retard_documents <=", 1)
    catalogue.write_text(texte, encoding="utf-8")
    resultat = CliRunner().invoke(main, ["--catalogue", str(racine), "catalogue", "verifier"])
    assert resultat.exit_code != 0
    sortie = normal(resultat.output)
    assert "limite sur « chantier.penalites.absence_reunions », absent du questionnaire" in sortie
    assert "la limite lit « penalite_retard_document », fourni ni par le questionnaire ni par les calculs" in sortie
