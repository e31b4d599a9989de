"""Bilan SPASER d'un dossier de consultations : les indicateurs de la politique d'achat, année par année.

Chaque fichier de réponses du dossier est analysé comme pour `dce generer` (mêmes règles, mêmes
clauses) ; les indicateurs se déduisent de ce que disent les pièces — les clauses retenues et les valeurs DECP,
lot par lot (chaque lot est un marché) —, jamais d'une saisie. Chaque indicateur se compte en consultations,
en lots et en montant estimé. Les cibles viennent du profil de l'acheteur (`politique.cibles`), pas du code.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..donnees.acheteurs import Acheteur
from ..droit.conformite import normaliser
from ..pieces.lecture import controler
from ..erreurs import ErreurDCE, Probleme
from ..droit.regles import Analyse
from ..droit.spaser import (PAS_ENVIRONNEMENTALE, PAS_SOCIALE, considerations_decp, considerations_decp_par_lot,
                            ordre_actions, par_niveau)

NBSP = "\u00a0"
# La réponse qui impose des produits du commerce équitable (condition d'exécution). Une clause retenue ne compte
# que si elle a lu cette réponse et l'a trouvée vraie : la variante « commerce équitable » du RC, retenue justement
# quand la réponse est fausse, dit que le dossier n'en impose pas.
COMMERCE_EQUITABLE = "spaser.commerce_equitable.actif"


@dataclass
class LotBilan:
    """Un lot d'une consultation (un marché, déclaré à part dans les DECP), réduit à ce que comptent les indicateurs."""

    numero: int
    intitule: str
    montant: float
    decp_sociales: list[str]
    decp_environnementales: list[str]
    heures_insertion: int
    commerce_equitable: bool

    @property
    def consideration_environnementale(self) -> bool:
        return self.decp_environnementales != [PAS_ENVIRONNEMENTALE]

    @property
    def critere_environnemental(self) -> bool:
        return "Critère environnemental" in self.decp_environnementales

    @property
    def consideration_sociale(self) -> bool:
        return self.decp_sociales != [PAS_SOCIALE]

    @property
    def clause_sociale(self) -> bool:
        """Condition d'exécution sociale ou marché réservé (DECP)."""
        return "Clause sociale" in self.decp_sociales or "Marché réservé" in self.decp_sociales

    @property
    def marche_reserve(self) -> bool:
        return "Marché réservé" in self.decp_sociales

    @property
    def montant_commerce_equitable(self) -> float:
        return self.montant if self.commerce_equitable else 0


@dataclass
class Consultation:
    """Une consultation du dossier, réduite à ce que comptent les indicateurs."""

    fichier: str
    acheteur: str
    reference: str
    objet: str
    date_lancement: dt.date
    nature: str
    categorie: str
    procedure: str
    montant_total: float
    lots: int
    allotie: bool
    decp_sociales: list[str]
    decp_environnementales: list[str]
    heures_insertion: int
    commerce_equitable: bool
    actions: list[str]  # actions mises en œuvre au-delà du droit (choix de l'acheteur ou règle de sa politique)
    chantiers: list[tuple[Any, Any]]  # (numéro d'axe, numéro de chantier) de ces actions
    obligations_non_respectees: list[str]
    detail_lots: list[LotBilan] = field(default_factory=list)
    # actions et chantiers que la consultation ne touche que par des obligations légales (comptés à part)
    actions_obligations: list[str] = field(default_factory=list)
    chantiers_obligations: list[tuple[Any, Any]] = field(default_factory=list)

    @property
    def annee(self) -> int:
        return self.date_lancement.year

    # Une consultation remplit un indicateur dès qu'un de ses lots le remplit.
    @property
    def consideration_environnementale(self) -> bool:
        return any(l.consideration_environnementale for l in self.detail_lots)

    @property
    def critere_environnemental(self) -> bool:
        return any(l.critere_environnemental for l in self.detail_lots)

    @property
    def consideration_sociale(self) -> bool:
        return any(l.consideration_sociale for l in self.detail_lots)

    @property
    def clause_sociale(self) -> bool:
        return any(l.clause_sociale for l in self.detail_lots)

    @property
    def marche_reserve(self) -> bool:
        return any(l.marche_reserve for l in self.detail_lots)

    @property
    def montant_commerce_equitable(self) -> float:
        return sum(l.montant_commerce_equitable for l in self.detail_lots)


@dataclass
class Mesure:
    """Valeur d'un indicateur pour une année, avec les consultations et les lots qui la fondent."""

    annee: int
    population: list[Consultation]
    comptees: list[Consultation]
    total: float  # somme des valeurs des lots : heures, euros ; pour une part, nombre de lots comptés
    cible: float | None = None
    lots: list[tuple[Consultation, LotBilan]] = field(default_factory=list)
    lots_comptes: list[tuple[Consultation, LotBilan]] = field(default_factory=list)

    @property
    def part(self) -> float | None:
        """En points de pourcentage ; None si la population est vide."""
        return 100 * len(self.comptees) / len(self.population) if self.population else None

    @property
    def montant(self) -> float:
        """Montant estimé (€ HT) des lots considérés."""
        return sum(l.montant for _, l in self.lots)

    @property
    def montant_compte(self) -> float:
        """Montant estimé (€ HT) des lots comptés."""
        return sum(l.montant for _, l in self.lots_comptes)

    @property
    def part_lots(self) -> float | None:
        return 100 * len(self.lots_comptes) / len(self.lots) if self.lots else None

    @property
    def part_montant(self) -> float | None:
        return 100 * self.montant_compte / self.montant if self.montant else None


@dataclass
class Indicateur:
    id: str
    libelle: str
    definition: str
    genre: str  # « part » (nombre et part) ou « somme » (heures, euros)
    unite: str = ""
    cible_libelle: str = ""
    mesures: dict[int, Mesure] = field(default_factory=dict)


@dataclass
class Bilan:
    """Bilan d'un acheteur sur les consultations du dossier."""

    acheteur: Acheteur
    dossier: Path
    annees: list[int]
    consultations: list[Consultation]
    indicateurs: list[Indicateur]
    chantiers: list[dict[str, Any]]
    decp: list[dict[str, Any]]

    def indicateur(self, ident: str) -> Indicateur:
        return next(i for i in self.indicateurs if i.id == ident)


def _commerce_equitable(analyse: Analyse) -> set[int]:
    """Lots dont les pièces imposent des produits du commerce équitable : une clause retenue pour ce lot a lu la
    réponse qui l'impose et l'a trouvée vraie (une clause de la consultation vaut pour tous les lots)."""
    numeros = [l["numero"] for l in analyse.contexte["lots"]]
    lots: set[int] = set()
    for s in analyse.retenues():
        if s.lues.get(COMMERCE_EQUITABLE) is True:
            lots.update(s.lots if s.clause.portee == "lot" else numeros)
    return lots


def consultation(analyse: Analyse, fichier: str) -> Consultation:
    """Ligne du bilan pour une consultation analysée, avec le détail de ses lots."""
    ctx = analyse.contexte
    decp = considerations_decp(analyse)
    par_lot = considerations_decp_par_lot(analyse)
    equitables = _commerce_equitable(analyse)
    niveaux = par_niveau(analyse)
    mises = niveaux["mise_en_oeuvre"]
    chantiers = sorted({(l.action.axe.get("numero"), l.action.chantier.get("numero")) for l in mises}, key=str)
    legales = [l for l in niveaux["obligation_legale"] if l.action.id not in {m.action.id for m in mises}]
    chantiers_legaux = sorted({(l.action.axe.get("numero"), l.action.chantier.get("numero")) for l in legales}
                              - set(chantiers), key=str)
    detail = [LotBilan(numero=l["numero"], intitule=normaliser(l["intitule"]), montant=l["montant_estime"],
                       decp_sociales=par_lot[l["numero"]]["considerationsSociales"],
                       decp_environnementales=par_lot[l["numero"]]["considerationsEnvironnementales"],
                       heures_insertion=int(l["heures_insertion"] or 0),
                       commerce_equitable=l["numero"] in equitables)
              for l in ctx["lots"]]
    return Consultation(
        fichier=fichier, acheteur=analyse.acheteur.id, reference=str(ctx["reference"]),
        objet=normaliser(ctx["objet"]), date_lancement=ctx["date_lancement"], nature=ctx["nature"],
        categorie=ctx["categorie"], procedure=ctx["procedure_libelle"], montant_total=ctx["montant_total"],
        lots=len(ctx["lots"]), allotie=bool(ctx["allotie"]), decp_sociales=decp["considerationsSociales"],
        decp_environnementales=decp["considerationsEnvironnementales"],
        heures_insertion=sum(l.heures_insertion for l in detail),
        commerce_equitable=bool(equitables),
        actions=ordre_actions({l.action.id for l in mises}),
        chantiers=chantiers,
        actions_obligations=ordre_actions({l.action.id for l in legales}),
        chantiers_obligations=chantiers_legaux,
        obligations_non_respectees=[v.id for v in controler(analyse).bloquants],
        detail_lots=detail,
    )


def lire_dossier(dossier: Path, racine: Path | None = None) -> list[tuple[Acheteur, Consultation]]:
    """Analyse chaque fichier de réponses (*.yaml, *.yml) du dossier et de ses sous-dossiers.

    Tous les problèmes sont signalés ensemble ; une même référence deux fois pour un acheteur est une erreur.
    """
    from ..droit.regles import preparer

    fichiers = sorted(p for motif in ("*.yaml", "*.yml") for p in dossier.rglob(motif) if p.is_file())
    if not fichiers:
        raise ErreurDCE(Probleme("aucun fichier de réponses (*.yaml) dans ce dossier", dossier))
    problemes: list[Probleme] = []
    lues: list[tuple[Acheteur, Consultation]] = []
    vues: dict[tuple[str, str], str] = {}
    for fichier in fichiers:
        relatif = fichier.relative_to(dossier).as_posix()
        try:
            analyse = preparer(fichier, racine)
            ligne = consultation(analyse, relatif)
        except ErreurDCE as exc:
            problemes.extend(exc.problemes)
            continue
        cle = (ligne.acheteur, ligne.reference)
        if cle in vues:
            problemes.append(Probleme(f"référence «{NBSP}{ligne.reference}{NBSP}» déjà utilisée par {vues[cle]}{NBSP}: une "
                                      "consultation ne doit être comptée qu'une fois", fichier, None, "reference"))
            continue
        vues[cle] = relatif
        lues.append((analyse.acheteur, ligne))
    if problemes:
        raise ErreurDCE(problemes)
    return lues


def _cibles(acheteur: Acheteur) -> dict[str, Any]:
    return (acheteur.profil.get("politique") or {}).get("cibles") or {}


def cible(acheteur: Acheteur, ident: str, annee: int) -> float | None:
    """Cible de la politique pour l'année : la dernière fixée pour une année antérieure ou égale."""
    valeurs = (_cibles(acheteur).get(ident) or {}).get("valeurs") or {}
    fixees = sorted((int(a), float(v)) for a, v in valeurs.items() if int(a) <= annee)
    return fixees[-1][1] if fixees else None


def trajectoire(acheteur: Acheteur, ident: str) -> list[tuple[int, float]]:
    valeurs = (_cibles(acheteur).get(ident) or {}).get("valeurs") or {}
    return sorted((int(a), float(v)) for a, v in valeurs.items())


def _definitions(acheteur: Acheteur) -> list[tuple[Indicateur, Callable[[Consultation], bool],
                                                  Callable[[Consultation, LotBilan], float]]]:
    """Indicateurs : (indicateur, population, valeur par lot). Une consultation est comptée si un de ses lots l'est."""
    from ..donnees.formats import montant

    seuil = (_cibles(acheteur).get("clause_sociale") or {}).get("montant_minimal")
    population_sociale = (lambda c: c.montant_total > seuil) if seuil is not None else (lambda c: True)
    tout = lambda c: True  # noqa: E731
    sur = f"de plus de {montant(seuil)}" if seuil is not None else ""

    def part(ident: str, libelle: str, definition: str, compte: Callable[[Consultation, LotBilan], bool],
             population: Callable[[Consultation], bool] = tout):
        return (Indicateur(ident, libelle, definition, "part"), population,
                lambda c, l: 1.0 if compte(c, l) else 0.0)

    return [
        part("consideration_environnementale", "Consultations avec une considération environnementale",
             "Au moins une valeur environnementale dans les données essentielles d'un lot (clause ou critère).",
             lambda c, l: l.consideration_environnementale),
        part("critere_environnemental", "Consultations avec un critère d'attribution environnemental",
             f"«{NBSP}Critère environnemental{NBSP}» dans les données essentielles{NBSP}: un critère pondéré de type environnemental.",
             lambda c, l: l.critere_environnemental),
        part("clause_sociale", f"Consultations {sur} avec une clause sociale".replace("  ", " "),
             (f"Parmi les consultations dont la valeur estimée dépasse {montant(seuil)}{NBSP}: " if seuil is not None
              else "") + "condition d'exécution sociale ou marché réservé dans les données essentielles d'un lot.",
             lambda c, l: l.clause_sociale, population_sociale),
        part("consideration_sociale", "Consultations avec une considération sociale",
             "Au moins une valeur sociale dans les données essentielles d'un lot (clause, critère ou marché réservé).",
             lambda c, l: l.consideration_sociale),
        part("marches_reserves", "Marchés réservés",
             f"«{NBSP}Marché réservé{NBSP}» dans les données essentielles d'un lot.",
             lambda c, l: l.marche_reserve),
        part("allotissement", "Consultations alloties", "Consultations divisées en plusieurs lots.",
             lambda c, l: c.allotie),
        part("spaser_au_dela_du_droit", "Consultations mettant en œuvre le SPASER au-delà du droit",
             "Au moins une action du SPASER mise en œuvre par une clause retenue au-delà de ce que le droit impose "
             "(choix de l'acheteur ou règle de sa politique d'achat) ; les clauses qui appliquent une obligation "
             "légale ou rappellent le droit ne comptent pas, ni une variante, ni un critère de jugement sans clause "
             "d'exécution qui met en œuvre la même action.",
             lambda c, l: bool(c.actions)),
        (Indicateur("heures_insertion", "Heures d'insertion prévues",
                    "Somme des heures d'insertion calculées lot par lot (clauses d'insertion retenues).", "somme",
                    "heures"), tout, lambda c, l: float(l.heures_insertion)),
        (Indicateur("commerce_equitable", "Montant des consultations exigeant des produits du commerce équitable",
                    "Valeur estimée des lots dont une clause retenue impose des produits du commerce équitable "
                    "(loi n° 2005-882, art. 60) parce que l'acheteur l'a demandé ; une variante ou un critère ne "
                    "compte pas.", "somme", "euros"), tout,
         lambda c, l: l.montant_commerce_equitable),
    ]


def construire(acheteur: Acheteur, consultations: list[Consultation], dossier: Path) -> Bilan:
    """Calcule tous les indicateurs de l'acheteur, année par année (année de lancement)."""
    annees = sorted({c.annee for c in consultations})
    indicateurs = []
    for indicateur, population, valeur in _definitions(acheteur):
        libelle_cible = (_cibles(acheteur).get(indicateur.id) or {}).get("libelle", "")
        indicateur.cible_libelle = str(libelle_cible)
        for annee in annees:
            dans = [c for c in consultations if c.annee == annee and population(c)]
            lots = [(c, l) for c in dans for l in c.detail_lots]
            comptes = [(c, l) for c, l in lots if valeur(c, l)]
            comptees = [c for c in dans if any(x is c for x, _ in comptes)]
            indicateur.mesures[annee] = Mesure(annee, dans, comptees, sum(valeur(c, l) for c, l in lots),
                                               cible(acheteur, indicateur.id, annee), lots, comptes)
        indicateurs.append(indicateur)

    chantiers = []
    for axe in acheteur.referentiel.get("axes", []):
        for ch in axe.get("chantiers", []):
            if not any(a.get("dce", True) for a in ch.get("actions", [])):
                continue  # chantier sans action qu'un DCE puisse porter
            for annee in annees:
                de_l_annee = [c for c in consultations if c.annee == annee]
                dedans = [c for c in de_l_annee if (axe.get("numero"), ch.get("numero")) in c.chantiers]
                legaux = [c for c in de_l_annee if (axe.get("numero"), ch.get("numero")) in c.chantiers_obligations]
                chantiers.append({
                    "annee": annee, "axe": axe.get("numero"), "axe_titre": axe.get("titre"),
                    "chantier": ch.get("numero"), "titre": ch.get("titre"),
                    "consultations": len(de_l_annee), "mettent_en_oeuvre": dedans,
                    "obligations_legales_seules": legaux,
                    "consideration_environnementale": [c for c in dedans if c.consideration_environnementale],
                    "critere_environnemental": [c for c in dedans if c.critere_environnemental],
                })

    decp = []
    for annee in annees:
        de_l_annee = [c for c in consultations if c.annee == annee]
        for champ, attribut, valeurs in (
                ("considerationsSociales", "decp_sociales",
                 ("Clause sociale", "Critère social", "Marché réservé", PAS_SOCIALE)),
                ("considerationsEnvironnementales", "decp_environnementales",
                 ("Clause environnementale", "Critère environnemental", PAS_ENVIRONNEMENTALE))):
            for v in valeurs:
                decp.append({"annee": annee, "champ": champ, "valeur": v,
                             "consultations": [c for c in de_l_annee if v in getattr(c, attribut)],
                             "lots": [(c, l) for c in de_l_annee for l in c.detail_lots if v in getattr(l, attribut)]})
    return Bilan(acheteur, dossier, annees, consultations, indicateurs, chantiers, decp)


def bilans(dossier: Path, racine: Path | None = None, annee: int | None = None,
           acheteur: str | None = None) -> list[Bilan]:
    """Un bilan par acheteur présent dans le dossier (ou pour l'acheteur demandé)."""
    lues = lire_dossier(dossier, racine)
    if annee is not None:
        lues = [(a, c) for a, c in lues if c.annee == annee]
    if acheteur is not None:
        lues = [(a, c) for a, c in lues if a.id == acheteur]
    if not lues:
        quoi = " ".join(filter(None, [f"lancée en {annee}" if annee else "", f"de l'acheteur «{NBSP}{acheteur}{NBSP}»" if acheteur else ""]))
        raise ErreurDCE(Probleme(f"aucune consultation {quoi} dans ce dossier".replace("  ", " "), dossier))
    par_acheteur: dict[str, tuple[Acheteur, list[Consultation]]] = {}
    for a, c in lues:
        par_acheteur.setdefault(a.id, (a, []))[1].append(c)
    return [construire(a, sorted(cs, key=lambda c: (c.date_lancement, c.reference)), dossier)
            for _, (a, cs) in sorted(par_acheteur.items())]
