"""Markdown des clauses → blocs (Python-Markdown puis lecture du HTML produit)."""

from __future__ import annotations

import importlib.util
import os
import re
from functools import lru_cache
from typing import Any

from . import blocs
from .blocs import Bloc, ElementListe, Liste, Paragraphe, Segment, Tableau, Titre
from ..donnees import cache
from ..donnees.formats import DEBUT_A_COMPLETER, FIN_A_COMPLETER

_A_COMPLETER = re.compile(f"({DEBUT_A_COMPLETER}|{FIN_A_COMPLETER})")


@lru_cache(maxsize=1)
def _md() -> Any:
    """Le convertisseur Markdown, créé à la première conversion : quand tous les morceaux sont dans la mémoire
    disque (`_MEMOIRE`), une commande n'importe pas même la bibliothèque Markdown."""
    import markdown

    md = markdown.Markdown(extensions=["tables", "sane_lists"], output_format="html")
    # Le corps d'une clause n'a ni liens, ni images, ni code (README, « Ajouter une clause ») : ces motifs,
    # essayés sur chaque morceau de texte, coûtaient le tiers de la conversion. Ils apparaissent tels quels.
    for motif in ("backtick", "reference", "link", "image_link", "image_reference", "short_reference",
                  "short_image_ref", "autolink", "automail"):
        md.inlinePatterns.deregister(motif)
    return md


def _version_markdown() -> str:
    """Ce qui désigne la bibliothèque Markdown installée, sans l'importer (chemin et date de son module)."""
    spec = importlib.util.find_spec("markdown")
    if spec is None or not spec.origin:
        return "absent"
    try:
        return f"{spec.origin}:{os.stat(spec.origin).st_mtime_ns}"
    except OSError:
        return spec.origin


@lru_cache(maxsize=None)
def lecteur_html(classe: type) -> type:
    """`classe` (ses méthodes `handle_*`) dérivée aussi de `HTMLParser`, créée au premier lecteur : html.parser (et
    html.entities, une quinzaine d'expressions régulières : ≈ 1 % des instructions de `dce generer`) n'est importé
    que par une commande qui lit du HTML (Markdown ou tableau d'un texte technique pas encore en cache)."""
    from html.parser import HTMLParser

    return type(classe.__name__, (classe, HTMLParser), {"__doc__": classe.__doc__, "__module__": classe.__module__})


class _Lecteur:  # lu comme un HTMLParser (`lecteur_html`)
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocs: list[Bloc] = []
        self.segments: list[Segment] | None = None
        self.gras = 0
        self.italique = 0
        self.listes: list[Liste] = []
        self.elements: list[ElementListe] = []
        self.tableau: list[list[list[Segment]]] | None = None
        self.titre_niveau = 0
        self.a_completer = False  # entre les marques d'une valeur « à compléter » (formats.a_completer)

    # -- texte
    def handle_data(self, data: str) -> None:
        if self.segments is None:
            if not data.strip():
                return
            if self.elements:
                self.segments = self.elements[-1].segments
            else:
                self.segments = []
                self.blocs.append(Paragraphe(self.segments))
        data = data.replace("\n", " ")
        if self.segments and self.segments[-1].texte.endswith(" ") and data.startswith(" "):
            data = data.lstrip(" ")
        if not self.segments:
            data = data.lstrip()
        for morceau in _A_COMPLETER.split(data):
            if morceau in (DEBUT_A_COMPLETER, FIN_A_COMPLETER):
                self.a_completer = morceau == DEBUT_A_COMPLETER
            elif morceau:
                self.segments.append(Segment(morceau, self.gras > 0, self.italique > 0, self.a_completer))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("strong", "b"):
            self.gras += 1
        elif tag in ("em", "i"):
            self.italique += 1
        elif tag == "br":
            if self.segments is not None:
                self.segments.append(Segment("\n"))
        elif tag == "p":
            if self.elements:
                element = self.elements[-1]
                if element.segments:
                    element.segments.append(Segment("\n"))
                self.segments = element.segments
            elif self.tableau is None:
                self.segments = []
                self.blocs.append(Paragraphe(self.segments))
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.segments = []
            # « ### » (et au-dessus) : intertitre de niveau 3 sous le sous-article ; « #### » et suivants gardent
            # leur rang (texte technique importé, dont la hiérarchie de titres est décalée sous l'article du lot)
            self.titre_niveau = max(3, int(tag[1]))
        elif tag in ("ul", "ol"):
            liste = Liste(ordonnee=tag == "ol")
            if self.elements:
                self.elements[-1].sous_liste = liste
            else:
                self.blocs.append(liste)
            self.listes.append(liste)
            self.segments = None
        elif tag == "li":
            element = ElementListe([])
            self.listes[-1].elements.append(element)
            self.elements.append(element)
            self.segments = element.segments
        elif tag == "table":
            self.tableau = []
        elif tag == "tr" and self.tableau is not None:
            self.tableau.append([])
        elif tag in ("td", "th") and self.tableau is not None:
            self.segments = []
            self.tableau[-1].append(self.segments)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("strong", "b"):
            self.gras -= 1
        elif tag in ("em", "i"):
            self.italique -= 1
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.blocs.append(Titre(self.titre_niveau, "".join(s.texte for s in self.segments or []).strip()))
            self.segments = None
        elif tag == "p":
            if not self.elements:
                self.segments = None
        elif tag == "li":
            self.elements.pop()
            self.segments = self.elements[-1].segments if self.elements else None
        elif tag in ("ul", "ol"):
            self.listes.pop()
            self.segments = None
        elif tag in ("td", "th"):
            self.segments = None
        elif tag == "table" and self.tableau is not None:
            self.blocs.append(Tableau(self.tableau, entete=True))
            self.tableau = None


def _nettoyer(segments: list[Segment]) -> list[Segment]:
    while segments and segments[-1].texte in ("\n", " "):
        segments.pop()
    if segments:
        segments[-1].texte = segments[-1].texte.rstrip(" ")
    return segments


def _nettoyer_liste(liste: Liste) -> None:
    for element in liste.elements:
        _nettoyer(element.segments)
        if element.sous_liste:
            _nettoyer_liste(element.sous_liste)


def vers_blocs(texte: str) -> list[Bloc]:
    """Convertit le Markdown d'une clause rendue en blocs.

    Le texte est converti bloc Markdown par bloc Markdown (`morceaux`), chacun mis en cache : d'une
    consultation à l'autre, seuls les paragraphes où figure une valeur propre sont analysés à nouveau.
    Les blocs rendus sont partagés : ni ce module ni ses appelants ne les modifient ensuite.
    """
    if len(texte) > TEXTE_GARDE_AU_PLUS:
        return list(_blocs_du_texte.__wrapped__(texte))
    return list(_blocs_du_texte(texte))


TEXTE_GARDE_AU_PLUS = 16_384  # caractères : une clause rendue (un texte technique importé, plus long, ne l'est pas)


@lru_cache(maxsize=1024)
def _blocs_du_texte(texte: str) -> tuple[Bloc, ...]:
    """Les blocs d'un texte entier, en cache : la plupart des clauses rendues sont les mêmes, au caractère près,
    d'une consultation à l'autre (ni découpage ni recherche des morceaux pour elles). 1 024 textes de
    TEXTE_GARDE_AU_PLUS caractères au plus (≈ 10 Mio avec leurs blocs, mesuré sur le banc : 5 Kio par texte)."""
    return tuple(bloc for morceau in morceaux(texte) for bloc in _blocs(morceau))


# Un bloc qui commence ainsi prolonge le précédent (élément de liste, suite indentée, citation) : pas de coupure.
_SUITE = re.compile(r"[ \t]|[-*+][ \t]|\d+[.)][ \t]|>")
_HTML = re.compile(r"<[A-Za-z/!?]")
_LIGNES_BLANCHES = re.compile(r"(\n(?:[ \t]*\n)+)")


def morceaux(texte: str) -> list[str]:
    """Coupe le texte aux lignes blanches qui séparent deux blocs indépendants (paragraphes, titres, tableaux).

    Une liste reste d'un seul tenant (ses éléments séparés par des lignes blanches forment une seule
    liste, numérotée d'un bout à l'autre) : la conversion par morceaux donne les mêmes blocs que celle du
    texte entier (vérifié par les tests de robustesse).
    """
    if _HTML.search(texte):
        return [texte]  # un bloc HTML brut peut enjamber les lignes blanches : texte converti d'un coup
    resultat: list[str] = []
    parties = _LIGNES_BLANCHES.split(texte.strip("\n"))  # morceau, séparateur, morceau, séparateur…
    for i in range(0, len(parties), 2):
        morceau = parties[i]
        if resultat and _SUITE.match(morceau):
            resultat[-1] += parties[i - 1] + morceau  # séparateur d'origine : le texte est rendu à l'identique
        elif morceau.strip():
            resultat.append(morceau)
    return resultat


@lru_cache(maxsize=1024)
def _blocs(texte: str) -> tuple[Bloc, ...]:
    """Un morceau de Markdown → ses blocs (tuple partagé, en cache).

    1 024 morceaux (5 Mio environ) : les morceaux communs, qui reviennent à chaque consultation, restent en
    cache (96 % de réussite en lot) ; ceux propres à une consultation en sortent, et la mémoire d'un processus
    de calcul ne croît pas avec la taille du lot.
    """
    deja = _MEMOIRE.lire(texte)
    if deja is not None:
        return deja
    resultat = _convertir(texte)
    _MEMOIRE.ecrire([(texte, resultat)])
    return resultat


# Les morceaux déjà convertis par une commande précédente (cache disque de l'utilisateur) : une commande
# `dce generer` ne convertit que ceux qu'aucune n'a vus. Invalidé si ce module, blocs.py ou Markdown changent.
# Fichier relu en entier par chaque commande (≈ 20 ms par Mio) : 512 Kio au plus, les morceaux les plus servis
# d'abord (une consultation : 230 à 360 Kio ; après un lot, ses morceaux communs plutôt que ceux d'une consultation).
_MEMOIRE = cache.Memoire("markdown", cache.empreinte(cache.sources(__file__, blocs.__file__), _version_markdown()),
                         maximum=1024, octets=512 * 1024)


# Morceaux sans syntaxe en ligne, lus sans Python-Markdown (`_evenements`) : un paragraphe d'une ligne ou un tableau
# dont chaque cellule n'a, hors échappements (« \\- », « \\( »), aucun caractère qui ouvre un motif en ligne de
# Markdown (emphase, HTML, entité, code, lien) ni caractère de contrôle. Ce sont la plupart des morceaux propres à une
# consultation (tableaux des lots, phrases qui citent une réponse) : ceux que le cache ne peut pas avoir vus.
_SPECIAL = re.compile(r"[\\`*_<>&\[\]!|#~^={}\x00-\x1f\x7f]")
_ECHAPPEMENT = re.compile(r"\\(.)")
_LIGNE_BLANCHE = re.compile(r"(?:^|\n)[ ]*(?:\n|$)")


def _litteral(texte: str, echappes: list[str]) -> str | None:
    """Le texte que Python-Markdown tire d'un contenu en ligne (cellule, paragraphe) sans autre syntaxe que des
    échappements ; None si le contenu a autre chose."""
    parties = _ECHAPPEMENT.split(texte)  # texte, caractère échappé, texte…
    for i, partie in enumerate(parties):
        if (partie not in echappes) if i % 2 else _SPECIAL.search(partie) is not None:
            return None
    return "".join(parties)


def _evenements(texte: str) -> list[tuple[str, str]] | None:
    """Les balises et textes que `_Lecteur` recevrait du HTML de Python-Markdown pour ce morceau, s'il est un
    paragraphe d'une ligne ou un tableau sans syntaxe en ligne (voir `_SPECIAL`) ; None sinon (Markdown le lira).
    Même découpage que l'extension « tables » (son propre code : lignes, cellules, colonnes manquantes)."""
    if "\t" in texte or "\r" in texte:
        return None
    if texte[:1].isalpha() or texte[:1] in "«(":
        if "\n" in texte:
            return None
        contenu = _litteral(texte, _md().ESCAPED_CHARS)
        return None if contenu is None else [("p", ""), ("", contenu), ("/p", "")]
    if texte[:1] != "|" or _LIGNE_BLANCHE.search(texte):
        return None
    md = _md()
    tableaux = md.parser.blockprocessors["table"]
    if not tableaux.test(None, texte):
        return None
    lignes = texte.split("\n")
    colonnes = len(tableaux.separator)
    evenements = [("table", "")]
    for rang, ligne in enumerate([lignes[0]] + (lignes[2:] or [None])):  # sans ligne : une ligne de cellules vides
        balise = "th" if rang == 0 else "td"
        cellules = tableaux._split_row(ligne.strip(" ")) if ligne is not None else []
        evenements.append(("tr", ""))
        for i in range(colonnes):
            contenu = _litteral(cellules[i].strip(" "), md.ESCAPED_CHARS) if i < len(cellules) else ""
            if contenu is None:
                return None
            evenements += [(balise, ""), ("", contenu), ("/" + balise, "")]
        evenements.append(("/tr", ""))
    return evenements + [("/table", "")]


def _convertir(texte: str, markdown_seul: bool = False) -> tuple[Bloc, ...]:
    """Les blocs d'un morceau (`markdown_seul` : toujours par Python-Markdown, pour les tests)."""
    lecteur = lecteur_html(_Lecteur)()
    evenements = None if markdown_seul else _evenements(texte)
    if evenements is None:
        md = _md()
        md.reset()
        lecteur.feed(md.convert(texte))
        lecteur.close()
    else:
        for balise, contenu in evenements:
            if not balise:
                if contenu:
                    lecteur.handle_data(contenu)
            elif balise[0] == "/":
                lecteur.handle_endtag(balise[1:])
            else:
                lecteur.handle_starttag(balise, [])
    for bloc in lecteur.blocs:
        if isinstance(bloc, Paragraphe):
            _nettoyer(bloc.segments)
        elif isinstance(bloc, Liste):
            _nettoyer_liste(bloc)
        elif isinstance(bloc, Tableau):
            for ligne in bloc.lignes:
                for cellule in ligne:
                    _nettoyer(cellule)
    return tuple(b for b in lecteur.blocs if not (isinstance(b, Paragraphe) and not b.segments))
