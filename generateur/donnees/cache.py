"""Caches disque de dce : ce qui se recalcule à l'identique d'une commande à l'autre, gardé entre deux processus.

Une commande `dce generer` compile les clauses (Jinja), convertit leur Markdown en blocs et cherche les motifs de
la relecture dans chaque paragraphe : d'une consultation à l'autre, c'est presque toujours le même travail. Ces
résultats sont gardés dans un dossier privé de l'utilisateur : `DCE_CACHE` si défini (`DCE_CACHE=0` : aucun
cache), sinon `$XDG_CACHE_HOME/dce` (`~/.cache/dce`). Ce qui y est lu est exécuté (bytecode) ou reconstruit
(pickle) : un dossier qui n'appartient pas à l'utilisateur ou où d'autres peuvent écrire n'est pas utilisé. Effacer
le dossier ne fait que ralentir la commande suivante.
"""

from __future__ import annotations

import atexit
import dataclasses
import gc
import hashlib
import heapq
import importlib.util
import io
import marshal
import os
import pickle
import secrets
import stat
import sys
import weakref
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from types import CodeType
from typing import Any, Callable, Iterable, Iterator

from .fichiers import ecrire_atomique


def dossier(nom: str) -> Path | None:
    """Sous-dossier `nom` du cache de l'utilisateur, créé privé (0700) ; None si le cache est désactivé ou pas sûr."""
    choix = os.environ.get("DCE_CACHE")
    if choix in ("0", ""):
        return None
    if choix:
        base = choix
    else:
        base = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache"), "dce")
    chemin = os.path.join(base, nom)
    try:
        try:  # le dossier existe presque toujours : un seul appel système (appelé plusieurs fois par document)
            etat = os.stat(chemin)
        except FileNotFoundError:
            os.makedirs(chemin, mode=0o700, exist_ok=True)
            etat = os.stat(chemin)
        if not stat.S_ISDIR(etat.st_mode):
            return None
        if hasattr(os, "getuid") and (etat.st_uid != os.getuid() or etat.st_mode & 0o022):
            return None
    except OSError:
        return None
    return Path(chemin)


def empreinte(*parties: str | bytes) -> str:
    """Empreinte courte de ce dont dépend un cache (code qui le calcule, règles, versions des bibliothèques)."""
    h = hashlib.sha256()
    for p in parties:
        h.update(p.encode("utf-8") if isinstance(p, str) else p)
        h.update(b"\0")
    return h.hexdigest()[:24]


def octets_stables(valeur: Any) -> bytes:
    """Les octets de `valeur` en pickle, sans mémo : les mêmes pour deux valeurs égales, que leurs parties soient des
    objets partagés ou des copies (un catalogue relu du cache disque ou lu de ses fichiers, des réponses analysées de
    nouveau) ; `pickle.dumps` écrit autrement un objet qu'il a déjà rencontré. Pour une empreinte."""
    flux = io.BytesIO()
    ecrivain = pickle.Pickler(flux, protocol=5)
    ecrivain.fast = True
    ecrivain.dump(valeur)
    return flux.getvalue()


def sources(*fichiers: str | Path) -> bytes:
    """Ce qui identifie le texte des modules (ou des données du paquet) qui calculent un cache : les modifier l'invalide.

    L'empreinte du contenu de chaque fichier est gardée (mémoire « sources ») sous son chemin, sa taille, sa date de
    modification à la nanoseconde et son inode, comme Python garde le code compilé d'un module sous la date et la
    taille de son texte : une commande `dce generer` ne relit ni ne hache plus ≈ 1 Mio de code et de nomenclature
    (≈ 2,5 % de ses instructions). Un fichier modifié (autre date ou autre taille) est relu."""
    if not _SOURCES:
        _SOURCES.append(Memoire("sources", empreinte("sources", sys.version), maximum=1024, octets=256 * 1024))
    memoire = _SOURCES[0]
    parties = []
    for fichier in fichiers:
        chemin = os.fspath(fichier)
        try:
            etat = os.stat(chemin)
            cle = f"{chemin}\0{etat.st_size}\0{etat.st_mtime_ns}\0{etat.st_ino}"
        except OSError:
            cle = None
        valeur = memoire.lire(cle) if cle is not None else None
        if not isinstance(valeur, bytes) or len(valeur) != 32:
            valeur = hashlib.sha256(Path(chemin).read_bytes()).digest()  # fichier illisible : l'erreur d'avant
            if cle is not None:
                memoire.ecrire([(cle, valeur)])
        parties.append(valeur)
    return b"\0".join(parties)


_SOURCES: list[Memoire] = []


def version_paquet(nom: str) -> bytes:
    """Ce qui distingue une version d'une bibliothèque, sans l'importer : le texte de son `__init__.py`, qui porte son
    numéro de version (PyYAML : importé pour lire `yaml.__version__`, il coûtait ≈ 9 ms à une commande dont tout est en
    cache). Bibliothèque introuvable : b""."""
    spec = importlib.util.find_spec(nom)
    if spec is None or not spec.origin:
        return b""
    return Path(spec.origin).read_bytes()


@contextmanager
def sans_ramasse_miettes() -> Iterator[None]:
    """Le temps d'un calcul qui crée des dizaines de milliers d'objets gardés jusqu'à sa fin (pickle ou manifeste
    relu, DCE produit), sans ramasse-miettes : chaque collecte les reparcourrait, avec des parcours complets du tas.
    Les cycles éventuels sont ramassés à la collecte suivante. Seul l'appel qui l'a arrêté le remet en marche (un
    ramasse-miettes déjà arrêté le reste) ; dans un processus voué à un seul calcul en lot (`geler_survivants`), il
    ramasse d'abord les cycles du calcul et gèle ce qui lui survit."""
    actif = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if actif:
            if _GELER:
                gc.collect(0)  # les objets créés pendant le calcul (jeunes : ramasse-miettes arrêté) : ses cycles
                gc.freeze()
            gc.enable()


_GELER = False


def geler_survivants() -> None:
    """Pour un processus de calcul voué à un seul lot, qui s'arrête avec lui (processus de calcul d'une régénération) :
    à la fin de chaque calcul sans ramasse-miettes (`sans_ramasse_miettes`, une consultation), ses cycles sont
    ramassés (collecte des seuls objets jeunes, ceux qu'il a créés) et ce qui lui survit (entrées des mémoires et des
    caches, quelques milliers d'objets par consultation) est gelé (`gc.freeze`) : le ramasse-miettes ne le
    reparcourt plus, ni aux collectes intermédiaires ni aux parcours complets du tas, qui ne viennent plus (≈ 1 ms
    par consultation en lot, mesuré). Seul un cycle formé plus tard entre objets gelés n'est plus ramassé : 16 objets
    pour tout un processus de calcul d'un lot de 300, mesuré, et rendus à sa fin. Jamais dans un processus qui dure
    (serveur web, travailleur Dask) : ce qu'il garderait gelé ne serait jamais ramassé."""
    global _GELER
    _GELER = True


_CALCUL = False


def principal(pid: int) -> bool:
    """Ce processus est-il le processus `pid` (celui qui a créé une mémoire, importé un module), qui lit et écrit les
    mémoires disque ? Non dans un processus de calcul d'un lot : forké du principal (autre numéro de processus) ou
    travailleur Dask (`devenir_travailleur`)."""
    return os.getpid() == pid and not _CALCUL


def devenir_travailleur() -> None:
    """Pour un travailleur Dask (`lot.travailleur_dask`) : un processus qui ne sert que des lots, comme un processus
    de calcul local, mais qui n'est pas créé par fork du processus principal. Comme lui, il lit les mémoires partagées
    (`Memoire`) sans jamais les écrire : sans cela, il y ajoutait chaque résultat (jusqu'à 2 × `maximum` entrées,
    gardées en mémoire vive toute sa vie) et les contrôles croisés passaient par leur mémoire disque
    (`croises._chercher`), ce que les processus de calcul locaux ne font pas. Ses propres caches en mémoire vive
    (`Fenetre`, bornés) reprennent les textes communs d'une consultation à l'autre."""
    global _CALCUL
    _CALCUL = True


def _depickler(octets: bytes) -> Any:
    """pickle.loads sans ramasse-miettes (plus de la moitié du temps de lecture du catalogue, mesuré)."""
    with sans_ramasse_miettes():
        return pickle.loads(octets)


class _Garde(weakref.ref):
    """Référence faible à l'objet d'une entrée de `ParObjet`, qui sait sous quelle clé elle est rangée."""

    __slots__ = ("cle",)


class ParObjet:
    """Résultats calculés une fois par objet vivant (catalogue chargé, questionnaire, document YAML, bloc), dans ce
    processus, sous l'identité de l'objet. `aussi` : objets dont le résultat dépend encore (attributs qu'on peut
    remplacer), comparés par identité.

    L'entrée ne garde pas l'objet (référence faible) : elle s'en va avec lui, et son identifiant ne peut pas resservir
    à un autre tant qu'elle est là. Les blocs propres à une consultation (tableaux des lots, phrases qui citent une
    réponse) ne vivent pas plus longtemps qu'elle ; ceux des clauses communes, gardés par les mémoires du Markdown,
    gardent leurs résultats d'une consultation à l'autre : la mémoire ne croît pas avec la taille d'un lot. Un objet
    sans référence faible possible (dictionnaire) est gardé par son entrée. Bornée : vidée quand elle a atteint
    `maximum` objets."""

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum
        self._entrees: dict[int, tuple[Any, tuple[Any, ...], Any]] = {}  # id → (garde ou objet, aussi, résultat)

    def obtenir(self, objet: Any, calcul: Callable[[], Any], aussi: tuple[Any, ...] = ()) -> Any:
        deja = self._entrees.get(id(objet))
        # sans `aussi` (presque tous les appels, des milliers par consultation), sans générateur à créer
        if deja is not None and (deja[0] is objet or (type(deja[0]) is _Garde and deja[0]() is objet)) and (
                not deja[1] if not aussi
                else len(deja[1]) == len(aussi) and all(a is b for a, b in zip(deja[1], aussi))):
            return deja[2]
        resultat = calcul()
        if len(self._entrees) >= self.maximum:
            self._entrees.clear()
        try:
            garde: Any = _Garde(objet, self._oublier)
            garde.cle = id(objet)
        except TypeError:  # pas de référence faible possible : l'entrée garde l'objet
            garde = objet
        self._entrees[id(objet)] = (garde, aussi, resultat)
        return resultat

    def _oublier(self, garde: _Garde) -> None:
        """L'objet d'une entrée n'est plus : l'entrée s'en va (si elle n'a pas déjà été remplacée)."""
        deja = self._entrees.get(garde.cle)
        if deja is not None and deja[0] is garde:
            del self._entrees[garde.cle]

    def vider(self) -> None:
        self._entrees.clear()

    def __len__(self) -> int:
        return len(self._entrees)


class Memoire:
    """Dictionnaire texte → résultat gardé sur disque entre deux commandes (pickle, écrit à la fin du processus).

    `version` : empreinte de tout ce dont dépend le résultat (voir `empreinte`) ; une autre version est un autre
    fichier. Le fichier garde au plus `maximum` entrées et ≈ `octets` octets (chaque commande le relit en entier) :
    au-delà, seules les entrées servies par ce processus sont gardées, les plus servies d'abord (les textes communs
    à beaucoup de consultations d'un lot passent avant ceux propres à une seule, et ceux propres à une ancienne
    consultation s'en vont). Lu et écrit par le seul processus principal ; les processus de calcul d'un lot (fork)
    en héritent en mémoire.
    """

    def __init__(self, nom: str, version: str, maximum: int, octets: int = 8 << 20,
                 par_consultation: bool = False) -> None:
        self.nom, self.version, self.maximum, self.octets = nom, version, maximum, octets
        # `par_consultation` : ses entrées propres à une consultation sont aussi gardées dans la mémoire de celle-ci
        # (`groupe`) ; pour les textes des pièces, non pour ce qui sert à toutes (modèles compilés, code)
        self.par_consultation = par_consultation
        self._entrees: dict[str, Any] | None = None
        self._servies: dict[str, int] = {}  # clé → fois servie (lue ou écrite) par ce processus
        self._trop_grand = False  # fichier lu au-delà des bornes (écrit par une version antérieure) : à réécrire
        self._modifiee = False
        self._pid = os.getpid()
        self.ident = f"{nom}-{version}"  # nom de ses entrées dans la mémoire d'une consultation (`Groupe`)
        _MEMOIRES.add(self)

    def _fichier(self) -> Path | None:
        base = dossier("memoires")
        return base / f"{self.nom}-{self.version}.pickle" if base else None

    def entrees(self) -> dict[str, Any]:
        if self._entrees is None:
            self._entrees = {}
            fichier = self._fichier()
            if fichier is not None:
                try:
                    octets = fichier.read_bytes()
                    contenu = _depickler(octets)
                    if isinstance(contenu, dict):
                        self._entrees = contenu
                        self._trop_grand = len(contenu) > self.maximum or len(octets) > self.octets
                except Exception:  # noqa: BLE001 - fichier absent, abîmé ou d'une autre version : on s'en passe
                    pass
                atexit.register(self.enregistrer)
        return self._entrees

    def lire(self, cle: str) -> Any:
        """La valeur gardée sous `cle` : dans le fichier partagé, sinon dans la mémoire de la consultation en cours
        (`groupe`, mémoire `par_consultation`) ; None si aucune."""
        valeur = self.entrees().get(cle)
        if valeur is not None:
            servies = self._servies
            servies[cle] = servies.get(cle, 0) + 1
            return valeur
        groupe = _groupe_courant() if self.par_consultation else None
        return None if groupe is None else groupe.lire(self.ident, cle)

    def ecrire(self, cles_valeurs: Iterable[tuple[str, Any]]) -> None:
        """Ajoute des entrées : à la mémoire de la consultation en cours (`groupe`, mémoire `par_consultation`), de
        tout processus ; au fichier partagé, du processus principal seulement, au plus 2 × `maximum` (la mémoire reste
        bornée dans un serveur ou un lot ; les processus de calcul gardent leurs propres caches en mémoire)."""
        groupe = _groupe_courant() if self.par_consultation else None
        if groupe is not None:
            cles_valeurs = list(cles_valeurs)
            for cle, valeur in cles_valeurs:
                groupe.garder(self.ident, cle, valeur)
        if not principal(self._pid):
            return
        entrees, servies = self.entrees(), self._servies
        for cle, valeur in cles_valeurs:
            if len(entrees) >= 2 * self.maximum:
                break
            entrees[cle] = valeur
            servies[cle] = servies.get(cle, 0) + 1
            self._modifiee = True

    def enregistrer(self) -> None:
        """En fin de processus : les entrées, si elles ont changé (jamais depuis un processus de calcul), dans
        les bornes du fichier (`maximum` entrées, ≈ `octets` octets)."""
        if not (self._modifiee or self._trop_grand) or self._entrees is None or not principal(self._pid):
            return
        fichier = self._fichier()
        if fichier is None:
            return
        entrees = self._entrees
        try:
            contenu = pickle.dumps(entrees, protocol=pickle.HIGHEST_PROTOCOL)
            if len(entrees) > self.maximum or len(contenu) > self.octets:
                # les plus servies d'abord (à égalité : dans l'ordre où elles ont été servies la première fois)
                servies = sorted((c for c in self._servies if c in entrees), key=self._servies.__getitem__,
                                 reverse=True)[:self.maximum]
                while servies:
                    contenu = pickle.dumps({c: entrees[c] for c in servies}, protocol=pickle.HIGHEST_PROTOCOL)
                    if len(contenu) <= self.octets:
                        break
                    # en proportion de ce qui dépasse (les entrées n'ont pas toutes la même taille : on recommence)
                    servies = servies[:min(len(servies) - 1, len(servies) * self.octets // len(contenu))]
                else:
                    contenu = pickle.dumps({}, protocol=pickle.HIGHEST_PROTOCOL)
            ecrire_atomique(fichier, contenu, durable=False)
            _borner(fichier.parent, MEMOIRES_MAX, ".pickle")  # les fichiers des versions passées du code s'en vont
        except (OSError, pickle.PicklingError):
            pass
        self._modifiee = self._trop_grand = False


_MEMOIRES: weakref.WeakSet[Memoire] = weakref.WeakSet()  # mémoires vivantes de ce processus
MEMOIRES_MAX = 48  # fichiers gardés dans le dossier des mémoires au plus (un par mémoire et version du code : 8 mémoires,
# soit six versions du code, de quelques Mio chacune)


# --- Mémoire d'une consultation ----------------------------------------------------------------------------------

# Les mémoires partagées (`Memoire`) gardent d'abord ce qui revient d'une consultation à l'autre (clauses communes) :
# bornées, relues en entier par chaque commande, elles ne peuvent garder les textes propres à chacune des centaines
# de consultations d'un lot (objet, lieux, montants, dates : ≈ 70 textes par consultation, cherchés de nouveau par
# la relecture à chaque régénération). Ceux-là sont gardés dans la mémoire de leur consultation (`groupe`) : un
# fichier par consultation, lu à la première valeur qui manque au fichier partagé, écrit à la fin de sa production
# s'il y a du nouveau. Une entrée y a la même clé que dans le fichier partagé, sous le nom et la version de sa
# mémoire (`Memoire.ident`) : la valeur ne dépend que de la clé et de la version, jamais de la consultation, et une
# mémoire de consultation partagée par erreur (même nom) ne ferait que des valeurs exactes, au pire inutiles.
GROUPES = "consultations"  # sous-dossier du cache
ENTREES_GROUPE_MAX = 5000  # entrées d'un fichier au plus (une consultation en demande ≈ 2 000 au plus, cache froid)
GROUPES_MAX = 4096  # fichiers gardés au plus (135 à 570 Kio chacun, ≈ 185 le plus souvent, textes rendus des clauses et
# verdicts compris : ≈ 750 Mio au plus ; les plus anciens s'en vont)


SUITES_GROUPE_MAX = 32  # suites ajoutées au fichier d'une consultation avant qu'il soit réécrit d'un bloc
GROUPE_OCTETS_MAX = 1 << 20  # taille d'un fichier au plus : au-delà, réécrit avec les seules entrées servies


def lire_groupe(octets: bytes) -> tuple[dict[str, dict[str, Any]], int, bool]:
    """Le contenu du fichier d'une consultation (voir `Groupe`) : ses suites lues l'une après l'autre et fusionnées,
    leur nombre, et s'il a été lu jusqu'au bout (non : une suite abîmée, la dernière d'un ajout interrompu ; ce qui
    la précède est rendu)."""
    flux = io.BytesIO(octets)
    contenu: dict[str, dict[str, Any]] = {}
    suites = 0
    with sans_ramasse_miettes():
        while flux.tell() < len(octets):
            try:
                suite = pickle.load(flux)
            except Exception:  # noqa: BLE001 - abîmée, tronquée ou d'une autre version de Python
                return contenu, suites, False
            if not isinstance(suite, dict):
                return contenu, suites, False
            for memoire, entrees in suite.items():
                if isinstance(entrees, dict):
                    contenu.setdefault(memoire, {}).update(entrees)
            suites += 1
    return contenu, suites, True


def _ajouter(fichier: Path, octets: bytes) -> None:
    """Ajoute `octets` à la fin d'un fichier qui existe (un seul appel d'écriture : un autre processus qui ajoute au
    même fichier ne s'y mêle pas) ; FileNotFoundError s'il n'existe plus."""
    fd = os.open(fichier, os.O_WRONLY | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0))
    try:
        vue = memoryview(octets)
        while vue:
            vue = vue[os.write(fd, vue):]
    finally:
        os.close(fd)


class Groupe:
    """Les entrées des mémoires disque propres à une consultation (voir `groupe`).

    Le fichier est une suite de pickles (`lire_groupe`) : une production qui n'a que quelques entrées nouvelles (la
    régénération après la modification d'une clause : ses textes) les ajoute à la fin au lieu de réécrire tout le
    fichier (≈ 150 Kio, textes rendus des clauses compris) ; il est réécrit d'un bloc, sans doublons, après
    SUITES_GROUPE_MAX ajouts, ou si sa lecture s'est arrêtée sur une suite abîmée."""

    def __init__(self, fichier: Path) -> None:
        self.fichier = fichier
        self._lues: dict[str, dict[str, Any]] | None = None  # le fichier, lu à la première valeur demandée
        self._suites = 0  # suites lues dans le fichier
        self._taille = 0  # ses octets
        self._abime = False  # lecture arrêtée sur une suite abîmée : à réécrire
        self.servies: dict[str, dict[str, Any]] = {}  # mémoire → entrées servies ou écrites pendant cette production

    def _entrees(self) -> dict[str, dict[str, Any]]:
        if self._lues is None:
            try:
                octets = self.fichier.read_bytes()
            except OSError:  # absent ou illisible : on s'en passe
                octets = b""
            self._lues, self._suites, complet = lire_groupe(octets)
            self._abime, self._taille = not complet, len(octets)
        return self._lues

    def lire(self, memoire: str, cle: str) -> Any:
        entrees = self._entrees().get(memoire)
        valeur = None if entrees is None else entrees.get(cle)
        if valeur is not None:
            self.servies.setdefault(memoire, {})[cle] = valeur
        return valeur

    def garder(self, memoire: str, cle: str, valeur: Any) -> None:
        self.servies.setdefault(memoire, {})[cle] = valeur

    def enregistrer(self) -> None:
        """S'il manque au fichier une entrée servie ou écrite : les nouvelles lui sont ajoutées (une production ne
        demande pas tout ce qu'une autre a demandé : ce qu'un processus a déjà en mémoire n'est pas demandé, et reste
        au fichier) ; au-delà de ENTREES_GROUPE_MAX entrées ou de GROUPE_OCTETS_MAX octets, il est réécrit avec les seules
        servies (textes et verdicts d'avant la modification d'une clause, d'une réponse, du catalogue)."""
        lues = self._entrees()
        nouvelles = {m: n for m, entrees in self.servies.items()
                     if (n := {c: v for c, v in entrees.items() if c not in lues.get(m, ())})}
        if not nouvelles and not self._abime:
            return
        total = sum(len(e) for e in lues.values()) + sum(len(e) for e in nouvelles.values())

        def reecrire(contenu: dict[str, dict[str, Any]]) -> None:
            ecrire_atomique(self.fichier, pickle.dumps(contenu, protocol=pickle.HIGHEST_PROTOCOL), durable=False)

        def tout() -> dict[str, dict[str, Any]]:  # les entrées lues et les nouvelles, sans doublons
            return {m: {**lues.get(m, {}), **nouvelles.get(m, {})} for m in {*lues, *nouvelles}}

        try:
            suite = pickle.dumps(nouvelles, protocol=pickle.HIGHEST_PROTOCOL)
            if total > ENTREES_GROUPE_MAX or self._taille + len(suite) > GROUPE_OCTETS_MAX:
                reecrire(self.servies)
            elif self._suites == 0 or self._abime or self._suites >= SUITES_GROUPE_MAX:
                reecrire(tout())
            else:
                try:
                    _ajouter(self.fichier, suite)
                except FileNotFoundError:  # retiré depuis sa lecture (fichiers bornés) : recréé avec tout
                    reecrire(tout())
            if secrets.randbelow(64) == 0:
                _borner(self.fichier.parent, GROUPES_MAX, ".pickle")
        except (OSError, pickle.PicklingError):
            pass


_GROUPE: ContextVar[Groupe | None] = ContextVar("dce_groupe", default=None)
# Réservation (`memoire_reservee`) : la première mémoire de consultation ouverte dedans reste ouverte jusqu'à sa fin
_RESERVEE: ContextVar[list[Groupe] | None] = ContextVar("dce_groupe_reserve", default=None)


def _groupe_courant() -> Groupe | None:
    """La mémoire de la consultation ouverte (`groupe`), sinon celle qu'une réservation garde (`memoire_reservee`)."""
    courant = _GROUPE.get()
    if courant is None and (reservee := _RESERVEE.get()):
        return reservee[0]
    return courant


@contextmanager
def groupe(contenu: bytes | None) -> Iterator[None]:
    """Le temps de la production d'une consultation (`contenu` : son fichier de réponses, lu ; la même mémoire sert
    à la consultation copiée ou déplacée, et à ses régénérations tant que ses réponses ne changent pas) : les
    mémoires disque gardent aussi ce qui lui est propre dans sa mémoire (voir `Groupe`), écrite si la production
    aboutit. Sans cache, ou sans `contenu` (fichier illisible : sa lecture le dira) : rien. Dans une réservation
    (`memoire_reservee`) encore libre, la mémoire y reste ouverte après la production, et n'est écrite qu'à la fin
    de la réservation."""
    if contenu is None or (base := dossier(GROUPES)) is None:
        yield
        return
    courant = Groupe(base / f"{empreinte(contenu)}.pickle")
    libre = _RESERVEE.get()
    if libre:  # réservation déjà prise : cette mémoire-ci est écrite à sa fin, comme hors réservation
        libre = None
    jeton = _GROUPE.set(courant)
    try:
        yield
    finally:
        _GROUPE.reset(jeton)
    if libre is not None:
        libre.append(courant)
    else:
        courant.enregistrer()


@contextmanager
def memoire_reservee() -> Iterator[None]:
    """La mémoire de la consultation que la production ouvrira dans ce bloc (`groupe`, sous le contenu de ses
    réponses, qu'elle seule lit) y reste ouverte après elle : ce qui suit (la comparaison de ses versions, en
    régénération) y garde aussi ses entrées, et elle est écrite une fois, à la fin du bloc, s'il aboutit (une
    lecture et un ajout à son fichier par consultation)."""
    reservee: list[Groupe] = []
    jeton = _RESERVEE.set(reservee)
    try:
        yield
    finally:
        _RESERVEE.reset(jeton)
    if reservee:
        reservee[0].enregistrer()


def charger_memoires() -> None:
    """Lit dès maintenant les mémoires vivantes de ce processus qui ne l'ont pas encore été (conversions Markdown,
    relecture…) : avant de créer les processus de calcul d'un lot, qui en héritent (fork) au lieu de les relire
    chacun à sa première consultation."""
    for memoire in list(_MEMOIRES):
        memoire.entrees()


def texte(nom: str, cle: str, calcul: Callable[[], str]) -> str:
    """Texte calculé par `calcul()` (p. ex. la conversion d'un document par pandoc, un processus externe), gardé
    dans le sous-dossier `nom` du cache sous `cle` (empreinte de tout ce dont il dépend : contenu du fichier,
    programme et options). Un fichier du cache abîmé ou illisible est recalculé ; une erreur de `calcul` n'est
    pas gardée."""
    base = dossier(nom)
    fichier = base / f"{cle}.txt" if base else None
    if fichier is not None:
        try:
            return fichier.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            pass
    resultat = calcul()
    if fichier is not None:
        try:
            ecrire_atomique(fichier, resultat.encode("utf-8"), durable=False)
        except OSError:
            pass
    return resultat


def objet(nom: str, cle: str, calcul: Callable[[], Any], garder: int = 8) -> Any:
    """Objet Python calculé par `calcul()` (p. ex. le catalogue lu et validé), gardé en pickle dans le sous-dossier
    `nom` du cache sous `cle` (empreinte du contenu de tous les fichiers lus et du code qui les lit). Au plus
    `garder` versions par dossier : les plus anciennes s'en vont (au-delà de 256, le dossier n'est parcouru qu'une
    écriture sur 64 : il peut dépasser `garder` de quelques dizaines d'entrées ; voir `_borner`). Une entrée abîmée
    est recalculée ; une erreur de `calcul` (fichier invalide) n'est jamais gardée : elle se redit à chaque commande."""
    base = dossier(nom)
    fichier = base / f"{cle}.pickle" if base else None
    if fichier is not None:
        try:
            return _depickler(fichier.read_bytes())
        except Exception:  # noqa: BLE001 - absent, abîmé ou d'une autre version de Python : recalculé
            pass
    resultat = calcul()
    if fichier is not None:
        try:
            ecrire_atomique(fichier, pickle.dumps(resultat, protocol=pickle.HIGHEST_PROTOCOL), durable=False)
            if garder <= 256 or secrets.randbelow(64) == 0:
                _borner(base, garder, ".pickle")
        except (OSError, pickle.PicklingError):
            pass
    return resultat


def objet_de_consultation(nom: str, cle: str, calcul: Callable[[], Any], garder: int = 8) -> Any:
    """Comme `objet`, pour un résultat propre à une consultation (le découpage d'une de ses pièces) : gardé dans la
    mémoire de la consultation en cours si elle est ouverte (`groupe`, `memoire_reservee`), avec ses autres entrées,
    en un seul ajout à son fichier, sans fichier à créer ni dossier à borner ; sinon comme `objet`. Un résultat None
    n'y est pas gardé."""
    courant = _groupe_courant()
    if courant is None:
        return objet(nom, cle, calcul, garder)
    valeur = courant.lire(nom, cle)
    if valeur is None:
        valeur = calcul()
        if valeur is not None:
            courant.garder(nom, cle, valeur)
    return valeur


def _borner(base: Path, maximum: int, suffixe: str = "") -> None:
    """Au plus `maximum` entrées (noms finissant par `suffixe`, hors noms cachés) dans `base` : au-delà, les plus
    anciennes (date de modification) s'en vont. Les noms sont d'abord comptés (lecture du dossier seule, sans rien
    garder) ; les dates (un stat par entrée, ≈ 70 ms pour 20 000) ne sont lues que si le dossier déborde, et un grand
    dossier (plus de 256) est alors ramené aux trois quarts de `maximum` : le tri suivant attend qu'un quart du
    dossier ait été écrit, au lieu de revenir à chaque parcours. Seules les entrées à retirer sont gardées pendant le
    parcours (tas borné) : garder tout le dossier (entrées et dates de 16 000 squelettes) prenait ≈ 8 Mio d'un coup à
    un processus de calcul, la pointe de mémoire d'un lot de 3 000 consultations."""
    def entrees() -> Iterator[os.DirEntry[str]]:
        with os.scandir(base) as dossier_:
            for e in dossier_:
                if e.name.endswith(suffixe) and not e.name.startswith("."):
                    yield e

    total = sum(1 for _ in entrees())
    if total <= maximum:
        return
    garder = maximum if maximum <= 256 else maximum * 3 // 4
    for _, chemin in heapq.nsmallest(total - garder, ((e.stat().st_mtime_ns, e.path) for e in entrees())):
        try:
            os.unlink(chemin)
        except FileNotFoundError:  # retirée par un autre processus
            pass


MARQUES_MAX = 20_000  # verdicts gardés par dossier au plus (les plus anciens s'en vont ; voir `_borner`)


def marque(nom: str, cle: str) -> bool:
    """Vrai si le verdict `cle` a été marqué dans le sous-dossier `nom` (voir `marquer`)."""
    base = dossier(nom)
    return base is not None and (base / cle).is_file()


def marquer(nom: str, cle: str) -> None:
    """Garde un verdict favorable (p. ex. « ces réponses sont conformes à ce schéma ») : un fichier vide nommé par
    l'empreinte de tout ce dont il dépend. Seuls les verdicts favorables sont gardés : une erreur se redit toujours."""
    base = dossier(nom)
    if base is None:
        return
    try:
        (base / cle).touch()
        if secrets.randbelow(256) == 0:  # de temps à autre : le dossier reste borné
            _borner(base, MARQUES_MAX)
    except OSError:
        pass


def code_lu(octets: Any) -> CodeType | None:
    """Le code objet que `marshal` a écrit dans `octets` (entrée d'un cache de code compilé) ; None si ce n'en est pas
    un : entrée absente ou abîmée, écrite par une autre version de Python."""
    try:
        code = marshal.loads(octets)
    except (EOFError, ValueError, TypeError):
        return None
    return code if isinstance(code, CodeType) else None


def classes_compilees() -> None:
    """Garde le code des méthodes que `dataclasses` écrit pour chaque classe de données (`__init__`, `__eq__`,
    `__repr__`… : ≈ 170 textes compilés un par un à chaque commande, ≈ 18 ms sur ≈ 250 de `dce generer`, mesuré) :
    compilé une fois, il est relu des commandes suivantes (mémoire « classes », code objet par `marshal`, comme les
    modèles Jinja), sous le texte exact à compiler et la version de Python. Même texte, même compilation (sans les
    directives `__future__` de l'appelant, comme `exec` depuis `dataclasses`) : mêmes méthodes. Une entrée illisible
    est recompilée. Si une autre version de Python n'appelait plus `exec` ainsi, ses classes seraient compilées
    comme avant, sans mémoire."""
    if "exec" in vars(dataclasses):  # déjà en place dans ce processus
        return
    memoire = Memoire("classes", empreinte("classes", sys.version, importlib.util.MAGIC_NUMBER), maximum=4096,
                      octets=1 << 20)

    def executer(source: Any, globaux: Any = None, locaux: Any = None, /) -> None:
        if type(source) is str and type(globaux) is dict and type(locaux) is dict:
            code = code_lu(memoire.lire(source))
            if code is None:
                code = compile(source, "<string>", "exec", dont_inherit=True)
                memoire.ecrire([(source, marshal.dumps(code))])
            source = code
        elif globaux is None:  # textes de `exec` sans espace de noms donné : celui de l'appelant, comme `exec`
            appelant = sys._getframe(1)
            globaux, locaux = appelant.f_globals, appelant.f_locals if locaux is None else locaux
        exec(source, globaux, locaux)  # noqa: S102 - ce que `dataclasses` exécutait, compilé ou relu

    dataclasses.exec = executer  # type: ignore[attr-defined]  # prime sur la fonction intégrée pour ce module seul
