"""Fichiers joints d'une consultation en base : les fichiers que ses réponses désignent par un chemin relatif au
fichier de réponses — texte technique du CCTP d'un lot (`lots.cctp_technique`) et pièces jointes par l'acheteur
(`pieces_acheteur.fichier`).

Ils sont gardés dans la base (table `fichiers_joints` : nom, contenu, empreinte SHA-256, taille), sous le chemin
même que les réponses écrivent (« cctp/lot-1.docx ») ; pour générer, publier ou régénérer, `materialiser` les
écrit avec le fichier de réponses dans un dossier temporaire privé : les chemins se résolvent alors exactement comme
en local (`pieces/texte_technique.py`, `donnees/pieces_jointes.py`).

Règles de sûreté, celles du mode local : pas de chemin absolu, pas de « .. », pas de lien symbolique qui sort du
dossier (à l'import d'un dossier local), types autorisés seulement ; s'y ajoutent une taille maximale, un contrôle de
la signature des formats binaires (un « .pdf » commence par « %PDF- ») et des noms réservés à la disposition de
`dce regenerer`. Taille et types se règlent par l'environnement (`Limites.depuis_environnement`).
"""

from __future__ import annotations

import copy
import hashlib
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Iterator, Mapping

from sqlalchemy import select

from ..donnees import pieces_jointes
from ..donnees.fichiers import RAISONS
from ..donnees.formats import nombre
from ..erreurs import ErreurDCE, Probleme
from ..lot.index import POINTEUR, REPONSES, VERSIONS
from ..lot.regeneration import RAPPORTS
from ..pieces import texte_technique
from . import journal
from .depot import Libelles, _objet, conflit, enregistrer
from .modeles import Consultation, FichierJoint, Utilisateur, maintenant

NOTE = "consultation.txt"  # identifiant en base, écrit à côté des réponses exportées (base/echange.py)
# Noms de la disposition de `dce regenerer` : un fichier joint ne peut pas les prendre (il les écraserait à l'export).
RESERVES = frozenset({REPONSES, POINTEUR, VERSIONS, RAPPORTS, NOTE})
LONGUEUR_MAX = 300

# Réglages par défaut, modifiables par l'environnement du serveur (et des commandes `dce base`, `dce regenerer`).
TAILLE_MAX = 50 * 1024 * 1024
TYPES = (".pdf", ".docx", ".odt", ".xlsx", ".ods", ".csv", ".txt", ".md", ".markdown", ".png", ".jpg", ".jpeg",
         ".tif", ".tiff", ".dwg", ".dxf", ".ifc", ".zip")
VARIABLE_TAILLE = "DCE_FICHIERS_TAILLE_MAX_MIO"
VARIABLE_TYPES = "DCE_FICHIERS_TYPES"

# Début obligé du contenu des formats binaires : un fichier renommé (page HTML en « .pdf ») est refusé.
_ZIP = (b"PK\x03\x04",)
SIGNATURES = {".pdf": (b"%PDF-",), ".docx": _ZIP, ".xlsx": _ZIP, ".odt": _ZIP, ".ods": _ZIP,
              ".zip": _ZIP + (b"PK\x05\x06",), ".png": (b"\x89PNG\r\n\x1a\n",), ".jpg": (b"\xff\xd8\xff",),
              ".jpeg": (b"\xff\xd8\xff",), ".tif": (b"II*\x00", b"MM\x00*"), ".tiff": (b"II*\x00", b"MM\x00*")}
FORMATS = {".pdf": "PDF", ".docx": "Word", ".xlsx": "Excel", ".odt": "OpenDocument", ".ods": "OpenDocument",
           ".zip": "ZIP", ".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}


class FichierRefuse(ErreurDCE):
    """Nom, type, taille ou contenu refusé : le message dit lequel et ce qui est accepté."""


def taille_lisible(taille: int) -> str:
    """« 33,9 Kio », « 2 Mio », « 12 octets »."""
    for limite, unite in ((1024 * 1024, "Mio"), (1024, "Kio")):
        if taille >= limite:
            return f"{nombre(taille / limite, 0 if taille % limite == 0 else 1)}\u00a0{unite}"
    return f"{taille}\u00a0octets"


@dataclass(frozen=True)
class Limites:
    """Taille maximale d'un fichier joint (octets) et extensions acceptées (le texte technique du CCTP reste
    limité à Word et Markdown, 20 Mo, comme en local)."""

    taille_max: int = TAILLE_MAX
    types: tuple[str, ...] = TYPES

    @classmethod
    def depuis_environnement(cls, environ: Mapping[str, str] | None = None) -> Limites:
        """DCE_FICHIERS_TAILLE_MAX_MIO (entier, en Mio) et DCE_FICHIERS_TYPES (extensions séparées par des
        virgules ou des espaces : « pdf, docx, md ») ; absentes : les valeurs par défaut."""
        environ = os.environ if environ is None else environ
        taille, types = TAILLE_MAX, TYPES
        brut = str(environ.get(VARIABLE_TAILLE, "")).strip()
        if brut:
            if not brut.isdigit() or not 1 <= int(brut) <= 2047:
                raise ErreurDCE(Probleme(f"{VARIABLE_TAILLE} = « {brut} » : un nombre entier de Mio, de 1 à 2047"))
            taille = int(brut) * 1024 * 1024
        brut = str(environ.get(VARIABLE_TYPES, "")).strip()
        if brut:
            lus = ["." + t.strip().lstrip(".").lower() for t in brut.replace(",", " ").split()]
            mauvais = [t for t in lus if not t[1:].isalnum() or len(t) > 9]
            if mauvais:
                raise ErreurDCE(Probleme(f"{VARIABLE_TYPES} : extension illisible « {mauvais[0]} » (exemple : "
                                         "« pdf, docx, md »)"))
            types = tuple(dict.fromkeys(lus))
        return cls(taille, types)


@dataclass(frozen=True)
class Designation:
    """Un fichier désigné par les réponses : son chemin, la réponse qui le désigne, ce qu'il est."""

    nom: str
    champ: str
    quoi: str
    texte_technique: bool


def designes(reponses: Mapping[str, Any]) -> list[Designation]:
    """Les fichiers désignés par les réponses, dans l'ordre du questionnaire (lots, puis pièces jointes)."""
    trouves = []
    for i, lot in enumerate(reponses.get("lots") or []):
        if isinstance(lot, dict) and str(lot.get("cctp_technique") or "").strip():
            trouves.append(Designation(str(lot["cctp_technique"]).strip(), f"lots.{i}.cctp_technique",
                                       f"{texte_technique.LIBELLE}, lot {lot.get('numero', i + 1)}", True))
    for i, piece in enumerate(reponses.get("pieces_acheteur") or []):
        if isinstance(piece, dict) and str(piece.get("fichier") or "").strip():
            titre = " ".join(str(piece.get("titre") or "").split())
            trouves.append(Designation(str(piece["fichier"]).strip(), f"pieces_acheteur.{i}.fichier",
                                       f"Pièce jointe « {titre} »" if titre else f"Pièce jointe n° {i + 1}", False))
    return trouves


def normaliser(nom: str) -> str:
    """Le chemin relatif, écrit « a/b.pdf » ; FichierRefuse s'il est absolu, remonte (« .. »), est caché ou réservé."""
    texte = str(nom).strip()

    def refus(raison: str) -> FichierRefuse:
        return FichierRefuse(Probleme(f"« {texte} » : {raison}"))

    if not texte:
        raise FichierRefuse(Probleme("nom de fichier vide"))
    if any(ord(c) < 32 or ord(c) == 127 for c in texte):
        raise refus("caractère de contrôle dans le nom : refusé")
    if PurePosixPath(texte).is_absolute() or PureWindowsPath(texte).is_absolute() or PureWindowsPath(texte).drive:
        raise refus("chemin absolu refusé : le chemin est relatif au fichier de réponses (par exemple pieces/plan.pdf)")
    morceaux = [m for m in texte.replace("\\", "/").split("/") if m not in ("", ".")]
    if ".." in morceaux:
        raise refus("« .. » refusé : le fichier doit rester dans le dossier du fichier de réponses ou ses sous-dossiers")
    if not morceaux:
        raise refus("nom de fichier vide")
    if any(m.startswith(".") for m in morceaux):
        raise refus("nom commençant par un point (fichier caché) : refusé")
    if morceaux[0] in RESERVES or REPONSES in morceaux:
        raise refus("nom réservé au dossier de la consultation (fichier de réponses, versions, rapports) : refusé")
    propre = "/".join(morceaux)
    if len(propre) > LONGUEUR_MAX:
        raise refus(f"chemin trop long (plus de {LONGUEUR_MAX} caractères)")
    return propre


def verifier(nom: str, contenu: bytes, limites: Limites, texte_technique_du_cctp: bool = False) -> str:
    """Nom normalisé d'un fichier acceptable ; sinon FichierRefuse, message en français."""
    propre = normaliser(nom)
    extension = PurePosixPath(propre).suffix.lower()
    types = texte_technique.EXTENSIONS if texte_technique_du_cctp else limites.types
    taille_max = min(limites.taille_max, texte_technique.TAILLE_MAX) if texte_technique_du_cctp else limites.taille_max

    def refus(raison: str) -> FichierRefuse:
        return FichierRefuse(Probleme(f"« {propre} » : {raison}"))

    if extension not in types:
        quoi = "type de fichier refusé" + (f" (« {extension} »)" if extension else " (nom sans extension)")
        pour = " pour le texte technique du CCTP" if texte_technique_du_cctp else ""
        raise refus(f"{quoi} ; types acceptés{pour} : {', '.join(types)}")
    if len(contenu) > taille_max:
        pour = " pour un texte technique du CCTP" if texte_technique_du_cctp and taille_max < limites.taille_max else ""
        raise refus(f"fichier trop volumineux : au plus {taille_lisible(taille_max)} par fichier{pour}")
    if not contenu:
        raise refus("fichier vide")
    signatures = SIGNATURES.get(extension)
    if signatures and not contenu.startswith(signatures):
        raise refus(f"le contenu n'est pas celui d'un fichier {FORMATS[extension]} ({extension}) : type refusé")
    return propre


# --- en base ---------------------------------------------------------------------------------------------------

def lister(session: Any, consultation: Consultation) -> list[FichierJoint]:
    return list(session.scalars(select(FichierJoint).where(FichierJoint.consultation_id == consultation.id)
                                .order_by(FichierJoint.nom)))


def trouver(session: Any, consultation: Consultation, nom: str) -> FichierJoint | None:
    return session.scalar(select(FichierJoint).where(FichierJoint.consultation_id == consultation.id,
                                                     FichierJoint.nom == nom))


def _est_texte_technique(reponses: Mapping[str, Any], nom: str) -> bool:
    return any(d.texte_technique and cle(d.nom) == nom for d in designes(reponses))


def cle(nom: str) -> str:
    """Nom sous lequel un chemin des réponses est rangé (normalisé) ; le chemin brut s'il est refusé."""
    try:
        return normaliser(nom)
    except FichierRefuse:
        return nom


def deposer(session: Any, utilisateur: Utilisateur, consultation: Consultation, nom: str, contenu: bytes,
            limites: Limites, version_lue: int, libelles: Libelles,
            reponses: dict[str, Any] | None = None) -> FichierJoint:
    """Range (ou remplace) le fichier `nom` de la consultation ; `reponses` : les réponses qui le désignent
    (pièce ajoutée, texte technique d'un lot), enregistrées dans la même version. Rien n'est écrit si le fichier est
    refusé ou si la consultation a changé depuis `version_lue`."""
    if version_lue != consultation.numero_version:  # avant tout : rien n'est touché sur une version dépassée
        raise conflit(session, consultation, version_lue, libelles)
    donnees = copy.deepcopy(reponses if reponses is not None else consultation.reponses)
    propre = verifier(nom, contenu, limites, _est_texte_technique(donnees, cle(nom)))
    fichier = trouver(session, consultation, propre)
    remplace = fichier is not None
    if fichier is None:
        fichier = FichierJoint.de(consultation.id, propre, contenu, utilisateur.id)
        session.add(fichier)
    else:
        fichier.remplir(contenu)
        fichier.depose_par_id, fichier.depose_le = utilisateur.id, maintenant()
    # un fichier déposé change le DCE : nouvelle version des réponses (un visa donné avant ne le couvre pas ; une
    # page restée ouverte ailleurs est avertie), sous le même verrou optimiste qu'un enregistrement
    enregistrer(session, utilisateur, consultation, donnees, version_lue, libelles, action="fichier")
    journal.noter(session, utilisateur.identifiant, "fichier_depose", _objet(consultation),
                  f"{propre} ({'remplacé, ' if remplace else ''}{len(contenu)} octets, SHA-256 {fichier.empreinte[:12]}…), "
                  f"version {consultation.numero_version}")
    return fichier


def retirer(session: Any, utilisateur: Utilisateur, consultation: Consultation, nom: str, version_lue: int,
            libelles: Libelles) -> None:
    """Retire un fichier joint (les réponses qui le désignent restent : la fiche le signale alors manquant)."""
    if version_lue != consultation.numero_version:
        raise conflit(session, consultation, version_lue, libelles)
    fichier = trouver(session, consultation, nom)
    if fichier is None:
        raise ErreurDCE(Probleme(f"« {nom} » : aucun fichier de ce nom dans la consultation"))
    session.delete(fichier)
    enregistrer(session, utilisateur, consultation, copy.deepcopy(consultation.reponses), version_lue, libelles,
                action="fichier")
    journal.noter(session, utilisateur.identifiant, "fichier_retire", _objet(consultation),
                  f"{nom}, version {consultation.numero_version}")


def manquants(session: Any, consultation: Consultation) -> list[Designation]:
    """Fichiers désignés par les réponses en cours qui ne sont pas dans la base."""
    presents = {f.nom for f in lister(session, consultation)}
    return [d for d in designes(consultation.reponses) if cle(d.nom) not in presents]


# --- sur disque ------------------------------------------------------------------------------------------------

def ecrire(dossier: Path, fichiers: list[FichierJoint]) -> None:
    """Écrit les fichiers joints sous leur chemin relatif dans `dossier` (neuf ou d'export) ; chaque nom est
    re-vérifié, aucun lien n'est suivi (O_NOFOLLOW, O_EXCL) : rien ne s'écrit hors du dossier."""
    for f in fichiers:
        propre = normaliser(f.nom)
        if hashlib.sha256(f.contenu).hexdigest() != f.empreinte:
            raise ErreurDCE(Probleme(f"fichier joint altéré : {f.nom} (empreinte différente de celle enregistrée)"))
        chemin = dossier.joinpath(*propre.split("/"))
        try:
            chemin.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not chemin.parent.resolve().is_relative_to(dossier.resolve()):
                raise ErreurDCE(Probleme(f"« {f.nom} » : dossier hors du dossier de la consultation"))
            descripteur = os.open(chemin, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
            with os.fdopen(descripteur, "wb") as sortie:
                sortie.write(f.contenu)
        except OSError as exc:
            raise ErreurDCE(Probleme(f"« {f.nom} » : écriture impossible "
                                     f"({RAISONS.get(exc.errno or 0, exc.strerror or type(exc).__name__)})")) from None


@contextmanager
def materialiser(texte_reponses: str, fichiers: list[FichierJoint]) -> Iterator[Path]:
    """Le fichier de réponses et ses fichiers joints dans un dossier temporaire privé (droits 700, effacé à la
    sortie) : chemin du fichier de réponses, dont les chemins relatifs se résolvent comme en local. Une erreur
    levée dedans nomme le fichier par ce qu'il est dans la consultation (« fichier de réponses, ligne 9 »,
    « fichier joint « cctp/lot-1.docx » »), pas par le dossier temporaire."""
    dossier = Path(tempfile.mkdtemp(prefix="dce-equipe-"))  # 0700 : invisible des autres comptes
    try:
        fichier = dossier / REPONSES
        fichier.write_text(texte_reponses, encoding="utf-8")
        ecrire(dossier, fichiers)
        yield fichier
    except ErreurDCE as exc:
        for probleme in exc.problemes:
            for base in (dossier, dossier.resolve()):
                if probleme.fichier and Path(probleme.fichier).is_relative_to(base):
                    relatif = Path(probleme.fichier).relative_to(base).as_posix()
                    probleme.fichier = "fichier de réponses" if relatif == REPONSES else f"fichier joint « {relatif} »"
        exc.args = ("\n".join(str(p) for p in exc.problemes),)
        raise
    finally:
        shutil.rmtree(dossier, ignore_errors=True)


def lire_du_dossier(dossier: Path, reponses: Mapping[str, Any],
                    limites: Limites) -> tuple[dict[str, bytes], list[str], list[str]]:
    """Import d'un dossier local : les fichiers que désignent les réponses, lus à côté du fichier de réponses avec
    les règles du mode local (`pieces_jointes.chemin_confine` : ni chemin absolu, ni « .. », ni lien qui sort du
    dossier) puis celles de la base. ({nom: contenu}, refus, manquants)."""
    lus: dict[str, bytes] = {}
    refus: list[str] = []
    absents: list[str] = []
    for d in designes(reponses):
        chemin = pieces_jointes.chemin_confine(dossier, d.nom)
        if chemin == "fichier introuvable":
            absents.append(f"{d.quoi} : « {d.nom} » introuvable")
            continue
        if isinstance(chemin, str):
            refus.append(f"{d.quoi} : « {d.nom} » : {chemin}")
            continue
        try:
            if not chemin.is_file():
                raise FichierRefuse(Probleme(f"« {d.nom} » : ce n'est pas un fichier"))
            if chemin.stat().st_size > limites.taille_max:
                raise FichierRefuse(Probleme(f"« {d.nom} » : fichier trop volumineux "
                                             f"({taille_lisible(chemin.stat().st_size)}) : au plus "
                                             f"{taille_lisible(limites.taille_max)} par fichier"))
            contenu = chemin.read_bytes()
            lus[verifier(d.nom, contenu, limites, d.texte_technique)] = contenu
        except FichierRefuse as exc:
            refus.append(f"{d.quoi} : {exc.problemes[0]}")
        except OSError as exc:
            refus.append(f"{d.quoi} : « {d.nom} » illisible ({RAISONS.get(exc.errno or 0, exc.strerror or '')})")
    return lus, refus, absents
