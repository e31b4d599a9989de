"""Entrées invalides ou hostiles : jamais de trace Python, jamais de code exécuté, toujours un message clair.

Tests par propriétés (hypothesis) : des fichiers de réponses valides et invalides sont générés ; la génération
réussit avec des documents lisibles ou échoue avec une ErreurDCE. Les chargeurs YAML et de clauses sont passés
au crible de textes arbitraires.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path

import pytest
import yaml
from docx import Document
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generateur.donnees import yaml_lignes
from generateur.donnees.catalogue import lire_clause
from generateur.donnees.formats import typographie
from generateur.erreurs import ErreurDCE, ErreurDonnees
from generateur.rendu.generation import generer
from generateur.donnees.fichiers import nom_sur
from conftest import RACINE, BASE, ecrire, reponses

# DCE_FOUILLE=2000 pytest tests/test_robustesse.py : fouille longue, hors suite normale.
REGLAGES = settings(max_examples=int(os.environ.get("DCE_FOUILLE", "40")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                          HealthCheck.too_slow])

TEXTES_HOSTILES = [
    "{{ 7*7 }}", "{% for x in range(10) %}boucle{% endfor %}", "{{ ''.__class__.__mro__ }}",
    "*gras* _souligné_ | tableau | # titre", "A & B <Centre> \"guillemets\" 'apostrophe'",
    "Émoji 🌱♻️ et شراء مسؤول (arabe) עברית", "ligne 1\nligne 2\n\n- puce\n1. numéro",
    "\\ barre oblique inverse \\n", "x" * 100_000,
]


def _documents_lisibles(resultat) -> None:
    for nom, chemin in resultat.fichiers.items():
        if nom.endswith(".docx"):
            Document(str(chemin))


@pytest.mark.parametrize("texte", TEXTES_HOSTILES)
def test_texte_saisi_reproduit_tel_quel(tmp_path, texte):
    attendu = " ".join(texte.split()) if "\n" in texte else texte
    attendu = typographie(attendu)  # tel quel, à la typographie française près (apostrophe ’, espaces insécables)
    donnees = reponses(objet=texte, lots=[{"numero": 1, "intitule": texte[:2000], "montant_estime": 120000}])
    resultat = generer(ecrire(tmp_path, donnees), tmp_path / "s", RACINE)
    ccap = Document(str(next(p for n, p in resultat.fichiers.items() if n.endswith("CCAP.docx"))))
    contenu = "\n".join(p.text for p in ccap.paragraphs)
    contenu += "\n".join(c.text for t in ccap.tables for r in t.rows for c in r.cells)
    assert attendu in contenu
    assert "49" not in contenu.replace("2049", "") or "49" in texte


def test_caracteres_de_controle_retires_sans_planter(tmp_path):
    donnees = reponses(objet="Achat\x00\x07\x1b de papier\x0c")
    resultat = generer(ecrire(tmp_path, donnees), tmp_path / "s", RACINE)
    _documents_lisibles(resultat)


@pytest.mark.parametrize("valeur, message", [
    (".nan", "nombre fini"), (".inf", "trop grande"), ("1e400", "un nombre est attendu"),  # YAML 1.1 : « 1e400 » sans point est un texte
])
def test_nombres_non_finis_refuses(tmp_path, valeur, message):
    texte = yaml.safe_dump(reponses(), allow_unicode=True, sort_keys=False).replace(
        "montant_estime: 120000", f"montant_estime: {valeur}")
    fichier = tmp_path / "r.yaml"
    fichier.write_text(texte, encoding="utf-8")
    with pytest.raises(ErreurDonnees) as exc:
        generer(fichier, tmp_path / "s", RACINE)
    assert message in str(exc.value) and "Lot 1 — Montant estimé du lot (€ HT)" in str(exc.value)


def test_imbrication_profonde_et_fichier_enorme(tmp_path):
    fichier = tmp_path / "profond.yaml"
    fichier.write_text("objet: " + "[" * 5000 + "]" * 5000, encoding="utf-8")
    with pytest.raises(ErreurDonnees):
        generer(fichier, tmp_path / "s", RACINE)
    gros = tmp_path / "gros.yaml"
    gros.write_text("objet: '" + "x" * (6 * 1024 * 1024) + "'", encoding="utf-8")
    with pytest.raises(ErreurDonnees) as exc:
        generer(gros, tmp_path / "s", RACINE)
    assert "trop volumineux" in str(exc.value)


@pytest.mark.parametrize("reference, attendu", [
    ("../../etc/passwd", "etc-passwd"), ("/tmp/absolu", "tmp-absolu"), ("CON", "consultation-CON"),
    ("..", "consultation"), ("2026/TRX/../0417", "2026-TRX-..-0417"),
])
def test_nom_de_fichier_sur(reference, attendu):
    assert nom_sur(reference) == attendu


def test_reference_avec_barres_reste_dans_le_dossier(tmp_path):
    sortie = tmp_path / "s"
    resultat = generer(ecrire(tmp_path, reponses(reference="2026/TRX/../0417")), sortie, RACINE)
    for chemin in resultat.fichiers.values():
        assert chemin.resolve().parent == sortie.resolve()
    assert not (tmp_path / "0417-CCAP.docx").exists()


# --- propriétés -----------------------------------------------------------------------------------------

valeurs_quelconques = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda enfants: st.lists(enfants, max_size=3) | st.dictionaries(st.text(max_size=8), enfants, max_size=3),
    max_leaves=8,
)
CLES = ["reference", "objet", "nature", "categorie", "cpv", "date_lancement", "date_limite_offres", "duree_mois",
        "lots", "criteres", "spaser", "prix", "variantes", "forme", "acheteur", "inconnue", "delai_garantie_mois"]


@st.composite
def reponses_mutees(draw):
    donnees = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(0, 3))):
        cle = draw(st.sampled_from(CLES))
        action = draw(st.sampled_from(["remplacer", "supprimer"]))
        if action == "supprimer":
            donnees.pop(cle, None)
        else:
            donnees[cle] = draw(valeurs_quelconques)
    if draw(st.booleans()):
        lot = draw(st.fixed_dictionaries({"numero": st.integers(-2, 5), "intitule": st.text(max_size=40),
                                          "montant_estime": st.one_of(st.integers(-10, 10**10), st.floats())}))
        donnees["lots"] = [lot]
    return donnees


@REGLAGES
@given(donnees=reponses_mutees())
def test_generation_reussit_ou_echoue_proprement(tmp_path, donnees):
    fichier = tmp_path / "reponses.yaml"
    fichier.write_text(yaml.safe_dump(donnees, allow_unicode=True, sort_keys=False), encoding="utf-8")
    try:
        resultat = generer(fichier, tmp_path / "sortie", RACINE)
    except ErreurDCE as exc:
        assert exc.problemes and all(str(p) for p in exc.problemes)
        return
    _documents_lisibles(resultat)


# Mots des messages anglais de l'analyseur YAML : ils ne doivent pas parvenir à l'acheteur.
_ANGLAIS = re.compile(r"\b(found|expected|did not|not allowed|while|unacceptable|character|stream)\b")


# Alphabet YAML avec chiffres : dates (« 2026-02-30 »), zéros initiaux, durées « 1:30 », ancres et alias.
_ALPHABET_YAML = "ab:-[]{}'\"#&*!?|>%@`\\ \t\n,.0123456789T<"


@REGLAGES
@given(texte=st.text(max_size=300) | st.text(alphabet=_ALPHABET_YAML, max_size=60))
def test_chargeur_yaml_ne_plante_jamais(texte):
    try:
        yaml_lignes.lire_texte(texte, "fuzz.yaml")
    except ErreurDonnees as exc:
        assert all("fuzz.yaml" in str(p) for p in exc.problemes)
        for p in exc.problemes:
            assert not _ANGLAIS.search(p.message), p.message


@pytest.mark.parametrize("texte, ligne, attendu", [
    ("reference: X\nlots: [\n", 3, "crochet ou accolade non fermé"),
    ("a: {b: 1\n", 2, "accolade non fermée"),
    ("a: 1\n b: 2\n", 2, "un « : » de trop"),
    ("a: b: c\n", 1, "mettre entre guillemets"),
    ("a:\n\t- 1\n", 2, "tabulation interdite"),
    ("a: \"\\q\"\n", 1, "séquence d'échappement inconnue"),
    ("a: 1\n---\nb: 2\n", 2, "un seul document attendu"),
    ("a: @x\n", 1, "mettre la valeur entre guillemets"),
    ("a: 'x\n", 2, "guillemet non fermé"),
    ("a: &x 1\nb: &x 2\n", 2, "ancre « & » définie deux fois"),
    ("a: [1, 2\nb: 3\n", 2, "liste entre crochets non fermée"),
    ("a: 1\nb: c\x07d\n", 2, "caractère interdit en YAML (code 0x7)"),
])
def test_erreurs_yaml_en_francais(texte, ligne, attendu):
    with pytest.raises(ErreurDonnees) as exc:
        yaml_lignes.lire_texte(texte, "reponses.yaml")
    [probleme] = exc.value.problemes
    assert probleme.ligne == ligne and attendu in probleme.message, probleme
    assert not _ANGLAIS.search(probleme.message), probleme.message


@REGLAGES
@given(entete=st.text(max_size=200), corps=st.text(max_size=200))
def test_chargeur_de_clauses_ne_plante_jamais(tmp_path, entete, corps):
    fichier = tmp_path / "clause.md"
    fichier.write_text(f"---\n{entete}\n---\n{corps}", encoding="utf-8")
    try:
        lire_clause(fichier)
    except ErreurDonnees as exc:
        assert exc.problemes


def test_cpv_inexistant_et_montants_incoherents(tmp_path):
    donnees = reponses(cpv="99123456-7", montant_total_estime=200000)
    donnees["lots"][0]["cpv"] = "45214220-8"
    with pytest.raises(ErreurDonnees) as exc:
        generer(ecrire(tmp_path, donnees), tmp_path / "s", RACINE)
    texte = str(exc.value)
    assert "Code CPV principal : code CPV « 99123456-7 » absent de la nomenclature CPV 2008 ; codes les plus proches" in texte
    assert "somme des montants des lots (180\u00a0000,00\u00a0€\u00a0HT) diffère du montant total estimé" in texte
    assert "lots.0.cpv" not in texte


def _copie_catalogue(tmp_path: Path) -> Path:
    import shutil

    racine = tmp_path / "catalogue"
    racine.mkdir()
    for nom in ("catalogue.yaml", "questionnaire.yaml"):
        shutil.copy(RACINE / nom, racine / nom)
    for nom in ("clauses", "modeles", "acheteurs"):
        shutil.copytree(RACINE / nom, racine / nom)
    return racine


def catalogue_modifie(tmp_path: Path, ancien: str, nouveau: str) -> Path:
    """Une copie du catalogue dont catalogue.yaml remplace le texte `ancien` (qui doit s'y trouver) par `nouveau`."""
    racine = _copie_catalogue(tmp_path)
    texte = (RACINE / "catalogue.yaml").read_text(encoding="utf-8")
    assert ancien in texte, ancien
    (racine / "catalogue.yaml").write_text(texte.replace(ancien, nouveau), encoding="utf-8")
    return racine


def test_clause_qui_echoue_nomme_clause_fichier_ligne_et_variable(tmp_path):
    racine = _copie_catalogue(tmp_path)
    fichier = racine / "clauses" / "ccap" / "ccap-prix.md"
    texte = fichier.read_text(encoding="utf-8")
    fichier.write_text(texte + "\nLe montant plafond est {{ plafond_inexistant | montant }}.\n", encoding="utf-8")
    ligne = texte.count("\n") + 2
    from generateur.donnees import catalogue as module_catalogue
    module_catalogue.charger.cache_clear()
    with pytest.raises(ErreurDCE) as exc:
        generer(ecrire(tmp_path, reponses()), tmp_path / "s", racine)
    message = str(exc.value)
    assert "ccap-prix" in message and "ccap-prix.md" in message
    assert f"ligne {ligne}" in message and "« plafond_inexistant »" in message
    assert not (tmp_path / "s").exists()


def test_clause_ne_peut_pas_sortir_du_bac_a_sable(tmp_path):
    racine = _copie_catalogue(tmp_path)
    fichier = racine / "clauses" / "ccap" / "ccap-prix.md"
    fichier.write_text(fichier.read_text(encoding="utf-8")
                       + "\n{{ ''.__class__.__mro__[1].__subclasses__() }}\n", encoding="utf-8")
    from generateur.donnees import catalogue as module_catalogue
    module_catalogue.charger.cache_clear()
    with pytest.raises(ErreurDCE) as exc:
        generer(ecrire(tmp_path, reponses()), tmp_path / "s", racine)
    assert "interdite dans le bac à sable" in str(exc.value)


# -- conversion Markdown par morceaux -------------------------------------------------------------------

_MOTS = st.sampled_from(["Le", "titulaire", "**gras**", "*italique*", "_souligné_", "2026.", "12)", "\\*", "&amp;",
                         "-", "+", "1.", "|", "800\u00a0000,00\u00a0€", "#", ">", "`code`", "[lien](http://x)",
                         "<div>", "</div>", "<b>x</b>"])
_PHRASE = st.lists(_MOTS, min_size=1, max_size=8).map(" ".join)
_MARQUE = st.sampled_from(["- ", "* ", "+ ", "1. ", "2. ", "10) "])
_RETRAIT = st.sampled_from(["", "  ", "    ", "\t"])
_ENTRE = st.sampled_from(["\n", "\n\n", "\n  \n", "\n\n\n", "\n \t\n\n"])


@st.composite
def _bloc_markdown(draw) -> str:
    genre = draw(st.sampled_from(["paragraphe", "titre", "liste", "tableau", "suite", "citation"]))
    if genre == "titre":
        return "#" * draw(st.integers(1, 4)) + " " + draw(_PHRASE)
    if genre == "liste":
        elements = draw(st.lists(st.tuples(_RETRAIT, _MARQUE, _PHRASE), min_size=1, max_size=4))
        return draw(_ENTRE).join(f"{r}{m}{p}" for r, m, p in elements)
    if genre == "tableau":
        colonnes = draw(st.integers(1, 3))
        lignes = draw(st.lists(st.lists(_PHRASE, min_size=colonnes, max_size=colonnes), min_size=1, max_size=3))
        entete = "| " + " | ".join(f"c{i}" for i in range(colonnes)) + " |\n|" + "---|" * colonnes
        return entete + "".join("\n| " + " | ".join(l) + " |" for l in lignes)
    if genre == "suite":
        return draw(_RETRAIT) + draw(_PHRASE)
    if genre == "citation":
        return "> " + draw(_PHRASE)
    return "\n".join(draw(st.lists(_PHRASE, min_size=1, max_size=3)))


@REGLAGES
@given(blocs=st.lists(st.tuples(_bloc_markdown(), _ENTRE), min_size=1, max_size=8))
def test_conversion_par_morceaux_identique_au_texte_entier(blocs):
    """Les clauses sont converties morceau par morceau (cache) : mêmes blocs que le texte converti d'un coup."""
    from generateur.pieces.markdown_ import _blocs, vers_blocs

    texte = "".join(b + entre for b, entre in blocs)
    assert vers_blocs(texte) == list(_blocs(texte))


# Morceaux lus sans Python-Markdown (`_direct` : paragraphe ou titre d'une ligne, liste simple, tableau) : mêmes blocs
# que par Markdown, y compris pour ce qui ressemble de près à de la syntaxe (échappements, gras vide, « *** », « ** x** »,
# gras collé à un mot ou non fermé, marques de liste et de titre voisines, cellules manquantes, espaces insécables).
# Chaque liste de choix : les formes que `_direct` lit (plusieurs fois, pour qu'une bonne part des morceaux tirés soit
# lue sans Markdown), puis les formes douteuses qu'il doit laisser à Markdown.
_SURS = ["Le", "titulaire", "É", "«\u00a0lot\u00a0»", "800\u00a0000,00\u00a0€", "\\-", "\\(", "\\)", "\\.", "\\+",
         "\\*", "\\|", "\\\\", "\\<", "\\#", "\\>", "²", "1.", "-", "a)", "\ue000[à compléter]\ue001", "  ",
         "\u00a0", "", "\ue000", "\ue001", "**gras**", "mot**collé**", "**a**b**c**", "**\\***", "**\\-**",
         "**«\u00a0lot\u00a0»**", "**1.**", "**\ue000y\ue001**", "**Fourniture de denrées\u00a0: lot\u00a01**"]
_DOUTEUX = ["\\a", "\\", "*", "_", "&amp;", "<b>", "`x`", "#", ">", "|", "\x02", "~", "[x]", "**", "***", "****", "**x",
            "x**", "*x*", "__x__", "** x**", "**x **", "**\u00a0x**", "**x\u00a0**", "**\\\\**", "**\\**"]
_MOT_SIMPLE = st.sampled_from(_SURS * 15 + _DOUTEUX)
_CONTENU = st.lists(_MOT_SIMPLE, min_size=0, max_size=6).map(lambda mots: " ".join(mots))
_BORD = st.sampled_from(["", "|", " | ", "  |"])
_DEBUT_LIGNE = st.sampled_from(["Le ", "« ", "(", "É", "a", "**", "**Le ", "# ", "### ", "###### ", "##  "] * 8
                               + ["1 ", "- ", "| ", "** ", "#", "####### ", "#Titre ", "1. ", "* ", "+ ", "2026. ", "> ",
                                  " ", "    ", "=", "---", "\u00a0"])
_FIN_LIGNE = st.sampled_from(["", " ", "  ", "\u00a0", "."] * 8
                             + ["\\", "**", " #", " ##", "\n===", "\n---", "\nsuite", "  \nsuite"])
_MARQUE_SIMPLE = st.sampled_from(["- ", "-  ", "1. ", "2. ", "10. "] * 8
                                 + ["* ", "+ ", "1) ", "-", "  - ", "    - ", "- - ", "- ### ", "- 1. ", "\n- "])
_DEBUT_ELEMENT = st.sampled_from(["Le ", "«\u00a0", "Acheteur\u00a0: ", "**Prix**\u00a0: ", "**Prix** ", ""])
_ENTRE_SIMPLE = st.sampled_from(["\n\n"] * 4 + ["\n", "\n\n\n", "\n \n"])


@st.composite
def _ligne_simple(draw) -> str:
    return draw(_DEBUT_LIGNE) + draw(_CONTENU) + draw(_FIN_LIGNE)


@st.composite
def _liste_simple(draw) -> str:
    elements = draw(st.lists(st.tuples(_MARQUE_SIMPLE, _DEBUT_ELEMENT, _CONTENU), min_size=1, max_size=4))
    commune = draw(st.one_of(st.none(), _MARQUE_SIMPLE))  # souvent une seule marque pour toute la liste
    return "\n".join((commune or marque) + debut + contenu for marque, debut, contenu in elements)


@st.composite
def _morceau_simple(draw) -> str:
    genre = draw(st.sampled_from(["ligne", "ligne", "liste", "ligne et liste", "tableau"]))
    if genre == "ligne":
        return draw(_ligne_simple())
    if genre == "liste":
        return draw(_liste_simple())
    if genre == "ligne et liste":
        return draw(_ligne_simple()) + draw(_ENTRE_SIMPLE) + draw(_liste_simple())
    colonnes = draw(st.integers(1, 3))
    gauche, droite = draw(_BORD), draw(_BORD)

    def ligne(cellules: list[str]) -> str:
        return gauche + " | ".join(cellules) + droite

    separateur = ligne([draw(st.sampled_from(["---", ":--", "--:", ":-:", " - "])) for _ in range(colonnes)])
    lignes = [ligne(draw(st.lists(_CONTENU, min_size=colonnes, max_size=colonnes))), separateur]
    lignes += [ligne(draw(st.lists(_CONTENU, min_size=0, max_size=colonnes + 1)))
               for _ in range(draw(st.integers(0, 3)))]
    return "\n".join(lignes)


@REGLAGES
@given(morceaux_=st.lists(_morceau_simple(), min_size=1, max_size=10))
def test_morceaux_lus_sans_markdown_identiques(morceaux_):
    """Un morceau lu sans Python-Markdown (`_direct`) donne les blocs que Markdown donnerait."""
    import pickle

    from generateur.pieces.markdown_ import _convertir

    for texte in morceaux_:
        attendu = _convertir(texte, markdown_seul=True)
        assert pickle.dumps(_convertir(texte)) == pickle.dumps(attendu), texte


@pytest.mark.parametrize("texte, direct", [
    ("La présente consultation a pour objet\u00a0: **Fourniture de denrées \\(lot\u00a01\\)**.", True),
    ("**Une visite des lieux est obligatoire** avant la remise des offres.", True),
    ("### Documents à remettre\n\n- Avant tout commencement : les fiches.\n- **Pendant** les travaux.", True),
    ("**Fourniture de denrées**\n\n- Acheteur\u00a0: Région Occitanie / Pyrénées\\-Méditerranée.", True),
    ("Le dossier comprend\u00a0:\n\n1. le présent règlement\n1. l’acte d’engagement", True),
    ("| Lot | Intitulé |\n|---|---|\n| 1 | **Peinture** |", True),
    ("Objet : ** x**.", False), ("Objet : **x **.", False), ("Objet : ****.", False), ("Objet : ***x***.", False),
    ("Objet : **x.", False), ("Objet : *x*.", False), ("Objet\n\n- a\n\n- b", False), ("- a\n1. b", False),
    ("Objet\n- a", False), ("### Titre\nTexte", False), ("####### Titre", False),
])
def test_formes_lues_sans_markdown(texte, direct):
    """Les formes fréquentes des textes propres à une consultation sont lues sans Markdown, les formes douteuses
    laissées à Markdown ; dans les deux cas, mêmes blocs que par Markdown."""
    import pickle

    from generateur.pieces.markdown_ import _convertir, _direct

    assert (_direct(texte) is not None) is direct
    assert pickle.dumps(_convertir(texte)) == pickle.dumps(_convertir(texte, markdown_seul=True))


def test_conversion_par_morceaux_des_clauses_du_catalogue():
    """Toutes les clauses rendues des exemples : mêmes blocs par morceaux et d'un coup."""
    from generateur.pieces.assemblage import rendre_clause
    from generateur.droit.regles import preparer
    from generateur.pieces.markdown_ import _blocs, _convertir, _direct, morceaux, vers_blocs

    coupees = sans_markdown = 0
    for exemple in sorted((RACINE / "exemples").glob("*.yaml")):
        analyse = preparer(exemple, RACINE)
        for selection in analyse.selections:
            if selection.retenue:
                texte = rendre_clause(analyse, selection)
                assert vers_blocs(texte) == list(_blocs(texte)), selection.clause.id
                coupees += len(morceaux(texte)) > 1
                for morceau in morceaux(texte):  # lu sans Markdown quand il le peut : mêmes blocs
                    sans_markdown += _direct(morceau) is not None
                    assert _convertir(morceau) == _convertir(morceau, markdown_seul=True), morceau
    assert coupees > 50  # la plupart des clauses sont effectivement coupées
    assert sans_markdown > 100
