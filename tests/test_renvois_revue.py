"""Renvois et formulations relevés par la seconde relecture du juriste (RAPPORT2, section 3) : chaque pièce
générée est relue ; un renvoi n'est écrit que si son contenu existe dans le dossier."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from conftest import EXEMPLES, Lu


def _net(texte: str) -> str:
    return texte.replace("\u00a0", " ").replace("\u202f", " ").replace("’", "'")


def _piece(fichiers: dict[str, Path], suffixe: str) -> Lu:
    return Lu(next(p for n, p in fichiers.items() if n.endswith(suffixe)))


def _exemple(nom: str) -> dict:
    return yaml.safe_load((EXEMPLES / f"{nom}.yaml").read_text(encoding="utf-8"))


def test_nn1_controle_qualite_ne_renvoie_aux_frequences_du_cctp_que_si_le_cctp_les_porte(exemples_generes,
                                                                                           exemples_sans_texte_technique):
    """NN1 : sans texte technique, l'article des spécifications du CCTP ne fixe aucune fréquence : le CCAP renvoie
    aux fréquences du mémoire technique, que le cadre de mémoire demande ; avec le texte technique de l'exemple, il
    renvoie à l'article du CCTP qui porte le tableau des fréquences par type de local."""
    texte = _net(_piece(exemples_sans_texte_technique["nettoyage-hotel-region"], "-CCAP.docx").texte)
    assert "fréquences fixées à" not in texte
    assert ("conformes aux prestations et aux fréquences d'intervention, par zone et par type de local, que le "
            "titulaire s'est engagé à respecter dans son offre (mémoire technique)") in texte

    fichiers = exemples_generes["nettoyage-hotel-region"]
    ccap, cctp = _piece(fichiers, "-CCAP.docx"), _piece(fichiers, "-CCTP.docx")
    renvoi = re.search(r"conformes aux prestations et aux fréquences fixées à l'article ([\d.]+) du CCTP\.",
                       _net(ccap.texte))
    assert renvoi, ccap.texte
    numero = renvoi.group(1)
    # l'article cité, sous-articles compris, porte le tableau des fréquences du texte technique du prescripteur
    section = _section(cctp, numero)
    assert "Fréquences d'intervention" in section
    assert "Sanitaires | nettoyage et désinfection des appareils, de la robinetterie et des sols, réapprovisionnement " \
           "des consommables | 2 fois par jour ouvré (matin et début d'après-midi)" in section
    assert "Vitrerie intérieure et extérieure" in section and "trimestrielle" in section
    assert "(mémoire technique)" not in _net(ccap.texte)


def _section(lu: Lu, numero: str) -> str:
    """Texte (paragraphes et lignes de tableaux, dans l'ordre du document) de l'article `numero` de la pièce, ses
    sous-articles compris, jusqu'au titre d'article ou de sous-article suivant qui n'en fait pas partie."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph
    lignes, dedans = [], False
    for el in lu.doc.element.body.iterchildren():
        if el.tag.endswith("}p"):
            p = Paragraph(el, lu.doc)
            texte = _net(p.text)
            style = p.style.name if p.style is not None else ""
            if style in ("Heading 1", "Heading 2", "Heading 3"):
                tete = texte.split(" – ")[0].removeprefix("Article ")
                if tete == numero or tete.startswith(numero + "."):
                    dedans = True
                elif re.fullmatch(r"[\d.]+", tete):
                    dedans = False
            if dedans:
                lignes.append(texte)
        elif el.tag.endswith("}tbl") and dedans:
            lignes += [" | ".join(_net(c.text) for c in r.cells) for r in Table(el, lu.doc).rows]
    return "\n".join(lignes)


def test_rn3_variantes_ne_citent_que_ce_que_les_pieces_fixent(exemples_generes):
    """RN3 : aucune pièce ne fixe de fréquences de livraison ; l'exigence minimale renvoie aux jours et horaires du
    CCAP par son numéro d'article (clause ccap-livraison retenue)."""
    fichiers = exemples_generes["restauration-lycees"]
    rc, ccap = _piece(fichiers, "-RC.docx"), _piece(fichiers, "-CCAP.docx")
    texte = _net(rc.texte)
    assert "fréquences de livraison" not in texte
    numero = ccap.article("Lieux, jours et horaires de livraison")
    assert f"elles respectent les lieux, jours et horaires de livraison fixés à l'article {numero} du CCAP ;" in texte
    # hors fournitures (pas de clause de livraison) : pas de renvoi
    assert "horaires de livraison fixés" not in _net(_piece(exemples_generes["nettoyage-hotel-region"], "-RC.docx").texte)


def test_rn6_produits_equitables_compares_aux_fiches_techniques_sans_texte_technique(exemples_sans_texte_technique):
    """RN6 : le CCTP sans texte technique ne décrit aucun produit : la comparaison se fait avec les fiches techniques
    remises avec l'offre."""
    cctp = _net(_piece(exemples_sans_texte_technique["restauration-lycees"], "-CCTP.docx").texte)
    assert "décrits par le présent CCTP" not in cctp
    assert ("au moins équivalentes à celles des produits conventionnels de même nature que décrivent les fiches "
            "techniques remises avec l'offre ;") in cctp


def test_nn2_negociation_evoquee_seulement_si_la_procedure_l_admet(exemples_generes, generer):
    """NN2 : en appel d'offres (nettoyage, au-delà du seuil européen), aucune négociation ; en procédure adaptée avec
    négociation réservée, le sous-détail sert aussi à la préparer."""
    rc = _net(_piece(exemples_generes["nettoyage-hotel-region"], "-RC.docx").texte)
    assert "aucune négociation n'est possible" in rc
    assert "négociation" not in rc.split("Il sert à la vérification des offres")[1].split("\n")[0]
    donnees = _exemple("nettoyage-hotel-region")
    donnees["lots"][0]["montant_estime"] = 150000
    donnees["negociation"] = True
    lus, _ = generer(donnees)
    texte = _net(lus["RC"].texte)
    assert "L'acheteur se réserve la possibilité de négocier" in texte
    assert "et à l'identification des postes sur lesquels peut porter une éventuelle négociation" in texte


def test_tn1_tableau_des_lots_renvoie_au_texte_technique_importe(exemples_generes):
    """TN1 : un lot dont le texte technique est importé n'est pas décrit par le gabarit « relevant de l'intitulé du
    lot » : le tableau de l'article 1 renvoie au sous-article qui le décrit, numéroté comme son titre."""
    cctp = _piece(exemples_generes["travaux-lycee"], "-CCTP.docx")
    lignes = {l[0]: _net(l[2]) for t in cctp.tableaux if t[0][:3] == ["Lot", "Intitulé", "Description des prestations"]
              for l in t[1:]}
    lot1, lot2, lot3 = cctp.article("Lot 1 – Gros œuvre"), cctp.article("Lot 2 – Isolation"), cctp.article("Lot 3 – Menuiseries")
    lot4, lot5 = cctp.article("Lot 4 – Peinture"), cctp.article("Lot 5 – Chauffage")
    assert len({lot1, lot2, lot3, lot4, lot5}) == 5
    assert lignes["3"] == f"Travaux décrits à l'article {lot3} (code CPV 45421000-4), pour une durée d'exécution de 10 mois."
    assert lignes["4"] == f"Travaux décrits à l'article {lot4} (code CPV 45442100-8), pour une durée d'exécution de 11 mois."
    assert lignes["5"] == f"Travaux décrits à l'article {lot5} (code CPV 45331000-6), pour une durée d'exécution de 16 mois."
    assert lignes["1"].endswith(f"Prescriptions techniques : voir l'article {lot1}.")
    assert lignes["2"].endswith(f"Prescriptions techniques : voir l'article {lot2}.")
    # sans texte technique, rien à quoi renvoyer : test_metier.test_lots_sans_texte_technique_a_verifier_et_decrits_par_leur_intitule
    assert not any("relevant de l'intitulé du lot" in l for l in lignes.values())


def test_tn5_consultation_allotie_de_travaux_delai_global_et_delai_de_chaque_lot(exemples_generes):
    """TN5 : chaque lot est un marché distinct : le RC donne le délai global de l'opération et renvoie, pour le délai
    de chaque lot, à l'article du CCAP qui le fixe ; hors travaux, la durée du contrat reste écrite."""
    fichiers = exemples_generes["travaux-lycee"]
    rc, ccap = _net(_piece(fichiers, "-RC.docx").texte), _piece(fichiers, "-CCAP.docx")
    assert "Durée totale du marché" not in rc
    numero = ccap.article("Délais par lot")
    assert (f"Délai global de l'opération : 18 mois ; chaque lot est un marché distinct, dont le délai d'exécution est "
            f"fixé à l'article {numero} du CCAP.") in rc
    assert "Durée totale de l'accord-cadre" in _net(_piece(exemples_generes["restauration-lycees"], "-RC.docx").texte)


def test_tn7_avance_d_un_lot_de_plus_de_douze_mois_calculee_par_le_ccap(exemples_generes):
    """TN7 : au-delà de douze mois, l'avance ne porte pas sur le montant initial (12/N, R2191-7) : l'AE renvoie au
    calcul du CCAP ; un lot de douze mois au plus garde le montant initial."""
    from conftest import RACINE
    from generateur.droit.regles import preparer
    from generateur.pieces import acte_engagement
    from generateur.pieces.lecture import texte_blocs

    analyse = preparer(EXEMPLES / "travaux-lycee.yaml", RACINE)
    numero = _piece(exemples_generes["travaux-lycee"], "-CCAP.docx").article("Avance")
    lots = {l["numero"]: l for l in analyse.contexte["lots"]}
    assert lots[1]["duree_lot"] > 12 and lots[3]["duree_lot"] <= 12
    lot1 = _net(texte_blocs(acte_engagement.blocs(analyse, lots[1])[0]))
    assert "sur le montant initial" not in lot1
    assert (f"Une avance de 15 %, calculée dans les conditions fixées à l'article {numero} du CCAP, est versée, que le "
            "titulaire soit ou non une petite ou moyenne entreprise.") in lot1
    lot3 = _net(texte_blocs(acte_engagement.blocs(analyse, lots[3])[0]))
    assert "est versée sur le montant initial, dans les conditions fixées à l'article" in lot3


def test_rn12_plafond_des_penalites_sur_une_seule_base(exemples_generes):
    """RN12 : accord-cadre à bons de commande : plafond sur le bon de commande concerné ; marché : sur le contrat ;
    jamais « du contrat ou du bon de commande »."""
    bons = _net(_piece(exemples_generes["restauration-lycees"], "-CCAP.docx").texte)
    marche = _net(_piece(exemples_generes["travaux-lycee"], "-CCAP.docx").texte)
    assert "hors taxes du contrat ou du bon de commande" not in bons
    assert "Le montant total des pénalités de retard est plafonné à 10 % du montant total hors taxes du bon de " \
           "commande concerné." in bons
    assert "Le montant total des pénalités de retard est plafonné à 10 % du montant total hors taxes du contrat." in marche


def test_nc3_titre_de_rubrique_sans_double_parenthese(exemples_generes):
    """NC3 : un intitulé de critère qui finit par une précision entre parenthèses garde la précision après un tiret
    dans le titre de sa rubrique ; le cadre reste concordant avec le RC (relu titre par titre)."""
    from conftest import RACINE
    from generateur.droit.regles import preparer
    from generateur.pieces import memoire
    from generateur.pieces.blocs import Titre

    analyse = preparer(EXEMPLES / "restauration-lycees.yaml", RACINE)
    blocs, _ = memoire.blocs_cadre(analyse)
    titres = [_net(b.texte) for b in blocs if isinstance(b, Titre)]
    assert any(t.endswith("– Performance environnementale – saisonnalité, emballages, transport (20 %)")
               for t in titres), titres
    assert not any(") (" in t for t in titres), titres
    assert memoire.ecarts_avec_rc(analyse) == []
    # l'intitulé publié par le RC reste celui de l'acheteur
    rc = _net(_piece(exemples_generes["restauration-lycees"], "-RC.docx").texte)
    assert "Performance environnementale (saisonnalité, emballages, transport)" in rc


def test_nc2_recapitulatif_des_derogations_nomme_les_penalites_retenues(exemples_generes):
    """NC2 : la ligne du récapitulatif des dérogations nomme les pénalités que l'article retient pour ce dossier :
    livraisons pour des denrées, prestations non exécutées et contrôles de la qualité en nettoyage, prestations non
    exécutées seules en espaces verts."""
    attendus = {
        "restauration-lycees": "Pénalités de livraison tardive ou incomplète et de produit refusé non remplacé :",
        "nettoyage-hotel-region": "Pénalités pour prestations non exécutées et contrôles de la qualité non conformes :",
        "amp-espaces-verts": "Pénalités pour prestations prévues et non exécutées :",
    }
    for nom, debut in attendus.items():
        ccap = _piece(exemples_generes[nom], "-CCAP.docx")
        numero = ccap.article("Pénalités d'exécution".replace("'", "’"))
        lignes = [[_net(c) for c in l] for t in ccap.tableaux for l in t if len(l) == 3 and "plafond propre" in l[2]]
        assert [l[2].split(" montants")[0] for l in lignes if l[0] == numero] == [debut], (nom, lignes)


def test_nn6_cadre_cite_le_ccap_qui_fixe_l_exigence_et_le_cctp_qui_la_detaille(exemples_generes):
    """NN6 : l'exclusion des perturbateurs endocriniens est une condition d'exécution du CCAP, détaillée au CCTP :
    la rubrique du cadre de mémoire cite les deux articles, numérotés comme dans les pièces."""
    from conftest import RACINE
    from generateur.droit.regles import preparer
    from generateur.pieces import memoire
    from generateur.pieces.lecture import texte_blocs

    fichiers = exemples_generes["nettoyage-hotel-region"]
    ccap, cctp = _piece(fichiers, "-CCAP.docx"), _piece(fichiers, "-CCTP.docx")
    analyse = preparer(EXEMPLES / "nettoyage-hotel-region.yaml", RACINE)
    texte = _net(texte_blocs(memoire.blocs_cadre(analyse)[0]))
    a_ccap, a_cctp = ccap.article("Perturbateurs endocriniens"), cctp.article("Perturbateurs endocriniens")
    assert (f"Substances préoccupantes et perturbateurs endocriniens\nExigence fixée par l'article {a_ccap} du CCAP et "
            f"l'article {a_cctp} du CCTP.") in texte


def test_nn1_relecture_voit_le_renvoi_numerote_vers_un_article_sans_les_frequences(tmp_path):
    """NN1 en données (catalogue.yaml, relecture, renvoi-article-sans-le-contenu) : la phrase d'avant la correction,
    injectée dans le CCAP du nettoyage réel, est vue — l'article 2 du CCTP ne fixe aucune fréquence ; le même renvoi
    vers un CCTP dont l'article 2 fixe des fréquences ne l'est plus."""
    from conftest import RACINE, sans_texte_technique
    from generateur.droit.regles import preparer
    from generateur.pieces import relecture
    from generateur.pieces.assemblage import blocs_document
    from generateur.pieces.blocs import Paragraphe, Segment

    # l'exemple sans son texte technique : l'article des spécifications n'y fixe aucune fréquence
    analyse = preparer(sans_texte_technique("nettoyage-hotel-region", tmp_path), RACINE)
    blocs = {nom: blocs_document(analyse, nom)[0] for nom in ("RC", "CCAP", "CCTP")}
    numero = next(b.texte.split(" – ")[0].removeprefix("Article ") for b in blocs["CCTP"]
                  if getattr(b, "niveau", 0) == 1 and "Spécifications techniques" in b.texte)
    phrase = (f"Chaque élément reçoit la part de son poids qui correspond à la proportion des points contrôlés conformes "
              f"aux prestations et aux fréquences fixées à l'article {numero} du CCTP.")

    def defauts(cctp):
        pieces = {"RC": blocs["RC"], "CCAP": blocs["CCAP"] + [Paragraphe([Segment(phrase)])], "CCTP": cctp}
        return [d for d in relecture.relire(analyse.catalogue, {n: relecture.piece(n, b) for n, b in pieces.items()})
                if d.regle == "renvoi-article-sans-le-contenu"]

    assert not [d for d in relecture.relire(analyse.catalogue, {n: relecture.piece(n, b) for n, b in blocs.items()})
                if d.regle == "renvoi-article-sans-le-contenu"]
    vus = defauts(blocs["CCTP"])
    assert [(d.piece, d.detail) for d in vus] == [("CCAP", f"l'article {numero} du CCTP ne traite pas de ce point")]
    rang = next(i for i, b in enumerate(blocs["CCTP"]) if getattr(b, "niveau", 0) == 1 and "Spécifications" in b.texte)
    avec = blocs["CCTP"][:rang + 1] + [Paragraphe([Segment("Bureaux : nettoyage quotidien.")])] + blocs["CCTP"][rang + 1:]
    assert defauts(avec) == []


def test_nn1_cadre_de_memoire_demande_le_planning_des_frequences_du_cctp_quand_il_les_fixe(tmp_path):
    """Le cadre de mémoire du nettoyage demande au candidat ses fréquences quand le CCTP n'en fixe pas (exemple sans
    texte technique), et son planning qui respecte les fréquences du CCTP quand le texte technique les fixe."""
    from conftest import RACINE, sans_texte_technique
    from generateur.droit.regles import preparer
    from generateur.pieces import memoire
    from generateur.pieces.lecture import texte_blocs

    def attendu(fichier: Path) -> str:
        cadre = _net(texte_blocs(memoire.blocs_cadre(preparer(fichier, RACINE))[0]))
        return next(l for l in cadre.split("\n") if l.startswith("l'organisation des prestations par zone"))

    assert attendu(EXEMPLES / "nettoyage-hotel-region.yaml") == (
        "l'organisation des prestations par zone et par type de local : planning qui respecte les fréquences "
        "d'intervention fixées par le CCTP, horaires d'intervention, prestations périodiques ;")
    assert attendu(sans_texte_technique("nettoyage-hotel-region", tmp_path)) == (
        "l'organisation des prestations par zone et par type de local : fréquences, horaires d'intervention, "
        "prestations périodiques ;")
