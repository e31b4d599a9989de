"""Ce qui rend dce rapide ne change rien à ce qu'il écrit : cache disque des modèles Jinja compilés, du Markdown
converti et des motifs de la relecture, mémoire de la relecture automatique, index du dossier de consultations. Aucun test ne chronomètre : ils vérifient les documents produits et le comportement des caches
(rempli, ignoré s'il n'est pas sûr, sans effet s'il est abîmé)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXEMPLES, RACINE, copier_exemple
from generateur.donnees import catalogue
from generateur.pieces import relecture

EXEMPLE = EXEMPLES / "amp-espaces-verts.yaml"


def _generer(sortie: Path, cache: str, exemple: Path = EXEMPLE) -> dict[str, bytes]:
    env = {**os.environ, "DCE_CACHE": cache, "DCE_RACINE": str(RACINE)}
    subprocess.run([sys.executable, "-m", "generateur.interfaces.cli", "generer", str(exemple), "--sortie", str(sortie)],
                   check=True, capture_output=True, env=env, cwd=RACINE)
    return {f.name: f.read_bytes() for f in sorted(sortie.iterdir())}


@pytest.fixture(scope="module")
def sans_cache(tmp_path_factory) -> dict[str, bytes]:
    return _generer(tmp_path_factory.mktemp("sans-cache") / "dce", "0")


def test_cache_rempli_puis_relu_memes_octets(tmp_path, sans_cache):
    cache = tmp_path / "cache"
    premier = _generer(tmp_path / "premier", str(cache))
    assert len(list((cache / "jinja").glob("*.jinja"))) > 50  # clauses, conditions, messages, parties du modèle Word
    assert {f.name.split("-")[0] for f in (cache / "memoires").iterdir()} == {"analyses", "classes", "clauses", "croises",
                                                                            "jinja", "markdown", "relecture", "sources"}
    entrees = sorted(f for f in cache.rglob("*") if f.is_file())
    assert premier == sans_cache
    dates = {e: e.stat().st_mtime_ns for e in entrees}
    assert _generer(tmp_path / "second", str(cache)) == sans_cache
    assert {e: e.stat().st_mtime_ns for e in entrees} == dates  # relu, pas réécrit


def test_memoire_de_la_consultation_remplace_les_memoires_partagees(tmp_path, sans_cache):
    """Ce que la relecture, les contrôles croisés et la conversion du Markdown ont tiré des textes d'une consultation
    est aussi gardé dans sa mémoire (sous-dossier « consultations » du cache, un fichier désigné par le contenu de ses
    réponses) : leurs mémoires partagées effacées (comme quand un lot de centaines de consultations les a fait
    déborder), la commande suivante n'a plus rien à chercher ni à convertir — elle ne les recrée pas, faute de rien
    y écrire — et donne les mêmes octets ; les mêmes réponses copiées ailleurs s'en servent aussi."""
    cache = tmp_path / "cache"
    partagees = ("relecture", "croises", "markdown")

    def effacer_partagees() -> None:
        for fichier in (cache / "memoires").iterdir():
            if fichier.name.split("-")[0] in partagees:
                fichier.unlink()

    def recreees() -> list[str]:
        return sorted(f.name.split("-")[0] for f in (cache / "memoires").iterdir() if f.name.split("-")[0] in partagees)

    _generer(tmp_path / "premier", str(cache))
    assert recreees() == sorted(partagees) and len(list((cache / "consultations").glob("*.pickle"))) == 1
    effacer_partagees()
    assert _generer(tmp_path / "second", str(cache)) == sans_cache
    assert recreees() == []
    copie = copier_exemple(EXEMPLE, tmp_path / "ailleurs" / "reponses.yaml")
    assert _generer(tmp_path / "copie", str(cache), copie) == sans_cache
    assert recreees() == [] and len(list((cache / "consultations").glob("*.pickle"))) == 1
    # sans elle, tout est cherché de nouveau : les mémoires partagées sont recréées, les octets les mêmes
    for fichier in (cache / "consultations").glob("*.pickle"):
        fichier.unlink()
    assert _generer(tmp_path / "troisieme", str(cache)) == sans_cache
    assert recreees() == sorted(partagees)


def test_codes_compiles_relus_d_un_seul_fichier(tmp_path, sans_cache):
    """Les codes compilés servis à une commande sont gardés ensemble (mémoire « jinja ») : la commande suivante
    n'ouvre pas un fichier par texte compilé ; sans eux, elle ne recompile rien et donne les mêmes octets."""
    cache = tmp_path / "cache"
    _generer(tmp_path / "premier", str(cache))
    for fichier in (cache / "jinja").glob("*.jinja"):
        fichier.unlink()
    assert _generer(tmp_path / "second", str(cache)) == sans_cache
    assert not list((cache / "jinja").glob("*.jinja"))


def test_cache_abime_sans_effet(tmp_path, sans_cache):
    cache = tmp_path / "cache"
    _generer(tmp_path / "premier", str(cache))
    for i, entree in enumerate(sorted(f for f in cache.rglob("*") if f.is_file())):
        entree.write_bytes(b"" if i % 2 else b"\x00pas du bytecode" * 10)
    assert _generer(tmp_path / "second", str(cache)) == sans_cache


def test_dossiers_du_cache_bornes(tmp_path, monkeypatch):
    """Un dossier du cache qui déborde garde ses entrées les plus récentes : toutes celles permises s'il est petit, les
    trois quarts s'il est grand (le tri suivant attend un quart de nouvelles écritures) ; sans débordement, rien ne
    s'en va ; fichiers temporaires (noms cachés) et autres suffixes ne comptent pas."""
    from generateur.donnees import cache

    monkeypatch.setenv("DCE_CACHE", str(tmp_path / "cache"))
    base = cache.dossier("essai")
    assert base is not None and base == tmp_path / "cache" / "essai"
    assert cache.dossier("essai") == base  # déjà là
    (tmp_path / "cache" / "fichier").write_bytes(b"")
    assert cache.dossier("fichier") is None  # un fichier à la place du dossier

    def remplir(n: int, suffixe: str = ".pickle") -> None:
        for i in range(n):
            (base / f"{i:04d}{suffixe}").write_bytes(b"")
            os.utime(base / f"{i:04d}{suffixe}", ns=(i * 10**9, i * 10**9))

    remplir(10)
    (base / ".temporaire.pickle").write_bytes(b"")
    (base / "autre.txt").write_bytes(b"")
    cache._borner(base, 8, ".pickle")
    gardes = [f"{i:04d}.pickle" for i in range(2, 10)]
    assert sorted(p.name for p in base.iterdir()) == [".temporaire.pickle", *gardes, "autre.txt"]

    for p in base.iterdir():
        p.unlink()
    remplir(400, "")
    cache._borner(base, 400)  # sans débordement : rien ne s'en va
    assert len(list(base.iterdir())) == 400
    remplir(401, "")
    cache._borner(base, 400)
    assert sorted(p.name for p in base.iterdir()) == [f"{i:04d}" for i in range(101, 401)]


def test_borner_un_grand_dossier_sans_le_garder_en_memoire(tmp_path):
    """Borner un grand dossier du cache (squelettes d'un lot de milliers de consultations) ne garde en mémoire que
    les entrées à retirer, pas tout le dossier : les plus anciennes s'en vont, les plus récentes restent, et la pointe
    de mémoire reste loin de ce que prendraient les entrées et les dates de tout le dossier (≈ 500 octets chacune)."""
    import tracemalloc

    from generateur.donnees import cache

    base = tmp_path / "squelettes"
    base.mkdir()
    n = 4000
    for i in range(n):
        (base / f"{i:05d}.pickle").write_bytes(b"")
        os.utime(base / f"{i:05d}.pickle", ns=(i * 10**9, i * 10**9))
    tracemalloc.start()
    try:
        cache._borner(base, 3600, ".pickle")
        pointe = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    restants = sorted(p.name for p in base.iterdir())
    assert restants == [f"{i:05d}.pickle" for i in range(n - 3600 * 3 // 4, n)]
    assert pointe < n * 150, pointe  # tout le dossier : ≈ 2 Mio ; les 1 300 à retirer : ≈ 250 Kio


def test_memoires_lues_avant_les_processus_de_calcul(tmp_path, monkeypatch):
    """`chauffer` (avant la création des processus de calcul d'un lot) lit les mémoires du cache disque de ce
    processus : les processus de calcul en héritent au lieu de les relire chacun."""
    from generateur.donnees import cache
    from generateur.lot import regeneration

    import weakref

    monkeypatch.setenv("DCE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "_MEMOIRES", weakref.WeakSet())  # les mémoires des autres modules restent intactes
    ecrite = cache.Memoire("essai", "v1", 10)
    ecrite.ecrire([("texte", "résultat")])
    ecrite.enregistrer()
    memoire = cache.Memoire("essai", "v1", 10)
    assert memoire._entrees is None
    regeneration.chauffer(RACINE)
    assert memoire._entrees == {"texte": "résultat"}


def test_motifs_et_markdown_prets_avant_les_processus_de_calcul(monkeypatch):
    """`chauffer` compile aussi les motifs de la relecture (et leurs préalables) et crée le convertisseur Markdown :
    un processus de calcul créé ensuite (fork), neuf ou remplaçant, en hérite au lieu de les refaire à sa première
    consultation."""
    from generateur.lot import regeneration
    from generateur.pieces import markdown_

    markdown_._md.cache_clear()
    monkeypatch.delitem(sys.modules, "markdown", raising=False)
    monkeypatch.setattr(relecture, "_LUES", {})
    monkeypatch.setattr(relecture, "_MEMOIRES", {})
    cat = catalogue.charger(RACINE)
    memoire = relecture._lues(cat)[2]
    assert memoire._motifs is None and memoire._prealables is None
    monkeypatch.setattr(relecture, "_LUES", {})
    monkeypatch.setattr(relecture, "_MEMOIRES", {})
    regeneration.chauffer(RACINE)
    memoire = relecture._lues(cat)[2]
    assert memoire._motifs is not None and any(m is not None for m in memoire._motifs)
    assert memoire._prealables is not None
    assert "markdown" in sys.modules and markdown_._md.cache_info().currsize == 1


def test_conditions_motifs_croises_et_code_prets_avant_les_processus_de_calcul(tmp_path, monkeypatch):
    """`chauffer` analyse aussi la condition de chaque clause, compile les motifs des contrôles croisés et calcule
    l'empreinte du code : la première consultation d'un processus de calcul neuf (fork, qui en hérite) n'analyse plus
    aucune condition par Jinja (≈ 40 l'étaient dans chaque processus : leur mémoire disque n'est écrite que par le
    processus principal, qui ne produit rien d'un lot) et ne compile aucun motif croisé."""
    from generateur.donnees import cache
    from generateur.droit import expressions
    from generateur.lot import regeneration
    from generateur.pieces import assemblage, croises
    from generateur.rendu.generation import produire_dce

    monkeypatch.setenv("DCE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(expressions, "_ANALYSES", cache.Memoire("analyses", "essai", 4096))  # vide
    expressions.chemins_utilises.cache_clear()
    monkeypatch.setattr(croises, "_LUS", {})
    croises.controles(catalogue.charger(RACINE))  # section vérifiée (motifs compilés), verdict gardé sur disque
    monkeypatch.setattr(croises, "_LUS", {})  # relue sans vérification : motifs pas encore compilés
    monkeypatch.setattr(assemblage, "_CODE", [])
    monkeypatch.setattr(assemblage, "_MEMOIRES", {})
    regeneration.chauffer(RACINE)
    cat = catalogue.charger(RACINE)
    motifs = [m for c in croises.controles(cat) for m in croises.motifs_du_controle(c)]
    assert len(motifs) > 20 and all(m._compile is not None for m in motifs)
    assert len(assemblage._CODE) == 1
    analysees: list[str] = []
    analyser = expressions._chemins_utilises
    monkeypatch.setattr(expressions, "_chemins_utilises", lambda e: analysees.append(e) or analyser(e))
    compiles: list[str] = []
    compiler = croises.Motif.compile
    monkeypatch.setattr(croises.Motif, "compile",
                        lambda m: m._compile or compiles.append(m.pattern) or compiler(m))
    resultat = produire_dce(EXEMPLE, RACINE)
    assert "CCAP" in " ".join(resultat.contenus)  # une consultation produite, contrôles croisés compris
    assert analysees == [] and compiles == []
    expressions.chemins_utilises.cache_clear()  # sans chauffe : les conditions sont analysées
    monkeypatch.setattr(expressions, "_ANALYSES", cache.Memoire("analyses", "essai-2", 4096))
    assert produire_dce(EXEMPLE, RACINE) and len(analysees) > 20


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="droits Unix")
def test_cache_inscriptible_par_d_autres_ignore(tmp_path, sans_cache):
    """Le bytecode est exécuté : un dossier de cache où d'autres peuvent écrire n'est ni lu ni rempli."""
    cache = tmp_path / "cache"
    (cache / "jinja").mkdir(parents=True)
    os.chmod(cache / "jinja", 0o777)
    assert _generer(tmp_path / "dce", str(cache)) == sans_cache
    assert not list((cache / "jinja").iterdir())


def _pieces(*textes: str) -> dict[str, relecture.Piece]:
    unites = [relecture.Unite("CCAP", "Article 1 – Objet", t) for t in textes]
    return {"CCAP": relecture.Piece("CCAP", unites, {"1"})}


def test_relecture_une_unite_ne_depend_pas_de_sa_voisine():
    """Un crochet ouvert dans un paragraphe et fermé dans le suivant n'est pas un gabarit « [à compléter] » ; le même
    texte dans un seul paragraphe l'est. La mémoire des textes déjà lus donne le même verdict dans les deux ordres."""
    cat = catalogue.charger(RACINE)
    separes = _pieces("Le titulaire remet [le planning", "détaillé] avant le démarrage.")
    joints = _pieces("Le titulaire remet [le planning détaillé] avant le démarrage.")
    for pieces in (separes, joints, separes):
        defauts = [d for d in relecture.relire(cat, pieces) if d.regle == "a-completer"]
        assert len(defauts) == (1 if pieces is joints else 0)
    assert [d.extrait for d in relecture.relire(cat, joints) if d.regle == "a-completer"] == \
        ["Le titulaire remet [le planning détaillé] avant le démarrage."]


def test_relecture_memoire_meme_verdict_que_sans_memoire():
    """Chaque règle appliquée seule (sans mémoire partagée) trouve exactement ce que trouve la relecture complète."""
    cat = catalogue.charger(RACINE)
    pieces = _pieces("Voir l’article 12 du CCAP et l’annexe 3 du CCTP.", "Montant : 999 999 999 € ; délai : , .",
                     "Le titulaire (s) remet {{ pieces }} et [À compléter].", "Texte propre et juste.")
    pieces["CCTP"] = relecture.Piece("CCTP", [relecture.Unite("CCTP", "Article 1 – Objet", "Texte.")], {"1"})
    complete = relecture.relire(cat, pieces)
    assert {d.regle for d in complete} >= {"renvoi-article-absent", "renvoi-annexe-absente", "valeur-sentinelle",
                                           "valeur-vide", "syntaxe-jinja", "a-completer"}
    une_a_une = [d for r in relecture.regles(cat) for d in relecture.appliquer(r, pieces)]
    assert complete == une_a_une


# --- index du dossier de consultations : la liste de `dce serveur` sans relire chaque consultation -------------------

@pytest.fixture(scope="module")
def dossier_genere(tmp_path_factory) -> Path:
    from generateur.lot import regeneration

    dossier = tmp_path_factory.mktemp("index") / "consultations"
    for exemple in ("amp-espaces-verts", "travaux-lycee"):
        copier_exemple(EXEMPLES / f"{exemple}.yaml", dossier / exemple / "reponses.yaml")  # textes et pièces compris
    regeneration.regenerer(dossier, RACINE, jobs=1)
    return dossier


def _lignes(page: str) -> list[str]:
    import re

    return [" ".join(re.sub(r"<[^>]+>", " ", ligne).split()) for ligne in re.findall(r"<tr>.*?</tr>", page, re.S)]


def test_index_tenu_par_la_generation_et_lu_par_l_accueil(dossier_genere, monkeypatch):
    """La régénération écrit l'index ; l'accueil le lit sans relire ni fichier de réponses ni manifeste, et affiche
    exactement ce qu'afficherait la lecture de chaque consultation."""
    pytest.importorskip("flask")
    from generateur.interfaces.web import consultations, create_app
    from generateur.lot import index, regeneration

    entrees = index._lire_fichier(dossier_genere)
    assert set(entrees) == {"amp-espaces-verts", "travaux-lycee"}
    assert entrees["travaux-lycee"]["version"] == "001" and entrees["travaux-lycee"]["lots"] == 5
    attendues = [consultations._fiche(dossier_genere, c) for c in regeneration.decouvrir(dossier_genere)]

    def interdit(*args, **kwargs):
        raise AssertionError("l'accueil relit une consultation alors que l'index est à jour")

    monkeypatch.setattr(index, "lire_manifeste", interdit)
    monkeypatch.setattr(index.yaml_lignes, "lire", interdit)
    fiches = consultations.lister(dossier_genere)
    assert [(f.reference, f.objet, f.lots, f.version, f.generee_le, f.statut, f.niveau) for f in fiches] == \
        sorted([(f.reference, f.objet, f.lots, f.version, f.generee_le, f.statut, f.niveau) for f in attendues],
               key=lambda t: t[0].casefold())
    page = create_app(RACINE, dossier_genere).test_client().get("/").get_data(as_text=True)
    lignes = _lignes(page)
    assert any(ligne.startswith("AMP-2026-EV-041 ") and "version 001" in ligne for ligne in lignes), lignes


def test_index_suit_les_modifications_faites_a_la_main(dossier_genere, tmp_path):
    """Une consultation ajoutée, retirée ou dont le fichier de réponses est modifié à la main : la liste le montre."""
    import shutil

    from generateur.interfaces.web import consultations

    dossier = tmp_path / "consultations"
    shutil.copytree(dossier_genere, dossier)
    consultations.lister(dossier)
    reponses = dossier / "travaux-lycee" / "reponses.yaml"
    reponses.write_text(reponses.read_text(encoding="utf-8").replace("objet: ", "objet: MODIFIÉ ", 1), encoding="utf-8")
    (dossier / "nouvelle").mkdir()
    (dossier / "nouvelle" / "reponses.yaml").write_bytes((EXEMPLES / "restauration-lycees.yaml").read_bytes())
    shutil.rmtree(dossier / "amp-espaces-verts")
    fiches = {f.nom: f for f in consultations.lister(dossier)}
    assert set(fiches) == {"travaux-lycee", "nouvelle"}
    assert fiches["travaux-lycee"].objet.startswith("MODIFIÉ ") and fiches["travaux-lycee"].version == "001"
    assert fiches["nouvelle"].version is None and fiches["nouvelle"].statut == "Jamais générée"
    from generateur.lot import index

    assert set(index._lire_fichier(dossier)) == {"travaux-lycee", "nouvelle"}  # l'index a suivi


def test_conversion_pandoc_gardee_en_cache(tmp_path, monkeypatch):
    """Le texte technique Word d'un CCTP n'est converti par pandoc qu'une fois : la commande suivante relit le
    Markdown du cache (même texte) ; un autre document, ou une entrée abîmée, repasse par pandoc."""
    from generateur.pieces import texte_technique

    monkeypatch.setenv("DCE_CACHE", str(tmp_path / "cache"))
    docx = EXEMPLES / "cctp" / "travaux-lycee-lot-3-menuiseries.docx"
    attendu = texte_technique.convertir(docx)
    assert "menuiserie" in attendu.lower()
    entrees = list((tmp_path / "cache" / "pandoc").iterdir())
    assert len(entrees) == 1

    appels = []

    def pandoc(fichier):
        appels.append(fichier)
        return "converti à nouveau"

    monkeypatch.setattr(texte_technique, "_convertir", pandoc)
    assert texte_technique.convertir(docx) == attendu and appels == []  # relu dans le cache
    autre = tmp_path / "autre.docx"
    autre.write_bytes(docx.read_bytes() + b"\0")
    assert texte_technique.convertir(autre) == "converti à nouveau" and appels == [autre]
    entrees[0].write_bytes(b"\xff\xfe")  # entrée abîmée : recalculée
    assert texte_technique.convertir(docx) == "converti à nouveau" and len(appels) == 2


def test_generer_n_importe_pas_les_modules_des_autres_commandes(tmp_path):
    """`dce generer` d'un exemple (texte technique Word, pièces de l'acheteur) n'importe ni le classeur Excel
    (openpyxl, numpy), ni la base du serveur d'équipe (SQLAlchemy), ni pandoc quand sa conversion est en cache,
    ni les outils de test : ce sont les modules que la régression du démarrage avait ajoutés. À la seconde
    commande, tout est en cache : ni la bibliothèque Markdown, ni jsonschema (réponses déjà validées), ni pypdf
    (texte des pièces jointes PDF déjà lu), ni PyYAML (réponses, catalogue et correspondances DECP déjà analysés), ni
    Babel (montants et dates mis en forme sans lui) ne servent."""
    exemple = EXEMPLES / "travaux-lycee.yaml"
    env = {**os.environ, "DCE_CACHE": str(tmp_path / "cache"), "DCE_RACINE": str(RACINE)}
    script = ("import runpy, sys\n"
              "sys.argv = ['dce', 'generer', sys.argv[1], '--sortie', sys.argv[2]]\n"
              "try:\n    runpy.run_module('generateur.interfaces.cli', run_name='__main__')\n"
              "except SystemExit:\n    pass\n"
              "print(' '.join(sorted(m for m in sys.modules if '.' not in m or m.startswith('generateur.'))))\n")
    for sortie in ("premier", "second"):
        modules = subprocess.run([sys.executable, "-c", script, str(exemple), str(tmp_path / sortie)], check=True,
                                 capture_output=True, text=True, env=env, cwd=RACINE).stdout.split("\n")[-2].split()
    assert any((tmp_path / "second").glob("*-CCTP.docx"))
    for lourd in ("openpyxl", "numpy", "sqlalchemy", "pypandoc", "hypothesis", "matplotlib", "flask", "filelock",
                  "markdown", "jsonschema", "pypdf", "yaml", "babel", "html"):
        assert lourd not in modules, lourd
    # seul le module de la commande appelée (Groupe.get_command), ni la publication, ni l'aperçu
    assert [m for m in modules if m.startswith("generateur.interfaces.")] == [
        "generateur.interfaces.cli_fr", "generateur.interfaces.commandes_generer", "generateur.interfaces.groupe"]


def test_texte_des_pieces_jointes_garde_en_cache(tmp_path, monkeypatch):
    """Le texte d'une pièce jointe PDF (contrôle du PGC contre le CCAP) n'est lu par pypdf qu'une fois : ensuite il
    est relu dans le cache (même texte) ; un fichier modifié est relu, une lecture en échec n'est pas gardée."""
    from generateur.donnees import pieces_jointes

    monkeypatch.setenv("DCE_CACHE", str(tmp_path / "cache"))
    reponses = tmp_path / "reponses.yaml"
    reponses.write_text("", encoding="utf-8")
    source = EXEMPLES / "pieces" / "travaux-lycee" / "plan-general-coordination-sps.pdf"
    (tmp_path / "pgc.pdf").write_bytes(source.read_bytes())
    attendu = pieces_jointes.texte(reponses, "pgc.pdf")
    assert attendu and "coordination" in attendu

    appels = []

    def lire(chemin, suffixe):
        appels.append(chemin.name)
        if chemin.name == "illisible.pdf":
            raise ValueError("PDF abîmé")
        return "lu à nouveau"

    monkeypatch.setattr(pieces_jointes, "_lire", lire)
    assert pieces_jointes.texte(reponses, "pgc.pdf") == attendu and appels == []  # relu dans le cache
    (tmp_path / "pgc.pdf").write_bytes(source.read_bytes() + b"\n")
    assert pieces_jointes.texte(reponses, "pgc.pdf") == "lu à nouveau" and appels == ["pgc.pdf"]
    (tmp_path / "illisible.pdf").write_bytes(b"%PDF-1.4 abime")
    for _ in range(2):  # l'échec n'est pas gardé : chaque commande le redit
        assert pieces_jointes.texte(reponses, "illisible.pdf") is None
    assert appels == ["pgc.pdf", "illisible.pdf", "illisible.pdf"]


def test_catalogue_garde_en_cache_suit_les_clauses(tmp_path, monkeypatch):
    """Le catalogue lu et validé est gardé dans le cache disque ; une clause modifiée est relue (son nouveau texte
    est celui du catalogue), une clause rendue invalide est refusée avec sa ligne, même après un catalogue gardé."""
    import shutil

    from generateur.erreurs import ErreurDonnees

    monkeypatch.setenv("DCE_CACHE", str(tmp_path / "cache"))
    racine = tmp_path / "racine"
    racine.mkdir()
    shutil.copy(RACINE / "catalogue.yaml", racine)
    shutil.copytree(RACINE / "clauses", racine / "clauses")

    def charger():
        catalogue.charger.cache_clear()  # un autre processus : seul le cache disque reste
        return catalogue.charger(racine)

    premier = charger()
    assert len(list((tmp_path / "cache" / "catalogue").iterdir())) == 1
    objet = next(v[0] for v in premier.clauses.values() if v[0].fichier.name == "ccap-objet.md")
    relu = charger()
    assert relu is not premier and relu.clauses.keys() == premier.clauses.keys()
    assert [c.corps for v in relu.clauses.values() for c in v] == [c.corps for v in premier.clauses.values() for c in v]

    fichier = racine / "clauses" / "ccap" / "ccap-objet.md"
    fichier.write_text(fichier.read_text(encoding="utf-8") + "\nPhrase ajoutée par le service juridique.\n",
                       encoding="utf-8")
    modifie = charger()
    nouveau = next(v[0] for v in modifie.clauses.values() if v[0].fichier.name == "ccap-objet.md")
    assert "Phrase ajoutée par le service juridique." in nouveau.corps
    assert "Phrase ajoutée" not in objet.corps and nouveau.empreinte != objet.empreinte

    texte = fichier.read_text(encoding="utf-8")
    fichier.write_text(texte.replace("\nid:", "\nidentifiant:", 1), encoding="utf-8")
    with pytest.raises(ErreurDonnees) as exc:
        charger()
    assert any(p.fichier == fichier for p in exc.value.problemes)
    catalogue.charger.cache_clear()


def test_catalogue_relu_n_analyse_que_les_clauses_modifiees(tmp_path, monkeypatch):
    """Après la modification d'une clause, le catalogue relu n'analyse qu'elle : les autres clauses gardées sont
    celles d'une lecture complète, la clause modifiée porte son nouveau texte ; un catalogue ne partage pas ses
    clauses avec le précédent."""
    import shutil

    from generateur.donnees import cache

    monkeypatch.setenv("DCE_CACHE", str(tmp_path / "cache"))
    # mémoire neuve : celle du processus de test peut être pleine des catalogues lus par les tests précédents (au
    # plus 2 × 1 024 clauses, au-delà rien n'est plus ajouté)
    monkeypatch.setattr(catalogue, "_CLAUSES", cache.Memoire("clauses", "essai", 1024))
    racine = tmp_path / "racine"
    racine.mkdir()
    shutil.copy(RACINE / "catalogue.yaml", racine)
    shutil.copytree(RACINE / "clauses", racine / "clauses")
    premier = catalogue._charger(racine)
    lues = []
    lire = catalogue.lire_clause
    monkeypatch.setattr(catalogue, "lire_clause", lambda f, d=None, o=None: lues.append(f.name) or lire(f, d, o))
    fichier = racine / "clauses" / "ccap" / "ccap-objet.md"
    fichier.write_text(fichier.read_text(encoding="utf-8") + "\nPhrase ajoutée.\n", encoding="utf-8")
    second = catalogue._charger(racine)
    assert lues == ["ccap-objet.md"]
    avant = {c.fichier.name: c for v in premier.clauses.values() for c in v}
    apres = {c.fichier.name: c for v in second.clauses.values() for c in v}
    assert avant.keys() == apres.keys() and "Phrase ajoutée." in apres["ccap-objet.md"].corps
    assert all(apres[n] == c and apres[n] is not c for n, c in avant.items() if n != "ccap-objet.md")


def test_suggestions_gardees_suivent_le_questionnaire(tmp_path, monkeypatch):
    """Les suggestions vérifiées sont gardées dans le cache disque : relues, elles sont les mêmes ; un titre modifié
    dans le questionnaire est relu ; une suggestion rendue illisible est refusée même après une version gardée."""
    from generateur.droit import suggestions
    from generateur.erreurs import ErreurDonnees

    monkeypatch.setenv("DCE_CACHE", str(tmp_path / "cache"))
    copie = tmp_path / "questionnaire.yaml"
    texte = (RACINE / "questionnaire.yaml").read_text(encoding="utf-8")
    copie.write_text(texte, encoding="utf-8")

    def charger():
        suggestions.charger.cache_clear()  # un autre processus : seul le cache disque reste
        return suggestions.charger(copie)

    premier = charger()
    assert len(list((tmp_path / "cache" / "suggestions").iterdir())) == 1
    relu = charger()
    assert relu == premier and relu is not premier
    copie.write_text(texte.replace('titre: "Découper la consultation en lots"', 'titre: "Allotir"', 1), encoding="utf-8")
    assert charger()[0].titre == "Allotir" and premier[0].titre == "Découper la consultation en lots"
    copie.write_text(texte.replace('quand: "lots | length == 1 and', 'quand: "lots | length == ((1 and', 1),
                     encoding="utf-8")
    with pytest.raises(ErreurDonnees, match="expression illisible"):
        charger()
    suggestions.charger.cache_clear()


def test_questionnaire_garde_en_cache_suit_le_fichier(tmp_path, monkeypatch):
    """Le questionnaire lu et validé est gardé dans le cache disque ; un libellé modifié est relu, un questionnaire
    rendu invalide est refusé avec sa ligne même après une version gardée."""
    from generateur.donnees import questionnaire
    from generateur.erreurs import ErreurDonnees

    monkeypatch.setenv("DCE_CACHE", str(tmp_path / "cache"))
    fichier = tmp_path / "questionnaire.yaml"
    fichier.write_bytes((RACINE / "questionnaire.yaml").read_bytes())

    def charger():
        questionnaire.charger.cache_clear()
        return questionnaire.charger(fichier)

    assert charger().question("reference").libelle == "Référence de la consultation"
    assert len(list((tmp_path / "cache" / "questionnaire").iterdir())) == 1
    assert charger().question("reference").libelle == "Référence de la consultation"
    texte = fichier.read_text(encoding="utf-8")
    fichier.write_text(texte.replace('"Référence de la consultation"', '"Numéro de la consultation"', 1),
                       encoding="utf-8")
    assert charger().question("reference").libelle == "Numéro de la consultation"
    fichier.write_text(texte.replace("sections:", "sektions:", 1), encoding="utf-8")
    with pytest.raises(ErreurDonnees):
        charger()
    questionnaire.charger.cache_clear()


def test_verdict_de_validation_garde_seulement_pour_les_memes_reponses(tmp_path, monkeypatch):
    """Des réponses conformes au schéma ne sont validées qu'une fois (verdict gardé dans le cache disque) ; la même
    réponse rendue invalide est refusée avec le libellé de sa question, verdict gardé ou non."""
    from conftest import ecrire, reponses
    from generateur.donnees import questionnaire, reponses as module_reponses
    from generateur.erreurs import ErreurDonnees

    monkeypatch.setenv("DCE_CACHE", str(tmp_path / "cache"))
    q = questionnaire.charger(RACINE / "questionnaire.yaml")
    verdicts = tmp_path / "cache" / "validations"
    avant = set(verdicts.iterdir()) if verdicts.is_dir() else set()  # le questionnaire a pu laisser le sien
    valides = ecrire(tmp_path, reponses())
    attendu = module_reponses.charger(valides, q).donnees
    assert len(set(verdicts.iterdir()) - avant) == 1
    assert module_reponses.charger(valides, q).donnees == attendu  # verdict relu : mêmes réponses complétées
    invalides = ecrire(tmp_path, reponses(duree_mois="deux ans"), "invalides.yaml")
    with pytest.raises(ErreurDonnees) as exc:
        module_reponses.charger(invalides, q)
    assert any("deux ans" in str(p) for p in exc.value.problemes)
    assert len(set(verdicts.iterdir()) - avant) == 1


def test_evaluation_lit_le_contexte_tel_qu_il_est():
    """Le contexte Jinja réutilisé d'une évaluation à l'autre (sans recopier les réponses) donne ce que donnerait un
    contexte neuf : une valeur modifiée entre deux évaluations est relue, le résultat d'une évaluation ne devient
    pas une variable de la suivante, les fonctions de l'environnement restent, une réponse les masque."""
    from jinja2.exceptions import UndefinedError

    from generateur.droit.expressions import evaluer

    contexte = {"montant": 100, "lots": [{"numero": 1}, {"numero": 2}]}
    assert evaluer("montant * 2", contexte) == 200
    contexte["montant"] = 150
    assert evaluer("montant * 2", contexte) == 300
    with pytest.raises(UndefinedError):
        evaluer("result", contexte)
    assert evaluer("range(3) | list", contexte) == [0, 1, 2]
    assert evaluer("lots | map(attribute='numero') | list", contexte) == [1, 2]
    assert evaluer("range", {"range": "réponse"}) == "réponse"
    assert evaluer("montant", {"montant": 7}) == 7 and evaluer("montant * 2", contexte) == 300


def test_rendu_d_un_modele_lit_le_contexte_tel_qu_il_est():
    """Un modèle (clause, message d'un contrôle) rendu sans recopier son contexte donne ce que donnerait une copie :
    les réponses masquent les fonctions de l'environnement, qui restent sinon ; une valeur modifiée entre deux
    rendus est relue ; une variable posée par le modèle ne reste pas dans le contexte ; une variable absente est
    une erreur qui la nomme."""
    from jinja2.exceptions import UndefinedError

    from generateur.droit.expressions import ENV_CLAUSES, ENV_EXPRESSIONS

    modele = ENV_EXPRESSIONS.from_string("{% set total = montant * 2 %}{{ total }} {{ range(2) | list }} {{ lots | "
                                         "map(attribute='numero') | join(',') }}")
    contexte = {"montant": 100, "lots": [{"numero": 1}, {"numero": 2}]}
    assert modele.render(contexte) == "200 [0, 1] 1,2"
    contexte["montant"] = 150
    assert modele.render(contexte) == "300 [0, 1] 1,2" and "total" not in contexte
    assert ENV_EXPRESSIONS.from_string("{{ range }}").render({"range": "réponse"}) == "réponse"
    assert ENV_CLAUSES.from_string("Objet : {{ objet }}").render({"objet": "*gras* [lien]"}) == \
        "Objet : \\*gras\\* \\[lien\\]"  # valeur saisie échappée pour Markdown, comme avant
    with pytest.raises(UndefinedError, match="absente"):
        ENV_EXPRESSIONS.from_string("{{ absente }}").render({"montant": 1})


def test_generer_reprend_les_pieces_du_dossier_de_sortie(tmp_path, sans_cache):
    """`dce generer` dans un dossier qui contient déjà la même consultation reprend ses pièces Word à l'octet ; une
    pièce retouchée, ou remplacée par un tube, est rendue de nouveau (sans attendre le tube), sur le squelette gardé
    de son modèle : ni python-docx ni docxtpl ne sont alors importés. Chaque fois, le dossier est identique à une
    génération sans cache."""
    env = {**os.environ, "DCE_CACHE": str(tmp_path / "cache"), "DCE_RACINE": str(RACINE)}
    sortie = tmp_path / "dce"
    script = ("import runpy, sys\n"
              "from generateur.rendu import documents\n"
              "rendus, rendre = [], documents._produire\n"
              "documents._produire = lambda m, v, b, t: rendus.append(v['sigle_document']) or rendre(m, v, b, t)\n"
              "sys.argv = ['dce', 'generer', sys.argv[1], '--sortie', sys.argv[2]]\n"
              "try:\n    runpy.run_module('generateur.interfaces.cli', run_name='__main__')\n"
              "except SystemExit:\n    pass\n"
              "print(' '.join(sorted(rendus)))\n"
              "print(' '.join(sorted(m for m in sys.modules if '.' not in m)))\n")

    def generer() -> tuple[list[str], set[str]]:
        sortie_std = subprocess.run([sys.executable, "-c", script, str(EXEMPLE), str(sortie)], check=True,
                                    capture_output=True, text=True, env=env, cwd=RACINE, timeout=120).stdout
        assert {f.name: f.read_bytes() for f in sorted(sortie.iterdir())} == sans_cache
        rendus, modules = sortie_std.split("\n")[-3:-1]
        return rendus.split(), set(modules.split())

    rendus, modules = generer()  # dossier neuf, cache vide : tout est rendu
    assert rendus == ["ANNEXE", "CCAP", "CCTP", "RC", "SPASER"] and {"docx", "docxtpl"} <= modules
    rendus, modules = generer()  # tout est repris
    assert rendus == [] and not {"docx", "docxtpl"} & modules
    ccap = next(sortie.glob("*-CCAP.docx"))
    ccap.write_bytes(ccap.read_bytes() + b"\0")
    rendus, modules = generer()
    assert rendus == ["CCAP"] and not {"docx", "docxtpl"} & modules
    if hasattr(os, "mkfifo"):
        rc = next(sortie.glob("*-RC.docx"))
        rc.unlink()
        os.mkfifo(rc)
        assert generer()[0] == ["RC"]


@pytest.mark.parametrize("exemple", sorted(p.name for p in EXEMPLES.glob("*.yaml")))
def test_document_assemble_sur_son_squelette_comme_rendu_complet(exemple, tmp_path, monkeypatch):
    """Chaque pièce Word assemblée sur le squelette gardé de son modèle (rendu docxtpl des variables : couverture,
    en-têtes, propriétés) a les octets du rendu complet par docxtpl et python-docx, que le squelette vienne d'être
    calculé ou soit relu ; de même pour un document de modifications suivies ; un squelette par pièce, un autre pour
    d'autres variables."""
    from generateur.pieces.assemblage import blocs_document
    from generateur.pieces.blocs import ParagrapheRevise
    from generateur.pieces.tracabilite import fiche
    from generateur.droit.regles import preparer
    from generateur.rendu import documents, generation

    monkeypatch.setenv("DCE_CACHE", str(tmp_path / "cache"))
    analyse = preparer(EXEMPLES / exemple, RACINE)
    pieces = {d: blocs_document(analyse, d) for d in generation.PIECES}
    pieces["SPASER"] = fiche(analyse)[:2]
    revise = ParagrapheRevise([("=", "Le délai est de "), ("-", "trente"), ("+", "quarante-cinq"), ("=", " jours.")])
    pieces["Modifications"] = ([revise, ParagrapheRevise([("+", "Article ajouté.")], marque="+")], [])
    for sigle, (blocs, titres) in pieces.items():
        modele = generation.modele_de(analyse, sigle if sigle in generation.PIECES else "CCAP")
        variables = generation.variables_modele(analyse, sigle, f"Pièce {sigle}")
        complet = documents._produire_complet
        attendu = complet(modele, variables, blocs, titres)
        autres = {**variables, "objet": "Autre objet « à part »"}
        attendu_autres = complet(modele, autres, blocs, titres)
        monkeypatch.setattr(documents, "_produire_complet", None)  # assemblé sur le squelette, jamais rendu en entier
        assert documents._produire(modele, variables, blocs, titres) == attendu  # squelette calculé
        assert documents._produire(modele, variables, blocs, titres) == attendu  # squelette relu
        assert documents._produire(modele, autres, blocs, titres) == attendu_autres != attendu
        monkeypatch.setattr(documents, "_produire_complet", complet)
    assert len(list((tmp_path / "cache" / documents.SQUELETTES).iterdir())) == 2 * len(pieces)


def test_squelette_d_un_modele_a_numerotation_inhabituelle(tmp_path, monkeypatch):
    """Un modèle dont la numérotation finit par w:numIdMacAtCleanup (Word l'écrit parfois) : les listes numérotées
    ajoutées au squelette le sont devant lui, comme python-docx le fait ; mêmes octets que le rendu complet."""
    import io
    import zipfile

    from generateur.pieces.assemblage import blocs_document
    from generateur.droit.regles import preparer
    from generateur.rendu import documents, generation

    monkeypatch.setenv("DCE_CACHE", str(tmp_path / "cache"))
    source = zipfile.ZipFile(RACINE / "modeles" / "dce.docx")
    sortie = io.BytesIO()
    with zipfile.ZipFile(sortie, "w", zipfile.ZIP_DEFLATED) as z:
        for nom in source.namelist():
            contenu = source.read(nom)
            if nom == "word/numbering.xml":
                assert b"numIdMacAtCleanup" not in contenu
                contenu = contenu.replace(b"</w:numbering>", b'<w:numIdMacAtCleanup w:val="2"/></w:numbering>')
            z.writestr(nom, contenu)
    modele = tmp_path / "modele.docx"
    modele.write_bytes(sortie.getvalue())
    analyse = preparer(EXEMPLE, RACINE)
    blocs, titres = blocs_document(analyse, "CCAP")
    variables = generation.variables_modele(analyse, "CCAP", "Cahier des clauses administratives particulières")
    attendu = documents._produire_complet(modele, variables, blocs, titres)
    assert b"numIdMacAtCleanup" in zipfile.ZipFile(io.BytesIO(attendu)).read("word/numbering.xml")
    monkeypatch.setattr(documents, "_produire_complet", None)  # assemblé sur le squelette, jamais rendu en entier
    for _ in range(2):
        assert documents._produire(modele, variables, blocs, titres) == attendu


@pytest.mark.parametrize("texte", ["Article 3 – Prix", "", "A & B < C > D \"E\"", "ligne 1\nligne 2", "\n",
                                   "fin\n", "contrôle\x01\x0b retiré", "l’offre « économiquement » la plus avantageuse",
                                   "\ufffe&\n<\n"])
def test_runs_word_ecrits_comme_avant(texte):
    """Le chemin rapide de l'écriture d'un run (une ligne, rien à échapper) donne le XML du chemin général : texte
    échappé, caractères interdits retirés, un saut de ligne par retour à la ligne."""
    import re

    from generateur.rendu import ooxml

    def general(t: str, balise: str = "w:t") -> str:
        echappe = [re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", "", m).replace("&", "&amp;")
                   .replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;") for m in t.split("\n")]
        return "<w:r>" + "<w:br/>".join(f'<{balise} xml:space="preserve">{e}</{balise}>' if m else ""
                                        for m, e in zip(t.split("\n"), echappe)) + "</w:r>"

    assert ooxml._run(texte) == general(texte)
    assert ooxml._run(texte, balise="w:delText") == general(texte, "w:delText")
    assert ooxml.runs([ooxml.Segment(texte)]) == general(ooxml.Segment(texte).texte)


def test_production_rend_le_ramasse_miettes_comme_elle_l_a_trouve(tmp_path):
    """Le ramasse-miettes, arrêté le temps de produire un DCE, est remis en marche après, même quand la production
    échoue ; arrêté par l'appelant, il le reste."""
    import gc

    from generateur.erreurs import ErreurDonnees
    from generateur.rendu import generation

    assert gc.isenabled()
    assert generation.produire_dce(EXEMPLE, RACINE).contenus and gc.isenabled()
    invalide = tmp_path / "reponses.yaml"
    invalide.write_text("objet: [\n", encoding="utf-8")
    with pytest.raises(ErreurDonnees):
        generation.produire_dce(invalide, RACINE)
    assert gc.isenabled()
    gc.disable()
    try:
        generation.produire_dce(EXEMPLE, RACINE)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_reponses_analysees_gardees_suivent_le_fichier(tmp_path, monkeypatch):
    """Un fichier YAML analysé est gardé dans le cache disque : relu, il donne les mêmes données, lignes et octets
    qu'une analyse, copié ailleurs aussi (il porte alors son nouveau chemin) ; modifié, il est analysé de nouveau ;
    rendu invalide, il est refusé avec sa ligne même après une version gardée ; chaque lecture rend des données
    neuves (en modifier une ne change pas la suivante)."""
    from generateur.donnees import yaml_lignes
    from generateur.erreurs import ErreurDonnees

    monkeypatch.setenv("DCE_CACHE", str(tmp_path / "cache"))
    fichier = tmp_path / "reponses.yaml"
    texte = (EXEMPLES / "travaux-lycee.yaml").read_text(encoding="utf-8")
    fichier.write_text(texte, encoding="utf-8")
    direct = yaml_lignes.lire_texte(texte, fichier)
    premier = yaml_lignes.lire(fichier)
    assert len(list((tmp_path / "cache" / "yaml-lus").iterdir())) == 1
    analyses = []
    monkeypatch.setattr(yaml_lignes, "lire_texte", lambda t, f: analyses.append(f) or direct)
    relu = yaml_lignes.lire(fichier)
    assert analyses == []  # relu dans le cache
    for doc in (premier, relu):
        assert (doc.donnees, doc.lignes, doc.fichier, doc.octets) == \
            (direct.donnees, direct.lignes, fichier, fichier.read_bytes())
    relu.donnees["objet"] = "modifié par un appelant"
    assert yaml_lignes.lire(fichier).donnees["objet"] == direct.donnees["objet"]
    # copié ailleurs (dossier de consultations déplacé, lot copié) : pas analysé de nouveau, il porte son chemin
    copie = tmp_path / "ailleurs" / "reponses.yaml"
    copie.parent.mkdir()
    copie.write_bytes(fichier.read_bytes())
    deplace = yaml_lignes.lire(copie)
    assert analyses == [] and len(list((tmp_path / "cache" / "yaml-lus").iterdir())) == 1
    assert (deplace.donnees, deplace.lignes, deplace.fichier) == (direct.donnees, direct.lignes, copie)
    assert yaml_lignes.lire(fichier).fichier == fichier
    monkeypatch.undo()
    monkeypatch.setenv("DCE_CACHE", str(tmp_path / "cache"))
    fichier.write_text(texte.replace("reference:", "reference: 2099-X\nancienne_reference:", 1), encoding="utf-8")
    assert yaml_lignes.lire(fichier).donnees["reference"] == "2099-X"
    fichier.write_text(texte + "\nobjet: en double\n", encoding="utf-8")
    with pytest.raises(ErreurDonnees, match="double"):
        yaml_lignes.lire(fichier)


def test_liens_spaser_gardes_par_analyse_suivent_les_clauses_retenues(monkeypatch):
    """Les liens SPASER d'une analyse (lus par la fiche, l'annexe, le manifeste et les contrôles) sont calculés une
    fois ; ils sont recalculés si le choix des clauses retenues change, et une liste rendue modifiée par un appelant
    ne change pas la suivante."""
    from generateur.droit import spaser
    from generateur.droit.regles import preparer

    analyse = preparer(EXEMPLE, RACINE)
    calculs = []
    calculer = spaser._liens_spaser
    monkeypatch.setattr(spaser, "_liens_spaser", lambda a: calculs.append(a) or calculer(a))
    liens = spaser.liens_spaser(analyse)
    assert liens and spaser.par_niveau(analyse)["mise_en_oeuvre"] and len(calculs) == 1
    liens.clear()
    assert spaser.liens_spaser(analyse) and len(calculs) == 1
    ecartee = next(s for s in analyse.selections if s.retenue and any(l.selection is s for l in spaser.liens_spaser(analyse)))
    ecartee.retenue = False
    assert all(l.selection is not ecartee for l in spaser.liens_spaser(analyse)) and len(calculs) == 2


def test_manifeste_relu_comme_json_le_lit(tmp_path):
    """Les manifestes sont relus par orjson ; ce que seul json accepte (NaN, entier de plus de 64 bits) est relu par
    json, à l'identique ; un dossier sans manifeste n'en a pas."""
    import json

    from generateur.lot.rapport_changements import lire_manifeste

    assert lire_manifeste(tmp_path) is None
    ordinaire = {"reponses": {"reference": "2026-001", "objet": "Entretien « espaces verts »"}, "taux": 0.1,
                 "fichiers": {"a.docx": "0" * 64}, "lots": [1, 2.5, None, True]}
    (tmp_path / "x-manifeste.json").write_text(json.dumps(ordinaire, ensure_ascii=False), encoding="utf-8")
    assert lire_manifeste(tmp_path) == ordinaire
    (tmp_path / "x-manifeste.json").write_text('{"grand": 123456789012345678901234567890, "n": NaN}', encoding="utf-8")
    relu = lire_manifeste(tmp_path)
    assert relu["grand"] == 123456789012345678901234567890 and relu["n"] != relu["n"]


def test_manifeste_decoupe_en_sections_lues_a_la_demande(tmp_path, monkeypatch):
    """Un manifeste écrit par la génération est découpé en sections de premier niveau, chacune décodée à sa première
    lecture : mêmes valeurs qu'un décodage d'un coup, y compris pour des textes qui imitent une clé (« \\n  "x": »,
    échappé dans le JSON). Tout autre JSON (sur une ligne, clé répétée, clé hors du découpage) est décodé d'un coup,
    comme json le lit. Deux manifestes dont une section a les mêmes octets : la comparaison des valeurs ne la décode
    pas, et dit les mêmes changements que sur les manifestes décodés d'un coup."""
    import json

    from generateur.donnees.fichiers import json_lisible
    from generateur.lot import rapport_changements as rc

    donnees = {"reponses": {"reference": "R-1", "objet": 'Texte\n  "piege": 1, avec « guillemets »'},
               "calculs": [{"nom": "a", "lot": None, "valeur": 1.5, "reference": "CCP"}, {"nom": "b", "lot": 2,
                                                                                       "valeur": [1, {"x": None}]}],
               "parametres": [{"nom": "p", "valeur": 5, "reference": "R"}], "droit_applicable_au": "2026-01-01",
               "vide": {}, "liste_vide": [], "dernier": "fin"}
    octets = json_lisible(donnees)
    decodees = []
    decoder = rc._decoder
    monkeypatch.setattr(rc, "_decoder", lambda o: decodees.append(o) or decoder(o))
    lu = rc._manifeste(octets)
    assert isinstance(lu, rc.Manifeste) and not decodees and list(lu) == list(donnees)
    assert lu["calculs"] == donnees["calculs"] and len(decodees) == 1
    assert dict(lu) == donnees == json.loads(octets) and len(decodees) == len(donnees)
    for autre in (json.dumps(donnees).encode(), b'{\n  "a": 1,\n  "a": 2\n}\n', b'{\n  "a b": 1,\n  "c": 2\n}',
                  b'{}', b'{\n  "a": [\n    1\n  ]\n}'):
        relu = rc._manifeste(autre)
        assert dict(relu) == json.loads(autre), autre
    assert type(rc._manifeste(b'{\n  "a": 1,\n  "a": 2\n}\n')) is dict

    # comparaison des valeurs : calculs et paramètres aux mêmes octets, non décodés ; une réponse change
    nouveau = {**donnees, "reponses": {**donnees["reponses"], "objet": "Autre objet"}}
    ancien_lu, nouveau_lu = rc._manifeste(octets), rc._manifeste(json_lisible(nouveau))
    decodees.clear()
    changements = rc.comparer_valeurs(ancien_lu, nouveau_lu)
    assert changements == rc.comparer_valeurs(donnees, nouveau)
    assert [c.nom for c in changements] == ["objet"] and len(decodees) == 2  # les seules réponses, des deux côtés
    calcul_change = {**donnees, "calculs": [donnees["calculs"][0], {**donnees["calculs"][1], "valeur": 3}]}
    changements = rc.comparer_valeurs(rc._manifeste(octets), rc._manifeste(json_lisible(calcul_change)))
    assert changements == rc.comparer_valeurs(donnees, calcul_change) and [c.nom for c in changements] == ["b"]


@pytest.mark.parametrize("exemple", sorted(p.name for p in EXEMPLES.glob("*.yaml")))
def test_second_passage_des_controles_meme_verdicts_que_complet(exemple, monkeypatch):
    """Les contrôles repris du premier passage (ceux qui ne lisent pas la relecture) : même annexe, mêmes verdicts,
    mêmes faits et mêmes défauts qu'un second passage complet, pour chaque exemple."""
    from generateur.droit import conformite
    from generateur.droit.regles import preparer
    from generateur.pieces import lecture

    monkeypatch.setenv("DCE_CACHE", "0")  # calculés, jamais repris de la mémoire de la consultation
    analyse = preparer(EXEMPLES / exemple, RACINE)
    reprise = lecture.controler(analyse)
    monkeypatch.setattr(lecture, "verifier", lambda a, p, precedent=None, etablis=None: conformite.verifier(a, p))
    complet = lecture.controler(analyse)
    assert reprise == complet
    assert list(reprise.faits) == list(complet.faits)  # même ordre des faits (annexe JSON)


def test_second_passage_refait_les_controles_qui_lisent_la_relecture():
    """Un défaut de relecture ajouté entre les deux passages change le verdict du contrôle de la relecture, comme
    un passage complet ; les contrôles qui ne la lisent pas sont repris tels quels."""
    from generateur.droit import conformite
    from generateur.droit.regles import preparer
    from generateur.pieces import lecture
    from generateur.pieces.assemblage import blocs_document

    analyse = preparer(EXEMPLE, RACINE)
    corps = {doc: blocs_document(analyse, doc)[0] for doc in analyse.catalogue.documents}
    faits = lecture.faits_des_pieces(analyse, corps)
    sans = {**faits, "defauts_relecture": [], "pieces_relues": ["RC", "CCAP"]}
    defaut = conformite.Defaut("a-completer", "Valeur à compléter", "CCAP", "Article 1 – Objet", "… XXX …", True)
    avec = {**faits, "defauts_relecture": [defaut], "pieces_relues": ["RC", "CCAP", "CCTP"]}
    premier = conformite.verifier(analyse, sans)
    repris = conformite.verifier(analyse, avec, precedent=premier)
    assert repris == conformite.verifier(analyse, avec)
    change = {a.id for a, b in zip(premier.verdicts, repris.verdicts) if a != b}
    assert change and all(conformite.lit_la_relecture(c) for c in conformite.definitions(analyse) if c["id"] in change)
    assert repris.faits["pieces_relues"] == ["RC", "CCAP", "CCTP"] and len(repris.faits["defauts_relecture"]) == 1


def test_cellules_lues_comme_les_autres_blocs():
    """Les tableaux (fiche, annexe, pièces) lus par `relecture.piece` donnent une unité par cellule non vide, ligne
    par ligne, avec l'article et la section qui les portent, l'en-tête de leur colonne et les textes de leur ligne ;
    les autres blocs, une unité par texte."""
    from generateur.droit.regles import preparer
    from generateur.pieces.assemblage import blocs_document
    from generateur.pieces.blocs import Tableau
    from generateur.pieces.tracabilite import fiche

    analyse = preparer(EXEMPLES / "travaux-lycee.yaml", RACINE)
    pieces = {doc: blocs_document(analyse, doc)[0] for doc in analyse.catalogue.documents}
    pieces["Fiche"] = fiche(analyse)[0]
    for nom, blocs in pieces.items():
        lue = relecture.piece(nom, blocs)
        attendues, article, section, titre = [], relecture.SANS_ARTICLE, "", ""
        for b in blocs:
            if isinstance(b, relecture.Titre):
                numero = relecture.RE_NUMERO_TITRE.match(b.texte)
                if numero:
                    section, titre = numero.group(1), b.texte
                if b.niveau == 1:
                    article = b.texte
            if isinstance(b, Tableau):
                lignes = [tuple(relecture.texte(c).replace("\n", " ") for c in ligne) for ligne in b.lignes]
                attendues += [relecture.Unite(nom, article, t, section, titre, "cellule" if rang else "entete",
                                              lignes[0][j] if j < len(lignes[0]) else "", ligne)
                              for rang, ligne in enumerate(lignes) for j, t in enumerate(ligne) if t.strip()]
            else:
                genre = ("titre" if isinstance(b, relecture.Titre) else "liste" if isinstance(b, relecture.Liste)
                         else "paragraphe")
                attendues += [relecture.Unite(nom, article, t.replace("\n", " "), section, titre, genre)
                              for t in relecture._textes(b) if t.strip()]
        assert any(isinstance(b, Tableau) for b in blocs)
        assert lue.unites == attendues, nom


def test_empreinte_des_blocs_distingue_ce_que_le_rendu_distingue():
    """L'empreinte des entrées d'un document (`documents._serialiser`, orjson) écrit chaque bloc par ses seuls champs :
    chaque classe de bloc a un jeu de champs qu'aucune autre n'a, et tout changement d'un champ change l'empreinte ;
    un bloc qu'orjson n'écrit pas exactement (image : octets) passe par pickle."""
    import dataclasses
    import typing

    from generateur.pieces import blocs as b
    from generateur.rendu import documents

    classes = [*typing.get_args(b.Bloc), b.Segment, b.ElementListe]
    champs = [frozenset(f.name for f in dataclasses.fields(c)) for c in classes]
    assert len(set(champs)) == len(classes), "deux classes de blocs ont les mêmes champs : l'empreinte les confondrait"

    def empreinte(blocs):
        return documents._serialiser(blocs, [t for t in blocs if isinstance(t, b.Titre)])

    variantes = [
        [b.Titre(1, "Article 1 – Objet", "_Toc_art_1")], [b.Titre(2, "Article 1 – Objet", "_Toc_art_1")],
        [b.Titre(1, "Article 1 – Objet")],
        [b.Paragraphe([b.Segment("Texte")])], [b.Paragraphe([b.Segment("Texte", gras=True)])],
        [b.Paragraphe([b.Segment("Texte", italique=True)])], [b.Paragraphe([b.Segment("Texte", a_completer=True)])],
        [b.Paragraphe([b.Segment("Texte")], style="Citation")], [b.Paragraphe([b.Segment("Texte")], centre=True)],
        [b.Liste(False, [b.ElementListe([b.Segment("Texte")])])], [b.Liste(True, [b.ElementListe([b.Segment("Texte")])])],
        [b.Tableau([[[b.Segment("Texte")]]])], [b.Tableau([[[b.Segment("Texte")]]], entete=False)],
        [b.Tableau([[[b.Segment("Texte")]]], largeurs=[100])], [b.SautDePage()],
        [b.ParagrapheRevise([("=", "Texte")])], [b.ParagrapheRevise([("+", "Texte")])],
        [b.ParagrapheRevise([("+", "Texte")], marque="+")],
    ]
    empreintes = [empreinte(v) for v in variantes]
    assert all(e.startswith(b"orjson") for e in empreintes)
    assert len(set(empreintes)) == len(variantes)
    image = [b.Image(b"\x89PNG", 120.0, "Graphique")]
    assert empreinte(image).startswith(b"pickle") and empreinte(image) != empreinte([b.Image(b"\x89PNG", 100.0)])


def test_zip_reproductible_comme_zipfile_l_ecrit():
    """Les entrées gardées d'une archive à l'autre (parties communes des documents d'un même modèle) donnent les
    octets qu'écrit zipfile d'un bout à l'autre, quelle que soit leur position dans l'archive."""
    import io
    import random
    import zipfile

    from generateur.donnees import fichiers

    def zipfile_seul(parties: dict[str, bytes]) -> bytes:
        sortie = io.BytesIO()
        with zipfile.ZipFile(sortie, "w", zipfile.ZIP_DEFLATED) as z:
            for nom in sorted(parties, key=lambda n: (n != "[Content_Types].xml", n)):
                info = zipfile.ZipInfo(nom, fichiers.DATE_ZIP)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                z.writestr(info, parties[nom], compresslevel=fichiers.NIVEAU_COMPRESSION)
        return sortie.getvalue()

    alea = random.Random(22)
    commun = {"word/styles.xml": b"<w:styles>" + b"<w:style/>" * 500 + b"</w:styles>",
              "[Content_Types].xml": b"<Types/>"}
    archives = [
        {**commun, "word/document.xml": b"<w:document>un</w:document>"},
        {**commun, "a.xml": b"avant", "word/document.xml": b"<w:document>deux</w:document>", "docProps/é.xml": b""},
        {**commun, "bruit": bytes(alea.randrange(256) for _ in range(90_000)) + b"PK\x01\x02PK\x05\x06" * 8},
        {"seul": b"PK\x01\x02"}, {},
    ]
    for parties in archives + archives:  # seconde fois : entrées relues
        assert fichiers.zip_reproductible(parties) == zipfile_seul(parties)


def test_corps_d_un_document_assemble_garde_pour_son_decoupage(tmp_path, monkeypatch):
    """Le corps (word/document.xml) gardé d'un document qui vient d'être assemblé est celui de ses octets, et le
    découpage en articles qui le reprend lit les mêmes textes ; d'autres octets, même égaux, n'ont pas de corps gardé."""
    import io
    import zipfile

    from generateur.droit.regles import preparer
    from generateur.lot import textes
    from generateur.pieces.assemblage import blocs_document
    from generateur.rendu import documents, generation

    monkeypatch.setenv("DCE_CACHE", str(tmp_path / "cache"))
    analyse = preparer(EXEMPLES / "restauration-lycees.yaml", RACINE)
    blocs, titres = blocs_document(analyse, "CCAP")
    octets = documents._produire(generation.modele_de(analyse, "CCAP"),
                                 generation.variables_modele(analyse, "CCAP", "CCAP"), blocs, titres)
    corps = documents.corps_assemble(octets)
    assert corps is not None and corps == zipfile.ZipFile(io.BytesIO(octets)).read("word/document.xml")
    assert documents.corps_assemble(bytes(bytearray(octets))) is None
    attendus = textes.textes_articles(octets)
    repris = textes.Articles(octets, xml=corps)
    assert len(attendus) > 5 and all(repris.texte(n) == t for n, t in attendus.items())


@pytest.mark.parametrize("exemple", sorted(p.name for p in EXEMPLES.glob("*.yaml")))
def test_conditions_repetees_evaluees_une_fois_meme_selection(exemple, monkeypatch):
    """Une condition écrite dans plusieurs clauses n'est évaluée qu'une fois par analyse (par portée) : chaque clause
    a la même décision, les mêmes lots et les mêmes valeurs lues que si sa condition était évaluée pour elle seule."""
    from generateur.droit import regles

    evaluees = []
    evaluer = regles.evaluer
    monkeypatch.setattr(regles, "evaluer", lambda e, c: evaluees.append((e, "lot" in c)) or evaluer(e, c))
    analyse = regles.preparer(EXEMPLES / exemple, RACINE)
    conditions = [(s.clause.condition, s.clause.portee) for s in analyse.selections
                  if s.clause.s_applique(analyse.contexte.get("nature"), analyse.contexte.get("categorie"))]
    assert len(conditions) > len(set(conditions))  # des conditions répétées
    ctx = analyse.contexte
    par_lot = [{**ctx, "lot": l} for l in ctx["lots"]]
    # expressions que l'analyse évalue aussi hors de la sélection (calculs, limites, conditions des renvois)
    autres = {str(r["expression"]) for regles_ in analyse.catalogue.calculs.values() for r in regles_}
    autres |= {str(l["expression"]) for l in analyse.catalogue.limites}
    autres |= {str(r["si"]) for s in analyse.selections for r in s.clause.renvois if r.get("si")}
    for s in analyse.selections:
        if not s.clause.s_applique(ctx.get("nature"), ctx.get("categorie")):
            continue
        par_la_selection = [lot for e, lot in evaluees
                            if e == s.clause.condition and lot == (s.clause.portee == "lot") and e not in autres]
        assert par_la_selection == ([True] * len(par_lot) if s.clause.portee == "lot" else [False])
        chemins = regles.chemins_utilises(s.clause.condition)
        if s.clause.portee == "lot":
            assert s.lots == [c["lot"]["numero"] for c in par_lot if evaluer(s.clause.condition, c)]
            assert s.retenue == bool(s.lots)
            assert s.lues == {c: [regles.en_json(regles._lire(l, c)) for l in par_lot] if c.startswith("lot.")
                              else regles.en_json(regles._lire(ctx, c)) for c in chemins}
        else:
            assert (s.retenue, s.lots) == (bool(evaluer(s.clause.condition, ctx)), [])
            assert s.lues == {c: regles.en_json(regles._lire(ctx, c)) for c in chemins}


def test_contexte_direct_lit_les_noms_comme_jinja():
    """Le contexte du bac à sable lit ses variables dans les dictionnaires du ChainMap, sans passer par Jinja : même
    valeur que le contexte de Jinja pour un nom des variables, un nom global masqué par une variable, un nom global
    d'une carte imbriquée, un nom absent (non défini)."""
    from collections import ChainMap

    from jinja2.runtime import Context, missing

    from generateur.droit.expressions import ENV_EXPRESSIONS, ContexteDirect

    assert "resolve_or_missing" in ContexteDirect.__dict__  # la lecture directe est bien celle de la classe
    variables = {"montant": 12, "range": "masqué"}
    globales = ChainMap({"taux": 5}, {"taux": 9, "range": range, "seul": "imbriqué"})
    parent = ChainMap(variables, globales)
    direct = ContexteDirect(ENV_EXPRESSIONS, parent, None, {}, globals=globales)
    jinja = Context(ENV_EXPRESSIONS, parent, None, {}, globals=globales)
    for nom in ("montant", "range", "taux", "seul", "absent"):
        assert direct.resolve_or_missing(nom) == jinja.resolve_or_missing(nom), nom
    assert direct.resolve_or_missing("absent") is missing
    assert [direct.resolve_or_missing(n) for n in ("range", "taux", "seul")] == ["masqué", 5, "imbriqué"]
    variables["montant"] = 13  # lu au moment de la lecture, pas à la création du contexte
    assert direct.resolve_or_missing("montant") == 13


def test_xml_garde_des_blocs_meme_xml_que_neuf():
    """Le XML gardé sous l'identité des blocs (`ooxml._XML` : runs des paragraphes et des éléments de liste, tableaux)
    donne le XML écrit de neuf, d'un document à l'autre ; un tableau suit le style de tableau du modèle."""
    from dataclasses import replace

    from generateur.droit.regles import preparer
    from generateur.pieces.assemblage import blocs_document
    from generateur.pieces.blocs import Tableau
    from generateur.rendu import ooxml

    analyse = preparer(EXEMPLES / "travaux-lycee.yaml", RACINE)
    blocs = [b for document in ("RC", "CCAP", "CCTP") for b in blocs_document(analyse, document)[0]]
    assert any(isinstance(b, Tableau) for b in blocs)

    def ecrire(styles: ooxml.Styles) -> str:
        ecrivain = ooxml.Ecrivain(replace(styles), ooxml.Numerotation(10, 1))
        return ecrivain.blocs(blocs)

    ooxml._XML.vider()
    neuf = ecrire(ooxml.Styles())
    assert len(ooxml._XML) > 0 and ecrire(ooxml.Styles()) == neuf  # relu
    autre = ooxml.Styles(tableau="TableauAcheteur")
    attendu = neuf.replace('<w:tblStyle w:val="Tableau"/>', '<w:tblStyle w:val="TableauAcheteur"/>')
    assert attendu != neuf and ecrire(autre) == attendu
    ooxml._XML.vider()
    assert ecrire(autre) == attendu


def test_appels_directs_du_bac_a_sable(monkeypatch):
    """`param('nom')` (regles.Parametres), une méthode de données, une fonction sans attribut : appelés sans les
    contrôles génériques de Jinja (même valeur, même trace des paramètres lus) ; une fonction qui porte un attribut
    (pass_context, unsafe) y passe encore : elle reçoit le contexte, ou reste refusée."""
    import datetime as dt

    from jinja2 import pass_context
    from jinja2.sandbox import SandboxedEnvironment, SecurityError, unsafe

    from generateur.droit import regles
    from generateur.droit.expressions import ENV_CLAUSES, evaluer

    cat = catalogue.charger(RACINE)
    jour = dt.date(2026, 6, 1)
    params = regles.Parametres(cat, jour, "commune")
    generiques = []
    appel = SandboxedEnvironment.call
    monkeypatch.setattr(SandboxedEnvironment, "call", lambda *a, **k: generiques.append(a[2]) or appel(*a, **k))
    assert evaluer("param('seuil_europeen_travaux')", {"param": params}) == cat.param("seuil_europeen_travaux", jour, "commune")
    assert ENV_CLAUSES.from_string("{{ param('seuil_europeen_travaux') }}").render({"param": params}) \
        == str(cat.param("seuil_europeen_travaux", jour, "commune"))
    assert list(params.lus) == ["seuil_europeen_travaux"]
    assert evaluer("f(2, n=1) ~ d.get('a') ~ j.isoformat()", {"f": lambda x, n: x * 3 + n, "d": {"a": "b"},
                                                               "j": jour}) == "7b2026-06-01"
    assert generiques == []
    assert evaluer("f()", {"f": pass_context(lambda contexte: contexte["v"]), "v": 4}) == 4 and len(generiques) == 1
    with pytest.raises(SecurityError):
        evaluer("f()", {"f": unsafe(lambda: 1)})


def test_nombres_et_dates_mis_en_forme_comme_babel():
    """euros, nombre, pourcent, date_longue et date_heure écrivent, sans Babel, ce qu'écrit Babel (locale fr_FR,
    espace fine rendue insécable, 1er du mois), à l'octet : valeurs au hasard de toutes grandeurs et de tous signes,
    zéros négatifs, arrondis à égalité, valeurs que Babel seul met en forme (infinies, NaN, trop de chiffres : même
    texte ou même erreur), toutes les dates de plus d'un siècle et toutes les heures."""
    import datetime as dt
    import random
    from decimal import Decimal

    from babel.dates import format_date, format_time
    from babel.numbers import format_currency, format_decimal, format_percent

    from generateur.donnees import formats

    def resultat(calcul):
        try:
            return calcul()
        except Exception as exc:  # noqa: BLE001 - même erreur attendue des deux côtés
            return type(exc)

    def babel(texte):
        return texte.replace("\u202f", "\u00a0")

    alea = random.Random(22)
    valeurs = ["0", "-0", "-0.00", "0.005", "0.015", "0.025", "-0.005", "0.0049", "12.345", "12.355", "-12.345",
               "1E+3", "1E-7", "999.995", "999999.995", "-999999.999", "123456789012345678901234",
               "12345678901234567890123.45", "1234567890123456789012345678", "1E+30", "Infinity", "-Infinity", "NaN",
               5.5, 15, 0.1, 1e22, -3, 2 ** 70, "0.125", "0.135", "1.005"]
    for _ in range(2000):
        valeurs.append(Decimal(alea.randint(-10 ** alea.randint(0, 16), 10 ** alea.randint(0, 16)))
                       .scaleb(-alea.randint(0, 6)))
    # par les fonctions publiques, mémoires (lru_cache) comprises : -0 et 0, égaux, y ont chacun leur entrée
    formats._euros.cache_clear(), formats._nombre.cache_clear(), formats._pourcent.cache_clear()
    euros, nombre, pourcent = formats.euros, formats.nombre, formats.pourcent
    for valeur in valeurs:
        decimal = Decimal(str(valeur))
        assert resultat(lambda: euros(valeur)) == resultat(
            lambda: babel(format_currency(formats._decimal(valeur), "EUR", locale="fr_FR"))), valeur
        for decimales in range(4):
            motif = "#,##0" + ("." + "#" * decimales if decimales else "")
            assert resultat(lambda: nombre(valeur, decimales)) == resultat(
                lambda: babel(format_decimal(decimal, format=motif, locale="fr_FR"))), (valeur, decimales)
        assert resultat(lambda: pourcent(valeur)) == resultat(
            lambda: babel(format_percent(decimal / 100, format="#,##0.##\u00a0%", locale="fr_FR"))), valeur
    assert formats.montant(1234.5) == "1\u00a0234,50\u00a0€\u00a0HT" and formats.pourcent(5.5) == "5,5\u00a0%"
    # le texte d'un zéro ne dépend pas de l'ordre des appels (-0 puis 0, puis l'inverse, mémoires vidées)
    for ordre in (("-0", "0"), ("0", "-0")):
        formats._euros.cache_clear(), formats._nombre.cache_clear(), formats._pourcent.cache_clear()
        vus = {v: (formats.euros(v), formats.nombre(v, 2), formats.pourcent(v)) for v in ordre}
        assert vus["0"] == ("0,00\u00a0€", "0", "0\u00a0%") and vus["-0"][0] == "-0,00\u00a0€", vus

    jours = [dt.date(1, 1, 1), dt.date(999, 12, 31), dt.date(9999, 12, 31)]
    jours += [dt.date(1999, 12, 1) + dt.timedelta(days=n) for n in range(0, 38000, 7)]
    jours += [dt.date(2026, 1, 1) + dt.timedelta(days=n) for n in range(800)]
    for jour in jours:
        attendu = format_date(jour, format="d MMMM y", locale="fr_FR")
        attendu = ("1er" + attendu[1:] if jour.day == 1 else attendu).replace(" ", "\u00a0", 1)
        assert formats.date_longue(jour) == formats.date_heure(jour) == attendu, jour
    for minutes in range(24 * 60):
        moment = dt.datetime(2031, 3, 1, minutes // 60, minutes % 60, tzinfo=dt.timezone(dt.timedelta(hours=-4)))
        heure = format_time(moment, format="H' h 'mm", locale="fr_FR").replace(" ", "\u00a0")
        assert formats.date_heure(moment) == "1er\u00a0mars 2031 à " + heure, moment
    assert formats.date_longue(None) == formats.date_heure(None) == ""


def test_mises_en_forme_sans_babel():
    """Montants, nombres, pourcentages et dates sont mis en forme sans importer Babel (ni charger les données de la
    locale, ≈ 25 ms par commande)."""
    script = ("import datetime as dt, sys\n"
              "from generateur.donnees import formats\n"
              "formats.euros(4321.5), formats.nombre(98765.4321, 2), formats.pourcent(12.345)\n"
              "formats.date_heure(dt.datetime(2032, 7, 1, 9, 5))\n"
              "print(sorted(m for m in sys.modules if m.startswith('babel')))\n")
    sortie = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True, cwd=RACINE)
    assert sortie.stdout.strip() == "[]"


def test_date_heure_lue_comme_strptime(monkeypatch):
    """La forme « AAAA-MM-JJ HH:MM » des réponses est lue sans strptime (son module coûte ≈ 3 ms à l'import) : même
    date que par strptime (la même fonction, chemin rapide retiré), et une date impossible ou une autre forme est lue
    comme avant (ou refusée)."""
    import re

    from generateur.donnees import reponses

    def lue(valeur):
        try:
            return reponses.lire_date_heure(valeur)
        except ValueError:
            return ValueError

    textes = ["2027-01-15 12:00", " 2027-01-15T08:05 ", "2027-01-15 8h05", "2027-02-29 12:00", "2028-02-29 23:59",
              "2027-13-01 12:00", "2027-01-15 24:00", "2027-01-32 10:00", "2027-1-5 9:30", "15/01/2027 12h00",
              "2027-01-15", "\u0662\u0660\u0662\u0667-01-15 12:00", "2027-01-15 12:00:30", "0001-01-01 00:00",
              "2027-01-15  12:00", "2027-01-15 12:00x", "x"]
    textes += [f"2027-{m:02d}-{j:02d} {h:02d}:{mi:02d}" for m in (1, 2, 4, 12) for j in (1, 28, 29, 30, 31)
               for h in (0, 9, 23) for mi in (0, 5, 59)]
    rapides = {texte: lue(texte) for texte in textes}
    monkeypatch.setattr(reponses, "_DATE_HEURE", re.compile(r"(?!)"))  # aucune forme reconnue : strptime seul
    for texte in textes:
        assert rapides[texte] == lue(texte), texte


def test_typographie_comme_les_trois_substitutions():
    """`typographie` n'applique un motif qu'au texte qui contient son signe, et ses motifs commencent par le
    caractère remplacé : même texte que les trois substitutions d'origine appliquées à la suite, sur des textes au
    hasard faits des caractères qui comptent."""
    import random
    import re

    from generateur.donnees import formats

    def attendu(texte):  # les motifs d'origine, appliqués à la suite
        for motif, remplacement in ((r"(?<=\w)'", "\u2019"), (r" (?=[:;!?»])|(?<=«) ", "\u00a0"),
                                    (r"(?<=\d) (?=%)", "\u00a0")):
            texte = re.sub(motif, remplacement, texte)
        return texte

    alea = random.Random(22)
    signes = "a é1 '’:;!?«»%\u00a0\u202f.-/h_\n"
    textes = ["l'acheteur", "« Titre »", "15 %", "http://exemple.fr : site", "a ; b ! c ? d", "5 % et 7 %"]
    textes += ["".join(alea.choice(signes) for _ in range(alea.randint(0, 14))) for _ in range(20000)]
    for texte in textes:
        assert formats.typographie.__wrapped__(texte) == attendu(texte), texte


def test_imports_de_la_ligne_de_commande_geles():
    """Ce que créent les imports de la ligne de commande est gelé (gc.freeze : les collectes ne le reparcourent
    plus) et le ramasse-miettes est remis en marche ; un ramasse-miettes arrêté avant l'import le reste."""
    script = ("import gc, sys\n"
              "if sys.argv[1] == 'arrete':\n    gc.disable()\n"
              "import generateur.interfaces.cli\n"
              "print(gc.isenabled(), gc.get_freeze_count() > 10000)\n")
    for etat, attendu in (("actif", "True True"), ("arrete", "False True")):
        sortie = subprocess.run([sys.executable, "-c", script, etat], check=True, capture_output=True, text=True,
                                cwd=RACINE, env={**os.environ, "PYTHONPATH": str(RACINE)})
        assert sortie.stdout.strip() == attendu, etat


def test_liens_du_texte_technique_comme_le_motif_d_origine():
    """Le motif des liens du texte technique commence par « [ » (cherché directement) : même texte que le motif
    d'origine, qui commençait par « (?<!!) », sur des textes au hasard faits des caractères qui comptent."""
    import random
    import re

    from generateur.pieces import texte_technique

    origine = re.compile(r"(?<!!)\[([^\]]*)\]\([^)]*\)")
    alea = random.Random(22)
    for _ in range(20000):
        texte = "".join(alea.choice("![]()ab \n") for _ in range(alea.randint(0, 16)))
        assert texte_technique._LIEN.sub(r"\1", texte) == origine.sub(r"\1", texte), texte


def test_modules_des_commandes_importes_a_la_demande():
    """Le groupe `dce` n'importe que le module de la commande appelée ; `cli.py` nomme le module de chaque commande,
    toutes et rien de plus ; l'aide et une commande inconnue (commandes proches proposées) les voient toutes."""
    script = ("import sys\n"
              "from click.testing import CliRunner\n"
              "from generateur.interfaces.cli import main\n"
              "avant = set(main.commands)\n"
              "aide = CliRunner().invoke(main, ['--help']).output\n"
              "inconnue = CliRunner().invoke(main, ['generr']).output\n"
              "print(sorted(avant)); print(sorted(main.commands)); print(sorted(main.modules))\n"
              "print(sorted({c: main.commands[c].callback.__module__.rsplit('.', 1)[1] for c in main.commands}.items()))\n"
              "print(sorted(main.modules.items())); print(all(f'  {c} ' in aide for c in main.modules))\n"
              "print('generer' in inconnue and 'regenerer' in inconnue)\n")
    sortie = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True, cwd=RACINE,
                            env={**os.environ, "PYTHONPATH": str(RACINE)}).stdout.splitlines()
    avant, toutes, nommees, modules, attendus, aide, inconnue = sortie
    assert avant == "[]" and toutes == nommees and modules == attendus
    assert aide == "True" and inconnue == "True"


def test_ligne_de_commande_gelee_a_la_sortie():
    """Importer la ligne de commande fait geler, à la sortie, ce qui vit encore (les collectes de la fin de
    l'interpréteur ne le parcourent plus), après les gestionnaires enregistrés ensuite (mémoires du cache disque)."""
    script = ("import atexit, gc\n"
              "atexit.register(lambda: print('fin', gc.get_freeze_count() > gel[0] + 900))  # dernier servi\n"
              "import generateur.interfaces.cli\n"
              "atexit.register(lambda: print('avant', gc.get_freeze_count() < gel[0] + 900))\n"
              "vivants = [[i] for i in range(1000)]\n"
              "gel = [gc.get_freeze_count()]\n")
    sortie = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True, cwd=RACINE,
                            env={**os.environ, "PYTHONPATH": str(RACINE)})
    assert sortie.stdout.split() == ["avant", "True", "fin", "True"]


def test_empreinte_des_sources_suit_les_fichiers(tmp_path, monkeypatch):
    """`cache.sources` : l'empreinte d'un fichier gardée sous son chemin, sa taille et sa date est reprise sans le relire
    tant qu'il ne change pas (autre processus compris) ; modifié (même taille), il est relu ; une entrée abîmée est
    recalculée ; un fichier absent lève la même erreur qu'avant."""
    import hashlib

    from generateur.donnees import cache

    monkeypatch.setenv("DCE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "_SOURCES", [])
    a, b = tmp_path / "a.py", tmp_path / "b.csv"
    a.write_text("x = 1\n")
    b.write_bytes(b"\x00" * 5000)

    def attendu() -> bytes:
        return b"\0".join(hashlib.sha256(f.read_bytes()).digest() for f in (a, b))

    assert cache.sources(a, str(b)) == attendu()
    cache._SOURCES[0].enregistrer()
    monkeypatch.setattr(cache, "_SOURCES", [])  # un autre processus : relu du cache disque, fichiers non relus
    avant = attendu()
    lus = []
    vrai = cache.Path.read_bytes
    monkeypatch.setattr(cache.Path, "read_bytes", lambda self: lus.append(self.name) or vrai(self))
    assert cache.sources(a, b) == avant and [n for n in lus if n in ("a.py", "b.csv")] == []
    os.utime(a, ns=(1, 1))
    a.write_text("x = 2\n")  # même taille, autre date
    lus.clear()
    assert cache.sources(a, b) != avant and [n for n in lus if n in ("a.py", "b.csv")] == ["a.py"]
    assert cache.sources(a, b) == attendu()
    for cle in cache._SOURCES[0].entrees():
        cache._SOURCES[0].entrees()[cle] = b"abime"
    assert cache.sources(a, b) == attendu()
    with pytest.raises(FileNotFoundError):
        cache.sources(tmp_path / "absent.py")


_CLASSES = """
from __future__ import annotations  # comme le module qui compile : ses directives ne doivent pas passer au code compilé
import builtins, dataclasses, inspect, json, sys, typing
compilees = []
vrai = builtins.compile
def compter(source, *args, **kwargs):  # la compilation hérite des directives de ce cadre, comme du module qui compile
    if isinstance(source, str) and source.startswith("def __create_fn__"):
        compilees.append(source)
    return vrai(source, *args, **kwargs)
builtins.compile = compter
if sys.argv[1] == "dce":
    import generateur.interfaces.cli  # noqa: F401 - les classes de données de dce
from dataclasses import dataclass, field

@dataclass(frozen=True, order=True)
class Essai:
    nom: str
    valeurs: tuple[int, ...] = field(default_factory=tuple)
    n: "int" = 3

@dataclass
class Simple:
    a: int
    b: typing.Optional[str] = None
    def __post_init__(self):
        self.a += 1

e, s = Essai("x", (1,)), Simple(1)
try:
    e.nom = "y"
    gele = False
except dataclasses.FrozenInstanceError:
    gele = True
print(json.dumps({
    "compilees": len(compilees),
    "vu": [repr(inspect.signature(c)) + repr(c.__init__.__annotations__) + c.__init__.__code__.co_filename
           for c in (Essai, Simple)],
    "objets": [repr(e), repr(s), e == Essai("x", (1,)), hash(e) == hash(Essai("x", (1,))), e < Essai("y"), gele,
               s == Simple(1), s.a],
}))
"""


def test_classes_de_donnees_compilees_une_fois(tmp_path):
    """Le code des méthodes écrites par `dataclasses` est gardé (mémoire « classes ») : la seconde commande n'en
    compile aucun ; les classes (de dce ou d'ailleurs, créées après son import) sont celles de Python sans dce :
    signature, annotations (sans les directives `__future__` du module qui compile), égalité, ordre, hachage, gel ;
    une entrée abîmée est recompilée."""
    import json
    import pickle

    def lancer(avec: str) -> dict:
        sortie = subprocess.run([sys.executable, "-c", _CLASSES, avec], check=True, capture_output=True, text=True,
                                cwd=RACINE, env={**os.environ, "DCE_CACHE": str(tmp_path / "cache"),
                                                 "PYTHONPATH": str(RACINE)})
        return json.loads(sortie.stdout)

    python_seul = lancer("python")
    premier = lancer("dce")
    # classes de dce importées par la ligne de commande et les deux du script : une compilation par méthode jusqu'à
    # Python 3.12, une par classe depuis 3.13
    assert premier["compilees"] > 20
    assert {k: premier[k] for k in ("vu", "objets")} == {k: python_seul[k] for k in ("vu", "objets")}
    second = lancer("dce")
    assert second == {**premier, "compilees": 0}
    memoire = next((tmp_path / "cache" / "memoires").glob("classes-*.pickle"))
    entrees = pickle.loads(memoire.read_bytes())
    assert len(entrees) >= premier["compilees"] - 5  # ce qui a été compilé est gardé
    memoire.write_bytes(pickle.dumps({texte: b"abime" for texte in entrees}))
    assert lancer("dce") == premier
