"""Index d'un dossier de consultations : ce que la liste des consultations affiche, sans relire chaque dossier.

Un fichier JSON, `.dce-index.json` à la racine du dossier, garde pour chaque consultation sa référence, son objet,
son nombre de lots, sa version en vigueur, la date de cette version et le résumé de ses contrôles juridiques. Il est
tenu à jour à chaque génération (`dce regenerer`, assistant web) par le processus qui tient le verrou du dossier,
et écrit atomiquement. Chaque entrée porte la clé de ce qu'elle résume (date et taille du fichier de réponses et du
pointeur `courante`) : une consultation ajoutée, modifiée à la main ou retirée est relue à la lecture suivante,
et elle seule. Lire la liste coûte donc le parcours des noms du dossier et deux `stat` par consultation, au lieu
de relire chaque fichier de réponses et chaque manifeste (100 à 200 Kio).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import orjson

from ..donnees import yaml_lignes
from ..donnees.fichiers import ecrire_atomique
from ..erreurs import ErreurDCE, ErreurDonnees, Probleme
from .rapport_changements import lire_manifeste

INDEX = ".dce-index.json"
FORMAT = 1
# Disposition d'une consultation (voir lot/regeneration.py) : fichier de réponses, pointeur, versions.
REPONSES = "reponses.yaml"
POINTEUR = "courante"
VERSIONS = "versions"


def version_courante(consultation: Path) -> str | None:
    """Numéro de la version en vigueur d'une consultation (« 003 »), None si elle n'a jamais été générée."""
    pointeur = consultation / POINTEUR
    if not pointeur.is_file():
        return None
    numero = pointeur.read_text(encoding="utf-8").strip()
    if not numero.isdigit() or not (consultation / VERSIONS / numero).is_dir():
        raise ErreurDCE(Probleme(f"le pointeur désigne une version absente « {numero} »", pointeur))
    return numero


def _cle(consultation: Path) -> list[int | None]:
    """Ce qui change quand la consultation change : fichier de réponses et pointeur de version (date, taille)."""
    cle: list[int | None] = []
    for nom in (REPONSES, POINTEUR):
        try:
            etat = os.stat(consultation / nom)
            cle += [etat.st_mtime_ns, etat.st_size]
        except OSError:
            cle += [None, None]
    return cle


def resume_conformite(manifeste: dict[str, Any] | None) -> dict[str, Any] | None:
    """Ce que la liste affiche des contrôles enregistrés au manifeste (None : jamais générée)."""
    if manifeste is None:
        return None
    resume = manifeste.get("conformite")
    if not resume:
        return {}  # contrôles non enregistrés (génération antérieure)
    return {"obligations_non_respectees": resume.get("obligations_non_respectees") or [],
            "controles_a_verifier": resume.get("controles_a_verifier") or [], "controles": resume.get("controles", 0)}


def entree(consultation: Path, nom: str, manifeste: dict[str, Any] | None = None) -> dict[str, Any]:
    """L'entrée d'index d'une consultation (`nom` : son chemin relatif dans le dossier), lue dans son dossier
    (`manifeste` : celui de la version en vigueur, s'il est déjà en mémoire)."""
    cle = _cle(consultation)
    try:
        donnees = yaml_lignes.lire(consultation / REPONSES).donnees
    except ErreurDonnees:
        donnees = None
    donnees = donnees if isinstance(donnees, dict) else {}
    try:
        version = version_courante(consultation)
    except ErreurDCE:
        version = None
    generee = None
    if version:
        if manifeste is None:
            manifeste = lire_manifeste(consultation / VERSIONS / version)
        generee = (consultation / VERSIONS / version).stat().st_mtime
    else:
        manifeste = None
    lots = donnees.get("lots")
    return {"cle": cle, "reference": str(donnees.get("reference") or nom),
            "objet": " ".join(str(donnees.get("objet") or "").split()),
            "lots": len(lots) if isinstance(lots, list) else 0, "version": version, "generee_le": generee,
            "conformite": resume_conformite(manifeste)}


def _lire_fichier(dossier: Path) -> dict[str, Any]:
    try:
        contenu = orjson.loads((dossier / INDEX).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    if not isinstance(contenu, dict) or contenu.get("format") != FORMAT or not isinstance(contenu.get("consultations"), dict):
        return {}
    return contenu["consultations"]


def _ecrire(dossier: Path, entrees: dict[str, Any]) -> None:
    try:
        ecrire_atomique(dossier / INDEX, orjson.dumps({"format": FORMAT, "consultations": entrees}), durable=False)
    except OSError:  # dossier en lecture seule : l'index n'est qu'un raccourci, la liste reste juste
        pass


def lire(dossier: Path, consultations: list[Path]) -> dict[str, dict[str, Any]]:
    """Entrée de chaque consultation de `consultations` (nom relatif → entrée), depuis l'index ; une entrée absente ou
    dont la clé ne correspond plus est relue dans le dossier, et l'index réécrit."""
    connues = _lire_fichier(dossier)
    resultat: dict[str, dict[str, Any]] = {}
    for consultation in consultations:
        nom = consultation.relative_to(dossier).as_posix()
        e = connues.get(nom)
        if not isinstance(e, dict) or e.get("cle") != _cle(consultation):
            e = entree(consultation, nom)
        resultat[nom] = e
    if resultat != connues:
        _ecrire(dossier, resultat)
    return resultat


def enregistrer(dossier: Path, entrees: dict[str, dict[str, Any]]) -> None:
    """Met à jour l'index avec les entrées de consultations qui viennent d'être générées (processus qui tient le
    verrou du dossier)."""
    if entrees:
        _ecrire(dossier, {**_lire_fichier(dossier), **entrees})


def date(e: dict[str, Any]) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(e["generee_le"]) if e.get("generee_le") is not None else None
