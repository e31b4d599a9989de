"""Régénération en lot d'un dossier de consultations après un changement du catalogue.

Un dossier de consultations contient un sous-dossier par consultation :

    consultations/
      .dce-regeneration.verrou        verrou du lot (filelock : tenu par le processus principal, libéré à sa mort)
      lycee-riquet/
        reponses.yaml                 fichier de réponses de l'acheteur
        courante                      numéro de la version en vigueur (« 002 »), remplacé atomiquement
        versions/001/, versions/002/  chaque version : les fichiers de `dce generer`, manifeste compris
      rapports/AAAA-MM-JJ-HHMMSS/     synthèse du lot (docx, CSV, JSON) et documents des modifications

Chaque consultation est produite par `generation.produire_dce` (comme `dce generer`) dans un dossier
temporaire, puis ce dossier est renommé en `versions/NNN` et le pointeur `courante` remplacé : un arrêt
brutal laisse chaque consultation entière, à sa version précédente ou à la nouvelle. Une consultation dont les documents
ne changent pas ne reçoit pas de nouvelle version.

Le lot s'exécute sur tout exécuteur de type `concurrent.futures` : processus locaux par défaut, ou
`distributed.Client(...).get_executor()` pour un cluster Dask (les chemins doivent alors être
visibles des machines de calcul).
"""

from __future__ import annotations

import ctypes
import datetime as dt
import hashlib
import multiprocessing
import os
import pickle
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator

from filelock import FileLock, Timeout
from tqdm import tqdm

from .. import __version__
from ..donnees import acheteurs, cache, catalogue, questionnaire
from . import index, redline
from .index import POINTEUR, REPONSES, VERSIONS, version_courante
from ..donnees.fichiers import barriere, dossier_temporaire, ecrire_atomique, erreur_systeme, fsync_dossier
from ..erreurs import ErreurDCE, Probleme
from ..rendu.generation import ecrire, produire_dce
from ..donnees.fichiers import nom_sur
from .rapport_changements import (
    A_JOUR,
    ECHEC,
    MISE_EN_FORME,
    MODIFIEE,
    NON_CONCERNEE,
    NOUVELLE,
    RapportConsultation,
    comparer,
    ecrire_synthese,
    empreintes_documents,
    empreintes_produites,
    fichiers_generes,
    lire_manifeste,
    manifeste_produit,
)
from ..droit.expressions import ErreursJinja, chemins_utilises, modele_clause
from ..droit.regles import en_json
from ..pieces import croises, markdown_, relecture
from ..pieces.assemblage import version_du_code
from ..pieces.tracabilite import entrees, sources_du_lot

RAPPORTS = "rapports"
VERROU = ".dce-regeneration.verrou"
TEMPORAIRE = ".nouvelle-"


@dataclass(frozen=True)
class Tache:
    """Ce qu'un processus de calcul reçoit pour une consultation (objet simple, sérialisable)."""

    dossier: str
    nom: str
    racine: str
    rapport: str
    etat_catalogue: str
    simulation: bool = False
    seulement_impactees: bool = False
    garder_textes: bool = False
    # documents des modifications écrits sans fsync : une barrière à venir les couvre (celle de la fin du lot pour les
    # processus de cette machine, celle de la fin du groupe sur un exécuteur fourni, voir `traiter_groupe`)
    locale: bool = False
    # numéro désigné par le pointeur au début du lot (« » : jamais générée ; None : non relevé) ; si un essai perdu
    # de ce lot (processus de calcul tué après la publication) a déjà publié la nouvelle version, le rapport compare
    # quand même à celle-ci, et la version publiée n'est pas publiée une seconde fois (voir `_traiter`)
    depart: str | None = None


@dataclass
class Bilan:
    """Résultat d'un lot : une entrée par consultation, dans l'ordre des dossiers, et les fichiers du rapport."""

    consultations: list[RapportConsultation]
    dossier_rapport: Path
    fichiers: dict[str, Path] = field(default_factory=dict)
    duree: float = 0.0

    def avec_statut(self, statut: str) -> list[RapportConsultation]:
        return [r for r in self.consultations if r.statut == statut]

    @property
    def echecs(self) -> list[RapportConsultation]:
        return self.avec_statut(ECHEC)


# -- dossier de consultations -------------------------------------------------------------------------

def decouvrir(dossier: Path) -> list[Path]:
    """Sous-dossiers (à toute profondeur) qui contiennent un fichier de réponses, triés."""
    trouves = []
    for courant, sous, fichiers in os.walk(dossier):
        sous[:] = sorted(s for s in sous if not s.startswith(".") and s not in (VERSIONS, RAPPORTS))
        if REPONSES in fichiers:
            trouves.append(Path(courant))
    return sorted(trouves)


def _suivante(consultation: Path) -> str:
    """Numéro de la prochaine version : après la plus haute existante, jamais un numéro déjà pris (même si le
    pointeur a été ramené à la main sur une version antérieure)."""
    numeros = [int(p.name) for p in (consultation / VERSIONS).glob("[0-9]*") if p.name.isdigit()]
    return f"{max(numeros, default=0) + 1:03d}"


# Marque (à côté des versions) d'une version renommée en versions/NNN mais pas encore désignée par le pointeur :
# si le lot est tué entre les deux, la relance la reconnaît comme un reste et la retire ; une version qui a été
# désignée une fois (sans marque) n'est jamais retirée, même si le pointeur est ramené en arrière à la main.
EN_COURS = ".non-designee-"


def publier(consultation: Path, temporaire: Path, numero: str) -> None:
    """Tout ou rien : le dossier complet devient versions/NNN, puis le pointeur le désigne.

    Les fichiers de la version, la marque et le futur pointeur sont écrits sans fsync, puis rendus durables ensemble
    par une seule barrière (`fichiers.barriere`) avant le renommage ; deux synchronisations de dossier rendent
    ensuite durables, dans l'ordre, le renommage puis le remplacement du pointeur."""
    versions = consultation / VERSIONS
    marque = versions / f"{EN_COURS}{numero}"
    # marque et futur pointeur écrits directement : leurs noms sont eux-mêmes provisoires (un reste à moitié écrit est
    # retiré par `_nettoyer`, sans nom temporaire de plus à retrouver) ; ils sont prêts avant la barrière
    marque.write_bytes(b"")
    pointeur = versions / f"{TEMPORAIRE}{POINTEUR}-{numero}"
    try:
        pointeur.write_bytes(f"{numero}\n".encode("ascii"))
        barriere(consultation)
        os.rename(temporaire, versions / numero)
        fsync_dossier(versions)
        os.replace(pointeur, consultation / POINTEUR)
        fsync_dossier(consultation)
    finally:
        pointeur.unlink(missing_ok=True)
    marque.unlink()


ATTENTE_WEB = 300.0  # secondes : une génération de l'assistant web attend son tour au plus ce temps


@contextmanager
def verrou(dossier: Path, attente: float = 0) -> Iterator[None]:
    """Une régénération à la fois par dossier de consultations.

    Verrou `filelock` (flock sous Unix, msvcrt sous Windows) tenu par le processus qui le prend : le système le
    libère à la mort de ce processus, même tué par `kill -9`, et les processus de calcul créés ensuite ne
    l'héritent pas. `attente` : secondes pendant lesquelles attendre son tour (0 : refus immédiat).
    """
    chemin = dossier / VERROU
    qui = dossier / f"{VERROU}.qui"
    try:
        with FileLock(chemin, timeout=attente):
            ecrire_atomique(qui, f"processus {os.getpid()}, lancé le {dt.datetime.now():%d/%m/%Y à %H:%M:%S}\n"
                            .encode("utf-8"))
            yield
    except Timeout:
        try:
            occupant = qui.read_text(encoding="utf-8").strip()
        except OSError:
            occupant = "autre processus"
        attendu = f" depuis plus de {attente:g} s" if attente else ""
        raise ErreurDCE(Probleme(f"une régénération de ce dossier est déjà en cours{attendu} ({occupant}) ; attendre "
                                 "sa fin avant d'en lancer une autre", chemin)) from None


def _mourir_avec(principal: int) -> None:
    """Initialisation d'un processus de calcul : il meurt avec le processus principal du lot.

    Sous Linux, le noyau lui envoie SIGKILL à la mort de son parent (prctl PR_SET_PDEATHSIG) ; sur les autres
    Unix, un fil surveille le parent ; sous Windows, le processus de calcul s'arrête de lui-même quand le tube
    qui le relie au principal se ferme. Sans cela, un `kill -9` du seul processus principal laisserait les
    calculs continuer et écrire des versions pendant une relance. Le processus ne sert que ce lot : ce qui survit à
    chaque consultation est gelé pour le ramasse-miettes (`cache.geler_survivants`).
    """
    global _RENDRE
    cache.geler_survivants()  # processus voué à ce lot, arrêté avec lui
    if os.name != "posix":
        return
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
        _RENDRE = getattr(libc, "malloc_trim", None)  # glibc (musl n'en a pas)
    else:
        def surveiller() -> None:
            while os.getppid() == parent:
                time.sleep(0.5)
            os._exit(1)

        threading.Thread(target=surveiller, daemon=True).start()
    if os.getppid() != parent or not _vivant(principal):  # principal mort avant la mise en place
        os._exit(1)


# `malloc_trim` de glibc dans un processus de calcul du lot (`_mourir_avec`), appelé à la fin de chaque groupe de
# consultations (`_traiter_en_chevauchant`) : les pages libres du tas de glibc (parties des documents Word, textes des
# consultations libérés à leur fin) sont rendues au système au lieu de rester comptées dans la mémoire du processus
# jusqu'à la fin du lot. Rien de ce qui est calculé ne change.
_RENDRE: Any = None


def _vivant(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


# -- ce qui concerne une consultation -------------------------------------------------------------------

CATALOGUE = ("catalogue.yaml", "questionnaire.yaml", "clauses", "modeles", "acheteurs")


def empreinte_catalogue(racine: Path) -> str:
    """Empreinte des fichiers du catalogue : un processus de calcul qui l'a déjà chargé sait s'il doit le relire."""
    h = hashlib.sha256()
    for nom in CATALOGUE:
        chemin = racine / nom
        for fichier in sorted([chemin] if chemin.is_file() else (p for p in chemin.rglob("*") if p.is_file())):
            h.update(fichier.relative_to(racine).as_posix().encode("utf-8") + b"\0" + fichier.read_bytes() + b"\0")
    return h.hexdigest()


_ETAT_CHARGE: str | None = None


def _rafraichir(etat: str) -> None:
    """Vide les caches du processus (catalogue, acheteurs, questionnaire) si le catalogue a changé depuis."""
    global _ETAT_CHARGE
    if _ETAT_CHARGE != etat:
        catalogue.charger.cache_clear()
        acheteurs.charger.cache_clear()
        questionnaire.charger.cache_clear()
        _ETAT_CHARGE = etat


def impacts(manifeste: dict[str, Any], fichier_reponses: Path, racine: Path) -> list[str]:
    """Ce qui a changé, depuis la génération décrite par `manifeste`, parmi ce dont elle dépend ; [] si rien.

    Clauses en vigueur à la date du droit appliqué (texte des clauses retenues ; version et règle des
    clauses écartées, dont le texte n'entre pas dans les documents), paramètres lus, sections
    `documents`, `calculs` et `ccag` du catalogue, profil et modèles de l'acheteur, questionnaire,
    fichier de réponses, version de dce.
    """
    if "entrees" not in manifeste or "parametres" not in manifeste:
        return ["manifeste sans empreintes des entrées (génération antérieure) : régénération complète"]
    causes = []
    if manifeste["outil"]["version"] != __version__:
        causes.append(f"version de dce {manifeste['outil']['version']} → {__version__}")
    cat = catalogue.charger(racine)
    try:
        ach = acheteurs.charger(racine, manifeste["acheteur"])
    except ErreurDCE:
        return [f"profil d'acheteur « {manifeste['acheteur']} » introuvable"]
    jour = dt.date.fromisoformat(manifeste["droit_applicable_au"])
    en_vigueur = {c.id: c for c in cat.versions_en_vigueur(jour)}
    enregistrees = {c["id"]: c for c in manifeste["clauses"]}
    for ident in sorted(set(en_vigueur) | set(enregistrees)):
        avant, clause = enregistrees.get(ident), en_vigueur.get(ident)
        if avant is None:
            causes.append(f"clause {ident} : désormais en vigueur")
        elif clause is None:
            causes.append(f"clause {ident} : plus en vigueur")
        elif clause.version != avant["version"]:
            causes.append(f"clause {ident} : version {avant['version']} → {clause.version}")
        elif clause.condition != avant["regle"]:
            causes.append(f"clause {ident} : règle modifiée")
        elif avant["retenue"] and clause.empreinte != avant["sha256"]:
            causes.append(f"clause {ident} : texte modifié")
    for p in manifeste["parametres"]:
        try:
            valeur = en_json(cat.param(p["nom"], jour, ach.categorie))
        except KeyError:
            causes.append(f"paramètre {p['nom']} : plus de valeur en vigueur")
            continue
        if valeur != p["valeur"]:
            causes.append(f"paramètre {p['nom']} : {p['valeur']} → {valeur}")
    avant, maintenant = manifeste["entrees"], entrees(cat, ach, fichier_reponses)
    if avant["reponses"] != maintenant["reponses"]:
        causes.append(f"{fichier_reponses.name} modifié")
    for section in sorted(set(avant["catalogue"]) | set(maintenant["catalogue"])):
        if avant["catalogue"].get(section) != maintenant["catalogue"].get(section):
            causes.append(f"section « {section} » de catalogue.yaml modifiée")
    for chemin in sorted(set(avant["sources"]) | set(maintenant["sources"])):
        if avant["sources"].get(chemin) != maintenant["sources"].get(chemin):
            causes.append(f"{chemin} modifié")
    return causes


def pointee(consultation: Path) -> str | None:
    """Le numéro que désigne le pointeur de version, lu tel quel (« » : aucun ; None : illisible), sans le contrôle
    de `version_courante` : relevé par le processus principal au début du lot (`Tache.depart`)."""
    try:
        return (consultation / POINTEUR).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError):
        return None


def _deja_publiee(dossier: Path, contenus: dict[str, bytes], manifeste: dict[str, Any]) -> bool:
    """La version `dossier`, publiée par un essai perdu de ce lot, est-elle identique au DCE produit ?"""
    publie = lire_manifeste(dossier)
    return publie is not None and (empreintes_documents(dossier, publie, None, (contenus, manifeste))
                                   == empreintes_produites(contenus, manifeste))


def _nettoyer(consultation: Path, courante: str | None) -> None:
    """Retire les restes d'un lot interrompu : dossiers temporaires et versions jamais désignées par le pointeur."""
    versions = consultation / VERSIONS
    for reste in versions.glob("*"):
        if reste.name.startswith(EN_COURS):
            numero = reste.name.removeprefix(EN_COURS)
            if numero.isdigit() and numero != courante:  # arrêté avant de changer le pointeur
                shutil.rmtree(versions / numero, ignore_errors=True)
            reste.unlink(missing_ok=True)
        elif reste.name.startswith(TEMPORAIRE):  # version en préparation, ou pointeur pas encore mis en place
            if reste.is_dir():
                shutil.rmtree(reste, ignore_errors=True)
            else:
                reste.unlink(missing_ok=True)


def droit_enregistre(manifeste: dict[str, Any] | None) -> dt.date | None:
    """Un droit choisi expressément (`--droit-du`) reste celui de la consultation ; sinon, la date de lancement."""
    if manifeste and manifeste["droit_applicable_au"] != manifeste["date_lancement"]:
        return dt.date.fromisoformat(manifeste["droit_applicable_au"])
    return None


def traiter(tache: Tache) -> RapportConsultation:
    """Régénère une consultation ; n'écrit rien qui ne soit complet. Les erreurs deviennent un rapport en échec."""
    suite = _calculer(tache)
    return suite if isinstance(suite, RapportConsultation) else _achever(suite, _publier(suite))


@dataclass
class _Suite:
    """Une consultation calculée, sa nouvelle version écrite dans son dossier en préparation : reste à la publier
    (`_publier`), puis à achever son rapport (`_achever`). Une consultation d'un groupe est publiée pendant le calcul
    de la suivante (`traiter_groupe`)."""

    tache: Tache
    rapport: RapportConsultation
    temporaire: Path  # dossier en préparation : renommé en versions/NNN, ou retiré par `_achever`
    numero: str
    nouveau: dict[str, Any]  # son manifeste
    a_publier: bool  # non : simulation, ou version déjà publiée par un essai perdu de ce lot
    nouvelle: bool  # aucune version avant le lot
    modifications: bytes | None  # document des modifications


# Ramasse-miettes arrêté le temps d'une consultation (`cache.sans_ramasse_miettes`, comme la production d'un DCE) : lire
# les deux manifestes, produire le DCE, comparer et préparer le document des modifications créent des centaines de
# milliers d'objets qui vivent jusqu'à la fin de la consultation ; chaque collecte les reparcourrait (collectes des
# objets jeunes à la fermeture de chaque fenêtre sans ramasse-miettes, parcours complets du tas : catalogue, modèles
# compilés, mémoires). À la fin, ils sont presque tous libérés par leur compteur de références : la collecte qui suit ne
# parcourt que ce qui reste (mémoires du processus). Les cycles éventuels sont ramassés à cette collecte. Dans les
# processus de calcul du lot (`_mourir_avec`), ce qui reste est ensuite gelé (`cache.geler_survivants`).
@cache.sans_ramasse_miettes()
def _calculer(tache: Tache) -> RapportConsultation | _Suite:
    """Le calcul d'une consultation : son rapport (à jour, non concernée, en échec), ou ce qu'il reste à faire.

    Les empreintes des sources communes aux consultations du lot (questionnaire, modèles Word, dossier de l'acheteur)
    sont gardées le temps du lot (`tracabilite.sources_du_lot`, sous le dossier de son rapport et l'état du catalogue)."""
    with sources_du_lot((tache.rapport, tache.etat_catalogue)):
        return _traiter(tache)


def _echec(rapport: RapportConsultation, exc: Exception) -> RapportConsultation:
    """Le rapport en échec, avec la cause en français (droits, disque plein… : `erreur_systeme`)."""
    rapport.statut = ECHEC
    if isinstance(exc, (ErreurDCE, OSError)):
        erreur = erreur_systeme(exc) if isinstance(exc, OSError) else exc
        rapport.erreur = " ; ".join(str(p) for p in erreur.problemes)
    else:
        rapport.erreur = f"erreur interne ({type(exc).__name__} : {exc})"
    return rapport


def _publier(suite: _Suite) -> Exception | None:
    """Publie la nouvelle version d'une consultation calculée (`publier`) ; l'erreur éventuelle est rendue, pour
    `_achever` (appelée dans un fil à part, voir `traiter_groupe`, elle ne touche qu'au système de fichiers)."""
    try:
        if suite.a_publier:
            publier(Path(suite.tache.dossier), suite.temporaire, suite.numero)
    except Exception as exc:  # noqa: BLE001 - dite dans le rapport de la consultation
        return exc
    return None


def _achever(suite: _Suite, erreur: Exception | None) -> RapportConsultation:
    """Le rapport d'une consultation calculée, une fois sa version publiée (ou sa publication en `erreur`)."""
    tache, rapport = suite.tache, suite.rapport
    try:
        if erreur is not None:
            raise erreur
        if not tache.simulation:
            rapport.fiche = index.entree(Path(tache.dossier), tache.nom, suite.nouveau)
        rapport.nouvelle_version = suite.numero
        rapport.statut = NOUVELLE if suite.nouvelle else MODIFIEE
        if suite.modifications is not None:
            chemin = Path(tache.rapport) / "modifications" / f"{nom_sur(tache.nom)}-modifications.docx"
            # processus local : sans fsync, le rapport du lot est rendu durable d'une seule barrière à la fin
            # (`regenerer`) ; sur une autre machine (Dask), cette barrière ne couvrirait pas l'écriture
            ecrire_atomique(chemin, suite.modifications, durable=not tache.locale)
            rapport.redline = str(chemin)
        if not tache.garder_textes:
            for c in rapport.clauses:  # déjà dans le document des modifications : le lot garde une mémoire plate
                c.anciens, c.nouveaux = [], []
    except Exception as exc:  # noqa: BLE001 - une consultation ne doit pas arrêter le lot
        _echec(rapport, exc)
    finally:
        shutil.rmtree(suite.temporaire, ignore_errors=True)  # publiée : renommée, il ne reste rien
    return rapport


def _traiter(tache: Tache) -> RapportConsultation | _Suite:
    _rafraichir(tache.etat_catalogue)
    consultation, racine = Path(tache.dossier), Path(tache.racine)
    rapport = RapportConsultation(tache.nom, ECHEC)
    temporaire: Path | None = None
    try:
        courante = version_courante(consultation)
        # le lot tient le verrou du dossier : une version désignée depuis son début a été publiée par un essai de ce
        # lot, perdu avant de rendre son rapport ; la version précédente est celle du début du lot
        precedente = courante if tache.depart in (None, courante) else tache.depart or None
        if not tache.simulation:
            _nettoyer(consultation, courante)
        ancien = lire_manifeste(consultation / VERSIONS / precedente) if precedente else None
        rapport.version_precedente = precedente
        if ancien is not None:
            rapport.reference, rapport.acheteur = str(ancien["reponses"]["reference"]), str(ancien["acheteur"])
            if tache.seulement_impactees:
                rapport.causes = impacts(ancien, consultation / REPONSES, racine)
                if not rapport.causes:
                    rapport.statut = NON_CONCERNEE
                    return rapport
        if tache.simulation:
            temporaire = Path(tempfile.mkdtemp(prefix="dce-simulation-"))
        else:
            (consultation / VERSIONS).mkdir(exist_ok=True)
            temporaire = dossier_temporaire(consultation / VERSIONS, TEMPORAIRE)
        # le dossier temporaire est neuf et retiré en cas d'échec : les fichiers y sont écrits directement, sans
        # fsync ; `publier` les rend durables d'une seule barrière avant le renommage
        # pièces Word dont les entrées n'ont pas changé : reprises de la version précédente, à l'octet
        dossier_precedent = consultation / VERSIONS / precedente if precedente else None
        # la mémoire de la consultation (`cache.groupe`), ouverte par sa production, le reste pour la comparaison de ses
        # versions : les découpages des pièces comparées y vont avec ses autres entrées, en un seul ajout à son fichier
        with cache.memoire_reservee():
            resultat = produire_dce(consultation / REPONSES, racine, droit_enregistre(ancien),
                                    precedente=dossier_precedent)
            # fichiers de la version précédente, lus une fois : empreintes, pièces à comparer, et ceux que la
            # nouvelle reprend tels quels (identiques à l'octet : liens physiques, `fichiers.reprendre`) ; une version
            # publiée est en lecture seule
            anciens = (fichiers_generes(dossier_precedent)
                       if ancien is not None and dossier_precedent is not None else None)
            ecrire(resultat.contenus, temporaire,
                   (dossier_precedent, anciens) if anciens is not None and not tache.simulation else None,
                   lecture_seule=not tache.simulation)
            nouveau = manifeste_produit(resultat.contenus)  # ce qui vient d'être écrit : sans le relire
            assert nouveau is not None
            rapport.reference, rapport.acheteur = str(nouveau["reponses"]["reference"]), str(nouveau["acheteur"])
            if courante != precedente and courante is not None and _deja_publiee(consultation / VERSIONS / courante,
                                                                                 resultat.contenus, nouveau):
                numero = courante  # publiée par l'essai perdu : le rapport la nomme, elle n'est pas publiée deux fois
            else:
                numero = _suivante(consultation)
            if ancien is not None and dossier_precedent is not None and anciens is not None:
                empreintes = (empreintes_documents(dossier_precedent, ancien, anciens, (resultat.contenus, nouveau)),
                              empreintes_produites(resultat.contenus, nouveau))
                if empreintes[0] == empreintes[1]:
                    rapport.statut = A_JOUR
                    if not tache.simulation:
                        rapport.fiche = index.entree(consultation, tache.nom, ancien)
                    return rapport
                rapport.clauses, rapport.valeurs, rapport.documents = comparer(ancien, dossier_precedent, nouveau,
                                                                               temporaire, racine, empreintes,
                                                                               (anciens, resultat.contenus))
                if not (rapport.clauses or rapport.valeurs):  # seules les pièces changent : dire pourquoi
                    rapport.causes = (rapport.causes or impacts(ancien, consultation / REPONSES, racine)
                                      or [MISE_EN_FORME])
        modifications = None
        if rapport.clauses:
            modifications = redline.document(resultat.analyse, rapport.clauses, precedente, numero)
        suite = _Suite(tache, rapport, temporaire, numero, nouveau, not tache.simulation and numero != courante,
                       ancien is None, modifications)
        temporaire = None  # à la suite : retiré par `_achever`
        return suite
    except Exception as exc:  # noqa: BLE001 - une consultation ne doit pas arrêter le lot
        return _echec(rapport, exc)
    finally:
        if temporaire is not None:
            shutil.rmtree(temporaire, ignore_errors=True)


# -- le lot -------------------------------------------------------------------------------------------

def chauffer(racine: Path) -> None:
    """Avant de créer les processus de calcul : charge le catalogue, le questionnaire et les règles de relecture,
    compile chaque clause, analyse sa condition et celles de ses liens SPASER (chemins lus), compile les motifs de la
    relecture et des contrôles croisés, importe la bibliothèque Markdown, lit les mémoires du cache disque (Markdown
    converti, relecture…) et calcule l'empreinte du code. Les processus de calcul (fork) en héritent au lieu de le
    refaire chacun, ceux qui remplacent un processus perdu ou arrivé à son quota aussi (`ProcessusLocaux`) ; sans fork
    (Windows, macOS), chacun le fait à sa première consultation. Une erreur du catalogue ou d'une clause sera dite par
    consultation.

    Les chemins lus par les conditions sont gardés dans une mémoire disque que seul le processus principal écrit :
    analysés dans les seuls processus de calcul, ils l'étaient de nouveau dans chaque processus neuf de chaque lot
    (≈ 40 conditions analysées par Jinja, ≈ 10 ms)."""
    try:
        cat = catalogue.charger(racine)
        questionnaire.charger(racine / "questionnaire.yaml")
        relecture.chauffer(cat)
        croises.chauffer(cat)
    except (ErreurDCE, *ErreursJinja):
        pass
    else:
        for versions in cat.clauses.values():
            for clause in versions:
                try:
                    modele_clause(clause)
                    for expression in (clause.condition, *(lien.si for lien in clause.liens if lien.si)):
                        chemins_utilises(expression)
                except (ErreurDCE, *ErreursJinja):
                    pass
    markdown_.chauffer()
    version_du_code()
    cache.charger_memoires()


# Réglages de Dask distributed conseillés pour un lot : à donner à `dask.config.set` avant de créer un LocalCluster
# (les travailleurs en reçoivent une copie), ou dans un fichier de configuration de Dask (/etc/dask/*.yaml) sur chaque
# machine du cluster (docs/informatique.md, « Au-delà d'une machine : Dask »). Par défaut, chaque processus de Dask
# surveille sa boucle d'événements toutes les 20 ms, chaque travailleur échantillonne la pile de son calcul toutes les
# 10 ms (profil du tableau de bord, gardé en mémoire), chaque nanny mesure la mémoire de son travailleur toutes les
# 100 ms et chaque processus ses ressources toutes les 500 ms : ≈ 0,11 s de calcul par seconde de lot pour un
# LocalCluster de deux travailleurs, ≈ 0,015 s avec ces réglages. Dask lance aussi ses travailleurs avec
# MALLOC_TRIM_THRESHOLD_=65536, ce qui fige les seuils de glibc : chaque grande allocation (parties des documents
# Word) est prise au système puis rendue, ≈ 4 fois plus de défauts de page qu'un processus de calcul local ; sans
# cette variable, les travailleurs allouent comme eux. Rien de ce qui est calculé ne change : le tableau de bord perd
# le profil, ses courbes sont moins fines, un travailleur qui dépasse sa limite de mémoire est vu en une seconde au
# plus. Enfin, chaque travailleur fait la chauffe d'un lot dès son démarrage (`travailleur_dask`), et non dans les
# tâches du premier lot qu'il reçoit.
REGLAGES_DASK = {
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.profile.enabled": False,
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.worker.preload": ["generateur.lot.travailleur_dask"],
}

GROUPE_LOCAL = 16  # consultations par tâche au plus, processus locaux (voir `groupes`)
GROUPES_PAR_PROCESSUS = 4  # tâches restantes au moins par processus local, tant que le lot le permet
# consultations soumises d'avance par processus de calcul local (voir `regenerer`) : le groupe en cours et le suivant
FENETRE_PAR_PROCESSUS = 2 * GROUPE_LOCAL
GROUPE_MAX = 16  # consultations par tâche au plus, sur un exécuteur fourni (Dask)
GROUPES_MIN = 64  # exécuteur fourni sans nombre de travailleurs : tâches au moins, tant que le lot le permet
# Exécuteur fourni dont le nombre de travailleurs est donné (`regenerer(jobs=…)`) : tâches restantes au moins par
# travailleur, et consultations par tâche au moins (sauf la dernière). Une tâche Dask coûte ≈ 7 ms de calcul
# (ordonnanceur, sérialisation, barrière de son groupe), le cinquième d'une consultation : mesuré sur un LocalCluster
# de 2 travailleurs, lots de 100 consultations à la suite, 100 tâches d'une consultation (au moins GROUPES_MIN
# tâches) coûtent 0,6 à 0,7 s de calcul de tout l'arbre de plus que 12 tâches à la mesure du cluster (+15 %) ; avec
# celles-ci, le calcul est celui de 2 processus locaux, au bruit de la machine près (guide, « Vingt-septième passe »).
GROUPES_PAR_TRAVAILLEUR = 2
GROUPE_MIN_FOURNI = 4
# Consultations reçues par un processus de calcul local, après quoi il est remplacé par un neuf (`ProcessusLocaux`).
# Mesuré (mélange du banc, 2 processus, 5 décembre, vingt-troisième et vingt-quatrième passes) : la mémoire d'un
# processus de calcul croît encore pendant ses premières centaines de consultations (textes communs à quelques
# consultations, pages héritées recopiées), moins depuis que ses mémoires en fenêtre oublient aussi les gardées qui ne
# servent plus (`fenetre.Fenetre.vieillir`) ; le remplacer après 100 rend la mémoire de l'arbre presque plate (banc
# complet : 112 / 117 / 121 Mio pour 100 / 1 000 / 3 000 consultations, contre 140 à 1 000 au quota de 1 000). Un
# processus neuf refait ce que les consultations lui avaient appris (conversions Markdown et recherches de la
# relecture des textes communs) : ≈ 250 ms de calcul sur ses premières consultations, ≈ 5 à 10 % de calcul en plus à ce
# quota (19,1 à 19,7 s contre 17,6 à 18,6 s pour 1 000 consultations, trois paires de lancements alternés). Au quota
# de 50 : 1 Mio de moins à 1 000, 8 % de calcul en plus (trois paires alternées, vingt-quatrième passe).
QUOTA_PROCESSUS = 100


# Démarrage des processus de calcul locaux : par fork là où il est sûr (Linux et autres Unix, hors macOS), nommé
# plutôt que laissé au défaut de Python, qui passe à « forkserver » avec Python 3.14 : un processus de calcul
# n'hériterait plus de la chauffe (`chauffer`) et referait tout à sa première consultation. Ailleurs, le défaut.
_DEMARRAGE = (multiprocessing.get_context("fork")
              if sys.platform != "darwin" and "fork" in multiprocessing.get_all_start_methods() else None)


class _Poste:
    """Un processus de calcul local : un `ProcessPoolExecutor` à un seul processus (fork du principal chauffé), les
    tâches qu'il n'a pas encore rendues, les consultations qu'il a reçues."""

    def __init__(self) -> None:
        self.pool = ProcessPoolExecutor(max_workers=1, mp_context=_DEMARRAGE, initializer=_mourir_avec,
                                        initargs=(os.getpid(),))
        self.en_cours: set[Future] = set()
        self.recues = 0
        self.perdu = False  # son processus est mort : ses tâches sont en échec (BrokenProcessPool)

    def rendues(self) -> None:
        """Oublie les tâches rendues ; une tâche en échec par perte du processus le dit perdu."""
        for future in [f for f in self.en_cours if f.done()]:
            self.en_cours.discard(future)
            if not future.cancelled() and isinstance(future.exception(), BrokenProcessPool):
                self.perdu = True


class ProcessusLocaux(Executor):
    """Les processus de calcul locaux d'un lot (fork du processus principal chauffé, `chauffer`), chacun remplacé par
    un neuf quand il a reçu QUOTA_PROCESSUS consultations, ou quand il est perdu (tué, mémoire épuisée…).

    Chaque processus est un `ProcessPoolExecutor` à un seul processus (`_Poste`) : la tâche suivante va au processus
    qui en a le moins en cours. Remplacer un processus ne touche pas les autres : il ne reçoit plus rien, finit ce
    qu'il a reçu, s'arrête, et un processus neuf prend sa place (jamais deux à la fois pour une place : la mémoire de
    l'arbre n'a pas de pointe au remplacement). Le quota (QUOTA_PROCESSUS) borne ce que la mémoire d'un processus
    prend encore une fois ses mémoires bornées remplies ; un processus neuf repart de celle du principal, qu'il
    partage. `ProcessPoolExecutor` ne sait pas remplacer ses processus créés par fork (`max_tasks_per_child`
    l'exclut).

    Un processus perdu : ses tâches sont en échec (le bilan dit pourquoi, voir `regenerer`) ; celles des autres
    continuent. La soumission suivante le remplace. Les processus ne sont créés que dans le fil principal, à une
    soumission."""

    def __init__(self, travailleurs: int) -> None:
        self.travailleurs = travailleurs
        self._postes: list[_Poste] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future:
        """Soumet `fn(*args, **kwargs)` ; une tâche dont le premier argument est une liste (`traiter_groupe`) compte
        pour autant de consultations."""
        while True:
            poste = self._poste()
            try:
                future = poste.pool.submit(fn, *args, **kwargs)
            except BrokenProcessPool:  # perdu depuis le dernier regard : ses tâches ont déjà échoué
                poste.perdu = True
                continue
            poste.en_cours.add(future)
            poste.recues += len(args[0]) if args and isinstance(args[0], list) else 1
            return future

    def _poste(self) -> _Poste:
        """Le processus qui reçoit la tâche suivante : le moins occupé de ceux qui n'ont pas atteint leur quota, après
        avoir remplacé ceux qui l'ont atteint (ou qui sont perdus) et n'ont plus rien en cours ; si tous l'ont atteint,
        attend que l'un d'eux ait fini."""
        while True:
            for i, poste in enumerate(self._postes):
                poste.rendues()
                if (poste.perdu or poste.recues >= QUOTA_PROCESSUS) and not poste.en_cours:
                    poste.pool.shutdown(wait=True)
                    self._postes[i] = _Poste()
            while len(self._postes) < self.travailleurs:
                self._postes.append(_Poste())
            actifs = [p for p in self._postes if not p.perdu and p.recues < QUOTA_PROCESSUS]
            if actifs:
                return min(actifs, key=lambda p: len(p.en_cours))
            wait(set().union(*(p.en_cours for p in self._postes)), return_when=FIRST_COMPLETED)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        for poste in self._postes:
            poste.pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def groupes(taches: list[Tache], travailleurs: int | None = None, fourni: bool = False) -> list[list[Tache]]:
    """Les tâches soumises à l'exécuteur (`travailleurs` : ses processus ou fils de calcul, s'ils sont connus).

    Processus locaux : chaque consultation d'une tâche est publiée pendant le calcul de la suivante
    (`traiter_groupe`), sauf la dernière, dont la publication (barrière de durabilité : le disque) est attendue avant
    de rendre la tâche. Des tâches longues (jusqu'à GROUPE_LOCAL consultations) rendent ces attentes rares ; vers la
    fin du lot, elles raccourcissent (taille décroissante : au plus le reste divisé par GROUPES_PAR_PROCESSUS fois le
    nombre de processus) pour que les processus finissent ensemble, et un petit lot reste réparti.

    Exécuteur fourni (`fourni`, cluster Dask) : chaque tâche coûte aussi à l'ordonnanceur et au réseau
    (sérialisation, aller-retour, suivi). Nombre de travailleurs connu : même taille décroissante, jusqu'à GROUPE_MAX
    consultations, au plus le reste divisé par GROUPES_PAR_TRAVAILLEUR fois le nombre de travailleurs, au moins
    GROUPE_MIN_FOURNI (sauf la dernière tâche). Inconnu : groupes égaux, jusqu'à GROUPE_MAX par tâche, en gardant au
    moins GROUPES_MIN tâches pour que les machines de calcul restent toutes occupées jusqu'au bout."""
    if not travailleurs:
        taille = max(1, min(GROUPE_MAX, len(taches) // GROUPES_MIN))
        return [taches[i:i + taille] for i in range(0, len(taches), taille)]
    plus_grand, par_travailleur, plus_petit = ((GROUPE_MAX, GROUPES_PAR_TRAVAILLEUR, GROUPE_MIN_FOURNI) if fourni
                                               else (GROUPE_LOCAL, GROUPES_PAR_PROCESSUS, 1))
    resultat, debut = [], 0
    while debut < len(taches):
        taille = max(plus_petit, min(plus_grand, (len(taches) - debut) // (par_travailleur * travailleurs)))
        resultat.append(taches[debut:debut + taille])
        debut += taille
    return resultat


def traiter_groupe(taches: list[Tache]) -> list[RapportConsultation]:
    """Régénère un groupe de consultations dans le même processus de calcul (voir `groupes`).

    Sur un exécuteur fourni (Dask, peut-être une autre machine), la barrière de la fin du lot ne couvre pas les
    documents des modifications écrits ici : sous Linux, ils sont écrits sans fsync et une seule barrière (syncfs)
    les rend durables à la fin du groupe, avant que son résultat parte vers le processus principal, au lieu d'un
    fsync par document ; ailleurs (sans syncfs, la barrière synchroniserait tout le dossier du rapport), chaque
    document garde son fsync."""
    if all(t.locale for t in taches) or not sys.platform.startswith("linux"):
        return _traiter_en_chevauchant(taches)
    rapports = _traiter_en_chevauchant([replace(t, locale=True) for t in taches])
    if any(r.redline for r in rapports):
        barriere(Path(taches[0].rapport))
    return rapports


def _traiter_en_chevauchant(taches: list[Tache]) -> list[RapportConsultation]:
    """Les consultations d'un groupe, l'une après l'autre, la publication de chacune (sa barrière de durabilité : le
    processus attend le disque, ≈ 6 ms par consultation mesurés, 8 % du temps d'un lot) faite par un fil à part pendant
    le calcul de la suivante ; le rapport d'une consultation n'est achevé, et celui du groupe rendu, qu'une fois sa
    version publiée. Le fil ne fait que des opérations du système de fichiers (`publier`). Dans un processus de
    calcul du lot, les pages libres du tas sont rendues au système à la fin du groupe (`_RENDRE`) : après chaque
    consultation, la suivante reprenait au système, page par page, ce qui venait de lui être rendu (≈ 900 fautes de
    page de plus par consultation, mesuré : du temps système)."""
    rapports: list[RapportConsultation] = []
    en_cours: tuple[_Suite, Future] | None = None
    with ThreadPoolExecutor(1, thread_name_prefix="dce-publication") as fil:
        for tache in taches:
            suite = _calculer(tache)
            if en_cours is not None:
                rapports.append(_achever(en_cours[0], en_cours[1].result()))
                en_cours = None
            if isinstance(suite, RapportConsultation):
                rapports.append(suite)
            else:
                en_cours = (suite, fil.submit(_publier, suite))
        if en_cours is not None:
            rapports.append(_achever(en_cours[0], en_cours[1].result()))
    if _RENDRE is not None:
        _RENDRE(0)
    return rapports


def _acheteur_unique(rapports: list[RapportConsultation], racine: Path) -> acheteurs.Acheteur | None:
    """L'acheteur commun à toutes les consultations du lot (couverture du rapport), s'il est unique."""
    ids = {r.acheteur for r in rapports if r.acheteur}
    if len(ids) != 1:
        return None
    try:
        return acheteurs.charger(racine, ids.pop())
    except ErreurDCE:
        return None


def _dossier_rapport(dossier: Path, moment: dt.datetime, simulation: bool) -> Path:
    base = dossier / RAPPORTS / (moment.strftime("%Y-%m-%d-%H%M%S") + ("-simulation" if simulation else ""))
    chemin, n = base, 1
    while chemin.exists():
        n += 1
        chemin = base.with_name(f"{base.name}-{n}")
    chemin.mkdir(parents=True)
    return chemin


def barre(total: int, progression: bool | None) -> tqdm:
    """Barre de progression en français : nombre, débit et temps restant (sur la sortie d'erreur)."""
    return tqdm(total=total, desc="Régénération", unit=" consultation", file=sys.stderr, dynamic_ncols=True,
                disable=None if progression is None else not progression,
                bar_format="{desc} {n_fmt}/{total_fmt} |{bar}| {percentage:3.0f}\u00a0% "
                           "[{elapsed} écoulé, {remaining} restant, {rate_fmt}]")


def _perte(exc: Exception, deux_fois: bool) -> str:
    """La cause d'échec des consultations d'un processus de calcul perdu, en français (`deux_fois` : déjà reprises)."""
    if isinstance(exc, BrokenProcessPool):
        return (f"processus de calcul perdu{' deux fois' if deux_fois else ''} (arrêté brutalement : tué, ou mémoire "
                "épuisée ?) ; la consultation reste à sa version précédente")
    return f"processus de calcul perdu ({type(exc).__name__} : {exc})"


class _Terminees:
    """Les rapports des consultations terminées, le temps du lot : écrits (pickle) dans un fichier temporaire anonyme,
    que le système efface même après un arrêt brutal, au lieu d'être gardés par le processus principal pendant que les
    processus de calcul tournent (3 000 consultations : ≈ 20 Mio de rapports). Relus pour la synthèse, une fois les
    processus de calcul arrêtés."""

    def __init__(self) -> None:
        self._fichier = tempfile.TemporaryFile(prefix="dce-rapports-")

    def ajouter(self, rapports: list[RapportConsultation]) -> None:
        for rapport in rapports:
            pickle.dump(rapport, self._fichier, protocol=pickle.HIGHEST_PROTOCOL)

    def relire(self) -> list[RapportConsultation]:
        rapports = []
        with self._fichier as fichier:
            fichier.seek(0)
            while True:
                try:
                    rapports.append(pickle.load(fichier))
                except EOFError:
                    return rapports

    def fermer(self) -> None:
        self._fichier.close()


def regenerer(dossier: Path | str, racine: Path | None = None, jobs: int | None = None,
              executeur: Executor | None = None, simulation: bool = False, seulement_impactees: bool = False,
              progression: bool | None = False, garder_textes: bool = False) -> Bilan:
    """Régénère toutes les consultations de `dossier` avec le catalogue actuel.

    `executeur` : tout exécuteur `concurrent.futures` (il n'est pas arrêté) ; à défaut, `jobs` processus
    (défaut : nombre de cœurs). Avec un exécuteur, `jobs` est le nombre de ses travailleurs, s'il est connu (Dask :
    `sum(client.nthreads().values())`) : les consultations sont groupées en tâches à leur mesure (`groupes`).
    Une consultation en échec n'arrête pas le lot : elle figure au bilan.
    `simulation` : seul le rapport est écrit. `seulement_impactees` : seules les consultations dont le
    manifeste montre une clause, une règle, un paramètre ou un modèle changé sont régénérées.
    `garder_textes` : le bilan garde l'ancien et le nouveau texte des clauses modifiées (sinon seul le
    document des modifications les contient, et la mémoire du lot ne croît pas avec sa taille).
    """
    debut = time.perf_counter()
    dossier = Path(dossier).resolve()
    if not dossier.is_dir():
        raise ErreurDCE(Probleme("dossier de consultations introuvable", dossier))
    racine = catalogue.resoudre_racine(racine)
    with verrou(dossier):
        consultations = decouvrir(dossier)
        if not consultations:
            raise ErreurDCE(Probleme(f"aucune consultation : chaque consultation est un sous-dossier qui contient "
                                     f"son fichier {REPONSES}", dossier))
        moment = dt.datetime.now().replace(microsecond=0)
        sortie = _dossier_rapport(dossier, moment, simulation)
        etat = empreinte_catalogue(racine)
        _rafraichir(etat)
        proprietaire = executeur is None
        taches = [Tache(str(c), c.relative_to(dossier).as_posix(), str(racine), str(sortie), etat, simulation,
                        seulement_impactees, garder_textes, proprietaire, pointee(c)) for c in consultations]
        fenetre = len(taches)  # exécuteur fourni : tout est soumis d'avance, il répartit lui-même
        travailleurs = jobs  # exécuteur fourni : ses travailleurs, s'ils sont donnés
        if executeur is None:
            chauffer(racine)
            travailleurs = min(jobs or os.cpu_count() or 1, len(taches))
            executeur = ProcessusLocaux(travailleurs)
            # processus locaux : au plus FENETRE_PAR_PROCESSUS consultations soumises et pas encore terminées par
            # processus (des milliers de futures et de tâches d'avance faisaient croître la mémoire avec le lot)
            fenetre = FENETRE_PAR_PROCESSUS * travailleurs
        a_soumettre = iter(groupes(taches, travailleurs, fourni=not proprietaire))
        terminees = _Terminees()
        futures: dict[Future, list[Tache]] = {}
        en_vol = 0  # consultations soumises et pas encore terminées
        # consultations d'un processus de calcul local perdu (tué, mémoire épuisée…) : celle qui l'a fait tomber n'est
        # pas connue, toutes celles qu'il avait reçues sont soumises une seconde fois à des processus neufs
        # (`ProcessusLocaux`), chacune seule, une fois rendues celles des autres processus et rien d'autre n'étant en
        # cours : perdue une seconde fois, c'est elle qui fait tomber son processus, et elle est en échec sans en
        # entraîner d'autres
        a_reprendre: deque[list[Tache]] = deque()
        reprises: set[str] = set()
        try:
            with barre(len(taches), progression) as b:
                while True:
                    while en_vol < fenetre and not (a_reprendre and futures):
                        reprise = bool(a_reprendre)
                        g = a_reprendre.popleft() if reprise else next(a_soumettre, None)
                        if g is None:
                            break
                        futures[executeur.submit(traiter_groupe, g)] = g
                        en_vol += len(g)
                        if reprise:  # seule en cours jusqu'à sa fin
                            break
                    if not futures:
                        break
                    for future in wait(futures, return_when=FIRST_COMPLETED).done:
                        groupe = futures.pop(future)  # terminée : ni elle ni son résultat ne restent (mémoire plate)
                        en_vol -= len(groupe)
                        try:
                            terminees.ajouter(future.result())
                        except Exception as exc:  # noqa: BLE001 - processus de calcul perdu : ses consultations sont en échec
                            deja = not reprises.isdisjoint(t.nom for t in groupe)
                            if proprietaire and isinstance(exc, BrokenProcessPool) and not deja:
                                reprises.update(t.nom for t in groupe)
                                a_reprendre.extend([t] for t in groupe)
                                continue
                            terminees.ajouter([RapportConsultation(t.nom, ECHEC, erreur=_perte(exc, deja))
                                               for t in groupe])
                        b.update(len(groupe))
        except BaseException:
            for future in futures:
                future.cancel()
            terminees.fermer()
            raise
        finally:
            if proprietaire:
                executeur.shutdown(wait=True, cancel_futures=True)
        rapports = sorted(terminees.relire(), key=lambda r: r.dossier)
        index.enregistrer(dossier, {r.dossier: r.fiche for r in rapports if r.fiche is not None})
        modele = racine / "modeles" / "dce.docx"  # modèle commun du catalogue, sans le recharger
        fichiers = ecrire_synthese(rapports, sortie, dossier, modele, simulation, moment, _acheteur_unique(rapports, racine))
        barriere(sortie)  # documents des modifications de chaque consultation, écrits sans fsync
    return Bilan(rapports, sortie, fichiers, time.perf_counter() - debut)
