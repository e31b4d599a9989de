"""Couverture du SPASER par le catalogue : pour chaque action, les clauses qui la mettent en œuvre.

Le catalogue étiquette ses clauses avec le référentiel Occitanie ; pour un autre acheteur, la
`correspondance` de son référentiel traduit ces étiquettes (voir acheteurs.Acheteur.actions_pour).
Une action `dce: false` est interne à l'acheteur (formation, pilotage) : aucune clause ne la porte.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from ..donnees.acheteurs import Acheteur, Action
from .blocs import Bloc, Paragraphe, Segment, Tableau, Titre
from ..donnees.catalogue import NIVEAUX, NIVEAUX_COURTS, Catalogue, Clause
from ..donnees.formats import date_longue, liste_fr, nombre, pluriel
from ..droit.parcours import version_courante


@dataclass
class LigneCouverture:
    action: Action
    clauses: list[Clause] = field(default_factory=list)
    # niveaux du lien de chaque clause vers l'action (identifiant de clause → niveaux, dans l'ordre de NIVEAUX)
    niveaux: dict[str, list[str]] = field(default_factory=dict)

    def niveaux_de(self, c: Clause) -> str:
        """« mise en œuvre », « obligation légale ou rappel »…"""
        return " ou ".join(NIVEAUX_COURTS[n] for n in self.niveaux.get(c.id, []))

    @property
    def mise_en_oeuvre_possible(self) -> bool:
        """Une clause au moins peut mettre l'action en œuvre au-delà du droit."""
        return any("mise_en_oeuvre" in n for n in self.niveaux.values())

    @property
    def couverte(self) -> bool:
        return bool(self.clauses)

    @property
    def documents(self) -> list[str]:
        return sorted({c.document for c in self.clauses}, key=("RC", "CCAP", "CCTP").index)


@dataclass
class Couverture:
    acheteur: Acheteur
    jour: dt.date
    lignes: list[LigneCouverture]

    @property
    def portables(self) -> list[LigneCouverture]:
        """Actions qu'un DCE peut porter (dce: true)."""
        return [l for l in self.lignes if l.action.dce]

    @property
    def sans_clause(self) -> list[LigneCouverture]:
        return [l for l in self.portables if not l.couverte]

    @property
    def complete(self) -> bool:
        return not self.sans_clause


def calculer(catalogue: Catalogue, acheteur: Acheteur, jour: dt.date) -> Couverture:
    """Couverture à une date : chaque clause compte pour sa version en vigueur (ou la prochaine à entrer en vigueur)."""
    clauses = [c for versions in catalogue.clauses.values() if (c := version_courante(versions, jour))]
    par_action: dict[str, list[Clause]] = {}
    niveaux: dict[str, dict[str, list[str]]] = {}
    for c in sorted(clauses, key=lambda c: (("RC", "CCAP", "CCTP").index(c.document), c.id)):
        for lien in c.liens:
            for action in acheteur.actions_pour(lien.action, c.id):
                liste = par_action.setdefault(action.id, [])
                if c not in liste:
                    liste.append(c)
                du_lien = niveaux.setdefault(action.id, {}).setdefault(c.id, [])
                if lien.niveau not in du_lien:
                    du_lien.append(lien.niveau)
    for par_clause in niveaux.values():
        for liste in par_clause.values():
            liste.sort(key=list(NIVEAUX).index)
    lignes = [LigneCouverture(a, par_action.get(a.id, []), niveaux.get(a.id, {})) for a in acheteur.actions.values()]
    return Couverture(acheteur, jour, lignes)


def _par_axe(couverture: Couverture) -> list[tuple[dict[str, Any], list[tuple[dict[str, Any], list[LigneCouverture]]]]]:
    axes: list[tuple[dict[str, Any], list[tuple[dict[str, Any], list[LigneCouverture]]]]] = []
    for ligne in couverture.lignes:
        if not axes or axes[-1][0] is not ligne.action.axe:
            axes.append((ligne.action.axe, []))
        chantiers = axes[-1][1]
        if not chantiers or chantiers[-1][0] is not ligne.action.chantier:
            chantiers.append((ligne.action.chantier, []))
        chantiers[-1][1].append(ligne)
    return axes


def _clauses_texte(ligne: LigneCouverture) -> str:
    if not ligne.action.dce:
        return "action interne (hors DCE)"
    if not ligne.clauses:
        return "AUCUNE CLAUSE"
    return ", ".join(f"{c.id} ({c.document}, {ligne.niveaux_de(c)})" for c in ligne.clauses)


def resume(couverture: Couverture) -> str:
    portables = couverture.portables
    couvertes = [l for l in portables if l.couverte]
    texte = (f"{pluriel(len(couvertes), 'action couverte')} sur {nombre(len(portables))} qu'un DCE peut porter "
             f"({pluriel(len(couverture.lignes) - len(portables), 'action interne')} hors DCE), catalogue au "
             f"{date_longue(couverture.jour)}.")
    if couverture.sans_clause:
        texte += " Sans clause : " + liste_fr(l.action.id for l in couverture.sans_clause) + "."
    seulement_droit = [l for l in couvertes if not l.mise_en_oeuvre_possible]
    if seulement_droit:
        texte += (" Couvertes seulement par des obligations légales ou des rappels, jamais mises en œuvre au-delà du "
                  "droit : " + liste_fr(l.action.id for l in seulement_droit) + ".")
    return texte


def texte_terminal(couverture: Couverture, largeur: int = 110) -> str:
    """Tableau par axe et chantier pour le terminal."""
    import textwrap

    sortie = [f"Couverture du référentiel « {couverture.acheteur.referentiel.get('titre', '')} »", ""]
    col_action, col_titre = 6, 44
    col_clauses = max(30, largeur - col_action - col_titre - 4)
    for axe, chantiers in _par_axe(couverture):
        sortie.append(f"Axe {axe.get('numero')} – {axe.get('titre')}")
        for chantier, lignes in chantiers:
            sortie.append(f"  Chantier {chantier.get('numero')} – {chantier.get('titre')}")
            for ligne in lignes:
                titre = ligne.action.titre
                titre = titre if len(titre) <= col_titre else titre[: col_titre - 1] + "…"
                morceaux = textwrap.wrap(_clauses_texte(ligne), col_clauses, break_on_hyphens=False) or [""]
                marque = " " if not ligne.action.dce else ("✓" if ligne.couverte else "✗")
                sortie.append(f"  {marque} {ligne.action.id.ljust(col_action)}{titre.ljust(col_titre)}  {morceaux[0]}")
                sortie.extend(" " * (4 + col_action + col_titre + 2) + m for m in morceaux[1:])
        sortie.append("")
    sortie.append(resume(couverture))
    return "\n".join(sortie)


def _cellule(texte: str, gras: bool = False) -> list[Segment]:
    return [Segment(texte, gras)]


def blocs(couverture: Couverture) -> tuple[list[Bloc], list[Titre]]:
    """Document Word : synthèse, puis un tableau par chantier."""
    resultat: list[Bloc] = []
    titres: list[Titre] = []
    titre = Titre(1, "Synthèse", "_Toc_synthese")
    resultat += [titre, Paragraphe([Segment(resume(couverture))])]
    titres.append(titre)
    if couverture.sans_clause:
        resultat.append(Tableau([[_cellule("Action"), _cellule("Intitulé")]] +
                                [[_cellule(l.action.id), _cellule(l.action.titre)] for l in couverture.sans_clause],
                                True, [15, 85]))
    for n, (axe, chantiers) in enumerate(_par_axe(couverture), start=1):
        titre = Titre(1, f"Axe {axe.get('numero')} – {axe.get('titre')}", f"_Toc_axe_{n}")
        resultat.append(titre)
        titres.append(titre)
        for chantier, lignes in chantiers:
            sous = Titre(2, f"Chantier {chantier.get('numero')} – {chantier.get('titre')}",
                         f"_Toc_chantier_{chantier.get('numero')}")
            resultat.append(sous)
            titres.append(sous)
            rangs = [[_cellule("Action"), _cellule("Intitulé"), _cellule("Clauses"), _cellule("Pièces")]]
            for l in lignes:
                if l.clauses:
                    clauses: list[Segment] = []
                    for c in l.clauses:
                        clauses += ([Segment("\n")] if clauses else []) + [
                            Segment(f"{c.titre} ({c.id}, {c.document}) : {l.niveaux_de(c)}")]
                else:
                    clauses = _cellule(_clauses_texte(l), gras=l.action.dce)
                rangs.append([_cellule(l.action.id), _cellule(l.action.titre), clauses,
                              _cellule(", ".join(l.documents) or "—")])
            resultat.append(Tableau(rangs, True, [9, 41, 38, 12]))
    return resultat, titres


