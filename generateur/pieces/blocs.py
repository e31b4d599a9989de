"""Les blocs d'un document, indépendants de Word : titres, paragraphes, listes, tableaux."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from ..donnees.formats import typographie


@dataclass
class Segment:
    """Un morceau de texte avec sa mise en forme ; texte « \\n » = saut de ligne.

    `a_completer` : valeur qu'un humain doit compléter avant publication (champ du profil d'acheteur marqué
    `a_completer`) ; surlignée en jaune dans Word."""

    texte: str
    gras: bool = False
    italique: bool = False
    a_completer: bool = False

    def __post_init__(self) -> None:
        # Typographie homogène de tout texte produit (clauses, réponses citées, pièces écrites en Python) ;
        # les données elles-mêmes ne sont pas touchées.
        self.texte = typographie(self.texte)


@dataclass
class Titre:
    niveau: int
    texte: str
    signet: str | None = None

    def __post_init__(self) -> None:
        self.texte = typographie(self.texte)


@dataclass
class Paragraphe:
    segments: list[Segment]
    style: str | None = None
    centre: bool = False


@dataclass
class ElementListe:
    segments: list[Segment]
    sous_liste: "Liste | None" = None


@dataclass
class Liste:
    ordonnee: bool
    elements: list[ElementListe] = field(default_factory=list)


@dataclass
class Tableau:
    lignes: list[list[list[Segment]]]
    entete: bool = True
    largeurs: list[int] | None = None  # en pourcentage de la largeur utile


@dataclass
class SautDePage:
    pass


@dataclass
class ParagrapheRevise:
    """Paragraphe en modifications suivies : morceaux (« = » inchangé, « + » inséré, « - » supprimé).

    `marque` vaut « + » ou « - » quand le paragraphe entier est inséré ou supprimé.
    """

    morceaux: list[tuple[str, str]]
    style: str | None = None
    marque: str | None = None


@dataclass
class Image:
    """Image PNG (graphique) centrée dans la largeur utile ; `description` sert de texte de remplacement."""

    donnees: bytes
    largeur_mm: float
    description: str = ""


Bloc = Union[Titre, Paragraphe, Liste, Tableau, SautDePage, ParagrapheRevise, Image]


def texte(segments: list[Segment]) -> str:
    return "".join(s.texte for s in segments)
