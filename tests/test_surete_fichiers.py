"""Sûreté des fichiers, des processus et du serveur : pannes, arrêts brutaux et entrées piégées ne coûtent ni
données ni machine (issue 21, défauts 5 à 9, 15 et 18 de la revue de robustesse ; issue 18 : droits des
fichiers, publication d'un coup, --sortie relatif).

Chaque test reproduit le défaut tel que l'utilisateur le voyait (commande, code de sortie, message, fichiers
restés sur le disque), puis vérifie ce qu'il voit désormais.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from conftest import EXEMPLES, RACINE, copier_exemple, ecrire, reponses, soffice
from generateur.donnees import fichiers
from generateur.erreurs import ErreurDCE
from generateur.interfaces.cli import main
from generateur.lot import regeneration

DCE = str(Path(sys.executable).with_name("dce"))
CATALOGUE = ("catalogue.yaml", "questionnaire.yaml", "clauses", "modeles", "acheteurs")


def dce(*arguments: str, cwd: Path | None = None):
    """La commande `dce` dans ce processus (CliRunner) : code de sortie et tout ce qu'elle affiche."""
    precedent = Path.cwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        return CliRunner().invoke(main, [*map(str, arguments)], catch_exceptions=False)
    finally:
        os.chdir(precedent)


def etat(dossier: Path) -> dict[str, bytes]:
    """Tout ce que contient un dossier (fichiers cachés compris), chemin relatif → octets ; les dossiers aussi."""
    if not dossier.exists():
        return {}
    return {p.relative_to(dossier).as_posix(): (p.read_bytes() if p.is_file() else b"<dossier>")
            for p in sorted(dossier.rglob("*"))}


def copie_catalogue(destination: Path) -> Path:
    destination.mkdir(parents=True)
    for nom in CATALOGUE:
        source = RACINE / nom
        (shutil.copytree if source.is_dir() else shutil.copy)(source, destination / nom)
    return destination


def modifier_clause(racine: Path, texte: str) -> None:
    """Ajoute un paragraphe à la clause d'objet du CCAP : toutes les consultations changent."""
    chemin = racine / "clauses/ccap/ccap-objet.md"
    contenu = chemin.read_text(encoding="utf-8")
    chemin.write_text(contenu.replace("\n---\n", f"\n---\n{texte}\n\n", 1), encoding="utf-8")


# -- défaut 6 : une génération remplace la sortie d'un coup, ou ne laisse rien de nouveau -----------------

@pytest.fixture
def sortie_a(tmp_path: Path) -> tuple[Path, Path, dict[str, bytes]]:
    """Une sortie où la version A d'une consultation est déjà écrite, à côté d'un fichier de l'utilisateur ;
    le fichier de réponses contient la version B (objet modifié)."""
    sortie = tmp_path / "sortie"
    assert dce("generer", ecrire(tmp_path, reponses()), "-o", sortie).exit_code == 0
    (sortie / "mes-notes.txt").write_text("à garder", encoding="utf-8")
    fichier_b = ecrire(tmp_path, reponses(objet="Fourniture de papier recyclé pour les lycées"), "b.yaml")
    return sortie, fichier_b, etat(sortie)


def _panne_a_la_n_ieme_ecriture(monkeypatch, n: int, exc: BaseException) -> None:
    """Le n-ième fichier écrit échoue (disque plein, Ctrl-C…) : les précédents sont écrits."""
    compte = {"n": 0}

    def en_panne(vraie):
        def ecrire(chemin: Path, contenu: bytes, **options) -> None:
            compte["n"] += 1
            if compte["n"] == n:
                raise exc
            vraie(chemin, contenu, **options)
        return ecrire

    from generateur.rendu import generation
    for nom in ("ecrire_atomique", "ecrire_neuf"):
        ecrire = en_panne(getattr(fichiers, nom))
        monkeypatch.setattr(fichiers, nom, ecrire)
        if hasattr(generation, nom):
            monkeypatch.setattr(generation, nom, ecrire)


def test_disque_plein_pendant_generer_ne_laisse_rien_de_nouveau(sortie_a, monkeypatch):
    sortie, fichier_b, avant = sortie_a
    _panne_a_la_n_ieme_ecriture(monkeypatch, 5, OSError(errno.ENOSPC, "No space left on device"))
    resultat = dce("generer", fichier_b, "-o", sortie)
    assert resultat.exit_code == 2, resultat.output
    assert "disque plein" in resultat.output and str(sortie) in resultat.output
    assert "Erreur interne" not in resultat.output and "No space" not in resultat.output
    assert etat(sortie) == avant  # ni .docx de B à côté du manifeste de A, ni dossier temporaire


def test_ctrl_c_pendant_generer_aucun_fichier_partiellement_ecrit(sortie_a, monkeypatch):
    sortie, fichier_b, avant = sortie_a
    _panne_a_la_n_ieme_ecriture(monkeypatch, 4, KeyboardInterrupt())
    resultat = dce("generer", fichier_b, "-o", sortie)
    assert resultat.exit_code == 130 and "aucun fichier partiellement écrit" in resultat.output
    assert etat(sortie) == avant


def test_panne_pendant_la_mise_en_place_remet_les_anciens_fichiers(sortie_a, monkeypatch):
    """Même un échec entre deux renommages de la mise en place laisse l'ensemble A intact."""
    sortie, fichier_b, avant = sortie_a
    vrai = os.rename
    compte = {"n": 0}

    def rename(source, cible):
        if Path(source).parent.name.startswith(fichiers.PREPARATION):
            compte["n"] += 1
            if compte["n"] == 3:
                raise OSError(errno.EIO, "Input/output error", str(cible))
        vrai(source, cible)

    monkeypatch.setattr(os, "rename", rename)
    resultat = dce("generer", fichier_b, "-o", sortie)
    assert compte["n"] == 3 and resultat.exit_code == 2, resultat.output
    assert etat(sortie) == avant


def test_generation_reussie_remplace_la_consultation_et_garde_les_fichiers_de_l_utilisateur(sortie_a):
    sortie, fichier_b, avant = sortie_a
    assert dce("generer", fichier_b, "-o", sortie).exit_code == 0
    apres = etat(sortie)
    assert set(apres) == set(avant) and apres["mes-notes.txt"] == "à garder".encode()
    manifeste = json.loads(apres["TEST-001-manifeste.json"])
    assert manifeste["reponses"]["objet"] == "Fourniture de papier recyclé pour les lycées"
    for nom, empreinte in manifeste["fichiers"].items():  # le manifeste décrit les documents présents
        assert hashlib.sha256(apres[nom]).hexdigest() == empreinte, nom


def test_fichier_identique_laisse_en_place_sans_rien_ecrire(tmp_path, monkeypatch):
    """Un ensemble relancé sur une sortie à jour n'écrit rien sur le disque : un fichier préparé identique à l'octet
    à son homonyme n'est ni synchronisé, ni renommé, ni retiré (l'ancien, de même contenu, reste) ; un fichier
    modifié est remplacé, un fichier périmé retiré, même si tous les autres sont identiques ; un lien symbolique de
    même contenu est remplacé par un fichier."""
    sortie = tmp_path / "sortie"
    with fichiers.ensemble(sortie) as dossier:
        for nom, contenu in (("a", b"A"), ("b", b"B"), ("c", b"C")):
            fichiers.ecrire_neuf(dossier / nom, contenu)
    (tmp_path / "cible").write_bytes(b"L")
    (sortie / "lien").symlink_to(tmp_path / "cible")
    inodes = {p.name: p.stat().st_ino for p in sortie.iterdir()}
    barrieres = []
    monkeypatch.setattr(fichiers, "barriere", lambda d: barrieres.append(d))

    with fichiers.ensemble(sortie) as dossier:  # rien de changé : ni barrière, ni dossier des anciens
        for nom, contenu in (("a", b"A"), ("b", b"B"), ("c", b"C")):
            fichiers.ecrire_neuf(dossier / nom, contenu)
    assert barrieres == [] and {p.name: p.stat().st_ino for p in sortie.iterdir()} == inodes
    assert sorted(p.name for p in sortie.iterdir()) == ["a", "b", "c", "lien"]

    with fichiers.ensemble(sortie, lambda: ["c"]) as dossier:
        fichiers.ecrire_neuf(dossier / "a", b"A")
        fichiers.ecrire_neuf(dossier / "b", b"B2")
        fichiers.ecrire_neuf(dossier / "lien", b"L")
    assert len(barrieres) == 1
    assert {p.name: p.read_bytes() for p in sortie.iterdir()} == {"a": b"A", "b": b"B2", "lien": b"L"}
    assert (sortie / "a").stat().st_ino == inodes["a"] and (sortie / "b").stat().st_ino != inodes["b"]
    assert not (sortie / "lien").is_symlink() and (tmp_path / "cible").read_bytes() == b"L"

    with fichiers.ensemble(sortie, lambda: ["b"]) as dossier:  # seulement un fichier périmé à retirer
        fichiers.ecrire_neuf(dossier / "a", b"A")
    assert sorted(p.name for p in sortie.iterdir()) == ["a", "lien"] and len(barrieres) == 1


def test_echec_dans_une_sortie_nouvelle_ne_cree_aucun_dossier(tmp_path, monkeypatch):
    _panne_a_la_n_ieme_ecriture(monkeypatch, 2, OSError(errno.ENOSPC, "No space left on device"))
    resultat = dce("generer", ecrire(tmp_path, reponses()), "-o", tmp_path / "nouveau" / "sous-dossier")
    assert resultat.exit_code == 2, resultat.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reponses.yaml"]


# -- défaut 9 : erreurs du système de fichiers en sortie → message français, code 2 -------------------------

@pytest.mark.parametrize("cas", ["fichier", "peripherique", "nom_long", "droits", "lecture_seule", "disque_plein"])
def test_erreur_du_systeme_de_fichiers_en_sortie(cas, tmp_path, monkeypatch):
    fichier = ecrire(tmp_path, reponses())
    (tmp_path / "un-fichier").write_text("x")
    sortie, attendu = {
        "fichier": (tmp_path / "un-fichier" / "sous", "un élément du chemin est un fichier"),
        "peripherique": (Path(os.devnull), "un fichier de ce nom existe déjà"),
        "nom_long": (tmp_path / ("n" * 300), "nom de fichier trop long"),
        "droits": (tmp_path / "s", "droits insuffisants"),
        "lecture_seule": (tmp_path / "s", "lecture seule"),
        "disque_plein": (tmp_path / "s", "disque plein"),
    }[cas]
    simule = {"droits": errno.EACCES, "lecture_seule": errno.EROFS, "disque_plein": errno.ENOSPC}.get(cas)
    if simule:  # root passe outre les droits et l'essai ne monte pas de système de fichiers : erreur simulée
        def mkdir(chemin, *args, **kwargs):
            raise OSError(simule, os.strerror(simule), str(chemin))
        monkeypatch.setattr(os, "mkdir", mkdir)
    resultat = dce("generer", fichier, "-o", sortie)
    assert resultat.exit_code == 2, resultat.output
    assert attendu in resultat.output and "Erreur interne" not in resultat.output
    assert "Errno" not in resultat.output and "signaler" not in resultat.output
    assert not list(tmp_path.glob("**/*.docx"))


# -- issue 18 : droits des fichiers selon l'umask -----------------------------------------------------------

@pytest.fixture(params=[0o022, 0o027], ids=["umask022", "umask027"])
def umask(request):
    precedent = os.umask(request.param)
    yield request.param
    os.umask(precedent)


def _droits(dossier: Path, umask: int) -> None:
    """Fichiers en 0666 & ~umask, dossiers en 0777 & ~umask, tout ce que dce a créé sous `dossier` ; les fichiers
    d'une version publiée (versions/NNN/) en lecture seule : 0444 & ~umask."""
    elements = [dossier, *dossier.rglob("*")]
    assert len(elements) > 2
    for p in elements:
        publiee = p.parent.parent.name == "versions" and p.parent.name.isdigit()
        attendu = (0o777 if p.is_dir() else 0o444 if publiee else 0o666) & ~umask
        assert stat.S_IMODE(p.stat().st_mode) == attendu, (p, oct(stat.S_IMODE(p.stat().st_mode)), oct(attendu))


def test_droits_de_l_umask_en_generation_et_regeneration(umask, tmp_path):
    sortie = tmp_path / "sortie"
    assert dce("generer", ecrire(tmp_path, reponses()), "-o", sortie).exit_code == 0
    _droits(sortie, umask)
    assert dce("generer", ecrire(tmp_path, reponses(objet="Autre objet de la consultation")), "-o", sortie).exit_code == 0
    _droits(sortie, umask)  # fichiers remplacés
    dossier = tmp_path / "consultations"
    (dossier / "c1").mkdir(parents=True)
    shutil.copy(ecrire(tmp_path, reponses()), dossier / "c1" / "reponses.yaml")
    bilan = regeneration.regenerer(dossier, RACINE, jobs=1)
    assert not bilan.echecs
    _droits(dossier / "c1" / "versions", umask)
    _droits(bilan.dossier_rapport, umask)


# -- défaut 15 : retour arrière manuel du pointeur ---------------------------------------------------------

def test_retour_arriere_manuel_ne_detruit_pas_la_version_suivante(tmp_path):
    racine = copie_catalogue(tmp_path / "racine")
    dossier = tmp_path / "consultations"
    (dossier / "c1").mkdir(parents=True)
    shutil.copy(ecrire(tmp_path, reponses()), dossier / "c1" / "reponses.yaml")
    versions = dossier / "c1" / "versions"
    assert not regeneration.regenerer(dossier, racine, jobs=1).echecs
    modifier_clause(racine, "Premier paragraphe ajouté.")
    assert regeneration.regenerer(dossier, racine, jobs=1).consultations[0].nouvelle_version == "002"
    deuxieme = etat(versions / "002")
    (dossier / "c1" / "courante").write_text("001\n")  # l'acheteur revient à la version 001 à la main
    modifier_clause(racine, "Second paragraphe ajouté.")
    rapport = regeneration.regenerer(dossier, racine, jobs=1).consultations[0]
    assert (rapport.version_precedente, rapport.nouvelle_version) == ("001", "003")
    assert etat(versions / "002") == deuxieme  # intacte, et son numéro n'est pas réattribué
    assert sorted(p.name for p in versions.iterdir()) == ["001", "002", "003"]
    assert (dossier / "c1" / "courante").read_text().strip() == "003"


# -- défaut 5 : kill -9 du seul processus principal de `dce regenerer` ---------------------------------------

def _enfants(pid: int) -> set[int]:
    """Processus dont le parent est `pid` (Linux, /proc)."""
    trouves = set()
    for stat_ in Path("/proc").glob("[0-9]*/stat"):
        try:
            champs = stat_.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(champs[1]) == pid:
            trouves.add(int(stat_.parent.name))
    return trouves


def _vivant(pid: int) -> bool:
    try:
        etat_ = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return etat_ != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="lecture de /proc")
def test_kill_9_du_processus_principal_libere_le_verrou_et_arrete_les_calculs(tmp_path):
    dossier = tmp_path / "consultations"
    for exemple in sorted(EXEMPLES.glob("*.yaml"))[:4]:
        copier_exemple(exemple, dossier / exemple.stem / "reponses.yaml")
    processus = subprocess.Popen([DCE, "regenerer", str(dossier), "--jobs", "2"], cwd=RACINE,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    calculs: set[int] = set()
    try:
        limite = time.monotonic() + 60
        while len(calculs := _enfants(processus.pid)) < 2:
            assert processus.poll() is None and time.monotonic() < limite, "processus de calcul jamais lancés"
            time.sleep(0.02)
        os.kill(processus.pid, signal.SIGKILL)  # le principal seul, pas son groupe
        processus.wait()
        with regeneration.verrou(dossier):  # libre aussitôt : les calculs ne l'ont pas hérité
            pass
        limite = time.monotonic() + 10
        while any(_vivant(p) for p in calculs):
            assert time.monotonic() < limite, "processus de calcul survivants"
            time.sleep(0.05)
    finally:
        processus.kill()
        for p in calculs:
            if _vivant(p):
                os.kill(p, signal.SIGKILL)
    relance = subprocess.run([DCE, "regenerer", str(dossier), "--jobs", "2"], cwd=RACINE, capture_output=True,
                             text=True, timeout=300)
    assert relance.returncode == 0, relance.stderr
    assert "déjà en cours" not in relance.stderr
    for consultation in dossier.iterdir():
        if consultation.is_dir() and consultation.name != "rapports":
            courante = regeneration.version_courante(consultation)
            assert courante is not None and not list((consultation / "versions").glob(".*")), consultation.name


# -- défaut 7 : l'empreinte des réponses est celle des octets analysés ---------------------------------------

def test_empreinte_des_reponses_celle_de_la_version_utilisee(tmp_path, monkeypatch):
    """Le fichier est réécrit (version B) pendant la génération de la version A : le manifeste garde A."""
    from generateur.droit import regles
    fichier = ecrire(tmp_path, reponses())
    version_a = fichier.read_bytes()
    vraie = regles.analyser

    def analyser(*args, **kwargs):
        fichier.write_text(fichier.read_text(encoding="utf-8").replace("TEST-001", "TEST-002"), encoding="utf-8")
        return vraie(*args, **kwargs)

    monkeypatch.setattr(regles, "analyser", analyser)
    assert dce("generer", fichier, "-o", tmp_path / "s").exit_code == 0
    manifeste = json.loads((tmp_path / "s" / "TEST-001-manifeste.json").read_text(encoding="utf-8"))
    assert manifeste["reponses"]["reference"] == "TEST-001"
    assert manifeste["entrees"]["reponses"] == hashlib.sha256(version_a).hexdigest()
    assert manifeste["entrees"]["reponses"] != hashlib.sha256(fichier.read_bytes()).hexdigest()


# -- issue 18 : dce publier, --sortie relatif ou absolu, espaces et accents, rien à moitié ---------------

def test_publier_avec_sortie_relative_espaces_et_accents(tmp_path):
    """L'exemple même du README avec un --sortie relatif : plus de « relative path can't be expressed as a
    file URI », et les pièces publiées ont les droits de l'umask (LibreOffice réel)."""
    if soffice() is None:
        pytest.skip("LibreOffice absent sur ce poste (obligatoire sous CI=true)")
    fichier = ecrire(tmp_path, reponses(lots=[{"numero": 1, "intitule": "Papier", "montant_estime": 120000}]))
    precedent = os.umask(0o027)
    try:
        resultat = dce("publier", fichier, "--sortie", "publication/été 2026/lycée Émile", cwd=tmp_path)
    finally:
        os.umask(precedent)
    assert resultat.exit_code == 0, resultat.output
    sortie = tmp_path / "publication" / "été 2026" / "lycée Émile"
    assert (sortie / "TEST-001-DCE.zip").is_file() and (sortie / "TEST-001-interne.zip").is_file()
    assert (sortie / "TEST-001-DCE" / "TEST-001-RC.pdf").read_bytes().startswith(b"%PDF")
    _droits(sortie, 0o027)


FAUX_SOFFICE = """#!{python}
import sys
from pathlib import Path
args = sys.argv[1:]
sortie = Path(args[args.index("--outdir") + 1])
for a in args:
    if a.endswith((".docx", ".xlsx")) and {reussir}:
        (sortie / (Path(a).stem + ".pdf")).write_bytes(b"%PDF-1.4 faux")
"""


def _faux_soffice(tmp_path: Path, monkeypatch, reussir: bool) -> None:
    script = tmp_path / "soffice"
    script.write_text(FAUX_SOFFICE.format(python=sys.executable, reussir=reussir))
    script.chmod(0o755)
    monkeypatch.setenv("DCE_SOFFICE", str(script))


@pytest.mark.parametrize("relative", [True, False], ids=["relative", "absolue"])
def test_publier_chemins_relatifs_et_absolus(tmp_path, monkeypatch, relative):
    _faux_soffice(tmp_path, monkeypatch, reussir=True)
    fichier = ecrire(tmp_path, reponses())
    sortie = Path("dossier publié") / "consultation n°1"
    resultat = dce("publier", fichier, "-o", sortie if relative else tmp_path / sortie, cwd=tmp_path)
    assert resultat.exit_code in (0, 1), resultat.output
    noms = {p.name for p in (tmp_path / sortie).iterdir()}
    assert {"TEST-001-DCE.zip", "TEST-001-interne.zip", "TEST-001-DCE", "TEST-001-interne"} == noms
    publies = {p.name for p in (tmp_path / sortie / "TEST-001-DCE").iterdir()}
    assert {"TEST-001-liste-des-pieces.csv", "TEST-001-RC.pdf", "TEST-001-RC.docx"} <= publies
    assert not [n for n in noms if n.startswith(".")]


def test_echec_de_la_conversion_pdf_ne_laisse_rien_de_nouveau(tmp_path, monkeypatch):
    """LibreOffice échoue : ni pièce Word, ni PDF, ni archive nouveaux, et l'ancienne publication reste."""
    _faux_soffice(tmp_path, monkeypatch, reussir=True)
    fichier = ecrire(tmp_path, reponses())
    sortie = tmp_path / "publication"
    assert dce("publier", fichier, "-o", sortie).exit_code in (0, 1)
    avant = etat(sortie)
    _faux_soffice(tmp_path, monkeypatch, reussir=False)
    resultat = dce("publier", ecrire(tmp_path, reponses(objet="Objet changé pour la nouvelle publication")),
                   "-o", sortie)
    assert resultat.exit_code == 2 and "n'a pas pu convertir" in resultat.output, resultat.output
    assert etat(sortie) == avant
    nouvelle = tmp_path / "autre publication"
    assert dce("publier", fichier, "-o", nouvelle).exit_code == 2
    assert not nouvelle.exists()
    assert dce("generer", fichier, "-o", nouvelle, "--pdf").exit_code == 2
    assert not nouvelle.exists()


# -- défauts 8 et 18 : l'assistant web ---------------------------------------------------------------------

def _texte(reference: str) -> str:
    return yaml.safe_dump(reponses(reference=reference), allow_unicode=True, sort_keys=False)


def test_web_deux_references_voisines_ne_partagent_pas_un_dossier(tmp_path):
    from generateur.interfaces.web import consultations
    dossier = tmp_path / "consultations"
    precedent = os.umask(0o027)
    try:
        nom_a, rapport_a = consultations.generer(dossier, _texte("2027 LYCEE 01"), "2027 LYCEE 01", RACINE)
        nom_b, rapport_b = consultations.generer(dossier, _texte("2027/LYCEE/01"), "2027/LYCEE/01", RACINE)
    finally:
        os.umask(precedent)
    assert nom_a != nom_b and rapport_a.nouvelle_version == rapport_b.nouvelle_version == "001"
    fiches = {f.reference: f for f in consultations.lister(dossier)}
    assert set(fiches) == {"2027 LYCEE 01", "2027/LYCEE/01"}
    for reference, fiche in fiches.items():
        assert yaml.safe_load((fiche.dossier / "reponses.yaml").read_text(encoding="utf-8"))["reference"] == reference
        manifeste = json.loads(next(fiche.dossier_version.glob("*-manifeste.json")).read_text(encoding="utf-8"))
        assert manifeste["reponses"]["reference"] == reference
    # chaque référence retrouve son propre dossier
    assert consultations.nom_dossier(dossier, "2027/LYCEE/01") == nom_b
    assert consultations.nom_dossier(dossier, "2027 LYCEE 01") == nom_a
    _droits(dossier / nom_a, 0o027)


def test_web_generations_simultanees_attendent_leur_tour(tmp_path):
    from generateur.interfaces.web import consultations
    dossier = tmp_path / "consultations"
    resultats: dict[str, object] = {}

    def generer(reference: str) -> None:
        try:
            resultats[reference] = consultations.generer(dossier, _texte(reference), reference, RACINE)[1]
        except ErreurDCE as exc:  # pragma: no cover - c'est le défaut
            resultats[reference] = exc

    fils = [threading.Thread(target=generer, args=(f"WEB-{i}",)) for i in range(4)]
    for f in fils:
        f.start()
    for f in fils:
        f.join(timeout=300)
    assert {r: getattr(v, "nouvelle_version", v) for r, v in resultats.items()} == {f"WEB-{i}": "001" for i in range(4)}


def test_web_attente_bornee_puis_message_clair(tmp_path, monkeypatch):
    from generateur.interfaces.web import consultations
    dossier = tmp_path / "consultations"
    dossier.mkdir()
    monkeypatch.setattr(regeneration, "ATTENTE_WEB", 0.5)
    with regeneration.verrou(dossier):  # une régénération en lot occupe le dossier
        with pytest.raises(ErreurDCE) as erreur:
            consultations.generer(dossier, _texte("WEB-1"), "WEB-1", RACINE)
    assert "déjà en cours depuis plus de 0.5 s" in str(erreur.value) and f"processus {os.getpid()}" in str(erreur.value)
    assert not (dossier / "WEB-1").exists()


def test_web_formulaire_qui_annonce_des_milliers_d_elements_vides(tmp_path):
    """2,4 Ko qui annoncent 60 lots de 500 lignes de prix : refus clair au lieu de 30 000 lignes vides."""
    from generateur.interfaces.web import create_app
    client = create_app(RACINE, tmp_path / "consultations").test_client()
    accueil = client.get("/").get_data(as_text=True)
    jeton = re.search(r'name="_csrf" value="([^"]+)"', accueil).group(1)
    adresse = client.post("/nouvelle", data={"_csrf": jeton}).location
    ident = adresse.split("/")[2]
    donnees = {"_csrf": jeton, "action": "actualiser", "lots.__nombre": "60"}
    donnees.update({f"lots.{i}.lignes_prix.__nombre": "500" for i in range(60)})
    reponse = client.post(f"/saisie/{ident}/lots", data=donnees)
    page = reponse.get_data(as_text=True)
    assert reponse.status_code == 400 and len(page) < 100_000
    assert "Formulaire incohérent" in page and "annonce 500\u00a0éléments" in page
    brouillon = yaml.safe_load(next((tmp_path / "consultations" / ".brouillons").glob("*.yaml")).read_text())
    assert len(brouillon.get("lots") or []) <= 1


def test_ctrl_c_pendant_la_conversion_arrete_libreoffice_et_ne_laisse_rien(tmp_path, monkeypatch):
    """LibreOffice tourne dans sa propre session (Ctrl-C ne l'atteint pas) : dce l'arrête lui-même."""
    from generateur.rendu import pdf
    script = tmp_path / "soffice"
    script.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(60)\n")
    script.chmod(0o755)
    monkeypatch.setenv("DCE_SOFFICE", str(script))
    lances = []
    vrai_lancer = pdf._lancer

    def lancer(*args, **kwargs):
        lances.append(vrai_lancer(*args, **kwargs))
        return lances[-1]

    def attendre(appel, delai):
        raise KeyboardInterrupt

    monkeypatch.setattr(pdf, "_lancer", lancer)
    monkeypatch.setattr(pdf, "_attendre", attendre)
    resultat = dce("publier", ecrire(tmp_path, reponses()), "-o", tmp_path / "publication")
    assert resultat.exit_code == 130 and "aucun fichier partiellement écrit" in resultat.output
    assert lances and all(appel.processus.poll() is not None for appel in lances)
    assert not (tmp_path / "publication").exists()


def test_erreur_du_systeme_de_fichiers_en_lot_et_dans_l_assistant_web(tmp_path, monkeypatch):
    """Disque plein pendant `dce regenerer`, droits refusés dans l'assistant : la cause en français."""
    from concurrent.futures import ThreadPoolExecutor
    from generateur.interfaces.web import consultations
    dossier = tmp_path / "consultations"
    (dossier / "c1").mkdir(parents=True)
    shutil.copy(ecrire(tmp_path, reponses()), dossier / "c1" / "reponses.yaml")

    def plein(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dossier / "c1" / "versions"))

    monkeypatch.setattr(regeneration, "dossier_temporaire", plein)
    with ThreadPoolExecutor(1) as executeur:
        rapport = regeneration.regenerer(dossier, RACINE, executeur=executeur).consultations[0]
    assert rapport.erreur == f"{dossier / 'c1' / 'versions'} : accès impossible : disque plein"

    def refuse(chemin, contenu):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(chemin))

    monkeypatch.setattr(consultations, "ecrire_atomique", refuse)
    with pytest.raises(ErreurDCE) as erreur:
        consultations.generer(dossier, _texte("WEB-1"), "WEB-1", RACINE)
    assert "écriture impossible dans le dossier de consultations : droits insuffisants" in str(erreur.value)


def test_republier_retire_les_pieces_perimees_et_garde_celles_de_l_utilisateur(tmp_path, monkeypatch):
    """Un lot supprimé : son acte d'engagement et son PDF quittent la publication, qui reste décrite par sa liste."""
    from generateur.rendu import publication
    _faux_soffice(tmp_path, monkeypatch, reussir=True)
    sortie = tmp_path / "publication"
    assert dce("publier", ecrire(tmp_path, reponses()), "-o", sortie).exit_code in (0, 1)
    public = sortie / "TEST-001-DCE"
    assert {"TEST-001-AE-lot-2.docx", "TEST-001-AE-lot-2.pdf"} <= {p.name for p in public.iterdir()}
    (sortie / "TEST-001-notes.txt").write_text("à garder", encoding="utf-8")
    un_lot = reponses(lots=[{"numero": 1, "intitule": "Papier", "montant_estime": 120000}])
    assert dce("publier", ecrire(tmp_path, un_lot, "un-lot.yaml"), "-o", sortie).exit_code in (0, 1)
    noms = {p.name for p in public.iterdir()}
    assert "TEST-001-AE-lot-2.docx" not in noms and "TEST-001-AE-lot-2.pdf" not in noms
    assert "TEST-001-AE.docx" in noms and (sortie / "TEST-001-notes.txt").read_text(encoding="utf-8") == "à garder"
    assert not [p for p in sortie.iterdir() if p.name.startswith(".")]
    listees = set(publication.publies(public / "TEST-001-liste-des-pieces.csv"))
    assert listees <= noms and listees == {n for n in noms if n.endswith((".docx", ".xlsx", ".pdf"))}


@pytest.mark.parametrize("annoncee", [0, 5, 10, 11, 40, 1000])
def test_lecture_bornee_lit_tout_jusqu_a_la_borne_quelle_que_soit_la_taille_annoncee(annoncee):
    """`fichiers.lire_borne` lit à la taille annoncée par le système, puis jusqu'au bout si le flux en a davantage
    (fichier qui a grandi, tube) : le contenu entier jusqu'à la borne, un octet de plus au-delà (trop grand)."""
    import io

    from generateur.donnees.fichiers import lire_borne

    for contenu in (b"", b"0123456789", b"x" * 21, b"y" * 500):
        lu = lire_borne(io.BytesIO(contenu), annoncee, 20)
        assert lu == contenu[:21], (annoncee, len(contenu))
