"""Relecture automatique des pièces produites : le texte final (modèle de document neutre) relu comme le ferait
un juriste pressé, avec les règles de la section `relecture` de catalogue.yaml.

Chaque règle est une donnée : un motif (expression régulière) cherché dans chaque paragraphe, élément de liste,
cellule ou titre ; ou une vérification nommée, écrite une fois ici (`VERIFICATIONS`) : renvoi vers un article, un contenu
ou une annexe absents, formes typographiques mêlées dans une même pièce. Chaque défaut nomme la pièce, l'article
(titre de niveau 1 qui le précède) et un extrait.
"""

from __future__ import annotations

import bisect
import pickle
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

from . import blocs
from .blocs import Bloc, Liste, Paragraphe, ParagrapheRevise, Segment, Tableau, Titre
from ..donnees import cache, fenetre, yaml_lignes
from ..donnees.catalogue import Catalogue
from ..droit import conformite
from ..droit.conformite import Defaut, entrees_de_section
from ..erreurs import ErreurDonnees, Probleme

SECTION = "relecture"
CHAMPS = {"id", "libelle", "bloquant", "motif", "verification", "explication", "exemple", "pieces", "formes", "contenus",
          "sauf_pieces"}
OBLIGATOIRES = ("id", "libelle", "explication", "exemple")
CONTEXTE = 45  # caractères cités de part et d'autre d'un défaut
SANS_ARTICLE = "(avant le premier article)"
NUMERO = r"\d+(?:\.\d+)*"
SUITE = r"(?:\s*(?:,|et|à|ou)\s*" + NUMERO + r")*"
RE_NUMERO_TITRE = re.compile(r"^(?:Article\s+)?(" + NUMERO + r")\b")
RE_ANNEXES = re.compile(r"\bAnnexes?\b")
T = TypeVar("T")


@dataclass(unsafe_hash=True)
class Unite:
    """Un morceau de texte lu : paragraphe, élément de liste, cellule ou titre, et l'article qui le porte.

    Jamais modifiée une fois lue ; pas `frozen` pour autant : des milliers d'unités par consultation, et un
    `__init__` figé coûte six fois plus (égalité et empreinte restent celles des champs)."""

    piece: str
    article: str
    texte: str
    # Pour les contrôles croisés entre pièces (pieces/croises.py) : le titre numéroté qui précède (« 3.3 » et son
    # texte), la nature du morceau (titre, paragraphe, liste, entete, cellule) et, pour une cellule, l'en-tête de sa
    # colonne et les cellules de sa ligne.
    section: str = ""
    titre_section: str = ""
    genre: str = ""
    colonne: str = ""
    ligne: tuple[str, ...] = ()


SEPARATEUR = "\n\x00\n"  # entre deux unités jointes pour une recherche : « ^ » et « $ » y restent des bords d'unité


@dataclass
class Piece:
    """Le texte d'une pièce, découpé en unités, et les numéros de ses articles et sous-articles."""

    nom: str
    unites: list[Unite]
    articles: set[str] = field(default_factory=set)
    annexes: bool = False
    titres: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Regle:
    id: str
    libelle: str
    explication: str
    exemple: str
    bloquant: bool
    motif_texte: str | None  # tel qu’écrit au catalogue ; compilé au premier texte à chercher (`Memoire`)
    verification: str
    options: dict[str, Any]


# --- Lecture des blocs ------------------------------------------------------------------------------------------


# Une valeur que le profil de l'acheteur marque explicitement « à compléter » (surlignée dans Word) n'est pas un
# défaut de rédaction : le contrôle « profil-acheteur » de l'annexe la recense, et --strict la refuse. La relecture
# la lit comme une valeur ordinaire, pour ne pas la compter deux fois ni y voir une valeur vide.
VALEUR_DU_PROFIL = "valeur du profil de l’acheteur"


def texte(segments: list[Segment]) -> str:
    return "".join([VALEUR_DU_PROFIL if s.a_completer else s.texte for s in segments])


def _textes(b: Bloc) -> Iterable[str]:
    if isinstance(b, Titre):
        yield b.texte
    elif isinstance(b, Paragraphe):
        yield texte(b.segments)
    elif isinstance(b, ParagrapheRevise):
        yield "".join(t for signe, t in b.morceaux if signe != "-")
    elif isinstance(b, Liste):
        pile = list(b.elements)
        while pile:
            e = pile.pop(0)
            yield texte(e.segments)
            if e.sous_liste:
                pile.extend(e.sous_liste.elements)


# Unités déjà lues, partagées d'une pièce et d'une consultation à l'autre (une unité n'est jamais modifiée) : la
# plupart des paragraphes (clauses communes) et des lignes de tableau (fiche, annexe) reviennent à l'identique, dans
# le même article ; des milliers d'objets de moins à créer, puis à suivre par le ramasse-miettes, par consultation.
# Clé : tout ce qui fait l'unité (pièce, article, section, genre, texte ; pour un tableau, la ligne et son en-tête).
# Une `fenetre.Fenetre` : les unités qui reviennent d'une consultation à l'autre sont gardées (UNITES_AU_PLUS au plus),
# celles propres à une consultation s'en vont après elle.
UNITES_AU_PLUS = 10_000
_UNITES = fenetre.Fenetre(UNITES_AU_PLUS)
# Unités de chaque bloc déjà lu (hors titres), par lieu (pièce, article, section, titre de la section), gardées sous
# l'identité du bloc : les blocs des clauses viennent du cache du Markdown, partagés d'une consultation à l'autre et
# jamais modifiés ; leurs textes ne sont plus relus. Bornée à part ; une entrée s'en va avec son bloc (blocs propres
# à une consultation).
_UNITES_BLOCS = cache.ParObjet(4096)
LIEUX_PAR_BLOC = 16  # lieux gardés par bloc au plus


def piece(nom: str, blocs: list[Bloc], ignorer: tuple[str, ...] = ()) -> Piece:
    """Texte d'une pièce ; `ignorer` : titres d'articles (début) dont le contenu n'est pas relu (citations)."""
    gardees = _UNITES
    p = Piece(nom, [])
    unites = p.unites
    article, ignore = SANS_ARTICLE, False
    section, titre_section = "", ""
    lieu = (nom, article, section, titre_section)
    for b in blocs:
        if isinstance(b, Titre):
            p.titres.append(b.texte)
            numero = RE_NUMERO_TITRE.match(b.texte)
            if numero:
                p.articles.add(numero.group(1))
                section, titre_section = numero.group(1), b.texte
            if RE_ANNEXES.search(b.texte):
                p.annexes = True
            if b.niveau == 1:
                article = b.texte
                ignore = any(b.texte.split(" – ", 1)[-1].startswith(i) for i in ignorer)
            lieu = (nom, article, section, titre_section)
            if not ignore and b.texte.strip():
                cle = (nom, article, b.texte.replace("\n", " "), section, titre_section, "titre")
                u = gardees.get(cle)
                if u is None:
                    u = gardees[cle] = Unite(*cle)
                unites.append(u)
            continue
        if ignore:
            continue
        par_lieu = _UNITES_BLOCS.obtenir(b, dict)
        lues = par_lieu.get(lieu)
        if lues is None:
            if len(par_lieu) >= LIEUX_PAR_BLOC:
                par_lieu.clear()
            lues = par_lieu[lieu] = _unites_du_bloc(b, *lieu)
        unites.extend(lues)
    return p


def _unites_du_bloc(b: Bloc, nom: str, article: str, section: str, titre_section: str) -> list[Unite]:
    """Les unités d'un bloc autre qu'un titre, lu dans ce lieu."""
    if isinstance(b, Tableau):
        return _cellules(nom, article, section, titre_section, b.lignes)
    gardees = _UNITES
    genre = "liste" if isinstance(b, Liste) else "paragraphe"
    unites = []
    for t in _textes(b):
        if t.strip():
            cle = (nom, article, t.replace("\n", " "), section, titre_section, genre)
            u = gardees.get(cle)
            if u is None:
                u = gardees[cle] = Unite(*cle)
            unites.append(u)
    return unites


def _cellules(nom: str, article: str, section: str, titre_section: str,
              lignes: list[list[list[Segment]]]) -> list[Unite]:
    """Les unités des cellules d'un tableau, ligne par ligne : genre « entete » (première ligne) ou « cellule »,
    en-tête de sa colonne et textes de sa ligne (pour les contrôles croisés) ; cellules vides omises."""
    unites: list[Unite] = []
    if not lignes:
        return unites
    gardees = _UNITES
    # une cellule d'un seul segment (presque toutes) est lue sans passer par `texte`
    entete = tuple([(c[0].texte if len(c) == 1 and not c[0].a_completer else texte(c)).replace("\n", " ")
                    for c in lignes[0]])
    largeur = len(entete)
    for rang, ligne in enumerate(lignes):
        cellules = tuple([(c[0].texte if len(c) == 1 and not c[0].a_completer else texte(c)).replace("\n", " ")
                          for c in ligne])
        genre = "entete" if rang == 0 else "cellule"
        cle = (nom, article, section, titre_section, genre, entete, cellules)
        rangee = gardees.get(cle)
        if rangee is None:
            rangee = gardees[cle] = [Unite(nom, article, t, section, titre_section, genre,
                                           entete[j] if j < largeur else "", cellules)
                                     for j, t in enumerate(cellules) if t.strip()]
        unites.extend(rangee)
    return unites


def extrait(t: str, debut: int, fin: int) -> str:
    """Le passage fautif avec un peu de contexte, coupé aux mots, points de suspension aux bords."""
    a, b = max(0, debut - CONTEXTE), min(len(t), fin + CONTEXTE)
    if a > 0:
        a = t.find(" ", a, debut) + 1 or a
    if b < len(t):
        b = t.rfind(" ", fin, b) if t.rfind(" ", fin, b) > 0 else b
    return ("…" if a > 0 else "") + re.sub(r"[ \t\r\n]+", " ", t[a:b]).strip() + ("…" if b < len(t) else "")


def _defaut(r: Regle, u: Unite, debut: int, fin: int, detail: str = "") -> Defaut:
    return Defaut(r.id, r.libelle, u.piece, u.article, extrait(u.texte, debut, fin), r.bloquant, detail)


# --- Vérifications nommées --------------------------------------------------------------------------------------


def _noms(r: Regle) -> dict[str, str]:
    """Nom (en minuscules) → pièce, des plus longs aux plus courts."""
    noms = {str(n).lower(): str(p) for p, liste in (r.options.get("pieces") or {}).items() for n in liste}
    return dict(sorted(noms.items(), key=lambda x: -len(x[0])))


def _alternatives(noms: dict[str, str]) -> str:
    return "|".join(re.escape(n) for n in noms)


def _motif_renvoi_article(r: Regle) -> str:
    alt = _alternatives(_noms(r))
    return (rf"(?:\b(?P<avant>{alt})\s*,?\s+)?\barticles?\s+(?P<nums>{NUMERO}{SUITE})(?![\d-])"
            rf"(?P<apres>(?:\s+et\s+suivants)?\s+(?:du|de\s+la|de\s+l['’]|des|de|d['’]|au|à\s+la)\s+"
            rf"(?:(?P<cible>{alt})\b)?)?")


def _renvois_article(r: Regle, pieces: dict[str, Piece], trouves: Trouves) -> Iterable[Defaut]:
    noms = _noms(r)
    for p, u, correspondances in trouves:
        for debut, fin, g in correspondances:
            if g["avant"]:
                cible = noms[g["avant"].lower()]
            elif g["apres"]:
                if not g["cible"]:
                    continue  # « de la loi », « du code », « des CCAG » : texte extérieur, non vérifié
                cible = noms[g["cible"].lower()]
            elif p.nom in noms.values():
                cible = p.nom
            else:
                continue  # « article 3 » sans pièce nommée, hors RC, CCAP, CCTP : renvoi trop ambigu pour être vérifié
            visee = pieces.get(cible)
            if visee is None or not visee.articles:
                continue  # pièce non produite ou sans articles numérotés : rien à vérifier
            absents = [n for n in re.findall(NUMERO, g["nums"]) if n not in visee.articles]
            if absents:
                yield _defaut(r, u, debut, fin, f"{cible} sans article {', '.join(absents)}")


def _motif_renvoi_annexe(r: Regle) -> str:
    alt = _alternatives(_noms(r))
    return (rf"\bannexes?\b(?:\s+(?:n°\s*)?\d+)?\s+(?:du|de\s+la|de\s+l['’]|au|à\s+la)\s+(?P<cible>{alt})\b"
            rf"|\ben\s+annexe\b(?!\s+(?:du|de|au|à))")


def _renvois_annexe(r: Regle, pieces: dict[str, Piece], trouves: Trouves) -> Iterable[Defaut]:
    noms = _noms(r)
    for p, u, correspondances in trouves:
        for debut, fin, g in correspondances:
            nom = (g["cible"] or "").lower()
            cible = noms[nom] if nom else p.nom
            visee = pieces.get(cible)
            if visee is not None and not visee.annexes:
                yield _defaut(r, u, debut, fin, f"{cible} sans annexe")


def _contenus(r: Regle) -> dict[str, re.Pattern[str]]:
    return {str(k): re.compile(str(v), re.IGNORECASE) for k, v in (r.options.get("contenus") or {}).items()}


def _noms_contenus(r: Regle) -> list[str]:
    """Les motifs des renvois (clés de `contenus`), sans compiler ceux des titres."""
    return [str(k) for k in (r.options.get("contenus") or {})]


def _motif_renvoi_contenu(r: Regle) -> str:
    return (rf"\b(?P<nom>{'|'.join(_noms_contenus(r))})\b(?P<entre>(?:\s+(?![\w’'-]*(?:article|annexe))[\w’'-]+){{0,3}}?)"
            rf"\s+(?:du|au|par\s+le|dans\s+le)\s+(?:présent\s+)?(?P<cible>{_alternatives(_noms(r))})\b")


def _renvois_contenu(r: Regle, pieces: dict[str, Piece], trouves: Trouves) -> Iterable[Defaut]:
    """« les performances du CCTP », « le délai fixé au CCTP » : un renvoi sans numéro vers un contenu que la pièce
    citée doit traiter dans un article ; le contenu est trouvé si un titre de la pièce répond au motif donné."""
    for u, debut, fin, g, cible, visee, titre in _renvois_vers_contenu(r, pieces, trouves):
        if visee.titres and not any(titre.search(t) for t in visee.titres):
            yield _defaut(r, u, debut, fin, f"aucun article du {cible} sur ce point")


def _renvois_vers_contenu(r: Regle, pieces: dict[str, Piece], trouves: Trouves):
    """Chaque renvoi trouvé vers une pièce de la consultation : (unité, début, fin, groupes, nom de la pièce, pièce
    visée, motif du contenu annoncé) ; les renvois vers une pièce non produite sont laissés de côté."""
    noms = _noms(r)
    contenus = None  # compilés au premier renvoi trouvé
    for p, u, correspondances in trouves:
        for debut, fin, g in correspondances:
            cible = noms[g["cible"].lower()]
            visee = pieces.get(cible)
            if visee is not None:
                if contenus is None:
                    contenus = _contenus(r)
                motif = next(v for k, v in contenus.items() if re.fullmatch(k, g["nom"], re.IGNORECASE))
                yield u, debut, fin, g, cible, visee, motif


def _motif_renvoi_contenu_article(r: Regle) -> str:
    return (rf"\b(?P<nom>{'|'.join(_noms_contenus(r))})\b(?P<entre>(?:\s+(?![\w’'-]*(?:article|annexe))[\w’'-]+){{0,3}}?)"
            rf"\s+(?:à|par|dans)\s+l['’]article\s+(?P<num>{NUMERO})\s+(?:du|de\s+la|de\s+l['’])\s*"
            rf"(?P<cible>{_alternatives(_noms(r))})\b")


def _dans_article(u: Unite, numero: str) -> bool:
    if u.section == numero or u.section.startswith(numero + "."):
        return True
    return "." not in numero and re.match(rf"Article {re.escape(numero)}\b", u.article) is not None


def _renvois_contenu_article(r: Regle, pieces: dict[str, Piece], trouves: Trouves) -> Iterable[Defaut]:
    """« les fréquences fixées à l'article 2 du CCTP » : l'article cité existe (renvoi-article le vérifie) mais
    doit aussi traiter le contenu annoncé ; il le traite si l'un de ses titres ou de ses textes répond au motif."""
    for u, debut, fin, g, cible, visee, motif in _renvois_vers_contenu(r, pieces, trouves):
        if g["num"] in visee.articles and not any(motif.search(v.texte) for v in visee.unites
                                                  if _dans_article(v, g["num"])):
            yield _defaut(r, u, debut, fin, f"l'article {g['num']} du {cible} ne traite pas de ce point")


def _melange(r: Regle, pieces: dict[str, Piece], trouves: Trouves) -> Iterable[Defaut]:
    formes = {str(k): str(v) for k, v in (r.options.get("formes") or {}).items()}
    for p in pieces.values():
        joint = SEPARATEUR.join([u.texte for u in p.unites])  # une forme sans \n ni \0 ne chevauche pas deux unités
        comptes = {nom: joint.count(f) if not {"\n", "\0"} & set(f) else sum(u.texte.count(f) for u in p.unites)
                   for nom, f in formes.items()}
        presentes = [nom for nom, n in comptes.items() if n]
        if len(presentes) < 2:
            continue
        minoritaire = min(presentes, key=lambda nom: comptes[nom])
        u = next(u for u in p.unites if formes[minoritaire] in u.texte)
        i = u.texte.index(formes[minoritaire])
        yield _defaut(r, u, i, i + len(formes[minoritaire]),
                      "ici " + ", ".join(f"{nom} {comptes[nom]}" for nom in presentes))


VERIFICATIONS: dict[str, Callable[[Regle, dict[str, Piece], Trouves], Iterable[Defaut]]] = {
    "renvoi-article": _renvois_article,
    "renvoi-annexe": _renvois_annexe,
    "melange": _melange,
    "renvoi-contenu": _renvois_contenu,
    "renvoi-contenu-article": _renvois_contenu_article,
}


# Motif d'une vérification nommée (son texte, compilé avec le drapeau IGNORECASE), cherché dans chaque unité (les
# correspondances sont gardées en mémoire avec celles des motifs) ; une vérification sans motif (« melange ») compte
# elle-même.
MOTIFS_VERIFICATIONS: dict[str, Callable[[Regle], str]] = {
    "renvoi-article": _motif_renvoi_article,
    "renvoi-annexe": _motif_renvoi_annexe,
    "renvoi-contenu": _motif_renvoi_contenu,
    "renvoi-contenu-article": _motif_renvoi_contenu_article,
}

OPTIONS = {"renvoi-article": "pieces", "renvoi-annexe": "pieces", "melange": "formes", "renvoi-contenu": "pieces",
           "renvoi-contenu-article": "pieces"}  # option de chaque vérification
AIDE_OPTIONS = {"pieces": "chaque pièce (RC, CCAP, CCTP) avec la liste des noms qui la désignent",
                "formes": "au moins deux formes nommées, chacune un texte"}


def _option_valide(valeur: Any) -> bool:
    """`pieces` : pièce → liste de noms non vides ; `formes` : au moins deux formes, chacune un texte non vide."""
    if not isinstance(valeur, dict) or not valeur:
        return False
    if all(isinstance(v, list) for v in valeur.values()):
        return all(v and all(str(n).strip() for n in v) for v in valeur.values())
    return len(valeur) >= 2 and all(isinstance(v, str) and v for v in valeur.values())


def _contenus_valides(valeur: Any, compiler: bool = True) -> bool:
    """`contenus` : motif du renvoi → motif du titre, deux expressions régulières valides (essayées si `compiler`)."""
    if not _option_valide(valeur) or any(isinstance(v, list) for v in valeur.values()):
        return False
    if not compiler:
        return True
    try:
        for k, v in valeur.items():
            re.compile(str(k)), re.compile(str(v))
    except re.error:
        return False
    return True


def _motif(r: Regle, pieces: dict[str, Piece], trouves: Trouves) -> Iterable[Defaut]:
    for _, u, correspondances in trouves:  # un défaut par paragraphe (ou cellule) : le premier passage, et le nombre
        debut, fin, _ = correspondances[0]
        yield _defaut(r, u, debut, fin,
                      f"{len(correspondances)} occurrences dans ce passage" if len(correspondances) > 1 else "")


# --- Correspondances de chaque motif, par unité, gardées d'une pièce et d'une consultation à l'autre ----------------

Correspondance = tuple[int, int, dict[str, Any]]  # début, fin (dans le texte de l'unité), groupes nommés
# Les unités où un motif a trouvé quelque chose, dans l'ordre des pièces puis des unités, avec ses correspondances.
Trouves = list[tuple[Piece, Unite, list[Correspondance]]]
AUCUNE: list[Correspondance] = []


def _debuts(textes: list[str]) -> list[int]:
    """Position de chaque texte dans `SEPARATEUR.join(textes)`."""
    debuts, position = [], 0
    for t in textes:
        debuts.append(position)
        position += len(t) + len(SEPARATEUR)
    return debuts


def _chercher(motif: re.Pattern[str], textes: list[str], joint: str | None = None,
              debuts: list[int] | None = None) -> list[list[Correspondance]]:
    """Les correspondances de `motif` dans chaque texte, cherché seul (`joint`, `debuts` : `SEPARATEUR.join(textes)`
    et `_debuts(textes)`, s'ils sont déjà faits).

    Une seule recherche sur les textes joints (SEPARATEUR : ni « \\s » ni « \\w » ne le franchissent, « ^ » et « $ »
    y restent des bords d'unité), bien plus rapide qu'une par texte ; si une correspondance déborde de son texte
    (motif qui traverserait le séparateur), chaque texte est cherché seul : une unité ne dépend jamais de sa voisine.
    """
    if debuts is None:
        debuts = _debuts(textes)
    par_texte: list[list[Correspondance]] = [AUCUNE] * len(textes)
    groupes = bool(motif.groupindex)
    for m in motif.finditer(SEPARATEUR.join(textes) if joint is None else joint):
        i = bisect.bisect_right(debuts, m.start()) - 1
        debut = debuts[i]
        if m.end() > debut + len(textes[i]):
            return [[(x.start(), x.end(), x.groupdict() if groupes else {}) for x in motif.finditer(t)] or AUCUNE
                    for t in textes]
        if par_texte[i] is AUCUNE:
            par_texte[i] = []
        par_texte[i].append((m.start() - debut, m.end() - debut, m.groupdict() if groupes else {}))
    return par_texte


def _chercher_parmi(motif: re.Pattern[str], prealable: re.Pattern[str], fenetre: bool, textes: list[str],
                    joint: str | None = None, debuts: list[int] | None = None) -> list[list[Correspondance]]:
    """`_chercher(motif, textes)`, pour un motif dont toute correspondance contient une suite de caractères que
    `prealable` trouve (`_prealable`) : le motif n'est cherché qu'autour des textes où le préalable trouve (souvent
    aucun, ou quelques-uns), dans les textes joints, à la même place : il y lit ce qu'il y lisait.

    `fenetre` : le motif ne peut lire le caractère nul du séparateur, ni en consommant, ni en regardant en avant
    (`_lit_le_nul`) ; une correspondance qui commence à un texte ne peut alors rien lire au-delà du séparateur qui le
    suit, ni commencer dans un texte où le préalable ne trouve rien, et chaque texte retenu est cherché entre la fin du
    séparateur qui le précède et le nul de celui qui le suit. Sans `fenetre`, le préalable ne sert qu'à savoir qu'il n'y
    a rien à trouver ; sinon tout est cherché."""
    if debuts is None:
        debuts = _debuts(textes)
    if joint is None:
        joint = SEPARATEUR.join(textes)
    # le préalable (caractères du motif, sans « \n » ni « \0 ») ne chevauche jamais deux textes ; dès qu'il trouve dans
    # un texte, la recherche reprend au texte suivant
    rangs = []
    recherche, dernier, position = prealable.search, len(textes) - 1, 0
    while True:
        m = recherche(joint, position)
        if m is None:
            break
        i = bisect.bisect_right(debuts, m.start()) - 1
        rangs.append(i)
        if i >= dernier:
            break
        position = debuts[i + 1]
    par_texte: list[list[Correspondance]] = [AUCUNE] * len(textes)
    if not rangs:  # toute correspondance, même à cheval sur deux textes, contiendrait une suite du préalable
        return par_texte
    if not fenetre:
        return _chercher(motif, textes, joint, debuts)
    groupes = bool(motif.groupindex)
    for i in rangs:
        debut = debuts[i]
        fin = debut + len(textes[i])
        for m in motif.finditer(joint, max(debut - 1, 0), fin + 2):
            if m.start() < debut or m.end() > fin:  # à cheval sur le séparateur : comme `_chercher`, chaque texte seul
                for j in rangs:
                    par_texte[j] = [(x.start(), x.end(), x.groupdict() if groupes else {})
                                    for x in motif.finditer(textes[j])] or AUCUNE
                return par_texte
            if par_texte[i] is AUCUNE:
                par_texte[i] = []
            par_texte[i].append((m.start() - debut, m.end() - debut, m.groupdict() if groupes else {}))
    return par_texte


Source = tuple[str, int]  # texte d'une expression régulière et drapeaux de sa compilation


# --- Préalable de chaque motif ----------------------------------------------------------------------------------
#
# Un motif ne trouve rien dans un texte qui ne contient aucune de certaines suites de caractères qu'il exige : « 999 »
# pour `9{3,}…`, « { », « [ », « None », « True » ou « False » pour la structure de données… Ces suites sont relevées
# dans l'arbre du motif que construit l'analyseur du module `re` (caractères que toute correspondance contient, dans
# l'ordre, sans rien entre eux), puis cherchées avec les drapeaux du motif : un caractère y est reconnu exactement
# comme dans le motif (mêmes nœuds, mêmes drapeaux). Le préalable n'est qu'un raccourci : si l'analyseur manque
# (autre version de Python) ou rend un nœud inconnu, il n'y en a pas, et le motif est cherché partout.

# Rien de ce qui suit ne remplace le module `re` : l'arbre de l'analyseur est seulement lu. S'il change de forme dans
# une autre version de Python (modules, constantes ou nœuds absents), il n'y a plus de préalable : la relecture reste
# juste, seulement plus lente.
_sre_c: Any
_sre_analyse: Any
try:  # Python 3.11 et suivants
    from re import _constants as _sre_c, _parser as _sre_analyse
except ImportError:  # pragma: no cover - Python 3.10
    try:
        import sre_constants as _sre_c  # type: ignore[no-redef]
        import sre_parse as _sre_analyse  # type: ignore[no-redef]
    except ImportError:
        _sre_c = _sre_analyse = None

PREALABLES = "relecture-prealables"  # sous-dossier du cache : préalables tirés des motifs de la relecture
Atome = frozenset  # les caractères possibles à une position (un seul : un littéral)
Suites = frozenset  # de tuples d'atomes : toute correspondance contient l'une d'elles
REPETES_AU_PLUS = 8  # atomes d'une répétition (« -{3,} » : 3) gardés dans une suite
CROISEES_AU_PLUS = 16  # suites d'une alternative de littéraux croisée avec ce qui l'entoure (« (?:rc|ccap)- »)
ALTERNATIVES_LENTES = 4  # suites d'un préalable qui ignore la casse, au plus (`_prealable`)


def _atome(op: Any, av: Any) -> Atome | None:
    """Les caractères possibles d'un nœud qui consomme un seul caractère choisi parmi des littéraux, sinon None."""
    if op is _sre_c.LITERAL:
        return frozenset((chr(av),))
    if op is _sre_c.IN and av and all(o is _sre_c.LITERAL for o, _ in av):
        return frozenset(chr(x) for _, x in av)
    return None


try:
    _SANS_LARGEUR = (_sre_c.AT, _sre_c.ASSERT, _sre_c.ASSERT_NOT)  # ne consomment aucun caractère
    _REPETITIONS = (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT, getattr(_sre_c, "POSSESSIVE_REPEAT", _sre_c.MAX_REPEAT))
except AttributeError:  # pragma: no cover - analyseur d'une autre forme : aucun préalable (`_prealable`)
    _sre_c = _sre_analyse = None
    _SANS_LARGEUR = _REPETITIONS = ()


def _aplatis(noeuds: Any) -> list[tuple[Any, Any]]:
    """Les nœuds, les groupes sans drapeaux propres remplacés par leur contenu (même suite de caractères)."""
    resultat = []
    for op, av in noeuds:
        if op is _sre_c.SUBPATTERN and not av[1] and not av[2]:
            resultat.extend(_aplatis(av[3]))
        else:
            resultat.append((op, av))
    return resultat


def _chaines(noeud: tuple[Any, Any]) -> list[tuple[Atome, ...]] | None:
    """Les suites d'atomes que consomme un nœud fait de littéraux (atome, répétition fixe d'un atome, alternative de
    telles suites, nœud sans largeur), une exactement ; None pour tout autre nœud, ou au-delà de CROISEES_AU_PLUS."""
    op, av = noeud
    atome = _atome(op, av)
    if atome is not None:
        return [(atome,)]
    if op in _SANS_LARGEUR:
        return [()]
    if op in _REPETITIONS and av[0] == av[1] <= REPETES_AU_PLUS and len(av[2]) == 1:
        seul = _atome(*av[2][0])
        return [(seul,) * av[0]] if seul is not None else None
    if op is _sre_c.BRANCH:
        resultat: list[tuple[Atome, ...]] = []
        for alternative in av[1]:
            suites: list[tuple[Atome, ...]] | None = [()]
            for n in _aplatis(alternative):
                autres = _chaines(n)
                if autres is None or len(suites) * len(autres) > CROISEES_AU_PLUS:
                    return None
                suites = [a + b for a in suites for b in autres]
            resultat.extend(suites)
        return resultat if len(resultat) <= CROISEES_AU_PLUS else None
    return None


def _suites(noeuds: Any) -> list[Suites]:
    """Pour une suite de nœuds, des ensembles de suites d'atomes : chacun tel que toute correspondance contient l'une de
    ses suites (les atomes d'une suite sont des caractères contigus du texte)."""
    resultat: list[Suites] = []
    courantes: list[tuple[Atome, ...]] = [()]  # l'une d'elles vient d'être consommée, d'un seul tenant

    def fermer() -> None:
        nonlocal courantes
        if all(courantes):
            resultat.append(_reduites(set(courantes)))
        courantes = [()]

    for op, av in _aplatis(noeuds):
        chaines = _chaines((op, av))
        if chaines is not None:  # « \\((?:s|e|es|x|nt)\\) » : « (s) », « (e) »…
            if len(courantes) * len(chaines) > CROISEES_AU_PLUS:
                fermer()
            courantes = [a + b for a in courantes for b in chaines]
        elif op in _REPETITIONS:
            mini, maxi, sous = av
            seul = _atome(*sous[0]) if len(sous) == 1 else None
            if mini >= 1 and seul is not None:  # « -{3,} » : trois tirets de suite, contigus à ce qui précède
                courantes = [a + (seul,) * min(mini, REPETES_AU_PLUS) for a in courantes]
                fermer()
            else:
                fermer()
                if mini >= 1:  # au moins une fois : ce que le sous-motif exige
                    resultat.extend(_suites(sous))
        elif op is _sre_c.BRANCH:
            fermer()
            union: set[tuple[Atome, ...]] = set()
            for alternative in av[1]:
                meilleures = _meilleures(_suites(alternative))
                if meilleures is None:  # une alternative qui n'exige rien : la branche n'exige rien
                    break
                union |= meilleures
            else:
                resultat.append(_reduites(union))
        else:  # tout autre nœud consomme (ou peut consommer) des caractères quelconques, ou change les drapeaux
            fermer()
    fermer()
    return resultat


def _contient(longue: tuple[Atome, ...], courte: tuple[Atome, ...]) -> bool:
    """`longue` présente dans un texte y rend `courte` présente (atome à atome, chacun inclus dans celui de `courte`)."""
    n = len(courte)
    return any(all(longue[i + j] <= courte[j] for j in range(n)) for i in range(len(longue) - n + 1))


def _reduites(suites: set[tuple[Atome, ...]]) -> Suites:
    """Les suites, sans celles qui en contiennent une autre (déjà exigée, à moindre frais)."""
    gardees: list[tuple[tuple[Atome, ...], str | None]] = []
    for s in sorted(suites, key=len):
        # suite d'un caractère par position (presque toutes) : comparée comme texte
        texte = "".join([next(iter(a)) for a in s]) if all(len(a) == 1 for a in s) else None
        if not any(t in texte if texte is not None and t is not None else _contient(s, g) for g, t in gardees):
            gardees.append((s, texte))
    return frozenset(g for g, _ in gardees)


def _frequence(suites: Suites) -> float:
    """Fréquence estimée d'un ensemble de suites dans un texte français (pour choisir le plus rare : la justesse n'en
    dépend pas)."""
    total = 0.0
    for suite in suites:
        p = 1.0
        for atome in suite:
            p *= min(1.0, sum(0.15 if c == " " else 0.05 if c.isalpha() else 0.01 if c.isdigit() or c in ",.'’-()"
                              else 0.001 for c in atome))
        total += p
    return total


def _meilleures(candidates: list[Suites]) -> Suites | None:
    return min(candidates, key=lambda s: (_frequence(s), len(s)), default=None)


def _debut_connu(noeuds: Any) -> bool:
    """Le premier caractère de toute correspondance est-il pris parmi des littéraux (un seul essai par position : le
    motif est déjà cherché vite) ? Estimation : elle ne décide que d'une dépense."""
    noeuds = _aplatis(noeuds)
    if not noeuds:
        return False
    op, av = noeuds[0]
    if op is _sre_c.BRANCH:
        return all(alternative and _atome(*_aplatis(alternative)[0]) is not None for alternative in av[1])
    return _atome(op, av) is not None


def _ensemble_lit_le_nul(elements: Any) -> bool:
    """Un ensemble de caractères (« [^'"] », « \\S ») contient-il le caractère nul ? (Élément inconnu : oui.)"""
    oui, inverse = False, False
    for op, av in elements:
        if op is _sre_c.NEGATE:
            inverse = True
        elif op is _sre_c.LITERAL:
            oui = oui or av == 0
        elif op is _sre_c.RANGE:
            oui = oui or av[0] <= 0 <= av[1]
        elif op is _sre_c.CATEGORY:
            oui = oui or "NOT" in getattr(av, "name", "NOT")  # \\S, \\W, \\D : oui ; \\s, \\w, \\d : non
        else:
            return True
    return oui != inverse


def _lit_le_nul(noeuds: Any, arriere: bool = False) -> bool:
    """Un nœud peut-il lire le caractère nul, en consommant ou en regardant en avant ? Ce que consomme un regard en
    arrière (`arriere`, largeur fixe) est lu avant la position où il regarde : il ne compte pas. (Nœud inconnu : oui.)"""
    for op, av in noeuds:
        if op in (_sre_c.LITERAL, _sre_c.NOT_LITERAL, _sre_c.ANY, _sre_c.IN):
            lit = not arriere and (av == 0 if op is _sre_c.LITERAL else av != 0 if op is _sre_c.NOT_LITERAL
                                   else True if op is _sre_c.ANY else _ensemble_lit_le_nul(av))
        elif op in _REPETITIONS:
            lit = _lit_le_nul(av[2], arriere)
        elif op is _sre_c.SUBPATTERN:
            lit = _lit_le_nul(av[3], arriere)
        elif op is _sre_c.BRANCH:
            lit = any(_lit_le_nul(alternative, arriere) for alternative in av[1])
        elif op in (_sre_c.ASSERT, _sre_c.ASSERT_NOT):
            lit = _lit_le_nul(av[1], av[0] < 0)
        else:
            lit = op is not _sre_c.AT
        if lit:
            return True
    return False


def _texte_atome(atome: Atome) -> str:
    if len(atome) == 1:
        return re.escape(next(iter(atome)))
    return "[" + "".join(re.escape(c) for c in sorted(atome)) + "]"


def _prealable(source: Source) -> tuple[Source, bool] | None:
    """Le préalable d'un motif (texte, drapeaux) : une expression faite de suites de caractères dont toute
    correspondance du motif contient l'une, avec les drapeaux du motif ; aucun si le motif n'en exige pas, s'il est
    déjà cherché vite (`_debut_connu`) ou si le préalable coûterait plus qu'il ne gagne. Avec lui, si le motif ne peut
    lire le caractère nul du séparateur (`_lit_le_nul` : la fenêtre de `_chercher_parmi`)."""
    try:
        arbre = _sre_analyse.parse(*source)
        drapeaux = arbre.state.flags & (re.IGNORECASE | re.ASCII)
        noeuds = list(arbre)
        if _debut_connu(noeuds):
            return None
        suites = _meilleures(_suites(noeuds))
        fenetre = not _lit_le_nul(noeuds)
    except Exception:  # noqa: BLE001 - analyseur absent ou autre que prévu : pas de raccourci
        return None
    if not suites or any(c in "\n\0" for s in suites for atome in s for c in atome):
        return None
    # casse ignorée, le module `re` essaie chaque position d'un préalable qui commence par une lettre : au-delà de
    # quelques suites, c'est plus cher que le motif
    if drapeaux & re.IGNORECASE and len(suites) > ALTERNATIVES_LENTES and any(
            c.lower() != c or c.upper() != c for s in suites for c in s[0]):
        return None
    # une alternative par premier caractère possible : le module `re` saute d'un premier caractère au suivant
    return ("|".join(re.escape(c) + "".join(_texte_atome(a) for a in s[1:])
                     for s in sorted(suites, key=lambda s: [sorted(a) for a in s]) for c in sorted(s[0])), drapeaux), \
        fenetre


def _sources(liste: list[Regle]) -> list[Source | None]:
    """Le motif cherché pour chaque règle, texte et drapeaux : le sien, celui de sa vérification nommée, ou aucun
    (« melange »)."""
    return [(r.motif_texte, re.MULTILINE) if r.motif_texte is not None
            else ((MOTIFS_VERIFICATIONS[r.verification](r), re.IGNORECASE) if r.verification in MOTIFS_VERIFICATIONS
                  else None)
            for r in liste]


def _compiles(sources: list[Source | None]) -> list[re.Pattern[str] | None]:
    return [None if s is None else re.compile(*s) for s in sources]


class Memoire:
    """Correspondances des motifs d'un jeu de règles dans chaque texte d'unité déjà lu.

    D'une consultation à l'autre, l'essentiel des paragraphes est identique (clauses communes, tableaux de la fiche) :
    seuls les textes jamais vus sont cherchés, tous ensemble (`_chercher`). Une `fenetre.Fenetre` : les textes qui
    reviennent d'une consultation à l'autre sont gardés (MAXIMUM au plus), ceux propres à une consultation (objet,
    montants, lieux) s'en vont après elle.
    """

    MAXIMUM = 10_000  # ≈ 3 Mio ; vidée, elle reprend de la mémoire disque les textes communs, sans les chercher

    def __init__(self, liste: list[Regle], disque: bool = True) -> None:
        # motifs compilés et préalables tirés au premier texte à chercher (`motifs`, `prealables`) : quand tous les
        # textes des pièces sont déjà dans la mémoire disque (consultation déjà produite), aucun n'est compilé
        # (≈ 30 expressions, dont les motifs des renvois qui essaient chaque nom de pièce)
        self.sources = _sources(liste)
        self._motifs: list[re.Pattern[str] | None] | None = None
        self._prealables: list[tuple[re.Pattern[str], bool] | None] | None = None
        self.lus = fenetre.Fenetre(self.MAXIMUM)  # texte → ((motif, trouvés), …) : ceux qui ont trouvé quelque chose
        # ce que les commandes précédentes ont trouvé avec les mêmes motifs (cache disque de l'utilisateur ; fichier
        # relu en entier par chaque commande : 512 Kio au plus, une consultation en garde 190 à 280)
        self.disque = cache.Memoire("relecture", cache.empreinte(
            cache.sources(__file__), SEPARATEUR,
            *(f"{s[0]}\0{s[1]}" if s is not None else "-" for s in self.sources)), maximum=10_000,
            octets=512 * 1024, par_consultation=True) if disque else None

    @property
    def motifs(self) -> list[re.Pattern[str] | None]:
        """Le motif compilé de chaque règle (aucun : « melange »)."""
        if self._motifs is None:
            self._motifs = _compiles(self.sources)
        return self._motifs

    @property
    def prealables(self) -> list[tuple[re.Pattern[str], bool] | None]:
        """Le préalable du motif de chaque règle, compilé, et sa fenêtre (`_prealable`) ; ou aucun."""
        if self._prealables is None:
            def tirer() -> list[tuple[Source, bool] | None]:
                return [None if s is None else _prealable(s) for s in self.sources]

            # tirés des motifs en ≈ 10 ms : gardés dans le cache disque sous l'empreinte des motifs, du code de ce
            # module (celle de la mémoire disque) et de la version de Python (analyseur du module `re`)
            prealables = tirer() if self.disque is None else cache.objet(
                PREALABLES, cache.empreinte(self.disque.version, sys.version), tirer)
            self._prealables = [None if p is None else (re.compile(*p[0]), p[1]) for p in prealables]
        return self._prealables

    def lire(self, pieces: dict[str, Piece]) -> dict[str, tuple[tuple[int, list[Correspondance]], ...]]:
        """Ce que trouvent les motifs dans chaque texte des `pieces` : gardé (`lus`), repris de la mémoire disque, ou
        cherché, tous les textes jamais vus ensemble."""
        lus, vus = self.lus, {}
        nouveaux = []
        for p in pieces.values():
            for u in p.unites:
                t = u.texte
                if t not in vus:
                    trouves = lus.get(t)
                    if trouves is None:
                        nouveaux.append(t)
                        vus[t] = ()
                    else:
                        vus[t] = trouves
        if not nouveaux:
            return vus
        if self.disque is not None:
            a_chercher = []
            for t in nouveaux:
                deja = self.disque.lire(t)
                if deja is None:
                    a_chercher.append(t)
                else:
                    vus[t] = lus[t] = deja
            nouveaux = a_chercher
            if not nouveaux:
                return vus
        joint, debuts = SEPARATEUR.join(nouveaux), _debuts(nouveaux)
        par_motif = [None if m is None else _chercher(m, nouveaux, joint, debuts) if p is None
                     else _chercher_parmi(m, *p, nouveaux, joint, debuts)
                     for m, p in zip(self.motifs, self.prealables)]
        for i, t in enumerate(nouveaux):
            vus[t] = lus[t] = tuple((j, c[i]) for j, c in enumerate(par_motif) if c is not None and c[i])
        if self.disque is not None:
            self.disque.ecrire((t, vus[t]) for t in nouveaux)
        return vus

    def trouves(self, pieces: dict[str, Piece]) -> list[Trouves]:
        """Pour chaque motif, les unités des `pieces` où il trouve quelque chose : lues parmi les textes gardés d'une
        consultation à l'autre (la plupart), sinon, dès le premier qui n'y est pas, tous ensemble (`lire`)."""
        resultat: list[Trouves] = [[] for _ in self.sources]
        connus: dict[str, tuple[tuple[int, list[Correspondance]], ...]] = self.lus.gardees
        complet = False
        for p in pieces.values():
            for u in p.unites:
                trouves = connus.get(u.texte)
                if trouves is None and not complet:
                    connus, complet = self.lire(pieces), True
                    trouves = connus[u.texte]
                for j, correspondances in trouves:
                    resultat[j].append((p, u, correspondances))
        return resultat


# --- Règles -----------------------------------------------------------------------------------------------------


_LUES: dict[int, tuple[yaml_lignes.Document, list[Regle], Memoire]] = {}
# Mémoires par jeu de motifs (texte et drapeaux du motif de chaque règle, dans l'ordre) : un catalogue relu (clause
# modifiée, catalogue rechargé) aux mêmes motifs reprend ce qui a déjà été cherché, qui ne dépend que des motifs et des
# textes.
_MEMOIRES: dict[tuple[tuple[str, int] | None, ...], Memoire] = {}


def _lues(catalogue: Catalogue) -> tuple[yaml_lignes.Document, list[Regle], Memoire]:
    doc = catalogue.document_yaml
    if id(doc) not in _LUES:
        if len(_LUES) >= 8:
            _LUES.clear()
        liste = _regles_verifiees(doc, catalogue.fichier)
        cle = tuple(_sources(liste))
        if cle not in _MEMOIRES:
            if len(_MEMOIRES) >= 8:
                _MEMOIRES.clear()
            _MEMOIRES[cle] = Memoire(liste)
        _LUES[id(doc)] = (doc, liste, _MEMOIRES[cle])
    return _LUES[id(doc)]


def chauffer(catalogue: Catalogue) -> None:
    """Compile les motifs des règles de relecture du catalogue et leurs préalables (sinon compilés au premier texte à
    chercher) : avant de créer les processus de calcul d'un lot, qui en héritent au lieu de les compiler chacun
    (≈ 25 ms par processus neuf, mesuré)."""
    memoire = _lues(catalogue)[2]
    memoire.motifs
    memoire.prealables


def regles(catalogue: Catalogue) -> list[Regle]:
    """Section `relecture` de catalogue.yaml, vérifiée ; erreurs avec fichier et ligne. Lue une fois par catalogue
    chargé (le document YAML est gardé avec les règles : son identifiant ne peut pas resservir)."""
    return _lues(catalogue)[1]


VERIFIEES = "sections-verifiees"  # sous-dossier du cache : verdicts « cette section du catalogue est valide »
# Code qui vérifie la section `relecture` (règles, exemples lus en unités, défauts) : le modifier invalide le verdict.
CODE_VERIFICATION = (__file__, blocs.__file__, conformite.__file__)


def _cle_verdict(section: str, brut: Any, fichiers_code: tuple[str, ...]) -> str | None:
    """Clé du verdict « cette section du catalogue est valide » : son nom et son contenu (picklé), le code qui la
    vérifie (`fichiers_code`) et la version de Python (module `re`) ; None si elle ne se pickle pas."""
    try:
        return cache.empreinte(section, cache.sources(*fichiers_code), sys.version, pickle.dumps(brut, protocol=4))
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
        return None


def section_verifiee(doc: yaml_lignes.Document, fichier: Path, section: str,
                     lire: Callable[[yaml_lignes.Document, Path, bool], T], *fichiers_code: str) -> T:
    """`lire(doc, fichier, True)` : une section du catalogue faite de règles (`relecture`, `controles_croises`), lue et
    vérifiée ; la partie coûteuse de la vérification (compiler chaque motif, chercher chaque règle dans son exemple :
    ≈ 5 % d'une commande `dce generer` pour la relecture) n'est faite qu'une fois pour un même texte de la section, tant
    que le code qui la vérifie (`fichiers_code`) ne change pas : le verdict favorable est gardé dans le cache disque
    (`cache.marquer`), jamais une erreur, qui se redit. Section déjà vérifiée : `lire(doc, fichier, False)`."""
    cle = _cle_verdict(section, (doc.donnees or {}).get(section) or [], fichiers_code)
    if cle is not None and cache.marque(VERIFIEES, cle):
        return lire(doc, fichier, False)
    resultat = lire(doc, fichier, True)
    if cle is not None:
        cache.marquer(VERIFIEES, cle)
    return resultat


def _regles_verifiees(doc: yaml_lignes.Document, fichier: Path) -> list[Regle]:
    return section_verifiee(doc, fichier, SECTION, _regles, *CODE_VERIFICATION)


def _regles(doc: yaml_lignes.Document, fichier: Path, verifier: bool = True) -> list[Regle]:
    """Les règles de la section, vérifiées ; sans `verifier` (section déjà vérifiée : `_regles_verifiees`), ni les
    motifs ni les exemples ne sont essayés (les champs le sont encore)."""
    brut = (doc.donnees or {}).get(SECTION) or []
    problemes: list[Probleme] = []

    def pb(message: str, chemin: str) -> None:
        problemes.append(Probleme(message, fichier, doc.ligne(chemin), chemin))

    resultat: list[Regle] = []
    chemins: list[str] = []  # chemin de chaque règle retenue dans la section
    for chemin, r in entrees_de_section(brut, SECTION, ("règles de relecture", "une règle de relecture"), CHAMPS,
                                        OBLIGATOIRES, pb):
        if ("motif" in r) == ("verification" in r):
            pb("une règle a soit un « motif », soit une « verification »", chemin)
            continue
        motif = None
        if "motif" in r:
            motif = str(r["motif"])
            try:
                if verifier:
                    re.compile(motif, re.MULTILINE)
            except re.error as exc:
                pb(f"motif invalide ({exc})", f"{chemin}.motif")
                continue
        elif r["verification"] not in VERIFICATIONS:
            pb(f"vérification « {r['verification']} » inconnue ({', '.join(VERIFICATIONS)})", f"{chemin}.verification")
            continue
        elif OPTIONS[r["verification"]] not in r or not _option_valide(r[OPTIONS[r["verification"]]]):
            option = OPTIONS[r["verification"]]
            pb(f"la vérification « {r['verification']} » demande « {option} » : {AIDE_OPTIONS[option]}",
               f"{chemin}.{option}" if option in r else chemin)
            continue
        if r.get("verification") in ("renvoi-contenu", "renvoi-contenu-article") and not _contenus_valides(
                r.get("contenus"), verifier):
            pb(f"la vérification « {r['verification']} » demande « contenus » : au moins deux contenus, chacun le motif du "
               "renvoi avec le motif du titre d'article qui le traite", f"{chemin}.contenus" if "contenus" in r else chemin)
            continue
        if "sauf_pieces" in r and not (isinstance(r["sauf_pieces"], list) and r["sauf_pieces"]
                                       and all(isinstance(n, str) and n.strip() for n in r["sauf_pieces"])):
            pb("« sauf_pieces » : la liste des pièces (par leur nom) où la règle ne s'applique pas",
               f"{chemin}.sauf_pieces")
            continue
        options = {k: r[k] for k in ("pieces", "formes", "contenus", "sauf_pieces") if k in r}
        chemins.append(chemin)
        resultat.append(Regle(str(r.get("id")), " ".join(str(r.get("libelle", "")).split()),
                              " ".join(str(r.get("explication", "")).split()), str(r.get("exemple", "")),
                              bool(r.get("bloquant", False)), motif, str(r.get("verification") or "motif"), options))
    for chemin, regle in zip(chemins, resultat if verifier else ()):
        if not appliquer(regle, exemple(regle)):
            pb(f"règle « {regle.id} » : son exemple n'est pas détecté", f"{chemin}.exemple")
    if problemes:
        raise ErreurDonnees(problemes)
    return resultat


def exemple(regle: Regle) -> dict[str, Piece]:
    """L'exemple d'une règle, au premier article d'un CCAP d'essai ; RC et CCTP d'essai d'un article, sans annexe."""
    return {nom: Piece(nom, [Unite(nom, "Article 1 – Exemple", regle.exemple if nom == "CCAP" else "Texte.")], {"1"},
                       titres=["Article 1 – Exemple"])
            for nom in ("RC", "CCAP", "CCTP")}


def appliquer(regle: Regle, pieces: dict[str, Piece]) -> list[Defaut]:
    """Les défauts d'une seule règle (exemple d'une règle, `dce catalogue verifier`), sans mémoire."""
    memoire = Memoire([regle], disque=False)
    return list(_hors_exclues(regle, _fonction(regle)(regle, pieces, memoire.trouves(pieces)[0])))


def _hors_exclues(regle: Regle, defauts: Iterable[Defaut]) -> Iterable[Defaut]:
    """Les défauts d'une règle, sauf ceux des pièces qu'elle écarte (`sauf_pieces` : la fiche de traçabilité et
    l'annexe citent légitimement les identifiants des clauses, qu'une pièce remise aux candidats ne doit pas montrer)."""
    exclues = regle.options.get("sauf_pieces") or ()
    return (d for d in defauts if d.piece not in exclues)


def _fonction(regle: Regle) -> Callable[[Regle, dict[str, Piece], Trouves], Iterable[Defaut]]:
    return _motif if regle.motif_texte is not None else VERIFICATIONS[regle.verification]


# Relecture pièce par pièce. Chaque vérification lit les unités d'une pièce dans l'ordre, seule (motifs, formes
# mêlées) ou avec ce que les autres pièces exposent d'elles (renvois : leurs numéros d'articles, leurs titres, leurs
# annexes ; « renvoi-contenu-article » : aussi les textes de l'article visé). Les défauts de toutes les pièces sont
# donc, règle par règle, ceux de chaque pièce mis bout à bout. Une pièce qui n'a pas changé (fiche de traçabilité
# d'une consultation régénérée après la modification d'une clause : plus de la moitié des unités lues) peut n'être
# donnée que par son `Resume` : ses défauts propres, et ses renvois, revérifiés contre les pièces du jour.
RENVOIS = ("renvoi-article", "renvoi-annexe", "renvoi-contenu", "renvoi-contenu-article")


@dataclass
class Resume:
    """Ce que la relecture retient d'une pièce relue seule (`resumer`) : la pièce sans ses unités (`piece` : nom,
    articles, annexes, titres ; ce que lisent les renvois des autres pièces vers elle), les défauts de chaque règle
    qui ne lit qu'elle (None pour un renvoi) et, pour chaque renvoi, les unités où son motif a trouvé quelque chose
    (None pour les autres règles)."""

    piece: Piece
    defauts: tuple[tuple[Defaut, ...] | None, ...]
    renvois: tuple[tuple[tuple[Unite, list[Correspondance]], ...] | None, ...]


def _renvoi(regle: Regle) -> bool:
    """Une règle de renvoi : ses défauts dans une pièce dépendent aussi des pièces visées."""
    return regle.motif_texte is None and regle.verification in RENVOIS


def resumable(catalogue: Catalogue, nom: str) -> bool:
    """Une pièce de ce nom peut-elle être donnée par son `Resume` : aucun renvoi « renvoi-contenu-article » ne la vise
    (il lit les textes de l'article visé)."""
    return not any(r.verification == "renvoi-contenu-article" and nom in _noms(r).values() for r in regles(catalogue))


def resumer(catalogue: Catalogue, p: Piece) -> Resume:
    """Le `Resume` d'une pièce, relue seule."""
    _, liste, memoire = _lues(catalogue)
    seule = {p.nom: p}
    defauts: list[tuple[Defaut, ...] | None] = []
    renvois: list[tuple[tuple[Unite, list[Correspondance]], ...] | None] = []
    for r, t in zip(liste, memoire.trouves(seule)):
        t = _trouves_gardes(r, t)
        if _renvoi(r):
            defauts.append(None)
            renvois.append(tuple((u, c) for _, u, c in t))
        else:
            defauts.append(tuple(_hors_exclues(r, _fonction(r)(r, seule, t))))
            renvois.append(None)
    return Resume(Piece(p.nom, [], set(p.articles), p.annexes, list(p.titres)), tuple(defauts), tuple(renvois))


def sans_resumes(pieces: dict[str, Piece | Resume]) -> dict[str, Piece]:
    """Les pièces, un `Resume` donnant sa pièce sans unités : ce que lit un contrôle qui ne lit pas ses unités (renvois
    vers elle, contrôles croisés qui ne la désignent pas)."""
    return {nom: p.piece if isinstance(p, Resume) else p for nom, p in pieces.items()}


def relire(catalogue: Catalogue, pieces: dict[str, Piece | Resume]) -> list[Defaut]:
    """Défauts de toutes les règles dans toutes les pièces, dans l'ordre des règles puis des pièces ; une pièce
    peut être donnée par son `Resume` (`resumer`, `resumable`)."""
    _, liste, memoire = _lues(catalogue)
    trouves = memoire.trouves({nom: p for nom, p in pieces.items() if isinstance(p, Piece)})
    cibles = sans_resumes(pieces)
    resultat: list[Defaut] = []
    for j, (r, t) in enumerate(zip(liste, trouves)):
        par_piece: dict[int, Trouves] = {}
        for x in _trouves_gardes(r, t):
            par_piece.setdefault(id(x[0]), []).append(x)
        renvoi = _renvoi(r)
        for nom, p in pieces.items():
            if isinstance(p, Resume):
                if not renvoi:
                    resultat.extend(p.defauts[j] or ())
                    continue
                lus = [(p.piece, u, c) for u, c in p.renvois[j] or ()]
            else:
                lus = par_piece.get(id(p), [])
            resultat.extend(_hors_exclues(r, _fonction(r)(r, cibles if renvoi else {nom: cibles[nom]}, lus)))
    return resultat


def _trouves_gardes(regle: Regle, trouves: Trouves) -> Trouves:
    """Les unités trouvées hors des pièces que la règle écarte : chaque défaut d'une règle porte sur l'unité où son
    motif a trouvé, celles des pièces écartées n'en donneraient que pour `_hors_exclues` (des centaines par
    consultation : identifiants de clauses de la fiche et de l'annexe)."""
    exclues = regle.options.get("sauf_pieces")
    return [x for x in trouves if x[1].piece not in exclues] if exclues else trouves


def problemes_de_section(racine: Path, lire_section: Callable[[Any, Path], Any]) -> list[Probleme]:
    """Problèmes qu'une section du catalogue de `racine` lève à sa lecture (`lire_section(document, fichier)`)."""
    fichier = racine / "catalogue.yaml"
    try:
        lire_section(yaml_lignes.lire(fichier), fichier)
    except ErreurDonnees as exc:
        return exc.problemes
    return []


def verifier_regles(racine: Path) -> list[Probleme]:
    """Pour `dce catalogue verifier` : problèmes de la section `relecture` du catalogue situé dans `racine`
    (champs, motifs, vérifications connues, exemple de chaque règle bien vu par elle)."""
    return problemes_de_section(racine, _regles)
