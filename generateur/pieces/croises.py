"""Contrôles croisés entre les pièces produites : ce qu'une pièce dit d'une autre, ou répète d'une autre, est relu dans
les deux (section `controles_croises` de catalogue.yaml).

La relecture (`relecture.py`) lit chaque pièce seule ; un juriste lit aussi les pièces ensemble : la durée d'un lot à
l'acte d'engagement et à l'article du CCAP qu'il cite, la liste des flux de tri du CCAP et celle du CCTP, la pénalité
à laquelle renvoie le CCTP, le document sur lequel le prix est jugé selon le RC et selon le cadre de mémoire. Chaque
contrôle est une donnée : une vérification nommée, écrite une fois ici (`VERIFICATIONS`), et ses « mentions » (dans
quelle pièce, par quel motif, trouver ce qui doit concorder). Ses défauts rejoignent ceux de la relecture (annexe
de conformité, « À vérifier ») et citent les deux pièces.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .blocs import Bloc, ElementListe, Liste, Paragraphe, Segment, Tableau, Titre
from . import relecture
from .relecture import Piece, Unite, extrait, piece, problemes_de_section, section_verifiee
from ..donnees import cache, fenetre, yaml_lignes
from ..donnees.catalogue import Catalogue
from ..droit.conformite import Defaut, entrees_de_section
from ..erreurs import ErreurDonnees, Probleme

SECTION = "controles_croises"
CHAMPS = {"id", "libelle", "bloquant", "verification", "explication", "mentions", "termes", "cible", "motifs",
          "exemple", "correct"}
OBLIGATOIRES = ("id", "libelle", "verification", "explication", "mentions", "exemple")
# clés d'une mention, toutes des expressions régulières
CLES_MENTION = {"piece", "motif", "liste", "colonne", "lignes", "titre", "lot"}


class Motif:
    """Expression régulière d'un contrôle : son texte, compilée au premier usage (`compile`). Ce qu'elle trouve dans
    un texte est gardé dans la mémoire disque (`_trouves`) : une commande dont les textes ont déjà été cherchés ne la
    compile pas. Égale à toute autre du même texte."""

    __slots__ = ("pattern", "_compile", "_cle")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._compile: re.Pattern[str] | None = None
        self._cle: str | None = None

    def compile(self) -> re.Pattern[str]:
        if self._compile is None:
            self._compile = re.compile(self.pattern)
        return self._compile

    @property
    def cle(self) -> str:
        """Ce qui la nomme dans la mémoire disque : empreinte de son texte."""
        if self._cle is None:
            self._cle = cache.empreinte(self.pattern)[:16]
        return self._cle

    def search(self, texte: str) -> re.Match[str] | None:
        return self.compile().search(texte)

    def fullmatch(self, texte: str) -> re.Match[str] | None:
        return self.compile().fullmatch(texte)

    def __eq__(self, autre: object) -> bool:
        return isinstance(autre, Motif) and autre.pattern == self.pattern

    def __hash__(self) -> int:
        return hash(self.pattern)

    def __repr__(self) -> str:
        return f"Motif({self.pattern!r})"


class Trouve:
    """Une correspondance d'un `Motif` dans un texte, gardée (mémoire disque) : ce que les contrôles lisent d'un
    `re.Match` (`start`, `end`, `group`, `groupdict`)."""

    __slots__ = ("_texte", "_debut", "_fin", "_groupes", "_nommes")

    def __init__(self, texte: str, debut: int, fin: int, groupes: tuple[str | None, ...],
                 nommes: dict[str, str | None]) -> None:
        self._texte, self._debut, self._fin, self._groupes, self._nommes = texte, debut, fin, groupes, nommes

    def start(self) -> int:
        return self._debut

    def end(self) -> int:
        return self._fin

    def group(self, nom: int | str = 0) -> str | None:
        if nom == 0:
            return self._texte[self._debut:self._fin]
        return self._groupes[nom - 1] if isinstance(nom, int) else self._nommes[nom]

    def groupdict(self) -> dict[str, str | None]:
        return dict(self._nommes)


@dataclass(frozen=True)
class Mention:
    """Où trouver, dans une pièce, ce qui doit concorder : `piece` (motif du nom de la pièce) et l'un de `motif`
    (passage, groupes nommés selon la vérification), `liste` (paragraphe d'annonce suivi d'éléments de liste),
    `colonne` (en-tête de colonne d'un tableau), `lignes` (cellules qui contiennent ce texte) ; `titre` restreint la
    recherche aux sections dont le titre y répond ; `lot` lit le numéro du lot dans le nom de la pièce."""

    piece: Motif
    motif: Motif | None = None
    liste: Motif | None = None
    colonne: Motif | None = None
    lignes: Motif | None = None
    titre: Motif | None = None
    lot: Motif | None = None


@dataclass(frozen=True)
class Controle:
    id: str
    libelle: str
    explication: str
    bloquant: bool
    verification: str
    mentions: tuple[Mention, ...]
    termes: dict[str, Motif] = field(default_factory=dict)
    cible: str = ""
    motifs: dict[str, Motif] = field(default_factory=dict)
    exemple: dict[str, list[str]] = field(default_factory=dict)
    correct: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Occurrence:
    """Ce qu'une mention trouve : l'unité où elle commence, le texte comparé, les valeurs lues."""

    unite: Unite
    debut: int
    fin: int
    texte: str
    valeurs: list[str]
    couvre: bool = False  # lignes d'un bordereau : chaque valeur doit y être nommée, chaque ligne nommer une valeur


# --- Correspondances des motifs, gardées par texte --------------------------------------------------------------

# D'une consultation à l'autre, presque toutes les unités (paragraphes des clauses communes, cellules, titres) ont le
# même texte : ce que chaque motif y trouve est gardé par texte (correspondances, qui ne dépendent que du motif et du
# texte), et seul un texte jamais vu est cherché. Une `fenetre.Fenetre` par motif : les textes qui reviennent d'une
# consultation à l'autre sont gardés (TEXTES_AU_PLUS par motif au plus), ceux propres à une consultation (objet,
# montants, lieux) s'en vont après elle ; au-delà de MOTIFS_AU_PLUS motifs (catalogues successifs d'un serveur), tout
# est oublié. TEXTES_AU_PLUS = 0 : rien n'est gardé.
# D'une commande à l'autre, les correspondances d'un `Motif` sont gardées dans la mémoire disque (`_DISQUE`) : texte →
# {clé du motif → correspondances brutes} ; les recherches coûtaient ≈ 8 % des instructions de `dce generer`.
TEXTES_AU_PLUS = 10_000
MOTIFS_AU_PLUS = 1024
_TROUVES: dict[Motif | re.Pattern[str], fenetre.Fenetre] = {}
_DISQUE: list[cache.Memoire] = []  # créée au premier texte cherché (empreinte du code de ce module)
Brut = tuple[tuple[int, int, tuple[str | None, ...], dict[str, str | None]], ...]


def _disque() -> cache.Memoire:
    if not _DISQUE:
        _DISQUE.append(cache.Memoire("croises", cache.empreinte(cache.sources(__file__), sys.version),
                                     maximum=10_000, octets=512 * 1024, par_consultation=True))
    return _DISQUE[0]


# Processus qui a importé ce module. Les processus de calcul d'un lot (forkés, et travailleurs Dask :
# `cache.principal`) ne se servent pas de la mémoire disque : ils ne l'écrivent pas (`cache.Memoire.ecrire`), leur
# mémoire en RAM (`_TROUVES`) reprend déjà les textes communs d'une consultation à l'autre, et l'hériter du processus
# principal coûtait ≈ 10 Mio par processus (1 000 consultations, 2 processus : plus gros processus 100 → 110 Mio)
# sans rien gagner en temps. Ni de la mémoire de la consultation (`cache.groupe`) : un essai sur le banc de 1 000, pas
# de gain visible, et 3 Mio de plus par processus (une `Trouve` par correspondance reprise, au lieu du `re.Match` de la
# recherche).
_PROCESSUS = os.getpid()


def _chercher(motif: Motif | re.Pattern[str], texte: str) -> tuple[Trouve | re.Match[str], ...]:
    """`motif.finditer(texte)` ; pour un `Motif`, hors d'un processus de calcul (forké, ou travailleur Dask), repris
    de la mémoire disque ou cherché puis gardé."""
    if not isinstance(motif, Motif):
        return tuple(motif.finditer(texte))
    if not cache.principal(_PROCESSUS):
        return tuple(motif.compile().finditer(texte))
    disque = _disque()
    deja: dict[str, Brut] | None = disque.lire(texte)
    brut = deja.get(motif.cle) if isinstance(deja, dict) else None
    if brut is None:
        brut = tuple((x.start(), x.end(), x.groups(), x.groupdict()) for x in motif.compile().finditer(texte))
        disque.ecrire([(texte, {**deja, motif.cle: brut} if isinstance(deja, dict) else {motif.cle: brut})])
    return tuple([Trouve(texte, *x) for x in brut])


def _trouves(motif: Motif | re.Pattern[str], texte: str) -> tuple[Trouve | re.Match[str], ...]:
    """Les correspondances de `motif` dans `texte`, comme `motif.finditer(texte)` (la première : `motif.search`)."""
    lus = _TROUVES.get(motif)
    if lus is None:
        if len(_TROUVES) >= MOTIFS_AU_PLUS:
            _TROUVES.clear()
        lus = _TROUVES[motif] = fenetre.Fenetre(TEXTES_AU_PLUS)
    trouves = lus.get(texte)
    if trouves is None:
        trouves = lus[texte] = _chercher(motif, texte)
    return trouves


def _avec(motif: Motif, unites: list[Unite]) -> list[tuple[Unite, tuple[Trouve | re.Match[str], ...]]]:
    """Les unités où `motif` trouve quelque chose, dans l'ordre, avec leurs correspondances (`_trouves`) ; les
    textes gardés d'une consultation à l'autre (la plupart) sont lus directement."""
    lus = _TROUVES.get(motif)
    gardees = {} if lus is None else lus.gardees
    resultat = []
    for u in unites:
        trouves = gardees.get(u.texte)
        if trouves is None:
            trouves = _trouves(motif, u.texte)
        if trouves:
            resultat.append((u, trouves))
    return resultat


# --- Lecture des mentions ---------------------------------------------------------------------------------------


def _norme(t: str) -> str:
    return " ".join(t.replace("\u00a0", " ").replace("\u202f", " ").replace("’", "'").split()).casefold()


def _elements(t: str) -> list[str]:
    """« papier et carton, métal, bois et plâtre » → papier et carton, métal, bois, plâtre : virgules et
    points-virgules séparent, le dernier « et » (ou « ou ») aussi."""
    morceaux = [m for m in re.split(r"\s*[,;]\s*", _norme(t).strip(" .:;")) if m]
    if morceaux:
        dernier = re.split(r"\s+(?:et|ou)\s+(?!.*\s(?:et|ou)\s)", morceaux[-1], maxsplit=1)
        morceaux[-1:] = dernier
    return [m.strip(" .") for m in morceaux if m.strip(" .")]


def _valeurs(c: Controle, textes: list[str], decouper: bool = False) -> list[str]:
    """Termes nommés trouvés (si le contrôle en a), sinon les éléments : un par texte (éléments de liste, cellules)
    ou, si `decouper`, ceux de l'énumération d'un seul passage."""
    if c.termes:
        joint = " ".join(textes)
        return [nom for nom, motif in c.termes.items() if _trouves(motif, joint)]
    return [e for t in textes for e in (_elements(t) if decouper else [_norme(t).strip(" .;")])]


def _dans_section(m: Mention, u: Unite) -> bool:
    return m.titre is None or bool(_trouves(m.titre, u.titre_section) or _trouves(m.titre, u.article))


def occurrences(c: Controle, m: Mention, p: Piece) -> list[Occurrence]:
    """Ce que la mention `m` trouve dans la pièce `p`, dans l'ordre du texte."""
    trouvees: list[Occurrence] = []
    unites = p.unites
    if m.motif is not None:
        for u, correspondances in _avec(m.motif, unites):
            if not _dans_section(m, u):
                continue
            for x in correspondances:
                t = x.groupdict().get("texte") or x.group(0)
                trouvees.append(Occurrence(u, x.start(), x.end(), t, _valeurs(c, [t], decouper=True)))
    elif m.liste is not None:
        for i, u in enumerate(unites):
            if u.genre != "paragraphe" or not _dans_section(m, u) or not _trouves(m.liste, u.texte):
                continue
            elements = []
            for v in unites[i + 1:]:
                if v.genre != "liste":
                    break
                elements.append(v.texte)
            if elements:
                trouvees.append(Occurrence(u, 0, len(u.texte), " ; ".join(elements), _valeurs(c, elements)))
    elif m.colonne is not None:
        groupes: dict[str, list[Unite]] = {}
        for u in unites:
            if u.genre == "cellule" and _trouves(m.colonne, u.colonne) and _dans_section(m, u) and u.texte.strip():
                groupes.setdefault(u.section + "\0" + u.colonne, []).append(u)
        for cellules in groupes.values():
            textes = [u.texte for u in cellules]
            trouvees.append(Occurrence(cellules[0], 0, len(cellules[0].texte), " ; ".join(textes), _valeurs(c, textes)))
    elif m.lignes is not None:
        cellules = [u for u in unites if u.genre == "cellule" and _dans_section(m, u) and _trouves(m.lignes, u.texte)]
        if cellules:
            textes = [u.texte for u in cellules]
            trouvees.append(Occurrence(cellules[0], 0, len(cellules[0].texte), " ; ".join(textes),
                                       [_norme(t) for t in textes], couvre=True))
    return trouvees


def _pieces(m: Mention, pieces: dict[str, Piece]) -> list[Piece]:
    return [p for nom, p in pieces.items() if m.piece.fullmatch(nom)]


def _defaut(c: Controle, o: Occurrence | tuple[Unite, int, int], detail: str) -> Defaut:
    u, debut, fin = (o.unite, o.debut, o.fin) if isinstance(o, Occurrence) else o
    return Defaut(c.id, c.libelle, u.piece, u.article, extrait(u.texte, debut, fin), c.bloquant, detail)


def _cite(o: Occurrence) -> str:
    court = o.texte if len(o.texte) <= 160 else o.texte[:157].rsplit(" ", 1)[0] + "…"
    return f"{o.unite.piece}, {o.unite.article}\u00a0: «\u00a0{court}\u00a0»"


# --- Vérifications ----------------------------------------------------------------------------------------------


def _racine(mot: str) -> str:
    """Premier mot significatif d'une valeur, sans marque du pluriel : « bananes » → « banane »."""
    mots = [w for w in re.findall(r"[\w-]+", mot) if len(w) >= 3]
    premier = mots[0] if mots else mot
    return re.sub(r"(?:s|x)$", "", premier)


def _concordance(c: Controle, pieces: dict[str, Piece]) -> Iterable[Defaut]:
    """La première occurrence (dans l'ordre des mentions) fait foi ; chaque autre dit la même chose : mêmes
    éléments de liste, mêmes termes ; des lignes de bordereau nomment chaque élément, et rien d'autre."""
    toutes = [o for m in c.mentions for p in _pieces(m, pieces) for o in occurrences(c, m, p)
              if o.valeurs or not c.termes]  # un passage qui ne nomme aucun des termes n'est pas comparé
    reference = next((o for o in toutes if not o.couvre), None)
    if reference is None:
        return
    attendues = set(reference.valeurs)
    for o in toutes:
        if o is reference:
            continue
        if o.couvre:
            racines = {v: _racine(v) for v in attendues}
            absentes = sorted(v for v, r in racines.items() if not any(r in ligne for ligne in o.valeurs))
            en_trop = [ligne for ligne in o.valeurs if not any(r in ligne for r in racines.values())]
        else:
            absentes = sorted(attendues - set(o.valeurs))
            en_trop = [v for v in o.valeurs if v not in attendues]
        if absentes or en_trop:
            ecarts = ([f"ici absent{'s' if len(absentes) > 1 else ''}\u00a0: {', '.join(absentes)}"] if absentes else []) \
                + ([f"ici en plus\u00a0: {', '.join(en_trop)}"] if en_trop else [])
            yield _defaut(c, o, f"ne concorde pas avec {_cite(reference)} ({' ; '.join(ecarts)})")


def _unites_article(p: Piece, article: str) -> list[Unite]:
    return [u for u in p.unites if u.section == article or u.section.startswith(article + ".")]


def _valeur_article(c: Controle, pieces: dict[str, Piece]) -> Iterable[Defaut]:
    """« durée … de 14 mois, … à l'article 3.3 du CCAP » : l'article cité de la pièce `cible` donne cette valeur,
    pour ce lot si l'article a un tableau par lot (première colonne : numéro du lot), sinon dans son texte."""
    visee = pieces.get(c.cible)
    if visee is None:
        return
    for m in c.mentions:
        for p in _pieces(m, pieces):
            lot = next(iter(_trouves(m.lot, p.nom)), None) if m.lot is not None else None  # `m.lot.search(p.nom)`
            for u, correspondances in _avec(m.motif, p.unites) if m.motif is not None else ():
                for x in correspondances:
                    article, valeur = x.group("article"), _norme(x.group("valeur"))
                    unite = _norme(x.groupdict().get("unite") or "")
                    if article not in visee.articles:
                        continue  # renvoi vers un article absent : la règle renvoi-article-absent le dit
                    dans = _unites_article(visee, article)
                    lignes = [v.ligne for v in dans if v.genre == "cellule" and lot and v.ligne
                              and _norme(v.ligne[0]) == lot.group(1)]
                    if lignes:
                        juste = any(_norme(cellule) in (valeur, f"{valeur} {unite}") for ligne in lignes for cellule in ligne)
                        ou = f"ligne du lot {lot.group(1)}"
                    else:
                        cherche = re.compile(rf"(?<![\d,]){re.escape(valeur)}\s+{re.escape(unite)}\b")
                        juste = any(cherche.search(_norme(v.texte)) for v in dans)
                        ou = "texte"
                    if not juste:
                        yield _defaut(c, (u, x.start(), x.end()),
                                      f"{c.cible}, article {article} ({ou})\u00a0: pas de {valeur} {unite}".rstrip())


def _renvoi_penalite(c: Controle, pieces: dict[str, Piece]) -> Iterable[Defaut]:
    """« sans préjudice des pénalités prévues par le CCAP » (sans numéro) : un article de pénalités de la pièce
    `cible` (titre répondant au motif `titres`) vise l'article d'où part le renvoi ; « la pénalité prévue à
    l'article 8.2 » (dans la pièce cible, ou « du CCAP » : groupe `piece`) : l'article cité est un article de
    pénalités."""
    visee = pieces.get(c.cible)
    titres = c.motifs["titres"]
    if visee is None:
        return
    penalites = []
    titre_section = article = None
    dedans = False
    for u in visee.unites:  # les unités qui se suivent ont presque toujours la même section et le même article
        if u.titre_section != titre_section or u.article != article:
            titre_section, article = u.titre_section, u.article
            dedans = bool(_trouves(titres, titre_section) or _trouves(titres, article))
        if dedans:
            penalites.append(u)
    for m in c.mentions:
        for p in _pieces(m, pieces):
            for u, correspondances in _avec(m.motif, p.unites) if m.motif is not None else ():
                for x in correspondances:
                    article = x.groupdict().get("article")
                    if article and p.nom != c.cible and not x.groupdict().get("piece"):
                        continue  # « l'article 4 » d'une autre pièce : son propre article, pas celui de la cible
                    if article:
                        if article in visee.articles and not any(
                                _trouves(titres, v.titre_section) for v in visee.unites if v.section == article):
                            yield _defaut(c, (u, x.start(), x.end()),
                                          f"{c.cible}, article {article}\u00a0: ce n'est pas un article de pénalités")
                        continue
                    if not u.section:
                        continue
                    du = "" if p.nom == c.cible else rf"\s+du\s+{re.escape(p.nom)}\b"
                    vise = re.compile(rf"\barticle\s+{re.escape(u.section)}(?![\d.]\d){du}", re.IGNORECASE)
                    # colonne « Article » d'un tableau de pénalités : le numéro seul (« 5.1 », « 3.1 du CCTP »)
                    cellule = re.compile(rf"(?:l'article\s+)?{re.escape(u.section)}{du}", re.IGNORECASE)
                    if not any(vise.search(v.texte) or (v.genre == "cellule" and _norme(v.colonne) == "article"
                                                        and cellule.fullmatch(_norme(v.texte))) for v in penalites):
                        yield _defaut(c, (u, x.start(), x.end()),
                                      f"aucune pénalité du {c.cible} ne vise l'article {u.section}"
                                      + ("" if p.nom == c.cible else f" du {p.nom}"))


def _cumul(c: Controle, pieces: dict[str, Piece]) -> Iterable[Defaut]:
    """Un fait déjà puni par une autre pénalité (motif de la mention : livraison après l'heure limite, punie aussi
    par la pénalité de retard) figure dans une section qui déclare ses pénalités cumulables (`cumul`), sans que la
    pièce dise qu'elles sont exclusives pour ce fait (`exclusion`)."""
    cumul, exclusion = c.motifs["cumul"], c.motifs["exclusion"]
    for m in c.mentions:
        for p in _pieces(m, pieces):
            if _avec(exclusion, p.unites):
                continue
            for u, correspondances in _avec(m.motif, p.unites) if m.motif is not None else ():
                x = correspondances[0]
                cumulables = next((v for v in p.unites if v.section == u.section and _trouves(cumul, v.texte)), None)
                if cumulables is not None:
                    y = _trouves(cumul, cumulables.texte)[0]
                    yield _defaut(c, (u, x.start(), x.end()),
                                  f"même section\u00a0: «\u00a0{extrait(cumulables.texte, y.start(), y.end())}\u00a0»")


def _renvoi_titre(c: Controle, pieces: dict[str, Piece]) -> Iterable[Defaut]:
    """« le cadre de réponse « Engagements… », qui figure à l'article 5 du cadre de mémoire technique » : le renvoi
    donne le numéro de l'article (groupe `article`) et le titre de cet article dans la pièce `cible` contient le
    nom cité (groupe `nom`)."""
    visee = pieces.get(c.cible)
    if visee is None:
        return
    for m in c.mentions:
        for p in _pieces(m, pieces):
            for u, correspondances in _avec(m.motif, p.unites) if m.motif is not None else ():
                for x in correspondances:
                    nom, article = _norme(x.group("nom")), x.groupdict().get("article")
                    titres = [t for t in visee.titres if nom in _norme(t)]
                    if not article:
                        ou = f" (il y figure\u00a0: {titres[0]})" if titres else ""
                        yield _defaut(c, (u, x.start(), x.end()), f"renvoi sans numéro d'article du {c.cible}{ou}")
                    elif not any(re.match(rf"(?:Article\s+)?{re.escape(article)}(?![\d.]\d)", t) for t in titres):
                        ou = f" (il figure à\u00a0: {titres[0]})" if titres else ""
                        yield _defaut(c, (u, x.start(), x.end()), f"{c.cible}, article {article}\u00a0: autre titre{ou}")


VERIFICATIONS: dict[str, Callable[[Controle, dict[str, Piece]], Iterable[Defaut]]] = {
    "concordance": _concordance,
    "valeur-article": _valeur_article,
    "renvoi-penalite": _renvoi_penalite,
    "cumul": _cumul,
    "renvoi-titre": _renvoi_titre,
}
# ce que chaque vérification exige en plus de ses mentions : groupes nommés de leur motif, champs, motifs nommés
EXIGE: dict[str, dict[str, Any]] = {
    "concordance": {},
    "valeur-article": {"groupes": {"valeur", "article"}, "cible": True},
    "renvoi-penalite": {"cible": True, "motifs": {"titres"}},
    "cumul": {"motifs": {"cumul", "exclusion"}},
    "renvoi-titre": {"groupes": {"nom"}, "cible": True},
}


# --- Règles -----------------------------------------------------------------------------------------------------


def pieces_d_exemple(exemple: dict[str, list[str]]) -> dict[str, Piece]:
    """Pièces d'essai écrites en lignes : « # titre » (article), « ## titre » (sous-article), « - élément »,
    « | a | b | » (tableau, première ligne = en-tête), tout autre ligne : un paragraphe."""
    resultat = {}
    for nom, lignes in exemple.items():
        blocs: list[Bloc] = []
        for ligne in lignes:
            ligne = str(ligne)
            if ligne.startswith("## "):
                blocs.append(Titre(2, ligne[3:]))
            elif ligne.startswith("# "):
                blocs.append(Titre(1, ligne[2:]))
            elif ligne.startswith("- "):
                element = ElementListe([Segment(ligne[2:])])
                if blocs and isinstance(blocs[-1], Liste):
                    blocs[-1].elements.append(element)
                else:
                    blocs.append(Liste(False, [element]))
            elif ligne.startswith("|"):
                cellules = [[Segment(x.strip())] for x in ligne.strip().strip("|").split("|")]
                if blocs and isinstance(blocs[-1], Tableau):
                    blocs[-1].lignes.append(cellules)
                else:
                    blocs.append(Tableau([cellules]))
            else:
                blocs.append(Paragraphe([Segment(ligne)]))
        resultat[str(nom)] = piece(str(nom), blocs)
    return resultat


def _exemple_valide(valeur: Any) -> bool:
    return isinstance(valeur, dict) and bool(valeur) and all(
        isinstance(v, list) and v and all(isinstance(x, str) for x in v) for v in valeur.values())


def _regles(doc: yaml_lignes.Document, fichier: Path, verifier: bool = True) -> list[Controle]:
    """Les contrôles de la section, vérifiés ; sans `verifier` (section déjà vérifiée : `relecture.section_verifiee`),
    ni les motifs ni les exemples ne sont essayés (les champs le sont encore)."""
    brut = (doc.donnees or {}).get(SECTION) or []
    problemes: list[Probleme] = []

    def pb(message: str, chemin: str) -> None:
        problemes.append(Probleme(message, fichier, doc.ligne(chemin), chemin))

    def regex(valeur: Any, chemin: str) -> Motif | None:
        motif = Motif(str(valeur))
        try:
            if verifier:
                motif.compile()
        except re.error as exc:
            pb(f"motif invalide ({exc})", chemin)
            return None
        return motif

    resultat: list[tuple[str, Controle]] = []
    for chemin, r in entrees_de_section(brut, SECTION, ("contrôles croisés", "un contrôle croisé"), CHAMPS,
                                        OBLIGATOIRES, pb):
        verification = str(r.get("verification"))
        if verification not in VERIFICATIONS:
            pb(f"vérification « {verification} » inconnue ({', '.join(VERIFICATIONS)})", f"{chemin}.verification")
            continue
        exige = EXIGE[verification]
        mentions, valide = [], True
        if not isinstance(r.get("mentions"), list) or not r["mentions"]:
            pb("« mentions » : une liste de mentions (piece, et motif, liste, colonne ou lignes)", f"{chemin}.mentions")
            continue
        for j, m in enumerate(r["mentions"]):
            ici = f"{chemin}.mentions.{j}"
            if not isinstance(m, dict) or "piece" not in m or not set(m) & {"motif", "liste", "colonne", "lignes"}:
                pb("une mention nomme sa pièce (« piece ») et dit où lire : motif, liste, colonne ou lignes", ici)
                valide = False
                continue
            for cle in sorted(set(m) - CLES_MENTION):
                pb("champ inconnu", f"{ici}.{cle}")
                valide = False
            compiles = {k: regex(v, f"{ici}.{k}") for k, v in m.items() if k in CLES_MENTION}
            if None in compiles.values():
                valide = False
                continue
            manquants = exige.get("groupes", set()) - set((compiles.get("motif") or Motif("")).compile().groupindex) \
                if verifier else ()
            if manquants:
                pb(f"la vérification « {verification} » demande un « motif » aux groupes nommés "
                   f"{', '.join(sorted(manquants))}", f"{ici}.motif" if "motif" in m else ici)
                valide = False
                continue
            mentions.append(Mention(**compiles))
        if exige.get("cible") and not r.get("cible"):
            pb(f"la vérification « {verification} » demande « cible » : la pièce visée (RC, CCAP, CCTP…)", chemin)
            valide = False
        motifs = {}
        for nom in exige.get("motifs", set()):
            if nom not in (r.get("motifs") or {}):
                pb(f"la vérification « {verification} » demande le motif « {nom} » dans « motifs »",
                   f"{chemin}.motifs" if "motifs" in r else chemin)
                valide = False
            else:
                motifs[nom] = regex(r["motifs"][nom], f"{chemin}.motifs.{nom}")
        termes = {str(k): regex(v, f"{chemin}.termes.{k}") for k, v in (r.get("termes") or {}).items()}
        for champ in ("exemple", "correct"):
            if champ in r and not _exemple_valide(r[champ]):
                pb(f"« {champ} » : chaque pièce d'essai (RC, CCAP…) avec la liste de ses lignes", f"{chemin}.{champ}")
                valide = False
        if not valide or None in motifs.values() or None in termes.values():
            continue
        resultat.append((chemin, Controle(
            str(r["id"]), " ".join(str(r["libelle"]).split()), " ".join(str(r["explication"]).split()),
            bool(r.get("bloquant", False)), verification, tuple(mentions), termes, str(r.get("cible") or ""),
            motifs, r["exemple"], r.get("correct") or {})))
    for chemin, c in resultat if verifier else ():
        if not [d for d in appliquer(c, pieces_d_exemple(c.exemple)) if d.regle == c.id]:
            pb(f"contrôle « {c.id} » : son exemple n'est pas détecté", f"{chemin}.exemple")
        if c.correct and appliquer(c, pieces_d_exemple(c.correct)):
            pb(f"contrôle « {c.id} » : son texte correct est signalé à tort", f"{chemin}.correct")
    if problemes:
        raise ErreurDonnees(problemes)
    return [c for _, c in resultat]


def appliquer(c: Controle, pieces: dict[str, Piece]) -> list[Defaut]:
    return list(VERIFICATIONS[c.verification](c, pieces))


_LUS: dict[int, tuple[yaml_lignes.Document, list[Controle]]] = {}


def controles(catalogue: Catalogue) -> list[Controle]:
    """Section `controles_croises` du catalogue, vérifiée ; lue une fois par catalogue chargé."""
    doc = catalogue.document_yaml
    if id(doc) not in _LUS:
        if len(_LUS) >= 8:
            _LUS.clear()
        _LUS[id(doc)] = (doc, section_verifiee(doc, catalogue.fichier, SECTION, _regles, __file__, *relecture.CODE_VERIFICATION))
    return _LUS[id(doc)][1]


def motifs_du_controle(c: Controle) -> Iterator[Motif]:
    """Tous les motifs d'un contrôle : ceux de ses mentions, ses termes et ses autres motifs."""
    for m in c.mentions:
        for f in fields(m):
            motif = getattr(m, f.name)
            if motif is not None:
                yield motif
    yield from c.termes.values()
    yield from c.motifs.values()


def chauffer(catalogue: Catalogue) -> None:
    """Lit la section et compile les motifs de ses contrôles (sinon compilés au premier texte à chercher) : avant de
    créer les processus de calcul d'un lot, qui en héritent au lieu de les compiler chacun."""
    for c in controles(catalogue):
        for motif in motifs_du_controle(c):
            motif.compile()


def lit(catalogue: Catalogue, nom: str) -> bool:
    """Un contrôle croisé lit-il les unités de la pièce `nom` : une mention la désigne, ou un contrôle la vise
    (`cible`) ? Sinon, elle peut lui être donnée sans ses unités (`relecture.Resume`)."""
    return any(c.cible == nom or any(m.piece.fullmatch(nom) for m in c.mentions) for c in controles(catalogue))


def controler(catalogue: Catalogue, pieces: dict[str, Piece | relecture.Resume]) -> list[Defaut]:
    """Défauts de tous les contrôles croisés sur les pièces relues, dans l'ordre des contrôles ; une pièce qu'aucun
    contrôle ne lit (`lit`) peut être donnée par son `relecture.Resume`."""
    lues = relecture.sans_resumes(pieces)
    return [d for c in controles(catalogue) for d in appliquer(c, lues)]


def verifier_regles(racine: Path) -> list[Probleme]:
    """Pour `dce catalogue verifier` : problèmes de la section `controles_croises` du catalogue de `racine`."""
    return problemes_de_section(racine, _regles)
