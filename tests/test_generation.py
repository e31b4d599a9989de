"""Documents générés relus avec python-docx : clauses présentes ou absentes, numérotation, renvois."""

from __future__ import annotations

import json
import re

import pytest

from generateur.donnees import catalogue
from generateur.donnees.formats import typographie
from conftest import RACINE, reponses

CAT = catalogue.charger(RACINE)


def titre(ident: str) -> str:
    return typographie(CAT.clauses[ident][0].titre)  # tel qu'imprimé : apostrophe typographique


def manifeste(resultat) -> dict:
    chemin = next(p for n, p in resultat.fichiers.items() if n.endswith("manifeste.json"))
    return json.loads(chemin.read_text(encoding="utf-8"))


def article_de(resultat, ident: str) -> str | None:
    for c in manifeste(resultat)["clauses"]:
        if c["id"] == ident:
            return c["article"] if c["retenue"] else None
    raise AssertionError(ident)


INSERTION = {"insertion": {"actif": True, "taux": 5, "cout_horaire": 30, "facilitateur": "PLIE du Grand Narbonne"}}
SERVICES = dict(nature="services", categorie="nettoyage", cpv="90910000-9",
                lots=[{"numero": 1, "intitule": "Bureaux", "montant_estime": 300000, "part_main_oeuvre": 60},
                      {"numero": 2, "intitule": "Vitrerie", "montant_estime": 50000}])


def test_articles_numerotes_et_sommaire_rempli(generer):
    docs, _ = generer(reponses())
    for cle in ("RC", "CCAP", "CCTP", "SPASER"):
        lu = docs[cle]
        articles = lu.titres(1)
        assert articles, cle
        numeros = [int(re.match(r"Article (\d+) – ", t).group(1)) for t in articles]
        assert numeros == list(range(1, len(numeros) + 1)), (cle, articles)
        for t in lu.titres(2):
            n, _, _ = t.partition("\u00a0– ")
            assert re.fullmatch(r"\d+\.\d+", n), t
            assert int(n.split(".")[0]) in numeros
        entrees = [t.split("\t")[0] for s, t in lu.paragraphes if s.lower() in ("toc 1", "toc 2")]
        titres = [t for s, t in lu.paragraphes if s.lower() in ("heading 1", "heading 2")]
        assert entrees == titres, cle
        assert "{{" not in lu.tout and "{%" not in lu.tout
        assert "**" not in lu.tout


def test_entete_couverture_et_typographie(generer):
    docs, _ = generer(reponses(date_limite_offres="2027-01-15 12:00"))
    ccap = docs["CCAP"]
    entete = "\n".join(p.text for s in ccap.doc.sections for p in s.header.paragraphs)
    assert "TEST-001" in entete and "CCAP" in entete
    # pied de page : la référence entière, jamais un objet coupé par « … » (relecture du juriste)
    pied = [c.text for s in ccap.doc.sections for t in s.footer.tables for r in t.rows for c in r.cells]
    assert pied[0] == "Consultation n°\u00a0TEST-001" and not any("…" in c for c in pied), pied
    couverture = ccap.tout
    assert "Cahier des clauses administratives particulières" in couverture
    assert "15\u00a0janvier 2027 à 12\u00a0h\u00a000" in couverture
    assert "Région Occitanie" in couverture


def test_derogations_au_ccag_en_dernier_article(generer):
    docs, resultat = generer(reponses())
    ccap = docs["CCAP"]
    dernier = ccap.titres(1)[-1]
    assert "Dérogations au CCAG" in dernier
    derogations = [d for d in manifeste(resultat)["clauses"] if d["retenue"]]
    avance = article_de(resultat, "ccap-avance")
    tableau = next(t for t in ccap.tableaux if "CCAG" in " ".join(t[0]) and "Objet" in " ".join(t[0]))
    lignes = {l[0]: l[1] for l in tableau[1:]}
    assert lignes.get(avance) == "11.1", tableau   # CCAG-FCS, article de l'avance
    assert derogations


def test_derogation_suit_le_ccag_travaux(generer):
    docs, resultat = generer(reponses(nature="travaux", categorie="batiment", cpv="45454000-4",
                                      delai_garantie_mois=12))
    tableau = next(t for t in docs["CCAP"].tableaux if "CCAG-Travaux" in " ".join(t[0]))
    assert [article_de(resultat, "ccap-avance"), "10.1"] in [l[:2] for l in tableau[1:]]


def test_clause_insertion_et_heures(generer):
    docs, resultat = generer(reponses(spaser=INSERTION, **SERVICES))
    assert article_de(resultat, "ccap-insertion")
    ccap = docs["CCAP"]
    assert titre("ccap-insertion") in "\n".join(ccap.titres(2))
    lignes = [l for t in ccap.tableaux for l in t if l and l[0].strip() in ("1", "Lot 1", "Lot n° 1")]
    assert any("300" in " ".join(l) for l in lignes), ccap.tableaux
    assert "PLIE du Grand Narbonne" in ccap.tout
    # le lot 2 (50 000 € HT) est sous le seuil de la politique : pas de ligne d'heures pour lui
    assert manifeste(resultat)["clauses"] and [c["lots"] for c in manifeste(resultat)["clauses"]
                                               if c["id"] == "ccap-insertion"] == [[1]]
    sheet = docs["SPASER"]
    assert any(l[0] == "6.2" for t in sheet.tableaux for l in t)
    assert "Clause sociale" in sheet.tout


def test_sans_insertion_pas_de_clause(generer):
    docs, resultat = generer(reponses(**SERVICES))
    assert article_de(resultat, "ccap-insertion") is None
    assert titre("ccap-insertion") not in docs["CCAP"].tout
    assert not any(l[0] == "6.2" for t in docs["SPASER"].tableaux for l in t)


def test_commerce_equitable_ou_equivalent(generer):
    spaser = {"commerce_equitable": {"actif": True, "produits": ["cafe", "cacao"], "part_minimale": 100}}
    docs, resultat = generer(reponses(nature="fournitures", categorie="restauration_collective", cpv="15000000-8",
                                      spaser=spaser))
    ccap = docs["CCAP"]
    assert article_de(resultat, "ccap-commerce-equitable")
    assert "2005-882" in ccap.tout and "ou équivalent" in ccap.tout
    assert "café" in ccap.tout
    assert any(l[0] == "8.2" for t in docs["SPASER"].tableaux for l in t)
    docs, resultat = generer(reponses(nature="fournitures", categorie="restauration_collective", cpv="15000000-8"))
    assert article_de(resultat, "ccap-commerce-equitable") is None


def test_avance_par_lot_dans_le_ccap(generer):
    docs, _ = generer(reponses(duree_mois=24))
    texte = docs["CCAP"].tout
    assert "72\u00a0000,00\u00a0€\u00a0TTC" in texte   # lot 1 : 120 000 € HT → 144 000 € TTC × 12 / 24
    assert "20\u00a0%" in texte and "15\u00a0%" in texte


def test_renvoi_d_article_suit_la_numerotation(generer):
    """Le renvoi vers l'article de la clause d'insertion reste juste quand une clause disparaît."""
    avec = dict(spaser={**INSERTION, "perturbateurs_endocriniens": True, "plastique_usage_unique": True}, **SERVICES)
    sans = dict(spaser=INSERTION, **SERVICES)
    for donnees in (avec, sans):
        docs, resultat = generer(reponses(**donnees))
        numero = article_de(resultat, "ccap-insertion")
        # colonne « Article » du tableau des autres pénalités : le numéro seul
        assert f"Heures d’insertion professionnelle | {numero} |" in docs["CCAP"].tout, numero


def test_valeurs_saisies_restent_des_donnees(generer):
    objet = "Achat {{ 7*7 }} {% if true %}x{% endif %} & <Centre> *gras* _souligné_ | # titre"
    docs, _ = generer(reponses(objet=objet))
    for cle in ("RC", "CCAP", "CCTP"):
        assert objet in docs[cle].tout
    assert "49" not in docs["CCAP"].tout.replace("2049", "")


def test_procedure_et_seuils_dans_le_rc(generer):
    petit = [{"numero": 1, "intitule": "Lot unique", "montant_estime": 218000}]
    docs, _ = generer(reponses(lots=petit, date_lancement="2025-12-15", date_limite_offres="2026-01-20 12:00"))
    assert "Procédure adaptée" in docs["RC"].tout
    docs, _ = generer(reponses(lots=petit, date_lancement="2026-01-05", date_limite_offres="2026-02-20 12:00"))
    assert "Appel d’offres ouvert" in docs["RC"].tout


def test_fiche_de_tracabilite_decp(generer):
    docs, resultat = generer(reponses(spaser={"ecolabels": {"actif": True, "familles": ["papier"]}}))
    decp = manifeste(resultat)["decp"]  # un élément par lot, dans la forme du schéma DECP 2.0.3
    assert [d["lot"] for d in decp] == [1, 2]
    for d in decp:
        assert {"Critère environnemental", "Clause environnementale"} <= set(
            d["considerationsEnvironnementales"]["considerationEnvironnementale"])
        assert d["considerationsSociales"] == {"considerationSociale": ["Pas de considération sociale"]}
    fiche = docs["SPASER"]
    tableau = next(t for t in fiche.tableaux if t[0] == ["Lot", "considerationsSociales", "considerationsEnvironnementales"])
    assert [l[0] for l in tableau[1:]] == ["1", "2"]
    assert "Critère environnemental" in tableau[1][2]


@pytest.mark.parametrize("exemple", ["travaux-lycee", "restauration-lycees", "nettoyage-hotel-region",
                                     "amp-espaces-verts"])
def test_exemples_generes(exemples_generes, exemple):
    fichiers = exemples_generes[exemple]
    assert len([f for f in fichiers if f.endswith(".docx")]) == 5  # RC, CCAP, CCTP, fiche SPASER, annexe de conformité
    manif = json.loads(next(p for n, p in fichiers.items() if n.endswith("manifeste.json")).read_text(encoding="utf-8"))
    assert manif["actions_spaser"], "chaque exemple met en œuvre des actions SPASER"


def test_paragraphe_qui_annonce_la_suite_reste_avec_elle(generer):
    """« Une avance est versée : » est lié à ce qui suit (pas de deux-points orphelin en bas de page)."""
    docs, _ = generer(reponses())
    paragraphes = docs["CCAP"].doc.paragraphs
    annonces = [p for p in paragraphes if p.text.rstrip().endswith(":") and p.style.name == "Normal"]
    assert any(p.text.startswith("Une avance est versée") for p in annonces)
    for p in annonces:
        assert p.paragraph_format.keep_with_next, p.text
    ordinaires = [p for p in paragraphes if p.style.name == "Normal" and p.text.rstrip().endswith(".")]
    assert ordinaires and not any(p.paragraph_format.keep_with_next for p in ordinaires)
