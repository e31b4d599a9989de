"""Clauses reprises après la troisième relecture du juriste (RAPPORT3 : M1, M2, M3, M7, M16, m1, m2, m5, m6, m7,
m20…) : chaque pièce générée est relue, présence et absence des phrases en cause."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from click.testing import CliRunner

from conftest import EXEMPLES, RACINE, Lu, ecrire
from test_renvois_revue import _exemple, _net, _piece
from generateur.interfaces.cli import main


def _section(lu: Lu, debut: str) -> str:
    """Texte du sous-article (titre de niveau 2, à défaut de niveau 1) dont le titre contient `debut`, jusqu'au titre
    suivant de niveau 1 ou 2."""
    cherche = _net(debut).lower()
    for niveau in ("heading 2", "heading 1"):
        lignes: list[str] = []
        dedans = trouve = False
        for style, texte in lu.paragraphes:
            if style.lower() in ("heading 1", "heading 2"):
                if dedans:
                    break
                dedans = style.lower() == niveau and cherche in _net(texte).lower()
                trouve = trouve or dedans
                continue
            if dedans:
                lignes.append(texte)
        if trouve:
            return _net("\n".join(lignes))
    raise AssertionError(f"aucun article « {debut} »")


def _puces_apres(lu: Lu, debut: str) -> list[str]:
    return lu.puces_apres(debut, _net)


CATALOGUE = yaml.safe_load((RACINE / "catalogue.yaml").read_text(encoding="utf-8"))


def _param(nom: str):
    return CATALOGUE["parametres"][nom]["valeurs"][-1]["valeur"]


INSERTION = "les modalités de l'action d'insertion professionnelle prévue par le CCAP"
TITRE_INSERTION = "Variantes relatives aux modalités d'insertion"


# -- M1 : variantes d'insertion seulement si l'acheteur les a retenues ------------------------------------------

def test_m1_variantes_d_insertion_absentes_si_l_acheteur_ne_les_retient_pas(exemples_generes):
    """M1 : les objets retenus par l'acheteur (travaux : matériaux et réemploi) sont les seuls listés ; ni l'objet
    « insertion » ni l'article qui le développe ne sont ajoutés d'office (travaux et nettoyage)."""
    rc = _piece(exemples_generes["travaux-lycee"], "-RC.docx")
    objets = _puces_apres(rc, "Les variantes ne peuvent porter que sur les objets suivants")
    assert len(objets) == 2 and objets[0].startswith("des matériaux biosourcés") and objets[1].startswith("le réemploi")
    texte = _net(rc.tout)
    assert INSERTION not in texte and TITRE_INSERTION not in texte
    assert "peuvent porter sur les modalités de cette action" not in texte
    assert _puces_apres(rc, "Conformément à l'article L228-4") == objets  # même liste, à l'identique
    rc = _piece(exemples_generes["nettoyage-hotel-region"], "-RC.docx")
    texte = _net(rc.tout)
    assert TITRE_INSERTION not in texte and "peuvent porter sur les modalités de cette action" not in texte
    assert "Objets des variantes" not in texte  # hors travaux, sans choix : pas de liste


def test_m1_variantes_d_insertion_quand_l_acheteur_les_retient(generer):
    """Objet « insertion » coché : il figure dans la liste unique et son article le développe ; l'article des
    matériaux ne reprend que les objets de matériaux."""
    donnees = _exemple("travaux-lycee")
    donnees["variantes"]["objets"] = ["materiaux", "insertion"]
    lus, _ = generer(donnees)
    rc = lus["RC"]
    objets = _puces_apres(rc, "Les variantes ne peuvent porter que sur les objets suivants")
    assert len(objets) == 2 and objets[0].startswith("des matériaux biosourcés") and objets[1] == INSERTION
    assert TITRE_INSERTION in _net(rc.tout)
    assert _puces_apres(rc, "Conformément à l'article L228-4") == objets[:1]
    # hors travaux : l'insertion seule, liste limitative reprise par l'exigence minimale
    donnees = _exemple("nettoyage-hotel-region")
    donnees["variantes"]["objets"] = ["insertion"]
    lus, _ = generer(donnees)
    rc = lus["RC"]
    assert _puces_apres(rc, "Les variantes ne peuvent porter que sur les objets suivants") == [INSERTION]
    assert TITRE_INSERTION in _net(rc.tout)
    assert "elles ne portent que sur les objets admis ci-dessus" in _net(rc.texte)


def test_m1_insertion_sans_lot_d_insertion_sans_effet(generer):
    """Objet « insertion » coché sans clause d'insertion dans aucun lot : ni liste vide ni article d'insertion."""
    donnees = _exemple("nettoyage-hotel-region")
    donnees["variantes"]["objets"] = ["insertion"]
    donnees["spaser"]["insertion"]["actif"] = False
    lus, _ = generer(donnees)
    texte = _net(lus["RC"].tout)
    assert "Objets des variantes" not in texte and TITRE_INSERTION not in texte
    assert "objets admis ci-dessus" not in texte


def test_m1_objets_de_travaux_refuses_hors_travaux(tmp_path):
    donnees = _exemple("nettoyage-hotel-region")
    donnees["variantes"]["objets"] = ["materiaux"]
    fichier = ecrire(tmp_path, donnees)
    resultat = CliRunner().invoke(main, ["generer", str(fichier), "--sortie", str(tmp_path / "sortie")])
    assert resultat.exit_code == 2, resultat.output
    message = _net(resultat.output)
    assert "ne sont proposés que pour un marché de travaux" in message and "variantes.objets" not in message
    assert not (tmp_path / "sortie").exists()


# -- M2 : la méconnaissance des engagements de l'offre renvoie à une sanction que le CCAP prévoit -----------------

def test_m2_engagements_de_l_offre_renvoient_a_la_resiliation_pour_faute_du_ccap(exemples_generes):
    """M2 : aucun CCAP ne sanctionne par une pénalité les engagements notés de l'offre ; le RC renvoie donc, par son
    numéro, à l'article de résiliation du CCAP, dont la résiliation pour faute vise ces engagements."""
    for nom, engagements in (("travaux-lycee", "environnementaux"), ("restauration-lycees", "environnementaux et sociaux"),
                             ("nettoyage-hotel-region", "environnementaux et sociaux"),
                             ("amp-espaces-verts", "environnementaux")):
        fichiers = exemples_generes[nom]
        rc, ccap = _piece(fichiers, "-RC.docx"), _piece(fichiers, "-CCAP.docx")
        texte = _net(rc.texte)
        assert "sanctionnée dans les conditions prévues par le CCAP" not in texte, nom
        numero = ccap.article("Résiliation")
        assert (f"leur méconnaissance grave ou répétée peut justifier la résiliation du marché pour faute, dans les "
                f"conditions prévues à l'article {numero} du CCAP.") in texte, nom
        resiliation = _section(ccap, "Résiliation")
        assert (f"en cas de manquements graves ou répétés aux engagements {engagements} pris dans son offre, qui ont "
                "valeur contractuelle") in resiliation, nom
        assert "pénalité" not in texte.split("Les engagements environnementaux pris dans l'offre")[1].split("\n")[0]


def test_m2_sans_critere_environnemental_ni_social_pas_d_engagement_vise(generer):
    from conftest import reponses

    lus, _ = generer(reponses(criteres=[{"intitule": "Prix", "ponderation": 60, "type": "prix"},
                                        {"intitule": "Valeur technique", "ponderation": 40, "type": "technique"}]))
    assert "pris dans son offre, qui ont valeur contractuelle" not in _net(lus["CCAP"].texte)
    assert "résiliation du marché pour faute" not in _net(lus["RC"].texte)


# -- M16 : pas de pénalité forfaitaire pour une obligation de moyens ----------------------------------------------

def test_m16_penalites_environnementales_seulement_pour_des_manquements_constatables(exemples_generes):
    """M16 : regroupement des approvisionnements (travaux), livraisons non regroupées (fournitures), organisation des
    déplacements (services) ne sont plus punis d'une pénalité forfaitaire ; les faits constatables le restent, au
    CCAP de la condition environnementale et au tableau des pénalités, dont la phrase « mesurable » reste vraie."""
    attendus = {
        "travaux-lycee": ("non-respect des mesures de regroupement des approvisionnements",
                          "absence de tri à la source des déchets du chantier par les flux fixés ci-dessus"),
        "restauration-lycees": ("livraisons non regroupées", "refus de reprendre les emballages de livraison"),
        "nettoyage-hotel-region": ("non-respect des mesures d'organisation des déplacements",
                                   "déchet abandonné sur les sites de l'acheteur"),
        "amp-espaces-verts": ("non-respect des mesures d'organisation des déplacements",
                              "absence de tri des déchets produits par les prestations"),
    }
    for nom, (retire, garde) in attendus.items():
        ccap = _piece(exemples_generes[nom], "-CCAP.docx")
        tout = _net(ccap.tout)
        assert retire not in tout, nom
        condition = _section(ccap, "Condition d'exécution environnementale")
        assert "Seuls les manquements suivants, constatés contradictoirement, donnent lieu à une pénalité" in condition
        assert garde in condition, nom
        assert "ne donnent pas lieu à pénalité" in condition and "Bilan environnemental" in _net(ccap.texte)
        lignes = [l for t in ccap.tableaux for l in t if l and _net(l[0]).startswith("Condition environnementale")]
        assert len(lignes) == 1 and garde in _net(lignes[0][0]) and "transports" not in _net(lignes[0][0]), nom
        assert "Chacune de ces obligations est mesurable" in _net(ccap.texte)


# -- M3 : plafond des pénalités d'un accord-cadre à bons de commande, par année d'exécution ------------------------

PLAFOND = _param("penalites_execution_plafond_pourcent")
ANNUEL = (f"Le montant total de ces pénalités est plafonné, pour chaque année d'exécution, à {PLAFOND} % du montant "
          "hors taxes des bons de commande exécutés au cours de cette année.")


def test_m3_plafond_annuel_des_autres_penalites_en_accord_cadre_a_bons_de_commande(exemples_generes):
    ccap = _piece(exemples_generes["restauration-lycees"], "-CCAP.docx")
    texte = _net(ccap.texte)
    assert f"Le montant total de ces pénalités est plafonné à {PLAFOND} % du montant total hors taxes du bon de" not in texte
    assert ANNUEL in _section(ccap, "Pénalités d'exécution des prestations")
    autres = texte.split("Autres pénalités")[1].split("Procédure contradictoire")[0]
    assert ANNUEL.replace("Le montant total de ces pénalités est", "est") in autres
    # les pénalités de retard restent calculées et plafonnées sur le bon de commande qui est en retard
    assert "pénalités de retard est plafonné à " in texte and "hors taxes du bon de commande concerné. " in texte
    # hors accord-cadre à bons de commande : le contrat
    texte = _net(_piece(exemples_generes["nettoyage-hotel-region"], "-CCAP.docx").texte)
    assert ANNUEL not in texte
    assert f"Le montant total de ces pénalités est plafonné à {PLAFOND} % du montant total hors taxes du contrat." in texte


# -- M7 : durée d'un marché de services ou de fournitures ---------------------------------------------------------

def test_m7_duree_sans_renvoi_au_cctp_ni_prolongation(exemples_generes, generer):
    """M7 : hors travaux, la durée court de la notification (ou de la date de prise d'effet répondue) ; pas de renvoi
    à un CCTP ou à un ordre de service qui ne fixent rien, pas de prolongation de la durée d'un marché."""
    # l'exemple du nettoyage répond une date de prise d'effet (reprise du personnel au 1er avril 2027) ; sans elle,
    # la durée court de la notification
    duree = _section(_piece(exemples_generes["nettoyage-hotel-region"], "-CCAP.docx"), "Durée et délais d'exécution")
    assert ("Le marché prend effet le 1er avril 2027, ou à la date de sa notification si celle-ci est postérieure ; "
            "sa durée court à compter de cette prise d'effet.") in duree.replace("1ᵉʳ", "1er")
    assert "le CCTP fixe" not in duree and "ordre de service" not in duree and "prolong" not in duree
    sans_date = _exemple("nettoyage-hotel-region")
    del sans_date["date_debut_execution"]
    lus, _ = generer(sans_date)
    assert "Cette durée court à compter de la date de notification du marché." in _section(
        lus["CCAP"], "Durée et délais d'exécution")
    # accord-cadre à bons de commande : le délai de chaque bon reste prolongeable, pas la durée de l'accord-cadre
    for nom in ("restauration-lycees", "amp-espaces-verts"):
        duree = _section(_piece(exemples_generes[nom], "-CCAP.docx"), "Durée et délais d'exécution")
        assert "Cette durée court à compter de la date de notification de l'accord-cadre." in duree, nom
        assert "le CCTP fixe" not in duree and "ordre de service" not in duree, nom
        assert [p for p in duree.split(". ") if "prolong" in p] == [
            "Ces délais peuvent être prolongés dans les conditions prévues par le cahier des clauses administratives "
            "générales de référence."], nom
    # travaux : le délai d'exécution reste prolongeable
    travaux = _net(_piece(exemples_generes["travaux-lycee"], "-CCAP.docx").texte)
    assert "Ce délai peut être prolongé dans les conditions prévues par le cahier des clauses" in travaux
    # date de prise d'effet répondue : le CCAP l'écrit
    donnees = _exemple("nettoyage-hotel-region")
    donnees["date_debut_execution"] = "2027-07-01"
    lus, _ = generer(donnees)
    duree = _section(lus["CCAP"], "Durée et délais d'exécution")
    assert ("Le marché prend effet le 1er juillet 2027, ou à la date de sa notification si celle-ci est postérieure ; "
            "sa durée court à compter de cette prise d'effet.") in duree.replace("1ᵉʳ", "1er")
    assert "Cette durée court à compter de la date de notification" not in duree


# -- m1 : R2151-11 (fournitures ou services) hors travaux seulement -----------------------------------------------

def test_m1_mineur_r2151_11_absent_en_travaux(exemples_generes):
    travaux = _net(_piece(exemples_generes["travaux-lycee"], "-RC.docx").texte)
    assert "R2151-11" not in travaux and "marché de services au lieu d'un marché de fournitures" not in travaux
    assert "Une variante qui ne respecte pas ces exigences minimales est irrégulière et n'est pas examinée." in travaux
    for nom in ("restauration-lycees", "nettoyage-hotel-region"):
        rc = _net(_piece(exemples_generes[nom], "-RC.docx").texte)
        assert ("Une variante ne peut être rejetée au seul motif qu'elle aboutirait, si elle était retenue, à un marché "
                "de services au lieu d'un marché de fournitures, ou inversement (article R2151-11") in rc, nom


# -- m2 : pièces de prix de la variante selon la forme du prix ----------------------------------------------------

def test_m2_mineur_pieces_de_prix_de_la_variante_selon_la_forme_du_prix(exemples_generes):
    for nom in ("travaux-lycee", "nettoyage-hotel-region"):  # prix global et forfaitaire
        rc = _net(_piece(exemples_generes[nom], "-RC.docx").texte)
        assert "bordereau de prix propres à la variante" not in rc, nom
        assert ("un acte d'engagement et une décomposition du prix global et forfaitaire (DPGF) propres à la "
                "variante ;") in rc, nom
    rc = _net(_piece(exemples_generes["restauration-lycees"], "-RC.docx").texte)  # prix unitaires
    assert ("un acte d'engagement, un bordereau des prix unitaires (BPU) et un détail quantitatif estimatif (DQE) "
            "propres à la variante ;") in rc


# -- m5 : pénalité pour travail dissimulé hors du plafond commun --------------------------------------------------

def test_m5_mineur_travail_dissimule_hors_plafond_commun(exemples_generes):
    ccap = _piece(exemples_generes["travaux-lycee"], "-CCAP.docx")
    texte = _net(ccap.texte)
    assert "pénalité égale à 10 %" not in texte
    assert ("une pénalité dans la limite de 10 % du montant hors taxes du contrat et du montant des amendes encourues "
            "pour travail dissimulé, qui n'entre pas dans le plafond des autres pénalités") in texte
    assert (f"Le montant total de ces pénalités, hors la pénalité pour travail dissimulé que plafonne l'article L8222-6 "
            f"du code du travail, est plafonné à {PLAFOND} % du montant total hors taxes du contrat.") in texte
    ligne = next(l for t in ccap.tableaux for l in t if _net(l[0]).startswith("Attestations relatives au travail"))
    assert _net(ligne[-1]).startswith("dans la limite de 10 %") and "hors plafond commun" in _net(ligne[-1])
    assert "dans la limite légale" not in _net(ccap.tout)


# -- m6 : colonne « Article » et montants du tableau des autres pénalités -----------------------------------------

def test_m6_mineur_tableau_des_penalites_numeros_seuls_et_montants_ht(exemples_generes):
    for nom, fichiers in exemples_generes.items():
        ccap = _piece(fichiers, "-CCAP.docx")
        tableau = next(t for t in ccap.tableaux if [_net(c) for c in t[0]] == ["Obligation", "Article", "Pénalité"])
        for obligation, article, penalite in tableau[1:]:
            article, penalite = _net(article), _net(penalite)
            assert re.fullmatch(r"\d+(?:\.\d+)*(?: du CCTP)?", article), (nom, obligation, article)
            for montant in re.findall(r"\d[\d ]*,\d\d €(?: HT)?", penalite):
                assert montant.endswith(" HT"), (nom, obligation, penalite)
        # le numéro cité est celui de l'article qui porte l'obligation
        bilan = next(l for l in tableau if _net(l[0]) == "Remise du bilan environnemental")
        assert _net(bilan[1]) == ccap.article("exécution environnementale"), nom


def test_m6_mineur_renvoi_du_cctp_vers_la_penalite_reconnu_par_le_numero_seul():
    """Le contrôle croisé « renvoi vers une pénalité » lit la colonne « Article » du tableau : « 3.1 du CCTP » vise
    l'article du CCTP qui renvoie aux pénalités du CCAP ; un autre numéro laisse le renvoi sans pénalité."""
    from generateur.donnees import yaml_lignes
    from generateur.pieces import croises

    controle = next(c for c in croises._regles(yaml_lignes.lire(RACINE / "catalogue.yaml"), RACINE / "catalogue.yaml")
                    if c.id == "renvoi-penalite-absente")

    def pieces(cellule: str):
        return croises.pieces_d_exemple({
            "CCAP": ["# Article 8 – Pénalités", "| Obligation | Article | Pénalité |",
                     f"| Produits écolabellisés | {cellule} | 300,00 € HT par référence non conforme |"],
            "CCTP": ["# Article 3 – Spécifications environnementales", "## 3.1 – Produits écolabellisés",
                     "Un produit non conforme est remplacé, sans préjudice des pénalités prévues par le CCAP."]})

    assert croises.appliquer(controle, pieces("3.1 du CCTP")) == []
    assert croises.appliquer(controle, pieces("l’article 3.1 du CCTP")) == []
    assert croises.appliquer(controle, pieces("3.2 du CCTP"))
    assert croises.appliquer(controle, pieces("3.1"))  # l'article 3.1 du CCAP n'est pas celui du CCTP


# -- m20 : marché non alloti, « le marché » et jamais « lot » -----------------------------------------------------

def test_m20_mineur_marche_non_alloti_sans_lot_au_ccap_ni_au_cadre_de_memoire(exemples_generes):
    from generateur.droit.regles import preparer
    from generateur.pieces import memoire
    from generateur.pieces.lecture import texte_blocs

    ccap = _piece(exemples_generes["nettoyage-hotel-region"], "-CCAP.docx")
    insertion = _section(ccap, "Action d'insertion professionnelle")
    assert "ne peuvent être reportées sur un autre contrat." in insertion and "autre lot" not in insertion
    tableau = next(t for t in ccap.tableaux if "Heures d'insertion minimales" in [_net(c) for c in t[0]])
    assert [_net(c) for c in tableau[0]] == ["Montant de référence", "Part de main-d'œuvre",
                                             "Heures d'insertion minimales"]
    analyse = preparer(EXEMPLES / "nettoyage-hotel-region.yaml", RACINE)
    cadre = _net(texte_blocs(memoire.blocs_cadre(analyse)[0]))
    assert "pour chaque lot concerné" not in cadre and "lot 1 –" not in cadre
    assert "\nMarché | Heures minimales (CCAP) |" in cadre
    assert "Prestations pour lesquelles le mémoire est remis | Nettoyage des bureaux" in cadre
    # alloti : le lot reste nommé
    analyse = preparer(EXEMPLES / "travaux-lycee.yaml", RACINE)
    cadre = _net(texte_blocs(memoire.blocs_cadre(analyse)[0]))
    assert "fixé par le CCAP pour chaque lot concerné" in cadre and "\nLot | Heures minimales (CCAP) |" in cadre
    assert "autre lot ou un autre contrat" in _net(_piece(exemples_generes["travaux-lycee"], "-CCAP.docx").texte)


# -- m7 : aucune phrase ne s'arrête sur un renvoi sans son point final ---------------------------------------------

def test_m7_mineur_renvois_en_fin_de_phrase_ponctues(exemples_generes):
    """m7 : « …appliquée dans les conditions prévues à l'article 8.1 » sans point ; tout paragraphe (hors titres,
    tableaux et éléments de liste) qui finit sur un renvoi d'article finit par un point."""
    for nom, fichiers in exemples_generes.items():
        for suffixe in ("-RC.docx", "-CCAP.docx", "-CCTP.docx"):
            lu = _piece(fichiers, suffixe)
            fautifs = [t for s, t in lu.paragraphes if not s.lower().startswith(("heading", "list", "toc"))
                       and re.search(r"\barticle\s+\d+(?:\.\d+)*(?: du (?:CCAP|CCTP|RC))?\s*$", _net(t))]
            assert fautifs == [], (nom, suffixe, fautifs)


# -- M14 : perturbateurs endocriniens, champ de l'exigence selon la famille d'achat ---------------------------------

def test_m14_perturbateurs_en_espaces_verts_limites_aux_produits_chimiques_et_fournitures_laissees(exemples_generes):
    """M14 : en espaces verts, l'exigence ne vise plus « tous les produits … fournitures et équipements » (tondeuses,
    EPI, câbles contiennent des plastifiants) mais les produits chimiques utilisés sur les sites et les fournitures
    laissées en place ; le CCTP ne cite plus de matériel ni d'EPI, ni les carburants."""
    fichiers = exemples_generes["amp-espaces-verts"]
    ccap = _section(_piece(fichiers, "-CCAP.docx"), "Exclusion des perturbateurs endocriniens")
    assert "tous les produits fournis" not in ccap and "fournitures et équipements" not in ccap
    assert ("L'exigence s'applique aux produits chimiques que le titulaire utilise sur les sites de l'acheteur, "
            "notamment les huiles de chaîne, lubrifiants") in ccap
    assert "Elle ne s'applique pas aux matériels, outillages, véhicules et équipements de protection individuelle" in ccap
    cctp = _net(_piece(fichiers, "-CCTP.docx").tout)
    for hors_champ in ("visières", "cordons de débroussailleuse", "vêtements de travail", "carburants",
                       "équipements de protection individuelle"):
        assert hors_champ not in cctp, hors_champ
    assert "les produits chimiques que le titulaire utilise sur les sites et les fournitures qu'il y laisse" in cctp
    # les autres familles gardent leur champ (nettoyage : produits d'entretien, consommables, sacs)
    nettoyage = _section(_piece(exemples_generes["nettoyage-hotel-region"], "-CCAP.docx"),
                         "Exclusion des perturbateurs endocriniens")
    assert "L'exigence s'applique à tous les produits fournis à l'acheteur ou utilisés par le titulaire" in nettoyage
    assert "produits d'entretien, de désinfection et d'hygiène, les consommables et les sacs" in nettoyage


# -- M13 : rubriques du cadre des engagements désignées par lot ------------------------------------------------------

def _cadre(fichier: Path) -> str:
    from generateur.droit.regles import preparer
    from generateur.pieces import memoire
    from generateur.pieces.lecture import texte_blocs

    return _net(texte_blocs(memoire.blocs_cadre(preparer(fichier, RACINE))[0]))


def _rubrique(cadre: str, titre: str) -> str:
    debut = re.search(rf"^\d+\.\d+ – {re.escape(titre)}$", cadre, re.M)
    assert debut, titre
    suite = re.search(r"^\d+(?:\.\d+)? – ", cadre[debut.end():], re.M)
    return cadre[debut.end():debut.end() + suite.start()] if suite else cadre[debut.end():]


def test_m13_rubrique_commerce_equitable_reservee_au_lot_qui_livre_ces_produits(exemples_generes):
    """M13 : le commerce équitable ne concerne que le lot 3 (épicerie) de la restauration : la rubrique du cadre et
    la liste des justificatifs du RC le disent ; l'offre n'est irrégulière que faute des rubriques de son lot."""
    cadre = _cadre(EXEMPLES / "restauration-lycees.yaml")
    assert "Cette rubrique ne concerne que le lot n° 3." in _rubrique(cadre, "Commerce équitable")
    assert "Une offre qui ne fournit pas les rubriques du lot auquel elle répond est irrégulière" in cadre
    assert "Une offre qui ne les fournit pas est irrégulière." not in cadre
    rc = _net(_piece(exemples_generes["restauration-lycees"], "-RC.docx").texte)
    assert "commerce équitable (lot n° 3 seulement) : la liste des produits" in rc
    # insertion portée par tous les lots (travaux) : aucune restriction écrite
    cadre = _cadre(EXEMPLES / "travaux-lycee.yaml")
    assert "seulement" not in _rubrique(cadre, "Insertion professionnelle")
    # lot unique : rien à désigner
    assert "Une offre qui ne les fournit pas est irrégulière." in _cadre(EXEMPLES / "nettoyage-hotel-region.yaml")


def test_m13_rubrique_insertion_limitee_aux_lots_qui_portent_la_clause(generer, tmp_path):
    donnees = _exemple("travaux-lycee")
    donnees["lots"][1]["insertion"] = False  # lot 2 sans clause d'insertion
    lus, _ = generer(donnees)
    fichier = next(tmp_path.glob("*.yaml"))
    rubrique = _rubrique(_cadre(fichier), "Insertion professionnelle")
    assert "Cette rubrique ne concerne que les lots n° 1, 3, 4 et 5." in rubrique
    assert "\n2 – " not in rubrique  # le tableau des heures ne liste pas le lot 2
    assert "insertion professionnelle (lots n° 1, 3, 4 et 5 seulement) :" in _net(lus["RC"].texte)
