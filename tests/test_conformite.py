"""Annexe de conformité : contrôles juridiques (données du catalogue), verdicts, annexe Word/JSON/CSV, codes de sortie."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import RACINE, Lu, ecrire, reponses
from test_robustesse import _copie_catalogue as copie_catalogue, catalogue_modifie
from generateur.interfaces.cli import main
from generateur.pieces.lecture import controler as verifier
from generateur.droit.regles import preparer

SCHEMA_DECP = RACINE / "generateur" / "pieces" / "decp_schema" / "schema-decp-v2.0.3.json"  # copie de shared/data/decp
INSERTION = {"insertion": {"actif": True, "facilitateur": "PLIE du Grand Narbonne"}}
PRIX_SEUL = [{"intitule": "Prix", "ponderation": 100, "type": "prix"}]


def verdicts(tmp_path: Path, racine: Path = RACINE, **modifs) -> dict[str, object]:
    """Verdicts (id → Verdict) d'une consultation ; les contrôles du catalogue appliqués aux pièces rendues."""
    fichier = ecrire(tmp_path, reponses(**modifs), f"r{len(list(tmp_path.glob('r*.yaml')))}.yaml")
    return {v.id: v for v in verifier(preparer(fichier, racine)).verdicts}


def _apos(texte: str) -> str:
    """Texte comparable entre le JSON (textes du catalogue tels quels) et le Word, dont la typographie est refaite."""
    return texte.replace("’", "'").replace("\u00a0", " ")


def dce(*arguments: str):
    return CliRunner().invoke(main, ["--catalogue", str(RACINE), *arguments])


# --- Les exemples ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("exemple", ["travaux-lycee", "restauration-lycees", "nettoyage-hotel-region", "amp-espaces-verts"])
def test_annexe_des_exemples_chaque_verdict_avec_sa_preuve(exemples_generes, exemple):
    fichiers = exemples_generes[exemple]
    annexe = json.loads(next(p for n, p in fichiers.items() if n.endswith("annexe-conformite.json"))
                        .read_text(encoding="utf-8"))
    assert annexe["synthese"]["obligations_non_respectees"] == [], annexe["controles"]
    manifeste = json.loads(next(p for n, p in fichiers.items() if n.endswith("manifeste.json")).read_text(encoding="utf-8"))
    assert manifeste["conformite"]["non_conforme"] == 0
    assert any(n.endswith("annexe-conformite.docx") for n in manifeste["fichiers"])  # l'annexe est empreintée

    lu = Lu(next(p for n, p in fichiers.items() if n.endswith("annexe-conformite.docx")))
    assert lu.titres(1)[:5] == ["Article 1 – Synthèse", "Article 2 – Consultation", "Article 3 – Contrôles juridiques",
                                "Article 4 – Relecture des pièces",
                                "Article 5 – Clauses à faire valider par le service juridique"]
    # chaque obligation : libellé, articles, verdict, constat et preuve, sur une même ligne du tableau des contrôles
    # le Word a l'apostrophe typographique (l'annexe est relue elle-même) ; le JSON garde les textes du catalogue
    lignes = {_apos(l[0].removesuffix(" (bonne pratique)")): l for t in lu.tableaux for l in t if len(l) == 5}
    csv_controles = {r["identifiant"]: r for r in csv.DictReader(io.StringIO(
        next(p for n, p in fichiers.items() if n.endswith("annexe-conformite.csv")).read_text(encoding="utf-8-sig")),
        delimiter=";") if r["rubrique"] == "controle"}
    for c in annexe["controles"]:
        ligne = lignes[_apos(c["libelle"])]
        assert ligne[1] == ", ".join(c["articles"]) and ligne[2] == c["verdict_libelle"]
        assert _apos(ligne[3]) == _apos(c["constat"])
        assert c["constat"], c["id"]
        if c["verdict"] == "conforme":  # la preuve : pièce, article et texte cité, dans Word, JSON et CSV
            assert c["preuves"] and all(p["piece"] and p["article"] and p["extrait"] for p in c["preuves"]), c
            for p in c["preuves"]:
                assert _apos(p["extrait"]) in _apos(ligne[4]) and p["extrait"] in csv_controles[c["id"]]["preuve"], (c["id"], p)
                lieu = f"article {p['article']}" if p["article"][0].isdigit() else p["article"]  # « rubriques notées »
                assert _apos(f"{p['piece']}, {lieu}\u00a0: ") in _apos(ligne[4]), (c["id"], ligne[4])
        else:
            assert c["preuves"] == [] and ligne[4] == ""
    # une pièce jointe n'est jamais « Conforme » sur sa seule présence : l'outil ne lit pas son contenu (RAPPORT S2)
    controles = {c["id"]: c for c in annexe["controles"]}
    if exemple == "travaux-lycee":
        assert controles["pieces-travaux"]["verdict_libelle"] == "À vérifier"
        assert controles["pieces-travaux"]["constat"].startswith("À vérifier\u00a0: contenu non contrôlé par l’outil.")
    # vocabulaire métier : ni fichier de l'outil, ni commande, ni nom de paramètre interne (RAPPORT S7)
    assert not re.search(r"catalogue\.yaml|acheteur\.yaml|questionnaire\.yaml|--strict|\bdce (?:generer|verifier)\b"
                         r"|\b[a-z]+_[a-z0-9]+(?:_[a-z0-9]+)*\b|\(ccap-[a-z-]+\)|clause ccap-", lu.texte), \
        re.search(r".{60}(?:catalogue\.yaml|acheteur\.yaml|questionnaire\.yaml|--strict|\bdce (?:generer|verifier)\b"
                  r"|\b[a-z]+_[a-z0-9]+(?:_[a-z0-9]+)*\b|\(ccap-[a-z-]+\)|clause ccap-).{40}", lu.texte)
    # chaque action du SPASER : document, article et clause (version) dans l'annexe du juriste
    actions = {(l[0].split(" – ")[0], l[1], _apos(l[2])) for t in lu.tableaux for l in t if len(l) == 5}  # (et contrôles)
    for a in annexe["actions_spaser"]:
        assert (a["action"], f"{a['document']}, article {a['article']}",
                _apos(f"{a['clause_titre']} ({a['clause']}, v{a['version']})")) in actions, a
        assert a["axe"]["titre"] and a["chantier"]["titre"] and a["references"]
    assert {a["action"] for a in annexe["actions_spaser"]} == set(manifeste["actions_spaser"])
    # seules les actions mises en œuvre au-delà du droit y sont comptées ; obligations légales et rappels à part
    assert {a["niveau"] for a in annexe["actions_spaser"]} <= {"mise_en_oeuvre"}
    assert {a["niveau"] for a in annexe["obligations_legales_spaser"]} == {"obligation_legale"}
    assert {a["action"] for a in annexe["obligations_legales_spaser"]} == \
        set(manifeste["actions_spaser_par_niveau"]["obligation_legale"])
    assert "rc-probite" not in {a["clause"] for a in annexe["actions_spaser"]}
    assert "rc-probite" in {a["clause"] for a in annexe["rappels_spaser"]}
    assert "Obligations légales et rappels rattachés au SPASER" in lu.texte
    # CCAG : le libellé des données essentielles, jamais le code interne
    assert annexe["consultation"]["ccag"] in ("Travaux", "Fournitures courantes et services"), annexe["consultation"]
    # DECP : mêmes valeurs que le manifeste, dans la forme du schéma 2.x
    # (le manifeste les donne lot par lot : l'annexe, pour la consultation, en est la réunion)
    pas = "Pas de considération sociale"
    sociales = {v for d in manifeste["decp"] for v in d["considerationsSociales"]["considerationSociale"]} - {pas}
    assert set(annexe["decp"]["considerationsSociales"]["considerationSociale"]) == (sociales or {pas})


def test_valeurs_decp_conformes_au_schema(tmp_path):
    import jsonschema
    definitions = json.loads(SCHEMA_DECP.read_text(encoding="utf-8"))["definitions"]["marche"]["properties"]
    fichier = ecrire(tmp_path, reponses(nature="services", categorie="nettoyage", cpv="90910000-9", spaser=INSERTION))
    resultat = dce("annexe", str(fichier), "--sortie", str(tmp_path / "sortie"))
    assert resultat.exit_code == 0, resultat.output
    annexe = json.loads((tmp_path / "sortie" / "TEST-001-annexe-conformite.json").read_text(encoding="utf-8"))
    schema = json.loads(SCHEMA_DECP.read_text(encoding="utf-8"))
    for champ in ("considerationsSociales", "considerationsEnvironnementales"):
        jsonschema.validate(annexe["decp"][champ], {**definitions[champ], "definitions": schema["definitions"]})
    assert annexe["decp"]["considerationsSociales"]["considerationSociale"] == ["Clause sociale"]
    assert set(annexe["decp"]["considerationsEnvironnementales"]["considerationEnvironnementale"]) == {
        "Clause environnementale", "Critère environnemental"}
    assert sorted(p.name for p in (tmp_path / "sortie").iterdir()) == [
        "TEST-001-annexe-conformite.csv", "TEST-001-annexe-conformite.docx", "TEST-001-annexe-conformite.json"]


# --- Loi Climat et Résilience : de part et d'autre du 21-22 août 2026 -------------------------------------------


def test_critere_environnemental_selon_la_date_de_lancement(tmp_path):
    avant = verdicts(tmp_path, date_lancement="2026-08-20", date_limite_offres="2026-10-01 12:00", criteres=PRIX_SEUL)
    assert avant["critere-environnemental"].statut == "sans_objet"
    assert "20\u00a0août 2026" in avant["critere-environnemental"].message
    assert avant["condition-environnementale"].statut == "sans_objet"

    veille = verdicts(tmp_path, date_lancement="2026-08-21", date_limite_offres="2026-10-01 12:00")
    assert veille["critere-environnemental"].statut == "conforme"
    assert "21\u00a0août 2026" in veille["critere-environnemental"].message  # cas limite signalé (R2152-7 / L2152-7)

    apres = verdicts(tmp_path, date_lancement="2026-08-22", date_limite_offres="2026-10-01 12:00", criteres=PRIX_SEUL)
    v = apres["critere-environnemental"]
    assert v.statut == "non_conforme" and v.obligatoire and v.articles == ["CCP L2152-7", "CCP R2152-7"]
    assert "« Prix »" not in v.message and "Prix" in v.message
    assert apres["condition-environnementale"].statut == "conforme"
    assert "CCAP article 5.1 «\u00a0Condition d’exécution environnementale\u00a0»" in apres["condition-environnementale"].message


def test_condition_sociale_de_part_et_d_autre_du_seuil_europeen(tmp_path):
    """Fournitures et services 2026 : seuil de 216 000 € HT ; l'obligation vaut dès que le montant l'atteint."""
    sous = verdicts(tmp_path, lots=[{"numero": 1, "intitule": "Papier", "montant_estime": 215999}])
    assert sous["condition-sociale"].statut == "sans_objet"
    assert "215\u00a0999,00\u00a0€\u00a0HT inférieur au seuil européen 216\u00a0000,00\u00a0€\u00a0HT" in sous["condition-sociale"].message

    au_seuil = verdicts(tmp_path, lots=[{"numero": 1, "intitule": "Papier", "montant_estime": 216000}])
    v = au_seuil["condition-sociale"]
    assert v.statut == "non_conforme" and v.articles == ["CCP L2112-2-1"]
    assert au_seuil["procedure-seuils"].statut == "conforme"  # appel d'offres ouvert

    justifie = verdicts(tmp_path, lots=[{"numero": 1, "intitule": "Papier", "montant_estime": 216000}],
                        justifications={"absence_clause_sociale": "Fournitures livrées sur catalogue, sans main-d'œuvre sur site."})
    assert justifie["condition-sociale"].statut == "justifie"
    assert "sans main-d’œuvre sur site" in justifie["condition-sociale"].message

    avec = verdicts(tmp_path, lots=[{"numero": 1, "intitule": "Papier", "montant_estime": 216000}], spaser=INSERTION)
    assert avec["condition-sociale"].statut == "conforme"
    assert "«\u00a0Action d’insertion professionnelle\u00a0»" in avec["condition-sociale"].message

    avant_la_loi = verdicts(tmp_path, date_lancement="2026-06-01", date_limite_offres="2026-07-15 12:00",
                            lots=[{"numero": 1, "intitule": "Papier", "montant_estime": 400000}])
    assert avant_la_loi["condition-sociale"].statut == "sans_objet"
    assert "avant le 22\u00a0août 2026" in avant_la_loi["condition-sociale"].message


def test_procedure_adaptee_au_dela_du_seuil_et_ponderation(tmp_path):
    v = verdicts(tmp_path, procedure_choisie="procedure_adaptee", spaser=INSERTION,
                 lots=[{"numero": 1, "intitule": "Papier", "montant_estime": 300000}])
    assert v["procedure-seuils"].statut == "non_conforme"
    assert "300\u00a0000,00\u00a0€\u00a0HT" in v["procedure-seuils"].message
    assert v["ponderation"].statut == "sans_objet"  # procédure adaptée : pondération non exigée
    formalisee = verdicts(tmp_path)  # 180 000 € HT, critères pondérés 60/40
    assert formalisee["ponderation"].statut == "sans_objet"
    aoo = verdicts(tmp_path, procedure_choisie="appel_offres_ouvert")
    assert aoo["ponderation"].statut == "conforme" and "total 100\u00a0%" in aoo["ponderation"].message


def test_variantes_avance_retenue_paiement(tmp_path):
    v = verdicts(tmp_path, variantes={"autorisees": False})
    assert v["variantes"].statut == "conforme" and "mention expresse du RC" in v["variantes"].message
    assert v["variantes-exigences"].statut == "sans_objet"
    defaut = verdicts(tmp_path)  # variantes de la politique d'achat, sans exigences propres : bonne pratique
    assert defaut["variantes-exigences"].statut == "a_verifier" and not defaut["variantes-exigences"].obligatoire
    avance = defaut["avance"]
    assert avance.statut == "conforme"
    assert "lot 1\u00a0: 20\u00a0% PME / 15\u00a0% autres" in avance.message and "10\u00a0% pour une PME" in avance.message
    travaux = verdicts(tmp_path, nature="travaux", categorie="batiment", cpv="45454000-4", delai_garantie_mois=12,
                       lots=[{"numero": 1, "intitule": "Gros œuvre", "montant_estime": 500000}])
    assert travaux["retenue-garantie"].statut == "conforme"
    assert "Retenue de 3\u00a0%" in travaux["retenue-garantie"].message
    assert defaut["retenue-garantie"].statut == "sans_objet"
    assert defaut["delai-paiement"].statut == "conforme" and "30 jours" in defaut["delai-paiement"].message


def test_critere_social_sans_clause_sociale(tmp_path):
    criteres = [{"intitule": "Prix", "ponderation": 50, "type": "prix"},
                {"intitule": "Performance environnementale", "ponderation": 30, "type": "environnemental"},
                {"intitule": "Insertion des salariés", "ponderation": 20, "type": "social"}]
    v = verdicts(tmp_path, criteres=criteres)
    assert v["coherence-criteres"].statut == "non_conforme"
    assert "« Insertion des salariés » sans condition d’exécution sociale".replace(" »", "\u00a0»").replace("« ", "«\u00a0") \
        in v["coherence-criteres"].message
    assert verdicts(tmp_path, criteres=criteres, spaser=INSERTION)["coherence-criteres"].statut == "conforme"


def test_controles_lus_dans_les_pieces_generees(tmp_path):
    """Les lots et les dérogations sont lus dans le CCAP rendu : une clause amputée se voit dans l'annexe."""
    racine = copie_catalogue(tmp_path)
    lots = racine / "clauses" / "ccap" / "ccap-lots.md"
    lots.write_text(lots.read_text(encoding="utf-8").replace("{{ l.intitule }}", "{{ l.intitule | upper }}"), encoding="utf-8")
    derog = racine / "clauses" / "ccap" / "ccap-derogations.md"
    texte = derog.read_text(encoding="utf-8")
    derog.write_text(texte[: texte.index("\n---", 4) + 5] + "Le CCAG s'applique.\n", encoding="utf-8")
    v = verdicts(tmp_path, racine)
    assert v["coherence-lots"].statut == "non_conforme"
    assert "RC\u00a0: 1, 2\u00a0; CCAP\u00a0: 1, 2" in v["coherence-lots"].message  # lots d'autres tableaux du CCAP
    assert "lignes divergentes\u00a0: CCAP, lot 1 «\u00a0PAPIER\u00a0»" in v["coherence-lots"].message
    assert v["derogations-ccag"].statut == "non_conforme"
    assert "Dérogations absentes du récapitulatif" in v["derogations-ccag"].message
    assert verdicts(tmp_path)["coherence-lots"].statut == "conforme"


# --- Ligne de commande : codes de sortie, --strict --------------------------------------------------------------


def test_generer_signale_l_echec_et_strict_refuse(tmp_path):
    donnees = reponses(date_lancement="2026-09-01", date_limite_offres="2026-10-15 12:00", criteres=PRIX_SEUL)
    fichier = ecrire(tmp_path, donnees)
    sortie = tmp_path / "sortie"
    resultat = dce("generer", str(fichier), "--sortie", str(sortie))
    assert resultat.exit_code == 1, resultat.output
    assert "1\u00a0non conforme," in resultat.output and "NON CONFORME" in resultat.output
    assert "CCP L2152-7" in resultat.output and "ne doit pas être publié" in resultat.output
    annexe = sortie / "TEST-001-annexe-conformite.docx"
    assert (sortie / "TEST-001-CCAP.docx").is_file() and annexe.is_file()  # le travail peut continuer
    lu = Lu(annexe)
    assert "Non conforme\u00a0: 1\u00a0obligation légale non respectée" in lu.texte
    assert "À corriger" in lu.texte
    rangees = list(csv.DictReader(io.StringIO((sortie / "TEST-001-annexe-conformite.csv").read_text(encoding="utf-8-sig")),
                                  delimiter=";"))
    assert {r["identifiant"]: r["resultat"] for r in rangees if r["rubrique"] == "controle"}[
        "critere-environnemental"] == "Non conforme"
    assert any(r["rubrique"] == "action_spaser" and r["clause"] for r in rangees)

    strict = tmp_path / "strict"
    resultat = dce("generer", str(fichier), "--sortie", str(strict), "--strict")
    assert resultat.exit_code == 2, resultat.output
    assert "CCP L2152-7" in resultat.output and "aucun document n'a été écrit" in resultat.output
    assert not strict.exists()

    conforme = ecrire(tmp_path, reponses(), "conforme.yaml")
    resultat = dce("annexe", str(conforme), "--sortie", str(tmp_path / "annexe"))
    assert resultat.exit_code == 0, resultat.output
    assert "0\u00a0non conforme," in resultat.output


def test_controle_mal_ecrit_nomme_fichier_et_ligne(tmp_path):
    racine = catalogue_modifie(tmp_path, 'conforme: "clauses_sociales | length > 0 and',
                                                         'conforme: "clauses_socialles | length > 0 and')
    fichier = ecrire(tmp_path, reponses(lots=[{"numero": 1, "intitule": "Papier", "montant_estime": 300000}]))
    resultat = CliRunner().invoke(main, ["--catalogue", str(racine), "annexe", str(fichier), "-o", str(tmp_path / "s")])
    assert resultat.exit_code == 2, resultat.output
    assert "catalogue.yaml, ligne" in resultat.output and "condition-sociale" in resultat.output
    assert "clauses_socialles" in resultat.output
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("exemple, code, groupe, autres", [
    ("nettoyage-hotel-region", "ICHT-rev-TS-N81.2", "81.2", []),
    ("amp-espaces-verts", "ICHT-rev-TS-N81.3", "81.3", ["15 % × Indice du gazole professionnel du Comité national routier",
                                                        "25 % × Index divers dans la construction – MATP – Poste Matériel"])])
def test_indice_de_revision_des_services_designe_par_sa_serie(exemples_generes, exemple, code, groupe, autres):
    """Nettoyage et espaces verts : le CCAP nomme la série de l'ICHT-rev-TS (section N de la NAF rév. 2 et groupe
    de la famille), jamais « série du secteur d'activité » ; en espaces verts, formule composite main-d'œuvre + gazole
    + matériel. L'identifiant de série n'est imprimé que s'il est vérifié dans les données (MATP seul) ; sinon
    l'annexe demande de le confirmer (« À vérifier »)."""
    import yaml

    catalogue = yaml.safe_load((RACINE / "catalogue.yaml").read_text(encoding="utf-8"))
    series = catalogue["parametres"]["series_indices"]["valeurs"][-1]["valeur"]
    fichiers = exemples_generes[exemple]
    ccap = Lu(next(p for n, p in fichiers.items() if n.endswith("-CCAP.docx")))
    (indices,) = [t for t in ccap.tableaux if t[0][-1] == "Indice de référence"]
    for ligne in indices[1:]:
        cellule = ligne[-1].replace("\u00a0", " ")
        assert "section N de la NAF rév. 2" in cellule and f"groupe {groupe}" in cellule, cellule
        assert "Activités de services administratifs et de soutien" in cellule
        assert "secteur d’activité des prestations" not in cellule
        for autre in autres:
            assert autre in cellule, cellule
        # l'identifiant n'est imprimé que pour une série vérifiée
        imprimes = re.findall(r"série INSEE n° (\d+)", cellule)
        assert imprimes == [s["idbank"] for c, s in series.items() if s["idbank_verifie"] and s["libelle"] in cellule]
    assert "secteur d’activité des prestations" not in ccap.tout
    assert not series[code]["idbank_verifie"]  # sinon l'identifiant serait imprimé au CCAP et le contrôle conforme
    annexe = json.loads(next(p for n, p in fichiers.items() if n.endswith("annexe-conformite.json")).read_text("utf-8"))
    (controle,) = [c for c in annexe["controles"] if c["id"] == "indices-identifies"]
    assert controle["verdict_libelle"] == "À vérifier"
    assert "Identifiant de série à confirmer" in controle["constat"] and f"groupe {groupe}" in controle["constat"]
    assert "MATP" not in controle["constat"]  # identifiant vérifié : rien à confirmer
    word = Lu(next(p for n, p in fichiers.items() if n.endswith("annexe-conformite.docx")))
    assert any(len(l) > 2 and l[0].startswith("Chaque indice de révision décrit par le référentiel de l’outil") and l[2] == "À vérifier"
               for t in word.tableaux for l in t)


def test_insertion_a_justifier_seulement_sans_autre_condition_sociale(tmp_path):
    """L2112-2-1 impose une condition d'exécution sociale, pas l'insertion : au-delà du seuil européen, refuser
    l'insertion n'est à justifier que si un lot reste sans autre condition sociale (égalité professionnelle ici).
    La reprise du personnel de propreté, obligation de la convention collective (article 7), n'est pas une
    condition sociale choisie par l'acheteur : elle ne satisfait pas L2112-2-1 (relecture du juriste)."""
    lots = [{"numero": 1, "intitule": "Papier", "montant_estime": 300000}]
    sans = verdicts(tmp_path, lots=lots)
    assert sans["options-imposees"].statut == "a_verifier"  # bonne pratique : « À vérifier »
    assert "Clause d’insertion" in _typo(sans["options-imposees"].message)
    egalite = verdicts(tmp_path, lots=lots, spaser={"egalite": True})
    assert egalite["condition-sociale"].statut == "conforme"
    assert "CCAP article 5.3 «\u00a0Égalité professionnelle" in egalite["condition-sociale"].message
    assert "insertion" not in egalite["options-imposees"].message.lower()
    liste = {"titre": "Liste du personnel affecté au marché en cours", "nature": "liste_personnel",
             "fichier": "pieces/nettoyage-hotel-region-personnel.csv"}  # la pièce de l'exemple, jointe par ecrire
    propre = verdicts(tmp_path, nature="services", categorie="nettoyage", cpv="90911200-8", reprise_personnel=True,
                      pieces_acheteur=[liste], lots=[{"numero": 1, "intitule": "Bureaux", "montant_estime": 300000}])
    assert propre["condition-sociale"].statut == "non_conforme"
    assert "Reprise du personnel" not in propre["condition-sociale"].message
    assert "insertion" in propre["options-imposees"].message.lower()


def _typo(texte: str) -> str:
    return texte.replace("'", "’")
