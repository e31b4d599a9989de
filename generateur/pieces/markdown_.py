"""Markdown des clauses → blocs (Python-Markdown puis lecture du HTML produit)."""

from __future__ import annotations

import importlib.util
import os
import re
from functools import lru_cache
from typing import Any

from . import blocs
from .blocs import Bloc, ElementListe, Liste, Paragraphe, Segment, Tableau, Titre
from ..donnees import cache, fenetre
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


def chauffer() -> None:
    """Importe la bibliothèque Markdown et crée le convertisseur (`_md`) : avant de créer les processus de calcul d'un
    lot, qui en héritent au lieu de le faire chacun à leur premier morceau à convertir (≈ 25 ms par processus neuf,
    mesuré)."""
    _md()


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
        self.a_completer = _ajouter(self.segments, data, self.gras > 0, self.italique > 0, self.a_completer)

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


@fenetre.par_fenetre(1024)
def _blocs_du_texte(texte: str) -> tuple[Bloc, ...]:
    """Les blocs d'un texte entier, en cache : la plupart des clauses rendues sont les mêmes, au caractère près,
    d'une consultation à l'autre (ni découpage ni recherche des morceaux pour elles). Gardés dans une `fenetre.Fenetre`
    (ceux qui reviennent d'une consultation à l'autre, 1 024 au plus, ≈ 5 Kio chacun avec leurs blocs ; ceux propres
    à une consultation s'en vont après elle), de TEXTE_GARDE_AU_PLUS caractères au plus."""
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


@fenetre.par_fenetre(1024)
def _blocs(texte: str) -> tuple[Bloc, ...]:
    """Un morceau de Markdown → ses blocs (tuple partagé, en cache).

    Les morceaux communs, qui reviennent à chaque consultation, restent en cache (`fenetre.Fenetre`, 1 024 au plus,
    5 Mio environ) ; ceux propres à une consultation s'en vont après elle, et la mémoire d'un processus de calcul ne
    croît pas avec la taille du lot.
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
                         maximum=1024, octets=512 * 1024, par_consultation=True)


# Morceaux lus sans Python-Markdown (`_direct`), blocs faits sans HTML : un paragraphe d'une ligne, un titre « # » à
# « ###### » d'une ligne, une liste simple (« - » ou « 1. », un élément par ligne, sans ligne blanche) seule ou après
# un tel paragraphe ou titre, un tableau. Leur contenu en ligne n'a, hors échappements (« \\- », « \\( ») et gras
# simple (« **…** » bien fermé, sans espace à l'intérieur des bords, ni « *** »), aucun caractère qui ouvre un motif
# en ligne de Markdown (emphase, HTML, entité, code, lien) ni caractère de contrôle. Ce sont la plupart des morceaux
# propres à une consultation (tableaux des lots, phrases et listes qui citent une réponse) : ceux que le cache ne peut
# pas avoir vus. Tout autre morceau, ou le moindre doute, est laissé à Python-Markdown (test par propriétés).
_SPECIAL = re.compile(r"[\\`*_<>&\[\]!|#~^={}\x00-\x1f\x7f]")
_ECHAPPEMENT = re.compile(r"\\(.)")
_LIGNE_BLANCHE = re.compile(r"(?:^|\n)[ ]*(?:\n|$)")
_ELEMENT = re.compile(r"(?:(-)|\d+\.) +(.*)")  # élément de liste (SaneUListProcessor, SaneOListProcessor)
_TITRE = re.compile(r"(#{1,6}) (.*)")


def _litteral(texte: str, echappes: list[str]) -> str | None:
    """Le texte que Python-Markdown tire d'un contenu en ligne (cellule, paragraphe) sans autre syntaxe que des
    échappements ; None si le contenu a autre chose."""
    if "\\" not in texte:
        return None if _SPECIAL.search(texte) else texte
    parties = _ECHAPPEMENT.split(texte)  # texte, caractère échappé, texte…
    for i, partie in enumerate(parties):
        if (partie not in echappes) if i % 2 else _SPECIAL.search(partie) is not None:
            return None
    return "".join(parties)


def _en_ligne(texte: str, echappes: list[str]) -> list[tuple[str, bool]] | None:
    """Les textes (et leur gras) que Python-Markdown tire d'un contenu en ligne fait de texte littéral (`_litteral`)
    et de gras simple : « **…** » non vide, sans blanc juste à l'intérieur des « ** » (« ** x** » reste tel quel dans
    Markdown), ni « *** » ; None pour tout autre contenu."""
    if "*" not in texte:
        contenu = _litteral(texte, echappes)
        return None if contenu is None else [(contenu, False)] if contenu else []
    if "***" in texte:
        return None
    parties = texte.split("**")  # texte, gras, texte…
    if not len(parties) % 2:
        return None
    resultat = []
    for i, partie in enumerate(parties):
        if i % 2 and (not partie or partie[0].isspace() or partie[-1].isspace()):
            return None
        contenu = _litteral(partie, echappes)
        if contenu is None:
            return None
        if contenu:
            resultat.append((contenu, i % 2 == 1))
    return resultat


def _debut_simple(texte: str) -> bool:
    """Le contenu d'une ligne qu'aucun autre bloc de Markdown ne revendique : lettre, « « » ou « ( » en tête,
    éventuellement après l'ouverture d'un gras."""
    tete = texte[2:3] if texte[:2] == "**" else texte[:1]
    return tete.isalpha() or tete in ("«", "(")


def _ajouter(segments: list[Segment], data: str, gras: bool, italique: bool, a_completer: bool) -> bool:
    """Ajoute aux segments un texte lu (données d'une balise HTML, ou texte du chemin direct) ; rend l'état « à
    compléter » après lui (entre les marques de formats.a_completer)."""
    data = data.replace("\n", " ")
    if segments and segments[-1].texte.endswith(" ") and data.startswith(" "):
        data = data.lstrip(" ")
    if not segments:
        data = data.lstrip()
    if DEBUT_A_COMPLETER not in data and FIN_A_COMPLETER not in data:
        if data:
            segments.append(Segment(data, gras, italique, a_completer))
        return a_completer
    for morceau in _A_COMPLETER.split(data):
        if morceau in (DEBUT_A_COMPLETER, FIN_A_COMPLETER):
            a_completer = morceau == DEBUT_A_COMPLETER
        elif morceau:
            segments.append(Segment(morceau, gras, italique, a_completer))
    return a_completer


def _segments(contenu: list[tuple[str, bool]], a_completer: bool) -> tuple[list[Segment], bool]:
    segments: list[Segment] = []
    for texte_, gras in contenu:
        a_completer = _ajouter(segments, texte_, gras, False, a_completer)
    return segments, a_completer


def _direct(texte: str) -> tuple[Bloc, ...] | None:
    """Les blocs que la lecture du HTML de Python-Markdown donnerait pour ce morceau, s'il est d'une forme simple
    (voir `_SPECIAL`) ; None sinon (Markdown le lira)."""
    if "\t" in texte or "\r" in texte:
        return None
    echappes = _md().ESCAPED_CHARS
    if texte[:1] == "|":
        return _tableau(texte, echappes)
    parties = texte.split("\n\n")
    if len(parties) > 2:
        return None
    resultat: list[Bloc] = []
    a_completer = False
    tete = parties[0]
    if len(parties) == 1 and _ELEMENT.match(tete):
        liste = tete
    else:
        if "\n" in tete:
            return None
        liste = parties[1] if len(parties) == 2 else None
        if tete[:1] == "#":
            m = _TITRE.fullmatch(tete)
            contenu = m and _en_ligne(m.group(2).strip(), echappes)
            if not contenu:
                return None
            segments, a_completer = _segments(contenu, a_completer)
            # même niveau que `_Lecteur` (« ### » et au-dessus : intertitre de niveau 3)
            resultat.append(Titre(max(3, len(m.group(1))), "".join(s.texte for s in segments).strip()))
        else:
            contenu = _en_ligne(tete, echappes) if _debut_simple(tete) else None
            if contenu is None:
                return None
            segments, a_completer = _segments(contenu, a_completer)
            if _nettoyer(segments):
                resultat.append(Paragraphe(segments))
    if liste is not None:
        elements = []
        ordonnee = None
        for ligne in liste.split("\n"):
            m = _ELEMENT.fullmatch(ligne)
            if m is None or not _debut_simple(m.group(2)):
                return None
            if ordonnee is None:
                ordonnee = m.group(1) is None
            elif ordonnee != (m.group(1) is None):  # « - » puis « 1. » : une autre liste pour Markdown
                return None
            contenu = _en_ligne(m.group(2), echappes)
            if contenu is None:
                return None
            segments, a_completer = _segments(contenu, a_completer)
            elements.append(ElementListe(_nettoyer(segments)))
        resultat.append(Liste(ordonnee=bool(ordonnee), elements=elements))
    return tuple(resultat)


def _tableau(texte: str, echappes: list[str]) -> tuple[Bloc, ...] | None:
    """Un tableau de l'extension « tables » (même découpage que son code : bords, cellules, colonnes manquantes),
    sans accent grave ni barre échappée (le découpage de l'extension se réduit alors à couper aux « | »)."""
    if "`" in texte or "\\|" in texte or _LIGNE_BLANCHE.search(texte):
        return None
    lignes = [ligne.strip(" ") for ligne in texte.split("\n")]
    if len(lignes) < 2:
        return None
    entete = lignes[0]
    bord = entete.startswith("|") or entete.endswith("|")

    def cellules(ligne: str) -> list[str]:  # TableProcessor._split_row
        if bord:
            if ligne.startswith("|"):
                ligne = ligne[1:]
            if ligne.endswith("|"):
                ligne = ligne[:-1]
        return ligne.split("|")

    colonnes = len(cellules(entete))
    if colonnes == 1 and bord:  # TableProcessor.test : chaque ligne d'un tableau d'une colonne a une barre
        for ligne in lignes[1:]:
            if not (ligne.startswith("|") or ligne.endswith("|")):
                return None
    elif colonnes < 2:
        return None
    separateur = cellules(lignes[1])
    if len(separateur) != colonnes or not set("".join(separateur)) <= set("|:- "):
        return None
    a_completer = False
    rangees = []
    for ligne in [entete] + (lignes[2:] or [None]):  # sans ligne : une ligne de cellules vides
        morceaux_ = cellules(ligne) if ligne is not None else []
        rangee = []
        for i in range(colonnes):
            contenu = _en_ligne(morceaux_[i].strip(" "), echappes) if i < len(morceaux_) else []
            if contenu is None:
                return None
            segments, a_completer = _segments(contenu, a_completer)
            rangee.append(_nettoyer(segments))
        rangees.append(rangee)
    return (Tableau(rangees, entete=True),)


def _convertir(texte: str, markdown_seul: bool = False) -> tuple[Bloc, ...]:
    """Les blocs d'un morceau (`markdown_seul` : toujours par Python-Markdown, pour les tests)."""
    if not markdown_seul:
        resultat = _direct(texte)
        if resultat is not None:
            return resultat
    lecteur = lecteur_html(_Lecteur)()
    md = _md()
    md.reset()
    lecteur.feed(md.convert(texte))
    lecteur.close()
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
