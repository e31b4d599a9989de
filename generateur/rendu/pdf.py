"""Conversion des pièces Word et Excel en PDF par LibreOffice sans interface (headless).

Un appel de LibreOffice convertit tout un lot de fichiers (le démarrage coûte plus que la
conversion d'un document) ; chaque appel a son propre profil (`-env:UserInstallation`), car deux
conversions qui partagent un profil perdent un PDF sans le dire. Un PDF manquant après un appel
est redemandé ; rien n'est déposé dans le dossier de sortie tant que tout n'est pas converti.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..donnees.fichiers import ecrire_atomique
from ..erreurs import ErreurDCE, Probleme

DELAI_SECONDES = 300
ESSAIS = 3
# Options du filtre d'export : PDF balisé (structure des titres, des listes et des tableaux, langue du document,
# lisible par un lecteur d'écran), signets des titres, titre du document affiché par la visionneuse.
OPTIONS = {"UseTaggedPDF": {"type": "boolean", "value": "true"},
           "ExportBookmarks": {"type": "boolean", "value": "true"},
           "DisplayPDFDocumentTitle": {"type": "boolean", "value": "true"}}
# Version PDF demandée au filtre d'export : 2 = PDF/A-2b (ISO 19005-2), format d'archivage.
OPTIONS_PDFA = {"SelectPdfVersion": {"type": "long", "value": "2"}}
INSTALLER = ("installer LibreOffice (Debian ou Ubuntu : « apt-get install libreoffice-writer-nogui "
             "libreoffice-calc-nogui ») ou donner le chemin de « soffice » dans la variable DCE_SOFFICE")


def soffice() -> str:
    """Chemin de LibreOffice : $DCE_SOFFICE, sinon « soffice » ou « libreoffice » dans le PATH."""
    chemin = os.environ.get("DCE_SOFFICE") or shutil.which("soffice") or shutil.which("libreoffice")
    if not chemin or not (Path(chemin).is_file() or shutil.which(chemin)):
        raise ErreurDCE(Probleme(f"LibreOffice est introuvable : la conversion des pièces en PDF en a besoin ; {INSTALLER}."))
    return chemin


@dataclass
class _Appel:
    fichiers: list[Path]
    processus: subprocess.Popen[bytes]
    profil: Path
    sortie: Path


def _filtre(pdfa: bool) -> str:
    # Le filtre d'export de Writer sert aussi aux classeurs : LibreOffice choisit l'export de Calc
    # d'après le document, en gardant les options.
    options = {**OPTIONS, **(OPTIONS_PDFA if pdfa else {})}
    return "pdf:writer_pdf_Export:" + json.dumps(options, separators=(",", ":"))


# Langue par défaut des documents dans le profil de LibreOffice : les classeurs Excel ne déclarent pas la leur,
# et leur PDF balisé dirait sinon « en-US » aux lecteurs d'écran.
PROFIL = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Linguistic/General"><prop oor:name="DefaultLocale" oor:op="fuse">\
<value>fr-FR</value></prop></item>
<item oor:path="/org.openoffice.Setup/L10N"><prop oor:name="ooSetupSystemLocale" oor:op="fuse">\
<value>fr-FR</value></prop></item>
</oor:items>
"""


def _lancer(executable: str, fichiers: list[Path], temporaire: Path, pdfa: bool) -> _Appel:
    profil = Path(tempfile.mkdtemp(prefix="profil-", dir=temporaire)).absolute()  # as_uri : chemin absolu exigé
    (profil / "user").mkdir()
    (profil / "user" / "registrymodifications.xcu").write_text(PROFIL, encoding="utf-8")
    sortie = Path(tempfile.mkdtemp(prefix="pdf-", dir=temporaire))
    commande = [executable, f"-env:UserInstallation={profil.as_uri()}", "--headless", "--norestore",
                "--nolockcheck", "--convert-to", _filtre(pdfa), "--outdir", str(sortie), *map(str, fichiers)]
    processus = subprocess.Popen(commande, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    return _Appel(fichiers, processus, profil, sortie)


def _attendre(appel: _Appel, delai: float) -> str:
    """Attend la fin d'un appel ; au-delà du délai, arrête LibreOffice et ses sous-processus."""
    try:
        _, erreurs = appel.processus.communicate(timeout=delai)
    except subprocess.TimeoutExpired:
        _arreter(appel)
        return f"LibreOffice n'a pas terminé en {delai:g} s"
    return erreurs.decode("utf-8", "replace").strip()


def _arreter(appel: _Appel) -> None:
    """Arrête LibreOffice et ses sous-processus (il tourne dans sa propre session : Ctrl-C ne l'atteint pas).

    Sous Unix, tout son groupe de processus ; sous Windows (ni os.killpg ni SIGKILL), son arbre de processus par
    `taskkill /T`, et au moins le processus lui-même si taskkill manque.
    """
    if hasattr(os, "killpg") and hasattr(signal, "SIGKILL"):
        try:
            os.killpg(appel.processus.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    else:
        try:
            subprocess.run(["taskkill", "/F", "/T", "/PID", str(appel.processus.pid)], capture_output=True,
                           check=False, timeout=30)
        except (OSError, subprocess.SubprocessError):
            pass
        if appel.processus.poll() is None:
            appel.processus.kill()
    appel.processus.communicate()


def _lots(fichiers: list[Path], travailleurs: int) -> list[list[Path]]:
    n = max(1, min(travailleurs, len(fichiers)))
    return [fichiers[i::n] for i in range(n) if fichiers[i::n]]


def travailleurs_par_defaut(nombre: int) -> int:
    """Un appel par tranche d'environ huit fichiers, dans la limite des processeurs disponibles."""
    return max(1, min(os.cpu_count() or 1, (nombre + 7) // 8))


def convertir(fichiers: list[Path], dossier: Path, *, pdfa: bool = False, travailleurs: int | None = None,
              delai: float = DELAI_SECONDES, essais: int = ESSAIS, date: dt.date | None = None) -> dict[Path, Path]:
    """Convertit des .docx / .xlsx en PDF dans `dossier` ; renvoie {fichier source: PDF}.

    Les fichiers sont répartis en `travailleurs` appels simultanés de LibreOffice, chacun avec son
    profil ; un fichier resté sans PDF est redemandé (au plus `essais` appels en tout). Hors PDF/A,
    la date de création et l'identifiant du PDF sont fixés (`date`, par défaut le 1er janvier 2020) :
    mêmes pièces, mêmes octets.
    """
    fichiers = [Path(f).resolve() for f in fichiers]
    if not fichiers:
        return {}
    noms = [f.stem for f in fichiers]
    doubles = sorted({n for n in noms if noms.count(n) > 1})
    if doubles:
        raise ErreurDCE(Probleme(f"deux pièces donneraient le même PDF : {', '.join(doubles)}"))
    executable = soffice()
    dossier = Path(dossier)
    dossier.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".dce-pdf-", dir=dossier) as tmp:
        contenus, echecs = _convertir(executable, fichiers, Path(tmp), pdfa, travailleurs, delai, essais)
    if echecs:
        raise ErreurDCE(echecs)
    resultat = {}
    for f in fichiers:
        contenu = contenus[f] if pdfa else normaliser(contenus[f], date or dt.date(2020, 1, 1))
        cible = dossier / f"{f.stem}.pdf"
        ecrire_atomique(cible, contenu)
        resultat[f] = cible
    return resultat


def convertir_lot(fichiers: dict[Path, dt.date], temporaire: Path, *, pdfa: bool = False,
                  travailleurs: int | None = None, essais: int = ESSAIS) -> tuple[dict[Path, bytes], list[Probleme]]:
    """Convertit en PDF les pièces de plusieurs consultations (`fichiers` : {pièce: date de ses PDF}) avec les mêmes
    appels de LibreOffice pour tout le lot (démarré une fois par travailleur, et non une fois par consultation).

    Renvoie le contenu du PDF de chaque pièce convertie et un problème par pièce restée sans PDF : l'appelant
    décide de ce que deviennent les autres pièces de la même consultation. Deux pièces de même nom (deux
    consultations de même référence) sont converties dans des passages distincts, chacun son dossier de sortie.
    """
    dates = {Path(f).resolve(): d for f, d in fichiers.items()}
    if not dates:
        return {}, []
    executable = soffice()
    vagues: list[list[Path]] = []
    for f in dates:  # une vague = des noms tous différents : les PDF d'un même passage ne s'écrasent pas
        vague = next((v for v in vagues if all(g.stem != f.stem for g in v)), None)
        if vague is None:
            vagues.append(vague := [])
        vague.append(f)
    contenus: dict[Path, bytes] = {}
    echecs: list[Probleme] = []
    with tempfile.TemporaryDirectory(prefix=".dce-pdf-", dir=temporaire) as tmp:
        for vague in vagues:
            n = travailleurs or travailleurs_par_defaut(len(vague))
            delai = DELAI_SECONDES + 2.0 * len(vague) / n  # un long lot par appel : le délai suit sa taille
            obtenus, manquants = _convertir(executable, vague, Path(tmp), pdfa, n, delai, essais)
            contenus.update(obtenus)
            echecs.extend(manquants)
    return {f: c if pdfa else normaliser(c, dates[f]) for f, c in contenus.items()}, echecs


def _convertir(executable: str, fichiers: list[Path], tmp: Path, pdfa: bool, travailleurs: int | None,
               delai: float, essais: int) -> tuple[dict[Path, bytes], list[Probleme]]:
    """PDF bruts de LibreOffice pour des fichiers de noms distincts ; un problème par fichier resté sans PDF."""
    obtenus: dict[Path, bytes] = {}
    messages: list[str] = []
    restants = list(fichiers)
    for _ in range(max(1, essais)):
        appels = [_lancer(executable, lot, tmp, pdfa)
                  for lot in _lots(restants, travailleurs or travailleurs_par_defaut(len(restants)))]
        en_cours = list(appels)
        try:
            messages_appels = []
            for appel in appels:
                messages_appels.append(_attendre(appel, delai))
                en_cours.remove(appel)
        except BaseException:  # Ctrl-C, erreur : pas de LibreOffice qui continue seul
            for appel in en_cours:
                _arreter(appel)
            raise
        for appel, message in zip(appels, messages_appels):
            for f in appel.fichiers:
                pdf = appel.sortie / f"{f.stem}.pdf"
                if pdf.is_file() and pdf.read_bytes().startswith(b"%PDF"):
                    obtenus[f] = pdf.read_bytes()
            if message and any(f not in obtenus for f in appel.fichiers):
                messages.append(message.splitlines()[-1])
            shutil.rmtree(appel.profil, ignore_errors=True)
            shutil.rmtree(appel.sortie, ignore_errors=True)
        restants = [f for f in fichiers if f not in obtenus]
        if not restants:
            break
    detail = f" ({messages[-1]})" if messages else ""
    return obtenus, [Probleme(f"LibreOffice n'a pas pu convertir ce fichier en PDF après {essais} essais{detail}", f)
                     for f in restants]


_DATE = re.compile(rb"(/(?:CreationDate|ModDate)\(D:)[0-9]{14}")
_ID = re.compile(rb"/ID \[ ?<([0-9A-Fa-f]{32})>\s*<([0-9A-Fa-f]{32})> ?\]")
_SOMME = re.compile(rb"/DocChecksum /([0-9A-Fa-f]{32})")


def normaliser(contenu: bytes, date: dt.date) -> bytes:
    """Fixe la date de création, l'identifiant et la somme de contrôle d'un PDF de LibreOffice.

    Remplacements de même longueur : la table des renvois (xref) du PDF reste juste.
    """
    contenu = _DATE.sub(lambda m: m.group(1) + date.strftime("%Y%m%d000000").encode(), contenu)
    sans_id = _SOMME.sub(b"/DocChecksum /" + b"0" * 32, _ID.sub(b"", contenu))
    empreinte = hashlib.md5(sans_id, usedforsecurity=False).hexdigest().upper().encode()
    contenu = _ID.sub(lambda m: m.group(0).replace(m.group(1), empreinte).replace(m.group(2), empreinte), contenu)
    return _SOMME.sub(b"/DocChecksum /" + empreinte, contenu)
