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
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ..pieces import acte_engagement, bordereau, memoire
from . import classeur_prix, pdf
from ..donnees.fichiers import DATE_ZIP, ecrire_atomique, ensemble
from .documents import produire
from ..erreurs import ErreurDonnees, Probleme
from .generation import Resultat, ecrire, modele_de, produire_dce, variables_modele
from ..donnees.fichiers import nom_sur
from ..droit.regles import Analyse

BUREAUTIQUE = (".docx", ".xlsx")
AUTRES_LIBELLES = {"tracabilite-SPASER": "Fiche de traçabilité SPASER", "annexe-conformite": "Annexe de conformité"}
# Ordre des pièces dans la liste et l'archive : celui du RC (contenu du dossier), puis les annexes.
ORDRE = ("RC", "AE", "CCAP", "CCTP", "bordereau", "cadre")


@dataclass
class Piece:
    """Une pièce du DCE : son fichier Word ou Excel et son PDF."""

    libelle: str
    fichier: Path
    genre: str = ""
    pdf: Path | None = None


@dataclass
class Publication:
    analyse: Analyse
    pieces: list[Piece]
    liste: Path
    archive: Path
    generation: Resultat
    avertissements: list[str] = field(default_factory=list)


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
    return AUTRES_LIBELLES.get(suffixe, suffixe.replace("-", " ").capitalize())


def convertir_pieces(fichiers: list[Path], sortie: Path, analyse: Analyse, pdfa: bool = False,
                     travailleurs: int | None = None) -> dict[Path, Path]:
    """PDF de chaque pièce Word ou Excel, en un seul passage de LibreOffice (par travailleur)."""
    bureautique = [f for f in fichiers if f.suffix in BUREAUTIQUE]
    return pdf.convertir(bureautique, sortie, pdfa=pdfa, travailleurs=travailleurs,
                         date=analyse.contexte["date_lancement"])


def publier(fichier_reponses: Path | str, sortie: Path | str, racine: Path | None = None,
            date_droit: dt.date | None = None, pdfa: bool = False, travailleurs: int | None = None,
            strict: bool = False) -> Publication:
    """Écrit le DCE complet dans `sortie` : pièces, PDF, liste des pièces et archive REFERENCE.zip.

    Tout est préparé dans un dossier temporaire du même système de fichiers, puis mis en place d'un coup
    (`fichiers.ensemble`) : un échec, même pendant la conversion en PDF, ne laisse rien de nouveau.
    """
    pdf.soffice()  # LibreOffice absent : on le dit avant d'écrire quoi que ce soit
    sortie = Path(sortie)
    dce = produire_dce(fichier_reponses, racine, date_droit, strict=strict, complementaires=True)
    analyse = dce.analyse
    base = nom_sur(str(analyse.contexte["reference"]))
    complementaires, avertissements = pieces_complementaires(analyse)
    with ensemble(sortie, lambda: publies(sortie / f"{base}-liste-des-pieces.csv")) as dossier:
        fichiers = ecrire(dce.contenus, dossier)
        pieces = [Piece(libelle(analyse, nom), chemin, _suffixe(analyse, nom)) for nom, chemin in fichiers.items()
                  if chemin.suffix in BUREAUTIQUE]
        for nom, genre, titre, contenu in complementaires:
            ecrire_atomique(dossier / nom, contenu, durable=False)
            pieces.append(Piece(titre, dossier / nom, genre))
        pieces.sort(key=lambda p: ORDRE.index(p.genre) if p.genre in ORDRE else len(ORDRE))
        pdfs = convertir_pieces([p.fichier for p in pieces], dossier, analyse, pdfa, travailleurs)
        for p in pieces:
            p.pdf = pdfs[p.fichier.resolve()]
        ecrire_atomique(dossier / f"{base}-liste-des-pieces.csv", liste_des_pieces(pieces), durable=False)
        ecrire_atomique(dossier / f"{base}.zip", archiver([f for p in pieces for f in (p.fichier, p.pdf) if f]
                                                          + [dossier / f"{base}-liste-des-pieces.csv"]),
                        durable=False)
    for p in pieces:  # les fichiers sont désormais dans `sortie`
        p.fichier = sortie / p.fichier.name
        p.pdf = sortie / p.pdf.name if p.pdf else None
    resultat = Resultat(analyse, {nom: sortie / nom for nom in dce.contenus}, dce.conformite)
    return Publication(analyse, pieces, sortie / f"{base}-liste-des-pieces.csv", sortie / f"{base}.zip", resultat,
                       avertissements)


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
