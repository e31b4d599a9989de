"""Contenu métier (issue 15) : chaque clause à sa place, articles propres à chaque famille d'achat.

On prépare des consultations de toutes les familles du questionnaire et de toutes les natures, on assemble leurs
pièces et on relit le texte : aucune clause hors de son champ d'application, ni aucune phrase propre à une autre
famille. Les exemples de restauration, de nettoyage et d'espaces verts portent leurs articles sectoriels, avec les
valeurs tirées des réponses.
"""

from __future__ import annotations

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


def test_verification_exige_le_champ_d_application(tmp_path):
    racine = racine_avec_copie(tmp_path, "clauses")
    for champ, message in (("", "champ d'application manquant"),
                           ("s_applique_a: {familles: [propreté]}\n", "famille « propreté » inconnue du questionnaire"),
                           ("s_applique_a: {natures: [travaux], lots: [1]}\n", "champ d'application : « toutes »")):
        _clause(racine, champ)
        resultat = CliRunner().invoke(main, ["--catalogue", str(racine), "catalogue", "verifier"])
        assert resultat.exit_code == 2, resultat.output
        assert "ccap-essai-champ.md" in resultat.output and message in resultat.output, resultat.output
    _clause(racine, "s_applique_a: {natures: [services], familles: [nettoyage]}\n")
    resultat = CliRunner().invoke(main, ["--catalogue", str(racine), "catalogue", "verifier"])
    assert resultat.exit_code == 0, resultat.output
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
    assert ("Les livraisons ont lieu du lundi au vendredi, de 6 h 30 à 11 h, hors jours fériés et périodes de "
            "fermeture des lycées ; les denrées sont livrées au plus tard à 8 h 30") in texte
    for titre in ("Agrément sanitaire et traçabilité", "Chaîne du froid", "Durée de vie résiduelle",
                  "Livraisons du matin", "Admission", "Ajournement", "Réfaction", "Rejet"):
        assert titre in ccap.titres(3) or titre in texte, titre
    assert "une livraison arrivée après 8 h 30, ou incomplète" in texte
    assert ccap.article("Constatation de l’exécution") == "9"
    penalites = ccap.article("Pénalités d’exécution des prestations")
    assert f"la pénalité prévue à l’article {penalites}" in texte
    lignes = [l for t in ccap.tableaux for l in t if l[0].startswith("Livraison arrivée après l’heure limite")]
    assert lignes and lignes[0][1] == "150,00\u00a0€ HT par livraison", lignes
    assert "Le montant total de ces pénalités est plafonné à 10 % du montant total hors taxes du contrat ou du bon " \
           "de commande" in texte


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
        == "100,00\u00a0€ HT par prestation non exécutée, la prestation n’étant pas payée"


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


@pytest.mark.parametrize("famille, premier", [("espaces_verts", "Gestion différenciée"),
                                               ("nettoyage", "Produits de nettoyage"),
                                               ("restauration_collective", "Modes de production")])
def test_elements_du_critere_environnemental_identiques_dans_le_rc_et_le_cadre(tmp_path, famille, premier):
    analyse = _analyse(tmp_path, nature="services", categorie=famille, cpv="90910000-9")
    rc = blocs_document(analyse, "RC")[0]
    cadre = blocs_cadre(analyse)[0]
    tableaux = [[texte_blocs([Tableau([l], False)]) for l in b.lignes] for blocs in (rc, cadre) for b in blocs
                if isinstance(b, Tableau) and "Poids dans la note du critère" in texte_blocs([b])]
    assert len(tableaux) == 2 and tableaux[0] == tableaux[1], tableaux
    assert premier in tableaux[0][1]
    poids = [int(re.search(r"(\d+)\s?%", l).group(1)) for l in tableaux[0][1:]]
    assert sum(poids) == 100 and len(poids) >= 2


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
    """L'exemple de travaux importe un texte Markdown (lot 1) et un document Word (lot 3) : titres, tableaux et listes
    gardent leur nature et prennent les styles des clauses du catalogue ; les chapitres environnementaux suivent."""
    cctp = _piece(exemples_generes["travaux-lycee"], "-CCTP.docx")
    assert "Cahier des clauses techniques particulières" in cctp.texte
    assert "Exigences environnementales et sociales" not in cctp.texte
    # 2.1 : conformité ; 2.2 : retrait de l'amiante (clause du catalogue) ; puis le texte importé de chaque lot
    assert cctp.article("Lot 1 – Gros œuvre et démolition\u00a0: prescriptions techniques") == "2.3"
    assert cctp.article("Lot 3 – Menuiseries extérieures\u00a0: prescriptions techniques") == "2.4"
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
                                          (3, "travaux-lycee-lot-3-menuiseries.docx")])
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


def test_sans_texte_technique_la_piece_est_une_annexe_et_l_annexe_de_conformite_le_dit(exemples_generes):
    import json
    fichiers = exemples_generes["restauration-lycees"]
    cctp = _piece(fichiers, "-CCTP.docx")
    assert "Exigences environnementales et sociales — annexe au CCTP" in cctp.texte
    assert "La présente pièce, «\u00a0Exigences environnementales et sociales\u00a0», complète le cahier des clauses techniques particulières (CCTP) du prescripteur" in cctp.texte
    assert "Le présent cahier des clauses techniques particulières" not in cctp.texte
    annexe = json.loads(next(p for n, p in fichiers.items() if n.endswith("annexe-conformite.json")).read_text(
        encoding="utf-8"))
    texte = json.dumps(annexe, ensure_ascii=False)
    assert "Aucun texte technique n’est importé : la pièce s’intitule « Exigences environnementales et sociales — " \
           "annexe au CCTP »" in texte.replace("\\u00a0", " ").replace("\u00a0", " ").replace("\u202f", " ")


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


def test_penalites_des_conditions_d_execution_plafonnees(exemples_generes):
    ccap = _piece(exemples_generes["nettoyage-hotel-region"], "-CCAP.docx")
    texte = ccap.texte.replace("\u00a0", " ").replace("\u202f", " ")
    # tableau des pénalités SPASER (8.1) et pénalités de la prestation principale (8.2) : chacun son plafond
    assert texte.count("Le montant total de ces pénalités est plafonné à 10 % du montant total hors taxes du contrat") == 2
    assert "Chacune de ces obligations est mesurable" in texte
    recap = [l for t in ccap.tableaux for l in t if len(l) == 3 and l[0] == ccap.article("Pénalités d’exécution")]
    assert recap and "Pénalités d’exécution des prestations" in recap[0][2], recap
