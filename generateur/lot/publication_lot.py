"""Publication en lot d'un dossier de consultations (`dce publier DOSSIER`).

Chaque consultation (sous-dossier avec son reponses.yaml, comme pour `dce regenerer`) est publiée dans son
sous-dossier `publication/` (ou dans SORTIE/<consultation>/), exactement comme par `dce publier reponses.yaml` :
mêmes pièces, mêmes listes, mêmes archives. Ce qui change : LibreOffice est démarré une fois pour tout le lot (un
appel par travailleur, sur toutes les pièces de toutes les consultations), au lieu d'une fois par consultation.

Chaque consultation reste publiée tout ou rien (`fichiers.ensemble`) : ses pièces sont écrites dans un dossier en
préparation ; une consultation dont une pièce n'a pas pu être produite ou convertie est abandonnée (rien de nouveau
dans sa sortie) et figure en échec au bilan, sans empêcher les autres.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..donnees import catalogue
from ..donnees.formats import pluriel
from ..donnees.fichiers import ecrire_atomique, ensemble, erreur_systeme
from ..erreurs import ErreurDCE, Probleme
from ..rendu import pdf
from ..rendu import publication as pub
from .index import REPONSES, VERSIONS, version_courante
from .rapport_changements import lire_manifeste
from .regeneration import decouvrir, droit_enregistre

SORTIE = "publication"  # sous-dossier de la consultation où la publication est écrite (comme l'assistant web)


@dataclass
class ConsultationPubliee:
    """Ce qu'est devenue une consultation du lot : sa publication, ou l'erreur qui l'a arrêtée."""

    dossier: str
    publication: pub.Publication | None = None
    erreur: str = ""


@dataclass
class BilanPublication:
    consultations: list[ConsultationPubliee] = field(default_factory=list)
    duree: float = 0.0
    pieces_converties: int = 0

    @property
    def publiees(self) -> list[ConsultationPubliee]:
        return [c for c in self.consultations if c.publication is not None]

    @property
    def echecs(self) -> list[ConsultationPubliee]:
        return [c for c in self.consultations if c.publication is None]


def _message(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        exc = erreur_systeme(exc)
    if isinstance(exc, ErreurDCE):
        return " ; ".join(str(p) for p in exc.problemes)
    return f"erreur interne ({type(exc).__name__} : {exc})"


def _date_droit(consultation: Path, date_droit: dt.date | None) -> dt.date | None:
    """`--droit-du` s'il est donné ; sinon le droit de la version en vigueur (comme l'assistant web), à défaut
    celui de la date de lancement."""
    if date_droit is not None:
        return date_droit
    courante = version_courante(consultation)
    return droit_enregistre(lire_manifeste(consultation / VERSIONS / courante)) if courante else None


@dataclass
class _EnCours:
    resultat: ConsultationPubliee
    prep: pub.Preparation
    contexte: AbstractContextManager[Path]
    dossier: Path


def publier_lot(dossier: Path | str, sortie: Path | str | None = None, racine: Path | None = None,
                date_droit: dt.date | None = None, pdfa: bool = False, travailleurs: int | None = None,
                strict: bool = False, progression: Callable[[int, str], None] | None = None) -> BilanPublication:
    """Publie chaque consultation de `dossier` ; `sortie` : dossier commun (une publication par consultation, sous
    son chemin relatif), sinon le sous-dossier `publication/` de chaque consultation. Voir le module."""
    debut = time.perf_counter()
    dossier = Path(dossier).resolve()
    if not dossier.is_dir():
        raise ErreurDCE(Probleme("dossier de consultations introuvable", dossier))
    racine = catalogue.resoudre_racine(racine)
    pdf.soffice()  # LibreOffice absent : on le dit avant d'écrire quoi que ce soit
    consultations = decouvrir(dossier)
    if not consultations:
        raise ErreurDCE(Probleme(f"aucune consultation : chaque consultation est un sous-dossier qui contient "
                                 f"son fichier {REPONSES}", dossier))

    def etape(numero: int, message: str) -> None:
        if progression is not None:
            progression(numero, message)

    bilan = BilanPublication()
    en_cours: list[_EnCours] = []

    def abandonner(courant: _EnCours, exc: BaseException) -> None:
        courant.resultat.erreur = _message(exc)
        en_cours.remove(courant)
        try:  # rien de nouveau dans sa sortie : le dossier en préparation est retiré
            courant.contexte.__exit__(type(exc), exc, exc.__traceback__)
        except Exception:  # noqa: BLE001 - l'erreur de la consultation est déjà notée
            pass

    try:
        etape(0, f"{pub.ETAPES[0]} ({pluriel(consultations, 'consultation')})")
        for consultation in consultations:
            nom = consultation.relative_to(dossier).as_posix()
            resultat = ConsultationPubliee(nom)
            bilan.consultations.append(resultat)
            cible = Path(sortie) / nom if sortie is not None else consultation / SORTIE
            try:
                prep = pub.preparer(consultation / REPONSES, cible, racine, _date_droit(consultation, date_droit),
                                    strict)
                contexte = ensemble(prep.sortie, prep.perimes)
                prepare = contexte.__enter__()
            except Exception as exc:  # noqa: BLE001 - une consultation ne doit pas arrêter le lot
                resultat.erreur = _message(exc)
                continue
            courant = _EnCours(resultat, prep, contexte, prepare)
            en_cours.append(courant)
            try:
                pub.ecrire_sources(prep, prepare)
            except Exception as exc:  # noqa: BLE001
                abandonner(courant, exc)

        a_convertir = {p.fichier.resolve(): c for c in en_cours for p in c.prep.a_convertir}
        bilan.pieces_converties = len(a_convertir)
        etape(1, f"{pub.ETAPES[1]} ({pluriel(a_convertir, 'pièce')}, {pluriel(en_cours, 'consultation')})")
        with tempfile.TemporaryDirectory(prefix="dce-publier-lot-") as tmp:
            dates = {f: c.prep.analyse.contexte["date_lancement"] for f, c in a_convertir.items()}
            contenus, manquants = pdf.convertir_lot(dates, Path(tmp), pdfa=pdfa, travailleurs=travailleurs)
        sans_pdf: dict[int, list[Probleme]] = {}
        for probleme in manquants:  # une pièce sans PDF : sa consultation n'est pas publiée
            fichier = Path(str(probleme.fichier)).resolve()
            sans_pdf.setdefault(id(a_convertir[fichier]), []).append(Probleme(probleme.message, fichier.name))
        for courant in [c for c in en_cours if id(c) in sans_pdf]:
            abandonner(courant, ErreurDCE(sans_pdf[id(courant)]))

        etape(2, pub.ETAPES[2])
        for courant in list(en_cours):
            try:
                pdfs = {}
                for p in courant.prep.a_convertir:
                    source = p.fichier.resolve()
                    pdfs[source] = courant.dossier / ".pdf" / f"{p.fichier.stem}.pdf"
                    ecrire_atomique(pdfs[source], contenus[source], durable=False)
                pub.terminer(courant.prep, courant.dossier, pdfs)
                for reste in (courant.dossier / ".pdf").glob("*"):
                    reste.unlink()
                os.rmdir(courant.dossier / ".pdf")
            except Exception as exc:  # noqa: BLE001
                abandonner(courant, exc)
                continue
            en_cours.remove(courant)
            try:
                courant.contexte.__exit__(None, None, None)  # mise en place, d'un coup
            except Exception as exc:  # noqa: BLE001
                courant.resultat.erreur = _message(exc)
                continue
            courant.resultat.publication = pub.resultat(courant.prep)
    except BaseException as exc:  # Ctrl-C, erreur du lot : aucune consultation restante n'est laissée à moitié
        for courant in list(en_cours):
            abandonner(courant, exc)
        raise
    bilan.duree = time.perf_counter() - debut
    return bilan
