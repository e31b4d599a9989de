"""Niveaux des liens SPASER : une consultation sans option responsable ne met en œuvre aucune action au-delà du
droit ; chaque option du questionnaire ajoute exactement ses actions ; le bilan d'un dossier sans option n'en
compte aucune ; sur les exemples, chaque action comptée renvoie à une clause qui la met réellement en œuvre.

Les consultations « sans option » sont générées avec un profil de la Région dont la politique d'achat s'en tient
au droit (avance au minimum légal, retenue de garantie au maximum légal, variantes laissées au choix de chaque
consultation) : la politique réelle de la Région va au-delà (action 11.4), ce que vérifie un test à part.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from openpyxl import load_workbook

from conftest import EXEMPLES, RACINE, Lu, ecrire, reponses
from generateur.droit.regles import preparer
from generateur.droit.spaser import par_niveau
from generateur.rendu.generation import generer as generer_dce

A_COPIER = ("catalogue.yaml", "questionnaire.yaml", "clauses", "modeles", "acheteurs")
TITRE_MISES = "2.1\u00a0– Actions mises en œuvre au-delà du droit"
AUCUNE = "Aucune action du référentiel n’est mise en œuvre au-delà du droit par cette consultation."


@pytest.fixture(scope="module")
def droit_commun(tmp_path_factory) -> Path:
    """Copie du catalogue où la politique de la Région s'en tient au droit (0 % : le calcul retient le minimum
    légal ; 5 % de retenue : le maximum légal ; pas d'avance sous le seuil ; variantes non généralisées)."""
    racine = tmp_path_factory.mktemp("droit-commun")
    for nom in A_COPIER:
        source = RACINE / nom
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, racine / nom)
    profil = racine / "acheteurs/occitanie/acheteur.yaml"
    texte = profil.read_text(encoding="utf-8")
    for avant, apres in (("variantes_par_defaut: true", "variantes_par_defaut: false"),
                         ("taux_base: 15", "taux_base: 0"), ("taux_pme: 20", "taux_pme: 0"),
                         ("taux_btp_filiere: 30", "taux_btp_filiere: 0"),
                         ("    duree_minimale_mois_sous_seuil: 3\n", ""), ("    taux: 3\n", "    taux: 5\n")):
        assert avant in texte, avant
        texte = texte.replace(avant, apres, 1)
    profil.write_text(texte, encoding="utf-8")
    return racine


def mises_en_oeuvre_lues(fiche: Lu) -> list[str]:
    """Les actions de l'article 2.1 de la fiche, lues dans la phrase qui les énumère (« 3 actions à ce niveau : … »)."""
    textes = [t for _, t in fiche.paragraphes]
    suite = textes[textes.index(TITRE_MISES) + 1]
    if suite == AUCUNE:
        return []
    m = re.fullmatch(r"(\d+)\u00a0actions? à ce niveau\u00a0: (.*)\.", suite)
    assert m, suite
    actions = m.group(2).split(", ")
    assert int(m.group(1)) == len(actions)
    return actions


def generer(racine: Path, dossier: Path, donnees: dict) -> tuple[list[str], dict]:
    """Génère la consultation ; rend les actions lues dans la fiche produite et le manifeste."""
    dossier.mkdir(parents=True, exist_ok=True)
    resultat = generer_dce(ecrire(dossier, donnees), dossier / "sortie", racine)
    fiche = Lu(next(p for n, p in resultat.fichiers.items() if n.endswith("-tracabilite-SPASER.docx")))
    manifeste = json.loads(next(p for n, p in resultat.fichiers.items() if n.endswith("-manifeste.json")).read_text())
    lues = mises_en_oeuvre_lues(fiche)
    assert lues == manifeste["actions_spaser"]
    return lues, manifeste


# Famille d'achat de chaque cas : (modifications des réponses de base). Les réponses de base sont celles de
# conftest.BASE (fournitures de bureau, 180 000 € HT en deux lots, lancement le 1er décembre 2026, critère
# environnemental imposé par R2152-7), sans variantes.
BASES = {
    "fournitures": {},
    "fournitures_hors_agec": {"categorie": "autre"},
    "denrees": {"categorie": "restauration_collective", "cpv": "15000000-8"},
    "textile": {"categorie": "textile", "cpv": "18000000-9"},
    "travaux": {"nature": "travaux", "categorie": "batiment", "cpv": "45454000-4", "delai_garantie_mois": 12},
    "espaces_verts": {"nature": "services", "categorie": "espaces_verts", "cpv": "77310000-6"},
}
SOCIAL = [{"intitule": "Prix", "ponderation": 50, "type": "prix"},
          {"intitule": "Performance environnementale", "ponderation": 30, "type": "environnemental"},
          {"intitule": "Insertion et égalité", "ponderation": 20, "type": "social"}]

# Option du questionnaire → (famille, réponses de l'option, actions mises en œuvre attendues et clauses qui les
# portent : relues dans docs/revue-etiquettes-spaser.md).
OPTIONS = {
    "insertion": ("fournitures", {"spaser": {"insertion": {"actif": True, "facilitateur": "PLIE"}}},
                  ["6.2", "6.3"]),                        # sous le seuil européen : au-delà de L2112-2-1
    "commerce_equitable": ("textile", {"spaser": {"commerce_equitable": {"actif": True, "produits": ["coton"]}}},
                           ["8.2", "8.3"]),
    "alimentation_durable": ("denrees", {"spaser": {"alimentation_durable": {"actif": True}}},
                             ["5.3"]),                    # 50 % / 20 % : le minimum EGalim (5.2) reste une obligation
    "ecolabels": ("fournitures", {"spaser": {"ecolabels": {"actif": True, "familles": ["papier"]}}}, ["1.2", "1.3"]),
    "perturbateurs_endocriniens": ("fournitures", {"spaser": {"perturbateurs_endocriniens": True}},
                                   ["1.2", "1.3", "1.4"]),
    "plastique_usage_unique": ("fournitures", {"spaser": {"plastique_usage_unique": True}}, ["1.2", "1.4"]),
    "reemploi": ("fournitures_hors_agec", {"spaser": {"reemploi": {"actif": True}}}, ["2.1"]),
    "biosources": ("travaux", {"spaser": {"biosources": {"actif": True}}}, ["4.1"]),
    "transport_faibles_emissions": ("fournitures", {"spaser": {"transport_faibles_emissions": True}},
                                    ["1.2", "4.2"]),
    "reserve": ("fournitures", {"spaser": {"reserve": "siae"}}, ["6.2", "13.2", "13.3"]),
    "egalite": ("fournitures", {"spaser": {"egalite": True}}, ["7.3", "9.2", "9.3"]),
    # Un critère de jugement ne compte jamais seul (docs/juriste.md, « Règle de comptage ») : sans clause
    # d'exécution qui met en œuvre la même action, il n'est qu'un rappel.
    "critere_carbone": ("fournitures", {"spaser": {"critere_carbone": True}}, []),
    "approvisionnements_directs": ("denrees", {"spaser": {"approvisionnements_directs": True}}, []),
    "commerce_equitable_critere": ("denrees", {"spaser": {"commerce_equitable": {"critere": True}}}, []),
    "innovation": ("fournitures", {"spaser": {"innovation": True}}, []),
    # le critère social fait retenir le bilan des engagements sociaux au CCTP (7.3, 9.3), seul compté
    "critere_social": ("fournitures", {"criteres": SOCIAL}, ["7.3", "9.3"]),
    # une faculté n'oblige personne : les variantes (générales, réemploi) ne sont que des rappels
    "variantes": ("fournitures", {"variantes": {"autorisees": True}}, []),
    "variantes_travaux": ("travaux", {"variantes": {"autorisees": True, "objets": ["materiaux", "reemploi", "energie"]}},
                          []),
    # avance de la filière BTP : le profil « droit commun » la fixe au minimum légal, rien au-delà du droit
    "filiere_btp": ("travaux", {"spaser": {"filiere_btp": True}}, []),
    # périodes propres au site (gestion différenciée, fauche tardive) : la clause des périodes d'intervention met
    # en œuvre la préservation de la biodiversité (1.3) ; sans elles, elle n'en est qu'un rappel
    "periodes_espaces_verts": ("espaces_verts", {"espaces_verts": {"periodes": "fauche tardive après le 15 juillet"}},
                               ["1.3"]),
}


@pytest.fixture(scope="module")
def bases(droit_commun, tmp_path_factory) -> dict[str, list[str]]:
    """Actions mises en œuvre de chaque famille sans aucune option, lues dans la fiche."""
    dossier = tmp_path_factory.mktemp("bases")
    return {nom: generer(droit_commun, dossier / nom, reponses(**modifs))[0] for nom, modifs in BASES.items()}


def test_sans_option_aucune_action_au_dela_du_droit(bases):
    assert bases == {nom: [] for nom in BASES}


@pytest.mark.parametrize("option", list(OPTIONS))
def test_chaque_option_ajoute_exactement_ses_actions(option, bases, droit_commun, tmp_path):
    famille, modifs, attendues = OPTIONS[option]
    donnees = reponses(**BASES[famille])
    for cle, valeur in modifs.items():
        if cle == "spaser":  # une option s'ajoute aux réponses de la famille, sans les remplacer
            donnees.setdefault("spaser", {})
            for sous_cle, sous_valeur in valeur.items():
                donnees["spaser"][sous_cle] = sous_valeur
        else:
            donnees[cle] = valeur
    lues, manifeste = generer(droit_commun, tmp_path, donnees)
    assert sorted(set(lues) - set(bases[famille])) == sorted(attendues), option
    assert set(bases[famille]) <= set(lues)
    # chaque action comptée vient d'une clause retenue dont le lien est « mise en œuvre »
    retenues = {c["id"]: c for c in manifeste["clauses"] if c["retenue"]}
    for action in lues:
        assert any(l["action"] == action and l["niveau"] == "mise_en_oeuvre"
                   for c in retenues.values() for l in c["liens_spaser"]), action


def test_politique_de_la_region_au_dela_du_droit(tmp_path):
    """La politique réelle de la Région va au-delà du droit : avance de 15 % et 20 % pour les PME (action 11.4). Ses
    variantes généralisées (« variantes_par_defaut ») ouvrent la variante de réemploi, qui n'est qu'une faculté :
    action 2.1 en rappel, jamais mise en œuvre (relecture du juriste, S4). Sans option, la fiche ne compte que
    l'action 11.4, par la clause d'avance."""
    lues, manifeste = generer(RACINE, tmp_path, reponses())
    assert lues == ["11.4"]
    assert manifeste["actions_spaser_par_niveau"]["mise_en_oeuvre"] == ["11.4"]
    assert "2.1" in manifeste["actions_spaser_par_niveau"]["rappel"]
    retenues = {c["id"] for c in manifeste["clauses"] if c["retenue"]}
    assert {"ccap-avance", "rc-variante-reemploi"} <= retenues
    sans_variantes, _ = generer(RACINE, tmp_path / "sans-variantes", reponses(variantes={"autorisees": False}))
    assert sans_variantes == ["11.4"]
    assert "1.2" in manifeste["actions_spaser_par_niveau"]["obligation_legale"]  # critère env. imposé (R2152-7)
    assert "9.2" in manifeste["actions_spaser_par_niveau"]["rappel"]  # rappel des exclusions (rc-probite)


def test_bilan_d_un_dossier_sans_option(droit_commun, tmp_path):
    """Bilan de consultations sans option : aucune action mise en œuvre au-delà du droit, dans le rapport comme dans
    le classeur, et la part due aux obligations légales montrée à part."""
    from generateur.lot.bilan import bilans
    from generateur.lot.rapport_bilan import ecrire as ecrire_bilan

    dossier = tmp_path / "consultations"
    dossier.mkdir()
    for i, (nom, modifs) in enumerate(BASES.items()):
        ecrire(dossier, reponses(reference=f"N{i}", **modifs), f"{nom}.yaml")
    resultats = bilans(dossier, droit_commun)
    sortie = tmp_path / "bilan"
    ecrire_bilan(resultats, sortie, droit_commun)
    b = resultats[0]
    assert all(c.actions == [] and c.chantiers == [] for c in b.consultations)
    assert all(not ch["mettent_en_oeuvre"] for ch in b.chantiers)
    assert b.indicateur("spaser_au_dela_du_droit").mesures[2026].part == 0
    assert any(ch["obligations_legales_seules"] for ch in b.chantiers)  # la condition environnementale, etc.
    lu = Lu(sortie / "bilan-SPASER-occitanie.docx")
    assert "Actions du SPASER mises en œuvre au-delà du droit en 2026\u00a0: 0, par 0 consultation sur 6." in lu.texte
    wb = load_workbook(sortie / "bilan-SPASER-occitanie.xlsx")
    lignes = list(wb["Consultations"].iter_rows(values_only=True))
    col = lignes[0].index("Actions SPASER mises en œuvre au-delà du droit")
    assert [l[col] for l in lignes[1:]] == [None] * len(BASES)  # cellules vides : aucune action
    col_legales = lignes[0].index("Actions SPASER par obligations légales seulement")
    assert all("1.2" in l[col_legales] for l in lignes[1:])
    chantiers = list(wb["Chantiers"].iter_rows(values_only=True))
    i = chantiers[0].index("Mettant en œuvre le chantier au-delà du droit")
    assert all(l[i] == 0 for l in chantiers[1:])


@pytest.mark.parametrize("exemple", sorted(p.stem for p in EXEMPLES.glob("*.yaml")))
def test_exemples_chaque_action_comptee_a_sa_clause(exemple):
    """Sur les exemples, chaque action comptée renvoie à une clause retenue qui la met réellement en œuvre : un lien
    « mise en œuvre » de la clause, et, pour un lien restreint par `si`, sa condition vraie ; jamais une clause du
    socle (retenue dans toute consultation) sans condition."""
    analyse = preparer(EXEMPLES / f"{exemple}.yaml")
    mises = par_niveau(analyse)["mise_en_oeuvre"]
    assert mises, exemple
    for l in mises:
        clause = l.selection.clause
        liens = [x for x in clause.liens if x.niveau == "mise_en_oeuvre"
                 and l.action in analyse.acheteur.actions_pour(x.action)]
        assert liens, (exemple, l.action.id, clause.id)
        socle = clause.condition.strip() in ("true", "True")
        assert not socle or all(x.si for x in liens), (exemple, clause.id)
    # les clauses qui ne font que rappeler le droit ne sont jamais comptées
    ids = {l.selection.clause.id for l in mises}
    assert not ids & {"rc-probite", "ccap-condition-environnementale", "ccap-differends", "cctp-suivi", "ccap-reexamen"}


def test_critere_compte_avec_sa_clause_d_execution(droit_commun, tmp_path):
    """Règle de comptage d'un critère (docs/juriste.md) : le critère social ne compte l'action 9.2 que si la clause
    d'égalité professionnelle du CCAP la met en œuvre ; sans elle, il figure en rappel (relecture du juriste, S5)."""
    def niveaux_du_critere(dossier, **modifs):
        _, manifeste = generer(droit_commun, dossier, reponses(criteres=SOCIAL, **modifs))
        analyse = preparer(next(dossier.glob("*.yaml")), droit_commun)
        return {(l.action.id, l.niveau) for l in par_niveau(analyse)["mise_en_oeuvre"] + par_niveau(analyse)["rappel"]
                if l.selection.clause.id == "rc-critere-social"}, manifeste

    seul, manifeste = niveaux_du_critere(tmp_path / "seul")
    assert seul == {("6.2", "rappel"), ("7.2", "rappel"), ("9.2", "rappel")}
    assert "9.2" not in manifeste["actions_spaser"]
    avec, manifeste = niveaux_du_critere(tmp_path / "egalite", spaser={"egalite": True})
    assert ("9.2", "mise_en_oeuvre") in avec and ("6.2", "rappel") in avec
    assert "9.2" in manifeste["actions_spaser"]


def _tableau_apres(lu: Lu, titre: str) -> list[list[str]]:
    """Lignes du premier tableau qui suit le paragraphe `titre` dans le corps du document."""
    from docx.oxml.ns import qn
    vu = False
    for el in lu.doc.element.body.iterchildren():
        if el.tag == qn("w:p") and "".join(t.text or "" for t in el.iter(qn("w:t"))) == titre:
            vu = True
        elif vu and el.tag == qn("w:tbl"):
            return [["".join(t.text or "" for t in c.iter(qn("w:t"))) for c in r.iter(qn("w:tc"))]
                    for r in el.iter(qn("w:tr"))]
    return []


@pytest.mark.parametrize("exemple", sorted(p.stem for p in EXEMPLES.glob("*.yaml")))
def test_exemples_chaque_mise_en_oeuvre_renvoie_a_une_clause_du_contrat(exemple, exemples_generes):
    """Relu dans les pièces des exemples : chaque action de l'article 2.1 de la fiche (« mises en œuvre au-delà du
    droit ») a au moins une ligne CCAP ou CCTP, et l'article cité existe dans cette pièce sous le titre de la clause
    (clause effective) ; une variante (faculté du RC) n'y figure jamais ; un critère du RC n'y figure qu'avec une
    clause d'exécution de la même action (relecture du juriste, S4, S5)."""
    fichiers = exemples_generes[exemple]
    lus = {n.rsplit("-", 1)[1].removesuffix(".docx"): Lu(p) for n, p in fichiers.items()
           if n.endswith(("-CCAP.docx", "-CCTP.docx", "-SPASER.docx"))}
    fiche = lus.pop("SPASER")
    actions = mises_en_oeuvre_lues(fiche)
    lignes = _tableau_apres(fiche, TITRE_MISES)
    assert lignes[0][:5] == ["Action", "Intitulé de l’action", "Pièce", "Article", "Clause (version)"]
    par_action: dict[str, list[list[str]]] = {}
    for ligne in lignes[1:]:
        par_action.setdefault(ligne[0], []).append(ligne)
    assert sorted(par_action, key=lambda a: [int(x) for x in a.split(".")]) == actions
    for action, rangs in par_action.items():
        contrat = [r for r in rangs if r[2] in ("CCAP", "CCTP")]
        assert contrat, (exemple, action, rangs)
        for _, _, document, article, clause, *_ in contrat:
            titre = clause.rsplit(" (", 1)[0]
            titres = lus[document].titres(1) + lus[document].titres(2)
            assert any(re.match(rf"^(?:Article )?{re.escape(article)}\s*– {re.escape(titre)}$", t) for t in titres), \
                (exemple, action, document, article, titre)
        assert not [r for r in rangs if "rc-variante" in r[4]], (exemple, action)


def test_metropole_avance_au_minimum_legal_et_biodiversite(exemples_generes):
    """Exemple de la Métropole : l'avance PME à 10 %, minimum légal de R2191-7 pour une collectivité de plus de
    60 M€ de dépenses de fonctionnement, ne met pas en œuvre l'action 3.1 (relecture du juriste, A5) ; l'exclusion
    des perturbateurs endocriniens ne compte pour aucune action de la Métropole ; la clause des périodes
    d'intervention (nidification, fauche tardive) met en œuvre l'action 2.2 (S6)."""
    fichiers = exemples_generes["amp-espaces-verts"]
    fiche = Lu(next(p for n, p in fichiers.items() if n.endswith("-SPASER.docx")))
    ccap = Lu(next(p for n, p in fichiers.items() if n.endswith("-CCAP.docx")))
    assert mises_en_oeuvre_lues(fiche) == ["2.2"]
    lignes = _tableau_apres(fiche, TITRE_MISES)[1:]
    assert [(l[0], l[2], l[3]) for l in lignes] == [("2.2", "CCAP", ccap.article("Périodes et horaires"))]
    assert "10\u00a0%" in ccap.texte  # taux PME du CCAP : le minimum légal
    legales = _tableau_apres(fiche, "2.2\u00a0– Actions auxquelles répondent des obligations légales")
    assert any(l[0] == "3.1" and "ccap-avance" in l[4] for l in legales)
    assert "perturbateurs" not in " ".join(" ".join(l) for t in fiche.tableaux for l in t).lower()


# Achats où chaque suggestion du questionnaire s'applique (la première famille dont `quand` est vrai est prise).
FAMILLES_DES_SUGGESTIONS = [
    BASES["fournitures"], BASES["denrees"], BASES["textile"], BASES["travaux"],
    {"nature": "services", "categorie": "nettoyage", "cpv": "90911200-8"},
    {"nature": "services", "categorie": "restauration_collective", "cpv": "55523100-3"},
    {"nature": "fournitures", "categorie": "informatique", "cpv": "30213000-5"},
    # au-delà du seuil européen (lancement après le 22 août 2026) : l'insertion devient une obligation légale
    {"nature": "services", "categorie": "autre", "cpv": "79000000-4",
     "lots": [{"numero": 1, "intitule": "Accueil", "montant_estime": 300000}]},
]


def test_chaque_suggestion_dit_le_niveau_que_compte_la_fiche(droit_commun, tmp_path):
    """Le niveau que chaque suggestion annonce pour chaque action (assistant, page des suggestions, dce expliquer) est
    celui que la fiche SPASER compte une fois l'option retenue : une « mise en œuvre » annoncée y apparaît et n'y
    était pas sans l'option ; une obligation légale annoncée y est une obligation légale."""
    from generateur.droit.suggestions import charger
    from generateur.interfaces.web.propositions import appliquer

    vues = 0
    for s in charger(droit_commun / "questionnaire.yaml"):
        if not s.active:
            continue  # suggestion qui fait revoir une réponse (allotissement, critère) : rien n'est activé
        for i, famille in enumerate(FAMILLES_DES_SUGGESTIONS):
            sans = preparer(ecrire(tmp_path, reponses(**famille), f"{s.id}-{i}-sans.yaml"), droit_commun)
            if s.convient(sans.contexte):
                break
        else:
            raise AssertionError(f"aucune famille d'essai pour la suggestion {s.id}")
        # l'option retenue comme l'assistant la retient (réponses de `active` posées)
        retenue = appliquer(droit_commun, reponses(**famille), s, True)
        avec = preparer(ecrire(tmp_path, retenue, f"{s.id}-avec.yaml"), droit_commun)
        annonces = s.niveaux(avec.contexte)
        assert annonces, s.id
        niveaux_avec = {(l.action.id, n) for n, liens in par_niveau(avec).items() for l in liens}
        mises_sans = {l.action.id for l in par_niveau(sans)["mise_en_oeuvre"]}
        for etiquette, niveau in annonces:
            assert (etiquette, niveau) in niveaux_avec, (s.id, etiquette, niveau, sorted(niveaux_avec))
            if niveau == "mise_en_oeuvre":
                assert etiquette not in mises_sans, (s.id, etiquette)
        vues += 1
    assert vues >= 10


def _lignes_par_niveau(fiche: Lu) -> dict[str, list[list[str]]]:
    """Lignes (action, intitulé, pièce, article, clause, règle) des trois tableaux de niveaux de la fiche, dans
    l'ordre de ses articles 2.1 (mise en œuvre), 2.2 (obligation légale) et 2.3 (rappel)."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    titres = {"2.1": "mise_en_oeuvre", "2.2": "obligation_legale", "2.3": "rappel"}
    niveaux: dict[str, list[list[str]]] = {n: [] for n in titres.values()}
    courant = None
    for element in fiche.doc.element.body.iterchildren():
        if element.tag.endswith("}p"):
            p = Paragraph(element, fiche.doc)
            if p.style is not None and p.style.name.startswith("Heading"):
                courant = titres.get(p.text.split("\u00a0")[0])
        elif element.tag.endswith("}tbl") and courant:
            lignes = [[c.text for c in r.cells] for r in Table(element, fiche.doc).rows]
            if lignes[0][:2] == ["Action", "Intitulé de l’action"]:
                niveaux[courant] += lignes[1:]
    return niveaux


def test_avance_par_bon_de_commande_n_est_qu_un_rappel(tmp_path):
    """Relecture du juriste (RN9) : dans un accord-cadre à bons de commande sans montant minimum supérieur à
    50 000 € HT, l'avance n'est versée que pour un bon de plus de 50 000 € HT et de plus de deux mois (CCP
    R2191-16), ce que des bons de denrées n'atteignent pas : la clause d'avance n'est qu'un rappel de l'action 11.4.
    Avec un minimum qui dépasse le seuil, l'avance est versée sur ce minimum (R2191-17) : l'action est mise en
    œuvre. Le même taux de la politique d'achat (15 % / 20 %) vaut dans les deux cas."""
    sans_minimum = reponses(forme="accord_cadre_bons_commande")
    lues, manifeste = generer(RACINE, tmp_path / "sans-minimum", sans_minimum)
    assert "11.4" not in lues
    assert "11.4" in manifeste["actions_spaser_par_niveau"]["rappel"]
    fiche = Lu(next((tmp_path / "sans-minimum" / "sortie").glob("*-tracabilite-SPASER.docx")))
    niveaux = _lignes_par_niveau(fiche)
    avance = [l for l in niveaux["rappel"] if l[0] == "11.4" and l[4].startswith("Avance (ccap-avance")]
    assert len(avance) == 1 and "Accord-cadre à bons de commande" in avance[0][5], niveaux["rappel"]
    assert not any(l[4].startswith("Avance") for n in ("mise_en_oeuvre", "obligation_legale") for l in niveaux[n])

    avec_minimum = reponses(forme="accord_cadre_bons_commande")
    avec_minimum["lots"][0]["montant_minimum"] = 60000
    lues, manifeste = generer(RACINE, tmp_path / "avec-minimum", avec_minimum)
    assert "11.4" in lues
    fiche = Lu(next((tmp_path / "avec-minimum" / "sortie").glob("*-tracabilite-SPASER.docx")))
    niveaux = _lignes_par_niveau(fiche)
    assert [l[0] for l in niveaux["mise_en_oeuvre"] if l[4].startswith("Avance (ccap-avance")] == ["11.4"]
    assert not any(l[4].startswith("Avance") for l in niveaux["rappel"])


def test_exemple_restauration_avance_en_rappel(exemples_generes):
    """L'exemple de restauration (accord-cadre à bons de commande de denrées, sans minimum) ne compte plus l'action
    11.4 par son avance, ni dans la fiche ni à l'article 6 de l'annexe de conformité (RN9) ; l'exemple de travaux
    (marchés ordinaires) la compte toujours."""
    def piece(exemple: str, fin: str) -> Lu:
        return Lu(next(p for n, p in exemples_generes[exemple].items() if n.endswith(fin)))

    fiche = piece("restauration-lycees", "-tracabilite-SPASER.docx")
    assert "11.4" not in mises_en_oeuvre_lues(fiche)
    niveaux = _lignes_par_niveau(fiche)
    assert any(l[0] == "11.4" and l[4].startswith("Avance (ccap-avance") for l in niveaux["rappel"])
    annexe = piece("restauration-lycees", "-annexe-conformite.docx")
    lignes = [l for t in annexe.tableaux for l in t if l[0].startswith("11.4 –") and "Avance (ccap-avance" in " ".join(l)]
    assert len(lignes) == 1 and lignes[0][1] == "rappel", lignes
    assert "11.4" in mises_en_oeuvre_lues(piece("travaux-lycee", "-tracabilite-SPASER.docx"))
