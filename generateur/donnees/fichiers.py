"""Fichiers écrits par dce : écriture atomique (un fichier, ou un ensemble de fichiers mis en place d'un coup),
paquets zip et JSON reproductibles, noms de fichiers sûrs, erreurs du système de fichiers en français.

Les fichiers et dossiers créés ont les droits que donne l'umask de l'utilisateur (0644 et 0755 sous umask 022),
comme ceux de tout autre programme : ils sont créés avec le mode 0666 ou 0777, que le système réduit par l'umask.
"""

from __future__ import annotations

import ctypes
import errno
import io
import os
import re
import secrets
import shutil
import stat
import struct
import sys
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import orjson

from ..erreurs import ErreurDCE, Probleme
from .fenetre import Fenetre

_NOM_RESERVE = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)$", re.IGNORECASE)


def nom_sur(reference: str) -> str:
    """Référence → nom de fichier sûr (ni dossier parent, ni chemin absolu, ni nom réservé)."""
    nom = re.sub(r"[^A-Za-z0-9._-]+", "-", reference).strip(".-_") or "consultation"
    if _NOM_RESERVE.match(nom):
        nom = f"consultation-{nom}"
    return nom[:80]


DATE_ZIP = (2020, 1, 1, 0, 0, 0)


# Compression rapide (zlib 1) : deux fois moins de temps que le niveau par défaut pour des fichiers
# 15 à 20 % plus gros (37 Kio au lieu de 31 pour un CCAP), sans effet pour le lecteur.
NIVEAU_COMPRESSION = 1


def _zipfile_reproductible(parties: dict[str, bytes], noms: list[str]) -> bytes:
    """L'archive des parties `noms`, dans cet ordre, écrite par zipfile."""
    sortie = io.BytesIO()
    with zipfile.ZipFile(sortie, "w", zipfile.ZIP_DEFLATED) as z:
        for nom in noms:
            info = zipfile.ZipInfo(nom, DATE_ZIP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, parties[nom], compresslevel=NIVEAU_COMPRESSION)
    return sortie.getvalue()


# Entrées du zip d'une partie déjà écrite : (nom, octets, niveau, date) → (en-tête local et données compressées, entrée
# du répertoire central à la position 0). Les parties que les documents d'un même modèle Word partagent (styles,
# thème, numérotation, relations…) ne sont compressées qu'une fois par processus ; celles propres à une consultation
# (propriétés du document, en-têtes qui la nomment) s'en vont après elle (`Fenetre`, ENTREES_MAX gardées au plus).
ENTREES_MAX = 256
_ENTREES = Fenetre(ENTREES_MAX)
TAILLE_GARDEE = 64 * 1024  # une partie plus grande (le corps d'un document) ne se retrouve pas d'un document à l'autre
_CENTRALE = struct.calcsize(zipfile.structCentralDir)  # sans le nom : son décalage en occupe les 4 derniers octets
_FIN = struct.calcsize(zipfile.structEndArchive)


def _entree(nom: str, octets: bytes) -> tuple[bytes, bytes]:
    """L'entrée d'une partie, écrite par zipfile dans une archive à elle seule : son enregistrement local (qui ne
    dépend pas de sa position) et son entrée du répertoire central, au décalage 0."""
    cle = (nom, octets, NIVEAU_COMPRESSION, DATE_ZIP)
    garder = type(octets) is bytes and len(octets) <= TAILLE_GARDEE  # ni texte, ni bytearray (modifiable)
    if garder and (deja := _ENTREES.get(cle)) is not None:
        return deja
    archive = _zipfile_reproductible({nom: octets}, [nom])
    fin = len(archive) - _FIN
    local = struct.unpack(zipfile.structEndArchive, archive[fin:])[6]  # début du répertoire central
    entree = (archive[:local], archive[local:fin])
    if garder:
        _ENTREES[cle] = entree
    return entree


def zip_reproductible(parties: dict[str, bytes]) -> bytes:
    """Même contenu → mêmes octets : dates fixes et ordre stable des parties d'un paquet Office.

    Les octets sont ceux qu'écrit zipfile partie après partie : l'enregistrement local d'une partie (en-tête et données
    compressées) ne dépend pas de sa position, seule son entrée du répertoire central la donne. Chaque entrée est
    donc écrite par zipfile à part (`_entree`, gardée pour les parties qui reviennent d'un document à l'autre), puis
    les entrées sont mises bout à bout, les décalages du répertoire central et sa fin écrits comme zipfile les écrit.
    Une archive qui demanderait les extensions ZIP64 (plus de 1 Gio, ou des milliers de parties) est écrite par
    zipfile d'un bout à l'autre."""
    noms = sorted(parties, key=lambda n: (n != "[Content_Types].xml", n))
    if len(noms) > 1000 or sum(len(o) for o in parties.values()) > 1 << 30:
        return _zipfile_reproductible(parties, noms)
    locaux: list[bytes] = []
    centrale: list[bytes] = []
    decalage = 0
    for nom in noms:
        local, entree = _entree(nom, parties[nom])
        centrale.append(entree[:_CENTRALE - 4] + decalage.to_bytes(4, "little") + entree[_CENTRALE:])
        locaux.append(local)
        decalage += len(local)
    repertoire = b"".join(centrale)
    fin = struct.pack(zipfile.structEndArchive, zipfile.stringEndArchive, 0, 0, len(noms), len(noms),
                      len(repertoire), decalage, 0)
    return b"".join(locaux) + repertoire + fin


def lire_borne(flux: Any, taille: int, maximum: int) -> bytes:
    """Les octets d'un flux binaire ouvert, `maximum` + 1 au plus (au-delà : trop grand, à l'appelant de le dire).
    `taille` : celle que le système annonce (fstat) ; lu à cette taille d'abord, puis jusqu'au bout si le flux en a
    davantage (fichier qui a grandi, tube : st_size ne dit rien d'un tube ni de /dev/zero). Un seul `read(maximum +
    1)` réserverait `maximum` octets à chaque lecture (64 Mio pour un document Word : ≈ 75 µs par lecture, mesuré)."""
    octets = flux.read(min(taille, maximum) + 1)
    if len(octets) > taille and len(octets) <= maximum:
        octets += flux.read(maximum + 1 - len(octets))
    return octets


def json_lisible(donnees: Any, defaut: Callable[[Any], Any] | None = None) -> bytes:
    """JSON indenté, UTF-8, clés dans l'ordre d'insertion : mêmes données → mêmes octets.

    orjson plutôt que json : un manifeste (100 à 200 Kio) s'écrit dix fois plus vite, ce qui compte en lot.
    """
    return orjson.dumps(donnees, default=defaut, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE)


def rezipper(contenu: bytes) -> bytes:
    """Fichier Office déjà écrit (openpyxl…) → le même, reproductible."""
    entree = zipfile.ZipFile(io.BytesIO(contenu))
    return zip_reproductible({nom: entree.read(nom) for nom in entree.namelist()})


def _nom_libre(dossier: Path, prefixe: str, suffixe: str, creer: Callable[[Path], Any]) -> tuple[Path, Any]:
    """Crée un fichier ou un dossier au nom aléatoire dans `dossier` (création exclusive, sans course)."""
    while True:
        chemin = dossier / f"{prefixe}{secrets.token_hex(6)}{suffixe}"
        try:
            return chemin, creer(chemin)
        except FileExistsError:
            continue


def dossier_temporaire(dossier: Path, prefixe: str) -> Path:
    """Dossier vide au nom aléatoire dans `dossier`, aux droits de l'umask (à la différence de tempfile.mkdtemp)."""
    return _nom_libre(dossier, prefixe, "", lambda c: os.mkdir(c, 0o777))[0]


def fsync_dossier(dossier: Path) -> None:
    """Rend durable la liste des noms d'un dossier (sans objet sous Windows, qui n'ouvre pas les dossiers)."""
    try:
        fd = os.open(dossier, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _syncfs() -> Callable[[int], int] | None:
    """syncfs(2) de Linux (glibc), s'il existe : rend durable d'un seul appel tout ce qui a été écrit sur le système
    de fichiers d'un descripteur."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        fonction = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    fonction.argtypes = [ctypes.c_int]
    return fonction


_SYNCFS: list[Callable[[int], int] | None] = []


def barriere(dossier: Path) -> None:
    """Barrière de durabilité : au retour, les fichiers écrits sous `dossier` (contenu et noms) sont sur le disque.

    Sous Linux, un seul appel (syncfs) pour tout le système de fichiers au lieu d'un fsync par fichier : une
    consultation en lot compte une dizaine de fichiers, et chaque fsync attend le disque. Ailleurs, ou si syncfs
    échoue, chaque fichier et chaque dossier de l'arborescence est synchronisé."""
    if not _SYNCFS:
        _SYNCFS.append(_syncfs())
    syncfs = _SYNCFS[0]
    if syncfs is not None:
        try:
            fd = os.open(dossier, os.O_RDONLY)
        except OSError:
            fd = -1
        if fd >= 0:
            try:
                if syncfs(fd) == 0:
                    return
            finally:
                os.close(fd)
    for courant, _, fichiers in os.walk(dossier):
        for nom in fichiers:
            fd = os.open(os.path.join(courant, nom), os.O_RDONLY | getattr(os, "O_BINARY", 0))
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dossier(Path(courant))


def ecrire_atomique(chemin: Path, contenu: bytes, durable: bool = True) -> None:
    """Écrit un fichier d'un coup : un arrêt brutal laisse l'ancien fichier ou le nouveau, jamais un mélange.

    `durable=False` : sans fsync, pour un fichier écrit dans un dossier en préparation que rendra durable une seule
    `barriere` avant sa mise en place (voir `ensemble`)."""
    chemin.parent.mkdir(parents=True, exist_ok=True)
    temporaire, fd = _nom_libre(chemin.parent, f".{chemin.name}.", ".tmp",
                                lambda c: os.open(c, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                                                  0o666))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(contenu)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(temporaire, chemin)
    except BaseException:
        try:
            os.unlink(temporaire)
        except FileNotFoundError:
            pass
        raise


def ecrire_neuf(chemin: Path, contenu: bytes, lecture_seule: bool = False) -> None:
    """Écrit un fichier sous son nom, sans nom temporaire ni fsync, dans un dossier en préparation : dossier neuf
    qu'aucun lecteur ne voit avant sa mise en place par renommage (`ensemble`, version en préparation d'une
    régénération), retiré en entier s'il n'est pas mis en place, et rendu durable par une seule `barriere` avant.
    Un arrêt brutal n'y laisse qu'un reste de ce dossier, jamais publié : le nom temporaire d'`ecrire_atomique` n'y
    protège rien de plus. Le fichier est créé (O_EXCL : un lien ou un fichier déjà là n'est pas suivi) ; s'il existe
    déjà, il est remplacé par `ecrire_atomique`. En cas d'erreur, le fichier commencé est retiré. `lecture_seule` :
    créé sans droit d'écriture sous Unix (fichier d'une version publiée, voir `reprendre`)."""
    drapeaux = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    droits = 0o444 if lecture_seule and os.name == "posix" else 0o666
    try:
        fd = os.open(chemin, drapeaux, droits)
    except FileNotFoundError:  # sous-dossier pas encore créé
        chemin.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(chemin, drapeaux, droits)
    except FileExistsError:
        ecrire_atomique(chemin, contenu, durable=False)
        return
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(contenu)
    except BaseException:
        try:
            os.unlink(chemin)
        except FileNotFoundError:
            pass
        raise


def reprendre(source: Path, chemin: Path) -> bool:
    """Crée `chemin`, second nom du fichier ordinaire `source` (lien physique), en lecture seule ; faux, sans rien
    laisser à `chemin`, si ce n'est pas possible : hors d'Unix, système de fichiers sans liens physiques (FAT,
    partage réseau), autre système de fichiers, `source` qui n'est pas un fichier ordinaire (un lien symbolique
    n'est jamais suivi : c'est lui qui serait lié, et il est retiré), fichier d'un autre propriétaire dont les
    droits ne peuvent être retirés. L'appelant écrit alors une copie (`ecrire_neuf`).

    Une version régénérée reprend ainsi les fichiers identiques à l'octet à ceux de la version précédente (le RC et
    le CCTP quand seule une clause du CCAP change) : ni écrits, ni créés une seconde fois sur le disque. Le fichier
    partagé est en lecture seule (droits d'écriture retirés, pour les deux versions) : un programme qui écrirait
    dans le fichier d'une version au lieu de le remplacer (`cp` sur un fichier existant, enregistrement sur place)
    changerait aussi l'autre ; il est refusé."""
    if os.name != "posix":
        return False
    try:
        os.link(source, chemin, follow_symlinks=False)
    except (OSError, NotImplementedError):
        return False
    try:
        etat = os.lstat(chemin)
        if stat.S_ISREG(etat.st_mode):
            if etat.st_mode & 0o222:
                os.chmod(chemin, stat.S_IMODE(etat.st_mode) & ~0o222)
            return True
    except OSError:
        pass
    try:
        os.unlink(chemin)
    except FileNotFoundError:
        pass
    return False


def chemin_reel_sous(dossier: Path, relatif: Path, strict: bool = False) -> Path:
    """`(dossier / relatif).resolve(strict)`, `dossier` étant déjà résolu (chemin canonique). Sous Unix, pour un chemin
    relatif sans « .. » dont aucune partie n'est un lien symbolique (un lstat par partie : elles existent),
    `dossier / relatif` est déjà canonique : Path.resolve relirait chaque partie du chemin absolu, en Python (≈ 1 %
    du calcul d'une consultation régénérée qui a des textes techniques). Sinon (lien symbolique, partie absente,
    autre système), résolu : mêmes chemin et erreurs que Path.resolve."""
    if os.name == "posix" and not relatif.is_absolute() and ".." not in relatif.parts and relatif.parts:
        chemin = dossier
        try:
            for partie in relatif.parts:
                chemin = chemin / partie
                if stat.S_ISLNK(os.lstat(chemin).st_mode):
                    break
            else:
                return chemin
        except OSError:
            pass
    return (dossier / relatif).resolve(strict=strict)


PREPARATION = ".dce-nouveau-"
ANCIENS = ".dce-ancien-"


@contextmanager
def ensemble(sortie: Path | str, perimes: Callable[[], Iterable[str]] = tuple) -> Iterator[Path]:
    """Écrit un ensemble de fichiers d'un coup dans `sortie` : tout le nouvel ensemble, ou rien de nouveau.

    Le bloc `with` écrit ses fichiers dans le dossier rendu, un dossier temporaire du même système de fichiers
    (sans nom temporaire ni fsync, `ecrire_neuf` : une seule `barriere` les rend durables avant la mise en place).
    S'il se termine sans erreur, ses fichiers remplacent dans `sortie` les fichiers de même nom (les autres
    fichiers de `sortie`, ceux de l'utilisateur, ne sont pas touchés ; un sous-dossier préparé remplace en entier
    le sous-dossier de même nom) : si `sortie` n'existait pas, le dossier
    préparé est renommé en `sortie` ; sinon les anciens fichiers sont mis de côté, les nouveaux mis en place par
    renommage, et les anciens retirés ensuite seulement. Un fichier préparé identique à l'octet à son homonyme
    (fichier ordinaire) n'est pas mis en place : l'ancien, de même contenu, reste, et rien n'est écrit sur le disque
    pour lui (une génération relancée sur une sortie à jour ne synchronise, ne renomme ni ne retire rien). Une
    erreur, une interruption (Ctrl-C) ou un disque plein en cours de route remettent les anciens fichiers et ne
    laissent rien de nouveau. Les erreurs du
    système de fichiers deviennent une `ErreurDCE` en français qui nomme le chemin.

    `perimes` : noms de fichiers d'un ensemble précédent (relus au moment de la mise en place) que le nouvel
    ensemble ne contient plus ; ils sont retirés avec les anciens fichiers, et remis en cas d'échec.
    """
    sortie = Path(sortie)
    crees: list[Path] = []  # dossiers parents créés pour l'occasion : retirés en cas d'échec
    preparation: Path | None = None
    try:
        nouvelle = not os.path.lexists(sortie)
        if nouvelle:
            parent = sortie.absolute().parent
            while not os.path.lexists(parent) and parent != parent.parent:
                crees.append(parent)
                parent = parent.parent
            if not parent.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(parent))
            sortie.absolute().parent.mkdir(parents=True, exist_ok=True)
            preparation = dossier_temporaire(sortie.absolute().parent, f".{sortie.name[:60]}{PREPARATION}")
        elif not sortie.is_dir():
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(sortie))
        else:
            preparation = dossier_temporaire(sortie, PREPARATION)
        yield preparation
        if nouvelle:
            barriere(preparation)
            os.rename(preparation, sortie)
            preparation = None
            fsync_dossier(sortie.absolute().parent)
        else:
            _remplacer(preparation, sortie, set(perimes()))
        crees = []
    except OSError as exc:
        raise erreur_systeme(exc, sortie, "écriture impossible dans le dossier de sortie") from None
    finally:
        if preparation is not None:
            shutil.rmtree(preparation, ignore_errors=True)
        for dossier in crees:
            try:
                os.rmdir(dossier)
            except OSError:
                break


def _identique(prepare: Path, ancien: Path) -> bool:
    """Vrai si le fichier préparé a le contenu, à l'octet, de son homonyme `ancien`, fichier ordinaire (ni lien, ni
    dossier) : il est alors retiré du dossier préparé avant d'avoir été synchronisé, l'ancien reste en place."""
    try:
        etat_ancien, etat_prepare = os.lstat(ancien), os.lstat(prepare)
    except OSError:
        return False
    if (not stat.S_ISREG(etat_ancien.st_mode) or not stat.S_ISREG(etat_prepare.st_mode)
            or etat_ancien.st_size != etat_prepare.st_size):
        return False
    try:
        if ancien.read_bytes() != prepare.read_bytes():
            return False
    except OSError:
        return False
    os.unlink(prepare)
    return True


def _remplacer(preparation: Path, sortie: Path, perimes: set[str]) -> None:
    """Met les fichiers préparés à la place de leurs homonymes dans `sortie` (et retire les fichiers `perimes`) ;
    en cas d'échec, remet les anciens. Les fichiers préparés identiques à leur homonyme sont laissés de côté
    (`_identique`) ; ce qui reste à mettre en place est rendu durable (`barriere`) avant."""
    noms = sorted(p.name for p in preparation.iterdir()
                  if not p.name.startswith(".") and (p.is_file() or p.is_dir()) and not p.is_symlink())
    retires = sorted(n for n in perimes - set(noms) if Path(n).name == n and (sortie / n).is_file())
    noms = [nom for nom in noms if not _identique(preparation / nom, sortie / nom)]
    if not noms and not retires:
        return
    if noms:
        barriere(preparation)
    for nom in noms:
        ancien = sortie / nom
        if (preparation / nom).is_dir():  # un sous-dossier préparé remplace en entier son homonyme
            if os.path.lexists(ancien) and (ancien.is_symlink() or not ancien.is_dir()):
                raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(ancien))
        elif ancien.is_dir() and not ancien.is_symlink():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(ancien))
    anciens = dossier_temporaire(sortie, ANCIENS)
    deplaces: list[str] = []
    places: list[str] = []
    try:
        for nom in noms + retires:
            if os.path.lexists(sortie / nom):
                os.rename(sortie / nom, anciens / nom)
                deplaces.append(nom)
        for nom in noms:
            os.rename(preparation / nom, sortie / nom)
            places.append(nom)
        fsync_dossier(sortie)
    except BaseException:
        for nom in places:
            os.rename(sortie / nom, preparation / nom)
        for nom in deplaces:
            os.rename(anciens / nom, sortie / nom)
        raise
    finally:
        shutil.rmtree(anciens, ignore_errors=True)


# Erreurs du système de fichiers que l'utilisateur peut corriger : la raison, en français.
RAISONS = {getattr(errno, nom): raison for nom, raison in (
    ("EACCES", "droits insuffisants"),
    ("EPERM", "opération non permise (droits insuffisants)"),
    ("EROFS", "système de fichiers en lecture seule"),
    ("ENOSPC", "disque plein"),
    ("EDQUOT", "quota de disque dépassé"),
    ("ENAMETOOLONG", "nom de fichier trop long"),
    ("ENOTDIR", "un élément du chemin est un fichier et non un dossier"),
    ("EEXIST", "un fichier de ce nom existe déjà à la place du dossier"),
    ("EISDIR", "un dossier porte le nom d'un fichier à écrire"),
    ("ELOOP", "lien symbolique en boucle"),
    ("ENOENT", "chemin introuvable"),
) if hasattr(errno, nom)}


def erreur_systeme(exc: OSError, chemin: Path | str | None = None, action: str = "accès impossible") -> ErreurDCE:
    """Une erreur du système de fichiers, en français, avec le chemin (`chemin`, sinon celui de l'erreur)."""
    raison = RAISONS.get(exc.errno or 0) or f"erreur du système de fichiers ({exc.strerror or type(exc).__name__})"
    return ErreurDCE(Probleme(f"{action} : {raison}", chemin or exc.filename))
