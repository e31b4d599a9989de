"""Régénération en lot : versions conservées, rapport et modifications suivies, verrou, échecs, arrêts brutaux."""

from __future__ import annotations

import csv
import datetime as dt
import functools
import gc
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner
from docx import Document
from docx.shared import Pt
from lxml import etree

from conftest import EXEMPLES, RACINE, Lu, copier_exemple, soffice
from generateur.donnees import fichiers
from generateur.rendu import documents, generation
from generateur.lot import regeneration
from generateur.interfaces.cli import main
from generateur.lot.rapport_changements import A_JOUR, ECHEC, MISE_EN_FORME, MODIFIEE, NON_CONCERNEE, NOUVELLE

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
DCE = str(Path(sys.executable).with_name("dce"))  # la commande installée (pip install -e)
CATALOGUE = ("catalogue.yaml", "questionnaire.yaml", "clauses", "modeles", "acheteurs")
TOUTES = sorted(f.stem for f in EXEMPLES.glob("*.yaml"))
# Les deux changements du scénario : une phrase de la clause « plastiques » (retenue par la restauration et le
# nettoyage) et un taux daté : le taux minimal de l'avance PME passe à 15 % au 10 décembre 2026 (seule la
# consultation d'Aix-Marseille-Provence, lancée le 14 décembre, est postérieure).
PLASTIQUE = ("clauses/ccap/ccap-plastique.md", "pénalité de {{ 200 | euros }}", "pénalité de {{ 300 | euros }}")
TAUX = ("catalogue.yaml", "      - {du: 2020-01-01, categorie: collectivite_drf_60m, valeur: 10}\n",
        "      - {du: 2020-01-01, au: 2026-12-09, categorie: collectivite_drf_60m, valeur: 10}\n"
        "      - {du: 2026-12-10, categorie: collectivite_drf_60m, valeur: 15}\n")
CONCERNEES = {"amp-espaces-verts", "nettoyage-hotel-region", "restauration-lycees"}


def remplacer(racine: Path, fichier: str, avant: str, apres: str) -> None:
    chemin = racine / fichier
    texte = chemin.read_text(encoding="utf-8")
    assert texte.count(avant) == 1, (fichier, avant)
    chemin.write_text(texte.replace(avant, apres), encoding="utf-8")


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """Copie du catalogue et dossier de consultations (les exemples) générés une fois : version 001."""
    dossier = tmp_path_factory.mktemp("base")
    (dossier / "racine").mkdir()
    for nom in CATALOGUE:
        (shutil.copytree if (RACINE / nom).is_dir() else shutil.copy)(RACINE / nom, dossier / "racine" / nom)
    for exemple in EXEMPLES.glob("*.yaml"):
        copier_exemple(exemple, dossier / "consultations" / exemple.stem / "reponses.yaml")
    bilan = regeneration.regenerer(dossier / "consultations", dossier / "racine", jobs=2)
    assert [r.statut for r in bilan.consultations] == [NOUVELLE] * len(TOUTES), bilan.consultations
    return dossier


@pytest.fixture
def lot(base: Path, tmp_path: Path) -> tuple[Path, Path]:
    """(dossier de consultations, racine du catalogue), copies propres à chaque test."""
    shutil.copytree(base, tmp_path / "lot")
    return tmp_path / "lot" / "consultations", tmp_path / "lot" / "racine"


def version(consultation: Path) -> Path:
    return consultation / "versions" / (consultation / "courante").read_text().strip()


def octets(dossier: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(dossier.iterdir())}


def verifier_entiere(consultation: Path) -> str:
    """La version désignée est complète : chaque .docx s'ouvre, chaque fichier a l'empreinte du manifeste."""
    dossier = version(consultation)
    manifeste = json.loads(next(dossier.glob("*-manifeste.json")).read_text(encoding="utf-8"))
    for nom, empreinte in manifeste["fichiers"].items():
        assert hashlib.sha256((dossier / nom).read_bytes()).hexdigest() == empreinte, (consultation.name, nom)
    for docx in dossier.glob("*.docx"):
        Document(str(docx))
    assert not list(dossier.glob(".*")), "fichier temporaire dans une version publiée"
    return dossier.name


def revisions(docx: Path) -> tuple[list[str], list[str], list[etree._Element]]:
    """Textes insérés, textes supprimés et éléments w:ins / w:del d'un document."""
    with zipfile.ZipFile(docx) as z:
        racine = etree.fromstring(z.read("word/document.xml"))
    marques = [e for e in racine.iter(f"{W}ins", f"{W}del")]
    inseres = ["".join(t.text for t in e.iter(f"{W}t")) for e in racine.iter(f"{W}ins")]
    supprimes = ["".join(t.text for t in e.iter(f"{W}delText")) for e in racine.iter(f"{W}del")]
    return [t for t in inseres if t], [t for t in supprimes if t], marques


def accepter_refuser(docx: Path) -> tuple[list[str], list[str]]:
    """Texte de chaque paragraphe après « tout accepter » et après « tout refuser »."""
    with zipfile.ZipFile(docx) as z:
        corps = etree.fromstring(z.read("word/document.xml")).find(f"{W}body")
    acceptes, refuses = [], []
    for p in corps.iter(f"{W}p"):
        marque = p.find(f"{W}pPr/{W}rPr/*")
        a = r = ""
        for e in p.iter(f"{W}t", f"{W}delText"):
            dans_ins = any(x.tag == f"{W}ins" for x in e.iterancestors())
            if e.tag == f"{W}delText":
                r += e.text or ""
            else:
                a += e.text or ""
                r += "" if dans_ins else (e.text or "")
        if marque is None or marque.tag == f"{W}ins":
            acceptes.append(a)
        if marque is None or marque.tag == f"{W}del":
            refuses.append(r)
    return acceptes, refuses


def test_versions_identiques_a_dce_generer_puis_rien_a_refaire(lot, tmp_path):
    dossier, racine = lot
    for nom in TOUTES:
        consultation = dossier / nom
        assert (consultation / "courante").read_text() == "001\n"
        attendu = tmp_path / "generer" / nom
        generation.generer(consultation / "reponses.yaml", attendu, racine)
        assert octets(version(consultation)) == octets(attendu), nom  # mêmes fichiers, mêmes octets

    bilan = regeneration.regenerer(dossier, racine, jobs=2)
    assert {r.dossier: r.statut for r in bilan.consultations} == dict.fromkeys(TOUTES, A_JOUR)
    assert all(sorted(p.name for p in (dossier / n / "versions").iterdir()) == ["001"] for n in TOUTES)

    bilan = regeneration.regenerer(dossier, racine, jobs=2, seulement_impactees=True)
    assert {r.dossier: r.statut for r in bilan.consultations} == dict.fromkeys(TOUTES, NON_CONCERNEE)


def test_memes_octets_dans_un_autre_processus(lot, tmp_path):
    """Hachage aléatoire différent, autre processus : la commande `dce generer` redonne les mêmes octets."""
    dossier, racine = lot
    consultation = dossier / "travaux-lycee"
    env = {**os.environ, "PYTHONHASHSEED": "12345", "DCE_RACINE": str(racine)}
    subprocess.run([DCE, "generer", str(consultation / "reponses.yaml"),
                    "--sortie", str(tmp_path / "autre")], check=True, env=env, capture_output=True, cwd=RACINE)
    assert octets(tmp_path / "autre") == octets(version(consultation))


def test_clause_et_taux_modifies(lot):
    dossier, racine = lot
    avant = {n: octets(version(dossier / n)) for n in TOUTES}
    remplacer(racine, *PLASTIQUE)
    remplacer(racine, *TAUX)

    # Simulation : le rapport seul, aucune consultation ne bouge.
    simulation = regeneration.regenerer(dossier, racine, jobs=2, simulation=True, seulement_impactees=True)
    assert {r.dossier for r in simulation.consultations if r.statut == MODIFIEE} == CONCERNEES
    assert {n: octets(version(dossier / n)) for n in TOUTES} == avant
    assert all(not (dossier / n / "versions" / "002").exists() for n in TOUTES)

    bilan = regeneration.regenerer(dossier, racine, jobs=2, seulement_impactees=True, garder_textes=True)
    statuts = {r.dossier: r.statut for r in bilan.consultations}
    assert statuts == {**dict.fromkeys(CONCERNEES, MODIFIEE), "travaux-lycee": NON_CONCERNEE}
    for n in TOUTES:  # versions précédentes conservées, intactes
        assert octets(dossier / n / "versions" / "001") == avant[n]
        assert (dossier / n / "courante").read_text().strip() == ("002" if n in CONCERNEES else "001")
        verifier_entiere(dossier / n)

    rapports = {r.dossier: r for r in bilan.consultations}
    amp = rapports["amp-espaces-verts"]
    assert [(c.id, c.nature) for c in amp.clauses] == [("ccap-avance", "modifiée")]
    assert "avance_taux_minimum_pme : 10 → 15" in amp.clauses[0].cause
    parametres = [(v.nom, v.ancienne, v.nouvelle) for v in amp.valeurs if v.genre == "paramètre"]
    assert parametres == [("avance_taux_minimum_pme", 10, 15)]
    assert {v.nom for v in amp.valeurs if v.genre == "valeur calculée"} == {"avance_taux_pme", "avance_montant_pme"}
    assert not [v for v in amp.valeurs if v.genre == "réponse"]
    for nom in ("nettoyage-hotel-region", "restauration-lycees"):
        r = rapports[nom]
        assert [(c.id, c.nature, c.ancienne_version, c.nouvelle_version) for c in r.clauses] == [
            ("ccap-plastique", "modifiée", 1, 1)]
        assert "texte de la clause modifié" in r.clauses[0].cause and r.valeurs == []
        assert r.documents == ["CCAP.docx"]
        ccap = [Lu(d) for d in sorted((dossier / nom / "versions").glob("*/*-CCAP.docx"))]
        phrase = "par intervention, donne lieu à une pénalité de {}\u00a0€."
        assert phrase.format("200,00") in ccap[0].texte and phrase.format("300,00") not in ccap[0].texte
        assert phrase.format("300,00") in ccap[1].texte and phrase.format("200,00") not in ccap[1].texte

    # Modifications suivies : exactement ces deux changements, et la simulation donnait les mêmes octets.
    for nom in CONCERNEES:
        redline = Path(rapports[nom].redline)
        assert redline.read_bytes() == (simulation.dossier_rapport / "modifications" / redline.name).read_bytes()
        inseres, supprimes, marques = revisions(redline)
        if nom == "amp-espaces-verts":
            assert inseres and set(inseres) == {"15"} and set(supprimes) == {"10"}
        else:
            assert (inseres, supprimes) == (["300,00"], ["200,00"])
        assert {m.get(f"{W}author") for m in marques} == {"dce"}
        ids = [m.get(f"{W}id") for m in marques]
        assert len(set(ids)) == len(ids)
        acceptes, refuses = accepter_refuser(redline)
        clause = rapports[nom].clauses[0]
        corps = [l.texte for l in clause.nouveaux]
        assert "\n".join(corps) in "\n".join(acceptes)
        assert "\n".join(l.texte for l in clause.anciens) in "\n".join(refuses)
        assert Document(str(redline)).paragraphs

    # Synthèse CSV et Word
    with open(bilan.fichiers["synthese.csv"], encoding="utf-8-sig", newline="") as f:
        lignes = list(csv.DictReader(f, delimiter=";"))
    clauses = {(l["consultation"], l["element"]) for l in lignes if l["changement"].startswith("clause")}
    assert clauses == {("amp-espaces-verts", "ccap-avance"), ("nettoyage-hotel-region", "ccap-plastique"),
                       ("restauration-lycees", "ccap-plastique")}
    assert {l["statut"] for l in lignes if l["consultation"] == "travaux-lycee"} == {NON_CONCERNEE}
    synthese = Lu(bilan.fichiers["synthese.docx"])
    assert "ccap-plastique" in synthese.tout and "avance_taux_minimum_pme" in synthese.tout
    assert "Non concernées par les changements du catalogue | 1" in synthese.tout

    # Sans --seulement-impactees : la consultation non concernée est régénérée, identique, sans nouvelle version.
    remplacer(racine, PLASTIQUE[0], PLASTIQUE[2], PLASTIQUE[1])
    bilan = regeneration.regenerer(dossier, racine, jobs=2)
    statuts = {r.dossier: r.statut for r in bilan.consultations}
    assert statuts == {"amp-espaces-verts": A_JOUR, "travaux-lycee": A_JOUR,
                       "nettoyage-hotel-region": MODIFIEE, "restauration-lycees": MODIFIEE}
    assert version(dossier / "restauration-lycees").name == "003"
    assert octets(version(dossier / "restauration-lycees")) == avant["restauration-lycees"]


def test_pieces_modifiees_sans_clause_expliquees(lot, monkeypatch):
    """Modèle Word retouché, puis mise en forme du moteur changée : ni clause ni valeur ne bouge, le rapport
    dit quelles pièces changent et pourquoi, au lieu d'une nouvelle version sans explication."""
    dossier, racine = lot
    modele = racine / "modeles" / "dce.docx"
    document = Document(str(modele))
    document.styles["Normal"].font.size = Pt(10.5)
    document.save(str(modele))
    simulation = regeneration.regenerer(dossier, racine, jobs=2, simulation=True, seulement_impactees=True)
    assert {r.statut for r in simulation.consultations} == {MODIFIEE}
    for r in simulation.consultations:
        assert r.clauses == [] and r.valeurs == [] and r.redline is None
        assert "CCAP.docx" in r.pieces_sans_changement_de_clause
        assert r.causes == ["modeles/dce.docx modifié"]

    resultat = CliRunner().invoke(main, ["--catalogue", str(racine), "regenerer", str(dossier), "--seulement-impactees"])
    assert resultat.exit_code == 0, resultat.output
    assert "travaux-lycee : version 001 → 002, pièces " in resultat.output
    assert "modifiées : modeles/dce.docx modifié" in resultat.output
    synthese = max((dossier / "rapports").glob("*[0-9]/synthese.csv"))
    with open(synthese, encoding="utf-8-sig", newline="") as f:
        lignes = [l for l in csv.DictReader(f, delimiter=";") if l["consultation"] == "travaux-lycee"]
    assert {(l["changement"], l["cause"]) for l in lignes} == {("pièce modifiée", "modeles/dce.docx modifié")}
    assert {l["element"] for l in lignes} >= {"RC.docx", "CCAP.docx", "CCTP.docx"}
    assert "pièce modifiée" in Lu(synthese.with_suffix(".docx")).tout

    # Même catalogue, mais dce écrit les pièces autrement (ici : compression) : cause « mise en forme ».
    monkeypatch.setattr(fichiers, "NIVEAU_COMPRESSION", 9)
    bilan = regeneration.regenerer(dossier, racine, executeur=ThreadPoolExecutor(2))
    for r in bilan.consultations:
        assert r.statut == MODIFIEE and r.causes == [MISE_EN_FORME], r


def test_verrou(lot):
    dossier, racine = lot
    with regeneration.verrou(dossier.resolve()):
        resultat = CliRunner().invoke(main, ["--catalogue", str(racine), "regenerer", str(dossier)])
    assert resultat.exit_code == 2, resultat.output
    assert "régénération de ce dossier est déjà en cours" in resultat.output
    assert "processus" in resultat.output


def test_consultation_invalide_n_arrete_pas_le_lot(lot):
    dossier, racine = lot
    remplacer(racine, *PLASTIQUE)
    (dossier / "zz-invalide").mkdir()
    (dossier / "zz-invalide" / "reponses.yaml").write_text(
        (EXEMPLES / "travaux-lycee.yaml").read_text(encoding="utf-8").replace("nature: travaux", "nature: bidule"),
        encoding="utf-8")
    resultat = CliRunner().invoke(main, ["--catalogue", str(racine), "regenerer", str(dossier), "--jobs", "2"])
    assert resultat.exit_code == 1, resultat.output
    assert "Échecs (1)" in resultat.output
    assert "zz-invalide" in resultat.output and "Nature du marché" in resultat.output and "bidule" in resultat.output
    assert "2 modifiées," in resultat.output
    assert not (dossier / "zz-invalide" / "courante").exists()
    for n in ("nettoyage-hotel-region", "restauration-lycees"):
        assert (dossier / n / "courante").read_text().strip() == "002"


def test_interruption_entre_deux_consultations(lot, monkeypatch):
    """Ctrl-C pendant l'écriture de la 2e consultation : la 1re est à sa nouvelle version, la 2e à l'ancienne."""
    dossier, racine = lot
    remplacer(racine, "clauses/ccap/ccap-objet.md", "\n---\n", "\n---\nPréambule ajouté pour l'essai.\n\n")
    ecrire = generation.ecrire_neuf
    dossiers: list[Path] = []
    ecrits: list[Path] = []

    def ecrire_puis_interrompre(chemin: Path, contenu: bytes, **options) -> None:
        if chemin.parent not in dossiers:
            dossiers.append(chemin.parent)
        ecrits.append(chemin)
        # second fichier écrit (non repris de la version précédente) de la 2e consultation : à moitié, puis arrêt
        if len(dossiers) == 2 and sum(c.parent == chemin.parent for c in ecrits) == 2:
            chemin.write_bytes(contenu[: len(contenu) // 2])
            raise KeyboardInterrupt
        ecrire(chemin, contenu, **options)

    monkeypatch.setattr(generation, "ecrire_neuf", ecrire_puis_interrompre)
    with ThreadPoolExecutor(1) as executeur, pytest.raises(KeyboardInterrupt):
        regeneration.regenerer(dossier, racine, executeur=executeur)
    monkeypatch.undo()
    etats = {n: verifier_entiere(dossier / n) for n in TOUTES}  # la consultation en cours d'un autre fil s'achève
    assert etats[TOUTES[0]] == "002" and etats[TOUTES[1]] == "001", etats
    assert not list((dossier / TOUTES[1] / "versions").glob(".*"))

    bilan = regeneration.regenerer(dossier, racine, jobs=2)
    assert {r.statut for r in bilan.consultations} == {MODIFIEE, A_JOUR}
    assert {n: verifier_entiere(dossier / n) for n in TOUTES} == dict.fromkeys(TOUTES, "002")


def test_arret_brutal_d_un_lot(lot):
    """SIGKILL du processus `dce regenerer` et de ses processus de calcul : chaque consultation reste entière."""
    dossier, racine = lot
    for i in range(2):  # 12 consultations
        for n in TOUTES:
            shutil.copytree(dossier / n, dossier / f"copie{i}-{n}")
    noms = sorted(p.name for p in dossier.iterdir() if (p / "reponses.yaml").is_file())
    remplacer(racine, "clauses/ccap/ccap-objet.md", "\n---\n", "\n---\nPréambule ajouté pour l'essai.\n\n")
    env = {**os.environ, "DCE_RACINE": str(racine)}
    processus = subprocess.Popen([DCE, "regenerer", str(dossier), "--jobs", "1"],
                                 env=env, cwd=RACINE, start_new_session=True,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    limite = time.monotonic() + 60
    while not any((dossier / n / "courante").read_text().strip() == "002" for n in noms):
        assert processus.poll() is None and time.monotonic() < limite, "le lot s'est arrêté avant la première version"
        time.sleep(0.01)
    os.killpg(processus.pid, signal.SIGKILL)
    processus.wait()
    etats = {n: verifier_entiere(dossier / n) for n in noms}
    assert set(etats.values()) == {"001", "002"}, etats  # arrêté au milieu du lot

    bilan = regeneration.regenerer(dossier, racine, jobs=2)
    assert not bilan.echecs
    assert {n: verifier_entiere(dossier / n) for n in noms} == dict.fromkeys(noms, "002")
    assert not list(dossier.glob("*/versions/.*")), "restes du lot interrompu non nettoyés"
    assert not list(dossier.glob("*/versions/003")), "version orpheline du lot interrompu non retirée"


def test_redline_lu_par_libreoffice(lot, tmp_path):
    """LibreOffice lit les marques comme des modifications suivies (et non comme du texte barré)."""
    if soffice() is None:
        pytest.skip("LibreOffice absent")
    dossier, racine = lot
    remplacer(racine, *PLASTIQUE)
    bilan = regeneration.regenerer(dossier, racine, jobs=2, simulation=True)
    redline = Path(next(r.redline for r in bilan.consultations if r.redline))
    subprocess.run([soffice(), f"-env:UserInstallation=file://{tmp_path / 'profil'}", "--headless",
                    "--convert-to", "fodt", "--outdir", str(tmp_path), str(redline)],
                   check=True, capture_output=True, timeout=300)
    fodt = (tmp_path / redline.with_suffix(".fodt").name).read_text(encoding="utf-8")
    assert "<text:tracked-changes" in fodt
    assert "<text:insertion>" in fodt and "<text:deletion>" in fodt
    assert "300,00" in fodt and "200,00" in fodt


def test_barre_de_progression(capsys):
    with regeneration.barre(3, True) as b:
        b.update(3)
    sortie = capsys.readouterr().err
    assert "Régénération 3/3" in sortie and "restant" in sortie and "consultation/s" in sortie


def test_groupes_des_processus_locaux():
    """Processus locaux : des tâches longues (la publication de la dernière consultation d'une tâche est attendue avant
    de la rendre : plus les tâches sont longues, plus ces attentes sont rares), qui raccourcissent vers la fin du lot
    pour que les processus finissent ensemble ; toutes les consultations, dans l'ordre, une fois chacune."""
    taches = list(range(1000))
    groupes = regeneration.groupes(taches, 2)
    tailles = [len(g) for g in groupes]
    assert [t for g in groupes for t in g] == taches
    assert tailles[:50] == [regeneration.GROUPE_LOCAL] * 50 and tailles[-4:] == [1, 1, 1, 1]
    assert tailles == sorted(tailles, reverse=True) and len(tailles) < 100  # 250 tâches de 4 avant
    assert [len(g) for g in regeneration.groupes(list(range(6)), 2)] == [1] * 6  # un petit lot reste réparti
    # la fenêtre du processus principal laisse à chaque processus sa tâche en cours et la suivante
    assert regeneration.FENETRE_PAR_PROCESSUS >= 2 * regeneration.GROUPE_LOCAL


def test_groupes_d_un_executeur_fourni(lot):
    """Exécuteur fourni (Dask) dont les travailleurs sont donnés (`jobs`) : des tâches de 4 à 16 consultations, qui
    raccourcissent vers la fin du lot (une tâche Dask coûte ≈ 7 ms de calcul) ; sans leur nombre, au moins
    GROUPES_MIN tâches. `regenerer` soumet bien ces groupes-là."""
    taches = list(range(100))
    groupes = regeneration.groupes(taches, 2, fourni=True)
    tailles = [len(g) for g in groupes]
    assert [t for g in groupes for t in g] == taches
    assert tailles[:3] == [regeneration.GROUPE_MAX] * 3 and tailles == sorted(tailles, reverse=True)
    assert min(tailles[:-1]) == regeneration.GROUPE_MIN_FOURNI and len(tailles) <= 16
    assert [len(g) for g in regeneration.groupes(taches, fourni=True)] == [1] * 100  # travailleurs inconnus
    assert [len(g) for g in regeneration.groupes(list(range(1000)), 2, fourni=True)][:50] == [16] * 50
    dossier, racine = lot
    remplacer(racine, *PLASTIQUE)
    soumises: list[list[str]] = []

    class Espion(ThreadPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):
            soumises.append([t.nom for t in args[0]])
            return super().submit(fn, *args, **kwargs)

    with Espion(2) as executeur:
        bilan = regeneration.regenerer(dossier, racine, jobs=2, executeur=executeur)
    assert len(soumises) == 1 and sorted(soumises[0]) == sorted(r.dossier for r in bilan.consultations)
    assert len(bilan.consultations) == 4 and not bilan.echecs
    soumises.clear()
    with Espion(2) as executeur:
        regeneration.regenerer(dossier, racine, executeur=executeur)
    assert len(soumises) == 4


def test_cluster_dask(lot, monkeypatch):
    """Le lot sur un LocalCluster à deux travailleurs, par la commande `dce regenerer --dask` : elle demande au
    cluster ses fils de calcul (2), et les 4 consultations sont groupées en tâches à leur mesure. Chaque travailleur
    a chargé le catalogue de son installation ($DCE_RACINE) dès son démarrage (`travailleur_dask`, préchargé par
    les réglages conseillés), avant toute tâche."""
    if os.environ.get("CI") == "true":
        import distributed  # en intégration continue, make tests installe l'option dask : son absence est une erreur
    else:
        distributed = pytest.importorskip("distributed")
    import dask

    dossier, racine = lot
    remplacer(racine, *PLASTIQUE)
    monkeypatch.setenv("DCE_RACINE", str(racine))  # hérité par les travailleurs (spawn)
    with dask.config.set(regeneration.REGLAGES_DASK), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        # les réglages conseillés (docs/informatique.md) parviennent aux processus de calcul, créés par spawn
        recus = client.run(lambda: ({cle: dask.config.get(cle) for cle in regeneration.REGLAGES_DASK},
                                    "MALLOC_TRIM_THRESHOLD_" in os.environ))
        assert list(recus.values()) == [(regeneration.REGLAGES_DASK, False)] * 2

        def lectures_du_catalogue() -> tuple[int, int]:
            from generateur.donnees import catalogue

            avant = catalogue.charger.cache_info()
            catalogue.charger(racine.resolve())
            apres = catalogue.charger.cache_info()
            return apres.hits - avant.hits, apres.misses  # déjà chargé : trouvé en mémoire, une seule lecture en tout

        assert list(client.run(lectures_du_catalogue).values()) == [(1, 1)] * 2
        appels, bilans = [], []
        grouper, lancer = regeneration.groupes, regeneration.regenerer
        monkeypatch.setattr(regeneration, "groupes",
                            lambda t, travailleurs=None, fourni=False: appels.append((travailleurs, fourni))
                            or grouper(t, travailleurs, fourni))
        monkeypatch.setattr(regeneration, "regenerer", lambda *a, **k: bilans.append(lancer(*a, **k)) or bilans[-1])
        resultat = CliRunner().invoke(main, ["--catalogue", str(racine), "regenerer", str(dossier),
                                             "--seulement-impactees", "--dask", cluster.scheduler_address])
        assert resultat.exit_code == 0, resultat.output
        assert appels == [(2, True)]

        def memoires_du_travailleur() -> tuple[bool, int]:
            from generateur.donnees import cache
            from generateur.pieces import croises

            return cache.principal(os.getpid()), len(croises._DISQUE)

        # comme un processus de calcul local : les contrôles croisés n'ont pas pris leur mémoire disque
        assert list(client.run(memoires_du_travailleur).values()) == [(False, 0)] * 2
    assert "2 modifiées" in resultat.output and "2 non concernées" in resultat.output and "0 en échec" in resultat.output
    bilan, = bilans
    statuts = {r.dossier: r.statut for r in bilan.consultations}
    assert statuts == {"nettoyage-hotel-region": MODIFIEE, "restauration-lycees": MODIFIEE,
                       "amp-espaces-verts": NON_CONCERNEE, "travaux-lycee": NON_CONCERNEE}
    assert ECHEC not in statuts.values()
    for r in bilan.consultations:
        if r.statut == MODIFIEE:
            assert Document(r.redline).paragraphs and Path(r.redline).parent.parent == bilan.dossier_rapport


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="barrière par syncfs : Linux")
def test_documents_des_modifications_rendus_durables_par_groupe(lot, monkeypatch):
    """Sur un exécuteur fourni (Dask, peut-être une autre machine), les documents des modifications d'un groupe ne
    sont pas synchronisés un à un : une seule barrière, à la fin du groupe et avant que son résultat soit rendu,
    les trouve tous écrits."""
    dossier, racine = lot
    remplacer(racine, *PLASTIQUE)
    monkeypatch.setattr(regeneration, "GROUPES_MIN", 1)  # 4 consultations : une seule tâche
    synchronises, barrieres = [], []
    fsync, barriere = os.fsync, regeneration.barriere

    def espion_fsync(fd):
        synchronises.append(os.readlink(f"/proc/self/fd/{fd}"))
        fsync(fd)

    def espion_barriere(chemin):
        modifications = Path(chemin) / "modifications"
        barrieres.append((Path(chemin), sorted(modifications.glob("*.docx")) if modifications.is_dir() else []))
        barriere(chemin)

    monkeypatch.setattr(os, "fsync", espion_fsync)
    monkeypatch.setattr(regeneration, "barriere", espion_barriere)
    with ThreadPoolExecutor(1) as executeur:
        bilan = regeneration.regenerer(dossier, racine, executeur=executeur)
    redlines = sorted(Path(r.redline) for r in bilan.consultations if r.redline)
    assert len(redlines) == 2
    assert not [f for f in synchronises if "/modifications/" in f]
    de_groupe = [vus for chemin, vus in barrieres if chemin == bilan.dossier_rapport][:-1]  # la dernière : fin du lot
    assert de_groupe == [redlines]


def test_synthese_bornee_pour_un_grand_lot(monkeypatch):
    """Au-delà de DETAIL_MAX consultations, la synthèse Word ne détaille que les premières (CSV complet)."""
    from generateur.lot import rapport_changements as rc

    monkeypatch.setattr(rc, "DETAIL_MAX", 2)
    rapports = [rc.RapportConsultation(f"c{i}", MODIFIEE, f"REF-{i}", "001", "002",
                                       valeurs=[rc.ChangementValeur("paramètre", "taux", None, 1, 2)]) for i in range(5)]
    rapports.append(rc.RapportConsultation("c9", A_JOUR, "REF-9", "001"))
    blocs, _ = rc.blocs_synthese(rapports, Path("lot"), False, dt.datetime(2026, 12, 1, 9, 30))
    tableaux = [b for b in blocs if hasattr(b, "lignes")]
    consultations = [l[0][0].texte for l in tableaux[1].lignes[1:]]
    assert consultations == ["c0", "c1"]
    textes = " ".join(s.texte for b in blocs if hasattr(b, "segments") for s in b.segments)
    assert "Les 2 premières consultations sur 5 figurent ici" in textes
    assert len(rc.lignes_csv(rapports)) == 6


def test_message_d_une_consultation_nouvelle(lot):
    """Une consultation ajoutée au dossier est annoncée comme nouvelle, sans « 0 clause(s) et 0 valeur(s) »."""
    dossier, racine = lot
    (dossier / "neuve").mkdir()
    copier_exemple(EXEMPLES / "nettoyage-hotel-region.yaml", dossier / "neuve" / "reponses.yaml")
    resultat = CliRunner().invoke(main, ["--catalogue", str(racine), "regenerer", str(dossier), "--seulement-impactees"])
    assert resultat.exit_code == 0, resultat.output
    assert "  neuve : nouvelle consultation, version 001\n" in resultat.output
    assert "0 modifiée, 1 nouvelle, 0 à jour, 4 non concernées, 0 en échec." in resultat.output
    assert "(s)" not in resultat.output


def test_exemple_dask_du_readme(lot, tmp_path):
    """L'exemple Python de la section Dask du guide du service informatique (docs/informatique.md), copié tel quel
    dans un fichier et lancé comme un script."""
    if os.environ.get("CI") != "true":
        pytest.importorskip("distributed")
    texte = (RACINE / "docs" / "informatique.md").read_text(encoding="utf-8")
    section = texte[texte.index("### Au-delà d'une machine : Dask"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    script = tmp_path / "regenerer_dask.py"
    script.write_text(code, encoding="utf-8")
    dossier, racine = lot
    resultat = subprocess.run([sys.executable, str(script), str(dossier)], capture_output=True, text=True,
                              env={**os.environ, "DCE_RACINE": str(racine)}, cwd=tmp_path, timeout=600)
    assert resultat.returncode == 0, resultat.stderr[-2000:]
    echecs, synthese = resultat.stdout.split()[-2:]
    assert echecs == "0" and Path(synthese).is_file()
    assert "consultation" in Path(synthese).read_text(encoding="utf-8").lower()


def test_reglages_dask_du_guide_en_fichier_de_configuration(tmp_path):
    """Le fichier de configuration que le guide donne à l'ordonnanceur et aux travailleurs d'un cluster Dask, lu comme
    Dask lit /etc/dask, vaut les réglages conseillés (`REGLAGES_DASK`) que l'exemple Python passe à un LocalCluster."""
    if os.environ.get("CI") == "true":
        import dask
    else:
        dask = pytest.importorskip("dask")
        pytest.importorskip("distributed")
    import distributed  # noqa: F401 - ses réglages par défaut, que le fichier modifie

    texte = (RACINE / "docs" / "informatique.md").read_text(encoding="utf-8")
    section = texte[texte.index("`REGLAGES_DASK` allège"):]
    (tmp_path / "dce.yaml").write_text(re.search(r"```yaml\n(.*?)```", section, re.S).group(1), encoding="utf-8")
    lus = dask.config.merge(dask.config.config, *dask.config.collect_yaml([str(tmp_path)]))
    assert {cle: dask.config.get(cle, config=lus) for cle in regeneration.REGLAGES_DASK} == regeneration.REGLAGES_DASK
    assert {cle: dask.config.get(cle) for cle in regeneration.REGLAGES_DASK} != regeneration.REGLAGES_DASK


def test_regeneration_par_piece(lot, tmp_path, monkeypatch):
    """Une clause du CCAP modifiée : seules les pièces Word dont les entrées changent sont rendues de nouveau, les
    autres sont reprises de la version précédente ; chaque version est identique à l'octet à une génération complète
    sans cache. Une pièce précédente retouchée à la main n'est jamais reprise."""
    dossier, racine = lot
    monkeypatch.setenv("DCE_CACHE", str(tmp_path / "cache"))
    rendus: list[tuple[str, str]] = []
    rendre = documents._produire

    def espion(modele, variables, blocs, titres):
        rendus.append((str(variables["reference"]), variables["sigle_document"]))
        return rendre(modele, variables, blocs, titres)

    monkeypatch.setattr(documents, "_produire", espion)
    with ThreadPoolExecutor(1) as executeur:  # même processus : l'espion voit chaque rendu
        bilan = regeneration.regenerer(dossier, racine, executeur=executeur)
        assert {r.statut for r in bilan.consultations} == {A_JOUR}  # cache neuf : tout est rendu, verdicts gardés
        assert {s for _, s in rendus} >= {"RC", "CCAP", "CCTP", "SPASER", "ANNEXE"}
        references = {r.dossier: r.reference for r in bilan.consultations}
        retouche = next((dossier / "restauration-lycees" / "versions" / "001").glob("*-RC.docx"))
        retouche.chmod(0o644)  # version publiée : en lecture seule
        retouche.write_bytes(retouche.read_bytes() + b"\0")  # même document, octets différents

        remplacer(racine, *PLASTIQUE)
        rendus.clear()
        bilan = regeneration.regenerer(dossier, racine, executeur=executeur)
    statuts = {r.dossier: r.statut for r in bilan.consultations}
    assert statuts == {"amp-espaces-verts": A_JOUR, "travaux-lycee": A_JOUR,
                       "nettoyage-hotel-region": MODIFIEE, "restauration-lycees": MODIFIEE}
    pieces = {(r, s) for r, s in rendus if s in ("RC", "CCAP", "CCTP", "SPASER", "ANNEXE")}
    assert pieces == {(references["nettoyage-hotel-region"], "CCAP"), (references["restauration-lycees"], "CCAP"),
                      (references["restauration-lycees"], "RC")}  # le RC retouché est rendu de nouveau

    monkeypatch.setenv("DCE_CACHE", "0")
    for nom in ("nettoyage-hotel-region", "restauration-lycees"):
        attendu = tmp_path / "complete" / nom
        generation.generer(dossier / nom / "reponses.yaml", attendu, racine)
        assert octets(version(dossier / nom)) == octets(attendu), nom
        verifier_entiere(dossier / nom)


def test_decoupages_des_pieces_gardes_dans_la_memoire_de_la_consultation(lot, tmp_path, monkeypatch):
    """Les découpages des pièces comparées vont dans la mémoire de la consultation (un fichier par consultation, déjà
    écrit par sa production), pas dans un fichier chacun : à la régénération suivante, l'ancienne version (celle de
    la régénération précédente) est reprise sans être découpée, et la comparaison dit exactement ce qu'elle dit sans
    cache."""
    from generateur.donnees import cache
    from generateur.lot import rapport_changements, textes

    dossier, racine = lot
    monkeypatch.setenv("DCE_CACHE", str(tmp_path / "cache"))
    with ThreadPoolExecutor(1) as executeur:  # même processus : les espions voient chaque découpage
        regeneration.regenerer(dossier, racine, executeur=executeur)
        remplacer(racine, *PLASTIQUE)
        regeneration.regenerer(dossier, racine, executeur=executeur)
        assert not (tmp_path / "cache" / rapport_changements.DECOUPAGES).exists()
        gardes = [cle for f in (tmp_path / "cache" / cache.GROUPES).glob("*.pickle")
                  for cle in cache.lire_groupe(f.read_bytes())[0].get(rapport_changements.DECOUPAGES, {})]
        assert len(gardes) == 4  # CCAP de deux consultations modifiées : ancienne et nouvelle version de chacune

        decoupes: list[str] = []
        for nom in ("_decouper", "_tout_lire"):
            def espion(self, _nom=nom, _vrai=getattr(textes.Articles, nom)):
                decoupes.append(_nom)
                return _vrai(self)
            monkeypatch.setattr(textes.Articles, nom, espion)
        assemblees: list[object] = []
        vraie = rapport_changements._nouvelle_assemblee
        monkeypatch.setattr(rapport_changements, "_nouvelle_assemblee",
                            lambda neuve: assemblees.append(neuve) or vraie(neuve))
        changements: dict[str, list[tuple]] = {}
        comparer = regeneration.comparer

        def noter(ancien, ancien_dossier, *args, **kwargs):
            clauses, valeurs, documents = comparer(ancien, ancien_dossier, *args, **kwargs)
            changements[ancien_dossier.parent.parent.name] = [
                (c.id, c.nature, [l.texte for l in c.anciens], [l.texte for l in c.nouveaux]) for c in clauses]
            return clauses, valeurs, documents

        monkeypatch.setattr(regeneration, "comparer", noter)
        remplacer(racine, PLASTIQUE[0], PLASTIQUE[2], "pénalité de {{ 400 | euros }}")
        regeneration.regenerer(dossier, racine, executeur=executeur)
    assert not decoupes and not assemblees
    assert set(changements) == {"nettoyage-hotel-region", "restauration-lycees"}
    for clauses in changements.values():
        assert [(ident, nature) for ident, nature, _, _ in clauses] == [("ccap-plastique", "modifiée")]
        assert any("300,00" in t for t in clauses[0][2]) and any("400,00" in t for t in clauses[0][3])

    # la même comparaison sans cache : mêmes changements
    monkeypatch.setenv("DCE_CACHE", "0")
    for nom in changements:
        consultation = dossier / nom
        precedente, courante = sorted(p.name for p in (consultation / "versions").iterdir() if p.name.isdigit())[-2:]
        ancien = rapport_changements.lire_manifeste(consultation / "versions" / precedente)
        nouveau = rapport_changements.lire_manifeste(consultation / "versions" / courante)
        clauses, _, _ = rapport_changements.comparer(ancien, consultation / "versions" / precedente, nouveau,
                                                     consultation / "versions" / courante, racine)
        assert [(c.id, c.nature, [l.texte for l in c.anciens], [l.texte for l in c.nouveaux])
                for c in clauses] == changements[nom]


def _droits_d_ecriture(chemin: Path) -> int:
    return chemin.lstat().st_mode & 0o222


@pytest.mark.skipif(os.name != "posix", reason="liens physiques et lecture seule : Unix")
def test_fichiers_identiques_repris_de_la_version_precedente_en_lecture_seule(lot, tmp_path):
    """Une clause du CCAP modifiée : la nouvelle version reprend par un lien physique chaque fichier identique à
    l'octet à celui de la version précédente (RC, CCTP, fiche, annexes…), écrit les autres (CCAP, manifeste) ; tous
    ses fichiers sont en lecture seule, et elle est identique à l'octet à une génération complète."""
    dossier, racine = lot
    remplacer(racine, *PLASTIQUE)
    bilan = regeneration.regenerer(dossier, racine, jobs=2)
    assert {r.dossier for r in bilan.consultations if r.statut == MODIFIEE} == {"nettoyage-hotel-region",
                                                                                "restauration-lycees"}
    for nom in ("nettoyage-hotel-region", "restauration-lycees"):
        ancienne, nouvelle = dossier / nom / "versions" / "001", version(dossier / nom)
        assert nouvelle.name == "002"
        repris = {p.name for p in nouvelle.iterdir() if p.samefile(ancienne / p.name)}
        ecrits = {p.name for p in nouvelle.iterdir()} - repris
        assert {n.rsplit("-", 1)[-1] for n in ecrits} == {"CCAP.docx", "manifeste.json"}, ecrits
        suffixes = ("-RC.docx", "-CCTP.docx", "-tracabilite-SPASER.docx", "-annexe-conformite.docx")
        assert all(any(n.endswith(s) for n in repris) for s in suffixes), repris
        assert all(not _droits_d_ecriture(p) for p in nouvelle.iterdir()), nom
        assert all(not _droits_d_ecriture(ancienne / n) for n in repris)
        verifier_entiere(dossier / nom)
        attendu = tmp_path / "complete" / nom
        generation.generer(dossier / nom / "reponses.yaml", attendu, racine)
        assert octets(nouvelle) == octets(attendu), nom


@pytest.mark.skipif(os.name != "posix", reason="liens physiques : Unix")
def test_fichier_precedent_non_repris_s_il_n_est_pas_un_fichier_ordinaire(lot, tmp_path, monkeypatch):
    """Un lien symbolique à la place d'un fichier de la version précédente (mêmes octets, fichier ailleurs) n'est
    jamais repris : la nouvelle version en a une copie. Sans liens physiques possibles, chaque fichier est écrit."""
    dossier, racine = lot
    ailleurs = tmp_path / "ailleurs.docx"
    rc = next((dossier / "restauration-lycees" / "versions" / "001").glob("*-RC.docx"))
    shutil.copyfile(rc, ailleurs)
    rc.unlink()
    rc.symlink_to(ailleurs)
    remplacer(racine, *PLASTIQUE)
    monkeypatch.setattr(os, "link", _lien_refuse_pour("nettoyage-hotel-region"))
    with ThreadPoolExecutor(1) as executeur:  # même processus : le lien refusé vaut pour la régénération
        bilan = regeneration.regenerer(dossier, racine, executeur=executeur)
    assert {r.dossier: r.statut for r in bilan.consultations}["restauration-lycees"] == MODIFIEE
    nouveau = version(dossier / "restauration-lycees") / rc.name
    assert not nouveau.is_symlink() and nouveau.is_file() and not nouveau.samefile(ailleurs)
    assert nouveau.read_bytes() == ailleurs.read_bytes() and not _droits_d_ecriture(nouveau)
    assert ailleurs.stat().st_mode & 0o200  # le fichier d'ailleurs n'est pas touché
    nettoyage = version(dossier / "nettoyage-hotel-region")
    assert nettoyage.name == "002" and all(p.stat().st_nlink == 1 for p in nettoyage.iterdir())
    for nom in ("nettoyage-hotel-region", "restauration-lycees"):
        verifier_entiere(dossier / nom)


def _lien_refuse_pour(consultation: str):
    lier = os.link

    def lien(source, cible, *args, **options):
        if consultation in str(cible):
            raise PermissionError(1, "Operation not permitted", str(cible))
        return lier(source, cible, *args, **options)

    return lien


def test_ramasse_miettes_arrete_le_temps_d_une_consultation(tmp_path, monkeypatch):
    """Pendant le calcul d'une consultation, le ramasse-miettes est arrêté ; il est remis en marche ensuite (même après
    un échec), et un ramasse-miettes déjà arrêté le reste."""
    import gc

    from generateur.erreurs import ErreurDCE, Probleme

    vus = []

    def produire(*args, **kwargs):
        vus.append(gc.isenabled())
        raise ErreurDCE(Probleme("réponses illisibles"))

    monkeypatch.setattr(regeneration, "produire_dce", produire)
    consultation = tmp_path / "c"
    consultation.mkdir()
    tache = regeneration.Tache(str(consultation), "c", str(RACINE), str(tmp_path), "", simulation=True)
    avant = gc.isenabled()
    try:
        gc.enable()
        assert regeneration.traiter(tache).statut == ECHEC
        assert gc.isenabled()
        gc.disable()
        assert regeneration.traiter(tache).statut == ECHEC
        assert not gc.isenabled()
    finally:
        (gc.enable if avant else gc.disable)()
    assert vus == [False, False]


def test_comparer_ne_garde_rien_en_cycle(lot):
    """Les manifestes et les pièces lues par `comparer` sont libérés à son retour, sans attendre une collecte du
    ramasse-miettes (pas de cycle de références, qui les garderait pendant tout le calcul suivant)."""
    import gc
    import weakref

    from generateur.lot import rapport_changements

    dossier, racine = lot
    courante = version(dossier / "restauration-lycees")

    class Manifeste(dict):
        pass

    ancien = Manifeste(rapport_changements.lire_manifeste(courante))
    nouveau = Manifeste(ancien, fichiers={})  # pièces relues en entier : l'ancienne reprend le découpage de la nouvelle
    garde = weakref.ref(ancien)
    actif = gc.isenabled()
    gc.disable()
    try:
        _, _, documents = rapport_changements.comparer(ancien, courante, nouveau, courante, racine,
                                                       ({"CCAP.docx": "a"}, {"CCAP.docx": "b"}))
        assert documents == ["CCAP.docx"]
        del ancien, nouveau
        assert garde() is None
    finally:
        if actif:
            gc.enable()


def test_manifeste_et_empreintes_du_dce_produit_sans_relire(tmp_path):
    """Ce que la régénération prend en mémoire du DCE produit (manifeste, empreintes des pièces) est ce qu'elle lirait
    dans le dossier où il vient d'être écrit."""
    from generateur.lot import rapport_changements as rc

    dce = generation.produire_dce(EXEMPLES / "restauration-lycees.yaml", RACINE)
    generation.ecrire(dce.contenus, tmp_path)
    manifeste = rc.manifeste_produit(dce.contenus)
    assert manifeste == rc.lire_manifeste(tmp_path)
    empreintes = rc.empreintes_produites(dce.contenus, manifeste)
    assert empreintes == rc.empreintes_documents(tmp_path, manifeste)
    assert "CCAP.docx" in empreintes and len(empreintes) == len(dce.contenus) - 1
    # une pièce que le manifeste ne nommerait pas est hachée
    sans = {**manifeste, "fichiers": {}}
    assert rc.empreintes_produites(dce.contenus, sans) == empreintes


def test_empreintes_de_la_version_precedente_reprises_du_dce_produit(tmp_path, monkeypatch):
    """Les pièces de la version précédente identiques à l'octet à celles du DCE produit reprennent leur empreinte
    (enregistrée au manifeste produit) sans être hachées de nouveau ; une pièce qui diffère est hachée."""
    from generateur.lot import rapport_changements as rc

    dce = generation.produire_dce(EXEMPLES / "restauration-lycees.yaml", RACINE)
    generation.ecrire(dce.contenus, tmp_path)
    manifeste = rc.manifeste_produit(dce.contenus)
    ccap = next(n for n in dce.contenus if n.endswith("-CCAP.docx"))
    (tmp_path / ccap).write_bytes(dce.contenus[ccap] + b"\0")  # retouchée depuis
    attendu = rc.empreintes_documents(tmp_path, manifeste)
    haches = []
    sha256 = rc.hashlib.sha256

    def compter(octets):
        haches.append(octets)
        return sha256(octets)

    monkeypatch.setattr(rc.hashlib, "sha256", compter)
    fichiers = rc.fichiers_generes(tmp_path)
    assert rc.empreintes_documents(tmp_path, manifeste, fichiers, (dce.contenus, manifeste)) == attendu
    assert attendu["CCAP.docx"] != rc.empreintes_produites(dce.contenus, manifeste)["CCAP.docx"]
    assert haches == [fichiers[ccap]]


def test_processus_de_calcul_gele_ce_qui_survit_a_une_consultation():
    """Dans un processus de calcul du lot (`_mourir_avec`), la fin de chaque calcul sans ramasse-miettes ramasse les
    cycles qu'il a créés et gèle ce qui lui survit (le ramasse-miettes ne le reparcourt plus) ; ailleurs, rien n'est
    gelé. Vérifié dans un processus à part : geler dans celui des tests y garderait tout."""
    code = """
import gc, os, weakref
from generateur.donnees import cache
from generateur.lot import regeneration

class Noeud:
    pass

@cache.sans_ramasse_miettes()  # comme `traiter`
def calcul():
    cycle = Noeud()
    cycle.moi = cycle
    return weakref.ref(cycle), Noeud()

gc.collect()
gc.enable()
mort, survivant = calcul()
print(gc.get_freeze_count() == 0, mort() is not None)  # ailleurs : rien de gelé, le cycle attend une collecte
gc.collect()
regeneration._mourir_avec(os.getpid())
mort, survivant = calcul()
print(mort() is None, gc.get_freeze_count() > 0, gc.isenabled())
print(any(o is survivant for o in gc.get_objects()))  # gelé : hors des générations que parcourt le ramasse-miettes
"""
    sortie = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parent.parent).stdout.split()
    assert sortie == ["True", "True", "True", "True", "True", "False"]


def test_processus_locaux_consultations_soumises_par_fenetre(lot, monkeypatch):
    """Processus locaux : jamais plus de FENETRE_PAR_PROCESSUS consultations par processus soumises et pas encore
    terminées (la mémoire du processus principal ne croît pas avec le lot) ; toutes sont traitées, le bilan est celui
    d'un lot soumis d'un coup (même ordre, mêmes statuts)."""
    dossier, racine = lot
    remplacer(racine, *PLASTIQUE)
    monkeypatch.setattr(regeneration, "FENETRE_PAR_PROCESSUS", 1)
    en_vol, pointe = set(), []

    class Compte(regeneration.ProcessPoolExecutor):
        def submit(self, *args, **kwargs):
            future = super().submit(*args, **kwargs)
            en_vol.add(future)
            pointe.append(sum(not f.done() for f in en_vol))
            return future

    monkeypatch.setattr(regeneration, "ProcessPoolExecutor", Compte)
    bilan = regeneration.regenerer(dossier, racine, jobs=2, simulation=True)
    assert len(en_vol) == len(TOUTES) and max(pointe) <= 2
    assert [r.dossier for r in bilan.consultations] == sorted(TOUTES)
    assert ECHEC not in {r.statut for r in bilan.consultations}
    with ThreadPoolExecutor(1) as executeur:  # exécuteur fourni : tout soumis d'avance
        attendu = regeneration.regenerer(dossier, racine, executeur=executeur, simulation=True)
    assert [(r.dossier, r.statut) for r in bilan.consultations] == [(r.dossier, r.statut)
                                                                    for r in attendu.consultations]


def _noter_processus(monkeypatch, journal: Path, perdue: str | None = None, une_fois: bool = False,
                     apres: bool = False, freres: bool = False) -> None:
    """Chaque consultation calculée note son processus dans `journal` (si `freres`, suivi des processus vivants que le
    processus des tests a créés, lus dans /proc sous Linux) ; celle nommée `perdue` tue le sien (la première fois
    seulement si `une_fois`), avant de la calculer, ou juste après l'avoir publiée si `apres` (son rapport est perdu).
    Les processus de calcul naissent par fork du processus des tests : ils ont ces fonctions."""
    calculer, publier = regeneration._calculer, regeneration.publier
    deja = journal.with_suffix(".tue")

    def tuer(nom):
        if nom == perdue and not (une_fois and deja.exists()):
            deja.touch()
            os._exit(1)  # processus de calcul perdu (tué, mémoire épuisée…)

    def noter(tache):
        if not apres:
            tuer(tache.nom)
        ligne = f"{tache.nom} {os.getpid()}"
        enfants = Path(f"/proc/{os.getppid()}/task/{os.getppid()}/children")  # créés par le fil principal
        if freres and enfants.exists():
            ligne += " " + " ".join(enfants.read_text().split())
        with journal.open("a") as f:
            f.write(ligne + "\n")
        return calculer(tache)

    def publier_puis_tuer(consultation, temporaire, numero):
        publier(consultation, temporaire, numero)
        tuer(consultation.name)

    monkeypatch.setattr(regeneration, "_calculer", noter)
    if apres:
        monkeypatch.setattr(regeneration, "publier", publier_puis_tuer)


def test_groupe_chaque_publication_pendant_le_calcul_de_la_suivante(lot, monkeypatch):
    """Les consultations d'une tâche : la version de chacune est publiée par un fil à part pendant que la suivante est
    calculée (la publication attend ici que le calcul de la suivante ait commencé : faites l'une après l'autre, elle
    attendrait en vain) ; rapports dans l'ordre, chacun achevé une fois sa version publiée."""
    import itertools
    import threading

    dossier, racine = lot
    remplacer(racine, *PLASTIQUE)
    monkeypatch.setattr(regeneration, "GROUPES_MIN", 1)  # exécuteur fourni, 4 consultations : une seule tâche
    calculer, publier = regeneration._calculer, regeneration.publier
    commences = {nom: threading.Event() for nom in TOUTES}
    suivante = dict(itertools.pairwise(TOUTES))
    vus = []

    def noter(tache):
        commences[tache.nom].set()
        return calculer(tache)

    def publier_pendant(consultation, temporaire, numero):
        vus.append((consultation.name, threading.current_thread().name.startswith("dce-publication"),
                    commences[suivante[consultation.name]].wait(30)))
        publier(consultation, temporaire, numero)

    monkeypatch.setattr(regeneration, "_calculer", noter)
    monkeypatch.setattr(regeneration, "publier", publier_pendant)
    with ThreadPoolExecutor(1) as executeur:
        bilan = regeneration.regenerer(dossier, racine, executeur=executeur)
    plastique = ["nettoyage-hotel-region", "restauration-lycees"]
    assert vus == [(nom, True, True) for nom in plastique]
    assert [(r.dossier, r.statut, r.nouvelle_version) for r in bilan.consultations] == [
        (n, MODIFIEE, "002") if n in plastique else (n, A_JOUR, None) for n in TOUTES]
    for nom in plastique:
        assert verifier_entiere(dossier / nom) == "002"
        rapport = next(r for r in bilan.consultations if r.dossier == nom)
        assert rapport.fiche["version"] == "002" and Path(rapport.redline).is_file()


def test_groupe_publication_en_echec(lot, monkeypatch):
    """La publication d'une consultation d'un groupe échoue (disque plein) : elle seule est en échec, avec la cause en
    français ; sa version en préparation est retirée, elle reste à sa version ; les autres sont publiées."""
    import errno

    dossier, racine = lot
    remplacer(racine, *PLASTIQUE)
    monkeypatch.setattr(regeneration, "GROUPES_MIN", 1)
    publier = regeneration.publier

    def publier_ou_non(consultation, temporaire, numero):
        if consultation.name == "nettoyage-hotel-region":
            raise OSError(errno.ENOSPC, "No space left on device", str(consultation))
        publier(consultation, temporaire, numero)

    monkeypatch.setattr(regeneration, "publier", publier_ou_non)
    with ThreadPoolExecutor(1) as executeur:
        bilan = regeneration.regenerer(dossier, racine, executeur=executeur)
    statuts = {r.dossier: r for r in bilan.consultations}
    assert statuts["nettoyage-hotel-region"].statut == ECHEC
    assert "disque plein" in statuts["nettoyage-hotel-region"].erreur
    assert statuts["restauration-lycees"].statut == MODIFIEE
    assert sorted(p.name for p in (dossier / "nettoyage-hotel-region" / "versions").iterdir()) == ["001"]
    assert version(dossier / "restauration-lycees").name == "002"


def test_rapports_du_lot_gardes_hors_memoire_puis_relus():
    """Les rapports des consultations terminées passent par un fichier temporaire anonyme (`_Terminees`) le temps du
    lot : relus tels quels, dans l'ordre d'arrivée, y compris ceux d'un processus perdu ; le fichier est fermé ensuite
    (anonyme, il disparaît avec lui)."""
    from generateur.lot.rapport_changements import ChangementClause

    terminees = regeneration._Terminees()
    premiers = [regeneration.RapportConsultation("b", MODIFIEE, reference="2027-01", nouvelle_version="002",
                                                 documents=["CCAP.docx"], causes=["clause « objet » modifiée"],
                                                 fiche={"reference": "2027-01", "lots": [1, 2]},
                                                 clauses=[ChangementClause("ccap-objet", "CCAP", "modifiée", "Objet", 3,
                                                                           4, "1.1", "1.1", "clause modifiée")]),
                regeneration.RapportConsultation("a", A_JOUR, version_precedente="003")]
    terminees.ajouter(premiers)
    terminees.ajouter([regeneration.RapportConsultation("c", ECHEC, erreur="processus de calcul perdu (…)")])
    relus = terminees.relire()
    assert relus == [*premiers, regeneration.RapportConsultation("c", ECHEC, erreur="processus de calcul perdu (…)")]
    assert relus[0] is not premiers[0] and relus[0].clauses[0].titre == "Objet" and terminees._fichier.closed


@pytest.mark.parametrize("apres", [False, True], ids=["avant-publication", "apres-publication"])
def test_processus_de_calcul_perdu_une_fois_ses_consultations_reprises(lot, monkeypatch, tmp_path, apres):
    """Un processus de calcul perdu une fois (tué pendant une consultation, ou juste après l'avoir publiée) : les
    consultations qu'il avait reçues et pas encore rendues sont soumises de nouveau à un processus neuf ; celles de
    l'autre processus continuent, calculées une seule fois ; aucune n'est en échec. Une consultation déjà publiée par
    l'essai perdu est dite modifiée, avec ses changements, comparée à la version du début du lot ; elle n'est pas
    publiée deux fois."""
    dossier, racine = lot
    remplacer(racine, *PLASTIQUE)
    journal = tmp_path / "processus.txt"
    perdue = "restauration-lycees"  # concernée par la clause modifiée : une version 002
    _noter_processus(monkeypatch, journal, perdue, une_fois=True, apres=apres)
    bilan = regeneration.regenerer(dossier, racine, jobs=2)
    plastique = {"nettoyage-hotel-region", "restauration-lycees"}
    assert [(r.dossier, r.statut) for r in bilan.consultations] == [
        (n, MODIFIEE if n in plastique else A_JOUR) for n in TOUTES]
    calculs = [ligne.split() for ligne in journal.read_text().splitlines()]
    # tuée avant de noter, puis calculée par un processus neuf ; ou calculée, publiée, tuée, puis calculée de nouveau
    assert [n for n, _ in calculs].count(perdue) == (2 if apres else 1)
    assert all([n for n, _ in calculs].count(autre) == 1 for autre in TOUTES if autre != perdue)
    for nom in plastique:
        rapport = next(r for r in bilan.consultations if r.dossier == nom)
        assert (rapport.version_precedente, rapport.nouvelle_version) == ("001", "002")
        assert [c.id for c in rapport.clauses] == ["ccap-plastique"] and Path(rapport.redline).is_file()
        assert sorted(p.name for p in (dossier / nom / "versions").iterdir()) == ["001", "002"]
        assert verifier_entiere(dossier / nom) == "002"


def test_processus_de_calcul_perdu_le_lot_continue(lot, monkeypatch, tmp_path):
    """Un processus de calcul perdu deux fois sur la même consultation (tué, mémoire épuisée) : elle est en échec, avec
    la cause en français ; les suivantes sont calculées par des processus neufs et le lot va à son terme."""
    dossier, racine = lot
    remplacer(racine, *PLASTIQUE)
    journal = tmp_path / "processus.txt"
    perdue = TOUTES[1]
    _noter_processus(monkeypatch, journal, perdue)
    monkeypatch.setattr(regeneration, "FENETRE_PAR_PROCESSUS", 1)  # une consultation en cours à la fois
    bilan = regeneration.regenerer(dossier, racine, jobs=1)
    statuts = {r.dossier: r for r in bilan.consultations}
    assert statuts[perdue].statut == ECHEC
    assert statuts[perdue].erreur == ("processus de calcul perdu deux fois (arrêté brutalement : tué, ou mémoire "
                                      "épuisée ?) ; la consultation reste à sa version précédente")
    assert all(r.statut != ECHEC for nom, r in statuts.items() if nom != perdue)
    calculs = dict(ligne.split() for ligne in journal.read_text().splitlines())
    assert sorted(calculs) == [n for n in TOUTES if n != perdue]
    assert calculs[TOUTES[0]] != calculs[TOUTES[2]]  # après la perte, un processus neuf
    assert version(dossier / TOUTES[2]).name == "002" and version(dossier / perdue).name == "001"


def test_processus_de_calcul_perdu_deux_fois_sans_entrainer_les_autres(lot, monkeypatch, tmp_path):
    """Deux processus, toutes les consultations soumises d'un coup : une consultation fait tomber son processus à
    chaque essai. À la première perte, toutes celles qui étaient en cours sont perdues avec elle ; reprises chacune
    seule, elles passent, et la coupable seule est en échec à la seconde perte."""
    dossier, racine = lot
    remplacer(racine, *PLASTIQUE)
    journal = tmp_path / "processus.txt"
    perdue = "nettoyage-hotel-region"
    _noter_processus(monkeypatch, journal, perdue)
    bilan = regeneration.regenerer(dossier, racine, jobs=2)
    assert [(r.dossier, r.statut) for r in bilan.consultations] == [
        (n, ECHEC if n == perdue else MODIFIEE if n == "restauration-lycees" else A_JOUR) for n in TOUTES]
    assert version(dossier / "restauration-lycees").name == "002" and version(dossier / perdue).name == "001"


def test_processus_de_calcul_remplaces_apres_leur_quota(lot, monkeypatch, tmp_path):
    """Un processus de calcul qui a reçu QUOTA_PROCESSUS consultations est remplacé par un neuf, pour que la mémoire
    d'un grand lot ne croisse plus (ici : une consultation par processus). Jamais plus de processus de calcul à la
    fois que demandé ; rapports et versions identiques à l'octet à ceux d'un lot sans remplacement."""
    dossier, racine = lot
    remplacer(racine, *PLASTIQUE)
    temoin = tmp_path / "temoin"
    shutil.copytree(dossier.parent, temoin)
    journal = tmp_path / "processus.txt"
    calculer = regeneration._calculer
    _noter_processus(monkeypatch, journal, freres=True)
    monkeypatch.setattr(regeneration, "QUOTA_PROCESSUS", 1)
    bilan = regeneration.regenerer(dossier, racine, jobs=2)
    monkeypatch.setattr(regeneration, "_calculer", calculer)
    monkeypatch.setattr(regeneration, "QUOTA_PROCESSUS", 10**9)
    sans_remplacement = regeneration.regenerer(temoin / "consultations", temoin / "racine", jobs=2)

    lignes = [ligne.split() for ligne in journal.read_text().splitlines()]
    assert sorted(n for n, *_ in lignes) == TOUTES
    calcul = {pid for _, pid, *_ in lignes}
    assert len(calcul) == len(TOUTES)  # un processus neuf pour chaque consultation
    if Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists():
        assert all(len(calcul.intersection(freres)) <= 2 for _, _, *freres in lignes)
    assert [(r.dossier, r.statut, r.version_precedente, r.nouvelle_version) for r in bilan.consultations] == [
        (r.dossier, r.statut, r.version_precedente, r.nouvelle_version) for r in sans_remplacement.consultations]
    assert [(r.dossier, r.statut) for r in bilan.consultations] == [
        (n, MODIFIEE if n in {"nettoyage-hotel-region", "restauration-lycees"} else A_JOUR) for n in TOUTES]
    for nom in TOUTES:
        assert octets(version(dossier / nom)) == octets(version(temoin / "consultations" / nom)), nom


# Mémoires bornées de dce qui ne sont ni des `cache.ParObjet` ni des caches de fonctions (lru_cache) : dictionnaires
# privés de ses modules (une mémoire ajoutée ici si le test ci-dessous la voit croître).
MEMOIRES_DES_MODULES = {
    "generateur.donnees.yaml_lignes": ("_validateurs",),
    "generateur.pieces.croises": ("_TROUVES",),
    "generateur.pieces.tracabilite": ("_CELLULES",),
    "generateur.rendu.documents": ("_PARTIES_NETTOYEES", "_GABARITS", "_CORPS_ASSEMBLES"),
}


def _vider_les_memoires_bornees() -> None:
    """Vide, dans ce processus, tout ce que dce garde d'une consultation à l'autre : caches par objet (`ParObjet`),
    caches de fonctions (lru_cache), fenêtres (`fenetre.Fenetre`), mémoires des modules (`MEMOIRES_DES_MODULES` : unités et correspondances de la
    relecture, entrées zip, corps assemblés…), comptes des mémoires disque. Le catalogue, le questionnaire et les
    acheteurs du lot (`charger`) restent : relus, ils seraient gardés de nouveau par ce qui les suit (un par lot)."""
    from generateur.donnees import cache, fenetre

    for memoire in list(fenetre._FENETRES):  # blocs du Markdown, unités et correspondances de la relecture, entrées zip
        memoire.vider()
    for nom_module, noms in MEMOIRES_DES_MODULES.items():
        for nom in noms:
            getattr(sys.modules[nom_module], nom).clear()
    for nom_module, module in list(sys.modules.items()):
        if nom_module == "generateur" or nom_module.startswith("generateur."):
            for objet in list(vars(module).values()):
                # par le seul type : certains objets des modules (requête du serveur web, générateur de fonctions SQL)
                # répondent à tout attribut demandé, ou lèvent une erreur hors d'une requête
                if type(objet) is cache.ParObjet:
                    objet.vider()
                elif type(objet) is functools._lru_cache_wrapper and objet.__name__ != "charger":
                    objet.cache_clear()  # catalogue, questionnaire, acheteurs (`charger`) : ceux du lot, gardés
    for memoire in list(cache._MEMOIRES):
        memoire._servies.clear()


def test_rien_ne_s_accumule_hors_des_memoires_bornees(base, tmp_path, monkeypatch):
    """La mémoire d'un processus de calcul ne croît avec le lot que par ses mémoires bornées (caches qui se
    remplissent, puis plafonnent). Dans le processus de calcul d'un lot de 28 consultations, toutes ces mémoires sont
    vidées après la 4e, la 12e et la 24e (tracemalloc suit ce qui est alloué ensuite) : de la 12e à la 24e, ce qui
    vit encore une fois elles vidées ne croît pas (moins de 16 Kio par consultation), alors qu'elles gardaient
    plusieurs Mio (le test voit ce qu'elles gardent). Une structure qui garderait quelque chose de chaque consultation
    (rapport, document, analyse, entrée d'un registre) le ferait échouer."""
    import tracemalloc

    dossier, racine = tmp_path / "consultations", tmp_path / "racine"
    shutil.copytree(base / "racine", racine)
    for exemple in EXEMPLES.glob("*.yaml"):  # 7 consultations par exemple, chacune avec son objet
        texte = exemple.read_text(encoding="utf-8")
        objet = re.search(r'^objet: "(.*)"$', texte, re.M)
        assert objet, exemple
        for i in range(7):
            # dans l'ordre du lot, les exemples se suivent : après les 4 premières, aucun texte du catalogue n'est
            # plus lu, compilé ou gardé pour la première fois (modèles des clauses, gardés avec le catalogue)
            copie = copier_exemple(exemple, dossier / f"{i}-{exemple.stem}" / "reponses.yaml")
            copie.write_text(texte.replace(objet.group(0), f'objet: "{objet.group(1)}, site n° {i + 1}"'),
                             encoding="utf-8")
    assert {r.statut for r in regeneration.regenerer(dossier, racine, jobs=2).consultations} == {NOUVELLE}
    remplacer(racine, *PLASTIQUE)

    mesure, calculer, compte, points = tmp_path / "mesure.json", regeneration._calculer, [0], {}

    # un module importé à sa première utilisation (Python-Markdown, au premier morceau qui n'est pas lu directement)
    # l'est une fois par processus : pas une croissance
    hors_imports = [tracemalloc.Filter(False, "<frozen importlib._bootstrap*>", all_frames=True)]

    def mesurer(tache):
        # avant la 5e, la 13e et la 25e : le résultat de la précédente est parti au processus principal
        if compte[0] in (4, 12, 24):
            pleines = tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else 0
            _vider_les_memoires_bornees()
            gc.unfreeze()  # ce que le processus de calcul a gelé (`geler_survivants`), cycles des entrées vidées compris
            gc.collect()
            if compte[0] == 4:
                tracemalloc.start(16)
            else:
                vivant = tracemalloc.take_snapshot().filter_traces(hors_imports)
                points[compte[0]] = vivant, sum(t.size for t in vivant.traces), pleines
            if compte[0] == 24:
                (avant, reste_avant, _), (apres, reste, pleines) = points[12], points[24]
                lieux = apres.compare_to(avant, "traceback")[:3]  # où a été alloué ce qui a crû, s'il a crû
                mesure.write_text(json.dumps({"croissance": reste - reste_avant, "pleines": pleines - reste,
                                              "lieux": [[d.size_diff, d.traceback.format()] for d in lieux]}))
                tracemalloc.stop()
        compte[0] += 1
        return calculer(tache)

    monkeypatch.setattr(regeneration, "_calculer", mesurer)  # le processus de calcul naît par fork : il l'a
    bilan = regeneration.regenerer(dossier, racine, jobs=1)
    assert len(bilan.consultations) == 28 and all(r.statut != ECHEC for r in bilan.consultations)
    memoire = json.loads(mesure.read_text())
    assert memoire["pleines"] > 2 << 20, memoire  # ce que les mémoires bornées gardaient, vidées à la 24e
    # de la 12e à la 24e consultation, hors mémoires bornées : moins de 16 Kio par consultation (« lieux » : où a été
    # alloué ce qui a crû)
    assert memoire["croissance"] < 12 * (16 << 10), memoire


def test_processus_de_calcul_rend_les_pages_libres_du_tas():
    """Dans un processus de calcul du lot sous Linux (glibc), `malloc_trim` est appelé à la fin de chaque groupe ;
    ailleurs (processus principal, Dask), jamais."""
    assert regeneration._RENDRE is None
    code = """
import os, sys
from generateur.lot import regeneration
regeneration._mourir_avec(os.getpid())
print(regeneration._RENDRE is not None or not sys.platform.startswith("linux"))
"""
    sortie = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parent.parent).stdout.split()
    assert sortie == ["True"]
