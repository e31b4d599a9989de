"""La base et le dossier de consultations de `dce regenerer` : import d'un dossier existant, export pour la
régénération en lot ou le bilan SPASER, retour des nouvelles versions en base.

Disposition du dossier (celle de `lot/regeneration.py`) : un sous-dossier par consultation avec `reponses.yaml`,
`courante` et `versions/NNN/` ; chaque version devient une génération en base (pièces rangées par empreinte). Les
fichiers que les réponses désignent (texte technique du CCTP, pièces jointes) voyagent avec elles : importés dans
la base (`fichiers_joints`), réécrits à l'export sous le même chemin relatif.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from ..donnees import yaml_lignes
from ..donnees.fichiers import ecrire_atomique, nom_sur
from ..droit.explication import clauses_a_valider
from ..droit.regles import preparer
from ..erreurs import ErreurDCE, ErreurDonnees, Probleme
from ..lot import regeneration
from . import fichiers, journal
from .dce import Stockage, generations
from .depot import _objet, en_json
from .modeles import Consultation, FichierJoint, Generation, Piece, Service, Utilisateur, VersionReponses

NOTE = fichiers.NOTE  # identifiant en base, écrit à côté des réponses exportées


@dataclass
class Import:
    importees: list[str] = field(default_factory=list)
    ignorees: list[str] = field(default_factory=list)  # référence déjà présente dans le service
    erreurs: list[str] = field(default_factory=list)  # consultation illisible, ou fichier joint refusé
    avertissements: list[str] = field(default_factory=list)  # fichier désigné absent : importée sans lui


def a_valider(fichier_reponses: Path, racine: Path) -> list[dict[str, Any]]:
    """Clauses retenues `partiel`/`non_verifie` pour ces réponses (analyse seule, sans produire les pièces)."""
    analyse = preparer(fichier_reponses, racine)
    return [{"clause": s.clause.id, "version": str(s.clause.version), "titre": s.clause.titre,
             "statut_juridique": s.clause.statut_juridique, "document": s.clause.document, "article": s.numero}
            for s in clauses_a_valider(analyse)]


def _generation(session: Any, stockage: Stockage, consultation: Consultation, dossier: Path,
                auteur: Utilisateur | None, racine: Path) -> Generation:
    manifeste = {}
    for fichier in dossier.glob("*-manifeste.json"):
        manifeste = json.loads(fichier.read_text(encoding="utf-8"))
    try:
        clauses = a_valider(dossier.parent.parent / regeneration.REPONSES, racine)
    except ErreurDCE:
        clauses = []
    generation = Generation(consultation_id=consultation.id, numero_reponses=consultation.numero_version,
                            auteur_id=auteur.id if auteur else None, conformite=manifeste.get("conformite") or {},
                            clauses_a_valider=clauses)
    for fichier in sorted(p for p in dossier.iterdir() if p.is_file()):
        contenu = fichier.read_bytes()
        generation.pieces.append(Piece(nom=fichier.name, empreinte=stockage.ranger(contenu), taille=len(contenu)))
    session.add(generation)
    session.flush()
    return generation


def importer(session: Any, stockage: Stockage, dossier: Path, service: Service, qui: str, racine: Path,
             auteur: Utilisateur | None = None, limites: fichiers.Limites | None = None) -> Import:
    """Chaque consultation du dossier devient une consultation du service, avec ses versions générées et les
    fichiers que ses réponses désignent (texte technique du CCTP, pièces jointes), lus à côté de son fichier de
    réponses. Un fichier refusé (chemin, type, taille) écarte la consultation, avec la raison ; un fichier absent
    est signalé. Une référence déjà présente dans ce service est ignorée (l'import peut être relancé sans doublon)."""
    limites = limites or fichiers.Limites.depuis_environnement()
    resultat = Import()
    deja = {c.reference for c in session.scalars(select(Consultation).where(Consultation.service_id == service.id))}
    for chemin in regeneration.decouvrir(dossier):
        nom = chemin.relative_to(dossier).as_posix()
        try:
            donnees = yaml_lignes.lire(chemin / regeneration.REPONSES).donnees
        except ErreurDonnees as exc:
            resultat.erreurs.append(f"{nom} : {exc.problemes[0]}")
            continue
        if not isinstance(donnees, dict):
            resultat.erreurs.append(f"{nom} : fichier de réponses vide ou illisible")
            continue
        donnees = en_json(donnees)
        reference = str(donnees.get("reference") or "")
        if reference in deja:
            resultat.ignorees.append(nom)
            continue
        joints, refus, absents = fichiers.lire_du_dossier(chemin, donnees, limites)
        if refus:  # rien d'importé à moitié : la consultation attend que ses fichiers soient acceptables
            resultat.erreurs.extend(f"{nom} : {r}" for r in refus)
            continue
        manquants = [f"{a} (à téléverser dans la fiche de la consultation)" for a in absents]
        resultat.avertissements.extend(f"{nom} : {m}" for m in manquants)
        consultation = Consultation(reference=reference, objet=" ".join(str(donnees.get("objet") or "").split()),
                                    service_id=service.id, reponses=donnees,
                                    cree_par_id=auteur.id if auteur else None, modifie_par_id=auteur.id if auteur else None)
        session.add(consultation)
        session.flush()
        session.add(VersionReponses(consultation_id=consultation.id, numero=consultation.numero_version,
                                    reponses=donnees, auteur_id=auteur.id if auteur else None, action="import"))
        for nom_joint, contenu in sorted(joints.items()):
            session.add(FichierJoint.de(consultation.id, nom_joint, contenu, auteur.id if auteur else None))
        versions = sorted(p for p in (chemin / regeneration.VERSIONS).glob("[0-9]*") if p.is_dir() and p.name.isdigit()) \
            if (chemin / regeneration.VERSIONS).is_dir() else []
        for version in versions:
            _generation(session, stockage, consultation, version, auteur, racine)
        journal.noter(session, qui, "import", _objet(consultation), f"depuis {nom}, {len(versions)} version(s) générée(s)"
                      + (f", {len(joints)} fichier(s) joint(s)" if joints else "")
                      + (f" ; manquant(s) : {' ; '.join(manquants)}" if manquants else ""))
        deja.add(reference)
        resultat.importees.append(nom)
    return resultat


def exporter(session: Any, stockage: Stockage, consultations: list[Consultation], dossier: Path) -> dict[str, int]:
    """Écrit les consultations dans la disposition de `dce regenerer` ; {sous-dossier: identifiant en base}.
    Les générations en base deviennent versions/001, 002… ; `courante` désigne la dernière."""
    if dossier.exists() and any(dossier.iterdir()):
        raise ErreurDCE(Probleme("le dossier d'export doit être vide", dossier))
    correspondance = {}
    for c in consultations:
        nom = f"{nom_sur(c.reference or 'consultation')}-{c.id}"
        sous = dossier / nom
        texte = yaml.safe_dump(c.reponses, allow_unicode=True, sort_keys=False, default_flow_style=False)
        ecrire_atomique(sous / regeneration.REPONSES, texte.encode("utf-8"))
        ecrire_atomique(sous / NOTE, f"{c.id}\n".encode("ascii"))
        fichiers.ecrire(sous, fichiers.lister(session, c))  # les chemins relatifs des réponses s'y résolvent
        liste = list(reversed(generations(session, c)))
        for rang, generation in enumerate(liste, start=1):
            for piece in generation.pieces:
                ecrire_atomique(sous / regeneration.VERSIONS / f"{rang:03d}" / piece.nom, stockage.lire(piece))
        if liste:
            ecrire_atomique(sous / regeneration.POINTEUR, f"{len(liste):03d}\n".encode("ascii"))
        correspondance[nom] = c.id
    return correspondance


def reprendre_versions(session: Any, stockage: Stockage, dossier: Path, correspondance: dict[str, int],
                       avant: dict[str, str | None], qui: str, racine: Path) -> list[str]:
    """Après `dce regenerer` sur un export : chaque nouvelle version devient une génération en base."""
    nouvelles = []
    for nom, ident in correspondance.items():
        courante = regeneration.version_courante(dossier / nom)
        if courante is None or courante == avant.get(nom):
            continue
        consultation = session.get(Consultation, ident)
        _generation(session, stockage, consultation, dossier / nom / regeneration.VERSIONS / courante, None, racine)
        journal.noter(session, qui, "generation", _objet(consultation), f"régénération en lot (version {courante})")
        nouvelles.append(nom)
    return nouvelles
