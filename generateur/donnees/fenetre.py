"""Mémoires d'un processus qui gardent ce qui revient d'une consultation à l'autre et oublient ce qui est propre à
une seule (`Fenetre`), et le compte des consultations produites par ce processus (`consultation_suivante`).

Sans dépendance : les mémoires de tous les modules s'en servent, y compris celles des fichiers Word
(`fichiers._ENTREES`), que le cache disque importe.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable


class Fenetre:
    """Mémoire d'un processus qui garde ce qui revient d'une consultation à l'autre, et oublie ce qui est propre à une
    seule.

    Une entrée créée pendant la production d'une consultation est dans `nouvelles` ; redemandée pendant la production
    d'une autre consultation, dans les CONSULTATIONS_PAR_TOUR à 2 × CONSULTATIONS_PAR_TOUR suivantes, elle passe dans
    `gardees` (clauses communes). Sinon (objet, montants, tableaux des lots d'une consultation), elle s'en va. Une
    gardée qu'aucune consultation n'a demandée depuis CONSULTATIONS_PAR_AGE à 2 × CONSULTATIONS_PAR_AGE consultations
    (texte d'une option, d'un lieu, d'une durée que deux consultations voisines avaient en commun) s'en va aussi
    (`vieillir` : les gardées passent dans `vieilles`, d'où une demande les reprend) ; les gardées sont bornées à
    `maximum` entrées (vidées au-delà ; une fenêtre de 0 entrée ne garde rien). La mémoire d'un processus qui produit
    des centaines de consultations ne croît plus avec leur nombre : elle suit ce que demandent les dernières."""

    __slots__ = ("maximum", "gardees", "vieilles", "nouvelles", "passees", "anciennes", "__weakref__")

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum
        self.gardees: dict[Any, Any] = {}
        self.vieilles: dict[Any, Any] = {}
        self.nouvelles: dict[Any, Any] = {}
        self.passees: dict[Any, Any] = {}
        self.anciennes: dict[Any, Any] = {}
        _FENETRES.add(self)

    def get(self, cle: Any) -> Any:
        valeur = self.gardees.get(cle)
        if valeur is not None:
            return valeur
        valeur = self.nouvelles.get(cle)
        if valeur is not None:
            return valeur
        valeur = self.vieilles.pop(cle, None)  # gardée, et encore demandée : reste gardée
        if valeur is None:
            valeur = self.passees.pop(cle, None)
        if valeur is None:
            valeur = self.anciennes.pop(cle, None)
        if valeur is not None:  # redemandée par une autre consultation que celle qui l'a créée : gardée
            gardees = self.gardees
            if len(gardees) >= self.maximum:
                gardees.clear()
            gardees[cle] = valeur
        return valeur

    def __setitem__(self, cle: Any, valeur: Any) -> None:
        nouvelles = self.nouvelles
        if len(nouvelles) >= self.maximum:  # une très grande consultation, ou un processus qui ne les compte pas
            if not self.maximum:  # une fenêtre de 0 entrée ne garde rien
                return
            self.suivante()
            self.tourner()
            nouvelles = self.nouvelles
        nouvelles[cle] = valeur

    def suivante(self) -> None:
        """La consultation en cours est finie : ce qu'elle a créé attend d'être redemandé par une autre."""
        if self.nouvelles:
            self.passees.update(self.nouvelles)
            self.nouvelles = {}

    def tourner(self) -> None:
        """Ce qui n'a pas été redemandé depuis le tour d'avant s'en va."""
        self.anciennes, self.passees = self.passees, {}

    def vieillir(self) -> None:
        """Les gardées qui n'ont pas été demandées depuis l'âge d'avant s'en vont."""
        self.vieilles, self.gardees = self.gardees, {}

    def vider(self) -> None:
        self.gardees, self.vieilles, self.nouvelles, self.passees, self.anciennes = {}, {}, {}, {}, {}

    def __len__(self) -> int:
        return (len(self.gardees) + len(self.vieilles) + len(self.nouvelles) + len(self.passees)
                + len(self.anciennes))


_FENETRES: weakref.WeakSet[Fenetre] = weakref.WeakSet()
# Consultations produites entre deux tours des `Fenetre` : une entrée créée pour l'une d'elles et redemandée par une
# autre dans les 4 à 8 suivantes est gardée. Mesuré (banc de 1 000, 2 processus) : mémoire de l'arbre 176 → 142 Mio,
# même calcul qu'avec les caches qui gardaient tout jusqu'à leur borne (les textes communs reviennent à chaque
# consultation, ou presque).
CONSULTATIONS_PAR_TOUR = 4
# Consultations entre deux âges des gardées (`Fenetre.vieillir`) : une gardée qu'aucune des 32 à 64 dernières
# consultations n'a demandée s'en va. Mesuré (banc de 1 000, 2 processus, lancements alternés, deux chacun) : arbre
# 116,4–116,5 Mio et 33,8–33,9 s de calcul à 32 ; 118–120 Mio à 64 ; 118–120 Mio et 32,4–33,3 s sans âge.
CONSULTATIONS_PAR_AGE = 32
_PRODUITES = [0]


def consultation_suivante() -> None:
    """Une consultation de plus produite dans ce processus : toutes les CONSULTATIONS_PAR_TOUR, chaque `Fenetre`
    oublie ce qui n'a pas servi depuis le tour d'avant ; toutes les CONSULTATIONS_PAR_AGE, les gardées qui n'ont pas
    servi depuis l'âge d'avant."""
    _PRODUITES[0] += 1
    tour = _PRODUITES[0] % CONSULTATIONS_PAR_TOUR == 0
    age = _PRODUITES[0] % CONSULTATIONS_PAR_AGE == 0
    for fenetre in list(_FENETRES):
        fenetre.suivante()
        if tour:
            fenetre.tourner()
        if age:
            fenetre.vieillir()


def par_fenetre(maximum: int) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    """Comme `functools.lru_cache(maxsize=maximum)` pour une fonction d'un argument (dont le résultat n'est jamais
    None), gardé dans une `Fenetre` : `fonction.__wrapped__` l'appelle sans mémoire, `fonction.cache_clear()` la
    vide."""
    def decorateur(fonction: Callable[[Any], Any]) -> Callable[[Any], Any]:
        memoire = Fenetre(maximum)

        def enveloppe(arg: Any) -> Any:
            valeur = memoire.get(arg)
            if valeur is None:
                valeur = fonction(arg)
                memoire[arg] = valeur
            return valeur

        enveloppe.__wrapped__ = fonction  # type: ignore[attr-defined]
        enveloppe.memoire = memoire  # type: ignore[attr-defined]
        enveloppe.cache_clear = memoire.vider  # type: ignore[attr-defined]
        return enveloppe
    return decorateur
