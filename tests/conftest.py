"""Outils communs des tests : générer une consultation et relire ses documents comme un acheteur."""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml
from docx import Document

RACINE = Path(__file__).resolve().parent.parent
EXEMPLES = RACINE / "exemples"

BASE: dict[str, Any] = {
    "acheteur": "occitanie",
    "reference": "TEST-001",
    "objet": "Fourniture de fournitures de bureau pour les services de la Région",
    "nature": "fournitures",
    "categorie": "fournitures_bureau",
    "cpv": "30192000-1",
    "date_lancement": "2026-12-01",
    "date_limite_offres": "2027-01-15 12:00",
    "duree_mois": 24,
    "lots": [
        {"numero": 1, "intitule": "Papier", "montant_estime": 120000},
        {"numero": 2, "intitule": "Petites fournitures", "montant_estime": 60000},
    ],
    "criteres": [
        {"intitule": "Prix", "ponderation": 60, "type": "prix"},
        {"intitule": "Performance environnementale", "ponderation": 40, "type": "environnemental"},
    ],
}


def appels_comptes(monkeypatch: Any, tmp_path: Path, module: Any, nom: str,
                   note: Callable[..., Any] = lambda *a, **k: 1) -> list[Any]:
    """Cache de dce dans tmp_path, et `module.nom` remplacé par lui-même qui note chaque appel (`note(*args)`) dans la
    liste rendue : ce qui est calculé, et non relu d'une mémoire."""
    monkeypatch.setenv("DCE_CACHE", str(tmp_path / "cache"))
    appels: list[Any] = []
    fonction = getattr(module, nom)

    def notee(*args: Any, **kwargs: Any) -> Any:
        appels.append(note(*args, **kwargs))
        return fonction(*args, **kwargs)

    monkeypatch.setattr(module, nom, notee)
    return appels


def reponses(**modifs: Any) -> dict[str, Any]:
    """Réponses de base modifiées ; `spaser={'insertion': {...}}` etc. remplacent la clé entière."""
    donnees = copy.deepcopy(BASE)
    donnees.update(copy.deepcopy(modifs))
    return donnees


# Dossiers des fichiers que les exemples désignent par un chemin relatif (textes techniques du CCTP, pièces jointes) :
# une copie d'un exemple hors de exemples/ les emporte avec elle.
DOSSIERS_DES_EXEMPLES = ("cctp", "pieces")


def joindre_pieces_des_exemples(dossier: Path) -> None:
    """Copie dans `dossier` les fichiers auxquels renvoient les exemples (chemins relatifs au fichier de réponses)."""
    for nom in DOSSIERS_DES_EXEMPLES:
        if (EXEMPLES / nom).is_dir():
            shutil.copytree(EXEMPLES / nom, dossier / nom, dirs_exist_ok=True)


def reponses_seules(exemple: str) -> bytes:
    """Les réponses d'un exemple telles qu'un navigateur les envoie, seules : sans les lignes « cctp_technique: »
    qui désignent des fichiers restés sur le disque (le texte technique se téléverse à part)."""
    texte = (EXEMPLES / exemple).read_text(encoding="utf-8")
    return "".join(l for l in texte.splitlines(True) if "cctp_technique:" not in l).encode("utf-8")


def copier_exemple(exemple: Path, destination: Path) -> Path:
    """Copie d'un exemple (fichier de réponses et fichiers qu'il désigne) ; renvoie le fichier copié."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(exemple, destination)
    joindre_pieces_des_exemples(destination.parent)
    return destination


def ecrire(tmp_path: Path, donnees: dict[str, Any], nom: str = "reponses.yaml") -> Path:
    chemin = tmp_path / nom
    texte = yaml.safe_dump(donnees, allow_unicode=True, sort_keys=False)
    if any(f"{dossier}/" in texte for dossier in DOSSIERS_DES_EXEMPLES):  # réponses tirées d'un exemple
        joindre_pieces_des_exemples(tmp_path)
    chemin.write_text(texte, encoding="utf-8")
    return chemin


class Lu:
    """Un document généré relu avec python-docx."""

    def __init__(self, chemin: Path):
        self.chemin = chemin
        self.doc = Document(str(chemin))
        self.paragraphes = [(p.style.name if p.style is not None else "", p.text) for p in self.doc.paragraphs]
        self.texte = "\n".join(t for _, t in self.paragraphes)
        self.tableaux = [[[c.text for c in r.cells] for r in t.rows] for t in self.doc.tables]
        self.tout = self.texte + "\n" + "\n".join(" | ".join(l) for t in self.tableaux for l in t)

    def puces_apres(self, debut: str, normaliser: Callable[[str], str] = lambda t: t) -> list[str]:
        """Éléments de la première liste à puces qui suit le paragraphe commençant par `debut` (textes normalisés,
        sans la ponctuation finale « ; » ou « . »)."""
        paragraphes = [(s, normaliser(t)) for s, t in self.paragraphes]
        i = next(i for i, (_, t) in enumerate(paragraphes) if t.startswith(debut))
        puces: list[str] = []
        for style, texte in paragraphes[i + 1:]:
            if style != "List Bullet":
                if puces:
                    break
                continue
            puces.append(texte.rstrip(" ;."))
        return puces

    def titres(self, niveau: int) -> list[str]:
        return [t for s, t in self.paragraphes if s.lower() == f"heading {niveau}"]

    def article(self, debut: str) -> str:
        """Numéro « 6.2 » du sous-article dont le titre contient `debut`."""
        for t in self.titres(2) + self.titres(1):
            m = re.match(r"^(?:Article )?(\d+(?:\.\d+)?)\s*– (.*)$", t)
            if m and debut.lower() in m.group(2).lower():
                return m.group(1)
        raise AssertionError(f"aucun article « {debut} » ; titres : {self.titres(1) + self.titres(2)}")


@pytest.fixture
def generer(tmp_path: Path):
    """generer(donnees) → dict document → Lu, et le résultat brut."""
    from generateur.rendu.generation import generer as generer_dce

    def _generer(donnees: dict[str, Any], **options: Any):
        fichier = ecrire(tmp_path, donnees)
        resultat = generer_dce(fichier, tmp_path / "sortie", RACINE, **options)
        lus = {}
        for nom, chemin in resultat.fichiers.items():
            if nom.endswith(".docx"):
                cle = nom.rsplit("-", 1)[1].removesuffix(".docx")
                lus[cle] = Lu(chemin)
        return lus, resultat

    return _generer


# Exemples dont chaque lot a son texte technique (question « Texte technique du CCTP ») : les tests de la pièce
# « Exigences environnementales et sociales », qui n'existe que sans lui, portent sur une copie sans ce texte.
EXEMPLES_AVEC_TEXTE_TECHNIQUE = ("nettoyage-hotel-region", "amp-espaces-verts", "restauration-lycees")


def sans_texte_technique(exemple: str, dossier: Path) -> Path:
    """Copie, dans `dossier`, des réponses de l'exemple sans le texte technique du CCTP d'aucun lot (pièces jointes
    par l'acheteur comprises) ; renvoie le fichier de réponses écrit."""
    donnees = yaml.safe_load((EXEMPLES / f"{exemple}.yaml").read_text(encoding="utf-8"))
    assert all(lot.get("cctp_technique") for lot in donnees["lots"]), exemple  # sinon la copie ne changerait rien
    for lot in donnees["lots"]:
        del lot["cctp_technique"]
    dossier.mkdir(parents=True, exist_ok=True)
    return ecrire(dossier, donnees, f"{exemple}.yaml")


@pytest.fixture(scope="session")
def exemples_sans_texte_technique(tmp_path_factory) -> dict[str, dict[str, Path]]:
    """Les exemples de services et de fournitures générés une fois pour la session sans leur texte technique."""
    from generateur.rendu.generation import generer as generer_dce

    sortie = tmp_path_factory.mktemp("sans-texte-technique")
    return {nom: generer_dce(sans_texte_technique(nom, sortie / nom), sortie / nom / "sortie", RACINE).fichiers
            for nom in EXEMPLES_AVEC_TEXTE_TECHNIQUE}


@pytest.fixture(scope="session")
def exemples_generes(tmp_path_factory) -> dict[str, dict[str, Path]]:
    """Chaque exemple généré une fois pour toute la session."""
    from generateur.rendu.generation import generer as generer_dce

    sortie = tmp_path_factory.mktemp("exemples")
    resultats = {}
    for fichier in sorted(EXEMPLES.glob("*.yaml")):
        resultat = generer_dce(fichier, sortie / fichier.stem, RACINE)
        resultats[fichier.stem] = resultat.fichiers
    return resultats


def soffice() -> str | None:
    """Chemin de LibreOffice ; sous CI=true son absence est une erreur, pas un saut."""
    chemin = shutil.which("soffice") or shutil.which("libreoffice")
    if chemin is None and os.environ.get("CI") == "true":
        pytest.fail("LibreOffice est requis en intégration continue (CI=true) : .ci/run doit l'installer")
    return chemin


def convertir_pdf(fichiers: list[Path], dossier: Path, profil: Path) -> None:
    subprocess.run(
        [soffice() or "soffice", f"-env:UserInstallation=file://{profil}", "--headless", "--convert-to", "pdf",
         "--outdir", str(dossier), *map(str, fichiers)],
        check=True, capture_output=True, timeout=300,
    )


# --- PostgreSQL jetable pour les tests du serveur d'équipe ---------------------------------------------------

def _binaires_postgresql() -> Path | None:
    """Dossier de initdb/postgres (paquets Debian : /usr/lib/postgresql/NN/bin), le plus récent."""
    import glob

    trouves = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda c: int(c.split("/")[4]))
    if trouves:
        return Path(trouves[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@pytest.fixture(scope="session")
def postgresql_serveur(tmp_path_factory):
    """Un cluster PostgreSQL jetable (initdb dans un dossier temporaire) sur un port libre de 127.0.0.1.

    Lancé sous l'utilisateur « postgres » si les tests tournent en root (PostgreSQL refuse root). Absent : tests
    ignorés sur un poste, échec sous CI=true (`make tests` l'installe)."""
    import socket
    import time

    binaires = _binaires_postgresql()
    if binaires is None:
        message = "PostgreSQL absent (paquet Debian « postgresql »)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " : requis en intégration continue (CI=true), `make tests` doit l'installer")
        pytest.skip(message)
    import tempfile

    dossier = Path(tempfile.mkdtemp(prefix="dce-postgresql-"))  # hors du dossier de pytest, fermé aux autres comptes
    donnees, prise = dossier / "donnees", dossier / "prise"
    prise.mkdir()
    prefixe: list[str] = []
    if os.geteuid() == 0:
        import pwd

        try:
            compte = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("tests lancés en root sans utilisateur « postgres » pour faire tourner PostgreSQL")
        for chemin in (dossier, prise):
            os.chown(chemin, compte.pw_uid, compte.pw_gid)
        prefixe = ["setpriv", f"--reuid={compte.pw_uid}", f"--regid={compte.pw_gid}", "--clear-groups", "--"]
    journal = open(dossier / "postgresql.log", "wb")
    subprocess.run(prefixe + [str(binaires / "initdb"), "-D", str(donnees), "-U", "dce", "--auth=trust",
                              "--encoding=UTF8", "--locale=C.UTF-8"], check=True, capture_output=True, timeout=120)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    processus = subprocess.Popen(prefixe + [str(binaires / "postgres"), "-D", str(donnees), "-p", str(port),
                                            "-h", "127.0.0.1", "-k", str(prise), "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                                            "-c", "max_connections=200"],
                                 stdout=journal, stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if processus.poll() is not None:
                pytest.fail("PostgreSQL n'a pas démarré : " + (dossier / "postgresql.log").read_text(errors="replace"))
            time.sleep(0.1)
        time.sleep(0.3)
        yield f"postgresql://dce@127.0.0.1:{port}"
    finally:
        import signal

        processus.send_signal(signal.SIGQUIT)  # arrêt immédiat : le cluster est jetable
        processus.wait(timeout=30)
        journal.close()
        shutil.rmtree(dossier, ignore_errors=True)


_BASES = iter(range(1, 10**6))


@pytest.fixture(params=["sqlite", "postgresql"])
def url_base(request, tmp_path):
    """Adresse d'une base vide : SQLite dans un dossier temporaire, puis une base neuve du PostgreSQL jetable."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'dce.sqlite'}"
    serveur = request.getfixturevalue("postgresql_serveur")
    import psycopg

    nom = f"essai{next(_BASES)}"
    with psycopg.connect(serveur + "/postgres", autocommit=True) as c:
        c.execute(f"CREATE DATABASE {nom}")
    return f"{serveur}/{nom}"
