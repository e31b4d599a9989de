"""Profils d'acheteurs (acheteurs/<id>/acheteur.yaml) et leur référentiel SPASER.

Ajouter un acheteur, c'est ajouter un dossier : aucune ligne de code.

Les champs que les pièces impriment (SIRET, adresse du profil d'acheteur, tribunal, instance de médiation)
sont validés au chargement : une valeur manquante ou fausse arrête la génération (code 2, fichier, ligne et
champ). Une valeur encore inconnue s'écrit explicitement `{a_completer: "libellé"}` : elle paraît surlignée
dans les pièces et l'analyse la recense (`Analyse.a_completer`) ; jamais un blanc. Le champ facultatif `sources`
cite, champ par champ, la source publique d'une valeur écrite (validé au chargement : champ connu, texte non vide).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from . import yaml_lignes
from .formats import a_completer
from ..erreurs import ErreurDonnees, Probleme

CATEGORIES = ("etat", "epa_etat_60m", "collectivite_drf_60m", "autre")
CHAMPS_OBLIGATOIRES = ("id", "nom", "nom_court", "adresse", "categorie", "representant", "politique", "referentiel",
                       "siret", "profil_acheteur", "tribunal", "mediateur")
# Champs imprimés dans les pièces qui peuvent être marqués `{a_completer: "libellé"}` dans le profil.
CHAMPS_A_COMPLETER = ("siret", "profil_acheteur", "tribunal", "mediateur")
# Organismes (tribunal, instance de médiation) : champs permis ; `nom` et `adresse` sont obligatoires.
CHAMPS_ORGANISME = ("nom", "adresse", "telephone", "courriel", "site", "telerecours", "autre", "a_verifier")
SIREN_LA_POSTE = "356000000"


@dataclass
class ChampACompleter:
    """Un champ du profil qu'un humain doit compléter (`a_completer`) ou vérifier (`a_verifier`) avant publication."""

    champ: str
    libelle: str
    fichier: Path
    ligne: int | None
    nature: str = "à compléter"  # ou « à vérifier »


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
    a_completer: list[ChampACompleter] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(self.profil["id"])

    @property
    def categorie(self) -> str:
        return str(self.profil["categorie"])

    def actions_pour(self, etiquette: str, clause: str | None = None) -> list[Action]:
        """Actions de ce référentiel désignées par une étiquette du catalogue.

        Le catalogue étiquette ses clauses avec le référentiel Occitanie ; un autre acheteur déclare
        dans son référentiel une `correspondance` étiquette → liste de ses propres actions, et, pour une clause
        dont l'étiquette ne vaut pas chez lui l'action que donne la correspondance, `correspondance_clauses`
        identifiant de clause → {étiquette → liste de ses actions} (une liste vide : aucune action).
        """
        propres = (self.referentiel.get("correspondance_clauses") or {}).get(clause) or {}
        correspondance = self.referentiel.get("correspondance")
        if str(etiquette) in propres:
            idents = propres[str(etiquette)] or []
        else:
            idents = [etiquette] if correspondance is None else correspondance.get(str(etiquette)) or []
        return [self.actions[str(i)] for i in idents if str(i) in self.actions]

    def valeurs(self) -> dict[str, Any]:
        """Le profil tel que les clauses le lisent : un champ « à compléter » y devient un texte marqué, surligné
        dans Word (formats.a_completer)."""
        valeurs = dict(self.profil)
        for c in self.a_completer:
            if c.nature == "à compléter":
                valeurs[c.champ] = a_completer(c.libelle)
        return valeurs

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
    doc = yaml_lignes.lire(fichier, garder=True)
    profil = doc.donnees if isinstance(doc.donnees, dict) else {}
    problemes = [Probleme("champ obligatoire manquant", fichier, 1, c) for c in CHAMPS_OBLIGATOIRES if c not in profil]
    if profil.get("categorie") not in CATEGORIES:
        problemes.append(Probleme(f"catégorie inconnue ; valeurs possibles : {', '.join(CATEGORIES)}", fichier,
                                  doc.ligne("categorie"), "categorie"))
    a_completer_ = _valider_champs_imprimes(profil, doc, fichier, problemes)
    _valider_sources(profil, doc, fichier, problemes)
    if problemes:
        raise ErreurDonnees(problemes)
    fichier_ref = dossier / str(profil["referentiel"])
    ref_doc = yaml_lignes.lire(fichier_ref, garder=True)
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
    return Acheteur(profil, referentiel, actions, dossier, a_completer_)


def siret_valide(siret: str) -> bool:
    """14 chiffres et clé de Luhn (INSEE) ; les établissements de La Poste suivent leur propre règle
    (somme des chiffres multiple de 5)."""
    if not re.fullmatch(r"\d{14}", siret):
        return False
    if siret.startswith(SIREN_LA_POSTE) and sum(int(c) for c in siret) % 5 == 0:
        return True
    total = 0
    for i, c in enumerate(reversed(siret)):
        n = int(c) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def _valider_champs_imprimes(profil: dict[str, Any], doc: yaml_lignes.Document, fichier: Path,
                             problemes: list[Probleme]) -> list[ChampACompleter]:
    """Valide SIRET, adresse du profil d'acheteur, tribunal et instance de médiation ; recense les champs
    marqués `a_completer` (et les organismes qui portent un `a_verifier`)."""
    recenses: list[ChampACompleter] = []

    def pb(message: str, champ: str) -> None:
        problemes.append(Probleme(message, fichier, doc.ligne(champ), champ))

    for champ in CHAMPS_A_COMPLETER:
        if champ not in profil:
            continue  # déjà signalé : champ obligatoire manquant
        valeur = profil[champ]
        if isinstance(valeur, dict) and "a_completer" in valeur:
            libelle = valeur["a_completer"]
            if set(valeur) != {"a_completer"} or not isinstance(libelle, str) or not libelle.strip():
                pb("valeur à compléter mal écrite : « {a_completer: \"ce qu'il faut indiquer\"} », sans autre clé", champ)
            else:
                recenses.append(ChampACompleter(champ, libelle.strip(), fichier, doc.ligne(champ)))
            continue
        if valeur in (None, "", [], {}):
            pb("valeur vide : indiquer la valeur, ou écrire {a_completer: \"…\"} pour la faire compléter "
               "(surlignée dans les pièces)", champ)
        elif champ == "siret":
            texte = str(valeur).replace(" ", "")
            if not siret_valide(texte):
                pb(f"SIRET « {valeur} » invalide : 14 chiffres dont le dernier est une clé de contrôle (algorithme "
                   "de Luhn)", champ)
            else:
                profil[champ] = texte
        elif champ == "profil_acheteur":
            url = urlparse(str(valeur))
            if url.scheme not in ("http", "https") or "." not in url.netloc or " " in str(valeur):
                pb(f"adresse du profil d'acheteur « {valeur} » invalide : une adresse internet complète est "
                   "attendue (https://…)", champ)
        else:
            _valider_organisme(valeur, champ, pb)
            if isinstance(valeur, dict) and str(valeur.get("a_verifier") or "").strip():
                recenses.append(ChampACompleter(champ, str(valeur["a_verifier"]).strip(), fichier,
                                                doc.ligne(f"{champ}.a_verifier"), "à vérifier"))
    return recenses


def _valider_sources(profil: dict[str, Any], doc: yaml_lignes.Document, fichier: Path,
                     problemes: list[Probleme]) -> None:
    """`sources` (facultatif) : pour un champ imprimé, la source publique de sa valeur, citée en toutes lettres."""
    if "sources" not in profil:
        return
    sources = profil["sources"]
    if not isinstance(sources, dict):
        problemes.append(Probleme("les sources s'écrivent champ par champ : « siret: \"source citée\" »", fichier,
                                  doc.ligne("sources"), "sources"))
        return
    for champ, texte in sources.items():
        if champ not in CHAMPS_A_COMPLETER:
            problemes.append(Probleme(f"champ inconnu ; sources possibles pour : {', '.join(CHAMPS_A_COMPLETER)}",
                                      fichier, doc.ligne(f"sources.{champ}"), f"sources.{champ}"))
        elif not (isinstance(texte, str) and texte.strip()):
            problemes.append(Probleme("source vide : citer le document public (titre, adresse, date) ou retirer le "
                                      "champ", fichier, doc.ligne(f"sources.{champ}"), f"sources.{champ}"))


def _valider_organisme(valeur: Any, champ: str, pb: Any) -> None:
    if not isinstance(valeur, dict):
        pb("un organisme est attendu : nom, adresse (liste de lignes), et s'il y a lieu telephone, courriel, site",
           champ)
        return
    for cle in sorted(set(valeur) - set(CHAMPS_ORGANISME)):
        pb(f"champ inconnu ; champs possibles : {', '.join(CHAMPS_ORGANISME)}", f"{champ}.{cle}")
    if not str(valeur.get("nom") or "").strip():
        pb("nom de l'organisme manquant", f"{champ}.nom")
    adresse = valeur.get("adresse")
    if not isinstance(adresse, list) or not adresse or not all(isinstance(l, str) and l.strip() for l in adresse):
        pb("adresse manquante : une liste de lignes non vides est attendue", f"{champ}.adresse")
    for cle in ("telephone", "courriel", "site", "telerecours", "autre", "a_verifier"):
        if cle in valeur and not (isinstance(valeur[cle], str) and valeur[cle].strip()):
            pb("valeur vide : retirer le champ ou le remplir", f"{champ}.{cle}")
