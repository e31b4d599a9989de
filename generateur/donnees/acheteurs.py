"""Profils d'acheteurs (acheteurs/<id>/acheteur.yaml) et leur référentiel SPASER.

Ajouter un acheteur, c'est ajouter un dossier : aucune ligne de code.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import yaml_lignes
from ..erreurs import ErreurDonnees, Probleme

CATEGORIES = ("etat", "epa_etat_60m", "collectivite_drf_60m", "autre")
CHAMPS_OBLIGATOIRES = ("id", "nom", "nom_court", "adresse", "categorie", "representant", "politique", "referentiel")


@dataclass
class Action:
    id: str
    titre: str
    dce: bool
    chantier: dict[str, Any]
    axe: dict[str, Any]


@dataclass
class Acheteur:
    profil: dict[str, Any]
    referentiel: dict[str, Any]
    actions: dict[str, Action]
    dossier: Path

    @property
    def id(self) -> str:
        return str(self.profil["id"])

    @property
    def categorie(self) -> str:
        return str(self.profil["categorie"])

    def actions_pour(self, etiquette: str) -> list[Action]:
        """Actions de ce référentiel désignées par une étiquette du catalogue.

        Le catalogue étiquette ses clauses avec le référentiel Occitanie ; un autre acheteur déclare
        dans son référentiel une `correspondance` étiquette → liste de ses propres actions.
        """
        correspondance = self.referentiel.get("correspondance")
        idents = [etiquette] if correspondance is None else correspondance.get(str(etiquette)) or []
        return [self.actions[str(i)] for i in idents if str(i) in self.actions]

    def logo(self) -> Path | None:
        nom = self.profil.get("logo")
        return (self.dossier / nom) if nom else None


@lru_cache(maxsize=16)
def charger(racine: Path, identifiant: str) -> Acheteur:
    """Charge le profil et le référentiel d'un acheteur ; erreurs en français avec fichier et ligne."""
    dossier = racine / "acheteurs" / identifiant
    fichier = dossier / "acheteur.yaml"
    if not fichier.is_file():
        connus = sorted(p.name for p in (racine / "acheteurs").iterdir() if (p / "acheteur.yaml").is_file())
        raise ErreurDonnees(Probleme(f"profil d'acheteur « {identifiant} » introuvable ; profils disponibles : "
                                     f"{', '.join(connus)}", fichier))
    doc = yaml_lignes.lire(fichier)
    profil = doc.donnees if isinstance(doc.donnees, dict) else {}
    problemes = [Probleme("champ obligatoire manquant", fichier, 1, c) for c in CHAMPS_OBLIGATOIRES if c not in profil]
    if profil.get("categorie") not in CATEGORIES:
        problemes.append(Probleme(f"catégorie inconnue ; valeurs possibles : {', '.join(CATEGORIES)}", fichier,
                                  doc.ligne("categorie"), "categorie"))
    if problemes:
        raise ErreurDonnees(problemes)
    fichier_ref = dossier / str(profil["referentiel"])
    ref_doc = yaml_lignes.lire(fichier_ref)
    referentiel = ref_doc.donnees or {}
    actions: dict[str, Action] = {}
    for i, axe in enumerate(referentiel.get("axes", [])):
        for j, chantier in enumerate(axe.get("chantiers", [])):
            for k, action in enumerate(chantier.get("actions", [])):
                ident = str(action.get("id"))
                if ident in actions:
                    chemin = f"axes.{i}.chantiers.{j}.actions.{k}.id"
                    problemes.append(Probleme(f"action « {ident} » en double", fichier_ref, ref_doc.ligne(chemin), chemin))
                actions[ident] = Action(ident, str(action.get("titre", "")), bool(action.get("dce", True)), chantier, axe)
    if problemes:
        raise ErreurDonnees(problemes)
    return Acheteur(profil, referentiel, actions, dossier)
