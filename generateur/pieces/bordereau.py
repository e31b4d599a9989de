"""Bordereau des prix : les lignes de chaque lot et les parties de sa feuille (DPGF, BPU et DQE, BPU seul)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..donnees import yaml_lignes
from ..erreurs import ErreurDonnees, Probleme
from ..donnees.fichiers import nom_sur
from ..droit.expressions import evaluer
from ..droit.regles import Analyse
from .blocs import Titre
from .texte_technique import blocs_lot

TITRES = {
    "DPGF": "Décomposition du prix global et forfaitaire (DPGF)",
    "BPU-DQE": "Bordereau des prix unitaires (BPU) et détail quantitatif estimatif (DQE)",
    "BPU": "Bordereau des prix unitaires (BPU)",
}


@dataclass
class Ligne:
    designation: str
    unite: str
    quantite: float | None
    forme: str  # unitaire | forfaitaire


@dataclass
class Partie:
    """Un tableau de la feuille d'un lot : DPGF, BPU et DQE, ou BPU seul."""

    sigle: str
    lignes: list[Ligne]

    @property
    def titre(self) -> str:
        return TITRES[self.sigle]

    @property
    def chiffree(self) -> bool:
        """La partie produit un montant (DPGF, DQE), pas seulement des prix unitaires."""
        return self.sigle != "BPU"


@dataclass
class FeuilleLot:
    lot: dict[str, Any]
    parties: list[Partie]
    lignes_types: bool
    avertissements: list[str] = field(default_factory=list)
    # Colonnes à renseigner par le candidat pour chaque ligne (en-tête `colonnes_bordereau` des clauses retenues)
    colonnes: list[str] = field(default_factory=list)


def colonnes_a_renseigner(analyse: Analyse, lot: dict[str, Any]) -> list[str]:
    """Colonnes que les clauses retenues (pour ce lot) demandent au candidat de renseigner pour chaque référence
    du bordereau (en-tête `colonnes_bordereau`)."""
    return list(dict.fromkeys(c for s in analyse.retenues() for c in s.clause.colonnes_bordereau
                              if s.clause.portee != "lot" or lot["numero"] in s.lots))


@lru_cache(maxsize=4)
def _lignes_types(fichier: Path) -> dict[str, list[dict[str, Any]]]:
    doc = yaml_lignes.lire(fichier)
    familles = (doc.donnees or {}).get("familles")
    if not isinstance(familles, dict):
        raise ErreurDonnees(Probleme("clé « familles » attendue", fichier, 1, "familles"))
    for famille, lignes in familles.items():
        for i, ligne in enumerate(lignes or []):
            motif = ligne.get("ouvrages_du_texte") if isinstance(ligne, dict) else None
            if motif is None:
                continue
            try:
                re.compile(str(motif))
            except re.error as exc:
                chemin = f"familles.{famille}.{i}.ouvrages_du_texte"
                raise ErreurDonnees(Probleme(f"motif « ouvrages_du_texte » invalide ({exc})", fichier,
                                             doc.ligne(chemin), chemin)) from None
    return familles


def ouvrages_du_texte(analyse: Analyse, lot: dict[str, Any], section: str) -> list[str]:
    """Intertitres de la section du texte technique du lot dont le titre répond au motif `section` (« Description
    des ouvrages ») : un par ouvrage, dans l'ordre du texte ; vide si le lot n'a pas de texte technique ou
    pas de telle section."""
    ouvrages: list[str] = []
    niveau = None
    for titre in (b for b in blocs_lot(analyse, lot) if isinstance(b, Titre)):
        if niveau is None:
            if re.search(section, titre.texte):
                niveau = titre.niveau
        elif titre.niveau <= niveau:
            break
        elif titre.niveau == niveau + 1:
            ouvrages.append(titre.texte)
    return ouvrages


def lignes_du_lot(analyse: Analyse, lot: dict[str, Any]) -> tuple[list[Ligne], bool, bool]:
    """Lignes du lot : celles des réponses, sinon les lignes types de la famille d'achat (vrai en second) ; une
    ligne type qui porte `ouvrages_du_texte` (modeles/bordereaux.yaml) cède la place aux ouvrages que décrit le texte
    technique du lot (vrai en troisième)."""
    saisies = lot.get("lignes_prix") or []
    types = not saisies
    if types:
        familles = _lignes_types(analyse.catalogue.modeles() / "bordereaux.yaml")
        ctx = analyse.contexte
        saisies = next((familles[c] for c in (ctx["categorie"], lot.get("nature_lot") or ctx["nature"], "autre")
                        if c in familles), [])
    lignes: list[Ligne] = []
    depuis_texte = False
    for l in saisies:
        unite = str(l.get("unite") or "unité")
        quantite = float(l["quantite"]) if l.get("quantite") is not None else None
        forme = str(l.get("forme") or "unitaire")
        ouvrages = ouvrages_du_texte(analyse, lot, str(l["ouvrages_du_texte"])) \
            if types and l.get("ouvrages_du_texte") else []
        depuis_texte = depuis_texte or bool(ouvrages)
        lignes.extend(Ligne(designation, unite, quantite, forme) for designation in ouvrages or [str(l["designation"])])
    return lignes + lignes_ajoutees(analyse, lot, lignes), types, depuis_texte


def lignes_ajoutees(analyse: Analyse, lot: dict[str, Any], lignes: list[Ligne]) -> list[Ligne]:
    """Lignes que le catalogue ajoute au lot selon les réponses (paramètre lignes_prix_ajoutees : retrait de
    l'amiante du lot désigné…), sauf si l'acheteur a déjà écrit une ligne dont la désignation contient `sauf_si`."""
    ajoutees = []
    for regle in analyse.contexte["param"]("lignes_prix_ajoutees") or []:
        if not evaluer(str(regle["condition"]), {**analyse.contexte, "lot": lot}):
            continue
        mot = str(regle.get("sauf_si") or "").lower()
        if mot and any(mot in l.designation.lower() for l in lignes):
            continue
        ajoutees.append(Ligne(str(regle["designation"]), str(regle.get("unite") or "unité"),
                              float(regle["quantite"]) if regle.get("quantite") is not None else None,
                              str(regle.get("forme") or "unitaire")))
    return ajoutees


def feuille_du_lot(analyse: Analyse, lot: dict[str, Any]) -> FeuilleLot:
    """Parties de la feuille d'un lot selon la forme des prix (CCP R2112-6)."""
    forme = analyse.contexte["prix"]["forme"]
    lignes, types, depuis_texte = lignes_du_lot(analyse, lot)
    avertissements = []
    if types:
        ouvrages = (", dont un ouvrage au forfait par intertitre de la description des ouvrages du texte technique"
                    if depuis_texte else "")
        avertissements.append(f"lot {lot['numero']} : lignes types de la famille d'achat{ouvrages}, à adapter "
                              f"(lots[].lignes_prix du fichier de réponses)")
    if forme == "forfaitaire":
        parties = [Partie("DPGF", lignes)]
    else:
        forfaitaires = [l for l in lignes if l.forme == "forfaitaire"] if forme == "mixte" else []
        unitaires = [l for l in lignes if l not in forfaitaires]
        parties = [Partie("DPGF", forfaitaires)] if forfaitaires else []
        if forme == "mixte" and not forfaitaires:
            avertissements.append(f"lot {lot['numero']} : prix mixtes sans ligne forfaitaire (forme: forfaitaire)")
        if unitaires:
            estimees = any(l.quantite is not None for l in unitaires)
            parties.append(Partie("BPU-DQE" if estimees else "BPU", unitaires))
            if not estimees:
                avertissements.append(f"lot {lot['numero']} : aucune quantité estimée, le DQE sur lequel le RC "
                                      "juge les prix n'est pas produit (lots[].lignes_prix[].quantite)")
        elif forme == "mixte":
            avertissements.append(f"lot {lot['numero']} : prix mixtes sans ligne à prix unitaire")
    return FeuilleLot(lot, parties, types, avertissements, colonnes_a_renseigner(analyse, lot))


def sigles(analyse: Analyse) -> list[str]:
    """Pièces financières présentes, dans l'ordre : DPGF, BPU, DQE."""
    presents = {p.sigle for lot in analyse.contexte["lots"] for p in feuille_du_lot(analyse, lot).parties}
    ordre = []
    if "DPGF" in presents:
        ordre.append("DPGF")
    if presents & {"BPU", "BPU-DQE"}:
        ordre.append("BPU")
    if "BPU-DQE" in presents:
        ordre.append("DQE")
    return ordre


def nom_fichier(analyse: Analyse) -> str:
    return f"{nom_sur(str(analyse.contexte['reference']))}-{'-'.join(sigles(analyse)) or 'bordereau'}.xlsx"
