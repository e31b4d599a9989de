"""Les pièces que l'acheteur joint au dossier de consultation (réponse « pieces_acheteur ») : leurs fichiers,
lus à côté du fichier de réponses.

Règle de sûreté : le chemin d'une pièce reste confiné au dossier du fichier de réponses. Un chemin absolu, un
« .. » ou un lien symbolique qui mène hors de ce dossier est refusé, comme un fichier absent ou illisible :
message avec le libellé du questionnaire, rien n'est écrit.
"""

from __future__ import annotations

import importlib.util
import os
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from ..erreurs import ErreurDonnees, Probleme
from . import cache
from .fichiers import RAISONS, chemin_reel_sous, nom_sur
from .questionnaire import Questionnaire

# Taille maximale d'une pièce jointe : un plan scanné dépasse rarement quelques dizaines de Mio.
TAILLE_MAX = 200 * 1024 * 1024


@dataclass
class PieceJointe:
    """Une pièce de l'acheteur, lue : son titre, sa nature, son lot, son nom dans le dossier publié et son contenu."""

    titre: str
    nature: str
    lot: int | None
    source: Path
    nom: str
    contenu: bytes


def sans_accents(texte: str) -> str:
    """« Plan de l'été » → « Plan de l'ete » : un nom de fichier lisible partout (zip, profils d'acheteur)."""
    return "".join(c for c in unicodedata.normalize("NFKD", texte) if not unicodedata.combining(c))


def nom_publie(fichier: str, base: str) -> str:
    """Nom de la pièce dans le dossier publié : « REF-pièce-plans-niveau-1.pdf »."""
    chemin = PurePosixPath(fichier.replace("\\", "/"))
    suffixe = chemin.suffix.lower() if re.fullmatch(r"\.[a-z0-9]{1,8}", chemin.suffix.lower()) else ""
    return f"{base}-piece-{nom_sur(sans_accents(chemin.stem))}{suffixe}"


def chemin_confine(dossier: Path, fichier: str) -> Path | str:
    """Le fichier désigné, s'il reste dans `dossier` ; sinon la raison du refus (texte)."""
    texte = str(fichier).strip()
    if not texte:
        return "chemin vide"
    if PurePosixPath(texte).is_absolute() or PureWindowsPath(texte).is_absolute() or PureWindowsPath(texte).drive:
        return "chemin absolu refusé : le chemin est relatif au dossier du fichier de réponses"
    morceaux = texte.replace("\\", "/").split("/")
    if ".." in morceaux:
        return "« .. » refusé : la pièce doit se trouver dans le dossier du fichier de réponses ou ses sous-dossiers"
    racine = dossier.resolve()
    try:
        reel = chemin_reel_sous(racine, Path(*[m for m in morceaux if m not in ("", ".")]), strict=True)
    except FileNotFoundError:
        return "fichier introuvable"
    except (OSError, RuntimeError) as exc:
        return RAISONS.get(getattr(exc, "errno", 0) or 0, "chemin illisible")
    if not reel.is_relative_to(racine):
        return "lien symbolique vers un fichier hors du dossier du fichier de réponses : refusé"
    return reel


def lire(donnees: dict[str, Any], fichier_reponses: Path | str, questionnaire: Questionnaire, base: str,
         ligne: Any = None) -> list[PieceJointe]:
    """Lit les fichiers des pièces jointes ; tous les problèmes à la fois, avec le libellé des questions.

    `ligne` : fonction chemin de réponse → numéro de ligne dans le fichier de réponses."""
    dossier = Path(fichier_reponses).parent
    pieces: list[PieceJointe] = []
    problemes: list[Probleme] = []
    noms: dict[str, str] = {}
    question = questionnaire.question("pieces_acheteur")
    titre_question = f"{question.libelle} — " if question else ""
    for i, p in enumerate(donnees.get("pieces_acheteur") or []):
        champ = f"pieces_acheteur.{i}.fichier"

        def pb(message: str) -> None:
            problemes.append(Probleme(f"« {p.get('fichier')} » : {message}", fichier_reponses,
                                      ligne(champ) if ligne else None, champ,
                                      titre_question + questionnaire.libelle(champ)))

        chemin = chemin_confine(dossier, str(p.get("fichier") or ""))
        if isinstance(chemin, str):
            pb(chemin)
            continue
        if not chemin.is_file():
            pb("ce n'est pas un fichier")
            continue
        try:
            if chemin.stat().st_size > TAILLE_MAX:
                pb(f"fichier trop volumineux (plus de {TAILLE_MAX // (1024 * 1024)} Mio)")
                continue
            with open(chemin, "rb") as f:
                contenu = f.read()
        except OSError as exc:
            pb(f"fichier illisible ({RAISONS.get(exc.errno or 0, exc.strerror or type(exc).__name__)})")
            continue
        nom = nom_publie(str(p["fichier"]), base)
        if nom in noms:
            pb(f"deux pièces seraient publiées sous le même nom « {nom} » (avec « {noms[nom]} ») : renommer l'un des fichiers")
            continue
        noms[nom] = str(p["fichier"])
        pieces.append(PieceJointe(str(p["titre"]), str(p["nature"]), p.get("lot"), chemin, nom, contenu))
    if problemes:
        raise ErreurDonnees(problemes)
    return pieces


# Formats dont le texte d'une pièce jointe peut être lu, pour les contrôles qui la comparent aux pièces produites.
FORMATS_TEXTE = (".pdf", ".docx", ".md", ".txt", ".csv")


def texte(fichier_reponses: Path | str, fichier: str) -> str | None:
    """Texte d'une pièce jointe (PDF, Word, Markdown, texte), espaces normalisés ; None si le fichier est absent,
    hors du dossier, dans un autre format ou sans texte lisible (PDF scanné)."""
    chemin = chemin_confine(Path(fichier_reponses).parent, fichier)
    if isinstance(chemin, str) or chemin.suffix.lower() not in FORMATS_TEXTE or not chemin.is_file():
        return None
    suffixe = chemin.suffix.lower()
    try:
        contenu = chemin.read_bytes()
        # texte gardé dans le cache disque sous l'empreinte du contenu et du code qui le lit : pypdf (long à importer
        # et à lire) ne sert qu'une fois par document
        brut = cache.texte("pieces-jointes", cache.empreinte(suffixe, contenu, _version_lecture()),
                           lambda: _lire(chemin, suffixe))
    except Exception:  # pièce illisible : le contrôle le dit (« texte non lu »), la génération continue
        return None
    return brut or None


def _lire(chemin: Path, suffixe: str) -> str:
    if suffixe == ".pdf":
        from pypdf import PdfReader

        brut = " ".join(page.extract_text() or "" for page in PdfReader(str(chemin)).pages)
    elif suffixe == ".docx":
        from docx import Document

        document = Document(str(chemin))
        brut = " ".join([p.text for p in document.paragraphs]
                        + [c.text for t in document.tables for r in t.rows for c in r.cells])
    else:
        brut = chemin.read_text(encoding="utf-8", errors="replace")
    return " ".join(brut.split())


@lru_cache(maxsize=1)
def _version_lecture() -> bytes:
    """Ce qui change le texte lu d'un même fichier : ce module, pypdf et python-docx (versions lues sans les importer)."""
    parties = [Path(__file__).read_bytes()]
    for paquet, fichier in (("pypdf", "_version.py"), ("docx", "__init__.py")):
        spec = importlib.util.find_spec(paquet)
        origine = Path(spec.origin).parent / fichier if spec and spec.origin else None
        parties.append(origine.read_bytes() if origine and origine.is_file() else b"")
    return b"\0".join(parties)


def existe(fichier_reponses: Path | str, fichier: str) -> bool:
    """Le fichier d'une pièce est-il présent et confiné (pour l'assistant web, sans lever d'erreur) ?"""
    chemin = chemin_confine(Path(fichier_reponses).parent, fichier)
    return not isinstance(chemin, str) and chemin.is_file() and os.access(chemin, os.R_OK)
