"""Le DCE publiable : toutes les pièces en Word ou Excel et en PDF, leur liste avec empreintes SHA-256,
et une archive zip au nom de la référence, prête à déposer sur le profil d'acheteur.

Les pièces de base (RC, CCAP, CCTP, annexes) sont celles qu'écrit `generation.generer` ; s'y ajoutent
l'acte d'engagement de chaque lot, le bordereau des prix et le cadre de mémoire technique.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
import shutil
import zipfile
from typing import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..pieces import acte_engagement, bordereau, memoire
from . import pdf
from ..donnees.fichiers import DATE_ZIP, ecrire_atomique, ensemble
from .documents import produire
from ..erreurs import ErreurDonnees, Probleme
from .generation import (PIECES, Dce, Resultat, ecrire, lire_pieces_jointes, modele_de, produire_dce,
                         variables_modele)
from ..donnees.fichiers import nom_sur
from ..donnees.formats import pluriel
from ..donnees import pieces_jointes
from ..droit.regles import Analyse

BUREAUTIQUE = (".docx", ".xlsx")
AUTRES_LIBELLES = {"tracabilite-SPASER": "Fiche de traçabilité SPASER", "annexe-conformite": "Annexe de conformité",
                   "manifeste": "Manifeste (empreintes des sources et des pièces)", "reponses": "Fichier de réponses"}
# Ordre des pièces dans la liste et l'archive : celui du RC (contenu du dossier), puis les annexes.
ORDRE = ("RC", "AE", "CCAP", "CCTP", "bordereau", "cadre", "acheteur")


@dataclass
class Piece:
    """Une pièce du DCE : son fichier Word ou Excel et son PDF."""

    libelle: str
    fichier: Path
    genre: str = ""
    pdf: Path | None = None


@dataclass
class Publication:
    """Le dossier de consultation des entreprises (`pieces`, `liste`, `archive`) et le dossier interne
    (`internes`, `liste_interne`, `archive_interne`)."""

    analyse: Analyse
    pieces: list[Piece]
    liste: Path
    archive: Path
    generation: Resultat
    avertissements: list[str] = field(default_factory=list)
    internes: list[Piece] = field(default_factory=list)
    liste_interne: Path | None = None
    archive_interne: Path | None = None

    @property
    def dossier(self) -> Path:
        return self.liste.parent

    @property
    def dossier_interne(self) -> Path | None:
        return self.liste_interne.parent if self.liste_interne else None


def pieces_complementaires(analyse: Analyse) -> tuple[list[tuple[str, str, str, bytes]], list[str]]:
    """(nom, genre, libellé, contenu) de l'AE de chaque lot, du bordereau des prix et du cadre de mémoire ; avertissements."""
    ctx = analyse.contexte
    base = nom_sur(str(ctx["reference"]))
    modele = modele_de(analyse, "AE")
    if not modele.is_file():
        raise ErreurDonnees(Probleme("modèle Word introuvable", modele))
    pieces = []
    for lot in ctx["lots"]:
        titre, sigle = acte_engagement.titre_document(analyse, lot)
        blocs, titres = acte_engagement.blocs(analyse, lot)
        pieces.append((acte_engagement.nom_fichier(analyse, lot), "AE", titre,
                       produire(modele, variables_modele(analyse, sigle, titre), blocs, titres)))
    from . import classeur_prix  # openpyxl (et numpy) : seulement à la publication, pas sur le chemin de `dce generer`

    prix = classeur_prix.produire(analyse)
    pieces.append((prix.nom, "bordereau", "Bordereau des prix (" + ", ".join(bordereau.sigles(analyse)) + ")", prix.contenu))
    blocs, titres = memoire.blocs_cadre(analyse)
    pieces.append((f"{base}-cadre-memoire-technique.docx", "cadre", memoire.TITRE,
                   produire(modele_de(analyse, "CMT"), variables_modele(analyse, "Mémoire technique", memoire.TITRE),
                            blocs, titres)))
    return pieces, prix.avertissements


def _suffixe(analyse: Analyse, nom: str) -> str:
    """« REF-CCAP.docx » → « CCAP »."""
    return Path(nom).stem.removeprefix(nom_sur(str(analyse.contexte["reference"])) + "-")


def libelle(analyse: Analyse, nom: str) -> str:
    """Libellé d'une pièce écrite par `generer`, d'après le suffixe de son nom."""
    suffixe = _suffixe(analyse, nom)
    if suffixe in analyse.catalogue.documents:
        return f"{analyse.catalogue.documents[suffixe]['titre']} ({suffixe})"
    if suffixe.startswith("DECP"):
        return "Données essentielles (DECP)" + (f" – lot {suffixe.rsplit('-', 1)[1]}" if "-lot-" in suffixe else "")
    return AUTRES_LIBELLES.get(suffixe, suffixe.replace("-", " ").capitalize())


def convertir_pieces(fichiers: list[Path], sortie: Path, analyse: Analyse, pdfa: bool = False,
                     travailleurs: int | None = None) -> dict[Path, Path]:
    """PDF de chaque pièce Word ou Excel, en un seul passage de LibreOffice (par travailleur)."""
    bureautique = [f for f in fichiers if f.suffix in BUREAUTIQUE]
    return pdf.convertir(bureautique, sortie, pdfa=pdfa, travailleurs=travailleurs,
                         date=analyse.contexte["date_lancement"])


ETAPES = ("Rédaction des pièces", "Conversion en PDF par LibreOffice", "Listes des pièces et archives")


def _separer(dce_contenus: dict[str, bytes], base: str) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """Pièces de la consultation (RC, CCAP, CCTP) et documents internes (annexe, fiche, manifeste, DECP)."""
    publiques = {f"{base}-{document}.docx" for document in PIECES}
    return ({n: c for n, c in dce_contenus.items() if n in publiques},
            {n: c for n, c in dce_contenus.items() if n not in publiques})


def noms_publication(reference: str) -> dict[str, str]:
    """Noms des deux dossiers, des deux archives et des deux listes d'une publication."""
    base = nom_sur(reference)
    return {"public": f"{base}-DCE", "interne": f"{base}-interne", "archive": f"{base}-DCE.zip",
            "archive_interne": f"{base}-interne.zip", "liste": f"{base}-liste-des-pieces.csv",
            "liste_interne": f"{base}-liste-des-pieces-internes.csv"}


@dataclass
class Preparation:
    """Une publication produite en mémoire (rien n'est encore écrit), puis écrite dans un dossier en préparation."""

    fichier_reponses: Path
    sortie: Path
    dce: Dce
    noms: dict[str, str]
    publiques: dict[str, bytes]
    internes: dict[str, bytes]
    complementaires: list[tuple[str, str, str, bytes]]
    avertissements: list[str]
    jointes: list[pieces_jointes.PieceJointe]
    pieces: list[Piece] = field(default_factory=list)
    docs_internes: list[Piece] = field(default_factory=list)

    @property
    def analyse(self) -> Analyse:
        return self.dce.analyse

    @property
    def a_convertir(self) -> list[Piece]:
        return [p for p in self.pieces + self.docs_internes if p.fichier.suffix in BUREAUTIQUE and p.genre != "acheteur"]

    def perimes(self) -> list[str]:
        """Fichiers d'une publication à plat d'une version précédente de dce : retirés."""
        base = nom_sur(str(self.analyse.contexte["reference"]))
        anciens = publies(self.sortie / self.noms["liste"])
        return anciens + [self.noms["liste"], f"{base}.zip"] if anciens else []


def preparer(fichier_reponses: Path | str, sortie: Path | str, racine: Path | None = None,
             date_droit: dt.date | None = None, strict: bool = False) -> Preparation:
    """Toutes les pièces d'une publication, en mémoire : rien n'est écrit."""
    fichier_reponses = Path(fichier_reponses)
    dce = produire_dce(fichier_reponses, racine, date_droit, strict=strict, complementaires=True)
    analyse = dce.analyse
    base = nom_sur(str(analyse.contexte["reference"]))
    jointes = lire_pieces_jointes(analyse, fichier_reponses)
    complementaires, avertissements = pieces_complementaires(analyse)
    publiques, internes = _separer(dce.contenus, base)
    internes[f"{base}-reponses{fichier_reponses.suffix.lower() or '.yaml'}"] = fichier_reponses.read_bytes()
    return Preparation(fichier_reponses, Path(sortie), dce, noms_publication(str(analyse.contexte["reference"])),
                     publiques, internes, complementaires, avertissements, jointes)


def ecrire_sources(prep: Preparation, dossier: Path) -> None:
    """Écrit les pièces Word, Excel et jointes dans `dossier` (dossier en préparation de `fichiers.ensemble`)."""
    analyse = prep.analyse
    public, interne = dossier / prep.noms["public"], dossier / prep.noms["interne"]
    pieces = [Piece(libelle(analyse, nom), chemin, _suffixe(analyse, nom))
              for nom, chemin in ecrire(prep.publiques, public).items()]
    for nom, genre, titre, contenu in prep.complementaires:
        ecrire_atomique(public / nom, contenu, durable=False)
        pieces.append(Piece(titre, public / nom, genre))
    pieces.sort(key=lambda p: ORDRE.index(p.genre) if p.genre in ORDRE else len(ORDRE))
    for jointe in prep.jointes:
        ecrire_atomique(public / jointe.nom, jointe.contenu, durable=False)
        pieces.append(Piece(jointe.titre, public / jointe.nom, "acheteur"))
    prep.pieces = pieces
    prep.docs_internes = [Piece(libelle(analyse, nom), chemin, _suffixe(analyse, nom))
                          for nom, chemin in ecrire(prep.internes, interne).items()]


def terminer(prep: Preparation, dossier: Path, pdfs: dict[Path, Path]) -> None:
    """Met chaque PDF (`pdfs` : {pièce source résolue: PDF converti}) à côté de sa pièce, puis écrit les listes des
    pièces et les archives dans `dossier`."""
    for p in prep.a_convertir:
        p.pdf = p.fichier.parent / p.fichier.with_suffix(".pdf").name
        os.rename(pdfs[p.fichier.resolve()], p.pdf)
    public, interne = dossier / prep.noms["public"], dossier / prep.noms["interne"]
    noms = prep.noms
    for parties, repertoire, liste, archive in ((prep.pieces, public, "liste", "archive"),
                                                (prep.docs_internes, interne, "liste_interne", "archive_interne")):
        ecrire_atomique(repertoire / noms[liste], liste_des_pieces(parties), durable=False)
        ecrire_atomique(dossier / noms[archive], archiver([f for p in parties for f in (p.fichier, p.pdf) if f]
                                                          + [repertoire / noms[liste]]), durable=False)


def resultat(prep: Preparation) -> Publication:
    """La publication mise en place dans sa sortie."""
    sortie, noms = prep.sortie, prep.noms
    for p in prep.pieces + prep.docs_internes:  # les fichiers sont désormais dans `sortie`
        p.fichier = sortie / p.fichier.parent.name / p.fichier.name
        p.pdf = p.fichier.with_suffix(".pdf") if p.pdf else None
    generation = Resultat(prep.analyse, {nom: sortie / (noms["public"] if nom in prep.publiques else noms["interne"])
                                         / nom for nom in prep.dce.contenus}, prep.dce.conformite)
    return Publication(prep.analyse, prep.pieces, sortie / noms["public"] / noms["liste"], sortie / noms["archive"],
                       generation, prep.avertissements, prep.docs_internes,
                       sortie / noms["interne"] / noms["liste_interne"], sortie / noms["archive_interne"])


def publier(fichier_reponses: Path | str, sortie: Path | str, racine: Path | None = None,
            date_droit: dt.date | None = None, pdfa: bool = False, travailleurs: int | None = None,
            strict: bool = False, progression: Callable[[int, str], None] | None = None) -> Publication:
    """Écrit dans `sortie` le dossier de consultation des entreprises (REF-DCE/ et REF-DCE.zip : ce que voient
    les candidats) et le dossier interne (REF-interne/ et REF-interne.zip : annexe de conformité, fiche de
    traçabilité, manifeste, réponses), chacun avec sa liste des pièces et leurs empreintes SHA-256.

    Tout est préparé dans un dossier temporaire du même système de fichiers, puis mis en place d'un coup
    (`fichiers.ensemble`) : un échec, même pendant la conversion en PDF, ne laisse rien de nouveau.
    `progression(étape, message)` : appelée au début de chaque étape (numéro dans `ETAPES`).
    """
    def etape(numero: int, message: str) -> None:
        if progression is not None:
            progression(numero, message)

    pdf.soffice()  # LibreOffice absent : on le dit avant d'écrire quoi que ce soit
    etape(0, ETAPES[0])
    prep = preparer(fichier_reponses, sortie, racine, date_droit, strict)
    with ensemble(prep.sortie, prep.perimes) as dossier:
        ecrire_sources(prep, dossier)
        a_convertir = prep.a_convertir
        etape(1, f"{ETAPES[1]} ({pluriel(a_convertir, 'pièce')})")
        pdfs = convertir_pieces([p.fichier for p in a_convertir], dossier / ".pdf", prep.analyse, pdfa, travailleurs)
        etape(2, ETAPES[2])
        terminer(prep, dossier, pdfs)
        shutil.rmtree(dossier / ".pdf", ignore_errors=True)
    return resultat(prep)


def liste_des_pieces(pieces: list[Piece]) -> bytes:
    """Liste CSV (séparateur « ; », UTF-8 avec BOM pour les tableurs) : pièce, fichier, format, taille, SHA-256."""
    tampon = io.StringIO()
    ecrivain = csv.writer(tampon, delimiter=";", lineterminator="\r\n")
    ecrivain.writerow(["Pièce", "Fichier", "Format", "Taille (octets)", "SHA-256"])
    for p in pieces:
        for f in (p.fichier, p.pdf):
            if f is None:
                continue
            contenu = f.read_bytes()
            ecrivain.writerow([p.libelle, f.name, f.suffix[1:].upper(), len(contenu), hashlib.sha256(contenu).hexdigest()])
    return ("\ufeff" + tampon.getvalue()).encode("utf-8")


def archiver(fichiers: list[Path]) -> bytes:
    """Archive zip reproductible : noms à plat, dates et droits fixes, ordre de la liste."""
    tampon = io.BytesIO()
    with zipfile.ZipFile(tampon, "w", zipfile.ZIP_DEFLATED) as z:
        for f in fichiers:
            info = zipfile.ZipInfo(f.name, DATE_ZIP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, f.read_bytes())
    return tampon.getvalue()


def publies(liste: Path) -> list[str]:
    """Fichiers d'une publication précédente, d'après sa liste des pièces : ceux que la nouvelle ne reprend pas
    (acte d'engagement d'un lot supprimé…) sont retirés avec elle."""
    try:
        return [ligne["Fichier"] for ligne in lire_liste(liste.read_bytes()) if ligne.get("Fichier")]
    except (OSError, UnicodeDecodeError, csv.Error, KeyError):
        return []


def lire_liste(contenu: bytes) -> list[dict[str, str]]:
    """Relit une liste des pièces (pour vérifier une archive)."""
    return list(csv.DictReader(io.StringIO(contenu.decode("utf-8-sig")), delimiter=";"))
