"""Texte technique du prescripteur ou du maître d'œuvre (CCTP d'un lot, Word .docx ou Markdown) → blocs.

Le fichier de réponses désigne, par lot, le texte technique (`lots.cctp_technique`, chemin relatif au fichier de
réponses) ; il est converti en Markdown (pandoc pour Word), ramené à ce que lit le moteur (`normaliser`, commun
avec l'import d'une clause Word, rendu/import_word.py) puis en blocs : titres, paragraphes, listes et tableaux
gardent leur nature et prennent le style des autres pièces. Le texte n'est pas un modèle Jinja : rien n'y est
interprété.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from .blocs import Bloc, Titre
from ..donnees import cache
from ..donnees.fichiers import chemin_reel_sous
from ..erreurs import ErreurDonnees, Probleme, option_manquante
from .markdown_ import lecteur_html, vers_blocs
from ..droit.regles import Analyse, numeros_textes_techniques

# Extensions admises et taille maximale d'un texte technique.
EXTENSIONS = (".docx", ".md", ".markdown")
TAILLE_MAX = 20 * 1024 * 1024
LIBELLE = "Texte technique du CCTP (prescripteur ou maître d'œuvre)"


_OPTIONS = "gfm docx --wrap=none"  # options de la conversion : partie de la clé du cache


def _pandoc() -> str | None:
    """Ce qui désigne le programme pandoc qu'emploiera pypandoc (sans importer pypandoc ni lancer pandoc) : la
    variable PYPANDOC_PANDOC, le pandoc fourni avec pypandoc_binary et celui du PATH (chemin, taille, date) ; None
    si pypandoc n'est pas installé."""
    spec = importlib.util.find_spec("pypandoc")
    if spec is None or not spec.origin:
        return None
    parties = [os.environ.get("PYPANDOC_PANDOC", "")]
    for chemin in (spec.origin, Path(spec.origin).parent / "files" / "pandoc", shutil.which("pandoc")):
        try:
            etat = os.stat(chemin) if chemin else None
        except OSError:
            etat = None
        parties.append(f"{chemin}:{etat.st_size}:{etat.st_mtime_ns}" if etat else f"{chemin}:absent")
    return "|".join(parties)


def convertir(fichier: Path) -> str:
    """Markdown GitHub produit par pandoc, sans retour à la ligne forcé ; gardé dans le cache disque de
    l'utilisateur (`donnees/cache.py`) sous l'empreinte du document et du programme pandoc : une commande suivante
    ne relance pas pandoc (≈ 0,3 s) pour le même document."""
    programme = _pandoc()
    if programme is None:
        return _convertir(fichier)
    try:
        contenu = fichier.read_bytes()
    except OSError:
        return _convertir(fichier)
    return cache.texte("pandoc", cache.empreinte(contenu, programme, _OPTIONS), lambda: _convertir(fichier))


def _convertir(fichier: Path) -> str:
    try:
        import pypandoc
    except ModuleNotFoundError as exc:  # option [import] : pandoc ne sert qu'à importer un texte Word
        raise option_manquante(exc, "l'import d'un document Word (clause du catalogue ou texte technique du CCTP)") from None
    try:
        return pypandoc.convert_file(str(fichier), "gfm", format="docx", extra_args=["--wrap=none"])
    except (RuntimeError, OSError) as exc:
        raise ErreurDonnees(Probleme(f"conversion du document Word impossible ({str(exc).strip()[:200]})", fichier)) \
            from None


class _TableauHTML:  # lu comme un HTMLParser (`lecteur_html`)
    """Tableau HTML complexe (cellules à plusieurs paragraphes) → lignes de cellules en texte."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lignes: list[list[str]] = []
        self.cellule: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.lignes.append([])
        elif tag in ("td", "th"):
            self.cellule = []
        elif tag in ("p", "li", "br") and self.cellule:
            self.cellule.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cellule is not None and self.lignes:
            self.lignes[-1].append(" ".join("".join(self.cellule).split()))
            self.cellule = None

    def handle_data(self, data: str) -> None:
        if self.cellule is not None:
            self.cellule.append(data)


def _tableau_pipe(lignes: list[list[str]]) -> str:
    if not lignes:
        return ""
    n = max(len(l) for l in lignes)
    lignes = [l + [""] * (n - len(l)) for l in lignes]

    def rang(l: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in l) + " |"

    return "\n".join([rang(lignes[0]), "|" + "---|" * n] + [rang(l) for l in lignes[1:]])


# « [ » d'abord (cherché directement, au lieu d'essayer chaque position du texte), puis : pas précédé de « ! »
_LIEN = re.compile(r"\[(?<!!\[)([^\]]*)\]\([^)]*\)")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)(\{[^}]*\})?")
_BALISE = re.compile(r"</?[A-Za-z][^>]*>")
_COMMENTAIRE = re.compile(r"<!--.*?-->", re.DOTALL)
_LISTE = re.compile(r"^( *)([-*+]|\d+[.)])( +)(.*)$")


def _listes(lignes: list[str]) -> list[str]:
    """Listes : retrait de 4 espaces par niveau, marqueurs « - » et « 1. », sans ligne vide entre éléments."""
    sortie: list[str] = []
    pile: list[int] = []  # retraits des marqueurs ouverts
    for i, ligne in enumerate(lignes):
        m = _LISTE.match(ligne)
        if m:
            retrait = len(m.group(1))
            while pile and retrait < pile[-1]:
                pile.pop()
            if not pile or retrait > pile[-1]:
                pile.append(retrait)
            niveau = len(pile) - 1
            marqueur = "-" if m.group(2) in "-*+" else "1."
            precedent = _LISTE.match(sortie[-2]) if len(sortie) > 1 and sortie[-1] == "" else None
            if precedent and (precedent.group(2) in "-*+") == (marqueur == "-"):
                sortie.pop()  # liste « lâche » de pandoc : éléments resserrés
            elif sortie and sortie[-1] != "" and not _LISTE.match(sortie[-1]):
                sortie.append("")  # une ligne vide avant toute liste
            sortie.append(" " * (4 * niveau) + f"{marqueur} {m.group(4)}")
            continue
        if ligne.strip() and pile and ligne.startswith(" "):
            # suite d'un élément de liste (second paragraphe) : rattachée à l'élément
            sortie.append(" " * (4 * len(pile)) + ligne.strip())
            continue
        if ligne.strip():
            pile = []
        sortie.append(ligne)
    return sortie


def normaliser(markdown: str, titre: Callable[[int, str, list[str]], str | None]) -> str:
    """Markdown de pandoc (ou écrit à la main) → Markdown que lit le moteur : tableaux HTML en tableaux à barres,
    images, liens, balises et filets retirés, listes resserrées. `titre(niveau, intitulé, lignes déjà écrites)`
    donne la ligne d'un titre (None : le titre est retiré)."""
    texte = _COMMENTAIRE.sub("", markdown.replace("\r\n", "\n"))
    # tableaux HTML (cellules complexes) → tableaux à barres
    while "<table" in texte:
        debut = texte.index("<table")
        fin = texte.find("</table>", debut)
        fin = len(texte) if fin < 0 else fin + len("</table>")
        lecteur = lecteur_html(_TableauHTML)()
        lecteur.feed(texte[debut:fin])
        texte = texte[:debut] + "\n\n" + _tableau_pipe(lecteur.lignes) + "\n\n" + texte[fin:]
    texte = _IMAGE.sub("", texte)
    texte = _LIEN.sub(r"\1", texte)
    texte = _BALISE.sub("", texte)
    lignes: list[str] = []
    for ligne in texte.split("\n"):
        ligne = ligne.rstrip()
        m = re.match(r"^(#{1,6})\s+(.*?)\s*#*$", ligne)
        if re.fullmatch(r"\s*([-*_]\s*){3,}", ligne) and not (lignes and lignes[-1].startswith("|")):
            continue  # filet horizontal : sans équivalent dans une pièce
        if m:
            ligne_titre = titre(len(m.group(1)), m.group(2).replace("\\", "").strip(), lignes)
            if ligne_titre is None:
                continue
            ligne = ligne_titre
            if lignes and lignes[-1] != "":
                lignes.append("")
        elif re.match(r"^\|?\s*:?-{3,}", ligne) and "|" in ligne:
            colonnes = ligne.strip().strip("|").count("|") + 1
            ligne = "|" + "---|" * colonnes
        elif ligne.startswith("|") and lignes and lignes[-1] != "" and not lignes[-1].startswith("|"):
            lignes.append("")  # une ligne vide avant tout tableau
        lignes.append(ligne)
    lignes = _listes(lignes)
    corps = "\n".join(lignes)
    return re.sub(r"\n{3,}", "\n\n", corps).strip("\n") + "\n"


def _titre_decale(niveau: int, intitule: str, lignes: list[str]) -> str:
    """Les titres du texte technique se rangent sous le sous-article du lot : niveau 1 → 3, 2 → 4…"""
    return "#" * min(6, niveau + 2) + " " + intitule


@lru_cache(maxsize=32)
def _markdown(chemin: Path, _date: float, _taille: int) -> str:
    if chemin.suffix.lower() == ".docx":
        brut = convertir(chemin)
    else:
        try:
            brut = chemin.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ErreurDonnees(Probleme(f"texte technique non encodé en UTF-8 (octet {exc.start})", chemin)) from None
    return _normalise(brut)


@lru_cache(maxsize=64)
def _normalise(brut: str) -> str:
    """`normaliser` d'un texte technique, gardé sous son texte : le même texte joint à plusieurs consultations (un
    CCTP type d'un lot de consultations), ou relu sous un autre chemin (dossier copié ou déplacé), n'est normalisé
    qu'une fois par processus."""
    return normaliser(brut, _titre_decale)


def fichier_lot(analyse: Analyse, lot: dict[str, Any]) -> Path | None:
    """Fichier du texte technique d'un lot, vérifié ; None si le lot n'en désigne pas."""
    valeur = str(lot.get("cctp_technique") or "").strip()
    if not valeur:
        return None
    if "dossier-reponses" not in analyse.memoire:  # résolu une fois par analyse, pas pour chaque lot
        analyse.memoire["dossier-reponses"] = Path(analyse.reponses.fichier).parent.resolve()
    dossier = analyse.memoire["dossier-reponses"]
    chemin = chemin_reel_sous(dossier, Path(valeur))
    quoi = f"lot {lot['numero']}, question « {LIBELLE} »"
    if Path(valeur).is_absolute() or ".." in Path(valeur).parts or not chemin.is_relative_to(dossier):
        raise ErreurDonnees(Probleme(f"{quoi} : « {valeur} » doit être un chemin relatif au dossier du fichier de "
                                     "réponses, sans « .. » (par exemple cctp/lot-1.docx)", analyse.reponses.fichier,
                                     None, "lots.cctp_technique"))
    if chemin.suffix.lower() not in EXTENSIONS:
        raise ErreurDonnees(Probleme(f"{quoi} : « {valeur} » n'est ni un document Word (.docx) ni un texte Markdown "
                                     "(.md)", analyse.reponses.fichier, None, "lots.cctp_technique"))
    if not chemin.is_file():
        raise ErreurDonnees(Probleme(f"{quoi} : fichier « {valeur} » introuvable (chemin relatif au fichier de "
                                     "réponses)", analyse.reponses.fichier, None, "lots.cctp_technique"))
    if chemin.stat().st_size > TAILLE_MAX:
        raise ErreurDonnees(Probleme(f"{quoi} : fichier « {valeur} » trop volumineux (plus de 20 Mo)",
                                     analyse.reponses.fichier, None, "lots.cctp_technique"))
    return chemin


def blocs_lot(analyse: Analyse, lot: dict[str, Any]) -> list[Bloc]:
    """Blocs du texte technique d'un lot ; vide s'il n'en a pas."""
    chemin = fichier_lot(analyse, lot)
    if chemin is None:
        return []
    etat = chemin.stat()
    return vers_blocs(_markdown(chemin, etat.st_mtime, etat.st_size))


def avec_texte_technique(analyse: Analyse) -> list[dict[str, Any]]:
    """Lots dont le CCTP contient un texte technique importé."""
    return [l for l in analyse.contexte["lots"] if str(l.get("cctp_technique") or "").strip()]


def titre_piece(analyse: Analyse, document: str) -> str:
    """Titre d'une pièce ; le CCTP sans aucun texte technique s'intitule autrement (catalogue.yaml,
    documents.CCTP.titre_sans_texte_technique) : il ne tient pas lieu de CCTP complet."""
    definition = analyse.catalogue.documents[document]
    if document == "CCTP" and definition.get("titre_sans_texte_technique") and not avec_texte_technique(analyse):
        return str(definition["titre_sans_texte_technique"])
    return str(definition["titre"])


def blocs_techniques(analyse: Analyse) -> tuple[list[Bloc], list[Titre]]:
    """Sous-articles « Lot n – intitulé : prescriptions techniques » de l'article des spécifications techniques,
    numérotés par `numeros_textes_techniques` (la même numérotation sert aux renvois des clauses), avec le texte
    importé de chaque lot."""
    blocs: list[Bloc] = []
    titres: list[Titre] = []
    numeros = numeros_textes_techniques(analyse)
    for lot in avec_texte_technique(analyse):
        sous_numero = numeros[lot["numero"]]
        intitule = (f"Lot {lot['numero']} – {lot['intitule']} : prescriptions techniques" if analyse.contexte["allotie"]
                    else "Prescriptions techniques")
        titre = Titre(2, f"{sous_numero}\u00a0– {intitule}", f"_Toc_art_{sous_numero.replace('.', '_')}")
        blocs.append(titre)
        titres.append(titre)
        blocs.extend(blocs_lot(analyse, lot))
    return blocs, titres
