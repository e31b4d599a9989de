"""Relecture automatique des pièces : chaque règle (section `relecture` de catalogue.yaml) voit le défaut qu'on
injecte, ne voit rien dans un texte propre, et ses défauts passent l'annexe de conformité « À vérifier »."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import RACINE, Lu, copier_exemple, ecrire, reponses
from test_robustesse import _copie_catalogue as copie_catalogue, catalogue_modifie
from generateur.donnees import yaml_lignes
from generateur.droit.regles import preparer
from generateur.interfaces.cli import main
from generateur.pieces import relecture
from generateur.pieces.blocs import Liste, ElementListe, Paragraphe, Segment, Tableau, Titre
from generateur.pieces.lecture import controler, texte_blocs
from generateur.pieces import annexe
from generateur.pieces.tracabilite import fiche as fiche_de_tracabilite
from generateur.pieces.assemblage import blocs_document

REGLES = (yaml_lignes.lire(RACINE / "catalogue.yaml").donnees or {})["relecture"]
NBSP = "\u00a0"

# Un texte juste, qui ressemble aux défauts sans en être : nombres (« 1 000 », « 9 999,00 € »), renvois vers des
# articles qui existent, textes extérieurs (code, CCAG, loi), crochets absents, ponctuation française.
PROPRE = [
    f"Le montant maximum est de 1{NBSP}000{NBSP}000,00{NBSP}€{NBSP}HT, soit 9{NBSP}999,00{NBSP}€ par mois "
    f"au plus{NBSP}; l’avance est de 30{NBSP}% (article R2191-3 du code de la commande publique). Le lot n°{NBSP}999 "
    f"est estimé à 999{NBSP}999,00{NBSP}€{NBSP}HT.",
    f"Les pénalités sont fixées à l’article 3, et la durée à l’article 2.1 du présent CCAP{NBSP}; le candidat "
    f"remet l’offre décrite à l’article 1 du RC, selon les spécifications de l’article 1 du CCTP.",
    f"Par dérogation à l’article 1.2 des CCAG et à l’article 60 de la loi n°{NBSP}2005-882, le suivi est assuré "
    f"par la Direction de la commande publique, avec la Maison de l’emploi{NBSP}: www.exemple.fr/profil?id=42.",
    f"Les lots n°{NBSP}1, 2 et 3 sont attribués séparément{NBSP}; 25 actions sont mises en œuvre en 2026, "
    f"dont 1 action d’insertion de 1{NBSP}209 heures.",
]


def piece_propre(nom: str, supplement: str | None = None) -> list:
    """Une pièce propre de trois articles (2.1 compris), avec, au besoin, un paragraphe ajouté à l'article 2."""
    blocs = [Titre(1, "Article 1 – Objet"), Paragraphe([Segment(PROPRE[0])]),
             Titre(1, "Article 2 – Exécution"), Titre(2, "2.1 – Délais"),
             Liste(False, [ElementListe([Segment(PROPRE[1])]), ElementListe([Segment(PROPRE[2])])]),
             Titre(1, "Article 3 – Pénalités"),
             Tableau([[[Segment("Lot")], [Segment("Intitulé")]], [[Segment("1")], [Segment(PROPRE[3])]]])]
    if supplement is not None:
        injecte = Segment("")
        injecte.texte = supplement  # tel quel : la typographie des blocs ne corrige pas le défaut injecté
        blocs.insert(4, Paragraphe([injecte]))
    return blocs


def relire(pieces: dict[str, list]) -> list:
    analyse = preparer(ecrire_reponses(), RACINE)
    return relecture.relire(analyse.catalogue, {nom: relecture.piece(nom, blocs) for nom, blocs in pieces.items()})


_FICHIER: list[Path] = []


def ecrire_reponses() -> Path:
    if not _FICHIER:
        import tempfile

        _FICHIER.append(ecrire(Path(tempfile.mkdtemp()), reponses()))
    return _FICHIER[0]


def test_texte_propre_sans_faux_positif():
    assert relire({nom: piece_propre(nom) for nom in ("RC", "CCAP", "CCTP")}) == []


@pytest.mark.parametrize("regle", REGLES, ids=[r["id"] for r in REGLES])
def test_chaque_regle_voit_le_defaut_injecte(regle):
    """L'exemple de la règle, injecté à l'article 2 d'un CCAP propre, est vu : règle, pièce, article et extrait."""
    pieces = {nom: piece_propre(nom, regle["exemple"] if nom == "CCAP" else None) for nom in ("RC", "CCAP", "CCTP")}
    if regle.get("verification") == "melange":  # le mélange suppose l'autre forme ailleurs dans la pièce
        pieces["CCAP"].insert(1, Paragraphe([Segment("L’acheteur notifie l’ordre de service.")]))
    defauts = relire(pieces)
    assert regle["id"] in {d.regle for d in defauts}, defauts
    # rien d'autre n'est vu hors de l'exemple (un dictionnaire imprimé a aussi des apostrophes droites…)
    assert all(d.extrait.strip("…") in regle["exemple"] for d in defauts if d.regle != regle["id"]), defauts
    d = next(d for d in defauts if d.regle == regle["id"])
    assert d.piece == "CCAP" and d.libelle == " ".join(regle["libelle"].split())
    assert d.bloquant is bool(regle.get("bloquant"))
    if regle.get("verification") != "melange":
        assert d.article == "Article 2 – Exécution"
        assert d.extrait.strip("…") in regle["exemple"]


def test_renvois_verifies_vers_la_bonne_piece():
    pieces = {nom: piece_propre(nom) for nom in ("RC", "CCAP", "CCTP")}
    pieces["RC"].append(Paragraphe([Segment("Les délais sont fixés à l’article 2.4 du CCAP et à l’article 7 du RC.")]))
    pieces["RC"].append(Paragraphe([Segment("Extrait prévu à l’article 9 du RCS, à l’article 10.1 du CCAG-Travaux.")]))
    pieces["CCAP"].append(Paragraphe([Segment("Responsabilité prévue aux articles 1792 et suivants du code civil.")]))
    pieces["CCTP"].append(Paragraphe([Segment("La liste des sites figure en annexe n° 2 au CCTP.")]))
    defauts = relire(pieces)
    assert sorted((d.regle, d.piece, d.detail) for d in defauts) == [
        ("renvoi-annexe-absente", "CCTP", "CCTP sans annexe"),
        ("renvoi-article-absent", "RC", "CCAP sans article 2.4"),
        ("renvoi-article-absent", "RC", "RC sans article 7"),
    ]
    pieces["CCTP"].append(Titre(1, "Annexe – Liste des sites"))
    assert [d.regle for d in relire(pieces)] == ["renvoi-article-absent"] * 2


def test_renvoi_sans_numero_vers_un_contenu_absent():
    """« la fréquence fixée au CCTP », « les performances thermiques du CCTP » : vus tant qu'aucun article du CCTP ne
    traite ce point ; plus vus dès qu'un article le traite. Un renvoi numéroté relève de l'autre règle."""
    pieces = {nom: piece_propre(nom) for nom in ("RC", "CCAP", "CCTP")}
    pieces["RC"].append(Paragraphe([Segment("Le titulaire respecte la fréquence de passage fixée au CCTP.")]))
    pieces["CCAP"].append(Paragraphe([Segment("Les variantes respectent les performances thermiques du CCTP.")]))
    pieces["CCAP"].append(Paragraphe([Segment("Les pénalités du CCAP s’appliquent selon les spécifications de "
                                              "l’article 1 du CCTP.")]))
    defauts = [d for d in relire(pieces) if d.regle == "renvoi-contenu-absent"]
    assert sorted((d.piece, d.extrait, d.detail) for d in defauts) == [
        ("CCAP", "Les variantes respectent les performances thermiques du CCTP.", "aucun article du CCTP sur ce point"),
        ("RC", "Le titulaire respecte la fréquence de passage fixée au CCTP.", "aucun article du CCTP sur ce point"),
    ]
    pieces["CCTP"].append(Titre(1, "Article 4 – Performances énergétiques"))
    assert [d.piece for d in relire(pieces) if d.regle == "renvoi-contenu-absent"] == ["RC"]
    pieces["CCTP"][3] = Titre(2, "2.1 – Fréquences de passage")
    assert not [d for d in relire(pieces) if d.regle == "renvoi-contenu-absent"]


def test_regle_mal_ecrite_nomme_fichier_et_ligne(tmp_path):
    racine = copie_catalogue(tmp_path)
    texte = (RACINE / "catalogue.yaml").read_text(encoding="utf-8")
    texte = texte.replace('verification: melange', 'verification: melanger')
    texte = texte.replace('exemple: "Le titulaire **doit** transmettre le rapport."', 'exemple: "Texte juste."')
    (racine / "catalogue.yaml").write_text(texte, encoding="utf-8")
    resultat = CliRunner().invoke(main, ["--catalogue", str(racine), "catalogue", "verifier"])
    assert resultat.exit_code == 2, resultat.output
    assert "vérification « melanger » inconnue" in resultat.output
    assert "son exemple n'est pas détecté" in resultat.output and "relecture." in resultat.output
    assert "catalogue.yaml, ligne" in resultat.output


# --- De bout en bout : une clause fautive passe l'annexe « À vérifier », --strict refuse -------------------------

CLAUSE_FAUTIVE = """---
id: ccap-essai-relecture
version: 1
en_vigueur: {du: 2019-04-01}
titre: "Essai de relecture"
document: CCAP
article: financier
ordre: 99
references: ["CCP R2132-2"]
statut_juridique: non_verifie
note_juridique: "Clause d'essai des tests de relecture."
condition: "true"
portee: consultation
s_applique_a: toutes
variables: []
decp: []
---
Juridiction compétente : {{ {'nom': 'Tribunal administratif de Toulouse', 'adresse': ['68 rue Raymond IV']} }}.

Les pénalités sont fixées par l'article 42 du présent CCAP.

L'avance est versée lorsque la durée d'exécution est supérieure à 999 mois.
"""


def test_clause_fautive_passe_l_annexe_a_verifier_et_strict_refuse(tmp_path):
    racine = copie_catalogue(tmp_path)
    (racine / "clauses" / "ccap" / "ccap-essai-relecture.md").write_text(CLAUSE_FAUTIVE, encoding="utf-8")
    fichier = ecrire(tmp_path, reponses())
    sortie = tmp_path / "sortie"
    resultat = CliRunner().invoke(main, ["--catalogue", str(racine), "generer", str(fichier), "-o", str(sortie)])
    assert resultat.exit_code == 0, resultat.output  # pas d'obligation légale violée : le travail continue
    assert "À VÉRIFIER – La relecture automatique" in resultat.output

    annexe = json.loads((sortie / "TEST-001-annexe-conformite.json").read_text(encoding="utf-8"))
    assert annexe["synthese"]["etat"] == "a_verifier" and annexe["synthese"]["texte"].startswith("À vérifier")
    article = next(f"Article {c['article'].split('.')[0]} – " for c in json.loads(
        (sortie / "TEST-001-manifeste.json").read_text(encoding="utf-8"))["clauses"] if c["id"] == "ccap-essai-relecture")
    vus = {d["regle"]: d for d in annexe["relecture"] if d["piece"] == "CCAP" and d["article"].startswith(article)}
    assert {"structure-donnees", "renvoi-article-absent", "valeur-sentinelle"} <= set(vus), annexe["relecture"]
    # le dictionnaire tel qu'imprimé (la typographie des blocs a changé ses apostrophes finales, pas sa forme)
    assert "administratif de Toulouse’, 'adresse’: ['68 rue Raymond IV’]}" in vus["structure-donnees"]["extrait"]
    assert "article 42" in vus["renvoi-article-absent"]["extrait"] and vus["renvoi-article-absent"]["detail"] == "CCAP sans article 42"
    assert "999 mois" in vus["valeur-sentinelle"]["extrait"]
    relecture_controle = next(c for c in annexe["controles"] if c["id"] == "relecture-pieces")
    assert relecture_controle["verdict"] == "a_verifier" and "qui rendent le texte faux" in relecture_controle["constat"]
    assert "structure-donnees" not in relecture_controle["constat"]  # vocabulaire métier : le détail est à l'article 4
    assert "pièces concernées\u00a0: CCAP" in relecture_controle["constat"]
    # la clause non vérifiée est à faire valider, avec sa note
    assert {"clause": "ccap-essai-relecture", "statut_juridique": "non_verifie"}.items() <= next(
        c for c in annexe["clauses_a_valider"] if c["clause"] == "ccap-essai-relecture").items()

    # l'annexe Word cite chaque défaut (pièce, article, extrait) ; le CSV aussi ; le manifeste les garde
    lu = Lu(sortie / "TEST-001-annexe-conformite.docx")
    lignes = [l for t in lu.tableaux for l in t if len(l) == 5 and l[0] in ("CCAP", "RC", "CCTP")]
    for d in vus.values():
        assert any(l[1] == d["article"] and l[3] == d["extrait"] for l in lignes), d
    assert "Essai de relecture (ccap-essai-relecture, v1)" in lu.tout and "Clause d'essai des tests de relecture" in lu.tout.replace("’", "'")
    rangees = list(csv.DictReader(io.StringIO((sortie / "TEST-001-annexe-conformite.csv").read_text(encoding="utf-8-sig")),
                                  delimiter=";"))
    assert {"structure-donnees", "renvoi-article-absent", "valeur-sentinelle"} <= {
        r["identifiant"] for r in rangees if r["rubrique"] == "relecture"}
    manifeste = json.loads((sortie / "TEST-001-manifeste.json").read_text(encoding="utf-8"))
    assert manifeste["conformite"]["etat"] == "a_verifier"
    assert len(manifeste["conformite"]["relecture"]) == manifeste["conformite"]["defauts_relecture"] == len(annexe["relecture"])

    strict = tmp_path / "strict"
    resultat = CliRunner().invoke(main, ["--catalogue", str(racine), "generer", str(fichier), "-o", str(strict), "--strict"])
    assert resultat.exit_code == 2, resultat.output
    assert "Structure de données imprimée" in resultat.output and "999 mois" in resultat.output
    assert "aucun document n'a été écrit" in resultat.output and not strict.exists()


# --- Les exemples -----------------------------------------------------------------------------------------------

# Défauts relevés par la relecture juridique de décembre 2026 (issue 14) : tant que le texte est là, la règle le voit.
DEFAUTS_CONNUS = [
    ("CCAP", r"\{'nom': '", "structure-donnees"),
    ("RC", r"\[adresse du profil d.acheteur[^\]]*à compléter\]", "a-completer"),
    ("CCAP", r"SIRET de l'acheteur à indiquer est le \.", "valeur-vide"),
    ("CCAP", r"supérieure à 999 mois", "valeur-sentinelle"),
    ("CCAP", r"assuré par Direction", "article-devant-organisme"),
    ("RC", r"en annexe du CCTP", "renvoi-annexe-absente"),
]


@pytest.mark.parametrize("exemple", ["travaux-lycee", "restauration-lycees", "nettoyage-hotel-region", "amp-espaces-verts"])
def test_exemples_la_relecture_voit_chaque_defaut_et_l_annexe_le_dit(exemples_generes, exemple):
    analyse = preparer(RACINE / "exemples" / f"{exemple}.yaml", RACINE)
    conformite = controler(analyse)
    for piece, motif, regle in DEFAUTS_CONNUS:
        texte = texte_blocs(blocs_document(analyse, piece)[0])
        for m in re.finditer(motif, texte):
            assert any(d.regle == regle and d.piece == piece for d in conformite.defauts), (piece, m.group(0))

    fichiers = exemples_generes[exemple]
    annexe = json.loads(next(p for n, p in fichiers.items() if n.endswith("annexe-conformite.json")).read_text(encoding="utf-8"))
    assert annexe["relecture"] == [d.en_json() for d in conformite.defauts]
    if not annexe["relecture"]:
        return
    # tant qu'un défaut existe, l'annexe n'est pas « conforme », et elle cite chacun : pièce, article, extrait
    assert annexe["synthese"]["etat"] != "conforme" and not annexe["synthese"]["texte"].startswith("Conforme")
    assert f"{len(annexe['relecture'])}{NBSP}défaut" in annexe["synthese"]["texte"]
    lu = Lu(next(p for n, p in fichiers.items() if n.endswith("annexe-conformite.docx")))
    cites = {(l[0], l[1], l[3]) for t in lu.tableaux for l in t if len(l) == 5}
    for d in annexe["relecture"]:
        assert (d["piece"], d["article"].replace("'", "’"), d["extrait"]) in cites or \
            (d["piece"], d["article"], d["extrait"]) in cites, d


# --- Le statut juridique des clauses se voit : annexe, dce expliquer, page de la consultation -----------------


def test_clauses_a_faire_valider_dans_expliquer_et_la_page_web(tmp_path, exemples_generes):
    from generateur.droit.explication import clauses_a_valider

    fichier = RACINE / "exemples" / "amp-espaces-verts.yaml"
    a_valider = clauses_a_valider(preparer(fichier, RACINE))
    partielle = next(s for s in a_valider if s.clause.statut_juridique == "partiel" and s.clause.note_juridique)
    assert all(s.retenue and s.clause.statut_juridique in ("partiel", "non_verifie") for s in a_valider)

    resultat = CliRunner().invoke(main, ["--catalogue", str(RACINE), "expliquer", str(fichier)])
    assert resultat.exit_code == 0, resultat.output
    section = resultat.output.split(f"Clauses à faire valider par le service juridique ({len(a_valider)})\n", 1)[1]
    assert f"{partielle.clause.document} {partielle.numero} {partielle.clause.titre} ({partielle.clause.id}, " \
           f"v{partielle.clause.version}) : source partiellement vérifiée" in section.replace(NBSP, " ")
    assert " ".join(partielle.clause.note_juridique.split())[:60].replace("'", "’") in section.replace(NBSP, " ")

    annexe = json.loads(next(p for n, p in exemples_generes["amp-espaces-verts"].items()
                             if n.endswith("annexe-conformite.json")).read_text(encoding="utf-8"))
    assert [c["clause"] for c in annexe["clauses_a_valider"]] == [s.clause.id for s in a_valider]

    pytest.importorskip("flask")
    from generateur.interfaces.web import create_app

    dossier = tmp_path / "consultations"
    copier_exemple(fichier, dossier / "AMP" / "reponses.yaml")  # avec le texte technique de chaque lot
    page = create_app(RACINE, dossier).test_client().get("/consultation/AMP")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Clauses à faire valider par le service juridique" in html
    assert f"<code>{partielle.clause.id}</code>" in html and "partiellement vérifiée" in html
    # la section des défauts de relecture paraît s'il y en a ; les valeurs que le profil de la Métropole laisse à
    # compléter (SIRET, adresse du profil d'acheteur) sont le point « profil de l'acheteur » des contrôles
    assert ("Relecture des pièces" in html) == bool(annexe["relecture"])
    assert "Valeurs manquantes dans le profil de l’acheteur, surlignées en jaune dans les pièces" in html
    # chaque verdict conforme avec sa preuve : pièce, article, extrait cité
    conformes = [c for c in annexe["controles"] if c["verdict"] == "conforme" and c["preuves"][0]["piece"]]
    assert conformes and all(f"{c['preuves'][0]['piece']}, article {c['preuves'][0]['article']}&nbsp;: <q>" in html
                             for c in conformes)


# --- L'annexe contrôle le contenu -----------------------------------------------------------------------------


def test_lot_sans_contenu_propre_au_cctp_et_refus_a_justifier(tmp_path):
    """Deux lots que seul le tableau des lots du CCTP décrit ; une consultation sans allotissement ni motif."""
    analyse = preparer(ecrire(tmp_path, reponses(), "lots.yaml"), RACINE)
    v = {v.id: v for v in controler(analyse).verdicts}
    assert v["coherence-lots"].statut == "conforme"
    assert v["lots-contenu-cctp"].statut == "a_verifier"
    assert "lots 1 et 2" in v["lots-contenu-cctp"].message

    seul = reponses(lots=[{"numero": 1, "intitule": "Papier", "montant_estime": 300000}])
    v = {v.id: v for v in controler(preparer(ecrire(tmp_path, seul, "seul.yaml"), RACINE)).verdicts}
    assert v["options-imposees"].statut == "a_verifier"
    assert "Découper la consultation en lots" in v["options-imposees"].message
    assert "motiver le refus dans la réponse « Motifs de l’absence d’allotissement »" in v["options-imposees"].message.replace("\u00a0", " ")
    justifie = {**seul, "justifications": {"absence_allotissement": "Prestation indivisible sur un site unique.",
                                           "absence_clause_sociale": "Fournitures livrées sans main-d'œuvre sur site."}}
    v = {v.id: v for v in controler(preparer(ecrire(tmp_path, justifie, "justifie.yaml"), RACINE)).verdicts}
    assert v["options-imposees"].statut == "conforme"
    assert "Prestation indivisible sur un site unique." in v["options-imposees"].preuves[0]["extrait"]


def test_preuve_introuvable_rend_le_verdict_a_verifier(tmp_path):
    """Un contrôle « conforme » dont le texte attendu manque à la pièce n'est pas conforme : il est à vérifier."""
    racine = catalogue_modifie(tmp_path, 'texte: "{{ delai_paiement }} jours"',
                                                         'texte: "{{ delai_paiement }} jours francs"')
    v = {v.id: v for v in controler(preparer(ecrire(tmp_path, reponses()), racine)).verdicts}
    assert v["delai-paiement"].statut == "a_verifier" and v["delai-paiement"].preuves == []
    assert "Preuve introuvable dans les pièces" in v["delai-paiement"].message and "ccap-paiement" in v["delai-paiement"].message
    v = {v.id: v for v in controler(preparer(ecrire(tmp_path, reponses(), "b.yaml"), RACINE)).verdicts}
    assert v["delai-paiement"].statut == "conforme"
    assert v["delai-paiement"].preuves[0]["piece"] == "CCAP" and f"30{NBSP}jours" in v["delai-paiement"].preuves[0]["extrait"]


def test_condition_sociale_exigee_lot_par_lot(tmp_path):
    """Au-delà du seuil européen, un lot sans condition sociale rend le contrôle non conforme, même si un autre
    lot en porte une ; la justification enregistrée le rend « justifié »."""
    donnees = reponses(nature="services", categorie="nettoyage", cpv="90910000-9",
                       spaser={"insertion": {"actif": True, "facilitateur": "PLIE du Grand Narbonne"}},
                       lots=[{"numero": 1, "intitule": "Bâtiment A", "montant_estime": 200000},
                             {"numero": 2, "intitule": "Bâtiment B", "montant_estime": 150000, "insertion": False}])
    v = {v.id: v for v in controler(preparer(ecrire(tmp_path, donnees), RACINE)).verdicts}
    assert v["condition-sociale"].statut == "non_conforme"
    assert "aucune condition d’exécution sociale pour le lot 2," in v["condition-sociale"].message
    donnees["justifications"] = {"absence_clause_sociale": "Lot 2 : deux interventions annuelles de quelques heures."}
    v = {v.id: v for v in controler(preparer(ecrire(tmp_path, donnees, "j.yaml"), RACINE)).verdicts}
    assert v["condition-sociale"].statut == "justifie"
    del donnees["lots"][1]["insertion"]
    v = {v.id: v for v in controler(preparer(ecrire(tmp_path, donnees, "tous.yaml"), RACINE)).verdicts}
    assert v["condition-sociale"].statut == "conforme" and len(v["condition-sociale"].preuves) >= 1


def test_publier_relit_aussi_ae_cadre_de_memoire_et_bordereau(tmp_path):
    """Avec les pièces de `dce publier` : chaque AE, le cadre de mémoire et le bordereau sont relus ; un formulaire
    « À compléter par le candidat » n'est pas un gabarit oublié."""
    analyse = preparer(ecrire(tmp_path, reponses()), RACINE)
    sans = controler(analyse)
    avec = controler(analyse, complementaires=True)
    relues = set(avec.faits["pieces_relues"])
    assert {"Acte d'engagement – lot 1", "Acte d'engagement – lot 2", "Cadre de mémoire technique",
            "Bordereau des prix"} <= relues and not relues & {"Acte d'engagement – lot 1"} & set(sans.faits["pieces_relues"])
    assert not any(d.regle == "a-completer" and "candidat" in d.extrait for d in avec.defauts)
    assert all(d.piece in relues for d in avec.defauts)


def test_liste_des_consultations_ne_dit_pas_conforme_avec_des_points_a_verifier():
    pytest.importorskip("flask")
    from generateur.interfaces.web.consultations import statut_conformite

    assert statut_conformite({"conformite": {"obligations_non_respectees": [], "controles_a_verifier": ["relecture-pieces"],
                                             "controles": 16}}) == (f"À vérifier{NBSP}: 1 point", "a_verifier")
    assert statut_conformite({"conformite": {"obligations_non_respectees": [], "controles_a_verifier": [],
                                             "controles": 16}})[1] == "conforme"


def test_verification_sans_ses_options_refusee(tmp_path):
    racine = catalogue_modifie(tmp_path, '''    formes:
      droite: "'"
      typographique: "’"
''', "")
    problemes = [str(p) for p in relecture.verifier_regles(racine)]
    assert len(problemes) == 1 and "la vérification « melange » demande « formes »" in problemes[0], problemes


def test_pieces_ecartees_mal_ecrites_refusees(tmp_path):
    """`sauf_pieces` est une liste de noms de pièces : un texte seul est refusé, avec la ligne de la règle."""
    racine = catalogue_modifie(tmp_path, 'sauf_pieces: ["Fiche de traçabilité", "Annexe de conformité"]',
                               'sauf_pieces: "Annexe de conformité"')
    problemes = [str(p) for p in relecture.verifier_regles(racine)]
    assert len(problemes) == 1 and "« sauf_pieces »" in problemes[0] and "ligne" in problemes[0], problemes


def catalogue_avec_clause_d_essai(tmp_path: Path, note: str, texte: str) -> Path:
    """Une copie du catalogue avec la clause d'essai du CCAP (non vérifiée), sa note juridique et son texte."""
    racine = copie_catalogue(tmp_path)
    clause = CLAUSE_FAUTIVE.split("---\n")[1].replace(
        "note_juridique: \"Clause d'essai des tests de relecture.\"", f"note_juridique: \"{note}\"")
    (racine / "clauses" / "ccap" / "ccap-essai-relecture.md").write_text(f"---\n{clause}---\n{texte}\n", encoding="utf-8")
    return racine


def test_defauts_des_documents_internes_ne_bloquent_pas_strict(tmp_path):
    """L'annexe est relue (hors ses citations) : une note juridique restée en gabarit, qu'elle reprend, y est vue
    « à vérifier » ; seuls les défauts des pièces remises aux candidats font refuser --strict."""
    racine = catalogue_avec_clause_d_essai(tmp_path, "Source : [référence à compléter].",
                                           "Le titulaire remet un rapport annuel.")
    conformite = controler(preparer(ecrire(tmp_path, reponses()), racine))
    vu = [d for d in conformite.defauts if d.piece == "Annexe de conformité" and d.regle == "a-completer"]
    assert vu and "[référence à compléter]" in vu[0].extrait and not vu[0].bloquant
    assert not any(d.bloquant for d in conformite.defauts if d.piece in ("Fiche de traçabilité", "Annexe de conformité"))
    assert not any("référence à compléter" in m for m in conformite.refus_strict)


def test_mention_d_outil_interne_vue_dans_l_annexe_et_identifiant_de_clause_dans_le_ccap(tmp_path):
    """Une note juridique qui renvoie à la base documentaire interne (« droit.md », statut PARTIAL), reprise par
    l'annexe, y est vue ; un identifiant de clause dans le texte du CCAP est vu dans le CCAP, pas dans la fiche ni
    dans l'annexe, qui citent chaque clause par son identifiant."""
    racine = catalogue_avec_clause_d_essai(tmp_path, "R2111-16 non lu (droit.md § 6, PARTIAL).",
                                           "Les pénalités sont celles de la clause ccap-penalites-execution.")
    analyse = preparer(ecrire(tmp_path, reponses()), racine)
    conformite = controler(analyse)
    outil = [d for d in conformite.defauts if d.regle == "mention-outil-interne"]
    assert [d.piece for d in outil] == ["Annexe de conformité"], outil
    assert "droit.md § 6, PARTIAL" in outil[0].extrait and not outil[0].bloquant
    assert outil[0].article.endswith("Clauses à faire valider par le service juridique")
    identifiants = [d for d in conformite.defauts if d.regle == "identifiant-de-clause"]
    assert [(d.piece, d.extrait) for d in identifiants] == [
        ("CCAP", "Les pénalités sont celles de la clause ccap-penalites-execution.")], identifiants
    # la fiche et l'annexe citent bien des identifiants de clauses (celle d'essai à faire valider) : la règle les
    # écarte, elle n'y est pas muette faute de texte
    assert re.search(r"\((?:rc|ccap|cctp)-[a-z-]+, v\d+\)", texte_blocs(fiche_de_tracabilite(analyse)[0]))
    assert "(ccap-essai-relecture, v1)" in texte_blocs(annexe.blocs(analyse, conformite)[0])


@pytest.mark.parametrize("exemple", ["travaux-lycee", "restauration-lycees", "nettoyage-hotel-region", "amp-espaces-verts"])
def test_exemples_sans_mention_d_outil_interne(exemples_generes, exemple):
    """Ni la base documentaire interne, ni un statut en anglais, ni un fichier de l'outil dans les pièces des
    exemples, annexe comprise (notes des clauses à faire valider) ; les identifiants de clauses restent à la fiche
    et à l'annexe."""
    fichiers = exemples_generes[exemple]
    annexe = json.loads(next(p for n, p in fichiers.items() if n.endswith("annexe-conformite.json")).read_text(encoding="utf-8"))
    assert not [d for d in annexe["relecture"] if d["regle"] in ("mention-outil-interne", "identifiant-de-clause")]
    for nom, chemin in fichiers.items():
        if nom.endswith(".docx"):
            tout = Lu(chemin).tout
            assert not re.search(r"droit\.md|VERIFIED|PARTIAL", tout), nom
    lu = Lu(next(p for n, p in fichiers.items() if n.endswith("annexe-conformite.docx")))
    if annexe["clauses_a_valider"]:
        assert "à vérifier sur Légifrance" in lu.tout.replace("\u00a0", " ")
    # dce expliquer montre les mêmes notes
    resultat = CliRunner().invoke(main, ["--catalogue", str(RACINE), "expliquer", str(RACINE / "exemples" / f"{exemple}.yaml")])
    assert resultat.exit_code == 0 and "note :" in resultat.output.replace("\u00a0", " "), resultat.output
    assert not re.search(r"droit\.md|VERIFIED|PARTIAL", resultat.output)

def test_regenerer_relit_aussi(tmp_path):
    """`dce regenerer` passe par la même génération : le manifeste et l'annexe de la version portent la relecture."""
    dossier = tmp_path / "consultations"
    copier_exemple(RACINE / "exemples" / "amp-espaces-verts.yaml", dossier / "AMP" / "reponses.yaml")
    resultat = CliRunner().invoke(main, ["--catalogue", str(RACINE), "regenerer", str(dossier), "--jobs", "1"])
    assert resultat.exit_code in (0, 1), resultat.output
    manifeste = json.loads(next((dossier / "AMP" / "versions" / "001").glob("*-manifeste.json")).read_text(encoding="utf-8"))
    annexe = json.loads(next((dossier / "AMP" / "versions" / "001").glob("*-annexe-conformite.json")).read_text(encoding="utf-8"))
    assert manifeste["conformite"]["relecture"] == annexe["relecture"]
    assert manifeste["conformite"]["defauts_relecture"] == len(annexe["relecture"])
    verdict = next(c for c in annexe["controles"] if c["id"] == "relecture-pieces")
    assert verdict["verdict"] == ("a_verifier" if annexe["relecture"] else "conforme")
    assert {d["piece"] for d in annexe["relecture"]} <= {"RC", "CCAP", "CCTP", "Fiche de traçabilité",
                                                         "Annexe de conformité"}


def test_condition_sociale_de_produits_ne_couvre_que_les_lots_qui_les_livrent(tmp_path):
    """Restauration au-delà du seuil européen : le commerce équitable ne touche que le lot qui livre café, thé…
    (lot 3) ; sans la condition d'égalité professionnelle de l'exemple, les autres lots restent sans condition
    sociale effective et l'annexe ne dit pas « conforme »."""
    import yaml

    donnees = yaml.safe_load((RACINE / "exemples" / "restauration-lycees.yaml").read_text(encoding="utf-8"))
    analyse = preparer(RACINE / "exemples" / "restauration-lycees.yaml", RACINE)
    assert [l["numero"] for l in analyse.contexte["lots"] if l["commerce_equitable_lot"]] == [3]
    assert {v.id: v for v in controler(analyse).verdicts}["condition-sociale"].statut == "conforme"
    del donnees["spaser"]["egalite"]
    v = {v.id: v for v in controler(preparer(ecrire(tmp_path, donnees), RACINE)).verdicts}
    assert v["condition-sociale"].statut == "non_conforme"
    assert "aucune condition d’exécution sociale pour les lots 1, 2, 4 et 5," in v["condition-sociale"].message


def test_variantes_conformes_citent_leurs_exigences_minimales(tmp_path):
    donnees = reponses(variantes={"autorisees": True, "exigences_minimales": "Conditionnement en vrac uniquement."})
    v = {v.id: v for v in controler(preparer(ecrire(tmp_path, donnees), RACINE)).verdicts}
    assert v["variantes"].statut == "conforme"
    assert v["variantes"].preuves[0]["piece"] == "RC"
    assert "exigences minimales suivantes" in v["variantes"].preuves[0]["extrait"]
    assert v["variantes-exigences"].statut == "conforme"
    assert "«\u00a0Conditionnement en vrac uniquement\u00a0»" in v["variantes-exigences"].preuves[0]["extrait"]
    sans = reponses(variantes={"autorisees": True})
    v = {v.id: v for v in controler(preparer(ecrire(tmp_path, sans, "sans.yaml"), RACINE)).verdicts}
    assert v["variantes-exigences"].statut == "a_verifier"
    assert "« Exigences minimales des variantes »" in v["variantes-exigences"].message.replace(NBSP, " ")


def test_critere_absent_du_rc_ou_du_cadre_de_memoire(tmp_path, monkeypatch):
    """Un critère que le cadre de mémoire ne reprend pas (ou pas avec sa pondération), ou que le RC n'annonce pas,
    rend le contrôle « à vérifier » ; sinon il est conforme et cite le RC."""
    from generateur.pieces import memoire

    analyse = preparer(ecrire(tmp_path, reponses()), RACINE)
    v = {v.id: v for v in controler(analyse).verdicts}
    assert v["criteres-pieces"].statut == "conforme"
    assert v["criteres-pieces"].preuves[0]["piece"] == "RC"
    assert "rubrique « Performance environnementale » (40" in v["criteres-pieces"].preuves[-1]["extrait"].replace(NBSP, " ")

    origine = memoire.blocs_cadre
    monkeypatch.setattr(memoire, "blocs_cadre", lambda a: ([b for b in origine(a)[0] if not (
        isinstance(b, Titre) and "Performance environnementale" in b.texte)], []))
    v = {v.id: v for v in controler(analyse).verdicts}
    assert v["criteres-pieces"].statut == "a_verifier"
    assert "« Performance environnementale » : Cadre de mémoire technique" in v["criteres-pieces"].message.replace(NBSP, " ")
    corps = {doc: blocs_document(analyse, doc)[0] for doc in ("CCAP", "CCTP")}
    v = {v.id: v for v in controler(analyse, {**corps, "RC": []}).verdicts}
    assert "« Prix » : RC" in v["criteres-pieces"].message.replace(NBSP, " ")


def test_petits_restes_reservation_derogations_et_expliquer(tmp_path):
    """Un seul lot réservé sur deux : « Le lot n° 1 est réservé » (pas « Les lots n° 1 sont ») ; récapitulatif des
    dérogations dans l'ordre des articles du CCAP ; `dce expliquer` montre l'index d'un lot, pas « ? »."""
    donnees = reponses(spaser={"reserve": "ea_esat"})
    donnees["lots"][1]["reserve"] = False
    analyse = preparer(ecrire(tmp_path, donnees), RACINE)
    ccap = texte_blocs(blocs_document(analyse, "CCAP")[0]).replace(NBSP, " ")
    assert "Le lot n° 1 est réservé en application" in ccap and "Les lots n° 1 sont" not in ccap

    travaux = preparer(RACINE / "exemples" / "travaux-lycee.yaml", RACINE)
    numeros = [tuple(int(x) for x in d["article_ccap"].split(".")) for d in travaux.derogations]
    assert len(numeros) >= 3 and numeros == sorted(numeros)
    tableau = next(b for b in reversed(blocs_document(travaux, "CCAP")[0]) if isinstance(b, Tableau))
    lus = [texte_blocs([Paragraphe(l[0])]) for l in tableau.lignes[1:]]
    assert lus == [d["article_ccap"] for d in travaux.derogations]

    resultat = CliRunner().invoke(main, ["--catalogue", str(RACINE), "expliquer", str(RACINE / "exemples" / "travaux-lycee.yaml")])
    assert resultat.exit_code == 0, resultat.output
    assert "index_lot = [code : « BT03 », part : 50 ; code : « BT06 », part : 50]" in resultat.output.replace(NBSP, " ")
    assert "« ? »" not in resultat.output


def test_renvoi_contenu_sans_contenus_valides_refuse(tmp_path):
    racine = catalogue_modifie(tmp_path, '"performances?": "performances?"', '"performances?": "(performances"')
    problemes = [str(p) for p in relecture.verifier_regles(racine)]
    assert len(problemes) == 1 and "la vérification « renvoi-contenu » demande « contenus »" in problemes[0], problemes
    assert "catalogue.yaml, ligne" in problemes[0]


@pytest.mark.parametrize("phrase, vu", [
    ("Les montants par défaut sont ceux de catalogue.yaml.", True),
    ("Voir la clause clauses/ccap/ccap-avance.md du catalogue.", True),
    ("Calcul fait par generateur/droit/regles.py.", True),
    ("Texte lu (VERIFIED).", True),
    # le nom du fichier du texte technique que l'acheteur a importé est une information, pas du jargon
    ("Texte technique importé de « cctp/travaux-lycee-lot-1-gros-oeuvre.md ».", False),
])
def test_mention_d_outil_interne_fichiers_de_l_outil_seulement(phrase, vu):
    pieces = {nom: piece_propre(nom, phrase if nom == "CCAP" else None) for nom in ("RC", "CCAP", "CCTP")}
    assert ("mention-outil-interne" in {d.regle for d in relire(pieces)}) is vu
