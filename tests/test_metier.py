"""Contenu métier (issue 15) : chaque clause à sa place, articles propres à chaque famille d'achat.

On prépare des consultations de toutes les familles du questionnaire et de toutes les natures, on assemble leurs
pièces et on relit le texte : aucune clause hors de son champ d'application, ni aucune phrase propre à une autre
famille. Les exemples de restauration, de nettoyage et d'espaces verts portent leurs articles sectoriels, avec les
valeurs tirées des réponses.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from conftest import RACINE, Lu, ecrire, reponses
from test_contenu import racine_avec_copie
from generateur.donnees import questionnaire
from generateur.droit.regles import preparer
from generateur.interfaces.cli import main
from generateur.pieces import acte_engagement
from generateur.pieces.assemblage import blocs_document
from generateur.pieces.blocs import Tableau
from generateur.pieces.lecture import texte_blocs
from generateur.pieces.memoire import blocs_cadre

Q = questionnaire.charger(RACINE / "questionnaire.yaml")
FAMILLES = sorted(Q.question("categorie").choix)
NATURES = sorted(Q.question("nature").choix)
CPV = {"travaux": "45210000-2", "fournitures": "30192000-1", "services": "90910000-9"}
# Tout ce que l'acheteur peut activer : le plus de clauses possible, pour que le test voie chacune.
SPASER = {"plastique_usage_unique": True, "perturbateurs_endocriniens": True, "insertion": {"actif": False},
          "ecolabels": {"actif": True, "familles": ["produits_nettoyage", "papier"]}}

# Phrases propres à un champ : (motif, pièce où le chercher, natures admises, familles admises ; None : toutes,
# exigée : la phrase doit y être quand la consultation est dans le champ).
PROPRES = [
    (r"inox", "CCAP", {"services"}, {"restauration_collective"}, False),
    (r"eau plate en bouteille", None, {"services"}, {"restauration_collective"}, False),
    (r"d.entretien et de désinfection des cuisines", None, {"services"}, {"restauration_collective"}, False),
    (r"Chaîne du froid", "CCAP", {"fournitures"}, {"restauration_collective"}, True),
    (r"entreprises de propreté", "CCAP", {"services"}, {"nettoyage"}, True),
    (r"Contrôle contradictoire de la qualité", "CCAP", {"services"}, {"nettoyage"}, True),
    (r"phytopharmaceutiques", "CCTP", {"services", "travaux"}, {"espaces_verts"}, True),
    (r"nidification", "CCAP", {"services"}, {"espaces_verts"}, True),
    (r"Ajournement", "CCAP", {"fournitures"}, None, True),
    (r"parfait achèvement", "CCAP", {"travaux"}, None, True),
    (r"insertion professionnelle ne reçoit", "CCAP", set(), None, False),  # insertion désactivée : jamais
]

DENREES = {("fournitures", "restauration_collective")}
HORS_TRAVAUX = {(n, f) for n in NATURES if n != "travaux" for f in FAMILLES}
# Phrases interdites dans certains couples (nature, famille) : clauses ou passages conçus pour un autre achat
# (relecture du juriste, issue 15 : R4, R11, R18, N5, C8, C9). (motif, pièce ou None, couples interdits).
EXCLUES = [
    (r"données de sécurité", None, DENREES),  # R4 : pas de produits chimiques chez un fournisseur de denrées
    (r"[Pp]arabènes", None, DENREES),
    (r"retardateurs de flamme|mobilier rembourré", None,
     {(n, f) for n in NATURES if n != "travaux" for f in FAMILLES if f not in ("mobilier", "informatique", "textile")}),
    (r"notice d.utilisation et d.entretien", "CCTP", DENREES),
    (r"fin de vie relevant d.une filière", "CCAP", {(n, "restauration_collective") for n in NATURES}),  # R11
    (r"gobelets|pailles", "CCAP", DENREES | {(n, "nettoyage") for n in NATURES}),  # R18, N5
    (r"métaux lourds", "CCTP", {(n, "nettoyage") for n in NATURES}),  # N5
    (r"brûlage", "CCAP", HORS_TRAVAUX),  # C9 : manquements de chantier
    (r"suremballage, refus de reprendre", "CCAP", {(n, f) for n in NATURES if n != "fournitures" for f in FAMILLES}),
    (r"Journal officiel", "CCAP", HORS_TRAVAUX),  # C8 : index BT et TP
    (r"contenants de cuisson, de réchauffe et de service", "CCTP", DENREES),  # R18 : renvoi vers une règle absente
]


def _analyse(tmp_path: Path, **modifs):
    return preparer(ecrire(tmp_path, reponses(**modifs)), RACINE)


@pytest.mark.parametrize("nature", NATURES)
def test_aucune_clause_hors_de_son_champ(tmp_path, nature):
    """Toutes les familles du questionnaire × cette nature : chaque clause retenue est dans son champ déclaré, chaque
    clause hors champ est écartée même si sa condition est vraie, et le texte des pièces ne contient aucune phrase
    propre à une autre famille ou à une autre nature."""
    vues = set()
    for famille in FAMILLES:
        donnees = dict(nature=nature, categorie=famille, cpv=CPV[nature], spaser=SPASER)
        if famille == "nettoyage":
            donnees |= {"reprise_personnel": True, "pieces_acheteur": [
                {"titre": "Personnel en place", "fichier": "personnel.csv", "nature": "liste_personnel"}]}
        analyse = _analyse(tmp_path, **donnees)
        for s in analyse.selections:
            assert s.clause.champ is not None, s.clause.id
            if s.retenue:
                assert s.clause.s_applique(nature, famille), (s.clause.id, nature, famille)
            elif not s.clause.s_applique(nature, famille):
                vues.add(s.clause.id)
        textes = {piece: texte_blocs(blocs_document(analyse, piece)[0]) for piece in ("RC", "CCAP", "CCTP")}
        for motif, seule, natures, familles, exigee in PROPRES:
            permis = (natures is None or nature in natures) and (familles is None or famille in familles)
            for piece, texte in textes.items():
                if seule in (None, piece) and re.search(motif, texte):
                    assert permis, (motif, piece, nature, famille)
            if permis and exigee:
                assert re.search(motif, textes[seule]), (motif, seule, nature, famille)
        for motif, seule, interdits in EXCLUES:
            for piece, texte in textes.items():
                if seule in (None, piece) and (nature, famille) in interdits:
                    assert not re.search(motif, texte), (motif, piece, nature, famille)
    # des clauses ont bien été écartées par leur champ (et pas seulement par leur condition)
    assert vues


def _clause(racine: Path, champ: str) -> Path:
    fichier = racine / "clauses" / "ccap" / "ccap-essai-champ.md"
    fichier.write_text(f"""---
id: ccap-essai-champ
version: 1
en_vigueur: {{du: 2019-04-01}}
titre: "Essai de champ"
document: CCAP
article: objet
ordre: 99
references: ["CCP L2112-2"]
statut_juridique: verifie
condition: "true"
quand: "toujours"
portee: consultation
{champ}variables: []
decp: []
---
Clause propre au nettoyage.
""", encoding="utf-8")
    return fichier


def _champs_refuses_puis_accepte(racine: Path, refuses: tuple[tuple[str, str], ...], accepte: str) -> None:
    """`dce catalogue verifier` refuse chaque champ de `refuses` avec son message, puis accepte `accepte`."""
    for champ, message in refuses:
        _clause(racine, champ)
        resultat = CliRunner().invoke(main, ["--catalogue", str(racine), "catalogue", "verifier"])
        assert resultat.exit_code == 2, resultat.output
        assert "ccap-essai-champ.md" in resultat.output and message in resultat.output, resultat.output
    _clause(racine, accepte)
    resultat = CliRunner().invoke(main, ["--catalogue", str(racine), "catalogue", "verifier"])
    assert resultat.exit_code == 0, resultat.output


def test_verification_exige_le_champ_d_application(tmp_path):
    racine = racine_avec_copie(tmp_path, "clauses")
    _champs_refuses_puis_accepte(racine, (
        ("", "champ d'application manquant"),
        ("s_applique_a: {familles: [propreté]}\n", "famille « propreté » inconnue du questionnaire"),
        ("s_applique_a: {natures: [travaux], lots: [1]}\n", "champ d'application : « toutes »")),
        "s_applique_a: {natures: [services], familles: [nettoyage]}\n")
    # condition toujours vraie, mais hors champ : jamais appliquée
    fournitures = preparer(ecrire(tmp_path, reponses()), racine)
    assert not fournitures.selection("ccap-essai-champ").retenue
    nettoyage = preparer(ecrire(tmp_path, reponses(nature="services", categorie="nettoyage", cpv="90910000-9")), racine)
    assert nettoyage.selection("ccap-essai-champ").retenue
    assert "Clause propre au nettoyage." in texte_blocs(blocs_document(nettoyage, "CCAP")[0])


def _piece(fichiers: dict[str, Path], suffixe: str) -> Lu:
    return Lu(next(p for n, p in fichiers.items() if n.endswith(suffixe)))


def test_ccap_de_denrees(exemples_generes):
    ccap = _piece(exemples_generes["restauration-lycees"], "-CCAP.docx")
    texte = ccap.texte.replace("\u00a0", " ").replace("\u202f", " ")
    for absent in ("inox", "bouteille", "désinfection des cuisines", "action d’insertion"):
        assert absent not in texte, absent
    assert ccap.article("Lieux, jours et horaires de livraison") == "4.1"
    assert ("aux adresses figurant dans la pièce « Liste des lycées et des cuisines de livraison (adresses, accès, "
            "créneaux de déchargement) » jointe au dossier de consultation") in texte
    assert ("Les livraisons ont lieu du lundi au vendredi, hors jours fériés et périodes de fermeture des lycées, "
            "dans le créneau de déchargement de chaque cuisine indiqué dans la liste des lycées jointe au dossier "
            "(entre 6 h 30 et 8 h 30) ; les denrées sont livrées au plus tard à 8 h 30") in texte
    assert "11 h" not in texte  # une seule règle de livraison : celle de la liste des lycées
    for titre in ("Agrément sanitaire et traçabilité", "Chaîne du froid", "Durée de vie résiduelle",
                  "Livraisons du matin", "Admission", "Ajournement", "Réfaction", "Rejet"):
        assert titre in ccap.titres(3) or titre in texte, titre
    assert "une livraison arrivée après 8 h 30, ou incomplète" in texte
    assert ccap.article("Constatation de l’exécution") == "9"
    penalites = ccap.article("Pénalités d’exécution des prestations")
    assert f"la pénalité prévue à l’article {penalites}" in texte
    lignes = [l for t in ccap.tableaux for l in t if l[0].startswith("Livraison arrivée après l’heure limite")]
    assert lignes and lignes[0][1] == "150,00\u00a0€ HT par livraison", lignes
    # accord-cadre à bons de commande : plafond par année d'exécution (revue 3, M3)
    assert ("Le montant total de ces pénalités est plafonné, pour chaque année d'exécution, à 10 % du montant hors "
            "taxes des bons de commande exécutés au cours de cette année") in texte.replace("’", "'")


def test_nettoyage_reprise_du_personnel_et_controle_de_la_qualite(exemples_generes):
    fichiers = exemples_generes["nettoyage-hotel-region"]
    ccap, rc = _piece(fichiers, "-CCAP.docx"), _piece(fichiers, "-RC.docx")
    ccap_texte, rc_texte = (t.texte.replace("\u00a0", " ").replace("\u202f", " ") for t in (ccap, rc))
    titre_piece = "la pièce « Liste anonymisée du personnel affecté au marché en cours et masse salariale »"
    assert ccap.article("Reprise du personnel") == "4.1"
    assert ("Lorsqu’il relève de la convention collective nationale des entreprises de propreté et services associés "
            "du 26 juillet 2011, le titulaire applique son article 7") in ccap_texte
    # l'acheteur informe tous les candidats ; il n'impose pas la convention à qui n'en relève pas (CE n° 340773)
    assert "qu’ils relèvent ou non de cette convention" in rc_texte and "soit ou non lié" not in rc_texte
    assert f"figure dans {titre_piece} jointe au dossier de consultation" in ccap_texte
    assert f"annexée au présent règlement : c’est {titre_piece}" in rc_texte
    assert rc.article("Reprise du personnel en place")
    assert "Un contrôle dont la note est inférieure à 80 sur 100 est non conforme" in ccap_texte
    lignes = {l[0]: l[1] for t in ccap.tableaux for l in t if len(l) == 2}
    assert lignes["Prestation prévue et non exécutée, constatée par l’acheteur ou lors d’un contrôle contradictoire"] \
        == "100,00\u00a0€ HT par prestation non exécutée, la prestation n’étant pas payée (valeur déduite fixée ci-après)"


def test_reprise_du_personnel_sans_liste_arrete_la_generation(tmp_path):
    donnees = reponses(nature="services", categorie="nettoyage", cpv="90910000-9", reprise_personnel=True)
    resultat = CliRunner().invoke(main, ["generer", str(ecrire(tmp_path, donnees)), "-o", str(tmp_path / "sortie")])
    assert resultat.exit_code == 2, resultat.output
    assert "Reprise du personnel" in resultat.output
    assert "joindre au dossier la pièce « Liste du personnel affecté au marché en cours" in resultat.output
    assert not (tmp_path / "sortie").exists()


def test_espaces_verts_interdiction_ecrite_comme_obligation(exemples_generes):
    fichiers = exemples_generes["amp-espaces-verts"]
    cctp, ccap, rc = (_piece(fichiers, f"-{p}.docx") for p in ("CCTP", "CCAP", "RC"))
    assert cctp.article("Interdiction des produits phytopharmaceutiques")
    assert "l’acheteur ne peut ni utiliser ni faire utiliser de produits phytopharmaceutiques" in cctp.texte
    assert "elle n’est pas un élément d’appréciation des offres" in cctp.texte
    # jamais noté : ni dans les critères, ni dans les éléments d'appréciation du RC
    assert "phyto" not in rc.tout.lower()
    assert ccap.article("Périodes et horaires d’intervention") == "4.1"
    assert ("Les périodes propres aux sites du marché sont les suivantes : tontes différenciées d’avril à octobre ; "
            "fauche tardive des prairies après le 15 juillet ; de juin à août, interventions de 6 h à 13 h.") \
        in ccap.texte.replace("\u00a0", " ")


def _tableaux_des_elements(analyse, premier: str) -> list[list[str]]:
    """Les tableaux « éléments d'appréciation et poids » d'un critère, au RC puis au cadre de mémoire, reconnus par
    leur premier élément ; chaque tableau en lignes de texte."""
    rc = blocs_document(analyse, "RC")[0]
    cadre = blocs_cadre(analyse)[0]
    return [[texte_blocs([Tableau([l], False)]) for l in b.lignes] for blocs in (rc, cadre) for b in blocs
            if isinstance(b, Tableau) and "Poids dans la note du critère" in texte_blocs([b])
            and premier in texte_blocs([b])]


@pytest.mark.parametrize("famille, premier", [("espaces_verts", "Méthodes de gestion différenciée"),
                                               ("nettoyage", "Produits de nettoyage"),
                                               ("restauration_collective", "Modes de production")])
def test_elements_du_critere_environnemental_identiques_dans_le_rc_et_le_cadre(tmp_path, famille, premier):
    analyse = _analyse(tmp_path, nature="services", categorie=famille, cpv="90910000-9")
    tableaux = _tableaux_des_elements(analyse, premier)
    assert len(tableaux) == 2 and tableaux[0] == tableaux[1], tableaux
    poids = [int(re.search(r"(\d+)\s?%", l).group(1)) for l in tableaux[0][1:]]
    assert sum(poids) == 100 and len(poids) >= 2


@pytest.mark.parametrize("exemple, premier", [("restauration-lycees", "Engagements envers les producteurs"),
                                               ("nettoyage-hotel-region", "Insertion professionnelle")])
def test_elements_du_critere_social_identiques_dans_le_rc_et_le_cadre(exemple, premier):
    """RN2 : le RC et le cadre de mémoire décrivent le critère social par une seule liste (paramètre
    critere_social_elements), reprise à l'identique avec ses poids : plus 4 éléments d'un côté et 3 de l'autre."""
    analyse = _exemple(exemple)
    rc = blocs_document(analyse, "RC")[0]
    tableaux = _tableaux_des_elements(analyse, premier)
    assert len(tableaux) == 2 and tableaux[0] == tableaux[1], tableaux
    poids = [int(re.search(r"(\d+)\s?%", l).group(1)) for l in tableaux[0][1:]]
    assert sum(poids) == 100 and len(poids) == 3
    texte_rc = _net(texte_blocs(rc))
    if exemple == "restauration-lycees":  # le critère annonce les producteurs et l'insertion : rien d'autre
        assert "égalité professionnelle entre les femmes" not in texte_rc.split("partie sociale du cadre")[1][:2000]
        assert "Insertion professionnelle" in tableaux[0][3]


def test_critere_environnemental_des_espaces_verts_propre_a_la_tonte_et_a_la_taille(exemples_generes):
    """AN1 : les éléments notés par le critère environnemental de l'exemple d'espaces verts (lots de tonte et fauche,
    de taille et élagage) relèvent de ces prestations : ni arrosage, ni choix des végétaux (hors objet), ni
    « essences locales » (critère de provenance)."""
    from docx import Document

    fichier = next(p for n, p in exemples_generes["amp-espaces-verts"].items() if n.endswith("-RC.docx"))
    rc = " ".join(c.text for t in Document(fichier).tables
                  for l in t.rows for c in l.cells)
    assert "réduction du nombre de passages, relèvement des hauteurs de coupe" in rc
    assert "zones refuges" in rc and "taille douce, conservation des bois morts et des cavités" in rc
    # revue 3, M10 : un seul élément pour la méthode, propre aux prestations de chaque lot (un candidat au lot de
    # taille n'a pas 35 % de la note sur la tonte) ; la nidification, obligation légale, n'est pas notée
    assert "Méthodes de gestion différenciée propres aux prestations du lot" in rc
    assert "nidification" not in rc
    for hors_objet in ("arrosage", "choix des végétaux", "essences locales"):
        assert hors_objet not in rc.lower()


def test_viandes_et_produits_de_la_peche_selon_les_lots(tmp_path):
    """RN5 : la part de 60 %, les stocks non surexploités et l'écolabel « pêche durable » ne visent que les familles
    de produits que livrent les lots (intitulé, code CPV) : l'exemple de restauration n'a que des viandes (lot 4) ;
    un lot de poissons fait apparaître les produits de la pêche."""
    from conftest import copier_exemple
    from docx import Document

    def pieces(fichier: Path, sortie: Path) -> dict[str, str]:
        assert CliRunner().invoke(main, ["generer", str(fichier), "--sortie", str(sortie)]).exit_code == 0
        return {nom: _net(" ".join(p.text for p in Document(next(sortie.glob(f"*-{nom}.docx"))).paragraphs))
                for nom in ("CCAP", "CCTP")}

    exemple = RACINE / "exemples" / "restauration-lycees.yaml"
    lus = pieces(exemple, tmp_path / "viandes")
    cadre = _net(texte_blocs(blocs_cadre(preparer(exemple, RACINE))[0]))
    assert "au moins 60 % de la valeur hors taxes des viandes livrées au titre du lot n° 4" in lus["CCAP"]
    assert "écolabel « pêche durable »" not in lus["CCAP"]
    assert "surexploités" not in lus["CCTP"] and "bien-être animal" in lus["CCTP"]
    assert "60 % en valeur des viandes)" in cadre and "produits de la pêche" not in cadre
    # un lot de poissons : la part porte aussi sur les produits de la pêche, de ce lot
    copie = copier_exemple(exemple, tmp_path / "poissons" / "reponses.yaml")
    donnees = yaml.safe_load(copie.read_text(encoding="utf-8"))
    donnees["lots"][1].update(intitule="Poissons et produits de la mer surgelés", cpv="03311000-2")
    copie.write_text(yaml.safe_dump(donnees, allow_unicode=True), encoding="utf-8")
    lus = pieces(copie, tmp_path / "poissons" / "sortie")
    assert ("au moins 60 % de la valeur hors taxes des viandes et des produits de la pêche livrés au titre des lots "
            "n° 2 et 4") in lus["CCAP"]
    assert "stocks qui ne sont pas surexploités" in lus["CCTP"]


def test_perturbateurs_des_espaces_verts_propres_aux_produits_utilises(exemples_generes):
    """AN3 : en espaces verts, le tableau des perturbateurs endocriniens et la liste des autres substances nomment les
    produits réellement utilisés (huiles de chaîne, lubrifiants, équipements de protection), pas les contenants
    alimentaires, papiers thermiques, revêtements de sol ou peintures d'un gabarit générique."""
    from docx import Document

    fichier = next(p for n, p in exemples_generes["amp-espaces-verts"].items() if n.endswith("-CCTP.docx"))
    document = Document(fichier)
    texte = _net(" ".join([p.text for p in document.paragraphs]
                          + [c.text for t in document.tables for l in t.rows for c in l.cells]))
    assert "huiles de chaîne" in texte and "Perturbateurs endocriniens" in texte
    for hors_objet in ("contenants et emballages alimentaires", "papiers thermiques", "revêtements de sol",
                       "fournitures de bureau", "revêtements antiadhésifs", "peintures, vernis, colles et encres"):
        assert hors_objet not in texte, hors_objet


def _texte_piece(fichiers: dict[str, Path], suffixe: str) -> str:
    from docx import Document

    document = Document(next(p for n, p in fichiers.items() if n.endswith(suffixe)))
    return _net(" ".join([p.text for p in document.paragraphs]
                         + [c.text for t in document.tables for l in t.rows for c in l.cells]))


def test_gabarits_de_fournitures_absents_des_denrees_et_du_nettoyage(exemples_generes):
    """RN7, RN8, NN7 : chaque famille n'a que ce qui la concerne (paramètres mentions_hors_famille et
    bilan_environnemental_famille). Denrées : ni produits neufs ou reconditionnés ni marquage de conformité, ni
    indicateur de réemploi, ni déchets par flux, ni énergie, réparabilité ou arrêt de fabrication d'un matériel ;
    nettoyage : le bilan porte sur les consommations de produits et les déplacements, pas sur les déchets par flux.
    Les fournitures de bureau d'un autre exemple gardent ces mentions (travaux : déchets par flux)."""
    denrees = exemples_generes["restauration-lycees"]
    cctp, ccap = _texte_piece(denrees, "-CCTP.docx"), _texte_piece(denrees, "-CCAP.docx")
    for hors_objet in ("sont neufs", "reconditionnés", "marquage de conformité", "biens issus du réemploi",
                       "déchets par flux"):
        assert hors_objet not in cctp, hors_objet
    for hors_objet in ("consommation d'énergie", "réparabilité", "arrêt de fabrication", "déchets produits, par flux"):
        assert hors_objet not in ccap.replace("’", "'"), hors_objet
    assert "apparition d'une référence de meilleure qualité nutritionnelle ou environnementale" in ccap.replace("’", "'")
    assert "Emballages, livraisons et déplacements" in cctp
    nettoyage = exemples_generes["nettoyage-hotel-region"]
    ccap = _texte_piece(nettoyage, "-CCAP.docx").replace("’", "'")
    bilan = ccap.split("Bilan environnemental")[1][:1500]
    assert "consommations de produits de nettoyage (en litres), de consommables et d'eau" in bilan
    assert "déplacements du personnel affecté au marché" in bilan
    assert "par flux" not in bilan and "nombre de livraisons ou de rotations" not in bilan
    assert "déchets par flux" not in _texte_piece(nettoyage, "-CCTP.docx")
    travaux = _texte_piece(exemples_generes["travaux-lycee"], "-CCAP.docx")
    assert "quantités de déchets produits, par flux" in travaux


def test_heures_par_zone_quand_un_seul_lieu(tmp_path):
    """NN5 : le cadre de mémoire du nettoyage d'un seul bâtiment (Hôtel de Région) demande le volume d'heures de
    chaque zone, non de « chaque site » ; sans lieu unique indiqué, il le demande par site."""
    nettoyage = _net(texte_blocs(blocs_cadre(_exemple("nettoyage-hotel-region"))[0])).replace("’", "'")
    assert "le volume d'heures affecté à chaque zone" in nettoyage and "chaque site" not in nettoyage
    plusieurs = _net(texte_blocs(blocs_cadre(_analyse(tmp_path, nature="services", categorie="nettoyage",
                                                      cpv="90910000-9", lieu_execution="",
                                                      criteres=[{"intitule": "Prix", "ponderation": 60, "type": "prix"},
                                                                {"intitule": "Valeur technique", "ponderation": 40,
                                                                 "type": "technique"}]))[0])).replace("’", "'")
    assert "le volume d'heures affecté à chaque site" in plusieurs


def test_penalite_au_dela_du_plafond_refusee(tmp_path):
    donnees = reponses(penalites_execution={"livraison_tardive": 2000})
    resultat = CliRunner().invoke(main, ["generer", str(ecrire(tmp_path, donnees)), "-o", str(tmp_path / "sortie")])
    assert resultat.exit_code == 2, resultat.output
    assert "Pénalité pour une livraison tardive ou incomplète de 2" in resultat.output
    assert "plafond de 600,00" in resultat.output.replace("\u202f", " ").replace("\u00a0", " ")
    assert not (tmp_path / "sortie").exists()


def test_exemples_declarent_leurs_pieces_jointes():
    """Les pièces que les clauses citent existent à côté des exemples (chemins relatifs)."""
    for nom in ("restauration-lycees", "nettoyage-hotel-region"):
        donnees = yaml.safe_load((RACINE / "exemples" / f"{nom}.yaml").read_text(encoding="utf-8"))
        for p in donnees["pieces_acheteur"]:
            assert (RACINE / "exemples" / p["fichier"]).is_file(), p


def test_prix_fermes_de_travaux_actualisables_avec_l_index_du_corps_d_etat(tmp_path):
    donnees = yaml.safe_load((RACINE / "exemples" / "travaux-lycee.yaml").read_text(encoding="utf-8"))
    donnees["prix"] = {**(donnees.get("prix") or {}), "variation": "ferme"}
    analyse = preparer(ecrire(tmp_path, donnees), RACINE)
    assert analyse.selection("ccap-actualisation").retenue and not analyse.selection("ccap-revision").retenue
    ccap = blocs_document(analyse, "CCAP")[0]
    texte = texte_blocs(ccap)
    assert "P = P0 × (Id-3 / I0)" in texte
    tableau = next(b for b in ccap if isinstance(b, Tableau) and "Index de référence" in texte_blocs([b]))
    lignes = [texte_blocs([Tableau([l], False)]) for l in tableau.lignes[1:]]
    lot2 = next(l for l in lignes if "Isolation thermique" in l)
    assert "index BT52 « Imperméabilité de façades »" in lot2.replace("\u00a0", " ")
    assert any("50 % × index BT03" in l.replace("\u00a0", " ") and "+ 50 % × index BT06" in l.replace("\u00a0", " ")
               for l in lignes), lignes
    assert "Id-3 / I0 = Σ part × (Index d-3 / Index 0)" in texte


# --- Le CCTP du prescripteur --------------------------------------------------------------------------------------


def test_cctp_assemble_le_texte_technique_importe_dans_le_style_des_clauses(exemples_generes):
    """L'exemple de travaux importe des textes Markdown (lots 1, 2, 4 et 5) et un document Word (lot 3) : titres,
    tableaux et listes gardent leur nature et prennent les styles des clauses du catalogue ; les chapitres
    environnementaux suivent."""
    cctp = _piece(exemples_generes["travaux-lycee"], "-CCTP.docx")
    assert "Cahier des clauses techniques particulières" in cctp.texte
    assert "Exigences environnementales et sociales" not in cctp.texte
    # 2.1 : conformité ; 2.2 : retrait de l'amiante (clause du catalogue) ; puis le texte importé de chaque lot, dans
    # l'ordre des lots
    assert [cctp.article(f"Lot {n} – {intitule}\u00a0: prescriptions techniques") for n, intitule in (
        (1, "Gros œuvre et démolition"), (2, "Isolation thermique par l’extérieur et façades"),
        (3, "Menuiseries extérieures"), (4, "Peinture et revêtements de sols"),
        (5, "Chauffage, ventilation et plomberie"))] == ["2.3", "2.4", "2.5", "2.6", "2.7"]
    assert cctp.article("Spécifications environnementales") == "3"
    styles = dict((t, s) for s, t in cctp.paragraphes)
    # titres de premier rang du prescripteur (Markdown « # », Word « Titre 1 ») au niveau des intertitres des
    # clauses ; les titres de second rang (« ## », « Titre 2 ») un niveau en dessous
    for titre in ("Description des ouvrages", "Dépose et évacuation", "Conformité aux normes et à la réglementation"):
        assert styles[titre] == "Heading 3", titre
    for titre in ("Trémie et cage d’ascenseur", "Performances exigées", "Fenêtres bois-aluminium"):
        assert styles[titre] == "Heading 4", titre
    essai = next(t for t in styles if t.startswith("Essais d’écrasement des bétons"))
    assert styles[essai] == "List Number"
    puce = next(t for t in styles if t.startswith("un double vitrage à isolation renforcée"))
    assert styles[puce] == "List Bullet"
    paragraphe = next(t for t in styles if t.startswith("Les reprises en sous-œuvre des murs porteurs"))
    clause = next(t for t in styles if t.startswith("Les prestations sont exécutées conformément aux lois"))
    assert styles[paragraphe] == styles[clause] == "Normal"
    lignes = [l for t in cctp.tableaux for l in t]
    assert ["Fosse d’ascenseur", "béton armé C25/30, cuvelage étanche, profondeur 1,20 m", "NF DTU 14.1"] in lignes
    assert any(l[0] == "Coefficient de transmission thermique Uw" and "1,3" in l[1] for l in lignes), lignes
    # le texte importé n'est pas un modèle : rien n'y est interprété ni laissé en syntaxe Markdown
    assert "##" not in cctp.tout and "**" not in cctp.tout


def _titres_source(chemin: Path) -> list[tuple[int, str]]:
    """(rang, intitulé) des titres d'un texte technique : « # » du Markdown, « Titre n » (heading n) du Word."""
    if chemin.suffix == ".md":
        return [(len(m.group(1)), m.group(2).strip().replace("'", "’"))
                for m in re.finditer(r"^(#{1,6})\s+(.+)$", chemin.read_text(encoding="utf-8"), re.M)]
    from docx import Document
    return [(int(p.style.name.split()[-1]), p.text.strip().replace("'", "’")) for p in Document(str(chemin)).paragraphs
            if p.style is not None and re.fullmatch(r"(?i)heading \d", p.style.name)]


@pytest.mark.parametrize("lot, fichier", [(1, "travaux-lycee-lot-1-gros-oeuvre.md"),
                                          (2, "travaux-lycee-lot-2-isolation-facades.md"),
                                          (3, "travaux-lycee-lot-3-menuiseries.docx"),
                                          (4, "travaux-lycee-lot-4-peinture-sols.md"),
                                          (5, "travaux-lycee-lot-5-chauffage-ventilation-plomberie.md")])
def test_texte_technique_garde_la_hierarchie_de_ses_titres(exemples_generes, lot, fichier):
    """Chaque titre importé garde son rang relatif : Titre 1 → intertitre (heading 3) sous l'article du lot,
    Titre 2 → heading 4… ; relu dans les styles du .docx produit, dans l'ordre du texte source."""
    source = _titres_source(RACINE / "exemples" / "cctp" / fichier)
    assert {rang for rang, _ in source} >= {1, 2}, source  # le texte d'exemple a bien deux rangs de titres
    cctp = _piece(exemples_generes["travaux-lycee"], "-CCTP.docx")
    paragraphes = cctp.paragraphes
    debut = next(i for i, (s, t) in enumerate(paragraphes) if s == "Heading 2" and t.split("\u00a0– ", 1)[-1].startswith(f"Lot {lot} –"))
    produits = []
    for style, texte in paragraphes[debut + 1:]:
        m = re.fullmatch(r"Heading (\d)", style)
        if m and int(m.group(1)) <= 2:
            break
        if m:
            produits.append((int(m.group(1)), texte.replace("\u00a0", " ")))
    assert produits == [(rang + 2, intitule) for rang, intitule in source]


def test_titre_sans_style_dans_le_modele_prend_le_niveau_le_plus_proche():
    """Un modèle Word d'acheteur sans style « heading 4 » : le titre de niveau 4 prend le style du niveau 3."""
    from generateur.pieces.blocs import Titre
    from generateur.rendu.ooxml import Ecrivain, Numerotation, Styles
    styles = Styles()
    complet = Ecrivain(styles, Numerotation(1, None)).titre(Titre(4, "Sous-titre"))
    assert 'w:val="Heading4"' in complet
    styles.titres = {n: s for n, s in styles.titres.items() if n <= 3}
    reduit = Ecrivain(styles, Numerotation(1, None)).titre(Titre(5, "Sous-titre"))
    assert 'w:val="Heading3"' in reduit


def test_sans_texte_technique_la_piece_est_une_annexe_et_l_annexe_de_conformite_le_dit(exemples_sans_texte_technique):
    import json
    fichiers = exemples_sans_texte_technique["restauration-lycees"]  # l'exemple sans le texte technique de ses lots
    cctp = _piece(fichiers, "-CCTP.docx")
    assert "Exigences environnementales et sociales — annexe au CCTP" in cctp.texte
    assert "La présente pièce, «\u00a0Exigences environnementales et sociales\u00a0», complète le cahier des clauses techniques particulières (CCTP) du prescripteur" in cctp.texte
    assert "Le présent cahier des clauses techniques particulières" not in cctp.texte
    annexe = json.loads(next(p for n, p in fichiers.items() if n.endswith("annexe-conformite.json")).read_text(
        encoding="utf-8"))
    texte = json.dumps(annexe, ensure_ascii=False)
    assert "Aucun texte technique n’est importé : la pièce s’intitule « Exigences environnementales et sociales — " \
           "annexe au CCTP »" in texte.replace("\\u00a0", " ").replace("\u00a0", " ").replace("\u202f", " ")
    # le point de l'annexe de conformité (Word) qui le dit est « À vérifier »
    assert _ligne_texte_technique(_piece(fichiers, "annexe-conformite.docx"))[:3] == [
        "Le CCTP contient le texte technique du prescripteur pour chaque lot (bonne pratique)", "CCP L2111-1, CCP R2111-4",
        "À vérifier"]


def _ligne_texte_technique(annexe: Lu) -> list[str]:
    """Ligne du tableau détaillé de l'annexe de conformité pour le contrôle du texte technique de chaque lot :
    libellé, articles, verdict, constat."""
    return next(l for t in annexe.tableaux for l in t
                if l[0].startswith("Le CCTP contient le texte technique du prescripteur") and len(l) > 3)


def _section_du_lot(cctp: Lu, lot: int | str) -> tuple[list[tuple[str, str]], list[str]]:
    """Ce que le CCTP produit range sous le sous-article « Lot n – … : prescriptions techniques » (ou, `lot` donné
    en texte, sous le sous-article dont le titre commence ainsi), dans l'ordre du document : ses intertitres (style,
    texte), puis ses paragraphes et les lignes de ses tableaux."""
    debut = f"Lot {lot} –" if isinstance(lot, int) else lot
    from docx.table import Table
    from docx.text.paragraph import Paragraph
    dedans, titres, textes = False, [], []
    for element in cctp.doc.element.body.iterchildren():
        if element.tag.endswith("}p"):
            p = Paragraph(element, cctp.doc)
            style = p.style.name if p.style is not None else ""
            if style in ("Heading 1", "Heading 2"):
                if dedans:
                    break
                dedans = style == "Heading 2" and p.text.split("\u00a0– ", 1)[-1].startswith(debut)
            elif dedans:
                (titres.append((style, _net(p.text))) if style.startswith("Heading") else textes.append(_net(p.text)))
        elif element.tag.endswith("}tbl") and dedans:
            textes.extend(" | ".join(_net(c.text) for c in ligne.cells) for ligne in Table(element, cctp.doc).rows)
    return titres, textes


@pytest.mark.parametrize("lot, titre, valeur", [
    (2, "Isolation en fibre de bois", "Résistance thermique de l’isolant | R ≥ 4,20 m².K/W"),
    (2, "Traitement des points singuliers", "Les points singuliers, d’environ 950 mètres linéaires"),
    (4, "Revêtement de sol en linoléum", "linoléum en lés de 2,5 mm d’épaisseur, conforme à la NF EN ISO 24011"),
    (4, "Peinture des murs", "Circulations, halls et escaliers | satinée | classe 1 | A (soigné)"),
    (5, "Centrales de traitement d’air double flux", "Filtration de l’air neuf | ISO ePM1 ≥ 50 %"),
    (5, "Émetteurs basse température", "dimensionnés pour un régime d’eau de 55/45 °C"),
])
def test_textes_techniques_des_lots_2_4_5_relus_sous_leur_lot(exemples_generes, lot, titre, valeur):
    """Le texte du maître d'œuvre des lots 2, 4 et 5 de l'exemple de travaux : chaque intertitre et chaque valeur se
    relisent dans le CCTP produit, sous le sous-article de son lot (et pas d'un autre) ; l'annexe ne dit plus qu'il
    manque un texte technique."""
    cctp = _piece(exemples_generes["travaux-lycee"], "-CCTP.docx")
    titres, textes = _section_du_lot(cctp, lot)
    assert ("Heading 4", titre) in titres, titres
    assert any(valeur in t for t in textes), textes
    for autre in {1, 2, 3, 4, 5} - {lot}:
        assert not any(valeur in t for t in _section_du_lot(cctp, autre)[1]), autre
    ligne = _ligne_texte_technique(_piece(exemples_generes["travaux-lycee"], "annexe-conformite.docx"))
    assert ligne[2] == "Conforme" and f"lot {lot} : « cctp/travaux-lycee-lot-{lot}-" in _net(ligne[3]), ligne


@pytest.mark.parametrize("exemple, lot, sous_article, intertitre, valeur", [
    ("nettoyage-hotel-region", 1, "Prescriptions techniques", "Fréquences d’intervention",
     "Sanitaires | nettoyage et désinfection des appareils, de la robinetterie et des sols, réapprovisionnement des "
     "consommables | 2 fois par jour ouvré (matin et début d’après-midi)"),
    ("nettoyage-hotel-region", 1, "Prescriptions techniques", "Description des locaux",
     "Bureaux individuels et collectifs | 24 000 m² | moquette et sol plastique"),
    ("amp-espaces-verts", 1, "Lot 1 –", "Tonte différenciée",
     "Zones soignées | abords des entrées, pelouses d’agrément | 10 | 6 cm"),
    ("amp-espaces-verts", 2, "Lot 2 –", "Élagage raisonné",
     "environ 300 arbres de moins de 15 m et 75 arbres de plus de 15 m chaque année"),
    ("restauration-lycees", 1, "Lot 1 –", "Spécifications des produits",
     "Pommes de saison | I | diamètre de 65 à 75 mm, calibre homogène dans un même colis"),
    ("restauration-lycees", 2, "Lot 2 –", "Spécifications des produits",
     "Yaourt nature au lait entier | yaourt au sens de la réglementation, nature, non sucré, au lait entier | pot de "
     "125 g en carton ou en verre réemployable | 15 jours"),
    ("restauration-lycees", 3, "Lot 3 –", "Spécifications des produits",
     "Riz long grain | riz blanchi long grain, 5 % de brisures au plus | sac de 5 kg en papier ou en toile | 9 mois"),
    ("restauration-lycees", 4, "Lot 4 –", "Température et durée de vie", "2 °C pour la viande hachée"),
    ("restauration-lycees", 5, "Lot 5 –", "Spécifications des produits",
     "Croissant au beurre | croissant fabriqué exclusivement au beurre, sans autre matière grasse | 50 g après cuisson"),
])
def test_textes_techniques_des_exemples_relus_sous_leur_lot(exemples_generes, exemple, lot, sous_article, intertitre,
                                                            valeur):
    """Le texte technique du prescripteur de chaque lot des exemples de services et de fournitures : un intertitre et
    une valeur propres se relisent dans le CCTP produit, sous le sous-article de son lot (et pas d'un autre) ; l'annexe
    de conformité dit le texte technique importé pour chaque lot, sans « À vérifier »."""
    fichiers = exemples_generes[exemple]
    cctp = _piece(fichiers, "-CCTP.docx")
    titres, textes = _section_du_lot(cctp, sous_article)
    assert intertitre in [t for _, t in titres], titres
    assert any(valeur in t for t in textes), textes
    for autre in set(range(1, 6)) - {lot}:  # sous un autre lot : jamais (section vide si le lot n'existe pas)
        assert not any(valeur in t for t in _section_du_lot(cctp, autre)[1]), autre
    assert "Exigences environnementales et sociales" not in cctp.texte
    ligne = _ligne_texte_technique(_piece(fichiers, "annexe-conformite.docx"))
    assert ligne[2] == "Conforme" and f"lot {lot} : « cctp/{exemple}-lot-{lot}-" in _net(ligne[3]), ligne


def test_lots_sans_texte_technique_a_verifier_et_decrits_par_leur_intitule(generer):
    """Les réponses de l'exemple de travaux sans texte technique pour les lots 2, 4 et 5 : la pièce reste un CCTP
    (lots 1 et 3 importés), le tableau des lots décrit les trois autres par leur intitulé ou leur description, sans
    renvoi, et l'annexe de conformité dit « À vérifier » en les nommant."""
    donnees = yaml.safe_load((RACINE / "exemples" / "travaux-lycee.yaml").read_text(encoding="utf-8"))
    for lot in donnees["lots"]:
        if lot["numero"] in (2, 4, 5):
            del lot["cctp_technique"]
    lus, _ = generer(donnees)
    cctp = lus["CCTP"]
    assert "Cahier des clauses techniques particulières" in cctp.texte
    assert "Exigences environnementales et sociales — annexe au CCTP" not in cctp.texte
    assert cctp.article("Lot 3 – Menuiseries extérieures") == "2.4"
    lignes = {l[0]: _net(l[2]) for t in cctp.tableaux if t[0][:3] == ["Lot", "Intitulé", "Description des prestations"]
              for l in t[1:]}
    assert "relevant de l’intitulé du lot" in lignes["4"] and "relevant de l’intitulé du lot" in lignes["5"]
    assert "Prescriptions techniques" not in lignes["2"] and lignes["3"].startswith("Travaux décrits à l’article 2.4")
    ligne = _ligne_texte_technique(lus["conformite"])
    assert ligne[2] == "À vérifier", ligne
    assert _net(ligne[3]).startswith("Pas de texte technique importé pour les lots 2, 4 et 5 : leurs spécifications "
                                     "techniques restent à écrire"), ligne


@pytest.mark.parametrize("valeur, message", [
    ("cctp/absent.md", "fichier « cctp/absent.md » introuvable"),
    ("cctp/lot.pdf", "Texte technique du CCTP (prescripteur ou maître d'œuvre)"),
    ("../exemples/cctp/travaux-lycee-lot-1-gros-oeuvre.md", "sans « .. »"),
    ("/etc/hostname.md", "doit être un chemin relatif au dossier du fichier de réponses"),
])
def test_texte_technique_mal_designe(tmp_path, valeur, message):
    donnees = reponses()
    donnees["lots"][0]["cctp_technique"] = valeur
    resultat = CliRunner().invoke(main, ["generer", str(ecrire(tmp_path, donnees)), "-o", str(tmp_path / "sortie")])
    assert resultat.exit_code == 2, resultat.output
    assert message in resultat.output.replace("’", "'") or message in resultat.output, resultat.output
    assert not (tmp_path / "sortie").exists()


@pytest.mark.parametrize("lien", ["fichier", "dossier"])
def test_texte_technique_par_un_lien_symbolique_qui_sort_du_dossier(tmp_path, lien):
    """Un texte technique désigné sous le dossier des réponses, mais par un lien symbolique (le fichier, ou le
    dossier qui le contient) vers un fichier d'ailleurs, est refusé comme un chemin qui sort du dossier ; le même
    lien vers un fichier du dossier est suivi."""
    ailleurs = tmp_path / "ailleurs"
    ailleurs.mkdir()
    source = RACINE / "exemples" / "cctp" / "travaux-lycee-lot-1-gros-oeuvre.md"
    (ailleurs / "lot.md").write_bytes(source.read_bytes())
    dossier = tmp_path / "consultation"
    dossier.mkdir()
    if lien == "fichier":
        (dossier / "cctp").mkdir()
        (dossier / "cctp" / "lot.md").symlink_to(ailleurs / "lot.md")
    else:
        (dossier / "cctp").symlink_to(ailleurs)
    donnees = reponses()
    donnees["lots"][0]["cctp_technique"] = "cctp/lot.md"
    fichier = ecrire(dossier, donnees)
    resultat = CliRunner().invoke(main, ["generer", str(fichier), "-o", str(tmp_path / "sortie")])
    assert resultat.exit_code == 2, resultat.output
    assert "doit être un chemin relatif au dossier du fichier de réponses" in resultat.output, resultat.output
    assert not (tmp_path / "sortie").exists()

    (dossier / "interne").mkdir()
    (dossier / "interne" / "lot.md").write_bytes(source.read_bytes())
    (dossier / "cctp").unlink() if lien == "dossier" else (dossier / "cctp" / "lot.md").unlink()
    if lien == "dossier":
        (dossier / "cctp").symlink_to(dossier / "interne")
    else:
        (dossier / "cctp" / "lot.md").symlink_to(dossier / "interne" / "lot.md")
    resultat = CliRunner().invoke(main, ["generer", str(fichier), "-o", str(tmp_path / "sortie")])
    assert resultat.exit_code == 0, resultat.output
    assert "Reconnaissance des existants" in Lu(next((tmp_path / "sortie").glob("*-CCTP.docx"))).texte


def test_penalites_des_conditions_d_execution_plafonnees(exemples_generes):
    ccap = _piece(exemples_generes["nettoyage-hotel-region"], "-CCAP.docx")
    texte = ccap.texte.replace("\u00a0", " ").replace("\u202f", " ")
    # tableau des pénalités SPASER (8.1) et pénalités de la prestation principale (8.2) : chacun son plafond
    # (8.1 : hors la pénalité pour travail dissimulé, qui a son plafond légal — revue 3, m5)
    assert texte.count("Le montant total de ces pénalités est plafonné à 10 % du montant total hors taxes du contrat") == 1
    assert texte.replace("’", "'").count(
        "Le montant total de ces pénalités, hors la pénalité pour travail dissimulé que plafonne l'article L8222-6 du "
        "code du travail, est plafonné à 10 % du montant total hors taxes du contrat") == 1
    assert "Chacune de ces obligations est mesurable" in texte
    recap = [l for t in ccap.tableaux for l in t if len(l) == 3 and l[0] == ccap.article("Pénalités d’exécution")]
    assert recap and "Pénalités pour prestations non exécutées et contrôles de la qualité non conformes" in recap[0][2], recap


# --- Relecture du juriste (issue 15, volet fournitures et services) ---------------------------------------------

def _exemple(nom: str):
    return preparer(RACINE / "exemples" / f"{nom}.yaml", RACINE)


def _net(texte: str) -> str:
    return texte.replace("\u00a0", " ").replace("\u202f", " ")


def test_indices_de_revision_par_famille_de_denrees(exemples_generes, tmp_path):
    """R6 : un indice par lot d'après la famille de denrées (poste de l'IPC), jamais l'indice alimentaire agrégé pour
    tous les lots ; libellé seul (identifiant non vérifié) et point « À vérifier » à l'annexe."""
    fichiers = exemples_generes["restauration-lycees"]
    ccap = _piece(fichiers, "-CCAP.docx")
    (indices,) = [t for t in ccap.tableaux if t[0][-1] == "Indice de référence"]
    attendus = {"1": ["50 % × ", "poste « Fruits »", "poste « Légumes »"], "2": ["poste « Laits, fromages et œufs »"],
                "3": ["poste « Produits alimentaires »"], "4": ["poste « Viande »"], "5": ["poste « Pain et céréales »"]}
    for ligne in indices[1:]:
        cellule = _net(ligne[-1])
        for morceau in attendus[ligne[0]]:
            assert morceau in cellule, (ligne[0], cellule)
        assert "série INSEE n°" not in cellule and "boissons non alcoolisées" not in cellule
    assert len({l[-1] for l in indices[1:]}) == 5  # un indice propre à chaque lot
    texte = _net(ccap.texte)
    assert "In / I0 = Σ part × (Indice n / Indice 0)" in texte and "Journal officiel" not in texte
    annexe = json.loads(next(p for n, p in fichiers.items() if n.endswith("annexe-conformite.json")).read_text("utf-8"))
    (controle,) = [c for c in annexe["controles"] if c["id"] == "indices-identifies"]
    assert controle["verdict_libelle"] == "À vérifier"
    assert "IPC-FRUITS" in controle["constat"] and "IPC-VIANDE" in controle["constat"]
    assert "libellé à vérifier aussi" in controle["constat"]
    # famille reconnue par le code CPV quand l'intitulé ne la dit pas ; l'indice choisi par l'acheteur prime
    lots = [{"numero": 1, "intitule": "Lot A", "montant_estime": 90000, "cpv": "15200000-0"},
            {"numero": 2, "intitule": "Fromages", "montant_estime": 90000, "indice": "IPC-ALIMENTATION"},
            {"numero": 3, "intitule": "Lot C", "montant_estime": 90000}]
    analyse = _analyse(tmp_path, categorie="restauration_collective", cpv="15000000-8", lots=lots)
    index = {l["numero"]: [i["code"] for i in l["index_lot"] or []] for l in analyse.contexte["lots"]}
    assert index == {1: ["IPC-POISSON"], 2: [], 3: ["IPC-ALIMENTATION"]}, index
    # restauration concédée (services) : pas de poste de denrées, l'indice de la politique d'achat demeure
    concedee = _analyse(tmp_path, nature="services", categorie="restauration_collective", cpv="55523100-3", lots=lots[:1])
    assert concedee.contexte["lots"][0]["index_lot"] is None


def test_relecture_voit_une_provenance_regionale(tmp_path):
    """R8 : « pour les produits régionaux » réserve une exigence à une origine (CCP R2111-7) : la relecture le voit
    (le motif ne connaissait pas les pluriels en -aux) ; l'exemple de restauration ne le dit plus."""
    from test_relecture import piece_propre, relire

    for phrase in ("Fruits livrés au plus tard 48 heures après la récolte pour les produits régionaux.",
                   "Légumes locaux exigés."):
        pieces = {nom: piece_propre(nom, phrase if nom == "CCTP" else None) for nom in ("RC", "CCAP", "CCTP")}
        assert "provenance-locale" in {d.regle for d in relire(pieces)}, phrase
    exemple = (RACINE / "exemples" / "restauration-lycees.yaml").read_text(encoding="utf-8")
    assert "48 heures après leur récolte" in exemple and "régionaux" not in exemple


def test_cadre_de_memoire_tire_ses_rubriques_de_l_intitule_du_critere():
    """R2, R9, R13 : la rubrique « Qualité gustative et nutritionnelle » demande des fiches nutritionnelles, pas
    « méthodes, étapes, calendrier » ; celle qui annonce les producteurs parle des producteurs ; « 100 % exigés » ;
    catégories de produits durables fixées par le CCAP, part des viandes et produits de la pêche comprise."""
    analyse = _exemple("restauration-lycees")
    blocs, _ = blocs_cadre(analyse)
    texte = _net(texte_blocs(blocs))
    qualite = texte.split("Qualité gustative et nutritionnelle des produits (30 %)")[1].split("Performance environ")[0]
    assert "teneurs en matières grasses, en sel et en sucres" in qualite and "méthodes, étapes" not in qualite
    social = texte.split("Conditions de travail des producteurs et insertion (10 %)")[1].split("Cadre de réponse")[0].lower()
    assert "envers les producteurs" in social and "exploitations" in social and "insertion professionnelle" in social
    assert "(100 % exigés)" in texte and "au moins 100 %" not in texte
    article = analyse.selection("ccap-alimentation-durable").numero
    assert (f"fixées par l’article {article} du CCAP (au moins 60 % en valeur, dont 30 % de produits issus de "
            "l’agriculture biologique, et au moins 60 % en valeur des viandes)") in texte
    assert "fixées par le CCTP" not in texte
    rc = _net(texte_blocs(blocs_document(analyse, "RC")[0]))
    assert "fixées par le CCTP" not in rc and "envers les producteurs des denrées proposées" in rc
    # nettoyage : rubrique technique propre à la famille
    nettoyage = _net(texte_blocs(blocs_cadre(_exemple("nettoyage-hotel-region"))[0]))
    assert "par zone et par type de local" in nettoyage and "méthodes, étapes" not in nettoyage


def test_controle_de_la_qualite_fixe_au_ccap(exemples_generes, tmp_path):
    """N10 : la grille, ses poids, les secteurs et la note minimale sont fixés au CCAP dès la consultation (valeurs
    des réponses), jamais « arrêtés d'un commun accord » après la notification ; poids qui ne font pas 100 : refus."""
    ccap = _piece(exemples_generes["nettoyage-hotel-region"], "-CCAP.docx")
    texte = _net(ccap.texte)
    assert "commun accord" not in texte
    assert "un secteur est chaque étage de l’Hôtel de Région, avec ses bureaux" in texte
    exemple = yaml.safe_load((RACINE / "exemples" / "nettoyage-hotel-region.yaml").read_text(encoding="utf-8"))
    (grille,) = [t for t in ccap.tableaux if t[0] == ["Élément contrôlé", "Poids dans la note sur 100"]]
    assert [[_net(c) for c in l] for l in grille[1:]] == [
        [_net(g["element"]).replace("'", "’"), str(g["poids"])] for g in exemple["controle_qualite"]["grille"]]
    assert "inférieure à 80 sur 100 est non conforme" in texte
    donnees = yaml.safe_load((RACINE / "exemples" / "nettoyage-hotel-region.yaml").read_text(encoding="utf-8"))
    donnees["controle_qualite"]["grille"][0]["poids"] = 10
    fichier = ecrire(tmp_path, donnees)
    resultat = CliRunner().invoke(main, ["generer", str(fichier), "-o", str(tmp_path / "sortie")])
    assert resultat.exit_code == 2, resultat.output
    assert "les poids des éléments contrôlés doivent faire 100" in resultat.output
    assert "Grille du contrôle contradictoire de la qualité" in resultat.output
    assert not (tmp_path / "sortie").exists()


def test_marche_unique_sans_texte_d_allotissement_ni_retenue_citee(exemples_generes):
    """N6, N7, N8, R12 : marché non alloti sans « lots différents » ni tableau numéroté comme un lot ; retenue de
    garantie citée seulement quand il y en a une ; acomptes : la périodicité plus longue vient après le droit des PME."""
    fichiers = exemples_generes["nettoyage-hotel-region"]
    ccap, rc = _piece(fichiers, "-CCAP.docx"), _piece(fichiers, "-RC.docx")
    assert "lots différents" not in rc.texte and "Pour un même lot" not in rc.texte
    # chaque puce de l'article « Groupements » reste un paragraphe, alloti ou non
    for lu in (rc, _piece(exemples_generes["travaux-lycee"], "-RC.docx")):
        (multiples,) = [t for _, t in lu.paragraphes if t.startswith("Candidatures multiples.")]
        assert multiples.endswith("ni en qualité de membre de plusieurs groupements."), multiples
    assert not [t for t in ccap.tableaux if t[0][0] == "Contrat"]
    assert [t for t in ccap.tableaux if t[0] == ["Prestations", "Indice de référence"]]
    for lu in (ccap, rc):
        assert "retenue de garantie" not in lu.texte.replace("Aucune retenue de garantie", "")
    texte = _net(ccap.texte)
    acomptes = texte.split("Les prestations donnent lieu à des acomptes mensuels.")[1]
    assert acomptes.index("R2191-22") < acomptes.index("peut toutefois demander une périodicité plus longue")
    # avec retenue de garantie (travaux), elle reste citée
    travaux = _piece(exemples_generes["travaux-lycee"], "-CCAP.docx")
    assert "l’avance, la retenue de garantie et les paiements sont décomptés lot par lot" in _net(travaux.texte)
    restauration = _piece(exemples_generes["restauration-lycees"], "-CCAP.docx")
    assert "l’avance et les paiements sont décomptés lot par lot" in _net(restauration.texte)
    # la DPGF d'un marché unique n'appelle pas la prestation « Lot 1 »
    import io
    from openpyxl import load_workbook
    from generateur.rendu import classeur_prix

    for nom, attendu in (("nettoyage-hotel-region", "Nettoyage des bureaux, salles de réunion et espaces communs"),
                         ("restauration-lycees", "Lot 1 – Fruits et légumes frais de saison")):
        classeur = load_workbook(io.BytesIO(classeur_prix.produire(_exemple(nom)).contenu))
        entetes = [classeur.worksheets[0].cell(i, 1).value for i in range(1, 5)]
        assert attendu in entetes, entetes
        if nom == "nettoyage-hotel-region":
            assert not any(str(e).startswith("Lot ") for e in entetes), entetes


def test_avance_expliquee_et_acte_d_engagement(exemples_generes):
    """R17 : le taux PME majoré de certains lots est expliqué ; C5, C6, C7 : l'AE dit « tel qu'il résulte de la DPGF »,
    une avance unique quand les deux taux sont égaux, et une signature « de préférence électronique » comme le RC."""
    restauration = _net(_piece(exemples_generes["restauration-lycees"], "-CCAP.docx").tout)
    assert ("Le taux « PME » de 20 % des lots n° 3 et 5, supérieur à celui des autres lots, résulte de la politique "
            "d’achat de l’acheteur, qui le réserve aux lots d’un montant estimé inférieur à 1 000 000,00 € HT.") in restauration
    # mêmes taux pour tous les lots : rien à expliquer (le taux PME de la Métropole est le minimum légal)
    assert "supérieur à celui des autres lots" not in _piece(exemples_generes["amp-espaces-verts"], "-CCAP.docx").texte
    (avance,) = [t for t in _piece(exemples_generes["restauration-lycees"], "-CCAP.docx").tableaux
                 if t[0][1] == "Avance versée"]
    assert {tuple(l[1:3]) for l in avance[1:]} == {("Par bon de commande, aux conditions ci-après",
                                                    "Montant du bon de commande")}
    assert "Un bon de commande qui ne remplit aucune de ces conditions ne donne pas lieu à une avance." in restauration
    for nom, lot, attendus in (
            ("nettoyage-hotel-region", 1, ["prix global et forfaitaire, tel qu’il résulte de la DPGF ;",
                                           # 36 mois : base 12/N du CCAP (R2191-7), pas le montant initial
                                           "Une avance de 15 %, calculée dans les conditions fixées à l’article 7.1 "
                                           "du CCAP, est versée, que le titulaire soit ou non une petite ou moyenne "
                                           "entreprise."]),
            ("restauration-lycees", 3, ["tel qu’il résulte de l’application des prix du BPU aux quantités du DQE",
                                        "au taux de 20 % si le titulaire est une petite ou moyenne entreprise, au taux "
                                        "de 15 % dans les autres cas."])):
        analyse = _exemple(nom)
        texte = _net(texte_blocs(acte_engagement.blocs(analyse, analyse.contexte["lots"][lot - 1])[0]))
        for attendu in attendus:
            assert attendu in texte, (nom, attendu)
        assert "tels qu’ils résultent du bordereau" not in texte and "au taux de 15 % dans les autres cas" not in (
            texte if nom == "nettoyage-hotel-region" else "")
        assert "de préférence électroniquement" in texte
        assert "de préférence au moyen d’une signature électronique" in _net(texte_blocs(blocs_document(analyse, "RC")[0]))


def test_champ_d_application_qui_ecarte_une_famille(tmp_path):
    """`sauf` écarte une famille pour une nature (la fiche de données de sécurité n'a pas d'objet chez un fournisseur
    de denrées) ; une famille ou une nature inconnues y sont refusées par la vérification du catalogue."""
    racine = racine_avec_copie(tmp_path, "clauses")
    _champs_refuses_puis_accepte(racine, (
        ("s_applique_a: {sauf: {fournitures: [propreté]}}\n", "famille « propreté » inconnue"),
        ("s_applique_a: {sauf: {achats: [nettoyage]}}\n", "nature « achats » inconnue"),
        ("s_applique_a: {sauf: [nettoyage]}\n", "champ d'application : « toutes »")),
        "s_applique_a: {sauf: {fournitures: [restauration_collective]}}\n")
    bureau = preparer(ecrire(tmp_path, reponses()), racine)
    assert bureau.selection("ccap-essai-champ").retenue
    denrees = preparer(ecrire(tmp_path, reponses(categorie="restauration_collective", cpv="15000000-8")), racine)
    assert not denrees.selection("ccap-essai-champ").retenue
    assert "Clause propre au nettoyage." not in texte_blocs(blocs_document(denrees, "CCAP")[0])


def test_denrees_substances_limitees_aux_materiaux_au_contact(exemples_generes):
    """R4 : en denrées, l'exclusion des perturbateurs endocriniens ne vise que les emballages et matériaux au contact
    des denrées (bisphénols, phtalates), prouvée par une attestation du fabricant ; ni fiches de données de sécurité,
    ni notices, ni mobilier, dans aucune pièce ni dans le cadre de mémoire. Chaque puce reste un paragraphe distinct."""
    fichiers = exemples_generes["restauration-lycees"]
    ccap = _piece(fichiers, "-CCAP.docx")
    paragraphes = [_net(t) for _, t in ccap.paragraphes]
    assert "L’exigence s’applique aux emballages, conditionnements et matériaux au contact des denrées livrées à " \
           "l’acheteur." in paragraphes
    assert "les phtalates." in paragraphes and any(p.startswith("La liste des substances exclues") for p in paragraphes)
    analyse = _exemple("restauration-lycees")
    cadre = texte_blocs(blocs_cadre(analyse)[0])
    for lu in [ccap, _piece(fichiers, "-CCTP.docx"), _piece(fichiers, "-RC.docx")]:
        for absent in ("données de sécurité", "notice d’utilisation", "mobilier", "parabènes", "Parabènes"):
            assert absent not in lu.tout, (lu.chemin.name, absent)
    assert "données de sécurité" not in cadre
    # nettoyage : les autres substances se limitent aux produits d'entretien, consommables et sacs (N5)
    cctp = _net(_piece(exemples_generes["nettoyage-hotel-region"], "-CCTP.docx").texte)
    assert "dans les produits d’entretien et de désinfection, les consommables et les sacs." in cctp
    assert "mobilier" not in cctp and "Les modalités de preuve, de substitution" in cctp


def test_le_dqe_dit_la_periode_de_ses_quantites():
    """Revue 3, B3 : le DQE dit pour quelle période ses quantités sont estimées (toute la durée, comme la question
    « Quantité estimée » du questionnaire), reconductions comprises quand il y en a."""
    import io

    from openpyxl import load_workbook

    from generateur.droit.regles import preparer
    from generateur.rendu import classeur_prix

    for exemple, attendu in (("restauration-lycees", "pour toute la durée du contrat, reconductions comprises\u00a0;"),):
        analyse = preparer(RACINE / "exemples" / f"{exemple}.yaml", RACINE)
        classeur = load_workbook(io.BytesIO(classeur_prix.produire(analyse).contenu))
        notes = [str(c.value) for ws in classeur.worksheets for ligne in ws.iter_rows() for c in ligne
                 if isinstance(c.value, str) and "quantités du DQE" in c.value]
        assert notes and all(f"Les quantités du DQE sont estimées {attendu}" in n for n in notes), notes
        assert len(notes) == len(classeur.worksheets)
        # revue 3, m12 : même typographie que les pièces Word (apostrophe ’ dans l'objet, les intitulés, les lignes)
        textes = [c.value for ws in classeur.worksheets for ligne in ws.iter_rows() for c in ligne
                  if isinstance(c.value, str) and not c.value.startswith("=")]
        assert not [t for t in textes if "'" in t], [t for t in textes if "'" in t][:3]
        assert any("appellation d’origine protégée" in t for t in textes)


def test_absence_d_allotissement_motivee_au_rc(exemples_generes):
    """Revue 3, M6 : le nettoyage en lot unique énonce ses motifs de fait (L2113-11) à l'article qui les porte, et
    l'objet de la consultation y renvoie, au lieu de motifs « consignés dans les documents de la procédure »."""
    rc = _piece(exemples_generes["nettoyage-hotel-region"], "-RC.docx")
    texte = rc.texte.replace("\u00a0", " ").replace("\u202f", " ")
    numero = rc.article("Motifs de l’absence d’allotissement")
    assert (f"dont la dévolution en lots séparés n’a pas été retenue pour les motifs énoncés à l’article {numero}."
            in texte)
    assert "motifs consignés" not in texte
    assert "Les prestations portent sur un seul bâtiment, l’Hôtel de Région" in texte


def test_bordereau_pied_de_page_comme_les_pieces_word():
    """Revue 3, m12 : le bordereau imprimé porte, comme les pièces Word, « Consultation n° <référence> » et la page."""
    import io

    from openpyxl import load_workbook

    from generateur.droit.regles import preparer
    from generateur.rendu import classeur_prix

    analyse = preparer(RACINE / "exemples" / "travaux-lycee.yaml", RACINE)
    classeur = load_workbook(io.BytesIO(classeur_prix.produire(analyse).contenu))
    for ws in classeur.worksheets:
        assert ws.oddFooter.left.text == "Consultation n°\u00a02026-TRX-0417", ws.title
        assert ws.oddFooter.right.text == "Page &P / &N"


def test_sans_texte_technique_le_cctp_ne_dit_pas_le_besoin_defini_avec_precision(exemples_generes,
                                                                                 exemples_sans_texte_technique):
    """Revue 3, B2 : la pièce qui n'est qu'une annexe au CCTP du prescripteur (aucun texte technique importé) ne
    prétend pas que le besoin a été défini avec précision ; le CCTP des exemples, dont chaque lot a son texte
    technique, le dit."""
    cas = [(exemples_generes["travaux-lycee"], True)]
    for exemple in ("restauration-lycees", "amp-espaces-verts", "nettoyage-hotel-region"):
        cas += [(exemples_generes[exemple], True), (exemples_sans_texte_technique[exemple], False)]
    for fichiers, complet in cas:
        cctp = _piece(fichiers, "-CCTP.docx").texte
        assert ("Le besoin a été défini avec précision avant le lancement de la consultation" in cctp) is complet
        assert ("Les exigences de la présente pièce prennent en compte des objectifs de développement durable"
                in cctp) is not complet
        # le RC énumère la pièce telle qu'elle est : le CCTP, ou son annexe environnementale et sociale
        rc = _piece(fichiers, "-RC.docx").texte
        pieces = rc.splitlines()  # un élément de la liste des pièces par ligne
        assert ("le cahier des clauses techniques particulières (CCTP)" in pieces) is complet
        assert ("la pièce «\u00a0Exigences environnementales et sociales\u00a0», qui complète le cahier des clauses "
                "techniques particulières (CCTP) du prescripteur" in rc) is not complet


def test_delais_des_denrees_recapitules_parmi_les_derogations(exemples_generes):
    """Revue 3, m10 : l'enlèvement des denrées rejetées en vingt-quatre heures, plus court que le CCAG-FCS, figure au
    récapitulatif des dérogations (dernier article du CCAP), au chapitre 5 du CCAG-FCS (numéros de 2021 non lus)."""
    ccap = _piece(exemples_generes["restauration-lycees"], "-CCAP.docx")
    numero = ccap.article("Vérifications, admission, ajournement, réfaction et rejet")
    recapitulatif = next(t for t in ccap.tableaux if t[0][0] == "Article du CCAP")
    assert [numero, "chapitre 5", "Denrées rejetées enlevées au plus tard dans les vingt-quatre heures et remplacées "
            "avant l’heure limite de livraison du jour suivant"] in recapitulatif
    nettoyage = _piece(exemples_generes["nettoyage-hotel-region"], "-CCAP.docx")
    assert "chapitre 5" not in nettoyage.tout


def test_penalite_de_livraison_tardive_dit_son_heure_et_perturbateurs_du_nettoyage_sans_les_materiels(
        exemples_generes):
    """Revue 4, N4 : la pénalité de livraison tardive des denrées nomme l'heure limite (8 h 30), pas seulement
    l'article qui en fixe deux (créneau du site et heure limite). N10 : l'exclusion des perturbateurs endocriniens du
    nettoyage vise les produits et consommables, pas les machines ni les équipements de protection du titulaire."""
    resto = _piece(exemples_generes["restauration-lycees"], "-CCAP.docx")
    numero = resto.article("Lieux, jours et horaires de livraison")
    texte = resto.tout.replace("\u00a0", " ").replace("\u202f", " ").replace("'", "’")
    assert f"Livraison arrivée après l’heure limite de 8 h 30 fixée à l’article {numero}" in texte
    nettoyage = _piece(exemples_generes["nettoyage-hotel-region"], "-CCAP.docx").texte.replace("'", "’")
    assert ("Elle ne s’applique pas aux matériels, machines, outillages et équipements de protection individuelle "
            "du titulaire") in nettoyage
